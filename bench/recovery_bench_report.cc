#include "bench/recovery_bench_report.h"

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

std::string JsonIndexRun(const IndexRun& r) {
  return absl::StrFormat(
      "{\"first_s\": %.4f, \"full_s\": %.4f, \"lose_call_s\": %.4f, \"lib_first_s\": %.4f, "
      "\"lib_full_s\": %.4f, \"open_return_s\": %.4f, \"probe_first_s\": %.4f, "
      "\"probe_full_s\": %.4f, \"wait_s\": %.4f, \"validated_s\": %.4f, \"cells\": %d, "
      "\"bytes_fetched\": %d, \"journal_bytes\": %d, \"records_replayed\": %d}",
      r.first_s, r.full_s, r.lose_call_s, r.lib_first_s, r.lib_full_s, r.open_return_s,
      r.probe_first_s, r.probe_full_s, r.wait_s, r.validated_s, r.cells, r.bytes_fetched,
      r.journal_bytes, r.records_replayed);
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
      "  \"a_rocksdb\": {\"first_s\": %s, \"full_s\": %s, \"restore_s\": %s, \"open_s\": %s, "
      "\"verify_s\": %s, \"open_ready_s\": %s, \"bytes\": %d},\n",
      JsonList(Pick(res.a, [](const RawRun& r) { return r.first_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.full_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.restore_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.open_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.verify_s; })),
      JsonList(Pick(res.a, [](const RawRun& r) { return r.open_ready_s; })),
      res.a.empty() ? 0 : res.a[0].bytes);
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
  const double a_full = Median(Pick(res.a, [](const RawRun& r) { return r.full_s; }));
  const double b_full = Median(Pick(res.b, [](const IndexRun& r) { return r.full_s; }));
  const double c_first = Median(Pick(res.c, [](const IndexRun& r) { return r.first_s; }));
  const double c_full = Median(Pick(res.c, [](const IndexRun& r) { return r.full_s; }));
  absl::StrAppendFormat(
      &out,
      "  \"ratios\": {\"b_full_over_a\": %.4f, \"b_target\": 0.15, \"c_first_over_a\": %.4f, "
      "\"c_first_target\": 0.05, \"c_full_over_a\": %.4f, \"c_full_target\": 1.2},\n",
      b_full / a_full, c_first / a_full, c_full / a_full);
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
  std::fprintf(out, "recovery_parallelism %d, fetch_parallelism %d, BackupEngine "
              "max_background_operations %d; validation off unless noted; %d repetitions, "
              "medians\n\n",
              f.recovery_parallelism, f.fetch_parallelism, f.backup_threads, f.reps);
  for (const auto* d : {&res.disk_start, &res.disk_end}) {
    std::fprintf(out, "disk %s: sequential read %s MiB/s cold (%.0f%% left cached after DONTNEED), "
                "%s MiB/s warm; write+fsync %s MiB/s; cold copy+fsync %s MiB/s\n",
                d == &res.disk_start ? "at start" : "at end  ", Mb(d->read_cold).c_str(),
                100 * d->resident_after_drop, Mb(d->read_warm).c_str(),
                Mb(d->write_fsync).c_str(), Mb(d->copy_cold).c_str());
  }
  const double seq_read = Median({res.disk_start.read_cold, res.disk_end.read_cold});
  const double copy = Median({res.disk_start.copy_cold, res.disk_end.copy_cold});
  std::fprintf(out, "\nbuild: rocksdb load %.1fs, backup %.1fs (%s MiB), tail %.1fs (WAL %s MiB)\n",
              rb.load_s, rb.backup_s, Mb(rb.backup_bytes).c_str(), rb.tail_s,
              Mb(rb.wal_bytes).c_str());
  std::fprintf(out, "       index   load %.1fs, checkpoint %.1fs (%s MiB), tail %.1fs (journal %s MiB "
              "since the checkpoint, %s MiB in all); local state %s MiB\n\n",
              ib.load_s, ib.checkpoint_s, Mb(ib.checkpoint_bytes).c_str(), ib.tail_s,
              Mb(ib.journal_tail_bytes).c_str(), Mb(ib.journal_bytes).c_str(),
              Mb(ib.host_bytes).c_str());

  auto med_a = [&](auto fn) { return Median(Pick(res.a, fn)); };
  auto med_i = [&](const std::vector<IndexRun>& v, auto fn) { return Median(Pick(v, fn)); };
  const double a_full = med_a([](const RawRun& r) { return r.full_s; });
  const double a_bytes = res.a.empty() ? 0 : res.a[0].bytes;
  const double b_first = med_i(res.b, [](const IndexRun& r) { return r.first_s; });
  const double b_full = med_i(res.b, [](const IndexRun& r) { return r.full_s; });
  const double b_bytes = med_i(res.b, [](const IndexRun& r) { return r.bytes_fetched; });
  const double b_journal = med_i(res.b, [](const IndexRun& r) { return r.journal_bytes; });
  const double c_first = med_i(res.c, [](const IndexRun& r) { return r.first_s; });
  const double c_full = med_i(res.c, [](const IndexRun& r) { return r.full_s; });
  const double c_bytes = med_i(res.c, [](const IndexRun& r) { return r.bytes_fetched; });
  const double c_journal = med_i(res.c, [](const IndexRun& r) { return r.journal_bytes; });

  std::fprintf(out, "%-38s %8s %8s %11s %11s %8s %10s %7s\n", "scenario", "first s", "full s",
               "fetched MiB", "journal MiB", "MiB/s", "x seq read", "x copy");
  auto row = [&](const std::string& name, double first, double full, double bytes,
                 double journal) {
    const double rate = full > 0 ? (bytes + journal) / full : 0;
    std::fprintf(out, "%-38s %8.3f %8.3f %11s %11s %8s %10.2f %7.2f\n", name.c_str(), first,
                 full, Mb(bytes).c_str(), Mb(journal).c_str(), Mb(rate).c_str(),
                 seq_read > 0 ? rate / seq_read : 0, copy > 0 ? rate / copy : 0);
  };
  row("(a) rocksdb backup+WAL+VerifyChecksum", a_full, a_full, a_bytes - rb.wal_bytes,
      rb.wal_bytes);
  row(absl::StrFormat("(b) index, lose 1 of %zu hosts", f.hosts), b_first, b_full, b_bytes,
      b_journal);
  row("(c) index, cold start of all cells", c_first, c_full, c_bytes, c_journal);
  std::fprintf(out, "(MiB/s = (fetched + journal) / full time; for (a) fetched = backup, journal = "
               "WAL; the index reads its journals in place from the store, whole segments; x seq "
               "read / x copy: that rate over the cold sequential read / cold copy+fsync rate, "
               "medians of start and end)\n");
  std::fprintf(out, "\n(a) phases (median): restore %.3fs, open+WAL replay %.3fs, VerifyChecksum "
              "%.3fs; serving before VerifyChecksum would give %.3fs\n",
              med_a([](const RawRun& r) { return r.restore_s; }),
              med_a([](const RawRun& r) { return r.open_s; }),
              med_a([](const RawRun& r) { return r.verify_s; }),
              med_a([](const RawRun& r) { return r.open_ready_s; }));
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

  for (const auto& [name, r] : res.extra) {
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
  ratio("(b) all lost cells serving / (a)", b_full, 0.15);
  ratio("(c) first cell serving / (a)", c_first, 0.05);
  ratio("(c) all cells serving / (a)", c_full, 1.2);
  std::fprintf(out, "\ntotal run time %.1fs\n", res.total_s);
}

}  // namespace cellindex::bench::recovery_bench
