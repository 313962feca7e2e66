// Crash safety: a child process writes in sync durability and is killed with
// SIGKILL at a random moment; after reopening, every acknowledged write reads
// back exactly and no key holds a value that was never written.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "index/index.h"
#include "recovery/checkpoint.h"
#include "recovery/store/durable_store.h"
#include "index/base/file_util.h"
#include "tests/test_util.h"

namespace cellindex {
namespace {

constexpr int kThreads = 4;
constexpr int kKeys = 40;
constexpr int kRounds = 20;

// Runs crash_writer until `kill_after` past its first acknowledgement, kills
// it, and returns the last acknowledged op index per thread (-1: none).
std::vector<int64_t> RunAndKill(const std::string& data, const std::string& store,
                                const std::string& prefix, absl::Duration kill_after,
                                const char* mode = nullptr) {
  int fds[2];
  EXPECT_EQ(0, ::pipe(fds));
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(CRASH_WRITER_PATH, "crash_writer", data.c_str(), store.c_str(), prefix.c_str(),
            std::to_string(kThreads).c_str(), std::to_string(kKeys).c_str(), mode, nullptr);
    std::_Exit(127);
  }
  ::close(fds[1]);
  std::vector<int64_t> last(kThreads, -1);
  std::string pending;
  absl::Time deadline = absl::InfiniteFuture();
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  auto consume = [&](const char* buf, ssize_t n) {
    pending.append(buf, n);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::vector<std::string> parts = absl::StrSplit(pending.substr(0, nl), ' ');
      int t;
      int64_t i;
      if (parts.size() == 2 && absl::SimpleAtoi(parts[0], &t) && absl::SimpleAtoi(parts[1], &i) &&
          t >= 0 && t < kThreads) {
        last[t] = std::max(last[t], i);
      }
      pending.erase(0, nl + 1);
    }
    if (deadline == absl::InfiniteFuture()) deadline = absl::Now() + kill_after;
  };
  char buf[65536];
  bool exited = false;
  while (absl::Now() < deadline && absl::Now() < give_up) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 5) > 0) {
      ssize_t n = ::read(fds[0], buf, sizeof(buf));
      if (n <= 0) {
        exited = true;
        break;
      }
      consume(buf, n);
    }
  }
  EXPECT_FALSE(exited) << "crash_writer exited by itself";
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  // Everything it printed before dying was acknowledged.
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) consume(buf, n);
  ::close(fds[0]);
  return last;
}

struct State {
  bool present = false;
  uint64_t size = 0;
  std::string etag;
};

// The state of a key after op `i` of thread `t`.
State AfterOp(int t, int64_t i) {
  if ((i / kKeys) % 3 == 2) return {};
  return {true, static_cast<uint64_t>(i), absl::StrCat("t", t, "-i", i)};
}

std::string Describe(const State& s) {
  return s.present ? absl::StrCat("size ", s.size, " etag ", s.etag) : "absent";
}

// Checks every key of `prefix` against the acknowledged ops in `last`, and
// records what it read in `settled`; then checks every settled key of earlier
// rounds still reads the same.
void Verify(Index& index, const std::string& prefix, const std::vector<int64_t>& last,
            std::map<std::string, State>* settled) {
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = absl::StrCat(prefix, "t", t, "-", k);
      // Last acknowledged op on this key, and the one that may have been in
      // flight when the process died.
      int64_t acked = -1;
      for (int64_t i = last[t]; i >= 0; --i) {
        if (i % kKeys == k) {
          acked = i;
          break;
        }
      }
      std::vector<State> allowed = {acked >= 0 ? AfterOp(t, acked) : State{}};
      if ((last[t] + 1) % kKeys == k) allowed.push_back(AfterOp(t, last[t] + 1));

      absl::StatusOr<ObjectRecord> r = index.Get({"bucket", key});
      ASSERT_TRUE(r.ok() || absl::IsNotFound(r.status())) << key << ": " << r.status();
      State got;
      if (r.ok()) got = {true, r->size, r->etag};
      bool ok = false;
      for (const State& a : allowed) {
        ok |= a.present == got.present && a.size == got.size && a.etag == got.etag;
      }
      ASSERT_TRUE(ok) << "key " << key << " holds " << Describe(got)
                      << "; last acknowledged: " << Describe(allowed[0]);
      (*settled)[key] = got;
    }
  }
  for (const auto& [key, want] : *settled) {
    absl::StatusOr<ObjectRecord> r = index.Get({"bucket", key});
    ASSERT_EQ(r.ok(), want.present) << key;
    if (r.ok()) ASSERT_EQ(r->etag, want.etag) << key;
  }
}

