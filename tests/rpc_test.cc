// The index over gRPC: a real `cellindex serve` process on a loopback port,
// called through cellindex::Client. Every data call gives back what the
// index stored, with the index's error codes and messages; a server killed
// with SIGKILL and started again serves every acknowledged write, reads
// waiting for it; a write that cannot reach the server says its outcome
// is unknown; SIGTERM stops it cleanly; bad addresses are refused.
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "index/rpc/client.h"
#include "tests/process_util.h"
#include "tests/scratch_dir.h"

namespace cellindex {
namespace {

using ::testing::HasSubstr;

// A `cellindex serve` on 127.0.0.1, with its data under `dir`.
class Server {
 public:
  explicit Server(const testing::ScratchDir& dir) : dir_(dir) {}

  // Starts it on `port` (0: any) and waits (up to 60 s) for the line that
  // says where it listens. Empty address on failure.
  std::string Start(int port = 0) {
    log_ = absl::StrCat(dir_.path(), "/serve-", ++starts_, ".log");
    if (!process_.Start({CELLINDEX_CLI_PATH, "--data", dir_ / "data", "serve", "--listen",
                         absl::StrCat("127.0.0.1:", port)},
                        log_)) {
      return "";
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      const std::string out = testing::ReadWholeFile(log_);
      const size_t at = out.find("serving on ");
      const size_t end = out.find('\n', at);
      if (at != std::string::npos && end != std::string::npos) {
        address_ = out.substr(at + 11, end - at - 11);
        return address_;
      }
      int status = 0;
      if (process_.Exited(&status)) return "";
      absl::SleepFor(absl::Milliseconds(10));  // polling the log for the line
    }
    return "";
  }
  int port() const { return std::stoi(address_.substr(address_.rfind(':') + 1)); }
  const std::string& address() const { return address_; }
  std::string log() const { return testing::ReadWholeFile(log_); }
  testing::BackgroundProcess& process() { return process_; }

