#include "index/rpc/cluster/cluster_client.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "index/model/cell_map.h"
#include "index/rpc/client.h"
#include "recovery/coord/cluster_coord.h"
#include "recovery/coord/etcd_client.h"

namespace cellindex {

struct ClusterClient::Impl {
  ClusterClientOptions options;
  std::unique_ptr<EtcdClient> etcd;
  std::optional<ClusterCoord> coord;

  mutable absl::Mutex mu;
  std::vector<CellRange> cells ABSL_GUARDED_BY(mu);          // the map, from a host
  std::map<CellId, std::string> owner_address ABSL_GUARDED_BY(mu);
  // Per host address: for reads (attempt_deadline) and writes
  // (write_attempt_deadline).
  std::map<std::string, std::unique_ptr<Client>> clients ABSL_GUARDED_BY(mu);
  std::map<std::string, std::unique_ptr<Client>> write_clients ABSL_GUARDED_BY(mu);
  uint64_t owner_reads ABSL_GUARDED_BY(mu) = 0;

  // Reads the owners and hosts from etcd (and the map from a host, the
  // first time). Unavailable when etcd or every host is away.
  absl::Status Refresh() {
    absl::StatusOr<std::map<uint32_t, CellOwner>> owners = coord->Owners();
    if (!owners.ok()) return owners.status();
    absl::StatusOr<std::map<std::string, std::string>> hosts = coord->Hosts();
    if (!hosts.ok()) return hosts.status();
    std::vector<Client*> ask;  // for the map, if it is not known yet
    {
      absl::MutexLock lock(&mu);
      ++owner_reads;
      owner_address.clear();
      for (const auto& [cell, owner] : *owners) {
        auto host = hosts->find(owner.host);
        if (host != hosts->end()) owner_address[cell] = host->second;
      }
      if (!cells.empty()) return absl::OkStatus();
      for (const auto& [name, address] : *hosts) ask.push_back(ClientForLocked(address, false));
    }
    // Asked without the lock: the other calls route meanwhile (a Client,
    // once made, lives as long as this).
    absl::Status last = absl::UnavailableError("no host is registered");
    for (Client* host : ask) {
      absl::StatusOr<RemoteCellMap> map = host->CellMap();
      if (map.ok()) {
        absl::MutexLock lock(&mu);
        cells = map->cells;
        return absl::OkStatus();
      }
      last = map.status();
    }
    return last;
  }

  bool MapKnown() const {
    absl::MutexLock lock(&mu);
    return !cells.empty();
  }

  Client* ClientForLocked(const std::string& address, bool write)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_ptr<Client>& c = (write ? write_clients : clients)[address];
    if (c == nullptr) {
      ClientOptions o;
      o.deadline = write ? options.write_attempt_deadline : options.attempt_deadline;
      o.initial_backoff = options.initial_backoff;
      o.max_backoff = options.max_backoff;
      c = *Client::Connect(address, o);  // the address came from a host's registration
    }
    return c.get();
  }

  // The cell of an encoded key, if the map is known.
  std::optional<CellId> CellOfLocked(const std::string& encoded) const
      ABSL_SHARED_LOCKS_REQUIRED(mu) {
    for (const CellRange& c : cells) {
      if (c.Contains(encoded)) return c.id;
    }
    return std::nullopt;
  }

  // The client of the host that owns the cell of `encoded` in the cached
  // view, or null.
  Client* Route(const std::string& encoded, bool write) {
    absl::MutexLock lock(&mu);
    std::optional<CellId> cell = CellOfLocked(encoded);
    if (!cell) return nullptr;
    auto it = owner_address.find(*cell);
    return it == owner_address.end() ? nullptr : ClientForLocked(it->second, write);
  }

  // Runs `call` against the owner of `encoded` until it succeeds, fails for
  // good, or the deadline passes (see cluster_client.h).
  template <typename T, typename Call>
  T Run(const std::string& encoded, bool write, Call call) {
    const absl::Time deadline = absl::Now() + options.deadline;
    absl::Duration backoff = options.initial_backoff;
    absl::Status last = absl::UnavailableError("no owner known yet");
    bool refresh = !MapKnown();
    for (;;) {
      if (refresh) {
        if (absl::Status s = Refresh(); !s.ok()) last = s;
      }
      refresh = true;
      if (Client* client = Route(encoded, write); client != nullptr) {
        T r = call(*client);
        const absl::Status& s = StatusOf(r);
        if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) return r;
        // A write is sent again only when it applied nothing.
        if (write && !WasNotApplied(s)) return r;
        last = s;
      } else if (MapKnown()) {
        last = absl::UnavailableError("no host owns the key's cell now");
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::UnavailableError(absl::StrCat("no answer within the deadline: ",
                                                   last.message()));
      }
      absl::SleepFor(std::min(backoff, left));  // backoff before asking etcd again
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }

