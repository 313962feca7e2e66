// Options for opening an Index. Every field has its default and what it trades
// off written above it, so a user can tune the index from this file alone.
#ifndef CELLINDEX_INDEX_MODEL_OPTIONS_H_
#define CELLINDEX_INDEX_MODEL_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/model/object_key.h"

namespace cellindex {

class CellMap;

// How a cell whose host lost its state is restored from a checkpoint.
enum class RestoreMode {
  // Every file of the checkpoint is copied to the host and verified against
  // its manifest digest before the cell opens. The time to serve grows with
  // the cell's size; nothing is read from the store afterwards.
  kCopy,
  // The cell opens over the checkpoint's table files where they lie in the
  // durable store (only its small metadata files are copied first) and
  // serves at once; a background copy brings the table files to the host at
  // `restore_copy_bytes_per_sec`, checking each file's digest as it lands.
  // Needs the store readable with low latency from the new host (a local or
  // nearby replicated file system); over a slow or far store, use kCopy.
  // A restore after damage was found always copies (and verifies) first.
  kInPlace,
};

enum class Durability {
  // A write is acknowledged after its journal record is fdatasync'ed: it
  // survives a crash of the process or the machine. Concurrent writers to one
  // cell share one fdatasync (group commit).
  kSync,
  // A write is acknowledged after its journal record is written to the OS; a
  // background thread fdatasyncs every `buffered_sync_interval`. Survives a
  // process crash; a machine crash can lose up to one interval of writes.
  kBuffered,
};

struct Options {
  // Host-local directory for the cells' RocksDB state. Required.
  std::string data_dir;
  // The durable store: the cell map and the cells' journals. It stands for
  // storage that survives the loss of this host. Default: `data_dir`/store.
  std::string store_dir;

  // ---- Layout: used only when the index is created --------------------
  // Reopening an existing index with a layout that differs from the stored
  // cell map is an InvalidArgument error; leave these empty to use the
  // stored map.
  //
  // Explicit split points between cells, as encoded keys (EncodeKey or
  // EncodeBucketPrefix), strictly increasing. N boundaries give N+1 cells.
  std::vector<std::string> cell_boundaries;
  // Otherwise, with num_cells > 1: boundaries are quantiles of this sample of
  // keys (at most num_cells cells; fewer if the sample has fewer distinct keys).
  std::vector<ObjectKey> boundary_sample;
  // Number of cells to derive from boundary_sample. 0 or 1 with no
  // boundaries: a single cell.
  size_t num_cells = 0;
  // Refuse to open when no index exists yet, instead of creating one.
  bool error_if_missing = false;

  // ---- Durability and journal ------------------------------------------
  Durability durability = Durability::kSync;
  // How often a kBuffered journal is fdatasync'ed. Shorter loses less on a
  // machine crash and costs more syncs.
  absl::Duration buffered_sync_interval = absl::Milliseconds(100);
  // A journal segment is closed and a new one started past this size.
  // Smaller segments let checkpoints trim the journal more finely.
  uint64_t journal_segment_bytes = 64ull << 20;

  // ---- Memory and threads, shared by all cells -------------------------
  // One LRU block cache for every cell's RocksDB.
  size_t block_cache_bytes = 256ull << 20;
  // Total memtable memory for all cells (RocksDB WriteBufferManager); a cell
  // flushes early when the total passes it.
  size_t write_buffer_bytes = 256ull << 20;
  // One cell's memtable size before it is flushed.
  size_t cell_write_buffer_bytes = 16ull << 20;
  // Background threads shared by all cells: flushes (high priority pool)
  // and compactions (low priority pool). RocksDB would otherwise give each
  // DB a single thread of each. Note the pools belong to the process-wide
  // default Env: the last Index opened sets their size.
  int flush_threads = 2;
  int compaction_threads = 2;

  // ---- Hosts -------------------------------------------------------------
  // Host name -> that host's local directory for cell state. Empty: one host
  // named "local" at data_dir. A new index places its cells on the hosts
  // round-robin. On reopen, a cell whose host is not listed (the host was
  // lost) moves to the listed host with the fewest cells and is restored
  // there from the durable store.
  std::map<std::string, std::string> host_dirs;

  // ---- Checkpoints --------------------------------------------------------
  // Take checkpoints in the background, per cell, when either threshold
  // below is passed. A restore replays at most about this much journal.
  bool background_checkpoints = true;
  // Journal bytes written since the cell's last checkpoint. Lower: shorter
  // restores, more checkpoint I/O.
  uint64_t checkpoint_journal_bytes = 32ull << 20;
  // Age of the last checkpoint of a cell that has had writes since.
  absl::Duration checkpoint_interval = absl::Minutes(10);
  // Checkpoints kept per cell (at least 2, so a damaged newest one can fall
  // back to the previous). The journal is kept from the oldest one on.
  int checkpoints_to_keep = 2;

