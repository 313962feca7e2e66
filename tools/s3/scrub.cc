#include "tools/s3/scrub.h"

#include "absl/container/flat_hash_set.h"

namespace cellindex::s3 {
namespace {

// Every page of Locate for one volume, in turn.
template <typename Fn>
absl::Status ForEachLocated(Index& index, const std::string& volume, Fn fn) {
  LocateOptions options;
  options.volume = volume;
  for (;;) {
    absl::StatusOr<LocateResult> page = index.Locate(options);
    if (!page.ok()) return page.status();
    for (const LocatedObject& o : page->objects) fn(o);
    if (!page->is_truncated) return absl::OkStatus();
    options.continuation_token = page->next_continuation_token;
  }
}

}  // namespace

absl::StatusOr<ScrubReport> Scrub(Index& index, const Volumes& volumes, bool dry_run) {
  ScrubReport report;
  for (const std::string& volume : volumes.names()) {
    // Files first, records second: a file written after the listing is not
    // judged, and none is put after the records are read (server stopped).
    absl::StatusOr<std::vector<VolumeFile>> files = volumes.List(volume);
    if (!files.ok()) return files.status();
    absl::flat_hash_set<uint64_t> named;
    absl::Status s = ForEachLocated(index, volume, [&](const LocatedObject& o) {
      for (const Extent& e : o.extents) {
        if (e.node == volumes.node()) named.insert(e.offset);
      }
    });
    if (!s.ok()) return s;
    ScrubReport::PerVolume v;
    v.volume = volume;
    v.files = files->size();
    for (const VolumeFile& f : *files) {
      if (!f.temporary && named.contains(f.offset)) {
        ++v.referenced;
        continue;
      }
      if (!dry_run) {
        if (absl::Status rm = volumes.RemoveFile(volume, f.name); !rm.ok()) return rm;
      }
      v.removed.push_back(f.name);
    }
    report.volumes.push_back(std::move(v));
  }
  return report;
}

absl::StatusOr<std::vector<LostObject>> LostVolume(Index& index, const Volumes& volumes,
                                                   const std::string& volume) {
  std::vector<LostObject> lost;
  absl::Status s = ForEachLocated(index, volume, [&](const LocatedObject& o) {
    lost.push_back({o.key, o.size, o.extents, false});
  });
  if (!s.ok()) return s;
  for (LostObject& o : lost) {
    absl::StatusOr<ObjectRecord> record = index.Get(o.key);
    if (!record.ok()) continue;
    std::vector<Extent> others;
    for (const Extent& e : record->locations) {
      if (e.volume != volume) others.push_back(e);
    }
    o.other_replica = !others.empty() && volumes.Read(others, 0, 0).ok();
  }
  return lost;
}

}  // namespace cellindex::s3
