#include "bench/recovery_bench_report.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace cellindex::bench::recovery_bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string Mb(double bytes) { return absl::StrFormat("%.1f", bytes / kMiB); }

template <typename T, typename Fn>
std::vector<double> Pick(const std::vector<T>& runs, Fn fn) {
  std::vector<double> v;
  for (const T& r : runs) v.push_back(fn(r));
  return v;
}

std::string JsonList(const std::vector<double>& v) {
  std::vector<std::string> s;
  for (double x : v) s.push_back(absl::StrFormat("%.4f", x));
  return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
}

std::string JsonPhases(const Phases& p) {
  auto stat = [](const char* name, const std::vector<double>& v) {
    return absl::StrFormat("\"%s\": {\"median\": %.4f, \"max\": %.4f}", name, Median(v), Max(v));
  };
  return absl::StrCat("{", stat("fetch_s", p.fetch), ", ", stat("verify_s", p.verify), ", ",
                      stat("open_s", p.open), ", ", stat("replay_s", p.replay), ", ",
                      stat("time_to_serve_s", p.serve), ", ", stat("bytes_fetched", p.bytes_fetched),
                      ", ", stat("records_replayed", p.records_replayed), "}");
}

std::string JsonFs(const FsCounts& c) {
  return absl::StrFormat(
      "{\"syncs\": %d, \"dir_syncs\": %d, \"range_syncs\": %d, \"files_created\": %d, "
      "\"dirs_created\": %d, \"renames\": %d, \"links\": %d, \"deletes\": %d, "
      "\"bytes_written\": %d}",
      c.syncs, c.dir_syncs, c.range_syncs, c.files_created, c.dirs_created, c.renames, c.links,
      c.deletes, c.bytes_written);
}

std::string JsonIndexRun(const IndexRun& r) {
  return absl::StrFormat(
      "{\"first_s\": %.4f, \"full_s\": %.4f, \"lose_call_s\": %.4f, \"lib_first_s\": %.4f, "
      "\"lib_full_s\": %.4f, \"open_return_s\": %.4f, \"probe_first_s\": %.4f, "
      "\"probe_full_s\": %.4f, \"wait_s\": %.4f, \"validated_s\": %.4f, \"cells\": %d, "
      "\"bytes_fetched\": %d, \"journal_bytes\": %d, \"records_replayed\": %d, "
      "\"cpu_s\": %.4f, \"fs\": %s, \"fs_cell_median\": %s, \"fs_other\": %s}",
      r.first_s, r.full_s, r.lose_call_s, r.lib_first_s, r.lib_full_s, r.open_return_s,
      r.probe_first_s, r.probe_full_s, r.wait_s, r.validated_s, r.cells, r.bytes_fetched,
      r.journal_bytes, r.records_replayed, r.cpu_s, JsonFs(r.fs), JsonFs(MedianCounts(r.fs_cells)),
      JsonFs(r.fs_other));
}

std::string JsonRawRuns(const std::vector<RawRun>& runs) {
  std::vector<std::string> fs;
  for (const RawRun& r : runs) fs.push_back(JsonFs(r.fs));
  return absl::StrFormat(
      "{\"first_s\": %s, \"full_s\": %s, \"restore_s\": %s, \"open_s\": %s, "
      "\"verify_s\": %s, \"open_ready_s\": %s, \"cpu_s\": %s, \"bytes\": %d, "
      "\"files_linked\": %d, \"files_copied\": %d, \"fs\": [%s]}",
      JsonList(Pick(runs, [](const RawRun& r) { return r.first_s; })),
      JsonList(Pick(runs, [](const RawRun& r) { return r.full_s; })),
      JsonList(Pick(runs, [](const RawRun& r) { return r.restore_s; })),
      JsonList(Pick(runs, [](const RawRun& r) { return r.open_s; })),
      JsonList(Pick(runs, [](const RawRun& r) { return r.verify_s; })),
      JsonList(Pick(runs, [](const RawRun& r) { return r.open_ready_s; })),
      JsonList(Pick(runs, [](const RawRun& r) { return r.cpu_s; })),
      runs.empty() ? 0 : runs[0].bytes, runs.empty() ? 0 : runs[0].files_linked,
      runs.empty() ? 0 : runs[0].files_copied, absl::StrJoin(fs, ", "));
}

