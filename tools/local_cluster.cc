#include "tools/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cellindex::tools {
namespace {

// Bounds on the waits, so that a start that cannot finish says so.
constexpr absl::Duration kEtcdStart = absl::Seconds(30);
constexpr absl::Duration kElection = absl::Seconds(300);
constexpr absl::Duration kStop = absl::Seconds(20);

}  // namespace

absl::Status Child::Start(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) ::_exit(127);  // not onto the starter's own output
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
  return absl::OkStatus();
}

bool Child::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = 0;
    status_ = status;
    return false;
  }
  return true;
}

void Child::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status_, 0);
  pid_ = 0;
}

void Child::Terminate() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

int Child::Stop() {
  if (pid_ <= 0) return status_;
  ::kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + kStop;
  while (absl::Now() < deadline) {
    if (!Running()) return status_;
    absl::SleepFor(absl::Milliseconds(10));
  }
  Kill();
  return -1;
}

absl::StatusOr<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  if (port < 0) return absl::InternalError("no free loopback port");
  return port;
}

absl::Status WaitFor(absl::string_view what, absl::Duration within,
                     const std::function<bool()>& ready, const std::function<bool()>& alive) {
  const absl::Time deadline = absl::Now() + within;
  while (!ready()) {
    if (!alive()) return absl::UnavailableError(absl::StrCat(what, ": a process it needs exited"));
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, " did not happen within ", absl::FormatDuration(within)));
    }
    absl::SleepFor(kClusterPoll);
  }
  return absl::OkStatus();
}

std::string SelfPath() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("cellindex");
}

LocalCluster::LocalCluster(LocalClusterOptions options) : o_(std::move(options)) {}

absl::Status LocalCluster::StartEtcd() {
  absl::StatusOr<int> client = FreePort(), peer = FreePort();
  for (int tries = 0; client.ok() && peer.ok() && *client == *peer && tries < 10; ++tries) {
    peer = FreePort();
  }
  if (!client.ok()) return client.status();
  if (!peer.ok()) return peer.status();
  endpoint_ = absl::StrCat("127.0.0.1:", *client);
  const std::string peer_url = absl::StrCat("http://127.0.0.1:", *peer);
  etcd_ = std::make_unique<Child>();
  if (absl::Status s = etcd_->Start(
          {o_.etcd_binary, "--name", "local", "--data-dir", o_.dir + "/etcd",
           "--listen-client-urls", "http://" + endpoint_, "--advertise-client-urls",
           "http://" + endpoint_, "--listen-peer-urls", peer_url,
           "--initial-advertise-peer-urls", peer_url, "--initial-cluster",
           "local=" + peer_url, "--log-level", "error"},
          o_.dir + "/etcd.log");
      !s.ok()) {
    return s;
  }
  EtcdClient::Options eo;
  eo.endpoints = {endpoint_};
  eo.timeout = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<EtcdClient>> c = EtcdClient::Create(eo);
  if (!c.ok()) return c.status();
  etcd_client_ = *std::move(c);
  absl::Status up = WaitFor(
      "etcd's start", kEtcdStart, [&] { return etcd_client_->Get("/cellindex-local").ok(); },
      [&] { return etcd_->Running(); });
  if (!up.ok()) {
    return absl::UnavailableError(absl::StrCat(up.message(), " (", o_.etcd_binary, "; see ",
                                               o_.dir, "/etcd.log)"));
  }
  absl::StatusOr<ClusterCoord> coord = ClusterCoord::Create(*etcd_client_, "default");
  if (!coord.ok()) return coord.status();
  coord_.emplace(*std::move(coord));
  return absl::OkStatus();
}

bool LocalCluster::AllRunning() {
  if (etcd_ == nullptr || !etcd_->Running()) return false;
  for (size_t h = 0; h < hosts_.size(); ++h) {
    if (!killed_[h] && !hosts_[h]->Running()) return false;
  }
  return true;
}

absl::Status LocalCluster::StartHosts() {
  const std::string self = o_.cellindex.empty() ? SelfPath() : o_.cellindex;
  for (int h = 0; h < o_.hosts; ++h) {
    const std::string name = absl::StrCat("h", h);
    auto child = std::make_unique<Child>();
    if (absl::Status s = child->Start(
            {self, "--data", absl::StrCat(o_.dir, "/", name), "--store", o_.store, "--json",
             "host", "--name", name, "--etcd", endpoint_, "--listen", "127.0.0.1:0",
             "--lease-ttl", absl::StrCat(absl::ToInt64Seconds(o_.lease_ttl))},
            absl::StrCat(o_.dir, "/", name, ".log"));
        !s.ok()) {
      return s;
    }
    hosts_.push_back(std::move(child));
    killed_.push_back(false);
    if (h == 0) {
      // The first host is the controller: the others join it.
      absl::Status s = WaitFor(
          "the first host's election", kElection,
          [&] {
            absl::StatusOr<std::string> c = coord_->Controller();
            return c.ok() && *c == name;
          },
          [&] { return AllRunning(); });
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

bool LocalCluster::Balanced(int cells) {
  absl::StatusOr<std::map<uint32_t, CellOwner>> owners = coord_->Owners();
  absl::StatusOr<std::map<std::string, std::string>> live = coord_->Hosts();
  if (!owners.ok() || !live.ok()) return false;
  if (owners->size() != static_cast<size_t>(cells) ||
      live->size() != static_cast<size_t>(o_.hosts)) {
    return false;
  }
  std::map<std::string, int> per_host;
  for (const auto& [host, address] : *live) per_host[host] = 0;
  for (const auto& [cell, owner] : *owners) ++per_host[owner.host];
  int lo = INT_MAX, hi = 0;
  for (const auto& [host, n] : per_host) {
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  // The controller moves a cell while two hosts differ by two.
  return hi - lo <= 1;
}

void LocalCluster::KillHost(int i) {
  hosts_[i]->Kill();
  killed_[i] = true;
}

int LocalCluster::StopHosts() {
  for (auto& h : hosts_) h->Terminate();
  int unclean = 0;
  for (size_t h = 0; h < hosts_.size(); ++h) {
    if (!killed_[h] && hosts_[h]->Stop() != 0) ++unclean;
  }
  return unclean;
}

}  // namespace cellindex::tools
