#!/usr/bin/env bash
# Installs the Debian packages cellindex builds with, skipping those present.
set -euo pipefail
# clang and its runtimes (libFuzzer, sanitizers) build the fuzz targets;
# the tests render pages (the drill report, the status page) in
# chromium-headless-shell. prometheus-cpp-dev: Index::Metrics (its core
# library, no HTTP); prometheus: promtool, which the metrics tests run on the
# text. cpp-httplib and libssl (libcrypto) build cellindex-s3; boto3, the AWS
# CLI, s3cmd and rclone are the S3 clients its tests drive. etcd-server and
# etcd-client (etcdctl): the coordination of host processes, each test
# starting its own etcd on loopback. gRPC C++ and protobuf (with protoc and
# gRPC's plugin): the index's own RPCs (index/rpc/cellindex.proto).
packages=(cmake g++ make pkg-config
          librocksdb-dev libabsl-dev libxxhash-dev
          libgtest-dev libgmock-dev libbenchmark-dev
          libcli11-dev nlohmann-json3-dev
          clang libclang-rt-dev
          chromium-headless-shell
          prometheus-cpp-dev prometheus
          libcpp-httplib-dev libssl-dev
          python3-boto3 awscli s3cmd rclone
          etcd-server etcd-client
          libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc)
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