 private:
  const testing::ScratchDir& dir_;
  testing::BackgroundProcess process_;
  std::string log_, address_;
  int starts_ = 0;
};

ObjectRecord FullRecord(uint64_t size) {
  ObjectRecord r;
  r.size = size;
  r.etag = absl::StrCat("\"etag-", size, "\"");
  r.created = absl::FromUnixSeconds(1700000000) + absl::Microseconds(123);  // the index keeps microseconds
  r.modified = absl::FromUnixSeconds(1700000100);
  r.content_type = "text/plain";
  r.storage_class = "STANDARD_IA";
  r.user_metadata = {{"owner", "ops"}, {"colour", "blue"}};
  r.locations = {{"node-a", "vol-1", 0, size}, {"node-b", "vol-2", 4096, size}};
  return r;
}

std::unique_ptr<Client> ConnectOrFail(const std::string& address, ClientOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(address, options);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

TEST(RpcTest, EveryCallAnswersAsTheIndexDoes) {
  testing::ScratchDir dir;
  Server server(dir);
  const std::string address = server.Start();
  ASSERT_NE(address, "") << server.log();
  std::unique_ptr<Client> client = ConnectOrFail(address);
  ASSERT_NE(client, nullptr);

  // Put and Get: every field back, the version the index assigned.
  const ObjectRecord record = FullRecord(10);
  absl::StatusOr<uint64_t> v1 = client->Put({"photos", "cat.jpg"}, record);
  ASSERT_TRUE(v1.ok()) << v1.status();
  absl::StatusOr<ObjectRecord> got = client->Get({"photos", "cat.jpg"});
  ASSERT_TRUE(got.ok()) << got.status();
  ObjectRecord want = record;
  want.version = *v1;
  EXPECT_TRUE(*got == want);
  EXPECT_EQ(got->user_metadata.at("colour"), "blue");
  EXPECT_EQ(got->locations.size(), 2u);
  EXPECT_EQ(got->created, record.created);
  // Times left unset are filled in by the index, as in process.
  ObjectRecord untimed;
  untimed.size = 3;
  absl::StatusOr<uint64_t> v_dog = client->Put({"photos", "dog.jpg"}, untimed);
  ASSERT_TRUE(v_dog.ok()) << v_dog.status();
  got = client->Get({"photos", "dog.jpg"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_GT(got->modified, absl::FromUnixSeconds(1700000000));

  // Preconditions and their errors.
  Precondition absent;
  absent.if_none_match = true;
  absl::StatusOr<uint64_t> again = client->Put({"photos", "cat.jpg"}, record, absent);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  Precondition stale;
  stale.if_version_match = *v1 + 100;
  EXPECT_EQ(client->Delete({"photos", "cat.jpg"}, stale).code(),
            absl::StatusCode::kFailedPrecondition);
  Precondition current;
  current.if_version_match = *v1;
  absl::StatusOr<uint64_t> v2 = client->Put({"photos", "cat.jpg"}, FullRecord(11), current);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_GT(*v2, *v1);

  // Bad input: InvalidArgument with the index's reason; nothing changed.
  absl::StatusOr<uint64_t> bad = client->Put({"Bad_Bucket!", "k"}, record);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  // The index's own message, as it gave it (not the transport's).
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "invalid bucket name \"Bad_Bucket!\""))
      << bad.status();
  absl::StatusOr<uint64_t> bad_utf8 = client->Put({"photos", std::string("\xff\xfe", 2)}, record);
  EXPECT_EQ(bad_utf8.status().code(), absl::StatusCode::kInvalidArgument) << bad_utf8.status();
  EXPECT_EQ(client->Get({"Bad_Bucket!", "k"}).status().code(), absl::StatusCode::kInvalidArgument);

  // Write: a batch, its versions; Delete; NotFound after.
  WriteBatch batch;
  for (int i = 0; i < 5; ++i) batch.Put({"docs", absl::StrCat("a/", i)}, FullRecord(100 + i));
  batch.Put({"docs", "b/1"}, FullRecord(200));
  batch.Put({"docs", "b/2"}, FullRecord(201));
  absl::StatusOr<std::vector<uint64_t>> versions = client->Write(batch);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(versions->size(), 7u);
  // A batch with a delete in it, and a precondition that fails the whole
  // batch (nothing applied).
  WriteBatch mixed;
  mixed.Put({"docs", "c/1"}, FullRecord(300));
  mixed.Delete({"docs", "c/1"});
  mixed.Put({"docs", "c/2"}, FullRecord(301));
  ASSERT_TRUE(client->Write(mixed).ok());
  EXPECT_EQ(client->Get({"docs", "c/1"}).status().code(), absl::StatusCode::kNotFound);
  WriteBatch refused;
  refused.Put({"docs", "c/3"}, FullRecord(302));
  refused.Put({"docs", "c/2"}, FullRecord(303), absent);
  EXPECT_EQ(client->Write(refused).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client->Get({"docs", "c/3"}).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(client->Delete({"docs", "c/2"}).ok());
  ASSERT_TRUE(client->Delete({"photos", "dog.jpg"}).ok());
  EXPECT_EQ(client->Get({"photos", "dog.jpg"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client->Delete({"photos", "dog.jpg"}).code(), absl::StatusCode::kNotFound);

  // List: pages through continuation tokens, and common prefixes.
  std::vector<std::string> keys;
  ListOptions o;
  o.max_keys = 2;
  for (int page = 0; page < 10; ++page) {
    absl::StatusOr<ListResult> r = client->List("docs", o);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const ListedObject& c : r->contents) keys.push_back(c.key);
    if (!r->is_truncated) break;
    o.continuation_token = r->next_continuation_token;
  }
  EXPECT_THAT(keys, ::testing::ElementsAre("a/0", "a/1", "a/2", "a/3", "a/4", "b/1", "b/2"));
  // Each listed object's fields, as stored.
  ListOptions one;
  one.prefix = "b/2";
  absl::StatusOr<ListResult> listed = client->List("docs", one);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->contents.size(), 1u);
  EXPECT_EQ(listed->key_count, 1);
  const ListedObject& b2 = listed->contents[0];
  EXPECT_EQ(b2.size, 201u);
  EXPECT_EQ(b2.etag, "\"etag-201\"");
  EXPECT_EQ(b2.last_modified, FullRecord(201).modified);
  EXPECT_EQ(b2.storage_class, "STANDARD_IA");
  ListOptions d;
  d.delimiter = "/";
  absl::StatusOr<ListResult> prefixes = client->List("docs", d);
  ASSERT_TRUE(prefixes.ok()) << prefixes.status();
  EXPECT_THAT(prefixes->common_prefixes, ::testing::ElementsAre("a/", "b/"));
  ListOptions bad_token;
  bad_token.continuation_token = "not-a-token";
  EXPECT_EQ(client->List("docs", bad_token).status().code(), absl::StatusCode::kInvalidArgument);

  // Locate: the objects with bytes on a volume.
  LocateOptions lo;
  lo.volume = "vol-2";
  absl::StatusOr<LocateResult> located = client->Locate(lo);
  ASSERT_TRUE(located.ok()) << located.status();
  EXPECT_EQ(located->objects.size(), 8u);  // cat.jpg and the seven of the batch
  LocateOptions by_node;
  by_node.node = "node-a";
  by_node.max_objects = 3;
  std::vector<std::string> found;
  for (int page = 0; page < 10; ++page) {
    absl::StatusOr<LocateResult> r = client->Locate(by_node);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const LocatedObject& l : r->objects) {
      found.push_back(absl::StrCat(l.key.bucket, "/", l.key.key));
      EXPECT_EQ(l.extents.size(), 1u) << l.key.key;  // only the extent on node-a
      EXPECT_GT(l.version, 0u);
    }
    if (!r->is_truncated) break;
    by_node.continuation_token = r->next_continuation_token;
  }
  EXPECT_EQ(found.size(), 8u);

  // Admin: the cell map, and a checkpoint.
  absl::StatusOr<RemoteCellMap> map = client->CellMap();
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->cells.size(), 1u);
  EXPECT_TRUE(map->cells[0].hi_unbounded);
  absl::StatusOr<std::vector<CheckpointReport>> checkpoints = client->Checkpoint();
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
  ASSERT_EQ(checkpoints->size(), 1u);
  EXPECT_EQ((*checkpoints)[0].key_count, 8u);
  EXPECT_TRUE((*checkpoints)[0].taken);
  EXPECT_GT((*checkpoints)[0].files, 0u);
  EXPECT_GT((*checkpoints)[0].total_bytes, 0u);
  EXPECT_EQ(client->Checkpoint(99).status().code(), absl::StatusCode::kInvalidArgument);

  // SIGTERM: a clean stop, exit 0, saying so.
  const int status = server.process().Terminate();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << server.log();
  EXPECT_THAT(server.log(), HasSubstr("stopped (SIGTERM)"));
}

TEST(RpcTest, AfterSigkillTheRestartedServerHasEveryAcknowledgedWriteAndReadsWaitForIt) {
  testing::ScratchDir dir;
  Server server(dir);
  ASSERT_NE(server.Start(), "") << server.log();
  const int port = server.port();
  ClientOptions options;
  options.deadline = absl::Seconds(60);
  std::unique_ptr<Client> client = ConnectOrFail(absl::StrCat("127.0.0.1:", port), options);
  ASSERT_NE(client, nullptr);
  std::vector<uint64_t> versions;
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<uint64_t> v = client->Put({"bkt", absl::StrCat("k", i)}, FullRecord(i + 1));
    ASSERT_TRUE(v.ok()) << v.status();
    versions.push_back(*v);
  }
  server.process().Kill();

