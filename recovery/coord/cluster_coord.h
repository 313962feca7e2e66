// What host processes agree on through etcd, and the transactions that
// change it. Every key is under /cellindex/<cluster>/:
//
//   hosts/<name>     a live host: its address; bound to the host's lease,
//                    so it goes when the host stops renewing
//   owners/<cell>    who serves the cell (host name); bound to the owner's
//                    lease. Claimed only if absent: two processes never
//                    hold one cell. The claim's revision (create_revision)
//                    is the owner epoch, which only grows: a journal opened
//                    by a later owner outranks records of an earlier one.
//   assigned/<cell>  the host the controller wants to serve the cell; that
//                    host claims it (owners/<cell>) once it is free
//   controller       the elected controller (host name), bound to its lease
//   map              the cell map with its epoch (the store's CELLMAP
//                    format), published by the controller; changed only by
//                    a transaction that compares the revision it was read at
//   pools            the pools and their minimums (an Inventory encoding,
//                    index/model/capacity.h, without hosts); the same
//   draining/<host>  a host being drained (`hosts remove --execute`): the
//                    controller places nothing there and moves its cells
//                    away, one at a time
//   failed/<cell>/<host>  the cell failed to restore on that host, which gave
//                    it back; bound to that host's lease, so for as long
//                    as the host process lives the controller places the
//                    cell elsewhere (a restarted host is tried again)
//   reshape          the one split or merge asked for and not yet done
//                    (ReshapeRequest, JSON), planned on the map at its
//                    map_revision; the host owning its cells runs it and
//                    commits it (CommitReshape: the new map, the children
//                    claimed and assigned to it, the parents' keys gone, in
//                    one transaction that compares the map's revision, the
//                    request's and the parents' claims), or gives it up
//                    (FinishReshape); the controller drops it once the map
//                    has changed under it
//   reshape-runner   the host running the request, bound to its lease
//   reshape-result   how the last request ended (JSON: its revision,
//                    outcome "done" or "failed", the children or the error)
//   bytes/<cell>     the cell's size (decimal bytes: its SST files and
//                    memtables), reported by its owner when it changes,
//                    written only under the owner's claim; kept when the
//                    owner goes (the size moves with the cell). The
//                    capacity guard and the controller's placement read it
//                    (pools' max_bytes_per_host)
//
// Fencing rests on leases: a host acts on what it owns only while its
// LeaseKeeper says the lease is valid, which ends before etcd can expire
// it; a claim succeeds only once the previous owner's key is gone, which
// is at or after that expiry.
#ifndef CELLINDEX_RECOVERY_COORD_CLUSTER_COORD_H_
#define CELLINDEX_RECOVERY_COORD_CLUSTER_COORD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "recovery/coord/etcd_client.h"

namespace cellindex {

// OK when `name` (a cluster or host name; `what` says which, for the
// message) is 1 to 64 bytes of letters, digits, '-', '_' and '.';
// InvalidArgument otherwise.
absl::Status ValidateClusterName(absl::string_view what, absl::string_view name);

// A cell's owner as etcd holds it.
struct CellOwner {
  std::string host;
  int64_t epoch = 0;  // the claim's revision
  int64_t lease = 0;
};

// A value and the revision it was last written at (0: absent).
struct Versioned {
  std::string value;
  int64_t revision = 0;
};

// A split or merge asked for (reshape): one at a time.
struct ReshapeRequest {
  std::string op;               // "split" or "merge"
  std::vector<uint32_t> cells;  // split: the parent; merge: left, right
  std::string at;               // split: the boundary (an encoded key); empty: the median
  int64_t map_revision = 0;     // the map it was planned on
  std::string by;               // who asked: "operator", "controller"
  std::string reason;
  int64_t revision = 0;  // read: the request's own revision (its id)
  std::string error;     // read: why it does not decode (then only `revision` holds)

  std::string Encode() const;
  // InvalidArgument saying what is wrong.
  static absl::StatusOr<ReshapeRequest> Decode(absl::string_view json);
};

class ClusterCoord {
 public:
  // `cluster` names the cluster: letters, digits, '-', '_' and '.', 1 to 64
  // bytes (InvalidArgument otherwise).
  static absl::StatusOr<ClusterCoord> Create(EtcdClient& etcd, const std::string& cluster);

  // Registers host `name` (same rule as cluster names) at `address`, bound
  // to `lease`. AlreadyExists when a live host has the name (its lease
  // holds); the same lease registering again just updates the address.
  absl::Status RegisterHost(const std::string& name, const std::string& address, int64_t lease);
  // Live hosts: name -> address.
  absl::StatusOr<std::map<std::string, std::string>> Hosts();

  // Claims `cell` for `host` under `lease`. Returns the owner epoch.
  // FailedPrecondition naming the owner when another claim holds.
  absl::StatusOr<int64_t> ClaimCell(uint32_t cell, const std::string& host, int64_t lease);
  // Gives up the claim of epoch `epoch`. FailedPrecondition when the cell's
  // claim is another (a later owner's, or none).
  absl::Status ReleaseCell(uint32_t cell, int64_t epoch);
  // The cell's owner, nullopt when none.
  absl::StatusOr<std::optional<CellOwner>> Owner(uint32_t cell);
  // Every owned cell.
  absl::StatusOr<std::map<uint32_t, CellOwner>> Owners();

