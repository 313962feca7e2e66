// recovery_bench's scratch directory: where each scenario keeps its state,
// the Index options both scenarios run with, and how a repetition gets back
// the state it starts from.
#ifndef CELLINDEX_BENCH_RECOVERY_BENCH_LAYOUT_H_
#define CELLINDEX_BENCH_RECOVERY_BENCH_LAYOUT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "bench/recovery_bench_flags.h"
#include "index/model/options.h"

namespace cellindex::bench::recovery_bench {

struct Layout {
  std::string root;
  std::string rocks_db() const { return root + "/rocks/db"; }
  std::string durable() const { return root + "/durable"; }
  std::string backup() const { return root + "/durable/backup"; }
  std::string checkpoint() const { return root + "/durable/checkpoint"; }
  std::string wal() const { return root + "/durable/wal"; }
  // Where RocksDB moves a WAL it no longer needs (Options::WAL_ttl_seconds).
  std::string wal_archive() const { return wal() + "/archive"; }
  std::string wal_kept() const { return root + "/wal.kept"; }
  std::string index() const { return root + "/index"; }
  std::string index_kept() const { return root + "/index.kept"; }
  std::string store() const { return index() + "/store"; }
};

// The Index's options for (b) and (c); (a)'s RocksDB takes one cell's
// options from them.
Options IndexOptions(const Flags& f, const Layout& l);

// Recreates the tree `from` at `to`: directories made, files copied or
// hard-linked as `link(path)` says. Only files nobody writes in place may be
// linked: SST files, and the store's files, which a restore only reads (a
// journal is appended to by writes only; the runs write nothing).
void CloneTree(const std::string& from, const std::string& to,
               const std::function<bool(const std::string&)>& link);
bool LinkNothing(const std::string& path);
bool LinkSstAndStore(const std::string& path);

// Size and modification time of every file under `root`: a hard-linked tree
// must come back from a run unchanged.
std::map<std::string, std::pair<uint64_t, int64_t>> Signature(const std::string& root);

}  // namespace cellindex::bench::recovery_bench

#endif  // CELLINDEX_BENCH_RECOVERY_BENCH_LAYOUT_H_
