#include "tools/demo.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "index/index.h"
#include "nlohmann/json.hpp"
#include "index/base/file_util.h"
#include "rocksdb/file_system.h"
#include "tools/exit_codes.h"
#include "tools/progress.h"

namespace cellindex::tools {
namespace {

constexpr char kBucket[] = "demo-bucket";

ObjectKey DemoKey(int writer, uint64_t i) {
  return {kBucket, absl::StrFormat("tenant-%02d/objects/%010u.bin", writer, i)};
}

ObjectRecord DemoRecord(int writer, uint64_t i) {
  ObjectRecord r;
  r.size = i * 131 + writer;
  r.etag = absl::StrFormat("\"%016x\"", (i << 8) | writer);
  r.content_type = "application/octet-stream";
  r.storage_class = "STANDARD";
  r.user_metadata = {{"writer", absl::StrCat(writer)}};
  r.locations = {{absl::StrCat("node-", i % 6), absl::StrCat("vol-", (i + writer) % 24), i * 4096,
                  r.size + 1}};
  return r;
}

Options DemoIndexOptions(const DemoOptions& d) {
  Options o;
  o.data_dir = d.data_dir;
  o.store_dir = d.store_dir;
  o.durability = Durability::kSync;
  o.block_cache_bytes = 64 << 20;
  o.cell_write_buffer_bytes = 1 << 20;  // flush during the run: replay starts mid-journal
  if (d.cells > 1) {
    for (int w = 0; w < d.writers; ++w) o.boundary_sample.push_back(DemoKey(w, 0));
    o.num_cells = d.cells;
  }
  return o;
}

// The child: write until killed, printing "writer i" per acknowledged put.
[[noreturn]] void WriteUntilKilled(const DemoOptions& d, int out_fd) {
  auto index = Index::Open(DemoIndexOptions(d));
  if (!index.ok()) {
    std::fprintf(stderr, "cellindex demo: open: %s\n", index.status().ToString().c_str());
    std::_Exit(kExitOther);
  }
  std::vector<std::thread> pool;
  for (int w = 0; w < d.writers; ++w) {
    pool.emplace_back([&, w] {
      for (uint64_t i = 0;; ++i) {
        absl::Status s = (*index)->Put(DemoKey(w, i), DemoRecord(w, i)).status();
        if (!s.ok()) {
          std::fprintf(stderr, "cellindex demo: put: %s\n", s.ToString().c_str());
          std::_Exit(kExitOther);
        }
        const std::string line = absl::StrCat(w, " ", i, "\n");
        if (::write(out_fd, line.data(), line.size()) < 0) std::_Exit(kExitOther);
      }
    });
  }
  for (auto& t : pool) t.join();
  std::_Exit(kExitOk);
}

}  // namespace

int RunDemo(const DemoOptions& d) {
  if (absl::Status s = RemoveAll(*rocksdb::FileSystem::Default(), d.data_dir); !s.ok()) {
    std::cerr << "cellindex demo: " << s.message() << "\n";
    return kExitOther;
  }

  // Phase 1: a child writes and is killed.
  int fds[2];
  if (::pipe(fds) != 0) return kExitOther;
  const absl::Time write_start = absl::Now();
  pid_t pid = ::fork();
  if (pid < 0) return kExitOther;
  if (pid == 0) {
    ::close(fds[0]);
    WriteUntilKilled(d, fds[1]);
  }
  ::close(fds[1]);
  std::vector<int64_t> last(d.writers, -1);
  uint64_t acked = 0;
  std::string pending;
  auto consume = [&](const char* buf, ssize_t n) {
    pending.append(buf, n);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::pair<std::string, std::string> p = absl::StrSplit(pending.substr(0, nl), ' ');
      int w;
      int64_t i;
      if (absl::SimpleAtoi(p.first, &w) && absl::SimpleAtoi(p.second, &i) && w >= 0 &&
          w < d.writers) {
        last[w] = std::max(last[w], i);
        ++acked;
      }
      pending.erase(0, nl + 1);
    }
  };
  {
    Progress progress("writing (sync), then SIGKILL:", 0);
    char buf[65536];
    while (absl::Now() - write_start < d.write_for) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        ssize_t n = ::read(fds[0], buf, sizeof(buf));
        if (n <= 0) break;  // the child died on its own
        consume(buf, n);
      }
      progress.Update(acked);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) consume(buf, n);
    ::close(fds[0]);
  }
  const absl::Duration write_time = absl::Now() - write_start;

  // Phase 2: reopen. Every cell replays its journal above its applied_seq.
  const absl::Time reopen_start = absl::Now();
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(DemoIndexOptions(d));
  const absl::Duration reopen_time = absl::Now() - reopen_start;
  if (!index.ok()) {
    std::cerr << "cellindex demo: reopen failed: " << index.status().message() << "\n";
    return ExitCodeFor(index.status());
  }

  // Phase 3: read back every acknowledged write.
  const absl::Time verify_start = absl::Now();
  uint64_t checked = 0, lost = 0;
  {
    Progress progress("reading back:", acked);
    for (int w = 0; w < d.writers; ++w) {
      for (int64_t i = 0; i <= last[w]; ++i) {
        absl::StatusOr<ObjectRecord> r = (*index)->Get(DemoKey(w, i));
        ObjectRecord want = DemoRecord(w, i);
        if (!r.ok() || r->size != want.size || r->etag != want.etag ||
            r->locations != want.locations || r->user_metadata != want.user_metadata) {
          ++lost;
          if (lost <= 5) {
            std::cerr << "cellindex demo: lost " << DemoKey(w, i).key << ": "
                      << (r.ok() ? "wrong record" : r.status().ToString()) << "\n";
          }
        }
        progress.Update(++checked);
      }
    }
  }
  const absl::Duration verify_time = absl::Now() - verify_start;

  IndexStats stats = (*index)->Stats();
  uint64_t replayed = 0;
  absl::Duration max_open, max_replay;
  for (const CellStats& c : stats.cells) {
    replayed += c.records_replayed;
    max_open = std::max(max_open, c.open_time);
    max_replay = std::max(max_replay, c.replay_time);
  }

  if (d.json) {
    nlohmann::json j;
    j["cells"] = stats.cells.size();
    j["writers"] = d.writers;
    j["acknowledged_writes"] = acked;
    j["checked"] = checked;
    j["lost"] = lost;
    j["phases"] = {{"write_seconds", absl::ToDoubleSeconds(write_time)},
                   {"reopen_seconds", absl::ToDoubleSeconds(reopen_time)},
                   {"verify_seconds", absl::ToDoubleSeconds(verify_time)}};
    j["journal_records_replayed"] = replayed;
    for (const CellStats& c : stats.cells) {
      j["per_cell"].push_back({{"id", c.id},
                               {"range", c.range},
                               {"keys", c.keys},
                               {"applied_seq", c.applied_seq},
                               {"open_seconds", absl::ToDoubleSeconds(c.open_time)},
                               {"replay_seconds", absl::ToDoubleSeconds(c.replay_time)},
                               {"records_replayed", c.records_replayed},
                               {"journal_tail_cut_bytes", c.journal_tail_cut_bytes}});
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "cellindex demo: write in sync durability, SIGKILL, reopen, read back\n"
              << "  index: " << d.data_dir << " (" << stats.cells.size() << " cells, "
              << d.writers << " writers)\n\n"
              << absl::StrFormat("  %-22s %10s  %s\n", "phase", "time", "")
              << absl::StrFormat("  %-22s %10s  %u writes acknowledged before the kill\n",
                                 "write, then SIGKILL", HumanDuration(write_time), acked)
              << absl::StrFormat("  %-22s %10s  %u journal records replayed (slowest cell: "
                                 "open %s, replay %s)\n",
                                 "reopen", HumanDuration(reopen_time), replayed,
                                 HumanDuration(max_open), HumanDuration(max_replay))
              << absl::StrFormat("  %-22s %10s  %u/%u read back exactly\n", "verify",
                                 HumanDuration(verify_time), checked - lost, checked)
              << "\n"
              << absl::StrFormat("  %4s  %-10s %8s %10s %10s %10s\n", "cell", "state", "keys",
                                 "open", "replay", "replayed");
    for (const CellStats& c : stats.cells) {
      std::cout << absl::StrFormat("  %4u  %-10s %8u %10s %10s %10u\n", c.id, CellPhaseName(c.state), c.keys,
                                   HumanDuration(c.open_time), HumanDuration(c.replay_time),
                                   c.records_replayed);
    }
    std::cout << "\n  acknowledged writes lost: " << lost << "\n";
  }
  return lost == 0 ? kExitOk : kExitDataLoss;
}

}  // namespace cellindex::tools
