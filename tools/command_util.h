// What the `cellindex` subcommands share: opening the index, reporting an
// error, and printing.
#ifndef CELLINDEX_TOOLS_COMMAND_UTIL_H_
#define CELLINDEX_TOOLS_COMMAND_UTIL_H_

#include <signal.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/index.h"
#include "nlohmann/json.hpp"
#include "tools/commands.h"

namespace cellindex::tools {

// JSON objects keep their fields in the order written (S3's order).
using Json = nlohmann::ordered_json;

// Opens the index. With `create`, makes one when there is none, with
// flags.cells cells whose boundaries are quantiles of `sample` (default: the
// default workload's keys); without, a missing index is NotFound. `bulk`:
// buffered durability, for loading (Index's destructor syncs the journals).
absl::StatusOr<std::unique_ptr<Index>> OpenIndex(const GlobalFlags& flags, bool create,
                                                 bool bulk = false,
                                                 std::vector<ObjectKey> sample = {});

// The durable store directory the flags name (default: inside --data).
std::string StoreDir(const GlobalFlags& flags);

// InvalidArgument when --data or the store directory exists but is not a
// directory (or lies below a file), which opening would report as a failed
// precondition (ENOTDIR) instead of bad input.
absl::Status CheckDirectoryFlags(const GlobalFlags& flags);

// The value of a numeric flag: decimal digits only (no sign, space, "0x" or
// exponent), no overflow, from `min` to `max`. Strict because strtoull, and
// so CLI11's own conversion, reads "-1" as 2^64-1, wraps on overflow and takes
// "0x10" and "010" as hex and octal. InvalidArgument naming `flag` otherwise.
absl::StatusOr<uint64_t> ParseDecimal(absl::string_view flag, absl::string_view text, uint64_t min,
                                      uint64_t max);
// A number of seconds, "2" or "0.5", from `min` to `max`: digits with an
// optional fraction, so neither "nan" (which passes any range check) nor
// "1e3", "inf" or "-0".
absl::StatusOr<double> ParseSeconds(absl::string_view flag, absl::string_view text, double min,
                                    double max);

// Prints "cellindex: <message>" on stderr and returns the exit code for `s`.
int ReportError(const absl::Status& s);

// Prints `j` on stdout, indented. Bytes that are not UTF-8 (possible only in
// fields the index does not validate, such as ETags) print as U+FFFD.
void PrintJson(const Json& j);

// S3's time format: "2024-05-01T12:34:56.789Z".
std::string Iso8601(absl::Time t);
// "1.5 GiB", "12 KiB", "512 B".
std::string HumanBytes(uint64_t bytes);

// For the long-running commands (serve, host): ignores SIGPIPE (a reader
// of their lines that went away must not kill the stop) and blocks SIGTERM
// and SIGINT, before the index starts its threads (which inherit the
// mask), so that the signals wait for the command's sigwait rather than
// kill the process. The set to wait on.
sigset_t BlockStopSignals();

}  // namespace cellindex::tools

#endif  // CELLINDEX_TOOLS_COMMAND_UTIL_H_
