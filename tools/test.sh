#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite twice: once as
# built, once under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc)

echo "== build and test =="
bash tools/build.sh build
(cd build && ctest -j "$jobs" --output-on-failure)

echo "== build and test under ASan + UBSan =="
bash tools/build.sh build-asan -DCELLINDEX_SANITIZE=ON -DCELLINDEX_BUILD_BENCH=OFF
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest -j "$jobs" --output-on-failure)
