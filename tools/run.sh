#!/usr/bin/env bash
# The main job: install what is missing, build, and run the restart drill.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh build
exec ./build/tools/cellindex drill "$@"
