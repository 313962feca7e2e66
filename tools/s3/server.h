// The HTTP side: cpp-httplib on a loopback or public address, every request
// authenticated, then handed to S3Service.
#ifndef CELLINDEX_TOOLS_S3_SERVER_H_
#define CELLINDEX_TOOLS_S3_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tools/s3/auth.h"
#include "tools/s3/handlers.h"

namespace httplib {
class Server;
}

namespace cellindex::s3 {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  // Written (atomically) with the port once listening, for scripts.
  std::string port_file;
  uint64_t max_object_bytes = 64ull << 20;
  // Requests in flight at once (the HTTP library's thread pool).
  int threads = 16;
};

class HttpFrontEnd {
 public:
  HttpFrontEnd(S3Service* service, const Authenticator* auth, ServeOptions options);
  ~HttpFrontEnd();

  // Binds the address; returns the port. FailedPrecondition when it cannot.
  absl::StatusOr<int> Bind();
  // Serves until Stop (from another thread).
  void Run();
  void Stop();
  // Whether Run is accepting connections.
  bool running() const;
  // Responses sent so far, by HTTP status.
  std::map<int, uint64_t> responses() const;

 private:
  S3Service* service_;
  const Authenticator* auth_;
  ServeOptions options_;
  std::unique_ptr<httplib::Server> server_;
  mutable absl::Mutex mu_;
  std::map<int, uint64_t> responses_ ABSL_GUARDED_BY(mu_);
};

// Blocks SIGTERM and SIGINT in the calling thread and the threads it starts
// later: call first in main, before the index starts its threads, so Serve
// receives them.
void BlockStopSignals();

// Binds, writes the port file, serves until SIGTERM or SIGINT, and prints
// the responses sent by status on stderr. Errors when the address cannot be
// bound.
absl::Status Serve(S3Service* service, const Authenticator* auth, const ServeOptions& options);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_SERVER_H_
