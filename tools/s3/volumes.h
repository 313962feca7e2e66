// Where object bytes live: directories standing for a node's disks
// ("volumes"). Each extent is one file in its volume's directory, named by
// the extent's offset as 16 hex digits:
//
//   <volume dir>/00000187a3f2c4d1e000     the bytes [offset, offset+length)
//   <volume dir>/00000187a3f2c4d1e000.tmp a write that has not been renamed
//
// Offsets are addresses in a volume's own byte space, handed out upwards and
// never reused: at open a volume starts above both its highest file and the
// clock in nanoseconds, so a volume emptied or lost and made again does not
// hand out an address a stale record still names.
//
// A write is temp file, fsync, rename, fsync of the directory (AtomicWriteFile)
// on every volume chosen, all before the caller puts the record: the index
// never names bytes that are not durable. Bytes written whose record was never
// put (a crash in between) are orphans, found by Scrub (tools/s3/scrub.h).
#ifndef CELLINDEX_TOOLS_S3_VOLUMES_H_
#define CELLINDEX_TOOLS_S3_VOLUMES_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/model/object_record.h"

namespace cellindex::s3 {

// One file found on a volume.
struct VolumeFile {
  std::string name;
  bool temporary = false;  // a ".tmp" left by an interrupted write
  uint64_t offset = 0;     // parsed from the name (not for temporaries)
};

class Volumes {
 public:
  // Creates missing volume directories. `replicas` volumes hold each object.
  static absl::StatusOr<std::unique_ptr<Volumes>> Open(
      const std::string& node, const std::map<std::string, std::string>& volumes, int replicas);

  // Writes `bytes` durably to `replicas` volumes chosen from `placement_key`
  // and returns their extents. On error nothing written stays.
  absl::StatusOr<std::vector<Extent>> Write(absl::string_view placement_key,
                                            absl::string_view bytes);
  // Bytes [begin, begin+length) of the object whose extents are given, from
  // the first of this node's extents that reads whole. DataLoss when none does.
  absl::StatusOr<std::string> Read(const std::vector<Extent>& extents, uint64_t begin,
                                   uint64_t length) const;
  // Removes this node's files of `extents`; missing files are fine.
  void Remove(const std::vector<Extent>& extents) const;

  // The files of a volume. NotFound for a volume not configured or whose
  // directory is gone.
  absl::StatusOr<std::vector<VolumeFile>> List(const std::string& volume) const;
  // Removes one file of a volume by name.
  absl::Status RemoveFile(const std::string& volume, const std::string& name) const;

  const std::string& node() const { return node_; }
  std::vector<std::string> names() const;

 private:
  struct Volume {
    std::string name;
    std::string dir;
    std::atomic<uint64_t> next_offset{0};
  };
  Volumes() = default;
  std::string PathOf(const Extent& e) const;

  std::string node_;
  int replicas_ = 1;
  std::vector<std::unique_ptr<Volume>> volumes_;
};

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_VOLUMES_H_