std::string JsonKeySpace(const KeySpace& k) {
  return absl::StrFormat(
      "{\"file_bytes\": %d, \"entries\": %d, \"key_bytes\": %d, \"value_bytes\": %d}",
      k.file_bytes, k.entries, k.key_bytes, k.value_bytes);
}

// Each count divided by `n`, rounded.
FsCounts Divided(FsCounts c, size_t n) {
  if (n == 0) return c;
  for (uint64_t FsCounts::*field :
       {&FsCounts::syncs, &FsCounts::range_syncs, &FsCounts::dir_syncs, &FsCounts::files_created,
        &FsCounts::dirs_created, &FsCounts::renames, &FsCounts::links, &FsCounts::deletes,
        &FsCounts::bytes_written}) {
    c.*field = (c.*field + n / 2) / n;
  }
  return c;
}

// Medians over repetitions of each count.
FsCounts MedianFs(const std::vector<FsCounts>& v) { return MedianCounts(v); }
template <typename T>
FsCounts MedianFsOf(const std::vector<T>& runs) {
  std::vector<FsCounts> v;
  for (const T& r : runs) v.push_back(r.fs);
  return MedianFs(v);
}

}  // namespace

void PrintJson(const Results& res) {
  const Flags& f = res.flags;
  auto disk = [](const DiskRates& d) {
    return absl::StrFormat(
        "{\"write_fsync_Bps\": %.0f, \"read_cold_Bps\": %.0f, \"read_warm_Bps\": %.0f, "
        "\"copy_cold_Bps\": %.0f, \"resident_after_drop\": %.3f}",
        d.write_fsync, d.read_cold, d.read_warm, d.copy_cold, d.resident_after_drop);
  };
  std::string out = "{\n";
  absl::StrAppendFormat(
      &out,
      "  \"config\": {\"objects\": %d, \"tail\": %d, \"cells\": %d, \"hosts\": %d, \"lose\": "
      "\"%s\", \"lost_cells\": %d, \"reps\": %d, \"recovery_parallelism\": %d, "
      "\"fetch_parallelism\": %d, \"backup_threads\": %d, \"record_bytes_avg\": %.1f},\n",
      f.objects, f.tail, f.cells, f.hosts, f.lose, res.lost_cells, f.reps, f.recovery_parallelism,
      f.fetch_parallelism, f.backup_threads, res.record_bytes_avg);
  absl::StrAppendFormat(&out,
                        "  \"machine\": {\"cores\": %d, \"disk\": \"%s\", \"loadavg_start\": "
                        "\"%s\", \"loadavg_end\": \"%s\"},\n",
                        res.cores, res.disk, res.load_before, res.load_after);
  absl::StrAppendFormat(&out, "  \"disk_start\": %s,\n  \"disk_end\": %s,\n",
                        disk(res.disk_start), disk(res.disk_end));
  const RawBuild& rb = res.raw_build;
  const IndexBuild& ib = res.index_build;
  absl::StrAppendFormat(
      &out,
      "  \"build\": {\"rocksdb_load_s\": %.2f, \"rocksdb_backup_s\": %.2f, \"rocksdb_tail_s\": "
      "%.2f, \"rocksdb_backup_bytes\": %d, \"rocksdb_wal_bytes\": %d, \"index_load_s\": %.2f, "
      "\"index_checkpoint_s\": %.2f, \"index_tail_s\": %.2f, \"index_checkpoint_bytes\": %d, "
      "\"index_host_bytes\": %d, \"index_journal_bytes\": %d, \"index_journal_tail_bytes\": %d},\n",
      rb.load_s, rb.backup_s, rb.tail_s, rb.backup_bytes, rb.wal_bytes, ib.load_s,
      ib.checkpoint_s, ib.tail_s, ib.checkpoint_bytes, ib.host_bytes, ib.journal_bytes,
      ib.journal_tail_bytes);
  absl::StrAppendFormat(
      &out,
      "  \"build_rocksdb\": {\"checkpoint_s\": %.2f, \"checkpoint_bytes\": %d, "
      "\"wal_bytes\": %d, \"archived_wal_bytes\": %d, \"live_wal_bytes\": %d, "
      "\"wals_pruned\": %d, \"backup_log_number\": %d, \"sst_bytes\": %d, \"db_bytes\": %d, "
      "\"record_bytes\": %d},\n",
      rb.checkpoint_s, rb.checkpoint_bytes, rb.wal_bytes, rb.archived_wal_bytes,
      rb.live_wal_bytes, rb.wals_pruned, rb.backup_log_number, rb.sst_bytes, rb.db_bytes,
      rb.record_bytes);
  const IndexSpace& sp = res.index_space;
  absl::StrAppendFormat(
      &out,
      "  \"space\": {\"objects\": %d, \"rocksdb_sst_bytes\": %d, \"rocksdb_live_wal_bytes\": %d, "
      "\"rocksdb_bytes_per_object\": %.1f, \"index_cells\": %d, \"index_sst_bytes\": %d, "
      "\"index_bytes_per_object\": %.1f, \"records\": %s, \"volumes\": %s, \"nodes\": %s, "
      "\"state\": %s},\n",
      f.objects, rb.sst_bytes, rb.live_wal_bytes,
      static_cast<double>(rb.sst_bytes + rb.live_wal_bytes) / f.objects, sp.cells, sp.sst_bytes,
      static_cast<double>(sp.sst_bytes) / f.objects, JsonKeySpace(sp.records),
      JsonKeySpace(sp.volumes), JsonKeySpace(sp.nodes), JsonKeySpace(sp.state));
  absl::StrAppendFormat(&out, "  \"a_rocksdb\": %s,\n", JsonRawRuns(res.a));
  absl::StrAppendFormat(&out, "  \"a2_checkpoint\": %s,\n", JsonRawRuns(res.a2));
  auto runs = [](const std::vector<IndexRun>& v) {
    std::vector<std::string> s;
    for (const IndexRun& r : v) s.push_back(JsonIndexRun(r));
    return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
  };
  absl::StrAppendFormat(&out, "  \"b_lose_host\": {\"runs\": %s, \"phases\": %s},\n", runs(res.b),
                        JsonPhases(res.b_phases));
  absl::StrAppendFormat(&out, "  \"c_cold_start\": {\"runs\": %s, \"phases\": %s},\n",
                        runs(res.c), JsonPhases(res.c_phases));
  std::vector<std::string> extra;
  for (const auto& [name, r] : res.extra) {
    extra.push_back(absl::StrFormat("\"%s\": %s", name, JsonIndexRun(r)));
  }
  absl::StrAppendFormat(&out, "  \"extra_runs\": {%s},\n", absl::StrJoin(extra, ", "));
  std::vector<std::string> sweep;
  for (const Results::SweepRun& s : res.sweep) {
    sweep.push_back(absl::StrFormat("{\"recovery_parallelism\": %d, \"b\": %s, \"c\": %s}",
                                    s.recovery_parallelism, JsonIndexRun(s.b), JsonIndexRun(s.c)));
  }
  absl::StrAppendFormat(&out, "  \"sweep\": [%s],\n", absl::StrJoin(sweep, ", "));
  const double a_full = Median(Pick(res.a, [](const RawRun& r) { return r.full_s; }));
  const double b_full = Median(Pick(res.b, [](const IndexRun& r) { return r.full_s; }));
  const double c_first = Median(Pick(res.c, [](const IndexRun& r) { return r.first_s; }));
  const double c_full = Median(Pick(res.c, [](const IndexRun& r) { return r.full_s; }));
  const double a2_full = Median(Pick(res.a2, [](const RawRun& r) { return r.full_s; }));
  absl::StrAppendFormat(
      &out,
      "  \"ratios\": {\"b_full_over_a\": %.4f, \"b_target\": 0.10, \"c_first_over_a\": %.4f, "
      "\"c_first_target\": 0.05, \"c_full_over_a\": %.4f, \"c_full_target\": 0.8, "
      "\"b_full_over_a2\": %.4f, \"b_over_a2_target\": 0.5, \"c_first_over_a2\": %.4f, "
      "\"c_full_over_a2\": %.4f},\n",
      b_full / a_full, c_first / a_full, c_full / a_full, b_full / a2_full, c_first / a2_full,
      c_full / a2_full);
  absl::StrAppendFormat(&out, "  \"total_s\": %.1f\n}\n", res.total_s);
  std::fputs(out.c_str(), stdout);
}

