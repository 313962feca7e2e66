#include "index/base/host_port.h"

#include <cstdint>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace cellindex {

absl::Status ValidateHostPort(absl::string_view address, bool allow_port_zero) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError("must be host:port");
  }
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port = address.substr(colon + 1);
  uint32_t p = 0;
  if (port.empty() || port.size() > 5 || !absl::c_all_of(port, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &p) || (p == 0 && !allow_port_zero) || p > 65535) {
    return absl::InvalidArgumentError(allow_port_zero
                                          ? "the port must be a number from 0 to 65535"
                                          : "the port must be a number from 1 to 65535");
  }
  // A name or an IPv4 address; an IPv6 address in brackets.
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  for (char c : bracketed ? host.substr(1, host.size() - 2) : host) {
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                    (bracketed && c == ':');
    if (!ok) return absl::InvalidArgumentError("the host must be a name or an address");
  }
  return absl::OkStatus();
}

}  // namespace cellindex
