#include "index/model/capacity.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "index/base/coding.h"
#include "nlohmann/json.hpp"

namespace cellindex {
namespace {

constexpr uint32_t kMagic = 0x564e5649;  // "IVNV"
constexpr uint8_t kFormat = 1;

}  // namespace

const char* RemovalRefusalName(RemovalRefusal refusal) {
  switch (refusal) {
    case RemovalRefusal::kNone:
      return "none";
    case RemovalRefusal::kUnknownHost:
      return "unknown_host";
    case RemovalRefusal::kMatchCount:
      return "match_count";
    case RemovalRefusal::kBelowPoolMinimum:
      return "below_pool_minimum";
    case RemovalRefusal::kSurvivorsFull:
      return "survivors_full";
    case RemovalRefusal::kUnhealthyCell:
      return "unhealthy_cell";
    case RemovalRefusal::kStepTooLarge:
      return "step_too_large";
  }
  return "unknown";
}

absl::Status ValidatePool(const Pool& pool) {
  if (pool.name.empty() || pool.name.size() > 63 ||
      !std::all_of(pool.name.begin(), pool.name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid pool name \"", pool.name, "\": 1 to 63 of a-z, 0-9, _ and -"));
  }
  if (pool.min_spare_cells > 0 && pool.max_cells_per_host == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pool ", pool.name, ": a minimum of spare cells needs a per-host cell limit"));
  }
  std::set<std::string> seen;
  for (const std::string& h : pool.hosts) {
    if (h.empty()) return absl::InvalidArgumentError(absl::StrCat("pool ", pool.name, ": empty host name"));
    if (!seen.insert(h).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("pool ", pool.name, ": host ", h, " is listed twice"));
    }
  }
  return absl::OkStatus();
}

std::string Inventory::PoolOf(const std::string& host) const {
  for (const Pool& p : pools) {
    if (std::find(p.hosts.begin(), p.hosts.end(), host) != p.hosts.end()) return p.name;
  }
  return kDefaultPool;
}

const Pool* Inventory::FindPool(const std::string& name) const {
  for (const Pool& p : pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

void Inventory::RemoveHost(const std::string& host) {
  hosts.erase(host);
  for (Pool& p : pools) p.hosts.erase(std::remove(p.hosts.begin(), p.hosts.end(), host), p.hosts.end());
}

void Inventory::SetPool(Pool pool) {
  std::sort(pool.hosts.begin(), pool.hosts.end());
  for (Pool& p : pools) {
    if (p.name == pool.name) continue;
    p.hosts.erase(std::remove_if(p.hosts.begin(), p.hosts.end(),
                                 [&pool](const std::string& h) {
                                   return std::binary_search(pool.hosts.begin(),
                                                             pool.hosts.end(), h);
                                 }),
                  p.hosts.end());
  }
  auto it = std::find_if(pools.begin(), pools.end(),
                         [&pool](const Pool& p) { return p.name == pool.name; });
  if (it != pools.end()) {
    *it = std::move(pool);
  } else {
    pools.push_back(std::move(pool));
  }
  std::sort(pools.begin(), pools.end(),
            [](const Pool& a, const Pool& b) { return a.name < b.name; });
}

std::string Inventory::Encode() const {
  std::string out;
  PutFrameHeader(&out, kMagic, kFormat);
  PutVarint64(&out, hosts.size());
  for (const auto& [name, dir] : hosts) {
    PutLengthPrefixed(&out, name);
    PutLengthPrefixed(&out, dir);
  }
  PutVarint64(&out, pools.size());
  for (const Pool& p : pools) {
    PutLengthPrefixed(&out, p.name);
    PutVarint64(&out, p.min_hosts);
    PutVarint64(&out, p.min_spare_cells);
    PutVarint64(&out, p.max_cells_per_host);
    PutVarint64(&out, p.max_bytes_per_host);
    PutVarint64(&out, p.hosts.size());
    for (const std::string& h : p.hosts) PutLengthPrefixed(&out, h);
  }
  PutChecksumTrailer(&out);
  return out;
}

absl::StatusOr<Inventory> Inventory::Decode(absl::string_view data) {
  auto damaged = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("inventory is damaged: ", why));
  };
  absl::string_view body;
  if (const char* why = OpenFrame(data, kMagic, kFormat, &body)) return damaged(why);
  Inventory inv;
  uint64_t count;
  if (!GetVarint64(&body, &count) || count > body.size()) return damaged("bad host count");
  for (uint64_t i = 0; i < count; ++i) {
    absl::string_view name, dir;
    if (!GetLengthPrefixed(&body, &name) || !GetLengthPrefixed(&body, &dir)) {
      return damaged("bad host entry");
    }
    inv.hosts[std::string(name)] = std::string(dir);
  }
  if (!GetVarint64(&body, &count) || count > body.size()) return damaged("bad pool count");
  for (uint64_t i = 0; i < count; ++i) {
    Pool p;
    absl::string_view name;
    uint64_t members;
    if (!GetLengthPrefixed(&body, &name) || !GetVarint64(&body, &p.min_hosts) ||
        !GetVarint64(&body, &p.min_spare_cells) || !GetVarint64(&body, &p.max_cells_per_host) ||
        !GetVarint64(&body, &p.max_bytes_per_host) || !GetVarint64(&body, &members) ||
        members > body.size()) {
      return damaged("bad pool entry");
    }
    p.name = std::string(name);
    for (uint64_t m = 0; m < members; ++m) {
      absl::string_view h;
      if (!GetLengthPrefixed(&body, &h)) return damaged("bad pool member");
      p.hosts.emplace_back(h);
    }
    if (!ValidatePool(p).ok()) return damaged(absl::StrCat("invalid pool ", p.name));
    inv.pools.push_back(std::move(p));
  }
  if (!body.empty()) return damaged("trailing bytes");
  return inv;
}

