#!/usr/bin/env bash
# The long runs that CI keeps short (tools/test.sh): the power-loss test for
# many rounds, the concurrency tests repeated, and every fuzz target for an
# hour. Usage: tools/soak.sh [POWER_LOSS_ROUNDS [FUZZ_SECONDS_PER_TARGET]]
# (defaults 2000 and 3600: about 9 hours on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2000}
fuzz_seconds=${2:-3600}
for n in "$rounds" "$fuzz_seconds"; do
  if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
    echo "tools/soak.sh: expected a positive whole number, got '$n'" >&2
    exit 2
  fi
done
bash tools/install-deps.sh
bash tools/build.sh build
echo "== power loss: $rounds rounds =="
CELLINDEX_POWER_LOSS_ROUNDS=$rounds build/tests/power_loss_test
echo "== the concurrency tests, 20 times each =="
(cd build && ctest -j "$(nproc)" -L concurrency --repeat until-fail:20 --output-on-failure)
echo "== fuzz: $fuzz_seconds s per target =="
bash tools/fuzz.sh --seconds "$fuzz_seconds"