  // ---- Cell size: splits and merges while serving -------------------------
  // Every cell's restore, checkpoint copy, validation and compaction costs
  // grow with it, so the index keeps cells small by itself: a cell that
  // passes either split threshold splits at its median record, and two
  // neighbours that have both stayed below merge_keys for merge_after merge.
  // The anchors: Bigtable tablets split at 100-200 MB, TiKV regions at 96-256
  // MiB, Ceph RGW index shards at about 100k objects. Lower thresholds:
  // faster restores of one cell and finer placement, but more cells (more
  // files, more open RocksDB instances, more checkpoints) and more splits
  // under a growing load (each holds its cell's writes for a few to tens of
  // milliseconds). 0 turns a threshold off.
  uint64_t split_keys = 200000;
  uint64_t split_bytes = 128ull << 20;  // SST and memtable bytes of the cell
  // At most split_keys / 4 (when both are set), so that a merged cell stays
  // well below the split threshold and the two never alternate.
  uint64_t merge_keys = 20000;
  absl::Duration merge_after = absl::Minutes(10);
  // How often the sizes are checked (0: never; SplitCell and MergeCells
  // still work).
  absl::Duration resize_check_interval = absl::Seconds(5);

  // ---- Recovery -----------------------------------------------------------
  // true: Open returns when every cell serves or has failed. false: Open
  // returns once the cell map is loaded; cells come up in the background and
  // a request for one that is not ready fails fast with Unavailable naming
  // the cell and its phase.
  bool wait_for_recovery = true;
  // Cells opened or restored at once. Restores are I/O-bound: more than the
  // disks can feed makes every cell slower. 0: one per hardware thread.
  int recovery_parallelism = 0;
  // Files fetched at once within one cell's restore.
  int fetch_parallelism = 4;
  // See RestoreMode.
  RestoreMode restore_mode = RestoreMode::kInPlace;
  // The pace of the background copies of in-place restores, in bytes per
  // second for all the cells of the index together (0: as fast as they go).
  // Bounds what the copies take from the disks while the cells serve and
  // other cells restore.
  uint64_t restore_copy_bytes_per_sec = 64 << 20;
  // Cell ids to recover first, in this order; the rest follow by id.
  std::vector<uint32_t> recovery_priority;
  // Run the deep validation (full scan: record checksums, keys inside the
  // range, count) before a recovered cell serves, instead of after.
  bool paranoid = false;
  // Run the deep validation in the background after a cell serves. A
  // failure takes the cell out of service and restores it from the previous
  // checkpoint. A cell is not checkpointed until its validation has passed
  // (so damage is never published); with this off, checkpoints do not wait.
  bool validate_after_recovery = true;

  // ---- A member of a cluster of host processes (`cellindex host`) --------
  // Several processes share one store, each serving the cells it owns, as
  // etcd says (recovery/coord). The store's cell map must exist (made by a
  // single-process open first); the store is not locked (ownership is per
  // cell, fenced by owner epochs in the journals); no cell serves until
  // Index::Adopt; splits, merges and capacity changes are refused (they
  // need the whole map). Every cell is placed in data_dir. The first
  // member marks the store as served by a cluster; a member open is refused
  // (FailedPrecondition) while a single-process index holds the store.
  bool cluster_member = false;
  // A single-process open of a store that cluster members have served is
  // refused (FailedPrecondition: both would write its cells) unless this is
  // set, once every host process has stopped: the open then restores every
  // cell from the store (a host directory's state is not trusted: it may
  // hold a former owner's unacknowledged writes), waits for them, removes
  // the store's cluster mark once all serve, and goes on as a single
  // process. A cell that does not serve (its stats say why) keeps the
  // mark: the next open must leave again.
  bool leave_cluster = false;
  // With cluster_member: asked before a write is journaled, and again after
  // any request before it is answered. False once the process may no
  // longer own its cells (its lease may have expired): the request is
  // answered Unavailable, and a write that reached the journal is reported
  // as of unknown outcome (a later owner decides: the journal's owner
  // epochs make sure the late record is never read).
  std::function<bool()> may_acknowledge;
  // With cluster_member: commits a split or merge this member runs
  // (SplitCell, MergeCells, on cells it has adopted), called with the map
  // that names the children while the parents' requests are held and their
  // states are closed. Returns the owner epoch the children are served
  // under here (they are this member's from then on). An error means the
  // map did not change: the parents serve again. Whatever cannot tell
  // whether its commit happened must not return (the process ends: the
  // next owner's restore settles it). Unset: a member refuses splits and
  // merges (they change the map every member shares).
  std::function<absl::StatusOr<uint64_t>(const CellMap& next)> commit_map;
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_MODEL_OPTIONS_H_
