#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite twice: once as
# built, once under AddressSanitizer + UndefinedBehaviorSanitizer; then the
# concurrency tests under ThreadSanitizer, and each decoder's fuzz target for
# 5 s (tools/fuzz.sh).
#
# Each sanitizer build runs at the lowest CPU priority (nice 19) while the
# previous step's tests run: the tests wait on fsync, child processes and
# each other much of the time, and the build takes the cores they leave idle
# without slowing them. Its output goes to <dir>.log, printed if it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc)
# Tests wait on fsync, child processes and each other about half the time:
# twice as many at once as there are cores keeps the cores busy.
test_jobs=$((jobs * 2))

# background_build DIR CMAKE-ARGS... [-- TARGET]: starts the build of DIR in
# the background at nice 19; wait_build DIR waits for it and fails the run,
# printing its log, if it failed.
declare -A build_pid build_start
background_build() {
  local dir=$1; shift
  local target=()
  local args=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then target=(--target "$2"); break; fi
    args+=("$1"); shift
  done
  build_start[$dir]=$SECONDS
  ( nice -n 19 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${args[@]}" >/dev/null &&
    nice -n 19 cmake --build "$dir" "${target[@]}" -j "$jobs" ) > "$dir.log" 2>&1 &
  build_pid[$dir]=$!
}
wait_build() {
  local dir=$1
  local pid=${build_pid[$dir]}
  unset "build_pid[$dir]"
  if ! wait "$pid"; then
    echo "the build of $dir failed:"
    tail -n 60 "$dir.log"
    exit 1
  fi
  echo "($dir build done $((SECONDS - build_start[$dir])) s after it started)"
}
# A failed step ends the run: no build is left running behind it.
kill_tree() {
  local child
  for child in $(pgrep -P "$1" || true); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
stop_builds() {
  local pid
  for pid in "${build_pid[@]}"; do kill_tree "$pid"; done
}
trap stop_builds EXIT

echo "== build and test =="
start=$SECONDS
bash tools/build.sh build
echo "(build: $((SECONDS - start)) s)"
background_build build-asan -DCELLINDEX_SANITIZER=address -DCELLINDEX_BUILD_BENCH=OFF
start=$SECONDS
(cd build && ctest -j "$test_jobs" --output-on-failure)
echo "(tests: $((SECONDS - start)) s)"

echo "== build and test under ASan + UBSan =="
start=$SECONDS
wait_build build-asan
echo "(waited for the ASan build: $((SECONDS - start)) s)"
start=$SECONDS
(export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
 export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
 cd build-asan
 # The S3 clients other than boto3 drive the same server code (tested under
 # ASan through boto3 and its own unit tests) and run as built above. Of
 # the capacity commands' tests, each of which runs the command many times,
 # the refusal table and the health guard run here; the others drive the
 # same library calls that the drain and rebalance tests cover under ASan,
 # and run as built; so do the two command-line parsing tables (the tools
 # are built without UBSan here, and the parsing is theirs). The host
 # processes' tests (HostTest) run as built: they time leases against a
 # real etcd, which the sanitizer's slowdown on a busy machine would blur;
 # the member index's adopt, release and fencing run here in recovery_test.
 ctest -j "$test_jobs" --output-on-failure \
   -E '^(HostTest\..*|S3Clients\.(awscli|s3cmd|rclone)|CapacityCliTest\.(AddsAHostToItsPoolAndRebalancesOntoIt|PlansShowsPoolsAndAuditsASafeRemoval|StatusDirIsItsOwnAndThePageFollowsTheCommand)|CliTest\.(NumericFlagsAreStrictAndARefusedPutStoresNothing|RepeatedOrMalformedMetaAndOverlappingLocationsAreRefused))$')
echo "(ASan tests: $((SECONDS - start)) s)"

echo "== build the concurrency tests under TSan and run them =="
# Only the tests labelled "concurrency" (tests/CMakeLists.txt). Every report
# goes to build-tsan/tsan-logs/ (children of the tests too, whose stderr the
# tests may drop) and fails the step. A test that fails without a report is
# run again once (TSan runs them several times slower).
# Not during the ASan tests: they keep both cores busy, and the two
# slowed each other more than they overlapped.
start=$SECONDS
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCELLINDEX_SANITIZER=thread \
  -DCELLINDEX_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan --target concurrency_tests -j "$jobs"
echo "(TSan build: $((SECONDS - start)) s)"
if command -v clang++ >/dev/null 2>&1; then
  # The fuzz targets' build (as tools/fuzz.sh configures it), meanwhile.
  CC=clang CXX=clang++ background_build build-fuzz -DCELLINDEX_BUILD_FUZZ=ON \
    -DCELLINDEX_BUILD_TOOLS=OFF -DCELLINDEX_BUILD_BENCH=OFF -- fuzz_targets
fi
start=$SECONDS
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
 # The drill's tests need the command, which this build leaves out
 # (tests/CMakeLists.txt says why).
 ctest -j "$jobs" -L concurrency --repeat until-pass:2 --output-on-failure \
   -E 'SigkillAtEach|SigkillDuringAMove|PowerLossTest|^DrillTest\.|^drill_test_NOT_BUILT$' || ctest_status=$?
 exit "$ctest_status") || status=$?
if compgen -G "build-tsan/tsan-logs/tsan.*" >/dev/null; then
  echo "ThreadSanitizer reported:"
  cat build-tsan/tsan-logs/tsan.*
  status=1
fi
echo "(TSan tests: $((SECONDS - start)) s)"
[ "$status" -eq 0 ] || exit "$status"

echo "== fuzz the decoders, 5 s per target =="
start=$SECONDS
if command -v clang++ >/dev/null 2>&1; then
  wait_build build-fuzz
  bash tools/fuzz.sh --seconds 5
else
  echo "skipped: clang++ is not installed (tools/install-deps.sh installs clang)"
fi
echo "(fuzz step: $((SECONDS - start)) s)"