TEST(CrashTest, AcknowledgedWritesSurviveSigkill) {
  testing::ScratchDir dir;
  const std::string data = dir / "data", store = dir / "store";
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed() + static_cast<unsigned>(::getpid()));
  // Keys verified in earlier rounds must stay as they were.
  std::map<std::string, State> settled;
  uint64_t total_acked = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string prefix = absl::StrCat("r", round, "-");
    const absl::Duration kill_after = absl::Milliseconds(20 + rng() % 400);
    std::vector<int64_t> last = RunAndKill(data, store, prefix, kill_after);

    Options o;
    o.data_dir = data;
    o.store_dir = store;
    auto index = Index::Open(o);
    ASSERT_TRUE(index.ok()) << "round " << round << ": " << index.status();
    for (int t = 0; t < kThreads; ++t) total_acked += last[t] + 1;
    Verify(**index, prefix, last, &settled);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(total_acked, static_cast<uint64_t>(kRounds));  // the writer really wrote
}

}  // namespace
}  // namespace cellindex

namespace cellindex {
namespace {

// SIGKILL at random moments while checkpoints run all the time: every
// checkpoint the store lists stays valid (manifest and files), and no
// acknowledged write is lost, whether the cells restart from local state or
// are restored from the store.
TEST(CrashTest, CheckpointsSurviveSigkill) {
  testing::ScratchDir dir;
  const std::string data = dir / "data", store_dir = dir / "store";
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed() + static_cast<unsigned>(::getpid()));
  std::map<std::string, State> settled;
  uint64_t manifests_checked = 0;
  constexpr int kCheckpointRounds = 10;
  for (int round = 0; round < kCheckpointRounds; ++round) {
    const std::string prefix = absl::StrCat("c", round, "-");
    std::vector<int64_t> last = RunAndKill(data, store_dir, prefix,
                                           absl::Milliseconds(50 + rng() % 400), "checkpoints");
    auto store = NewLocalDirStore(&DefaultFs(), store_dir);
    for (CellId cell = 0; cell < 3; ++cell) {
      absl::StatusOr<std::vector<uint64_t>> seqs = ListCheckpoints(*store, cell);
      ASSERT_TRUE(seqs.ok());
      for (uint64_t seq : *seqs) {
        absl::StatusOr<CheckpointManifest> m = LoadCheckpoint(*store, "", cell, seq);
        ASSERT_TRUE(m.ok()) << "round " << round << ": " << m.status();
        for (const CheckpointFile& f : m->files) {
          absl::StatusOr<FileDigest> d = DigestFile(store_dir + "/" + f.store_name);
          ASSERT_TRUE(d.ok()) << f.store_name << ": " << d.status();
          ASSERT_EQ(*d, f.digest) << f.store_name;
        }
        ++manifests_checked;
      }
    }
    // Every other round the host "loses" its disk: restore from the store.
    if (round % 2 == 1) ASSERT_TRUE(RemoveAll(data).ok());
    Options o;
    o.data_dir = data;
    o.store_dir = store_dir;
    o.background_checkpoints = false;
    o.validate_after_recovery = false;
    o.paranoid = true;  // and deep-check what comes back
    auto index = Index::Open(o);
    ASSERT_TRUE(index.ok()) << "round " << round << ": " << index.status();
    for (const CellStats& c : (*index)->Stats().cells) {
      ASSERT_EQ(c.state, CellPhase::kServing) << "round " << round << " cell " << c.id << ": " << c.error;
    }
    Verify(**index, prefix, last, &settled);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(manifests_checked, 0u);  // checkpoints really were taken
}

}  // namespace
}  // namespace cellindex
