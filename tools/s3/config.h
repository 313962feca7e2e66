// The server's configuration file (JSON):
//
//   {
//     "node": "node-1",                      // this node's name in every extent
//     "region": "us-east-1",                 // the region clients sign for
//     "data": "/var/lib/s3/index",           // the index's host-local state
//     "store": "/mnt/durable/s3-index",      // its durable store
//     "cells": 8,                            // cells, when the index is created
//     "hosts": 1,                            // simulated hosts (drills): host-0..
//     "replicas": 1,                         // volumes that hold each object
//     "max_object_bytes": 67108864,          // largest PUT body accepted
//     "volumes": {"vol-a": "/srv/vol-a", "vol-b": "/srv/vol-b"},
//     "access_keys": {"AKIDEXAMPLE": "secret"}
//   }
//
// Relative paths are taken relative to the file's directory.
#ifndef CELLINDEX_TOOLS_S3_CONFIG_H_
#define CELLINDEX_TOOLS_S3_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "index/model/options.h"

namespace cellindex::s3 {

struct Config {
  std::string node = "node-1";
  std::string region = "us-east-1";
  std::string data_dir;
  std::string store_dir;
  int cells = 8;
  int hosts = 1;
  int replicas = 1;
  uint64_t max_object_bytes = 64ull << 20;
  std::map<std::string, std::string> volumes;      // name -> directory
  std::map<std::string, std::string> access_keys;  // access key -> secret
};

// InvalidArgument naming the field for a missing or wrong field, an unknown
// field, a volume or node name the index would refuse, or replicas outside
// 1..number of volumes. NotFound when the file does not exist.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// The index's options for `config`: its directories, one directory per
// simulated host, and (used only when the index is created) cell boundaries
// at the start of buckets whose names begin with evenly spaced characters of
// [0-9a-z], so buckets spread over the cells.
Options IndexOptions(const Config& config);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_CONFIG_H_
