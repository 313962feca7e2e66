// A synthetic object population with realistic key shapes, for `cellindex
// load` and the restart drill. Object i is the same (key, record) for the
// same options on every run and machine, so a drill can re-derive what it
// wrote and check it.
//
// Shapes: a few large buckets take most objects (photos of many users under
// dated folders, service logs by day and host, a data lake's partitioned
// tables), and many small tenant buckets share the rest (documents, backups,
// some folder names in other scripts). Every key ends in the object number,
// so distinct objects have distinct keys. Records carry three replicas, or six
// erasure-coded shards for objects of 64 MiB and more, on kNodes nodes with
// kVolumesPerNode volumes each ("node-07", "vol-07-03").
#ifndef CELLINDEX_TOOLS_WORKLOAD_H_
#define CELLINDEX_TOOLS_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "index/model/object_key.h"
#include "index/model/object_record.h"

namespace cellindex::tools {

struct WorkloadOptions {
  // Buckets objects are spread over: the first min(3, buckets) are large
  // (80% of the objects between them), the rest share 20% evenly.
  int buckets = 50;
  // Another seed gives another population of the same shape.
  uint64_t seed = 1;
};

class Workload {
 public:
  static constexpr int kNodes = 24;
  static constexpr int kVolumesPerNode = 12;

  explicit Workload(WorkloadOptions options = {});

  // Object i's key and record. The record's version is 0 (the index assigns
  // it); its times are set, so a record read back compares equal apart from
  // the version.
  ObjectKey Key(uint64_t i) const;
  ObjectRecord Record(uint64_t i) const;
  // Keys of objects 0..n-1: a sample of the key space to derive cell
  // boundaries from (Options::boundary_sample).
  std::vector<ObjectKey> Sample(size_t n) const;
  const std::vector<std::string>& buckets() const { return buckets_; }

 private:
  // A well-mixed 64-bit value for object i and a purpose (`salt`).
  uint64_t Hash(uint64_t i, uint64_t salt) const;
  size_t BucketOf(uint64_t i) const;

  WorkloadOptions options_;
  std::vector<std::string> buckets_;
};

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_WORKLOAD_H_
