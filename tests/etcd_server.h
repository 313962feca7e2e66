// A real etcd (Debian's etcd-server) for a test: one member on loopback
// ports picked free, its data in the test's scratch directory, stopped when
// the object goes. Start waits, bounded, until the member answers.
#ifndef CELLINDEX_TESTS_ETCD_SERVER_H_
#define CELLINDEX_TESTS_ETCD_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "recovery/coord/etcd_client.h"
#include "tests/process_util.h"

namespace cellindex::testing {

class EtcdServer {
 public:
  // `dir` holds its data and log; the ports are picked once, so a restart
  // serves on the same endpoint.
  explicit EtcdServer(std::string dir)
      : dir_(std::move(dir)),
        client_port_(FreeLoopbackPort()),
        peer_port_(FreeLoopbackPort()) {}

  std::string endpoint() const { return absl::StrCat("127.0.0.1:", client_port_); }
  std::string log_path() const { return dir_ + "/etcd.log"; }

  // Starts it and waits until a read succeeds, up to `within`.
  absl::Status Start(absl::Duration within = absl::Seconds(20)) {
    const std::string client = absl::StrCat("http://127.0.0.1:", client_port_);
    const std::string peer = absl::StrCat("http://127.0.0.1:", peer_port_);
    if (client_port_ == 0 || peer_port_ == 0) return absl::UnavailableError("no free port");
    if (!process_.Start({"etcd", "--name", "test", "--data-dir", dir_ + "/etcd-data",
                         "--listen-client-urls", client, "--advertise-client-urls", client,
                         "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                         "--initial-cluster", "test=" + peer, "--log-level", "warn"},
                        log_path())) {
      return absl::UnavailableError("could not start etcd");
    }
    absl::StatusOr<std::unique_ptr<EtcdClient>> client_or =
        EtcdClient::Create({{endpoint()}, absl::Milliseconds(500)});
    if (!client_or.ok()) return client_or.status();
    const absl::Time deadline = absl::Now() + within;
    absl::Status last;
    while (absl::Now() < deadline) {
      last = (*client_or)->Get("/ready-probe").status();
      if (last.ok()) return absl::OkStatus();
      int status = 0;
      if (process_.Exited(&status)) {
        return absl::UnavailableError(absl::StrCat("etcd exited with status ", status, "; see ",
                                                   log_path()));
      }
      absl::SleepFor(absl::Milliseconds(50));  // the poll's pace; the deadline bounds it
    }
    process_.Kill();
    return absl::DeadlineExceededError(
        absl::StrCat("etcd did not answer within ", absl::FormatDuration(within), ": ",
                     last.message()));
  }
  // SIGTERM, waiting for it to exit; its data stays for a restart.
  void Stop() { process_.Terminate(); }
  void Kill() { process_.Kill(); }
  // SIGSTOP and SIGCONT: a member that stops answering, then carries on.
  void Freeze() { process_.Signal(SIGSTOP); }
  void Thaw() { process_.Signal(SIGCONT); }
  bool running() const { return process_.running(); }

 private:
  std::string dir_;
  int client_port_;
  int peer_port_;
  BackgroundProcess process_;
};

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_ETCD_SERVER_H_