void PrintTable(const Results& res, FILE* out) {
  const Flags& f = res.flags;
  const RawBuild& rb = res.raw_build;
  const IndexBuild& ib = res.index_build;
  std::fprintf(out, "recovery_bench: %llu objects (%.0f B records avg, %s MiB of records), tail %llu "
              "overwrites; index: %zu cells on %zu hosts, losing %s (%zu cells)\n",
              static_cast<unsigned long long>(f.objects), res.record_bytes_avg,
              Mb(rb.record_bytes).c_str(), static_cast<unsigned long long>(f.tail), f.cells,
              f.hosts, f.lose.c_str(), res.lost_cells);
  std::fprintf(out, "machine: %u cores, disk %s; load average %s at start, %s at end (shared machine: "
              "other work competes for CPU and disk)\n",
              res.cores, res.disk.c_str(), res.load_before.c_str(), res.load_after.c_str());
  std::fprintf(out, "index restore_mode %s, recovery_parallelism %d, fetch_parallelism %d, "
              "BackupEngine max_background_operations %d; validation off unless noted; %d "
              "repetitions, medians\n\n",
              f.restore_mode == RestoreMode::kCopy ? "copy" : "in_place", f.recovery_parallelism,
              f.fetch_parallelism, f.backup_threads, f.reps);
  for (const auto* d : {&res.disk_start, &res.disk_end}) {
    std::fprintf(out, "disk %s: sequential read %s MiB/s cold (%.0f%% left cached after DONTNEED), "
                "%s MiB/s warm; write+fsync %s MiB/s; cold copy+fsync %s MiB/s\n",
                d == &res.disk_start ? "at start" : "at end  ", Mb(d->read_cold).c_str(),
                100 * d->resident_after_drop, Mb(d->read_warm).c_str(),
                Mb(d->write_fsync).c_str(), Mb(d->copy_cold).c_str());
  }
  const double seq_read = Median({res.disk_start.read_cold, res.disk_end.read_cold});
  const double copy = Median({res.disk_start.copy_cold, res.disk_end.copy_cold});
  std::fprintf(out, "\nbuild: rocksdb load %.1fs, backup %.1fs (%s MiB), checkpoint %.1fs (%s MiB, "
              "hard links), tail %.1fs (WAL %s MiB: %s MiB live, %s MiB archived by flushes since "
              "the backup; %llu older WALs pruned)\n",
              rb.load_s, rb.backup_s, Mb(rb.backup_bytes).c_str(), rb.checkpoint_s,
              Mb(rb.checkpoint_bytes).c_str(), rb.tail_s, Mb(rb.wal_bytes).c_str(),
              Mb(rb.live_wal_bytes).c_str(), Mb(rb.archived_wal_bytes).c_str(),
              static_cast<unsigned long long>(rb.wals_pruned));
  std::fprintf(out, "       index   load %.1fs, checkpoint %.1fs (%s MiB), tail %.1fs (journal %s MiB "
              "since the checkpoint, %s MiB in all); local state %s MiB\n\n",
              ib.load_s, ib.checkpoint_s, Mb(ib.checkpoint_bytes).c_str(), ib.tail_s,
              Mb(ib.journal_tail_bytes).c_str(), Mb(ib.journal_bytes).c_str(),
              Mb(ib.host_bytes).c_str());

  auto med_a = [&](auto fn) { return Median(Pick(res.a, fn)); };
  auto med_i = [&](const std::vector<IndexRun>& v, auto fn) { return Median(Pick(v, fn)); };
  const double a_full = med_a([](const RawRun& r) { return r.full_s; });
  const double a_bytes = res.a.empty() ? 0 : res.a[0].bytes;
  auto med_a2 = [&](auto fn) { return Median(Pick(res.a2, fn)); };
  const double a2_full = med_a2([](const RawRun& r) { return r.full_s; });
  const double a2_bytes = res.a2.empty() ? 0 : res.a2[0].bytes;
  const double b_first = med_i(res.b, [](const IndexRun& r) { return r.first_s; });
  const double b_full = med_i(res.b, [](const IndexRun& r) { return r.full_s; });
  const double b_bytes = med_i(res.b, [](const IndexRun& r) { return r.bytes_fetched; });
  const double b_journal = med_i(res.b, [](const IndexRun& r) { return r.journal_bytes; });
  const double c_first = med_i(res.c, [](const IndexRun& r) { return r.first_s; });
  const double c_full = med_i(res.c, [](const IndexRun& r) { return r.full_s; });
  const double c_bytes = med_i(res.c, [](const IndexRun& r) { return r.bytes_fetched; });
  const double c_journal = med_i(res.c, [](const IndexRun& r) { return r.journal_bytes; });

  std::fprintf(out, "%-44s %8s %8s %11s %11s %8s %10s %7s\n", "scenario", "first s", "full s",
               "fetched MiB", "journal MiB", "MiB/s", "x seq read", "x copy");
  auto row = [&](const std::string& name, double first, double full, double bytes,
                 double journal) {
    const double rate = full > 0 ? (bytes + journal) / full : 0;
    std::fprintf(out, "%-44s %8.3f %8.3f %11s %11s %8s %10.2f %7.2f\n", name.c_str(), first,
                 full, Mb(bytes).c_str(), Mb(journal).c_str(), Mb(rate).c_str(),
                 seq_read > 0 ? rate / seq_read : 0, copy > 0 ? rate / copy : 0);
  };
  row("(a) rocksdb backup+WAL+VerifyChecksum", a_full, a_full, a_bytes - rb.wal_bytes,
      rb.wal_bytes);
  row("(a2) rocksdb checkpoint in place+WAL+Verify", a2_full, a2_full, a2_bytes - rb.wal_bytes,
      rb.wal_bytes);
  row(absl::StrFormat("(b) index, lose 1 of %zu hosts", f.hosts), b_first, b_full, b_bytes,
      b_journal);
  row("(c) index, cold start of all cells", c_first, c_full, c_bytes, c_journal);
  std::fprintf(out, "(MiB/s = (fetched + journal) / full time; for (a) fetched = backup, journal = "
               "WAL; for (a2) fetched = the checkpoint, linked not copied; the index reads its "
               "journals in place from the store, whole segments; x seq "
               "read / x copy: that rate over the cold sequential read / cold copy+fsync rate, "
               "medians of start and end)\n");
  std::fprintf(out, "\n(a) phases (median): restore %.3fs, open+WAL replay %.3fs, VerifyChecksum "
              "%.3fs; serving before VerifyChecksum would give %.3fs\n",
              med_a([](const RawRun& r) { return r.restore_s; }),
              med_a([](const RawRun& r) { return r.open_s; }),
              med_a([](const RawRun& r) { return r.verify_s; }),
              med_a([](const RawRun& r) { return r.open_ready_s; }));
  std::fprintf(out, "(a2) phases (median): link+copy %.3fs (%llu files linked, %llu copied) and "
              "archived WALs moved back, open+WAL replay %.3fs, VerifyChecksum %.3fs; serving "
              "before VerifyChecksum would give %.3fs\n",
              med_a2([](const RawRun& r) { return r.restore_s; }),
              static_cast<unsigned long long>(res.a2.empty() ? 0 : res.a2[0].files_linked),
              static_cast<unsigned long long>(res.a2.empty() ? 0 : res.a2[0].files_copied),
              med_a2([](const RawRun& r) { return r.open_s; }),
              med_a2([](const RawRun& r) { return r.verify_s; }),
              med_a2([](const RawRun& r) { return r.open_ready_s; }));
  std::fprintf(out, "(b) LoseHost call %.3fs; by the library's clock first %.3fs, all %.3fs; "
              "WaitForRecovery returned at %.3fs\n",
              med_i(res.b, [](const IndexRun& r) { return r.lose_call_s; }),
              med_i(res.b, [](const IndexRun& r) { return r.lib_first_s; }),
              med_i(res.b, [](const IndexRun& r) { return r.lib_full_s; }),
              med_i(res.b, [](const IndexRun& r) { return r.wait_s; }));
  std::fprintf(out, "(c) Index::Open returned at %.3fs; probes saw first %.3fs, all %.3fs\n",
              med_i(res.c, [](const IndexRun& r) { return r.open_return_s; }),
              med_i(res.c, [](const IndexRun& r) { return r.probe_first_s; }),
              med_i(res.c, [](const IndexRun& r) { return r.probe_full_s; }));

  std::fprintf(out, "\nper-cell recovery phases, seconds (median / max over cells and repetitions):\n");
  std::fprintf(out, "%-4s %15s %15s %15s %15s %15s %17s %17s\n", "", "fetch", "verify", "open",
              "replay", "time_to_serve", "fetched MiB", "records replayed");
  auto phase_row = [out](const char* name, const Phases& p) {
    auto mm = [](const std::vector<double>& v, double scale) {
      return absl::StrFormat("%.3f / %.3f", Median(v) / scale, Max(v) / scale);
    };
    std::fprintf(out, "%-4s %15s %15s %15s %15s %15s %17s %17s\n", name, mm(p.fetch, 1).c_str(),
                mm(p.verify, 1).c_str(), mm(p.open, 1).c_str(), mm(p.replay, 1).c_str(),
                mm(p.serve, 1).c_str(), mm(p.bytes_fetched, kMiB).c_str(),
                absl::StrFormat("%.0f / %.0f", Median(p.records_replayed),
                                Max(p.records_replayed))
                    .c_str());
  };
  phase_row("(b)", res.b_phases);
  phase_row("(c)", res.c_phases);

  // What each restore did: CPU against wall time, and the operations that
  // wait for the disk.
  std::fprintf(out, "\nwhat each restore did (medians over repetitions; CPU: the whole process, "
               "all threads, %u cores; per cell: median over the recovered cells):\n", res.cores);
  std::fprintf(out, "%-30s %7s %7s %8s %7s %7s %7s %8s %7s %6s %7s %9s\n", "", "wall s", "CPU s",
               "CPU/wall", "fsyncs", "(file", "dir)", "r.syncs", "created", "links", "renames",
               "MiB wrtn");
  auto fs_row = [&](const std::string& name, double wall, double cpu, const FsCounts& c) {
    const std::string w = wall > 0 ? absl::StrFormat("%.3f", wall) : "-";
    const std::string u = wall > 0 ? absl::StrFormat("%.3f", cpu) : "-";
    const std::string ratio = wall > 0 ? absl::StrFormat("%.2f", cpu / wall) : "-";
    std::fprintf(out, "%-30s %7s %7s %8s %7llu %7llu %7llu %8llu %7llu %6llu %7llu %9s\n",
                 name.c_str(), w.c_str(), u.c_str(), ratio.c_str(),
                 static_cast<unsigned long long>(c.fsyncs()),
                 static_cast<unsigned long long>(c.syncs),
                 static_cast<unsigned long long>(c.dir_syncs),
                 static_cast<unsigned long long>(c.range_syncs),
                 static_cast<unsigned long long>(c.files_created),
                 static_cast<unsigned long long>(c.links),
                 static_cast<unsigned long long>(c.renames), Mb(c.bytes_written).c_str());
  };
  auto cells_fs = [](const std::vector<IndexRun>& runs) {
    std::vector<FsCounts> v;
    for (const IndexRun& r : runs) v.insert(v.end(), r.fs_cells.begin(), r.fs_cells.end());
    return MedianCounts(v);
  };
  auto other_fs = [](const std::vector<IndexRun>& runs) {
    std::vector<FsCounts> v;
    for (const IndexRun& r : runs) v.push_back(r.fs_other);
    return MedianCounts(v);
  };
  auto cpu_a = [](const RawRun& r) { return r.cpu_s; };
  auto cpu_i = [](const IndexRun& r) { return r.cpu_s; };
  auto wait_i = [](const IndexRun& r) { return r.wait_s; };
  fs_row("(a) backup restore", a_full, med_a(cpu_a), MedianFsOf(res.a));
  fs_row("(a2) checkpoint in place", a2_full, med_a2(cpu_a), MedianFsOf(res.a2));
  fs_row(absl::StrFormat("(b) all %zu lost cells", res.lost_cells), med_i(res.b, wait_i),
         med_i(res.b, cpu_i), MedianFsOf(res.b));
  fs_row("(b)   per lost cell", 0, 0, cells_fs(res.b));
  fs_row("(b)   other cells, no cell", 0, 0, other_fs(res.b));
  fs_row("(b)   all / lost cells", 0, 0, Divided(MedianFsOf(res.b), res.lost_cells));
  fs_row(absl::StrFormat("(c) all %zu cells", f.cells), med_i(res.c, wait_i), med_i(res.c, cpu_i),
         MedianFsOf(res.c));
  fs_row("(c)   per cell", 0, 0, cells_fs(res.c));
  fs_row("(c)   no cell", 0, 0, other_fs(res.c));
  fs_row("(c)   all / cells", 0, 0, Divided(MedianFsOf(res.c), f.cells));
  std::fprintf(out, "(wall: (a)/(a2) until verified, (b)/(c) until WaitForRecovery returned; "
               "CPU/wall near the core count: CPU-bound; well below it: waiting (fsyncs, reads); "
               "fsyncs = file Sync/Fsync + directory fsyncs; a cell's operations are those on paths "
               "in its directories (host and store); \"no cell\": other paths, such as a host's "
               "cells/ directory, whose fsync makes a cell's rename durable, and the cell map; "
               "in (b) the serving cells' own work (a compaction) counts there too; r.syncs: RangeSync "
               "(sync_file_range, write-back only); created: files opened for writing)\n");

  // Bytes per object.
  const IndexSpace& sp = res.index_space;
  const double n = static_cast<double>(f.objects);
  std::fprintf(out, "\nbytes per object (%llu objects):\n",
               static_cast<unsigned long long>(f.objects));
  std::fprintf(out, "  (a) rocksdb: %.1f B (live SST %s MiB + live WAL %s MiB); records encoded "
               "%.1f B + key\n",
               (rb.sst_bytes + rb.live_wal_bytes) / n, Mb(rb.sst_bytes).c_str(),
               Mb(rb.live_wal_bytes).c_str(), rb.record_bytes / n);
  std::fprintf(out, "  index: %.1f B (live SST %s MiB in %zu cells); by key range:\n",
               sp.sst_bytes / n, Mb(sp.sst_bytes).c_str(), sp.cells);
  std::fprintf(out, "  %-28s %12s %14s %12s %12s\n", "", "on disk B/obj", "raw k+v B/obj",
               "entries/obj", "raw B/entry");
  for (const auto& [name, k] :
       std::vector<std::pair<const char*, const KeySpace*>>{
           {"records ('r')", &sp.records},
           {"reverse by volume ('v')", &sp.volumes},
           {"reverse by node ('n')", &sp.nodes},
           {"state ('m')", &sp.state}}) {
    const double raw = static_cast<double>(k->key_bytes + k->value_bytes);
    std::fprintf(out, "  %-28s %12.1f %14.1f %12.2f %12.1f\n", name, k->file_bytes / n, raw / n,
                 k->entries / n, k->entries > 0 ? raw / k->entries : 0);
  }
  const uint64_t reverse_disk = sp.volumes.file_bytes + sp.nodes.file_bytes;
  std::fprintf(out, "  (on disk: DB::GetApproximateSizes over each key range, SST files only, "
               "compressed; raw: a scan adding up keys and values; reverse index / records on "
               "disk: %.2f)\n",
               sp.records.file_bytes > 0
                   ? static_cast<double>(reverse_disk) / sp.records.file_bytes
                   : 0);

  if (!res.sweep.empty()) {
    std::fprintf(out, "\nrecovery_parallelism sweep (one run each; full = all cells serving):\n");
    std::fprintf(out, "%11s %9s %9s %8s %8s %9s %9s %8s %8s\n", "parallelism", "(b) first",
                 "(b) full", "(b) CPU", "(b) fsync", "(c) first", "(c) full", "(c) CPU",
                 "(c) fsync");
    for (const Results::SweepRun& s : res.sweep) {
      std::fprintf(out, "%11d %9.3f %9.3f %8.3f %8llu %9.3f %9.3f %8.3f %8llu\n",
                   s.recovery_parallelism, s.b.first_s, s.b.full_s, s.b.cpu_s,
                   static_cast<unsigned long long>(s.b.fs.fsyncs()), s.c.first_s, s.c.full_s,
                   s.c.cpu_s, static_cast<unsigned long long>(s.c.fs.fsyncs()));
    }
  }

  for (const auto& [name, r] : res.extra) {
    if (absl::StrContains(name, "recovery_parallelism")) continue;  // the sweep's table
    std::fprintf(out, "%-30s first %.3fs, all %.3fs%s\n", name.c_str(), r.first_s, r.full_s,
                r.validated_s > 0 ? absl::StrFormat(", all validated %.3fs", r.validated_s).c_str()
                                  : "");
  }

  std::fprintf(out, "\nratios against (a) = %.3fs (medians; each repetition: a %s, b %s, c %s/%s)\n",
              a_full,
              JsonList(Pick(res.a, [](const RawRun& r) { return r.full_s; })).c_str(),
              JsonList(Pick(res.b, [](const IndexRun& r) { return r.full_s; })).c_str(),
              JsonList(Pick(res.c, [](const IndexRun& r) { return r.first_s; })).c_str(),
              JsonList(Pick(res.c, [](const IndexRun& r) { return r.full_s; })).c_str());
  auto ratio = [&](const char* what, double x, double target) {
    std::fprintf(out, "  %-40s %6.3f  target <= %.2f: %s\n", what, x / a_full, target,
                x / a_full <= target ? "met" : "NOT met");
  };
  ratio("(b) all lost cells serving / (a)", b_full, 0.10);
  ratio("(c) first cell serving / (a)", c_first, 0.05);
  ratio("(c) all cells serving / (a)", c_full, 0.8);
  std::fprintf(out, "ratios against (a2) = %.3fs (medians; each repetition: a2 %s; %.3fs before "
               "VerifyChecksum)\n",
               a2_full, JsonList(Pick(res.a2, [](const RawRun& r) { return r.full_s; })).c_str(),
               med_a2([](const RawRun& r) { return r.open_ready_s; }));
  auto ratio2 = [&](const char* what, double x) {
    std::fprintf(out, "  %-40s %6.3f\n", what, a2_full > 0 ? x / a2_full : 0);
  };
  std::fprintf(out, "  %-40s %6.3f  target <= 0.50: %s\n", "(b) all lost cells serving / (a2)",
               a2_full > 0 ? b_full / a2_full : 0,
               a2_full > 0 && b_full / a2_full <= 0.5 ? "met" : "NOT met");
  ratio2("(c) first cell serving / (a2)", c_first);
  ratio2("(c) all cells serving / (a2)", c_full);
  std::fprintf(out, "\ntotal run time %.1fs\n", res.total_s);
}

}  // namespace cellindex::bench::recovery_bench
