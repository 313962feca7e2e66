#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite twice: once as
# built, once under AddressSanitizer + UndefinedBehaviorSanitizer; then the
# concurrency tests under ThreadSanitizer, and each decoder's fuzz target for
# 5 s (tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc)
# Tests wait on fsync, child processes and each other about half the time:
# twice as many at once as there are cores keeps the cores busy.
test_jobs=$((jobs * 2))

echo "== build and test =="
start=$SECONDS
bash tools/build.sh build
echo "(build: $((SECONDS - start)) s)"
start=$SECONDS
(cd build && ctest -j "$test_jobs" --output-on-failure)
echo "(tests: $((SECONDS - start)) s)"

echo "== build and test under ASan + UBSan =="
start=$SECONDS
bash tools/build.sh build-asan -DCELLINDEX_SANITIZER=address -DCELLINDEX_BUILD_BENCH=OFF
echo "(ASan build: $((SECONDS - start)) s)"
start=$SECONDS
(export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
 export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
 cd build-asan
 # The S3 clients other than boto3 drive the same server code (tested under
 # ASan through boto3 and its own unit tests) and run as built above. Of
 # the capacity commands' tests, each of which runs the command many times,
 # the refusal table and the health guard run here; the others drive the
 # same library calls that the drain and rebalance tests cover under ASan,
 # and run as built.
 ctest -j "$test_jobs" --output-on-failure \
   -E '^(S3Clients\.(awscli|s3cmd|rclone)|CapacityCliTest\.(AddsAHostToItsPoolAndRebalancesOntoIt|PlansShowsPoolsAndAuditsASafeRemoval|StatusDirIsItsOwnAndThePageFollowsTheCommand))$')
echo "(ASan tests: $((SECONDS - start)) s)"

echo "== build the concurrency tests under TSan and run them =="
# Only the tests labelled "concurrency" (tests/CMakeLists.txt). Every report
# goes to build-tsan/tsan-logs/ (children of the tests too, whose stderr the
# tests may drop) and fails the step. A test that fails without a report is
# run again once (TSan runs them several times slower).
start=$SECONDS
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCELLINDEX_SANITIZER=thread \
  -DCELLINDEX_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan --target concurrency_tests -j "$jobs"
echo "(TSan build: $((SECONDS - start)) s)"
rm -rf build-tsan/tsan-logs
mkdir -p build-tsan/tsan-logs
status=0
(export TSAN_OPTIONS="log_path=$PWD/build-tsan/tsan-logs/tsan:suppressions=$PWD/tests/tsan/tsan.supp:history_size=7"
 cd build-tsan
 ctest_status=0
 # The kill-at-every-step matrices and the power-loss rounds are crash
 # tests: each step is a child killed at a chosen moment, with little
 # concurrency of its own to check. They run as built and under ASan;
 # here the kill tests of CrashTest stand for them.
 ctest -j "$jobs" -L concurrency --repeat until-pass:2 --output-on-failure \
   -E 'SigkillAtEach|SigkillDuringAMove|PowerLossTest' || ctest_status=$?
 exit "$ctest_status") || status=$?
if compgen -G "build-tsan/tsan-logs/tsan.*" >/dev/null; then
  echo "ThreadSanitizer reported:"
  cat build-tsan/tsan-logs/tsan.*
  status=1
fi
echo "(TSan step: $((SECONDS - start)) s)"
[ "$status" -eq 0 ] || exit "$status"

echo "== fuzz the decoders, 5 s per target =="
start=$SECONDS
if command -v clang++ >/dev/null 2>&1; then
  bash tools/fuzz.sh --seconds 5
else
  echo "skipped: clang++ is not installed (tools/install-deps.sh installs clang)"
fi
echo "(fuzz step: $((SECONDS - start)) s)"