namespace {

nlohmann::ordered_json MovesJson(const std::vector<CellMove>& moves) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const CellMove& m : moves) {
    out.push_back({{"cell", m.cell}, {"from", m.from}, {"to", m.to}, {"bytes", m.bytes},
                   {"step", m.step + 1}});
  }
  return out;
}

}  // namespace

std::string RemovalPlanJson(const RemovalPlan& plan) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["hosts"] = plan.hosts;
  j["steps"] = plan.steps;
  j["moves"] = MovesJson(plan.moves);
  Json pools = Json::array();
  for (const PoolCapacity& p : plan.pools) {
    Json pj = {{"pool", p.pool},
               {"min_hosts", p.min_hosts},
               {"hosts_before", p.hosts_before},
               {"hosts_after", p.hosts_after},
               {"cells_before", p.cells_before},
               {"cells_after", p.cells_after},
               {"min_spare_cells", p.min_spare_cells}};
    if (p.spare_before) pj["spare_before"] = *p.spare_before;
    if (p.spare_after) pj["spare_after"] = *p.spare_after;
    pools.push_back(pj);
  }
  j["pools"] = pools;
  if (plan.refusal != RemovalRefusal::kNone) {
    j["refusal"] = RemovalRefusalName(plan.refusal);
    j["reason"] = plan.reason;
  }
  j["executed"] = plan.executed;
  if (plan.executed) {
    Json steps = Json::array();
    for (const RemovalStepReport& s : plan.step_reports) {
      Json w = Json::array();
      for (absl::Duration d : s.unavailable) w.push_back(absl::ToDoubleMilliseconds(d));
      Json sj = {{"hosts", s.hosts}, {"done", s.done}, {"unavailable_ms", w}};
      if (!s.error.empty()) sj["error"] = s.error;
      steps.push_back(sj);
    }
    j["step_reports"] = steps;
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string RebalancePlanJson(const RebalancePlan& plan) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["moves"] = MovesJson(plan.moves);
  if (plan.refusal != RemovalRefusal::kNone) {
    j["refusal"] = RemovalRefusalName(plan.refusal);
    j["reason"] = plan.reason;
  }
  j["executed"] = plan.executed;
  if (plan.executed) {
    Json w = Json::array();
    for (absl::Duration d : plan.unavailable) w.push_back(absl::ToDoubleMilliseconds(d));
    j["unavailable_ms"] = w;
    if (!plan.error.empty()) j["error"] = plan.error;
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace cellindex
