#include "index/cell/cell_split.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/base/file_util.h"
#include "index/base/rocks_status.h"
#include "index/cell/cell.h"
#include "rocksdb/db.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace cellindex {
namespace {

// Entries per batch when a merge copies the right parent's: bounds the
// memtable one batch fills.
constexpr int kEntriesPerBatch = 4096;

// Whether [inner.lo, inner.hi) is not empty and lies inside [outer.lo, outer.hi).
bool RangeWithin(const CellRange& inner, const CellRange& outer) {
  if (inner.lo < outer.lo || (!inner.hi_unbounded && inner.lo >= inner.hi)) return false;
  return outer.hi_unbounded || (!inner.hi_unbounded && inner.hi <= outer.hi);
}

// A cell's RocksDB, open; the family handle goes before the database.
struct OpenDb {
  std::unique_ptr<rocksdb::DB> db;
  std::unique_ptr<rocksdb::ColumnFamilyHandle> locations;
  ~OpenDb() {
    locations.reset();
    db.reset();
  }
};

absl::Status Open(const Options& options, const CellResources& resources, const std::string& dir,
                  OpenDb* out) {
  return FromRocks(OpenCellDb(options, resources, dir, &out->db, &out->locations),
                   absl::StrCat("open the cell state in ", dir));
}

// Deletes the records of `db` outside the child's range and the reverse
// entries naming objects outside it, all as range tombstones, and writes
// the identity and state of the child. Returns the records the child holds.
//
// A reverse key is prefix + location name + NUL + encoded object key, and
// location names hold no NUL: under each name the objects sort as the
// records do, so the other half's entries of one name are at most two
// contiguous runs. One seek per name finds the names; nothing is read entry
// by entry, and the flush writes a few tombstones, not one per entry.
absl::StatusOr<uint64_t> Trim(OpenDb& d, const CellIdentity& child,
                               const std::function<absl::Status()>& stopped,
                               uint64_t* ranges_deleted) {
  const rocksdb::WriteOptions wo;  // unsynced: the flush below makes it durable
  const CellRange& range = child.range;
  rocksdb::DB* db = d.db.get();
  // Records are 'r' + encoded key; the state keys ('m') sort below them.
  const std::string records_begin(1, kRecordPrefix);
  const std::string records_end(1, static_cast<char>(kRecordPrefix + 1));
  rocksdb::WriteBatch batch;
  // [begin, end) of one key space, cut to what lies outside the child.
  auto drop_outside = [&](rocksdb::ColumnFamilyHandle* family, const std::string& space,
                          const std::string& space_end) -> absl::Status {
    if (!range.lo.empty()) {
      rocksdb::Status s = batch.DeleteRange(family, space, space + range.lo);
      if (!s.ok()) return FromRocks(s, "delete what is left of the child");
      ++*ranges_deleted;
    }
    if (!range.hi_unbounded) {
      rocksdb::Status s = batch.DeleteRange(family, space + range.hi, space_end);
      if (!s.ok()) return FromRocks(s, "delete what is right of the child");
      ++*ranges_deleted;
    }
    return absl::OkStatus();
  };
  if (absl::Status s = drop_outside(db->DefaultColumnFamily(), records_begin, records_end);
      !s.ok()) {
    return s;
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), d.locations.get()));
    for (it->SeekToFirst(); it->Valid();) {
      const absl::string_view k(it->key().data(), it->key().size());
      absl::string_view object;
      if (!ReverseKeyObject(k, &object)) {
        return absl::DataLossError(absl::StrCat("the parent's reverse index holds a malformed key ",
                                                absl::CHexEscape(k)));
      }
      // prefix + name + NUL, and the first key past every entry of the name.
      const std::string space(k.substr(0, k.size() - object.size()));
      std::string space_end = space;
      space_end.back() = '\1';
      if (absl::Status s = drop_outside(d.locations.get(), space, space_end); !s.ok()) return s;
      it->Seek(space_end);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan the reverse index");
  }
  if (absl::Status s = FromRocks(db->Write(wo, &batch), "trim the child"); !s.ok()) return s;
  batch.Clear();
  if (absl::Status s = stopped(); !s.ok()) return s;

  // The count: what is left of the records, read within the child's range
  // only (not stepping over the other half's deleted records).
  uint64_t records = 0;
  {
    rocksdb::ReadOptions ro;
    const std::string child_end = range.hi_unbounded ? records_end : RecordKey(range.hi);
    const rocksdb::Slice upper(child_end);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    for (it->Seek(RecordKey(range.lo)); it->Valid(); it->Next()) {
      if (++records % 4096 == 0) {
        if (absl::Status s = stopped(); !s.ok()) return s;
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "count the child's records");
  }
  if (absl::Status s = stopped(); !s.ok()) return s;
  absl::StatusOr<StoredState> state = ReadState(db, rocksdb::ReadOptions());
  if (!state.ok()) return state.status();
  state->count = records;
  AddState(*state, &batch);
  AddIdentity(child, &batch);
  if (absl::Status s = FromRocks(db->Write(wo, &batch), "write the child's state"); !s.ok()) {
    return s;
  }
  // Both families at once: the WAL is off, so only flushed data survives.
  rocksdb::FlushOptions fo;
  fo.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> families = {db->DefaultColumnFamily(),
                                                        d.locations.get()};
  if (absl::Status s = FromRocks(db->Flush(fo, families), "flush the child's state"); !s.ok()) {
    return s;
  }
  return records;
}

