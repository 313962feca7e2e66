#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (in build-fuzz/) and
# runs each (one per core at a time) for a bounded time on a scratch copy of
# its seed corpus (tests/fuzz/corpus/<target>/), so nothing is written into the
# repository.
# Fails on any crash, sanitizer report, timeout or out-of-memory; the input that
# caused it is kept in the scratch directory, whose path is printed.
#
#   tools/fuzz.sh                          every target, 20 s each (tools/test.sh)
#   tools/fuzz.sh --seconds 3600           the long run, an hour each
#   tools/fuzz.sh --seconds 600 cell_map   some targets only
#   tools/fuzz.sh --keep                   keep the scratch dir (the grown corpus)
#   tools/fuzz.sh --make-corpus            rewrite tests/fuzz/corpus from real values
#
# Targets: object_record page_token checkpoint_manifest cell_map journal_reader journal_format journal_body
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=20
keep=0
make_corpus=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --make-corpus) make_corpus=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(object_record page_token checkpoint_manifest cell_map journal_reader journal_format journal_body)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ is not installed (tools/install-deps.sh installs it)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCELLINDEX_BUILD_FUZZ=ON -DCELLINDEX_BUILD_TOOLS=OFF -DCELLINDEX_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz --target fuzz_targets -j "$(nproc)"
bin="$PWD/build-fuzz/tests/fuzz"

if [ "$make_corpus" = 1 ]; then
  rm -rf tests/fuzz/corpus
  "$bin/fuzz_make_corpus" tests/fuzz/corpus
  echo "wrote tests/fuzz/corpus"
  exit 0
fi

for t in "${targets[@]}"; do
  if [ ! -x "$bin/fuzz_$t" ]; then
    echo "fuzz.sh: no fuzz target $t (targets: ${all[*]})" >&2
    exit 2
  fi
done

# Runs target $1 in $scratch/$1 (so that nothing lands in the work tree) and
# leaves its exit status in $scratch/$1/status. -timeout: one input running for
# 25 s is a hang; -rss_limit_mb: a leak or a runaway allocation.
run() {
  local dir="$scratch/$1" status=0
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$1"/* "$dir/corpus/"
  (cd "$dir" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$bin/fuzz_$1" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" corpus >"$dir/log" 2>&1) || status=$?
  echo "$status" >"$dir/status"
}

# One target per core at a time.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cellindex-fuzz-XXXXXX")
parallel=$(nproc)
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run "$t" &
  running=$((running + 1))
done
wait

failed=()
printf '%-20s %12s %10s %8s %8s\n' target execs execs/s cov corpus
for t in "${targets[@]}"; do
  dir="$scratch/$t"
  stat_of() { sed -n "s/^stat::$1: *//p" "$dir/log"; }
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  corpus=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
  printf '%-20s %12s %10s %8s %8s\n' "$t" "$(stat_of number_of_executed_units)" \
    "$(stat_of average_exec_per_sec)" "${cov:-?}" "${corpus:-?}"
  # A harness says on stderr when it had to turn a mode off (a format changed).
  grep -E "^fuzz_$t: " "$dir/log" | sort -u || true
  status=$(cat "$dir/status" 2>/dev/null || echo missing)
  if [ "$status" != 0 ]; then
    failed+=("$t")
    echo "---- fuzz_$t failed (exit $status); the end of its log:" >&2
    tail -60 "$dir/log" >&2
    echo "---- inputs that failed: $(ls "$dir/artifacts" | sed "s|^|$dir/artifacts/|" | tr '\n' ' ')" >&2
    echo "---- reproduce with: $bin/fuzz_$t <input>" >&2
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]} (scratch dir kept: $scratch)" >&2
  exit 1
fi
if [ "$keep" = 1 ]; then
  echo "scratch dir kept: $scratch"
else
  rm -rf "$scratch"
fi
