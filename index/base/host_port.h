// HOST:PORT addresses (etcd endpoints, the index's RPC servers), parsed
// strictly.
#ifndef CELLINDEX_INDEX_BASE_HOST_PORT_H_
#define CELLINDEX_INDEX_BASE_HOST_PORT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cellindex {

// OK when `address` is HOST:PORT: HOST a name or an IPv4 address (letters,
// digits, '.', '-') or an IPv6 address in brackets, PORT a decimal number
// from 1 to 65535 (0 too with `allow_port_zero`: "any free port", for a
// server's listening address). Else InvalidArgument saying which part is
// wrong (without the address: callers name it).
absl::Status ValidateHostPort(absl::string_view address, bool allow_port_zero = false);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_BASE_HOST_PORT_H_
