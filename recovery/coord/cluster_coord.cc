#include "recovery/coord/cluster_coord.h"

#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace cellindex {
namespace {

constexpr size_t kMaxNameBytes = 64;
constexpr absl::string_view kOwners = "owners/";
constexpr absl::string_view kAssigned = "assigned/";
constexpr absl::string_view kDraining = "draining/";
constexpr absl::string_view kBytes = "bytes/";
constexpr absl::string_view kFailed = "failed/";
constexpr absl::string_view kReshape = "reshape";
constexpr absl::string_view kReshapeResult = "reshape-result";
constexpr absl::string_view kReshapeRunner = "reshape-runner";

// The cell id at the end of `key` (after `prefix`), as CellKey writes it.
absl::StatusOr<uint32_t> CellOfKey(const std::string& key, const std::string& prefix) {
  const absl::string_view id(key.data() + prefix.size(), key.size() - prefix.size());
  uint32_t cell = 0;
  if (id.size() != 10 || !absl::c_all_of(id, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(id, &cell)) {
    return absl::DataLossError(absl::StrCat("etcd holds a malformed key ", absl::CHexEscape(key)));
  }
  return cell;
}

}  // namespace

absl::Status ValidateClusterName(absl::string_view what, absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " \"", absl::CHexEscape(name), "\": must be 1 to ",
                     kMaxNameBytes, " bytes"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid ", what, " \"", absl::CHexEscape(name),
                       "\": only letters, digits, '-', '_' and '.'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ClusterCoord> ClusterCoord::Create(EtcdClient& etcd, const std::string& cluster) {
  if (absl::Status s = ValidateClusterName("cluster name", cluster); !s.ok()) return s;
  return ClusterCoord(etcd, absl::StrCat("/cellindex/", cluster, "/"));
}

std::string ClusterCoord::CellKey(absl::string_view kind, uint32_t cell) const {
  // Zero-padded: the keys sort as the cells do.
  return absl::StrFormat("%s%s%010u", prefix_, kind, cell);
}

std::string ClusterCoord::OwnerKey(uint32_t cell) const { return CellKey(kOwners, cell); }

absl::Status ClusterCoord::RegisterHost(const std::string& name, const std::string& address,
                                        int64_t lease) {
  if (absl::Status s = ValidateClusterName("host name", name); !s.ok()) return s;
  const std::string key = absl::StrCat(prefix_, "hosts/", name);
  absl::StatusOr<EtcdTxnResult> r = etcd_->Txn({EtcdCompare::Absent(key)},
                                               {EtcdOp::Put(key, address, lease)},
                                               {EtcdOp::Get(key)});
  if (!r.ok()) return r.status();
  if (r->succeeded) return absl::OkStatus();
  if (r->gets.size() == 1 && r->gets[0].size() == 1 && r->gets[0][0].lease == lease) {
    // Ours already: only the address changes, compared on the lease's key.
    absl::StatusOr<EtcdTxnResult> again = etcd_->Txn(
        {EtcdCompare::ModRevisionIs(key, r->gets[0][0].mod_revision)},
        {EtcdOp::Put(key, address, lease)}, {});
    if (!again.ok()) return again.status();
    if (again->succeeded) return absl::OkStatus();
  }
  return absl::AlreadyExistsError(
      absl::StrCat("a live host is registered as ", name, " already"));
}

absl::StatusOr<std::map<std::string, std::string>> ClusterCoord::Hosts() {
  const std::string hosts = absl::StrCat(prefix_, "hosts/");
  absl::StatusOr<std::vector<EtcdKv>> kvs = etcd_->GetPrefix(hosts);
  if (!kvs.ok()) return kvs.status();
  std::map<std::string, std::string> out;
  for (EtcdKv& kv : *kvs) out[kv.key.substr(hosts.size())] = std::move(kv.value);
  return out;
}

absl::StatusOr<int64_t> ClusterCoord::ClaimCell(uint32_t cell, const std::string& host,
                                                int64_t lease) {
  if (absl::Status s = ValidateClusterName("host name", host); !s.ok()) return s;
  const std::string key = OwnerKey(cell);
  absl::StatusOr<EtcdTxnResult> r = etcd_->Txn(
      {EtcdCompare::Absent(key)}, {EtcdOp::Put(key, host, lease), EtcdOp::Get(key)},
      {EtcdOp::Get(key)});
  if (!r.ok()) return r.status();
  // Either branch reads the key, in the same transaction as the compare:
  // it is there (ours, or the owner that failed the compare).
  if (r->gets.size() != 1 || r->gets[0].size() != 1) {
    return absl::InternalError(
        absl::StrCat("etcd's reply to the claim of cell ", cell, " names no owner"));
  }
  const EtcdKv& owner = r->gets[0][0];
  if (!r->succeeded) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cell ", cell, " is owned by ", owner.value, " (owner epoch ", owner.create_revision, ")"));
  }
  return owner.create_revision;
}

