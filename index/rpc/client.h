// cellindex::Client: the index of a `cellindex serve` process, called over
// gRPC (index/rpc/cellindex.proto), with the data calls of Index
// (index/index.h): the same arguments, results and error codes.
//
// Each call has a deadline (ClientOptions::deadline), retries included:
//  - a cell that does not serve (yet) answers UNAVAILABLE: a read is asked
//    again with backoff until the deadline; so is a write when the index
//    says it applied nothing (WasNotApplied, index/model/write_batch.h);
//    but a cell the server does not serve at all (a cluster host that does
//    not own it) is answered at once, marked IsNotServedHere, so that the
//    caller asks its owner;
//  - a call is sent only once the channel is connected: while the server
//    is down or restarting it waits, up to ClientOptions::connect_deadline
//    (default: the whole deadline); a write that finds no connection was
//    never sent, and returns Unavailable marked WasNotApplied (safe to send
//    elsewhere);
//  - a read that the transport fails is tried again until the deadline;
//  - a write that the transport fails once sent is not repeated: it may
//    have reached the server. It returns Unavailable saying that it may or
//    may not have been applied (a repeated write could apply twice, or fail
//    its own precondition on its first application).
// When the deadline passes, the call returns Unavailable with the last
// reason.
#ifndef CELLINDEX_INDEX_RPC_CLIENT_H_
#define CELLINDEX_INDEX_RPC_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "index/base/stats.h"
#include "index/model/cell_map.h"
#include "index/model/list_result.h"
#include "index/model/locate_result.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/write_batch.h"

namespace cellindex {

struct ClientOptions {
  // Per call, retries included.
  absl::Duration deadline = absl::Seconds(10);
  // How long a call waits for a connection to the server before it gives
  // up unsent (Unavailable; a write marked WasNotApplied); never past
  // `deadline`. The cluster client keeps it short, to move on from a dead
  // host.
  absl::Duration connect_deadline = absl::InfiniteDuration();
  // The first wait before a retry; it doubles up to max_backoff.
  absl::Duration initial_backoff = absl::Milliseconds(5);
  absl::Duration max_backoff = absl::Milliseconds(500);
};

// The cell map as a server routes on it (Client::CellMap).
struct RemoteCellMap {
  uint64_t epoch = 0;
  std::vector<CellRange> cells;
};

class Client {
 public:
  // `address` is HOST:PORT (a name, IPv4, or [IPv6]; port 1 to 65535).
  // Connects lazily: an address nobody serves yet is not an error here.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& address,
                                                         const ClientOptions& options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<uint64_t> Put(const ObjectKey& key, const ObjectRecord& record,
                               const Precondition& precondition = {});
  absl::StatusOr<ObjectRecord> Get(const ObjectKey& key);
  absl::Status Delete(const ObjectKey& key, const Precondition& precondition = {});
  absl::StatusOr<std::vector<uint64_t>> Write(const WriteBatch& batch);
  absl::StatusOr<ListResult> List(absl::string_view bucket, const ListOptions& options = {});
  absl::StatusOr<LocateResult> Locate(const LocateOptions& options);

  // Admin.
  absl::StatusOr<RemoteCellMap> CellMap();
  absl::StatusOr<std::vector<CheckpointReport>> Checkpoint(std::optional<CellId> cell = {});

  const std::string& address() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses HOST:PORT strictly: InvalidArgument saying what is wrong.
absl::Status ValidateRpcAddress(absl::string_view address);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_RPC_CLIENT_H_