  static const absl::Status& StatusOf(const absl::Status& s) { return s; }
  template <typename V>
  static const absl::Status& StatusOf(const absl::StatusOr<V>& s) {
    return s.status();
  }
};

absl::StatusOr<std::unique_ptr<ClusterClient>> ClusterClient::Connect(
    const ClusterClientOptions& options) {
  if (options.etcd_endpoints.empty()) {
    return absl::InvalidArgumentError("the cluster client needs at least one etcd endpoint");
  }
  if (options.deadline <= absl::ZeroDuration() ||
      options.attempt_deadline <= absl::ZeroDuration() ||
      options.write_attempt_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the cluster client's deadlines must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  EtcdClient::Options eo;
  eo.endpoints = options.etcd_endpoints;
  eo.timeout = std::min(options.attempt_deadline, absl::Seconds(2));
  absl::StatusOr<std::unique_ptr<EtcdClient>> etcd = EtcdClient::Create(eo);
  if (!etcd.ok()) return etcd.status();
  impl->etcd = *std::move(etcd);
  absl::StatusOr<ClusterCoord> coord = ClusterCoord::Create(*impl->etcd, options.cluster);
  if (!coord.ok()) return coord.status();
  impl->coord.emplace(*std::move(coord));
  return std::unique_ptr<ClusterClient>(new ClusterClient(std::move(impl)));
}

ClusterClient::ClusterClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClusterClient::~ClusterClient() = default;

absl::StatusOr<uint64_t> ClusterClient::Put(const ObjectKey& key, const ObjectRecord& record,
                                            const Precondition& precondition) {
  return impl_->Run<absl::StatusOr<uint64_t>>(
      EncodeKey(key), true, [&](Client& c) { return c.Put(key, record, precondition); });
}

absl::StatusOr<ObjectRecord> ClusterClient::Get(const ObjectKey& key) {
  return impl_->Run<absl::StatusOr<ObjectRecord>>(EncodeKey(key), false,
                                                  [&](Client& c) { return c.Get(key); });
}

absl::Status ClusterClient::Delete(const ObjectKey& key, const Precondition& precondition) {
  return impl_->Run<absl::Status>(EncodeKey(key), true,
                                  [&](Client& c) { return c.Delete(key, precondition); });
}

absl::StatusOr<std::vector<uint64_t>> ClusterClient::Write(const WriteBatch& batch) {
  if (batch.empty()) return std::vector<uint64_t>{};
  const std::string first = EncodeKey(batch.ops().front().key);
  {
    // One cell: the map is needed to tell.
    if (!impl_->MapKnown()) (void)impl_->Refresh();
    absl::MutexLock lock(&impl_->mu);
    if (!impl_->cells.empty()) {
      const std::optional<CellId> cell = impl_->CellOfLocked(first);
      for (const WriteOp& op : batch.ops()) {
        if (impl_->CellOfLocked(EncodeKey(op.key)) != cell) {
          return absl::InvalidArgumentError(absl::StrCat(
              "a batch through the cluster client must stay in one cell: \"", op.key.bucket,
              "/", op.key.key, "\" is not in the cell of the first key"));
        }
      }
    }
  }
  return impl_->Run<absl::StatusOr<std::vector<uint64_t>>>(
      first, true, [&](Client& c) { return c.Write(batch); });
}

absl::StatusOr<uint32_t> ClusterClient::CellOf(const ObjectKey& key) {
  if (!impl_->MapKnown()) {
    if (absl::Status s = impl_->Refresh(); !s.ok()) return s;
  }
  absl::MutexLock lock(&impl_->mu);
  std::optional<CellId> cell = impl_->CellOfLocked(EncodeKey(key));
  if (!cell) return absl::UnavailableError("the cluster's cell map is not known");
  return *cell;
}

std::string ClusterClient::CachedOwnerOf(const ObjectKey& key) const {
  absl::MutexLock lock(&impl_->mu);
  std::optional<CellId> cell = impl_->CellOfLocked(EncodeKey(key));
  if (!cell) return "";
  auto it = impl_->owner_address.find(*cell);
  return it == impl_->owner_address.end() ? "" : it->second;
}

uint64_t ClusterClient::owner_reads() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->owner_reads;
}

}  // namespace cellindex