  // As controller `controller`: wants `host` to serve `cell`. Written only
  // while `controller` is the controller and, unless `map_revision` is 0,
  // the map is still at that revision (the cell is still the map's: a
  // split or merge committed meanwhile retired it, maybe); FailedPrecondition
  // otherwise.
  absl::Status Assign(uint32_t cell, const std::string& host, const std::string& controller,
                      int64_t map_revision = 0);
  // Every assignment: cell -> host.
  absl::StatusOr<std::map<uint32_t, std::string>> Assignments();

  // Becomes the controller if there is none: returns the controller's name
  // after the attempt (`host` when it won).
  absl::StatusOr<std::string> Elect(const std::string& host, int64_t lease);

  // The controller's name; empty when there is none.
  absl::StatusOr<std::string> Controller();

  // The map as last written (revision 0: none yet).
  absl::StatusOr<Versioned> ReadMap();
  // Writes `map` if the map is still at `read_revision` (0: there is
  // none). Returns the new revision; Aborted when it has changed since
  // (read it again, decide again).
  absl::StatusOr<int64_t> WriteMap(const std::string& map, int64_t read_revision);

  // The pools as last written (revision 0: none yet), and a write that
  // compares, as ReadMap and WriteMap.
  absl::StatusOr<Versioned> ReadPools();
  absl::StatusOr<int64_t> WritePools(const std::string& pools, int64_t read_revision);

  // Marks `host` as being drained, or no longer. The mark outlives the
  // host's lease: a drained host that restarts under the name is drained.
  absl::Status SetDraining(const std::string& host, bool draining);
  // The hosts marked as being drained.
  absl::StatusOr<std::set<std::string>> Draining();

  // `cell` failed on `host`, which holds `lease` (the mark goes with it).
  absl::Status MarkCellFailed(uint32_t cell, const std::string& host, int64_t lease);
  // cell -> the hosts it failed on (a malformed key is left out).
  absl::StatusOr<std::map<uint32_t, std::set<std::string>>> FailedCells();

  // As the owner of `cell` under claim `epoch`: its size is `bytes`.
  // FailedPrecondition when the claim is no longer held.
  absl::Status ReportCellBytes(uint32_t cell, int64_t epoch, uint64_t bytes);
  // Every reported size: cell -> bytes. An entry that is not one (a bad
  // key or value) is left out, as if unreported.
  absl::StatusOr<std::map<uint32_t, uint64_t>> CellBytes();
  // Removes every size (another index's map replaced: its cells' sizes
  // say nothing of this one's).
  absl::Status ClearCellBytes();

  // Asks for `request` (on the map at request.map_revision). Its revision.
  // FailedPrecondition when another is under way; Aborted when the map has
  // changed since.
  absl::StatusOr<int64_t> RequestReshape(const ReshapeRequest& request);
  // The request under way, nullopt when none. One that does not decode
  // comes back with only `revision` and `error` set.
  absl::StatusOr<std::optional<ReshapeRequest>> ReadReshape();
  // Ends request `revision` without a change of the map, with `result`
  // (reshape-result). FailedPrecondition when it is no longer the request.
  absl::Status FinishReshape(int64_t revision, const std::string& result);
  // Commits `request` as host `host` (under `lease`): the map becomes
  // `map` if it is still at request.map_revision, the request is still
  // there and each parent (cell -> owner epoch) is still claimed as given;
  // then the parents' owner, assigned and bytes keys go, and each of
  // `children` is claimed by and assigned to `host`, and `result` is
  // written. Returns the revision: the children's owner epoch. Aborted when
  // a comparison failed (nothing changed); Unavailable when the outcome is
  // unknown (ResolveReshape tells).
  absl::StatusOr<int64_t> CommitReshape(const ReshapeRequest& request, const std::string& map,
                                        const std::map<uint32_t, int64_t>& parents,
                                        const std::vector<uint32_t>& children,
                                        const std::string& host, int64_t lease,
                                        const std::string& result);
  // After CommitReshape's Unavailable: whether it happened. Withdraws the
  // request if it is still there (so a commit still in flight fails), and
  // returns 0 then; else the owner epoch of `child` when `host` claimed it
  // (the commit happened), or 0 when it did not.
  absl::StatusOr<int64_t> ResolveReshape(const ReshapeRequest& request, uint32_t child,
                                         const std::string& host);
  // How the last request ended (revision 0: none yet).
  absl::StatusOr<Versioned> ReadReshapeResult();
  // `host` (under `lease`) runs request `revision` (reshape-runner, bound
  // to its lease): the controller does not drop a request while its runner
  // lives. FailedPrecondition when it is no longer the request. The key
  // goes with the request (CommitReshape, FinishReshape) or the lease.
  absl::Status RunReshape(int64_t revision, const std::string& host, int64_t lease);
  // The host running request `revision`; empty when none (its lease is
  // gone, or the mark is another request's).
  absl::StatusOr<std::string> ReshapeRunner(int64_t revision);

  const std::string& prefix() const { return prefix_; }

 private:
  ClusterCoord(EtcdClient& etcd, std::string prefix) : etcd_(&etcd), prefix_(std::move(prefix)) {}
  std::string CellKey(absl::string_view kind, uint32_t cell) const;
  std::string OwnerKey(uint32_t cell) const;
  // One whole-value key under the prefix (map, pools), and its write if
  // unchanged since `read_revision`; `what` ("the pools have") begins the
  // Aborted error.
  absl::StatusOr<Versioned> ReadShared(absl::string_view name);
  absl::StatusOr<int64_t> WriteShared(absl::string_view name, absl::string_view what,
                                      const std::string& value, int64_t read_revision);

  EtcdClient* etcd_;
  std::string prefix_;  // "/cellindex/<cluster>/"
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_COORD_CLUSTER_COORD_H_
