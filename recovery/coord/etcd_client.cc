#include "recovery/coord/etcd_client.h"

#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "httplib.h"
#include "index/base/coding.h"
#include "index/base/host_port.h"
#include "nlohmann/json.hpp"

namespace cellindex {
namespace {

using Json = nlohmann::json;

std::string B64(absl::string_view s) { return absl::Base64Escape(s); }

// etcd's range end for "every key starting with `prefix`": the prefix with
// its last byte that is not 0xff raised by one; "\0" (every key) when none.
std::string RangeEnd(absl::string_view prefix) {
  std::string end = PrefixSuccessor(prefix);
  if (end.empty()) return std::string(1, '\0');  // etcd's "to the end of the keys"
  return end;
}

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("etcd replied with a malformed ", what));
}

// An int64 field of a reply: proto3's JSON writes them as decimal strings
// and leaves out zeros.
absl::StatusOr<int64_t> Int64Field(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return 0;
  int64_t v = 0;
  if (it->is_string()) {
    if (!absl::SimpleAtoi(it->get<std::string>(), &v)) return Malformed(name);
    return v;
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  return Malformed(name);
}

absl::StatusOr<std::string> BytesField(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return std::string();
  std::string out;
  if (!it->is_string() || !absl::Base64Unescape(it->get<std::string>(), &out)) {
    return Malformed(name);
  }
  return out;
}

absl::StatusOr<EtcdKv> ParseKv(const Json& j) {
  EtcdKv kv;
  absl::StatusOr<std::string> key = BytesField(j, "key");
  absl::StatusOr<std::string> value = BytesField(j, "value");
  absl::StatusOr<int64_t> create = Int64Field(j, "create_revision");
  absl::StatusOr<int64_t> mod = Int64Field(j, "mod_revision");
  absl::StatusOr<int64_t> version = Int64Field(j, "version");
  absl::StatusOr<int64_t> lease = Int64Field(j, "lease");
  for (const absl::Status& s : {key.status(), value.status(), create.status(), mod.status(),
                                version.status(), lease.status()}) {
    if (!s.ok()) return s;
  }
  kv.key = *std::move(key);
  kv.value = *std::move(value);
  kv.create_revision = *create;
  kv.mod_revision = *mod;
  kv.version = *version;
  kv.lease = *lease;
  return kv;
}

absl::StatusOr<std::vector<EtcdKv>> ParseKvs(const Json& reply) {
  std::vector<EtcdKv> out;
  auto it = reply.find("kvs");
  if (it == reply.end()) return out;
  if (!it->is_array()) return Malformed("kvs");
  for (const Json& j : *it) {
    absl::StatusOr<EtcdKv> kv = ParseKv(j);
    if (!kv.ok()) return kv.status();
    out.push_back(*std::move(kv));
  }
  return out;
}

absl::StatusOr<Json> ParseReply(const std::string& body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Malformed("reply");
  return j;
}

Json RangeRequest(const std::string& key, bool prefix) {
  Json r = {{"key", B64(key)}};
  if (prefix) r["range_end"] = B64(RangeEnd(key));
  return r;
}

Json OpJson(const EtcdOp& op) {
  switch (op.kind) {
    case EtcdOp::Kind::kPut: {
      Json put = {{"key", B64(op.key)}, {"value", B64(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      return {{"request_put", put}};
    }
    case EtcdOp::Kind::kDelete:
      return {{"request_delete_range", RangeRequest(op.key, op.prefix)}};
    case EtcdOp::Kind::kGet:
      break;
  }
  return {{"request_range", RangeRequest(op.key, op.prefix)}};
}

Json CompareJson(const EtcdCompare& c) {
  Json j = {{"key", B64(c.key)}};
  switch (c.result) {
    case EtcdCompare::Result::kEqual: j["result"] = "EQUAL"; break;
    case EtcdCompare::Result::kNotEqual: j["result"] = "NOT_EQUAL"; break;
    case EtcdCompare::Result::kGreater: j["result"] = "GREATER"; break;
    case EtcdCompare::Result::kLess: j["result"] = "LESS"; break;
  }
  switch (c.target) {
    case EtcdCompare::Target::kVersion:
      j["target"] = "VERSION";
      j["version"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kCreateRevision:
      j["target"] = "CREATE";
      j["create_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kModRevision:
      j["target"] = "MOD";
      j["mod_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kValue:
      j["target"] = "VALUE";
      j["value"] = B64(c.value);
      break;
  }
  return j;
}

absl::StatusOr<std::string> ParseEndpoint(absl::string_view e) {
  e = absl::StripAsciiWhitespace(e);
  const absl::string_view original = e;
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid etcd endpoint \"", original, "\": ", why));
  };
  if (absl::StartsWith(e, "https://")) return invalid("TLS is not supported");
  absl::ConsumePrefix(&e, "http://");
  absl::ConsumeSuffix(&e, "/");
  if (absl::Status s = ValidateHostPort(e); !s.ok()) return invalid(s.message());
  return std::string(e);
}

}  // namespace

namespace {
EtcdCompare RevisionCompare(std::string key, EtcdCompare::Target target, int64_t revision) {
  EtcdCompare c;
  c.key = std::move(key);
  c.target = target;
  c.number = revision;
  return c;
}
}  // namespace

EtcdCompare EtcdCompare::Absent(std::string key) {
  return RevisionCompare(std::move(key), Target::kCreateRevision, 0);
}

EtcdCompare EtcdCompare::ModRevisionIs(std::string key, int64_t revision) {
  return RevisionCompare(std::move(key), Target::kModRevision, revision);
}

EtcdCompare EtcdCompare::CreateRevisionIs(std::string key, int64_t revision) {
  return RevisionCompare(std::move(key), Target::kCreateRevision, revision);
}

EtcdCompare EtcdCompare::ValueIs(std::string key, std::string value) {
  EtcdCompare c;
  c.key = std::move(key);
  c.target = Target::kValue;
  c.value = std::move(value);
  return c;
}

EtcdOp EtcdOp::Put(std::string key, std::string value, int64_t lease) {
  EtcdOp op;
  op.kind = Kind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}

EtcdOp EtcdOp::Delete(std::string key) {
  EtcdOp op;
  op.kind = Kind::kDelete;
  op.key = std::move(key);
  return op;
}

EtcdOp EtcdOp::Get(std::string key, bool prefix) {
  EtcdOp op;
  op.kind = Kind::kGet;
  op.key = std::move(key);
  op.prefix = prefix;
  return op;
}

absl::StatusOr<std::vector<std::string>> EtcdClient::ParseEndpoints(absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view e : absl::StrSplit(list, ',')) {
    absl::StatusOr<std::string> parsed = ParseEndpoint(e);
    if (!parsed.ok()) return parsed.status();
    out.push_back(*std::move(parsed));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(const Options& options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("no etcd endpoint given");
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the etcd request timeout must be positive");
  }
  std::vector<std::string> endpoints;
  for (const std::string& e : options.endpoints) {
    absl::StatusOr<std::string> parsed = ParseEndpoint(e);
    if (!parsed.ok()) return parsed.status();
    endpoints.push_back(*std::move(parsed));
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(endpoints), options.timeout));
}

EtcdClient::EtcdClient(std::vector<std::string> endpoints, absl::Duration timeout)
    : endpoints_(std::move(endpoints)), timeout_(timeout) {}

absl::StatusOr<std::string> EtcdClient::Call(const std::string& path, const std::string& body,
                                             bool repeatable) {
  const int64_t micros = absl::ToInt64Microseconds(timeout_);
  const size_t first = preferred_.load();
  absl::Status last;
  for (size_t k = 0; k < endpoints_.size(); ++k) {
    const size_t i = (first + k) % endpoints_.size();
    httplib::Client client("http://" + endpoints_[i]);
    client.set_connection_timeout(micros / 1000000, micros % 1000000);
    client.set_read_timeout(micros / 1000000, micros % 1000000);
    client.set_write_timeout(micros / 1000000, micros % 1000000);
    // The status and body are taken as they arrive: etcd's gateway ends an
    // error reply with HTTP trailers, which this cpp-httplib (0.11) does
    // not parse, failing the request after the whole body has come. A body
    // that parses as JSON is whole, so such a reply is still read.
    int status = 0;
    std::string received;
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    req.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      received.append(data, n);
      return true;
    };
    httplib::Result res = client.send(req);
    const bool whole = res || (status != 0 && res.error() == httplib::Error::Read &&
                               ParseReply(received).ok());
    if (!whole) {
      last = absl::UnavailableError(absl::StrCat("etcd at ", endpoints_[i], ": ",
                                                 httplib::to_string(res.error())));
      if (repeatable || res.error() == httplib::Error::Connection) continue;
      return absl::UnavailableError(
          absl::StrCat(last.message(), "; the write may or may not have been applied"));
    }
    if (status == 200) {
      // A stream's error comes in a 200 reply: {"error": {"grpc_code", ...}}.
      absl::StatusOr<Json> reply = ParseReply(received);
      bool stream_error = false;
      if (reply.ok()) {
        auto e = reply->find("error");
        stream_error = e != reply->end() && e->is_object();
      }
      if (!stream_error) {
        preferred_.store(i);
        return received;
      }
    }
    // An error etcd returns: {"error", "message", "code"} (code a gRPC
    // code), or on a stream {"error": {"grpc_code", "message"}}; else the
    // HTTP status says what it can.
    absl::StatusOr<Json> reply = ParseReply(received);
    absl::StatusCode code = status == 503   ? absl::StatusCode::kUnavailable
                            : status == 504 ? absl::StatusCode::kDeadlineExceeded
                                            : absl::StatusCode::kUnknown;
    std::string message = absl::StrCat("HTTP ", status);
    if (reply.ok()) {
      const Json* e = &*reply;
      auto nested = reply->find("error");
      if (nested != reply->end() && nested->is_object()) e = &*nested;
      absl::StatusOr<int64_t> c = Int64Field(*e, e == &*reply ? "code" : "grpc_code");
      if (c.ok() && *c > 0 && *c <= 16) code = static_cast<absl::StatusCode>(*c);
      auto m = e->find("message");
      if (m != e->end() && m->is_string()) message = m->get<std::string>();
    }
    last = absl::Status(code, absl::StrCat("etcd at ", endpoints_[i], ": ", message));
    // A member that cannot serve (no leader, stopping): a read tries another.
    if (code != absl::StatusCode::kUnavailable || !repeatable) return last;
  }
  return last;
}

absl::StatusOr<std::optional<EtcdKv>> EtcdClient::Get(const std::string& key) {
  absl::StatusOr<std::string> body = Call("/v3/kv/range", RangeRequest(key, false).dump(), true);
  if (!body.ok()) return body.status();
  absl::StatusOr<Json> reply = ParseReply(*body);
  if (!reply.ok()) return reply.status();
  absl::StatusOr<std::vector<EtcdKv>> kvs = ParseKvs(*reply);
  if (!kvs.ok()) return kvs.status();
  if (kvs->empty()) return std::nullopt;
  return std::move(kvs->front());
}

absl::StatusOr<std::vector<EtcdKv>> EtcdClient::GetPrefix(const std::string& prefix,
                                                          int64_t* revision) {
  absl::StatusOr<std::string> body = Call("/v3/kv/range", RangeRequest(prefix, true).dump(), true);
  if (!body.ok()) return body.status();
  absl::StatusOr<Json> reply = ParseReply(*body);
  if (!reply.ok()) return reply.status();
  if (revision != nullptr) {
    auto header = reply->find("header");
    absl::StatusOr<int64_t> r = header != reply->end() ? Int64Field(*header, "revision")
                                                        : absl::StatusOr<int64_t>(0);
    if (!r.ok()) return r.status();
    *revision = *r;
  }
  return ParseKvs(*reply);
}

absl::StatusOr<int64_t> EtcdClient::Put(const std::string& key, const std::string& value,
                                        int64_t lease) {
  Json request = OpJson(EtcdOp::Put(key, value, lease))["request_put"];
  absl::StatusOr<std::string> body = Call("/v3/kv/put", request.dump(), false);
  if (!body.ok()) return body.status();
  absl::StatusOr<Json> reply = ParseReply(*body);
  if (!reply.ok()) return reply.status();
  auto header = reply->find("header");
  if (header == reply->end()) return Malformed("put reply");
  return Int64Field(*header, "revision");
}

absl::StatusOr<int64_t> EtcdClient::Delete(const std::string& key, bool prefix) {
  absl::StatusOr<std::string> body = Call("/v3/kv/deleterange", RangeRequest(key, prefix).dump(), false);
  if (!body.ok()) return body.status();
  absl::StatusOr<Json> reply = ParseReply(*body);
  if (!reply.ok()) return reply.status();
  return Int64Field(*reply, "deleted");
}

absl::StatusOr<EtcdTxnResult> EtcdClient::Txn(const std::vector<EtcdCompare>& compares,
                                              const std::vector<EtcdOp>& success,
                                              const std::vector<EtcdOp>& failure) {
  Json request = {{"compare", Json::array()}, {"success", Json::array()},
                  {"failure", Json::array()}};
  for (const EtcdCompare& c : compares) request["compare"].push_back(CompareJson(c));
  for (const EtcdOp& op : success) request["success"].push_back(OpJson(op));
  for (const EtcdOp& op : failure) request["failure"].push_back(OpJson(op));
  absl::StatusOr<std::string> body = Call("/v3/kv/txn", request.dump(), false);
  if (!body.ok()) return body.status();
  absl::StatusOr<Json> reply = ParseReply(*body);
  if (!reply.ok()) return reply.status();
  EtcdTxnResult result;
  auto succeeded = reply->find("succeeded");
  if (succeeded != reply->end()) {
    if (!succeeded->is_boolean()) return Malformed("txn result");
    result.succeeded = succeeded->get<bool>();
  }
  auto header = reply->find("header");
  if (header == reply->end()) return Malformed("txn reply");
  absl::StatusOr<int64_t> revision = Int64Field(*header, "revision");
  if (!revision.ok()) return revision.status();
  result.revision = *revision;
  auto responses = reply->find("responses");
  if (responses != reply->end()) {
    if (!responses->is_array()) return Malformed("txn responses");
    for (const Json& r : *responses) {
      auto range = r.find("response_range");
      if (range == r.end()) continue;
      absl::StatusOr<std::vector<EtcdKv>> kvs = ParseKvs(*range);
      if (!kvs.ok()) return kvs.status();
      result.gets.push_back(*std::move(kvs));
    }
  }
  return result;
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(absl::Duration ttl) {
  const int64_t seconds = absl::ToInt64Seconds(ttl);
  if (seconds < 1 || absl::Seconds(seconds) != ttl) {
    return absl::InvalidArgumentError(
        absl::StrCat("a lease TTL must be whole seconds, at least 1: ", absl::FormatDuration(ttl)));
  }
  absl::StatusOr<std::string> body =
      Call("/v3/lease/grant", Json({{"TTL", std::to_string(seconds)}}).dump(), false);
  if (!body.ok()) return body.status();
  absl::StatusOr<Json> reply = ParseReply(*body);
  if (!reply.ok()) return reply.status();
  absl::StatusOr<int64_t> id = Int64Field(*reply, "ID");
  if (!id.ok()) return id.status();
  if (*id == 0) return Malformed("lease grant (no ID)");
  return *id;
}

absl::StatusOr<absl::Duration> EtcdClient::KeepAlive(int64_t lease) {
  absl::StatusOr<std::string> body =
      Call("/v3/lease/keepalive", Json({{"ID", std::to_string(lease)}}).dump(), true);
  if (!body.ok()) return body.status();
  absl::StatusOr<Json> reply = ParseReply(*body);
  if (!reply.ok()) return reply.status();
  // A stream of one message: {"result": {...}}.
  auto result = reply->find("result");
  if (result == reply->end() || !result->is_object()) return Malformed("keepalive reply");
  absl::StatusOr<int64_t> ttl = Int64Field(*result, "TTL");
  if (!ttl.ok()) return ttl.status();
  if (*ttl <= 0) {
    return absl::NotFoundError(absl::StrCat("etcd lease ", lease, " has expired"));
  }
  return absl::Seconds(*ttl);
}

absl::Status EtcdClient::RevokeLease(int64_t lease) {
  absl::StatusOr<std::string> body =
      Call("/v3/lease/revoke", Json({{"ID", std::to_string(lease)}}).dump(), true);
  if (absl::IsNotFound(body.status())) return absl::OkStatus();
  return body.status();
}

}  // namespace cellindex
