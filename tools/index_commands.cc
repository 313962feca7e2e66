// `cellindex cells | stat | load`: the index as a whole.
#include <atomic>
#include <iostream>
#include <limits>
#include <utility>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/bulk_load.h"
#include "tools/command_util.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/progress.h"
#include "tools/workload.h"

namespace cellindex::tools {
namespace {

// Keys of the workload sampled to place the cells of a new index.
constexpr size_t kLoadSampleKeys = 20000;

Json CellJson(const CellStats& c) {
  Json j = {{"id", c.id},
            {"range", c.range},
            {"host", c.host},
            {"state", CellPhaseName(c.state)},
            {"keys", c.keys},
            {"bytes", c.sst_bytes + c.memtable_bytes},
            {"sst_bytes", c.sst_bytes},
            {"memtable_bytes", c.memtable_bytes},
            {"journal_bytes_total", c.journal_bytes},
            {"journal_bytes_since_checkpoint", c.journal_bytes_since_checkpoint},
            {"applied_seq", c.applied_seq},
            {"last_checkpoint_seq", c.last_checkpoint_seq},
            {"validation", ValidationStateName(c.validation)}};
  const RecoveryReport& r = c.recovery;
  j["recovery"] = {{"source", RecoverySourceName(r.source)},
                   {"checkpoint_seq", r.checkpoint_seq},
                   {"files_fetched", r.files_fetched},
                   {"bytes_fetched", r.bytes_fetched},
                   {"records_replayed", r.records_replayed},
                   {"phases_seconds",
                    {{"fetch", absl::ToDoubleSeconds(r.fetch_time)},
                     {"verify", absl::ToDoubleSeconds(r.verify_time)},
                     {"open", absl::ToDoubleSeconds(r.open_time)},
                     {"replay", absl::ToDoubleSeconds(r.replay_time)},
                     {"validate", absl::ToDoubleSeconds(r.validate_time)}}},
                   {"time_to_serve_seconds", absl::ToDoubleSeconds(r.time_to_serve)},
                   {"fallbacks", r.fallbacks}};
  j["origin"] = c.origin;
  j["parents"] = c.parents;
  if (c.origin != "none") j["born"] = Iso8601(c.born);
  if (!c.error.empty()) j["error"] = c.error;
  return j;
}

// "split of 1, 2026-12-01T10:00:00.000Z", or "" for a cell made with the index.
std::string Lineage(const CellStats& c) {
  if (c.origin == "none") return "";
  return absl::StrCat(c.origin, " of ", absl::StrJoin(c.parents, "+"), ", ", Iso8601(c.born));
}

}  // namespace

int RunCells(const GlobalFlags& flags) {
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  const IndexStats stats = (*index)->Stats();
  if (flags.json) {
    Json cells = Json::array();
    for (const CellStats& c : stats.cells) cells.push_back(CellJson(c));
    PrintJson(cells);
    return kExitOk;
  }
  std::cout << absl::StrFormat("%5s  %-8s %-9s %10s %10s %14s %14s  %s\n", "cell", "host", "state",
                               "keys", "bytes", "journal total", "since ckpt", "range");
  for (const CellStats& c : stats.cells) {
    std::cout << absl::StrFormat("%5d  %-8s %-9s %10d %10s %14s %14s  %s\n", c.id, c.host, CellPhaseName(c.state),
                                 c.keys, HumanBytes(c.sst_bytes + c.memtable_bytes),
                                 HumanBytes(c.journal_bytes),
                                 HumanBytes(c.journal_bytes_since_checkpoint), c.range);
    if (!c.error.empty()) std::cout << "       error: " << c.error << "\n";
    if (const std::string l = Lineage(c); !l.empty()) std::cout << "       from: " << l << "\n";
  }
  return kExitOk;
}

int RunSplit(const GlobalFlags& flags, uint32_t cell, const std::string& at,
             const std::string& arguments) {
  SplitRequest request;
  request.cell = cell;
  request.arguments = arguments;
  if (!at.empty()) {
    // BUCKET/KEY: a bucket name holds no '/'.
    const size_t slash = at.find('/');
    if (slash == std::string::npos) {
      return ReportError(absl::InvalidArgumentError(
          absl::StrCat("--at ", at, ": expected BUCKET/KEY (the first key of the right half)")));
    }
    request.at = ObjectKey{at.substr(0, slash), at.substr(slash + 1)};
  }
  if (!flags.cluster.empty()) {
    return RunClusterReshape(flags, "split", {cell}, request.at, arguments);
  }
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<SplitReport> r = (*index)->SplitCell(request);
  if (!r.ok()) return ReportError(r.status());
  if (flags.json) {
    Json moved = nullptr;
    if (!r->right_moved_to.empty()) {
      moved = {{"to", r->right_moved_to},
               {"unavailable_seconds", absl::ToDoubleSeconds(r->move_unavailable)}};
    } else if (!r->move_error.empty()) {
      moved = {{"error", r->move_error}};
    }
    PrintJson({{"parent", r->parent},
               {"left", r->left},
               {"right", r->right},
               {"at", r->at},
               {"parent_seq", r->parent_seq},
               {"left_records", r->left_records},
               {"right_records", r->right_records},
               {"epoch", r->epoch},
               {"held_seconds", absl::ToDoubleSeconds(r->held)},
               {"held_parts_seconds",
                {{"closing", absl::ToDoubleSeconds(r->closing)},
                 {"making", absl::ToDoubleSeconds(r->making)},
                 {"saving", absl::ToDoubleSeconds(r->commit - r->making)},
                 {"opening", absl::ToDoubleSeconds(r->opening)}}},
               {"total_seconds", absl::ToDoubleSeconds(r->total)},
               {"right_moved", moved}});
    return kExitOk;
  }
  std::cout << absl::StrFormat(
      "cell %d split at %s (seq %d): cell %d holds %d records, cell %d holds %d; writes held %s, "
      "split in %s; map epoch %d\n",
      r->parent, r->at, r->parent_seq, r->left, r->left_records, r->right, r->right_records,
      HumanDuration(r->held), HumanDuration(r->total), r->epoch);
  if (!r->right_moved_to.empty()) {
    std::cout << absl::StrFormat("cell %d moved to host %s (not serving for %s)\n", r->right,
                                 r->right_moved_to, HumanDuration(r->move_unavailable));
  } else if (!r->move_error.empty()) {
    std::cout << absl::StrFormat("cell %d stays on its parent's host: its move failed: %s\n",
                                 r->right, r->move_error);
  }
  return kExitOk;
}

int RunMerge(const GlobalFlags& flags, const std::string& cells, const std::string& arguments) {
  const std::vector<std::string> parts = absl::StrSplit(cells, ',');
  MergeRequest request;
  request.arguments = arguments;
  if (parts.size() != 2) {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat("--cells ", cells, ": expected A,B (two cell ids, A left of B)")));
  }
  for (auto [part, id] : {std::pair(parts[0], &request.left), std::pair(parts[1], &request.right)}) {
    absl::StatusOr<uint64_t> n =
        ParseDecimal("--cells", part, 0, std::numeric_limits<uint32_t>::max());
    if (!n.ok()) return ReportError(n.status());
    *id = static_cast<CellId>(*n);
  }
  if (!flags.cluster.empty()) {
    return RunClusterReshape(flags, "merge", {request.left, request.right}, std::nullopt,
                             arguments);
  }
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<MergeReport> r = (*index)->MergeCells(request);
  if (!r.ok()) return ReportError(r.status());
  if (flags.json) {
    PrintJson({{"left", r->left},
               {"right", r->right},
               {"child", r->child},
               {"left_seq", r->left_seq},
               {"right_seq", r->right_seq},
               {"records", r->records},
               {"epoch", r->epoch},
               {"held_seconds", absl::ToDoubleSeconds(r->held)},
               {"total_seconds", absl::ToDoubleSeconds(r->total)}});
    return kExitOk;
  }
  std::cout << absl::StrFormat(
      "cells %d and %d merged into cell %d (%d records); writes held %s, merge in %s; map epoch "
      "%d\n",
      r->left, r->right, r->child, r->records, HumanDuration(r->held), HumanDuration(r->total),
      r->epoch);
  return kExitOk;
}

