// The boundary between RocksDB's statuses and cellindex's: every RocksDB
// status the library meets becomes an absl::Status here, with a code a
// caller can branch on and a message that names what was being done.
#ifndef CELLINDEX_INDEX_BASE_ROCKS_STATUS_H_
#define CELLINDEX_INDEX_BASE_ROCKS_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/io_status.h"
#include "rocksdb/status.h"

namespace cellindex {

// Corruption is DataLoss; Busy, TryAgain, TimedOut, Incomplete and
// ShutdownInProgress are Unavailable; NotFound, InvalidArgument, NotSupported
// (Unimplemented) and Aborted keep their meaning; the rest is Internal.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context);

// A RocksDB I/O status: a missing path is NotFound, a full disk
// ResourceExhausted, corruption DataLoss, other I/O errors Internal.
absl::Status FromIO(const rocksdb::IOStatus& s, absl::string_view context);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_BASE_ROCKS_STATUS_H_
