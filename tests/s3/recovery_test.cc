// Recovery seen from S3 clients: while the index restores the cells of a lost
// host inside the server, requests to the other cells succeed, requests to a
// recovering cell get 503 SlowDown with Retry-After, and a real client
// (boto3) retries until the cell is back and then reads its bytes.
//
// The recovery is held at its start by the index's test hook
// (InternalOptions::recovery_hook), so the window is a state, not a race.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "index/internal_options.h"
#include "tools/s3/auth.h"
#include "tools/s3/config.h"
#include "tools/s3/handlers.h"
#include "tools/s3/server.h"
#include "tools/s3/volumes.h"

namespace cellindex::s3 {
namespace {

constexpr char kKey[] = "AKIARECOVERYTEST0001";
constexpr char kSecret[] = "recovery-test-secret";

// Holds every cell's recovery at its start while `held`.
class RecoveryGate {
 public:
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  void OnEvent(RecoveryEvent event) {
    if (event != RecoveryEvent::kStart) return;
    absl::MutexLock lock(&mu_);
    ++waiting_;
    mu_.Await(absl::Condition(+[](bool* held) { return !*held; }, &held_));
    --waiting_;
  }
  int waiting() {
    absl::MutexLock lock(&mu_);
    return waiting_;
  }

 private:
  absl::Mutex mu_;
  bool held_ = false;
  int waiting_ = 0;
};

S3Request Request(const std::string& method, const std::string& path, std::string body = "") {
  S3Request r;
  r.method = method;
  r.raw_path = path;
  r.body = std::move(body);
  EXPECT_FALSE(ParseTarget(&r).has_value());
  return r;
}

std::string Header(const S3Response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

// Polls `condition` until it holds or 60 s pass.
template <typename Fn>
bool WaitFor(Fn condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

class S3RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cellindex-s3-recovery-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_.data_dir = dir_ + "/index";
    config_.store_dir = dir_ + "/store";
    config_.cells = 4;
    config_.hosts = 2;
    config_.volumes = {{"vol-0", dir_ + "/vol-0"}};
    InternalOptions internal;
    internal.recovery_hook = [this](uint32_t, RecoveryEvent e) { gate_.OnEvent(e); };
    absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(IndexOptions(config_), internal);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
    absl::StatusOr<std::unique_ptr<Volumes>> volumes =
        Volumes::Open(config_.node, config_.volumes, 1);
    ASSERT_TRUE(volumes.ok()) << volumes.status();
    volumes_ = *std::move(volumes);
    service_ = std::make_unique<S3Service>(index_.get(), volumes_.get(), "us-east-1");
  }

  void TearDown() override {
    gate_.Release();
    service_.reset();
    index_.reset();
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  // The host serving `bucket`'s keys.
  std::string HostOf(const std::string& bucket) {
    const CellId cell = index_->CellFor({bucket, "k"});
    const CellMap map = index_->cell_map();
    for (const CellRange& r : map.cells()) {
      if (r.id == cell) return r.host;
    }
    return "";
  }

  std::string dir_;
  Config config_;
  RecoveryGate gate_;
  std::unique_ptr<Index> index_;
  std::unique_ptr<Volumes> volumes_;
  std::unique_ptr<S3Service> service_;
};

TEST_F(S3RecoveryTest, RecoveringCellsAnswerSlowDownOthersServeAndClientsRetry) {
  // Buckets starting with '1' and 'z' lie in the first and last of 4 cells,
  // placed round-robin on the two hosts.
  const std::string lost = "1-lost-bucket", kept = "z-kept-bucket";
  const std::string lost_host = HostOf(lost);
  ASSERT_NE(lost_host, HostOf(kept));
  for (const std::string& b : {lost, kept}) {
    S3Request create = Request("PUT", "/" + b);
    ASSERT_EQ(service_->Handle(create).status, 200);
    S3Request put = Request("PUT", "/" + b + "/object", "bytes of " + b);
    ASSERT_EQ(service_->Handle(put).status, 200);
  }
  ASSERT_TRUE(index_->Checkpoint().ok());

  Authenticator auth({{kKey, kSecret}}, "us-east-1");
  ServeOptions options;
  options.threads = 4;
  HttpFrontEnd front_end(service_.get(), &auth, options);
  absl::StatusOr<int> port = front_end.Bind();
  ASSERT_TRUE(port.ok()) << port.status();
  std::thread serving([&] { front_end.Run(); });
  // Stops and joins the server however the test ends.
  struct StopGuard {
    HttpFrontEnd* f;
    std::thread* t;
    RecoveryGate* g;
    ~StopGuard() {
      g->Release();
      f->Stop();
      t->join();
    }
  } guard{&front_end, &serving, &gate_};
  ASSERT_TRUE(WaitFor([&] { return front_end.running(); }));

  gate_.Hold();
  absl::StatusOr<std::vector<CellId>> moved = index_->LoseHost(lost_host);
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_FALSE(moved->empty());
  ASSERT_TRUE(WaitFor([&] { return gate_.waiting() > 0; }));

  // The recovering cell: every kind of request is 503 SlowDown, Retry-After.
  for (S3Request r : {Request("GET", "/" + lost + "/object"), Request("HEAD", "/" + lost + "/object"),
                      Request("PUT", "/" + lost + "/new", "new"), Request("GET", "/" + lost),
                      Request("DELETE", "/" + lost + "/object")}) {
    if (r.key.empty()) r.query.emplace_back("list-type", "2");
    S3Response out = service_->Handle(r);
    EXPECT_EQ(out.status, 503) << r.method << " " << r.raw_path;
    EXPECT_EQ(Header(out, "Retry-After"), "1");
    if (r.method != "HEAD") EXPECT_NE(out.body.find("<Code>SlowDown</Code>"), std::string::npos);
  }
  // The other cells serve reads and writes.
  S3Request get_kept = Request("GET", "/" + kept + "/object");
  S3Response kept_out = service_->Handle(get_kept);
  EXPECT_EQ(kept_out.status, 200);
  EXPECT_EQ(kept_out.body, "bytes of " + kept);
  S3Request put_kept = Request("PUT", "/" + kept + "/during", "written during recovery");
  EXPECT_EQ(service_->Handle(put_kept).status, 200);

  // boto3 through HTTP: it gets 503s, retries, and reads the object once the
  // cell is back (released only after the server has answered it a 503).
  const std::string script = dir_ + "/client.py";
  std::ofstream(script) << "import boto3, sys\n"
                           "from botocore.config import Config\n"
                           "s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:"
                        << *port << "', region_name='us-east-1', aws_access_key_id='" << kKey
                        << "', aws_secret_access_key='" << kSecret
                        << "', config=Config(s3={'addressing_style': 'path'}, "
                           "retries={'total_max_attempts': 30, 'mode': 'standard'}))\n"
                           "r = s3.get_object(Bucket='"
                        << lost
                        << "', Key='object')\n"
                           "sys.stdout.write(r['Body'].read().decode())\n"
                           "sys.stdout.write(' attempts=%d' % "
                           "r['ResponseMetadata']['RetryAttempts'])\n";
  const uint64_t slowdowns_before = front_end.responses()[503];
  FILE* client = popen(absl::StrCat("timeout 60 /usr/bin/python3 ", script).c_str(), "r");
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(WaitFor([&] { return front_end.responses()[503] > slowdowns_before; }));
  gate_.Release();
  std::string output;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, client)) output.append(buf, n);
  const int status = pclose(client);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output.substr(0, output.find(' ')), "bytes");
  EXPECT_NE(output.find("bytes of " + lost), std::string::npos) << output;
  EXPECT_EQ(output.find("attempts=0"), std::string::npos) << output;

  index_->WaitForRecovery();
  S3Request get_lost = Request("GET", "/" + lost + "/object");
  EXPECT_EQ(service_->Handle(get_lost).body, "bytes of " + lost);
  S3Request get_during = Request("GET", "/" + kept + "/during");
  EXPECT_EQ(service_->Handle(get_during).body, "written during recovery");
}

}  // namespace
}  // namespace cellindex::s3
