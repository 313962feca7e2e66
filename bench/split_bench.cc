// Writes while cells split (issue 10): the write latency (p50, p99, p99.9,
// max) and throughput of a steady load while splits run, against the same
// load with no split, in one run on one index.
//
// The index: --cells cells, preloaded with --records records (uniform keys,
// so every cell gets its share), sync durability. Then three phases of
// --seconds each, --writers threads putting new records as fast as they
// are acknowledged:
//   before  no split (the baseline);
//   splits  --splits manual splits, evenly spaced, each of the largest cell
//           at its median (Index::SplitCell: what the automatic ones do);
//   after   no split again (a baseline on the larger, finer-cut index, so
//           that growth alone is not mistaken for the splits' cost).
// The ratio is the splits phase's throughput over the mean of the two
// baselines. Automatic resizing is off, so the splits are exactly those.
//
// With --rounds R, splits and quiet phases alternate R times (quiet 0,
// splits 1, quiet 1, ..., splits R, quiet R): each splits phase is compared
// with the quiet phases on either side of it, and the median of the R
// ratios is the figure. On a shared machine, whose speed drifts over a
// minute, neighbouring baselines are a fairer comparison than one pair.
//
//   split_bench [--records N] [--cells N] [--writers N] [--seconds S]
//               [--splits N] [--rounds R] [--dir DIR] [--json]
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "index/index.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "nlohmann/json.hpp"

namespace cellindex::bench {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kBucket[] = "bucket";

std::string KeyOf(uint64_t n) { return absl::StrFormat("%016x", Mix64(n)); }

ObjectRecord RecordOf(uint64_t n) {
  ObjectRecord r;
  r.size = 1000 + n % 5000;
  r.etag = absl::StrFormat("\"%032x\"", Mix64(n ^ 0x5bd1e995));
  r.content_type = "application/octet-stream";
  r.storage_class = "STANDARD";
  r.locations = {{absl::StrFormat("node-%02d", n % 8), absl::StrFormat("vol-%02d", n % 24),
                  4096 * n, r.size}};
  return r;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Phase {
  std::string name;
  double seconds = 0;
  std::vector<double> micros;  // every acknowledged write's latency
  uint64_t errors = 0;
  std::vector<SplitReport> splits;

  double rate() const { return seconds > 0 ? static_cast<double>(micros.size()) / seconds : 0; }
  Json ToJson() const {
    Json j = {{"writes", micros.size()},
              {"errors", errors},
              {"writes_per_s", rate()},
              {"p50_ms", Percentile(micros, 0.50) / 1000},
              {"p99_ms", Percentile(micros, 0.99) / 1000},
              {"p999_ms", Percentile(micros, 0.999) / 1000},
              {"max_ms", Max(micros) / 1000}};
    if (!splits.empty()) {
      Json holds = Json::array();
      for (const SplitReport& s : splits) {
        holds.push_back({{"parent", s.parent},
                         {"records", s.left_records + s.right_records},
                         {"held_ms", absl::ToDoubleMilliseconds(s.held)},
                         {"making_ms", absl::ToDoubleMilliseconds(s.making)},
                         {"total_ms", absl::ToDoubleMilliseconds(s.total)}});
      }
      j["splits"] = holds;
    }
    return j;
  }
};

// `writers` threads put records numbered from *next on for `seconds`; with
// `splits` > 0, the calling thread splits the largest cell that many times,
// evenly spaced.
Phase Run(Index& index, const std::string& name, int writers, double seconds, int splits,
          std::atomic<uint64_t>* next) {
  Phase phase;
  phase.name = name;
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> micros(writers);
  std::vector<uint64_t> errors(writers, 0);
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t n = next->fetch_add(1);
        const Clock::time_point t = Clock::now();
        absl::StatusOr<uint64_t> r = index.Put({kBucket, KeyOf(n)}, RecordOf(n));
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - t).count();
        if (r.ok()) {
          micros[w].push_back(us);
        } else {
          ++errors[w];
        }
      }
    });
  }
  for (int k = 0; k < splits; ++k) {
    const absl::Duration gap = absl::Seconds(seconds / (splits + 1));
    absl::SleepFor(gap);  // the pacing of the load, not a wait for a condition
    const IndexStats stats = index.Stats();
    auto largest = std::max_element(stats.cells.begin(), stats.cells.end(),
                                    [](const CellStats& a, const CellStats& b) {
                                      return a.keys < b.keys;
                                    });
    SplitRequest request;
    request.cell = largest->id;
    request.user = "split_bench";
    absl::StatusOr<SplitReport> r = index.SplitCell(request);
    if (!r.ok()) Die("split", r.status());
    phase.splits.push_back(*r);
  }
  const double left = seconds - Since(start);
  if (left > 0) absl::SleepFor(absl::Seconds(left));
  stop = true;
  for (std::thread& t : threads) t.join();
  phase.seconds = Since(start);
  for (int w = 0; w < writers; ++w) {
    phase.micros.insert(phase.micros.end(), micros[w].begin(), micros[w].end());
    phase.errors += errors[w];
  }
  return phase;
}

}  // namespace
}  // namespace cellindex::bench