// Opens the closed state in `dir`, which must be `owner`'s, and links its
// files into each of `stagings` (RocksDB checkpoints: hard links, nothing
// copied). Returns the state it holds.
absl::StatusOr<StoredState> LinkState(const Options& options, const CellResources& resources,
                                      const std::string& dir, const CellIdentity& owner,
                                      const std::vector<std::string>& stagings) {
  OpenDb p;
  if (absl::Status s = Open(options, resources, dir, &p); !s.ok()) return s;
  if (absl::Status s = CheckIdentity(p.db.get(), p.locations.get(), owner, rocksdb::WriteOptions());
      !s.ok()) {
    return s;
  }
  absl::StatusOr<StoredState> state = ReadState(p.db.get(), rocksdb::ReadOptions());
  if (!state.ok()) return state.status();
  rocksdb::Checkpoint* raw = nullptr;
  if (absl::Status s = FromRocks(rocksdb::Checkpoint::Create(p.db.get(), &raw),
                                 "start a checkpoint of the parent");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // The WAL is off: log_size_for_flush 0 flushes first (nothing is in the
  // memtable of a state just opened, but a checkpoint must not depend on it).
  for (const std::string& staging : stagings) {
    if (absl::Status s = FromRocks(checkpoint->CreateCheckpoint(staging, 0),
                                   "link the parent's files for the child");
        !s.ok()) {
      return s;
    }
  }
  return state;
}

}  // namespace

absl::StatusOr<std::vector<ChildStateReport>> MakeChildStates(
    const Options& options, const CellResources& resources, const std::string& parent_dir,
    const CellIdentity& parent, const std::vector<ChildPlace>& children,
    const std::function<bool()>& stop) {
  rocksdb::FileSystem& fs = *resources.fs;
  auto stopped = [&stop]() -> absl::Status {
    if (stop && stop()) return absl::AbortedError("stopped while making the children");
    return absl::OkStatus();
  };
  for (const ChildPlace& c : children) {
    if (c.identity.index_id != parent.index_id) {
      return absl::InvalidArgumentError(absl::StrCat(c.identity.Describe(),
                                                     " is not of the index of ", parent.Describe()));
    }
    if (c.identity.range.id == parent.range.id || !RangeWithin(c.identity.range, parent.range)) {
      return absl::InvalidArgumentError(absl::StrCat(
          c.identity.Describe(), " is not a child of ", parent.Describe(), ": its range or id"));
    }
    if (PathExists(fs, c.dir)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the child's state directory ", c.dir, " exists already"));
    }
  }
  // Opening a missing state would create an empty one: refuse first.
  if (!PathExists(fs, parent_dir + "/CURRENT")) {
    return absl::FailedPreconditionError(
        absl::StrCat("no cell state in ", parent_dir, " to make its children from"));
  }
  // Staged beside each child's directory; an earlier attempt's leftovers go.
  std::vector<std::string> stagings;
  for (const ChildPlace& c : children) {
    stagings.push_back(c.dir + ".split-staging");
    if (absl::Status s = RemoveAll(fs, stagings.back()); !s.ok()) return s;
    if (absl::Status s = CreateDirs(fs, ParentDir(c.dir)); !s.ok()) return s;
  }

  // The parent is opened once (RocksDB locks its directory) and linked into
  // every staging directory.
  std::vector<ChildStateReport> reports(children.size());
  const absl::Time start = absl::Now();
  {
    absl::StatusOr<StoredState> state =
        LinkState(options, resources, parent_dir, parent, stagings);
    if (!state.ok()) return state.status();
    for (ChildStateReport& r : reports) {
      r.applied_seq = state->applied_seq;
      r.parent_seqs = {state->applied_seq};
    }
  }
  const absl::Duration link_time = absl::Now() - start;
  if (absl::Status s = stopped(); !s.ok()) return s;

  // Then each child trims its copy on a thread of its own: the scan of the
  // reverse index and the flush are most of a split's hold, and the
  // children share nothing.
  std::vector<absl::Status> done(children.size());
  auto trim = [&](size_t k) {
    const absl::Time trim_start = absl::Now();
    reports[k].link_time = link_time;
    {
      OpenDb c;
      if (absl::Status s = Open(options, resources, stagings[k], &c); !s.ok()) {
        done[k] = s;
        return;
      }
      if (absl::Status s = stopped(); !s.ok()) {
        done[k] = s;
        return;
      }
      absl::StatusOr<uint64_t> records =
          Trim(c, children[k].identity, stopped, &reports[k].ranges_deleted);
      if (!records.ok()) {
        done[k] = records.status();
        return;
      }
      reports[k].records = *records;
    }
    // Whole, synced (RocksDB synced its files at the flush): into place.
    done[k] = SyncDir(fs, stagings[k]);
    if (done[k].ok()) done[k] = RenameDurably(fs, stagings[k], children[k].dir);
    reports[k].trim_time = absl::Now() - trim_start;
  };
  std::vector<std::thread> threads;
  for (size_t k = 1; k < children.size(); ++k) threads.emplace_back(trim, k);
  if (!children.empty()) trim(0);
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : done) {
    if (!s.ok()) return s;
  }
  return reports;
}

