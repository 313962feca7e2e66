#!/usr/bin/env bash
# Cells kept small by splits (issue 10): loads SMALL and then LARGE objects
# with the same split threshold, hosts scaled with the data (the same cells
# per host), and reports for each size the cells after the load, the lost
# host's recovery (time to full availability) and the load's write
# throughput; then the LARGE load again without splits, as the baseline
# for the throughput while splits run. Every figure comes from the real
# restart drill (`cellindex drill --json`), run here one after the other.
#
#   bench/split_scaling.sh [BUILD_DIR] [SMALL] [LARGE] [SPLIT_KEYS]
#
# Defaults: build, 200000, 1000000, 10000. The issue's sizes (1M and 10M)
# take about an hour on 2 cores: bench/split_scaling.sh build 1000000 10000000 50000
set -euo pipefail
shopt -s inherit_errexit  # a drill that fails inside $(...) stops the script
build=${1:-build}
small=${2:-200000}
large=${3:-1000000}
split=${4:-10000}
tool="$build/tools/cellindex"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hosts_small=4
hosts_large=$(( hosts_small * large / small ))
if (( hosts_large > 256 )); then hosts_large=256; fi

drill() {  # objects hosts split-keys -> JSON file path
  local out="$work/drill-$1-$3.json"
  "$tool" --data "$work/d" --json drill --objects "$1" --cells 8 --hosts "$2" --split-keys "$3" \
    --before 1 --after 1 > "$out"
  echo "$out"
}

a=$(drill "$small" "$hosts_small" "$split")
b=$(drill "$large" "$hosts_large" "$split")
c=$(drill "$large" "$hosts_large" 0)
python3 - "$a" "$b" "$c" "$small" "$large" "$split" <<'EOF'
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:4])
small, large, split = sys.argv[4:7]
def row(name, j, objects):
    tput = int(objects) / j["load_seconds"]
    print(f"{name:>28}: cells {j['cells_created']} -> {j['cells_after_load']}, hosts {j['hosts']}, "
          f"lost-host recovery (full) {j['time_to_full_availability_seconds']*1000:.0f} ms, "
          f"load {tput:,.0f} objects/s ({j.get('load_retries', 0)} load retries), "
          f"lost writes {j['acknowledged_writes_lost']}")
    return tput
print(f"split threshold {split} objects; 8 cells at creation")
row(f"{small} objects", a, small)
t_split = row(f"{large} objects", b, large)
t_plain = row(f"{large} objects, no splits", c, large)
print(f"recovery at {large} / at {small}: "
      f"{b['time_to_full_availability_seconds'] / a['time_to_full_availability_seconds']:.2f}x "
      f"(target <= 1.3x)")
print(f"write throughput with splits / without: {t_split / t_plain:.2f}x (target >= 0.8x)")
EOF
