// A forward scan over one key space of a run of cells, in encoded-key order,
// as if the cells were one RocksDB: what List and Locate read with.
//
// Every cell's RocksDB holds the entries of a key space as `space` +
// encoded_key (space "r" for records in the default column family, "v"
// volume 0x00 for one volume's reverse index in the locations family; see
// cell_keys.h). Cells hold disjoint ranges in map order, so reading
// cell after cell gives global key order. A cell is entered only when the scan
// reaches its range; one that is not serving then fails the scan.
//
// At RocksDB's default perf level (kEnableCount) every key comparison bumps a
// thread-local counter that listings never read: a scan turns counting off
// for its lifetime, unless the caller raised the level to measure, and then
// restores the caller's level.
#ifndef CELLINDEX_INDEX_CELL_CELL_SCAN_H_
#define CELLINDEX_INDEX_CELL_CELL_SCAN_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "index/base/coding.h"  // PrefixSuccessor, for the scans' callers
#include "index/model/cell_map.h"
#include "index/cell/serving_cell.h"
#include "rocksdb/db.h"
#include "rocksdb/perf_level.h"

namespace cellindex {

class Cell;

class CellScan {
 public:
  // The column family a scan reads (cell_keys.h).
  enum class Family { kRecords, kLocations };

  // cells(i) gives the cell serving map.cells()[i], or why there is none.
  // A cell the scan reaches that is not serving fails it with Unavailable
  // and the reason, which names the cell (DataLoss stays DataLoss). Entries
  // whose encoded key is >= `end` are not read; an empty `end` reads to the
  // end of the key space.
  CellScan(const CellMap& map, const ServingCellFn& cells, Family family, std::string space,
           std::string end);
  ~CellScan();

  CellScan(const CellScan&) = delete;
  CellScan& operator=(const CellScan&) = delete;

  // Positions at the first entry whose encoded key is >= `target`; !Valid()
  // when there is none before `end`. Unavailable naming the cell when a cell
  // the scan must read is not serving; RocksDB errors converted.
  absl::Status Seek(absl::string_view target);
  // Moves to the next entry. Same errors as Seek.
  absl::Status Next();
  bool Valid() const { return valid_; }

  // The current entry, without the space; valid until the next move.
  absl::string_view encoded_key() const;
  absl::string_view value() const;
  // The cell holding the current entry.
  CellId cell_id() const;
  // Reads `key` (a full key of the cell's RocksDB, any space) from the
  // current entry's cell at the scan's snapshot, so it agrees with the entry.
  // NotFound when absent.
  absl::Status GetInCell(absl::string_view key, std::string* value);
  // Damage found in the current entry's cell (a record that does not
  // decode): the cell fails and is restored (Cell::ReportDamage). Statuses
  // other than DataLoss are ignored. The scan's own reads report it too.
  void ReportDamage(const absl::Status& why);

 private:
  // Opens an iterator over cell `i` and seeks it to `target`, moving on to
  // the next cells while the current one has nothing more.
  absl::Status SeekFrom(size_t i, absl::string_view target);
  absl::Status EnterCell(size_t i);
  // Whether cell `i` exists and starts before `end_`.
  bool ReachesCell(size_t i) const;
  absl::Status IteratorStatus();
  void LeaveCell();

  const CellMap& map_;
  const ServingCellFn& cells_;
  std::shared_ptr<Cell> cell_ref_;  // keeps the current cell open
  const Family family_;
  const std::string space_;
  const std::string end_;
  std::string upper_bound_;  // space_ + end_, or past the space
  rocksdb::Slice upper_bound_slice_;
  std::string seek_key_;

  size_t cell_ = 0;
  rocksdb::DB* db_ = nullptr;
  const rocksdb::Snapshot* snapshot_ = nullptr;
  rocksdb::ReadOptions read_options_;
  std::unique_ptr<rocksdb::Iterator> iter_;
  bool valid_ = false;
  const rocksdb::PerfLevel caller_perf_level_ = rocksdb::GetPerfLevel();  // restored at the end
};

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_CELL_CELL_SCAN_H_