int RunCheckpoint(const GlobalFlags& flags, std::optional<uint32_t> cell) {
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<std::vector<CheckpointReport>> reports = (*index)->Checkpoint(cell);
  if (!reports.ok()) return ReportError(reports.status());
  if (flags.json) {
    Json out = Json::array();
    for (const CheckpointReport& r : *reports) {
      out.push_back({{"cell", r.cell},
                     {"taken", r.taken},
                     {"applied_seq", r.applied_seq},
                     {"keys", r.key_count},
                     {"files", r.files},
                     {"files_copied", r.files_copied},
                     {"bytes_copied", r.bytes_copied},
                     {"total_bytes", r.total_bytes},
                     {"capture_seconds", absl::ToDoubleSeconds(r.capture_time)},
                     {"copy_seconds", absl::ToDoubleSeconds(r.copy_time)},
                     {"publish_seconds", absl::ToDoubleSeconds(r.publish_time)}});
    }
    PrintJson(out);
    return kExitOk;
  }
  for (const CheckpointReport& r : *reports) {
    if (!r.taken) {
      std::cout << absl::StrFormat("cell %d: up to date (checkpoint at seq %d)\n", r.cell,
                                   r.applied_seq);
      continue;
    }
    std::cout << absl::StrFormat(
        "cell %d: checkpoint at seq %d, %d keys, %d files (%d copied, %s of %s) in %s\n", r.cell,
        r.applied_seq, r.key_count, r.files, r.files_copied, HumanBytes(r.bytes_copied),
        HumanBytes(r.total_bytes), HumanDuration(r.capture_time + r.copy_time + r.publish_time));
  }
  return kExitOk;
}

