#!/usr/bin/env bash
# Installs the Debian packages cellindex builds with, skipping those present.
set -euo pipefail
# clang and its runtimes (libFuzzer, sanitizers) build the fuzz targets.
# prometheus-cpp-dev: Index::Metrics (its core library, no HTTP); prometheus:
# promtool, which the metrics tests run on the text; chromium-headless-shell
# renders the status page in its test.
packages=(cmake g++ make pkg-config
          librocksdb-dev libabsl-dev libxxhash-dev
          libgtest-dev libgmock-dev libbenchmark-dev
          libcli11-dev nlohmann-json3-dev
          clang libclang-rt-dev
          prometheus-cpp-dev prometheus chromium-headless-shell)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
