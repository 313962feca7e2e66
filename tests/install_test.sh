#!/usr/bin/env bash
# Installs the built cellindex into a scratch prefix, checks that only the
# public API's headers are installed and that they need nothing else (no
# RocksDB, no internal header), then configures, builds and runs an outside
# project that finds it with find_package.
set -euo pipefail
build_dir=$1
source_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
inc="$scratch/prefix/include/cellindex"
installed=$(cd "$inc" && find . -name '*.h' | sed 's|^\./||' | sort)
expected=$(printf '%s\n' cellindex.h index/index.h index/model/options.h index/base/stats.h \
  index/model/object_key.h index/model/object_record.h index/model/write_batch.h \
  index/model/cell_map.h index/model/list_result.h index/model/locate_result.h \
  index/model/capacity.h | sort)
if [ "$installed" != "$expected" ]; then
  echo "installed headers differ from the public API:"
  diff <(echo "$expected") <(echo "$installed") || true
  exit 1
fi
for h in $installed; do
  if grep -nE '#include [<"]rocksdb/' "$inc/$h"; then
    echo "$h includes RocksDB"
    exit 1
  fi
  for dep in $(grep -oE '#include "[^"]+"' "$inc/$h" | sed 's/#include "//; s/"$//'); do
    if [ ! -f "$inc/$dep" ] && [[ "$dep" != absl/* ]]; then
      echo "$h includes $dep, which is not installed"
      exit 1
    fi
  done
done
cmake -S "$source_dir/tests/install_consumer" -B "$scratch/build" \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/build" >/dev/null
"$scratch/build/consumer" "$scratch/data"