int main(int argc, char** argv) {
  using namespace cellindex;
  using namespace cellindex::bench;
  SetProgramName("split_bench");
  uint64_t records = 200000;
  size_t cells = 4;
  int writers = 4;
  double seconds = 6;
  int splits = 3;
  int rounds = 1;
  std::string dir = "/tmp";
  bool json = false;
  CLI::App app{"write latency and throughput while cells split, against no split"};
  app.add_option("--records", records, "records preloaded")->check(CLI::Range(1000, 100000000));
  app.add_option("--cells", cells, "cells at the start")->check(CLI::Range(1, 256));
  app.add_option("--writers", writers, "writer threads")->check(CLI::Range(1, 256));
  app.add_option("--seconds", seconds, "seconds per phase")->check(CLI::Range(0.5, 3600.0));
  app.add_option("--splits", splits, "splits during the middle phase")->check(CLI::Range(1, 64));
  app.add_option("--rounds", rounds, "splits phases, each between two quiet ones")
      ->check(CLI::Range(1, 100));
  app.add_option("--dir", dir, "where the scratch index goes");
  app.add_flag("--json", json, "print JSON");
  CLI11_PARSE(app, argc, argv);

  TempDir scratch(dir, "split_bench");
  RemoveOnDie(scratch.path());
  Options o;
  o.data_dir = scratch.path() + "/data";
  o.store_dir = scratch.path() + "/store";
  o.durability = Durability::kSync;
  o.split_keys = 0;
  o.split_bytes = 0;
  o.merge_keys = 0;
  o.resize_check_interval = absl::ZeroDuration();
  for (size_t i = 1; i < cells; ++i) {
    // Keys are uniform 64-bit hex: the boundaries cut that space evenly.
    const uint64_t at = (~uint64_t{0} / cells) * i;
    o.cell_boundaries.push_back(EncodeKey({kBucket, absl::StrFormat("%016x", at)}));
  }
  std::unique_ptr<Index> index = OpenIndex(o);

  const Clock::time_point load_start = Clock::now();
  // A batch stays within one cell: one pending batch per cell.
  constexpr size_t kBatch = 500;
  std::map<CellId, WriteBatch> pending;
  auto flush = [&](WriteBatch& batch) {
    if (batch.ops().empty()) return;
    if (absl::StatusOr<std::vector<uint64_t>> s = index->Write(batch); !s.ok()) {
      Die("preload", s.status());
    }
    batch = WriteBatch();
  };
  for (uint64_t i = 0; i < records; ++i) {
    const ObjectKey key{kBucket, KeyOf(i)};
    WriteBatch& batch = pending[index->CellFor(key)];
    batch.Put(key, RecordOf(i));
    if (batch.ops().size() == kBatch) flush(batch);
  }
  for (auto& [cell, batch] : pending) flush(batch);
  absl::StatusOr<std::vector<CheckpointReport>> ckpt = index->Checkpoint();
  if (!ckpt.ok()) Die("checkpoint after the preload", ckpt.status());
  const double load_seconds = Since(load_start);

  std::atomic<uint64_t> next{records};
  // Even entries quiet, odd ones splitting.
  std::vector<Phase> phases;
  auto name = [&](const char* what, int k) {
    if (rounds == 1) return std::string(k == 0 ? "before" : what[0] == 's' ? "splits" : "after");
    return absl::StrFormat("%s %d", what, k);
  };
  phases.push_back(Run(*index, name("quiet", 0), writers, seconds, 0, &next));
  for (int k = 1; k <= rounds; ++k) {
    phases.push_back(Run(*index, name("splits", k), writers, seconds, splits, &next));
    phases.push_back(Run(*index, name("quiet", k), writers, seconds, 0, &next));
  }
  // Its own check: every acknowledged write is there, and nothing else
  // (each write put a new key; a refused one may or may not have).
  uint64_t acked = 0, refused = 0, held = 0;
  for (const Phase& p : phases) {
    acked += p.micros.size();
    refused += p.errors;
  }
  for (const CellStats& c : index->Stats().cells) held += c.keys;
  if (held < records + acked || held > records + acked + refused) {
    Die("check", absl::DataLossError(absl::StrFormat(
                     "the index holds %d records; %d were preloaded and %d acknowledged since",
                     held, records, acked)));
  }
  std::vector<double> ratios;
  for (size_t k = 1; k < phases.size(); k += 2) {
    const double baseline = (phases[k - 1].rate() + phases[k + 1].rate()) / 2;
    ratios.push_back(baseline > 0 ? phases[k].rate() / baseline : 0);
  }
  // The median (of an even count, the mean of the middle two).
  std::vector<double> sorted = ratios;
  std::sort(sorted.begin(), sorted.end());
  const size_t m = sorted.size() / 2;
  const double ratio = sorted.size() % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;

  Json out = {{"records", records},
              {"cells_before", cells},
              {"cells_after", index->cell_map().cells().size()},
              {"writers", writers},
              {"seconds_per_phase", seconds},
              {"rounds", rounds},
              {"preload_seconds", load_seconds},
              {"disk", DiskOf(scratch.path())}};
  Json phase_list = Json::array();
  for (const Phase& p : phases) {
    Json j = p.ToJson();
    j["name"] = p.name;
    phase_list.push_back(std::move(j));
  }
  out["phases"] = std::move(phase_list);
  out["throughput_ratios"] = ratios;
  out["throughput_ratio"] = ratio;
  if (json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%llu records in %zu cells (preloaded in %.1f s), %d writers, %.1f s a phase\n",
              static_cast<unsigned long long>(records), cells, load_seconds, writers, seconds);
  std::printf("%-10s %10s %9s %9s %9s %9s %7s\n", "phase", "writes/s", "p50 ms", "p99 ms",
              "p99.9 ms", "max ms", "errors");
  for (const Phase& p : phases) {
    std::printf("%-10s %10.0f %9.2f %9.2f %9.2f %9.2f %7llu\n", p.name.c_str(), p.rate(),
                Percentile(p.micros, 0.5) / 1000, Percentile(p.micros, 0.99) / 1000,
                Percentile(p.micros, 0.999) / 1000, Max(p.micros) / 1000,
                static_cast<unsigned long long>(p.errors));
  }
  std::vector<SplitReport> all_splits;
  for (const Phase& p : phases) all_splits.insert(all_splits.end(), p.splits.begin(), p.splits.end());
  for (const SplitReport& s : all_splits) {
    std::printf("split of cell %u (%llu records): writes held %.1f ms (making %.1f ms), whole "
                "split %.1f ms\n",
                s.parent, static_cast<unsigned long long>(s.left_records + s.right_records),
                absl::ToDoubleMilliseconds(s.held), absl::ToDoubleMilliseconds(s.making),
                absl::ToDoubleMilliseconds(s.total));
  }
  if (rounds == 1) {
    std::printf("throughput while splitting: %.2fx the mean of before and after (target >= 0.8x); "
                "%zu cells at the end\n",
                ratio, index->cell_map().cells().size());
  } else {
    std::string each;
    for (double r : ratios) each += absl::StrFormat(" %.2f", r);
    std::printf("throughput while splitting: median %.2fx the quiet phases on either side "
                "(target >= 0.8x; each:%s); %zu cells at the end\n",
                ratio, each.c_str(), index->cell_map().cells().size());
  }
  return 0;
}