  // A read while it is down waits for it (within its deadline), and so
  // does a write, unsent until it connects. (From a client that has not
  // been connected: one whose connection the kill has just closed may
  // still send on it before it notices, and that write's outcome is
  // unknown.)
  absl::StatusOr<ObjectRecord> waited;
  absl::StatusOr<uint64_t> written;
  std::unique_ptr<Client> fresh = ConnectOrFail(absl::StrCat("127.0.0.1:", port), options);
  ASSERT_NE(fresh, nullptr);
  std::thread reader([&] { waited = client->Get({"bkt", "k7"}); });
  std::thread writer([&] { written = fresh->Put({"bkt", "late"}, FullRecord(77)); });
  const std::string restarted = server.Start(port);
  reader.join();
  writer.join();
  ASSERT_NE(restarted, "") << server.log();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->version, versions[7]);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(client->Get({"bkt", "late"})->version, *written);
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<ObjectRecord> r = client->Get({"bkt", absl::StrCat("k", i)});
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    ObjectRecord want = FullRecord(i + 1);
    want.version = versions[i];
    EXPECT_TRUE(*r == want) << i;
  }
}

// A write sent to a server that then stops answering (SIGSTOP) has an
// unknown outcome: not marked unapplied, so never sent again.
TEST(RpcTest, AWriteToAServerThatStopsAnsweringHasAnUnknownOutcome) {
  testing::ScratchDir dir;
  Server server(dir);
  ASSERT_NE(server.Start(), "") << server.log();
  ClientOptions options;
  options.deadline = absl::Milliseconds(800);
  std::unique_ptr<Client> client = ConnectOrFail(server.address(), options);
  ASSERT_NE(client, nullptr);
  // Connected (a synced write may outlast the short deadline on a busy
  // machine: asked again until one succeeds).
  bool connected = false;
  for (int i = 0; i < 20 && !connected; ++i) {
    connected = client->Put({"bkt", "first"}, FullRecord(1)).ok();
  }
  ASSERT_TRUE(connected);
  ASSERT_TRUE(server.process().Stop());
  absl::StatusOr<uint64_t> put = client->Put({"bkt", "second"}, FullRecord(2));
  server.process().Signal(SIGCONT);
  EXPECT_TRUE(absl::IsUnavailable(put.status())) << put.status();
  EXPECT_FALSE(WasNotApplied(put.status())) << put.status();
  EXPECT_THAT(std::string(put.status().message()), HasSubstr("may or may not have been applied"));
}

