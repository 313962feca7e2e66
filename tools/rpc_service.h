// The index's gRPC service (index/rpc/cellindex.proto) over an Index: what
// `cellindex serve` runs. Every call is the Index call of the same name;
// its status goes back as the gRPC status (same code, same message), with
// the trailing metadata that tells the client the index answered
// (kFromIndexMetadata).
#ifndef CELLINDEX_TOOLS_RPC_SERVICE_H_
#define CELLINDEX_TOOLS_RPC_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/index.h"

namespace cellindex::tools {

// OK when `listen` is HOST:PORT (port 0: any free one); else
// InvalidArgument naming the --listen flag.
absl::Status ValidateListenAddress(const std::string& listen);

class RpcServer {
 public:
  // Serves `index` (which must outlive the server) on `listen`, HOST:PORT
  // (port 0: a free one, see address()).
  static absl::StatusOr<std::unique_ptr<RpcServer>> Start(Index* index,
                                                          const std::string& listen);
  ~RpcServer();
  // FailedPrecondition when it cannot listen there (the port in use).
  // HOST:PORT with the port bound.
  const std::string& address() const;
  // Stops taking calls, lets those under way finish for up to `grace`,
  // then cancels the rest. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  struct Impl;
  explicit RpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_RPC_SERVICE_H_
