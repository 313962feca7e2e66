// A client of etcd's v3 API, through the JSON gateway etcd serves on its
// client port (POST /v3/kv/range, /v3/kv/txn, /v3/lease/grant, ...): keys
// and values travel base64-encoded, 64-bit integers as decimal strings.
//
// Why the gateway and not gRPC stubs generated from etcd's .proto files:
// those files import gogoproto and Google API annotations that Debian ships
// in other Go source packages, so generating C++ from them would pull a
// chain of Go-only packages into the build; the gateway is part of every
// etcd 3.4+ server, speaks the same messages, and needs only an HTTP
// client and a JSON parser, both already used here (cpp-httplib,
// nlohmann-json). The coordination traffic (leases, claims, the map) is a
// few requests a second, so HTTP's cost does not matter.
//
// Errors: an endpoint that cannot be connected to is Unavailable, and the
// request goes to the next endpoint (one that answered stays first). A
// read also goes on after a reply that did not come or an Unavailable from
// etcd; a write does not, since it may have been applied: it returns
// Unavailable saying its outcome is unknown, and the caller reads again
// before deciding. An error etcd returns keeps its gRPC code (absl's codes
// are the same numbers), e.g. NotFound for an expired lease. Thread-safe:
// each request has its own connection.
#ifndef CELLINDEX_RECOVERY_COORD_ETCD_CLIENT_H_
#define CELLINDEX_RECOVERY_COORD_ETCD_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cellindex {

// One key as etcd holds it.
struct EtcdKv {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // puts since it was created; 0: absent
  int64_t lease = 0;    // 0: bound to no lease
};

// One condition of a transaction, on one key.
struct EtcdCompare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kVersion;
  Result result = Result::kEqual;
  int64_t number = 0;  // for the revisions and the version
  std::string value;   // for kValue

  // The key does not exist (its create revision is 0).
  static EtcdCompare Absent(std::string key);
  // The key was last written at `revision` (0: it does not exist).
  static EtcdCompare ModRevisionIs(std::string key, int64_t revision);
  // The key was created at `revision` (and not deleted since).
  static EtcdCompare CreateRevisionIs(std::string key, int64_t revision);
  static EtcdCompare ValueIs(std::string key, std::string value);
};

// One operation of a transaction.
struct EtcdOp {
  enum class Kind { kPut, kDelete, kGet };
  Kind kind = Kind::kGet;
  std::string key;
  std::string value;      // kPut
  int64_t lease = 0;      // kPut: bound to this lease
  bool prefix = false;    // kDelete, kGet: every key that starts with `key`

  static EtcdOp Put(std::string key, std::string value, int64_t lease = 0);
  static EtcdOp Delete(std::string key);
  static EtcdOp Get(std::string key, bool prefix = false);
};

struct EtcdTxnResult {
  bool succeeded = false;  // the compares held: the success ops ran
  int64_t revision = 0;    // the store's revision after the transaction
  // What each kGet op of the branch that ran read, in order.
  std::vector<std::vector<EtcdKv>> gets;
};

class EtcdClient {
 public:
  struct Options {
    // host:port or http://host:port, at least one.
    std::vector<std::string> endpoints;
    absl::Duration timeout = absl::Seconds(2);  // per request and endpoint
  };

  // InvalidArgument naming the endpoint that does not parse.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(const Options& options);
  // Parses "a:1,http://b:2" into endpoints; InvalidArgument when one does
  // not parse or none is given.
  static absl::StatusOr<std::vector<std::string>> ParseEndpoints(absl::string_view list);

  // The key, or nullopt when absent.
  absl::StatusOr<std::optional<EtcdKv>> Get(const std::string& key);
  // Every key starting with `prefix`, in key order; *revision (when given)
  // is the store's revision they were read at.
  absl::StatusOr<std::vector<EtcdKv>> GetPrefix(const std::string& prefix,
                                                int64_t* revision = nullptr);
  // Returns the revision of the write.
  absl::StatusOr<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0);
  // Returns how many keys it deleted.
  absl::StatusOr<int64_t> Delete(const std::string& key, bool prefix = false);
  // Runs `success` if every compare holds, else `failure`, atomically.
  absl::StatusOr<EtcdTxnResult> Txn(const std::vector<EtcdCompare>& compares,
                                    const std::vector<EtcdOp>& success,
                                    const std::vector<EtcdOp>& failure);

  // A lease of `ttl` (whole seconds, at least 1); returns its id.
  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl);
  // Renews the lease; returns the TTL it has again. NotFound when it has
  // expired or was revoked (its keys are gone).
  absl::StatusOr<absl::Duration> KeepAlive(int64_t lease);
  // Ends the lease and deletes its keys. OK when it was gone already.
  absl::Status RevokeLease(int64_t lease);

  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  EtcdClient(std::vector<std::string> endpoints, absl::Duration timeout);
  // POSTs `body` to `path` on the first endpoint that answers; the JSON
  // reply, or the error etcd or the endpoints gave. `repeatable`: sending
  // it twice does no harm (reads, renewals), so it may go to another
  // endpoint after one that may have received it.
  absl::StatusOr<std::string> Call(const std::string& path, const std::string& body,
                                   bool repeatable);

  std::vector<std::string> endpoints_;  // "host:port"
  absl::Duration timeout_;
  std::atomic<size_t> preferred_{0};
};

}  // namespace cellindex

#endif  // CELLINDEX_RECOVERY_COORD_ETCD_CLIENT_H_