absl::Status ClusterCoord::ReleaseCell(uint32_t cell, int64_t epoch) {
  const std::string key = OwnerKey(cell);
  absl::StatusOr<EtcdTxnResult> r =
      etcd_->Txn({EtcdCompare::CreateRevisionIs(key, epoch)}, {EtcdOp::Delete(key)}, {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::FailedPreconditionError(
        absl::StrCat("cell ", cell, " is not held under owner epoch ", epoch));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<CellOwner>> ClusterCoord::Owner(uint32_t cell) {
  absl::StatusOr<std::optional<EtcdKv>> kv = etcd_->Get(OwnerKey(cell));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return std::nullopt;
  return CellOwner{(*kv)->value, (*kv)->create_revision, (*kv)->lease};
}

absl::StatusOr<std::map<uint32_t, CellOwner>> ClusterCoord::Owners() {
  const std::string owners = absl::StrCat(prefix_, kOwners);
  absl::StatusOr<std::vector<EtcdKv>> kvs = etcd_->GetPrefix(owners);
  if (!kvs.ok()) return kvs.status();
  std::map<uint32_t, CellOwner> out;
  for (EtcdKv& kv : *kvs) {
    absl::StatusOr<uint32_t> cell = CellOfKey(kv.key, owners);
    if (!cell.ok()) return cell.status();
    out[*cell] = CellOwner{std::move(kv.value), kv.create_revision, kv.lease};
  }
  return out;
}

absl::Status ClusterCoord::Assign(uint32_t cell, const std::string& host,
                                  const std::string& controller, int64_t map_revision) {
  if (absl::Status s = ValidateClusterName("host name", host); !s.ok()) return s;
  const std::string key = absl::StrCat(prefix_, "controller");
  std::vector<EtcdCompare> compares = {EtcdCompare::ValueIs(key, controller)};
  if (map_revision != 0) {
    compares.push_back(EtcdCompare::ModRevisionIs(absl::StrCat(prefix_, "map"), map_revision));
  }
  absl::StatusOr<EtcdTxnResult> r =
      etcd_->Txn(compares, {EtcdOp::Put(CellKey(kAssigned, cell), host)}, {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::FailedPreconditionError(absl::StrCat(
        controller, " is no longer the controller",
        map_revision != 0 ? absl::StrCat(", or the map changed since revision ", map_revision)
                          : "",
        "; cell ", cell, " not assigned"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint32_t, std::string>> ClusterCoord::Assignments() {
  const std::string assigned = absl::StrCat(prefix_, kAssigned);
  absl::StatusOr<std::vector<EtcdKv>> kvs = etcd_->GetPrefix(assigned);
  if (!kvs.ok()) return kvs.status();
  std::map<uint32_t, std::string> out;
  for (EtcdKv& kv : *kvs) {
    absl::StatusOr<uint32_t> cell = CellOfKey(kv.key, assigned);
    if (!cell.ok()) return cell.status();
    out[*cell] = std::move(kv.value);
  }
  return out;
}

absl::StatusOr<std::string> ClusterCoord::Elect(const std::string& host, int64_t lease) {
  if (absl::Status s = ValidateClusterName("host name", host); !s.ok()) return s;
  const std::string key = absl::StrCat(prefix_, "controller");
  absl::StatusOr<EtcdTxnResult> r = etcd_->Txn(
      {EtcdCompare::Absent(key)}, {EtcdOp::Put(key, host, lease)}, {EtcdOp::Get(key)});
  if (!r.ok()) return r.status();
  if (r->succeeded) return host;
  if (r->gets.size() == 1 && r->gets[0].size() == 1) return r->gets[0][0].value;
  return std::string();  // the controller went meanwhile: none now
}

absl::StatusOr<std::string> ClusterCoord::Controller() {
  absl::StatusOr<std::optional<EtcdKv>> kv = etcd_->Get(absl::StrCat(prefix_, "controller"));
  if (!kv.ok()) return kv.status();
  return kv->has_value() ? (*kv)->value : std::string();
}

absl::StatusOr<Versioned> ClusterCoord::ReadShared(absl::string_view name) {
  absl::StatusOr<std::optional<EtcdKv>> kv = etcd_->Get(absl::StrCat(prefix_, name));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return Versioned{};
  return Versioned{(*kv)->value, (*kv)->mod_revision};
}

absl::StatusOr<int64_t> ClusterCoord::WriteShared(absl::string_view name, absl::string_view what,
                                                  const std::string& value,
                                                  int64_t read_revision) {
  const std::string key = absl::StrCat(prefix_, name);
  const EtcdCompare unchanged = read_revision == 0 ? EtcdCompare::Absent(key)
                                                   : EtcdCompare::ModRevisionIs(key, read_revision);
  absl::StatusOr<EtcdTxnResult> r = etcd_->Txn({unchanged}, {EtcdOp::Put(key, value)}, {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::AbortedError(absl::StrCat(what, " changed since revision ", read_revision,
                                           ": read it again"));
  }
  return r->revision;
}

absl::StatusOr<Versioned> ClusterCoord::ReadMap() { return ReadShared("map"); }

absl::StatusOr<int64_t> ClusterCoord::WriteMap(const std::string& map, int64_t read_revision) {
  return WriteShared("map", "the cell map has", map, read_revision);
}

absl::StatusOr<Versioned> ClusterCoord::ReadPools() { return ReadShared("pools"); }

absl::StatusOr<int64_t> ClusterCoord::WritePools(const std::string& pools,
                                                 int64_t read_revision) {
  return WriteShared("pools", "the pools have", pools, read_revision);
}

absl::Status ClusterCoord::SetDraining(const std::string& host, bool draining) {
  if (absl::Status s = ValidateClusterName("host name", host); !s.ok()) return s;
  const std::string key = absl::StrCat(prefix_, kDraining, host);
  absl::StatusOr<int64_t> r = draining ? etcd_->Put(key, "1") : etcd_->Delete(key);
  return r.status();
}

absl::StatusOr<std::set<std::string>> ClusterCoord::Draining() {
  const std::string draining = absl::StrCat(prefix_, kDraining);
  absl::StatusOr<std::vector<EtcdKv>> kvs = etcd_->GetPrefix(draining);
  if (!kvs.ok()) return kvs.status();
  std::set<std::string> out;
  for (const EtcdKv& kv : *kvs) out.insert(kv.key.substr(draining.size()));
  return out;
}

absl::Status ClusterCoord::ReportCellBytes(uint32_t cell, int64_t epoch, uint64_t bytes) {
  absl::StatusOr<EtcdTxnResult> r =
      etcd_->Txn({EtcdCompare::CreateRevisionIs(OwnerKey(cell), epoch)},
                 {EtcdOp::Put(CellKey(kBytes, cell), absl::StrCat(bytes))}, {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::FailedPreconditionError(
        absl::StrCat("cell ", cell, " is not held under owner epoch ", epoch));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint32_t, uint64_t>> ClusterCoord::CellBytes() {
  const std::string prefix = absl::StrCat(prefix_, kBytes);
  absl::StatusOr<std::vector<EtcdKv>> kvs = etcd_->GetPrefix(prefix);
  if (!kvs.ok()) return kvs.status();
  std::map<uint32_t, uint64_t> out;
  for (const EtcdKv& kv : *kvs) {
    absl::StatusOr<uint32_t> cell = CellOfKey(kv.key, prefix);
    uint64_t bytes = 0;
    if (!cell.ok() || kv.value.empty() || !absl::c_all_of(kv.value, absl::ascii_isdigit) ||
        !absl::SimpleAtoi(kv.value, &bytes)) {
      continue;  // not a size: as if unreported (its owner's next report replaces it)
    }
    out[*cell] = bytes;
  }
  return out;
}

absl::Status ClusterCoord::MarkCellFailed(uint32_t cell, const std::string& host, int64_t lease) {
  if (absl::Status s = ValidateClusterName("host name", host); !s.ok()) return s;
  return etcd_->Put(absl::StrCat(CellKey(kFailed, cell), "/", host), "1", lease).status();
}

absl::StatusOr<std::map<uint32_t, std::set<std::string>>> ClusterCoord::FailedCells() {
  const std::string prefix = absl::StrCat(prefix_, kFailed);
  absl::StatusOr<std::vector<EtcdKv>> kvs = etcd_->GetPrefix(prefix);
  if (!kvs.ok()) return kvs.status();
  std::map<uint32_t, std::set<std::string>> out;
  for (const EtcdKv& kv : *kvs) {
    const size_t slash = kv.key.find('/', prefix.size());
    if (slash == std::string::npos) continue;  // not a mark
    absl::StatusOr<uint32_t> cell = CellOfKey(kv.key.substr(0, slash), prefix);
    if (!cell.ok()) continue;
    out[*cell].insert(kv.key.substr(slash + 1));
  }
  return out;
}

absl::Status ClusterCoord::ClearCellBytes() {
  return etcd_->Delete(absl::StrCat(prefix_, kBytes), /*prefix=*/true).status();
}

std::string ReshapeRequest::Encode() const {
  nlohmann::json j;
  j["op"] = op;
  j["cells"] = cells;
  j["at"] = absl::BytesToHexString(at);
  j["map_revision"] = map_revision;
  j["by"] = by;
  j["reason"] = reason;
  return j.dump();
}

absl::StatusOr<ReshapeRequest> ReshapeRequest::Decode(absl::string_view json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("a reshape request ", what));
  };
  if (!j.is_object()) return bad("is not a JSON object");
  ReshapeRequest r;
  if (!j.contains("op") || !j["op"].is_string()) return bad("has no op");
  r.op = j["op"];
  if (r.op != "split" && r.op != "merge") return bad(absl::StrCat("has op ", r.op));
  if (!j.contains("cells") || !j["cells"].is_array()) return bad("has no cells");
  for (const nlohmann::json& c : j["cells"]) {
    if (!c.is_number_unsigned() || c.get<uint64_t>() > UINT32_MAX) return bad("has a bad cell id");
    r.cells.push_back(c.get<uint32_t>());
  }
  if (r.cells.size() != (r.op == "split" ? 1u : 2u)) return bad("names the wrong number of cells");
  for (const char* field : {"at", "by", "reason"}) {
    if (j.contains(field) && !j[field].is_string()) return bad(absl::StrCat("has a bad ", field));
  }
  const std::string at = j.value("at", "");
  if (at.size() % 2 != 0 || !absl::c_all_of(at, absl::ascii_isxdigit)) return bad("has a bad key");
  r.at = absl::HexStringToBytes(at);
  if (!j.contains("map_revision") || !j["map_revision"].is_number_integer()) {
    return bad("has no map revision");
  }
  r.map_revision = j["map_revision"];
  r.by = j.value("by", "");
  r.reason = j.value("reason", "");
  return r;
}

absl::StatusOr<int64_t> ClusterCoord::RequestReshape(const ReshapeRequest& request) {
  const std::string key = absl::StrCat(prefix_, kReshape);
  const std::string map = absl::StrCat(prefix_, "map");
  absl::StatusOr<EtcdTxnResult> r = etcd_->Txn(
      {EtcdCompare::Absent(key), EtcdCompare::ModRevisionIs(map, request.map_revision)},
      {EtcdOp::Put(key, request.Encode())}, {EtcdOp::Get(key), EtcdOp::Get(map)});
  if (!r.ok()) return r.status();
  if (r->succeeded) return r->revision;
  if (r->gets.size() == 2 && !r->gets[0].empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("a split or merge is under way already (request ",
                     r->gets[0][0].mod_revision, "): ask again once it has ended"));
  }
  return absl::AbortedError(absl::StrCat("the cell map changed since revision ",
                                         request.map_revision, ": read it again"));
}

absl::StatusOr<std::optional<ReshapeRequest>> ClusterCoord::ReadReshape() {
  absl::StatusOr<Versioned> v = ReadShared(kReshape);
  if (!v.ok()) return v.status();
  if (v->revision == 0) return std::nullopt;
  absl::StatusOr<ReshapeRequest> r = ReshapeRequest::Decode(v->value);
  ReshapeRequest out;
  if (r.ok()) {
    out = *std::move(r);
  } else {
    out.error = std::string(r.status().message());
  }
  out.revision = v->revision;
  return out;
}

absl::Status ClusterCoord::FinishReshape(int64_t revision, const std::string& result) {
  const std::string key = absl::StrCat(prefix_, kReshape);
  absl::StatusOr<EtcdTxnResult> r =
      etcd_->Txn({EtcdCompare::ModRevisionIs(key, revision)},
                 {EtcdOp::Delete(key), EtcdOp::Delete(absl::StrCat(prefix_, kReshapeRunner)),
                  EtcdOp::Put(absl::StrCat(prefix_, kReshapeResult), result)},
                 {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::FailedPreconditionError(
        absl::StrCat("reshape request ", revision, " is no longer the one under way"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ClusterCoord::CommitReshape(const ReshapeRequest& request,
                                                    const std::string& map,
                                                    const std::map<uint32_t, int64_t>& parents,
                                                    const std::vector<uint32_t>& children,
                                                    const std::string& host, int64_t lease,
                                                    const std::string& result) {
  if (absl::Status s = ValidateClusterName("host name", host); !s.ok()) return s;
  std::vector<EtcdCompare> compares = {
      EtcdCompare::ModRevisionIs(absl::StrCat(prefix_, "map"), request.map_revision),
      EtcdCompare::ModRevisionIs(absl::StrCat(prefix_, kReshape), request.revision)};
  std::vector<EtcdOp> ops = {EtcdOp::Put(absl::StrCat(prefix_, "map"), map),
                             EtcdOp::Delete(absl::StrCat(prefix_, kReshape)),
                             EtcdOp::Delete(absl::StrCat(prefix_, kReshapeRunner)),
                             EtcdOp::Put(absl::StrCat(prefix_, kReshapeResult), result)};
  for (const auto& [cell, epoch] : parents) {
    compares.push_back(EtcdCompare::CreateRevisionIs(OwnerKey(cell), epoch));
    ops.push_back(EtcdOp::Delete(OwnerKey(cell)));
    ops.push_back(EtcdOp::Delete(CellKey(kAssigned, cell)));
    ops.push_back(EtcdOp::Delete(CellKey(kBytes, cell)));
  }
  for (uint32_t cell : children) {
    ops.push_back(EtcdOp::Put(OwnerKey(cell), host, lease));
    ops.push_back(EtcdOp::Put(CellKey(kAssigned, cell), host));
  }
  absl::StatusOr<EtcdTxnResult> r = etcd_->Txn(compares, ops, {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::AbortedError(
        "the map, the request or a parent's claim changed: the split or merge did not commit");
  }
  return r->revision;
}

absl::StatusOr<int64_t> ClusterCoord::ResolveReshape(const ReshapeRequest& request,
                                                     uint32_t child, const std::string& host) {
  absl::Status withdrawn = FinishReshape(
      request.revision, nlohmann::json({{"request", request.revision},
                                        {"outcome", "failed"},
                                        {"error", "its commit's outcome was unknown"}})
                            .dump());
  if (withdrawn.ok()) return 0;
  if (!absl::IsFailedPrecondition(withdrawn)) return withdrawn;
  // The request is gone: committed, or withdrawn by someone else.
  absl::StatusOr<std::optional<CellOwner>> owner = Owner(child);
  if (!owner.ok()) return owner.status();
  if (owner->has_value() && (*owner)->host == host && (*owner)->epoch > request.revision) {
    return (*owner)->epoch;
  }
  return 0;
}

absl::StatusOr<Versioned> ClusterCoord::ReadReshapeResult() { return ReadShared(kReshapeResult); }

absl::Status ClusterCoord::RunReshape(int64_t revision, const std::string& host, int64_t lease) {
  if (absl::Status s = ValidateClusterName("host name", host); !s.ok()) return s;
  absl::StatusOr<EtcdTxnResult> r = etcd_->Txn(
      {EtcdCompare::ModRevisionIs(absl::StrCat(prefix_, kReshape), revision)},
      {EtcdOp::Put(absl::StrCat(prefix_, kReshapeRunner), absl::StrCat(host, " ", revision),
                   lease)},
      {});
  if (!r.ok()) return r.status();
  if (!r->succeeded) {
    return absl::FailedPreconditionError(
        absl::StrCat("reshape request ", revision, " is no longer the one under way"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ClusterCoord::ReshapeRunner(int64_t revision) {
  absl::StatusOr<Versioned> v = ReadShared(kReshapeRunner);
  if (!v.ok()) return v.status();
  // "<host> <request revision>": a mark left by an earlier request (its
  // end not written) is no runner of this one.
  const size_t space = v->value.rfind(' ');
  if (space == std::string::npos || v->value.substr(space + 1) != absl::StrCat(revision)) {
    return std::string();
  }
  return v->value.substr(0, space);
}

}  // namespace cellindex
