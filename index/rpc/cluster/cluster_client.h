// cellindex::ClusterClient: the index of a cluster of `cellindex host`
// processes, called through etcd's view of it. It reads the hosts, the
// cells' owners and the cell map from etcd (recovery/coord/cluster_coord.h;
// the map as the controller published it, read again whenever it changes,
// or from a host while etcd has none), and sends each request to the host that owns the key's cell,
// with the data calls of Index (index/index.h) for one key or one cell:
// the same arguments, results and error codes.
//
// Its view of the owners is a cache. A request that meets a host that does
// not own the cell (any more), or a host that does not answer, reads the
// owners again and goes where they say, with backoff, until the deadline:
//  - a read always;
//  - a write only when it applied nothing (WasNotApplied): the host said
//    so, or no connection to the host came within attempt_deadline, so it
//    was never sent. A write whose outcome is unknown (the host went away
//    in the middle, or its lease may have expired after it journaled) is
//    never repeated: it returns Unavailable saying so.
// When the deadline passes, the call returns Unavailable with the last
// reason.
//
// List and Locate span cells, and so hosts: a page is read cell by cell in
// key order, each part from the cell's owner (ListOptions::cell), within
// one deadline for the page. Pages and tokens are those of Index: a token
// from one works with the other. As in the index, a page is not one
// snapshot across cells.
#ifndef CELLINDEX_INDEX_RPC_CLUSTER_CLUSTER_CLIENT_H_
#define CELLINDEX_INDEX_RPC_CLUSTER_CLUSTER_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"
#include "index/model/list_result.h"
#include "index/model/locate_result.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/write_batch.h"

namespace cellindex {

struct ClusterClientOptions {
  // etcd's client endpoints, HOST:PORT each (EtcdClient::ParseEndpoints).
  std::vector<std::string> etcd_endpoints;
  // The cluster's name (`cellindex host --cluster`).
  std::string cluster = "default";
  // Per call, every retry and redirection included.
  absl::Duration deadline = absl::Seconds(10);
  // How long one attempt waits for one host before the owners are read
  // again (a host that died does not answer at all).
  absl::Duration attempt_deadline = absl::Milliseconds(500);
  // The same for a write, and for one cell's part of a List or Locate page
  // (up to 1000 entries). A write that gets no answer in time is never sent
  // again (its outcome is unknown), so waiting less gains nothing; and a
  // synced write on a busy host can take longer than a read's attempt.
  // (Any call waits at most attempt_deadline for a connection to the host;
  // a write that got none was not sent, and goes to the owners again.)
  absl::Duration write_attempt_deadline = absl::Seconds(5);
  // The first wait before a retry; it doubles up to max_backoff.
  absl::Duration initial_backoff = absl::Milliseconds(5);
  absl::Duration max_backoff = absl::Milliseconds(500);
};

class ClusterClient {
 public:
  // Checks the options and connects to etcd lazily: InvalidArgument for
  // bad endpoints or cluster name, nothing else here.
  static absl::StatusOr<std::unique_ptr<ClusterClient>> Connect(
      const ClusterClientOptions& options);
  ~ClusterClient();
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  absl::StatusOr<uint64_t> Put(const ObjectKey& key, const ObjectRecord& record,
                               const Precondition& precondition = {});
  absl::StatusOr<ObjectRecord> Get(const ObjectKey& key);
  absl::Status Delete(const ObjectKey& key, const Precondition& precondition = {});
  // Every key of the batch must be in one cell (InvalidArgument otherwise,
  // nothing applied): a batch is atomic within its cell only.
  absl::StatusOr<std::vector<uint64_t>> Write(const WriteBatch& batch);
  // As Index::List and Index::Locate (see above). options.cell set: only
  // that cell's part, from its owner.
  absl::StatusOr<ListResult> List(absl::string_view bucket, const ListOptions& options = {});
  absl::StatusOr<LocateResult> Locate(const LocateOptions& options);

  // The cell that holds `key` in the cluster's map (read from a host the
  // first time). Unavailable when no host answers.
  absl::StatusOr<uint32_t> CellOf(const ObjectKey& key);

  // The address of the host that owned `key`'s cell in the client's view
  // after its last call (empty: none known). For tools and tests.
  std::string CachedOwnerOf(const ObjectKey& key) const;
  // How many times the owners were read from etcd.
  uint64_t owner_reads() const;
  // The epoch of the cell map it routes on (0: none read yet), and how many
  // times a map was read (from etcd, or a host).
  uint64_t map_epoch() const;
  uint64_t map_reads() const;

 private:
  struct Impl;
  explicit ClusterClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_RPC_CLUSTER_CLUSTER_CLIENT_H_