absl::StatusOr<ChildStateReport> MakeChildState(const Options& options,
                                                const CellResources& resources,
                                                const std::string& parent_dir,
                                                const CellIdentity& parent,
                                                const std::string& child_dir,
                                                const CellIdentity& child) {
  absl::StatusOr<std::vector<ChildStateReport>> r =
      MakeChildStates(options, resources, parent_dir, parent, {{child_dir, child}});
  if (!r.ok()) return r.status();
  return std::move(r->front());
}

absl::StatusOr<ChildStateReport> MakeMergedState(const Options& options,
                                                 const CellResources& resources,
                                                 const std::string& left_dir,
                                                 const CellIdentity& left,
                                                 const std::string& right_dir,
                                                 const CellIdentity& right,
                                                 const std::string& child_dir,
                                                 const CellIdentity& child) {
  if (left.index_id != child.index_id || right.index_id != child.index_id) {
    return absl::InvalidArgumentError(
        absl::StrCat(child.Describe(), " and its parents are not of one index"));
  }
  const CellRange& l = left.range;
  const CellRange& r = right.range;
  const CellRange& c = child.range;
  if (l.hi_unbounded || l.hi != r.lo || c.lo != l.lo || c.hi_unbounded != r.hi_unbounded ||
      (!c.hi_unbounded && c.hi != r.hi) || c.id == l.id || c.id == r.id || l.id == r.id) {
    return absl::InvalidArgumentError(absl::StrCat(child.Describe(), " is not the merge of ",
                                                   left.Describe(), " and ", right.Describe()));
  }
  rocksdb::FileSystem& fs = *resources.fs;
  if (PathExists(fs, child_dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the child's state directory ", child_dir, " exists already"));
  }
  for (const std::string& dir : {left_dir, right_dir}) {
    if (!PathExists(fs, dir + "/CURRENT")) {
      return absl::FailedPreconditionError(
          absl::StrCat("no cell state in ", dir, " to make ", child.Describe(), " from"));
    }
  }
  const std::string staging = child_dir + ".merge-staging";
  if (absl::Status s = RemoveAll(fs, staging); !s.ok()) return s;
  if (absl::Status s = CreateDirs(fs, ParentDir(child_dir)); !s.ok()) return s;

  ChildStateReport report;
  const absl::Time start = absl::Now();
  StoredState left_state;
  {
    absl::StatusOr<StoredState> state = LinkState(options, resources, left_dir, left, {staging});
    if (!state.ok()) return state.status();
    left_state = *state;
  }
  report.link_time = absl::Now() - start;

  const absl::Time copy_start = absl::Now();
  {
    OpenDb from;
    if (absl::Status s = Open(options, resources, right_dir, &from); !s.ok()) return s;
    if (absl::Status s =
            CheckIdentity(from.db.get(), from.locations.get(), right, rocksdb::WriteOptions());
        !s.ok()) {
      return s;
    }
    absl::StatusOr<StoredState> right_state = ReadState(from.db.get(), rocksdb::ReadOptions());
    if (!right_state.ok()) return right_state.status();
    OpenDb to;
    if (absl::Status s = Open(options, resources, staging, &to); !s.ok()) return s;
    const rocksdb::WriteOptions wo;  // unsynced: the flush below makes it durable
    rocksdb::WriteBatch batch;
    int pending = 0;
    auto put = [&](rocksdb::ColumnFamilyHandle* family, const rocksdb::Slice& k,
                   const rocksdb::Slice& v) -> absl::Status {
      rocksdb::Status s = batch.Put(family, k, v);
      if (!s.ok()) return FromRocks(s, "copy the right parent's entry");
      if (++pending < kEntriesPerBatch) return absl::OkStatus();
      pending = 0;
      rocksdb::Status w = to.db->Write(wo, &batch);
      batch.Clear();
      return FromRocks(w, "copy the right parent's entries");
    };
    // Its records, then its reverse index.
    uint64_t copied = 0;
    {
      const std::string records_begin(1, kRecordPrefix);
      const std::string records_end(1, static_cast<char>(kRecordPrefix + 1));
      rocksdb::ReadOptions ro;
      const rocksdb::Slice upper(records_end);
      ro.iterate_upper_bound = &upper;
      std::unique_ptr<rocksdb::Iterator> it(from.db->NewIterator(ro));
      for (it->Seek(records_begin); it->Valid(); it->Next()) {
        if (absl::Status s = put(to.db->DefaultColumnFamily(), it->key(), it->value()); !s.ok()) {
          return s;
        }
        ++copied;
      }
      if (!it->status().ok()) return FromRocks(it->status(), "scan the right parent's records");
    }
    if (copied != right_state->count) {
      return absl::DataLossError(absl::StrCat(right.Describe(), " holds ", copied,
                                              " records but its state counts ",
                                              right_state->count));
    }
    {
      std::unique_ptr<rocksdb::Iterator> it(
          from.db->NewIterator(rocksdb::ReadOptions(), from.locations.get()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (absl::Status s = put(to.locations.get(), it->key(), it->value()); !s.ok()) return s;
      }
      if (!it->status().ok()) return FromRocks(it->status(), "scan the right parent's reverse index");
    }
    StoredState state;
    state.applied_seq = std::max(left_state.applied_seq, right_state->applied_seq);
    state.count = left_state.count + copied;
    AddState(state, &batch);
    AddIdentity(child, &batch);
    if (absl::Status s = FromRocks(to.db->Write(wo, &batch), "write the child's state"); !s.ok()) {
      return s;
    }
    rocksdb::FlushOptions fo;
    fo.wait = true;
    std::vector<rocksdb::ColumnFamilyHandle*> families = {to.db->DefaultColumnFamily(),
                                                          to.locations.get()};
    if (absl::Status s = FromRocks(to.db->Flush(fo, families), "flush the child's state");
        !s.ok()) {
      return s;
    }
    report.applied_seq = state.applied_seq;
    report.parent_seqs = {left_state.applied_seq, right_state->applied_seq};
    report.records = state.count;
  }
  if (absl::Status s = SyncDir(fs, staging); !s.ok()) return s;
  if (absl::Status s = RenameDurably(fs, staging, child_dir); !s.ok()) return s;
  report.trim_time = absl::Now() - copy_start;
  return report;
}

absl::StatusOr<std::string> MedianRecordKey(const Cell& cell) {
  rocksdb::DB* db = cell.db();
  const rocksdb::Snapshot* snap = db->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  absl::StatusOr<StoredState> state = ReadState(db, ro);
  absl::StatusOr<std::string> result = absl::InternalError("unset");
  if (!state.ok()) {
    result = state.status();
  } else if (state->count < 2) {
    result = absl::FailedPreconditionError(absl::StrCat(
        "cell ", cell.range().id, " holds ", state->count, " records: too few to split"));
  } else {
    const std::string end(1, static_cast<char>(kRecordPrefix + 1));
    rocksdb::Slice upper(end);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    uint64_t skip = state->count / 2;
    it->Seek(std::string(1, kRecordPrefix));
    for (; it->Valid() && skip > 0; it->Next()) --skip;
    if (!it->status().ok()) {
      result = FromRocks(it->status(), "find the median record");
    } else if (!it->Valid()) {
      result = absl::DataLossError(absl::StrCat("cell ", cell.range().id, " holds fewer records than its count ",
                                                state->count));
    } else {
      result = std::string(it->key().data() + 1, it->key().size() - 1);
    }
  }
  db->ReleaseSnapshot(snap);
  return result;
}

}  // namespace cellindex
