// The HTTP side: cpp-httplib on a loopback or public address, every request
// authenticated, then handed to S3Service.
#ifndef CELLINDEX_TOOLS_S3_SERVER_H_
#define CELLINDEX_TOOLS_S3_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "tools/s3/auth.h"
#include "tools/s3/handlers.h"

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

// Blocks SIGTERM and SIGINT in the calling thread and the threads it starts
// later: call first in main, before the index starts its threads, so Serve
// receives them.
void BlockStopSignals();

// Serves until SIGTERM or SIGINT. Errors when the address cannot be bound.
absl::Status Serve(S3Service* service, const Authenticator* auth, const ServeOptions& options);

}  // namespace cellindex::s3

#endif  // CELLINDEX_TOOLS_S3_SERVER_H_
