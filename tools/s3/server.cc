#include "tools/s3/server.h"

#include <pthread.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "index/base/file_util.h"

namespace cellindex::s3 {
namespace {

// Waits for SIGTERM or SIGINT (blocked in every thread by BlockStopSignals)
// and stops the server; woken with SIGUSR1 when the server stopped first.
void StopOnSignal(HttpFrontEnd* server) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  int sig = 0;
  sigwait(&set, &sig);
  server->Stop();
}

S3Request FromHttp(const httplib::Request& req) {
  S3Request r;
  r.method = req.method;
  const size_t q = req.target.find('?');
  r.raw_path = req.target.substr(0, q);
  if (q != std::string::npos) r.raw_query = req.target.substr(q + 1);
  for (const auto& [name, value] : req.headers) {
    // httplib adds these for its own bookkeeping; clients do not sign them.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
        name == "LOCAL_PORT") {
      continue;
    }
    r.headers.emplace(absl::AsciiStrToLower(name), value);
  }
  r.body = req.body;
  return r;
}

void ToHttp(const S3Response& out, bool head, httplib::Response* res) {
  res->status = out.status;
  for (const auto& [name, value] : out.headers) res->set_header(name, value);
  if (!head && (!out.body.empty() || out.status == 200 || out.status == 206)) {
    res->set_content(out.body, out.content_type);
  } else if (head && !out.content_type.empty()) {
    res->set_header("Content-Type", out.content_type);
  }
}

}  // namespace

HttpFrontEnd::HttpFrontEnd(S3Service* service, const Authenticator* auth, ServeOptions options)
    : service_(service), auth_(auth), options_(std::move(options)),
      server_(std::make_unique<httplib::Server>()) {
  httplib::Server& server = *server_;
  server.set_payload_max_length(options_.max_object_bytes + (1 << 20));
  const int threads = options_.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_keep_alive_max_count(1000);
  server.set_tcp_nodelay(true);  // small responses must not wait for delayed ACKs
  // An idle connection holds a worker; a stop waits for it this long.
  server.set_keep_alive_timeout(1);

  auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    S3Request r = FromHttp(req);
    // The library would answer Range from the body it is given, and gzip a
    // text body for a client that accepts it; S3 serves ranges itself (with
    // its codes) and sends object bytes as stored. So the library's copy of
    // both is cleared (after FromHttp: the headers may be signed).
    auto& mutable_req = const_cast<httplib::Request&>(req);
    mutable_req.ranges.clear();
    mutable_req.headers.erase("Accept-Encoding");
    const bool head = r.method == "HEAD";
    S3Response out;
    if (std::optional<S3Error> e = ParseTarget(&r)) {
      out = ErrorResponse(*e, r.raw_path);
    } else if (std::optional<S3Error> e = auth_->Verify(&r, absl::Now())) {
      out = ErrorResponse(*e, r.raw_path);
    } else {
      out = service_->Handle(r);
    }
    out.headers.emplace_back("x-amz-request-id", absl::StrCat(absl::ToUnixNanos(absl::Now())));
    ToHttp(out, head, &res);
    absl::MutexLock lock(&mu_);
    ++responses_[out.status];
  };
  server.Get(".*", handle);
  server.Put(".*", handle);
  server.Post(".*", handle);
  server.Delete(".*", handle);
  server.Options(".*", handle);
}

HttpFrontEnd::~HttpFrontEnd() = default;

absl::StatusOr<int> HttpFrontEnd::Bind() {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", options_.host, ":", options_.port));
  }
  return port;
}

void HttpFrontEnd::Run() { server_->listen_after_bind(); }

void HttpFrontEnd::Stop() { server_->stop(); }

bool HttpFrontEnd::running() const { return server_->is_running(); }

std::map<int, uint64_t> HttpFrontEnd::responses() const {
  absl::MutexLock lock(&mu_);
  return responses_;
}

absl::Status Serve(S3Service* service, const Authenticator* auth, const ServeOptions& options) {
  HttpFrontEnd front_end(service, auth, options);
  absl::StatusOr<int> port = front_end.Bind();
  if (!port.ok()) return port.status();
  if (!options.port_file.empty()) {
    if (absl::Status s = AtomicWriteFile(*rocksdb::FileSystem::Default(), options.port_file,
                                         absl::StrCat(*port, "\n"));
        !s.ok()) {
      return s;
    }
  }
  std::cerr << "cellindex-s3: listening on " << options.host << ":" << *port << "\n";
  std::thread stopper(StopOnSignal, &front_end);
  front_end.Run();
  pthread_kill(stopper.native_handle(), SIGUSR1);
  stopper.join();
  std::cerr << "cellindex-s3: stopped; responses by status:";
  for (const auto& [status, n] : front_end.responses()) std::cerr << " " << status << "=" << n;
  std::cerr << "\n";
  return absl::OkStatus();
}

void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace cellindex::s3