int RunStat(const GlobalFlags& flags) {
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  const IndexStats stats = (*index)->Stats();
  uint64_t keys = 0, bytes = 0, journal = 0, since_checkpoint = 0, serving = 0;
  for (const CellStats& c : stats.cells) {
    keys += c.keys;
    bytes += c.sst_bytes + c.memtable_bytes;
    journal += c.journal_bytes;
    since_checkpoint += c.journal_bytes_since_checkpoint;
    serving += c.state == CellPhase::kServing;
  }
  if (flags.json) {
    PrintJson({{"data_dir", flags.data_dir},
               {"store_dir", StoreDir(flags)},
               {"epoch", stats.epoch},
               {"cells", stats.cells.size()},
               {"cells_serving", serving},
               {"keys", keys},
               {"bytes", bytes},
               {"journal_bytes_total", journal},
               {"journal_bytes_since_checkpoint", since_checkpoint},
               {"open_seconds", absl::ToDoubleSeconds(stats.open_time)}});
    return kExitOk;
  }
  std::cout << absl::StrFormat("cells          %d (%d serving), cell map epoch %d\n",
                               stats.cells.size(), serving, stats.epoch)
            << absl::StrFormat("objects        %d\n", keys)
            << absl::StrFormat("bytes          %s (RocksDB files and memtables)\n",
                               HumanBytes(bytes))
            << absl::StrFormat("journal        %s total, %s since the last checkpoints\n",
                               HumanBytes(journal), HumanBytes(since_checkpoint))
            << absl::StrFormat("opened in      %s\n", HumanDuration(stats.open_time));
  return kExitOk;
}

int RunLoad(const GlobalFlags& flags, const LoadFlags& load) {
  const Workload workload({load.buckets, load.seed});
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Index>> opened =
      OpenIndex(flags, /*create=*/true, /*bulk=*/true, workload.Sample(kLoadSampleKeys));
  if (!opened.ok()) return ReportError(opened.status());
  std::unique_ptr<Index> index = *std::move(opened);
  const size_t num_cells = index->cell_map().cells().size();

  const int threads = load.threads > 0
                          ? load.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const absl::Status loaded =
      BulkLoadWithProgress(*index, workload, load.first, load.objects, threads);
  if (!loaded.ok()) return ReportError(loaded);
  const absl::Duration write_time = absl::Now() - start;
  index.reset();  // syncs every journal and flushes the memtables
  const absl::Duration total = absl::Now() - start;
  const double rate = load.objects / std::max(1e-9, absl::ToDoubleSeconds(total));
  if (flags.json) {
    PrintJson({{"objects", load.objects},
               {"first", load.first},
               {"buckets", workload.buckets().size()},
               {"cells", num_cells},
               {"threads", threads},
               {"seconds", absl::ToDoubleSeconds(total)},
               {"write_seconds", absl::ToDoubleSeconds(write_time)},
               {"objects_per_second", rate}});
  } else {
    std::cout << absl::StrFormat(
        "loaded %d objects (%d..%d) over %d buckets into %d cells in %s (%s writing, the rest "
        "syncing and closing): %.0f objects/s\n",
        load.objects, load.first, load.first + load.objects - 1, workload.buckets().size(),
        num_cells, HumanDuration(total), HumanDuration(write_time), rate);
  }
  return kExitOk;
}

}  // namespace cellindex::tools