// With no server, a read fails at its deadline, and a write that never found
// a connection says that it was not sent (not applied: safe to send again).
TEST(RpcTest, CallsToNoServerFailAtTheirDeadlineAndWritesSayTheyWereNotSent) {
  const int port = testing::FreeLoopbackPort();
  ASSERT_NE(port, 0);
  ClientOptions options;
  options.deadline = absl::Milliseconds(500);
  std::unique_ptr<Client> client = ConnectOrFail(absl::StrCat("127.0.0.1:", port), options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<ObjectRecord> got = client->Get({"bkt", "k"});
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<uint64_t> put = client->Put({"bkt", "k"}, FullRecord(1));
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  EXPECT_TRUE(WasNotApplied(put.status())) << put.status();
  EXPECT_THAT(std::string(put.status().message()), HasSubstr("not sent"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(450));  // it waited for the server
  // A shorter wait for a connection gives up sooner, the same way.
  options.connect_deadline = absl::Milliseconds(50);
  std::unique_ptr<Client> quick = ConnectOrFail(absl::StrCat("127.0.0.1:", port), options);
  ASSERT_NE(quick, nullptr);
  absl::Status rm = quick->Delete({"bkt", "k"});
  EXPECT_TRUE(WasNotApplied(rm)) << rm;
  options.connect_deadline = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(
      Client::Connect(absl::StrCat("127.0.0.1:", port), options).status()));
}

TEST(RpcTest, BadAddressesAreRefused) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:+80", "127.0.0.1:8o", "a b:80", ":80"}) {
    absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect(bad);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  ClientOptions no_time;
  no_time.deadline = absl::ZeroDuration();
  EXPECT_EQ(Client::Connect("127.0.0.1:80", no_time).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The command: one line on stderr, exit 2 (invalid input).
  testing::ScratchDir dir;
  testing::ProcessResult r = testing::RunProcess(
      {CELLINDEX_CLI_PATH, "--data", dir / "data", "serve", "--listen", "127.0.0.1:99999"},
      dir.path());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("invalid --listen address \"127.0.0.1:99999\""));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace cellindex
