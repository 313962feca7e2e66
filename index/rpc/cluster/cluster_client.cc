#include "index/rpc/cluster/cluster_client.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "index/model/cell_map.h"
#include "index/model/page_range.h"
#include "index/rpc/client.h"
#include "recovery/coord/cluster_coord.h"
#include "recovery/coord/etcd_client.h"

namespace cellindex {

// What a call is, for how long one attempt at a host may wait.
enum class CallKind {
  kRead,   // attempt_deadline: a frozen host is left soon
  kWrite,  // write_attempt_deadline; sent again only when unapplied
  kScan,   // one cell's part of a List or Locate page (up to 1000 entries):
           // write_attempt_deadline, as a read otherwise
};

struct ClusterClient::Impl {
  ClusterClientOptions options;
  std::unique_ptr<EtcdClient> etcd;
  std::optional<ClusterCoord> coord;

  mutable absl::Mutex mu;
  std::vector<CellRange> cells ABSL_GUARDED_BY(mu);          // the map, from a host
  uint64_t map_epoch ABSL_GUARDED_BY(mu) = 0;
  int64_t map_revision ABSL_GUARDED_BY(mu) = 0;  // etcd's, of the map read from it
  uint64_t map_reads ABSL_GUARDED_BY(mu) = 0;
  std::map<CellId, std::string> owner_address ABSL_GUARDED_BY(mu);
  // Per kind of call (CallKind), per host address.
  std::map<std::string, std::unique_ptr<Client>> clients[3] ABSL_GUARDED_BY(mu);
  uint64_t owner_reads ABSL_GUARDED_BY(mu) = 0;

  // Reads the owners and hosts from etcd, and the cell map: from etcd, where
  // the controller publishes it, when it has changed since the last read
  // (its revision); from a host while etcd has none. Unavailable when etcd
  // or every host is away.
  absl::Status Refresh() {
    absl::StatusOr<std::map<uint32_t, CellOwner>> owners = coord->Owners();
    if (!owners.ok()) return owners.status();
    absl::StatusOr<std::map<std::string, std::string>> hosts = coord->Hosts();
    if (!hosts.ok()) return hosts.status();
    absl::StatusOr<Versioned> published = coord->ReadMap();
    if (!published.ok()) return published.status();
    std::vector<Client*> ask;  // for the map, if neither etcd nor this has one
    {
      absl::MutexLock lock(&mu);
      ++owner_reads;
      owner_address.clear();
      for (const auto& [cell, owner] : *owners) {
        auto host = hosts->find(owner.host);
        if (host != hosts->end()) owner_address[cell] = host->second;
      }
      // Forward only: a refresh that read etcd before another's did not
      // replace the newer map that one installed.
      if (published->revision > map_revision) {
        absl::StatusOr<CellMap> map = CellMap::Decode(published->value);
        if (!map.ok()) return map.status();  // DataLoss: never route on a damaged map
        cells = map->cells();
        map_epoch = map->epoch();
        map_revision = published->revision;
        ++map_reads;
      }
      if (!cells.empty()) return absl::OkStatus();
      for (const auto& [name, address] : *hosts) ask.push_back(ClientForLocked(address, CallKind::kRead));
    }
    // Asked without the lock: the other calls route meanwhile (a Client,
    // once made, lives as long as this).
    absl::Status last = absl::UnavailableError("no host is registered");
    for (Client* host : ask) {
      absl::StatusOr<RemoteCellMap> map = host->CellMap();
      if (map.ok()) {
        absl::MutexLock lock(&mu);
        if (cells.empty()) {  // not if etcd's came meanwhile
          cells = map->cells;
          map_epoch = map->epoch;
          ++map_reads;
        }
        return absl::OkStatus();
      }
      last = map.status();
    }
    return last;
  }

  // Reads the map (Refresh) unless one is known already.
  absl::Status EnsureMap() { return MapKnown() ? absl::OkStatus() : Refresh(); }

  bool MapKnown() const {
    absl::MutexLock lock(&mu);
    return !cells.empty();
  }

  Client* ClientForLocked(const std::string& address, CallKind kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_ptr<Client>& c = clients[static_cast<int>(kind)][address];
    if (c == nullptr) {
      ClientOptions o;
      o.deadline = kind == CallKind::kRead ? options.attempt_deadline
                                           : options.write_attempt_deadline;
      // Any call to a host that does not connect goes elsewhere soon: a
      // write unsent applied nothing.
      o.connect_deadline = options.attempt_deadline;
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

  // The client of the host that owns the cell of `encoded` (or cell `id`)
  // in the cached view, or null.
  Client* Route(const std::string& encoded, CallKind kind) {
    absl::MutexLock lock(&mu);
    std::optional<CellId> cell = CellOfLocked(encoded);
    return cell ? OwnerLocked(*cell, kind) : nullptr;
  }
  Client* Route(CellId id, CallKind kind) {
    absl::MutexLock lock(&mu);
    return OwnerLocked(id, kind);
  }
  Client* OwnerLocked(CellId id, CallKind kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = owner_address.find(id);
    return it == owner_address.end() ? nullptr : ClientForLocked(it->second, kind);
  }

  // InvalidArgument, as the index's, when the map has no cell `id`;
  // Unavailable when the map cannot be read.
  absl::Status CheckCell(CellId id) {
    if (absl::Status s = EnsureMap(); !s.ok()) return s;
    absl::MutexLock lock(&mu);
    for (const CellRange& c : cells) {
      if (c.id == id) return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("no cell ", id, " in the cell map (epoch ", map_epoch, ")"));
  }

  // The map's cells that hold part of `range`, in key order. Unavailable
  // when the map cannot be read.
  absl::StatusOr<std::vector<CellId>> CellsIn(const ScanRange& range) {
    if (absl::Status s = EnsureMap(); !s.ok()) return s;
    absl::MutexLock lock(&mu);
    std::vector<CellId> in;
    for (const CellRange& c : cells) {
      if ((c.hi_unbounded || c.hi > range.start) && (range.end.empty() || c.lo < range.end)) {
        in.push_back(c.id);
      }
    }
    return in;
  }

  // Runs `call` against the owner of `where` (an encoded key or a cell id)
  // until it succeeds, fails for good, or the deadline passes (see
  // cluster_client.h).
  template <typename T, typename Where, typename Call>
  T Run(const Where& where, CallKind kind, Call call) {
    return Run<T>(where, kind, absl::Now() + options.deadline, call);
  }
  template <typename T, typename Where, typename Call>
  T Run(const Where& where, CallKind kind, absl::Time deadline, Call call) {
    const bool write = kind == CallKind::kWrite;
    absl::Duration backoff = options.initial_backoff;
    absl::Status last = absl::UnavailableError("no owner known yet");
    bool refresh = !MapKnown();
    for (;;) {
      if (refresh) {
        if (absl::Status s = Refresh(); !s.ok()) last = s;
      }
      refresh = true;
      if (Client* client = Route(where, kind); client != nullptr) {
        T r = call(*client);
        const absl::Status& s = StatusOf(r);
        if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) return r;
        // A write is sent again only when it applied nothing.
        if (write && !WasNotApplied(s)) return r;
        last = s;
      } else if (MapKnown()) {
        last = absl::UnavailableError("no host owns the cell now");
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

  // One page of a read that spans cells (List, Locate), assembled from the
  // cells of `range` in key order, each read from its owner with
  // `read(client, cell, max, token)`: up to `max` entries of the cell after
  // `token` (empty: the caller's own start). `token_after(part)` is the
  // token of a page that ended with part's last entry. As in the index,
  // past a full page only whether anything follows is read (one attempt per
  // cell): a cell that does not answer then makes the page truncated.
  template <typename Result, typename Read, typename TokenAfter>
  absl::StatusOr<Result> Assemble(const ScanRange& range, int max, Read read,
                                  TokenAfter token_after) {
    Result page;
    if (max == 0 || range.empty()) return page;  // as the index
    absl::StatusOr<std::vector<CellId>> in = CellsIn(range);
    if (!in.ok()) return in.status();
    const absl::Time deadline = absl::Now() + options.deadline;
    std::string token;  // after the page's last entry so far
    int left = max;
    for (CellId cell : *in) {
      const bool probe = left == 0;
      absl::StatusOr<Result> part = Run<absl::StatusOr<Result>>(
          cell, CallKind::kScan, probe ? absl::Now() : deadline,
          [&](Client& c) { return read(c, cell, probe ? 1 : left, token); });
      if (probe) {
        if (part.ok() && Count(*part) == 0) continue;
        if (!part.ok() && !absl::IsUnavailable(part.status())) return part.status();
        page.is_truncated = true;
        break;
      }
      if (!part.ok()) return part.status();
      if (Count(*part) == 0) continue;
      left -= Count(*part);
      token = token_after(*part);
      const bool truncated = part->is_truncated;
      Append(*std::move(part), &page);
      if (truncated) {
        page.is_truncated = true;
        break;
      }
    }
    if (page.is_truncated) page.next_continuation_token = token;
    return page;
  }

  static int Count(const ListResult& r) { return r.key_count; }
  static int Count(const LocateResult& r) { return static_cast<int>(r.objects.size()); }
  static void Append(ListResult&& part, ListResult* page) {
    for (ListedObject& o : part.contents) page->contents.push_back(std::move(o));
    for (std::string& p : part.common_prefixes) page->common_prefixes.push_back(std::move(p));
    page->key_count += part.key_count;
  }
  static void Append(LocateResult&& part, LocateResult* page) {
    for (LocatedObject& o : part.objects) page->objects.push_back(std::move(o));
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
      EncodeKey(key), CallKind::kWrite, [&](Client& c) { return c.Put(key, record, precondition); });
}

absl::StatusOr<ObjectRecord> ClusterClient::Get(const ObjectKey& key) {
  return impl_->Run<absl::StatusOr<ObjectRecord>>(EncodeKey(key), CallKind::kRead,
                                                  [&](Client& c) { return c.Get(key); });
}

absl::Status ClusterClient::Delete(const ObjectKey& key, const Precondition& precondition) {
  return impl_->Run<absl::Status>(EncodeKey(key), CallKind::kWrite,
                                  [&](Client& c) { return c.Delete(key, precondition); });
}

absl::StatusOr<std::vector<uint64_t>> ClusterClient::Write(const WriteBatch& batch) {
  if (batch.empty()) return std::vector<uint64_t>{};
  const std::string first = EncodeKey(batch.ops().front().key);
  {
    // One cell: the map is needed to tell.
    (void)impl_->EnsureMap();
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
      first, CallKind::kWrite, [&](Client& c) { return c.Write(batch); });
}

absl::StatusOr<ListResult> ClusterClient::List(absl::string_view bucket,
                                                const ListOptions& options) {
  if (options.cell) {  // one cell's part, from its owner
    if (absl::Status s = impl_->CheckCell(*options.cell); !s.ok()) return s;
    return impl_->Run<absl::StatusOr<ListResult>>(
        *options.cell, CallKind::kScan, [&](Client& c) { return c.List(bucket, options); });
  }
  absl::StatusOr<ScanRange> range = ListKeyRange(bucket, options);
  if (!range.ok()) return range.status();
  return impl_->Assemble<ListResult>(
      *range, std::min(options.max_keys, kMaxListKeys),
      [&](Client& c, CellId cell, int max, const std::string& token) {
        ListOptions part = options;
        part.cell = cell;
        part.max_keys = max;
        if (!token.empty()) part.continuation_token = token;
        return c.List(bucket, part);
      },
      [&](const ListResult& part) {
        // The last entry is the greater of the last key and the last common
        // prefix: a key after a common prefix sorts after all of its keys,
        // and a common prefix after a key sorts after the key.
        const bool prefix_last =
            !part.common_prefixes.empty() &&
            (part.contents.empty() || part.common_prefixes.back() > part.contents.back().key);
        return ListPageToken(bucket, options,
                             prefix_last ? part.common_prefixes.back() : part.contents.back().key,
                             prefix_last);
      });
}

absl::StatusOr<LocateResult> ClusterClient::Locate(const LocateOptions& options) {
  if (options.cell) {
    if (absl::Status s = impl_->CheckCell(*options.cell); !s.ok()) return s;
    return impl_->Run<absl::StatusOr<LocateResult>>(
        *options.cell, CallKind::kScan, [&](Client& c) { return c.Locate(options); });
  }
  absl::StatusOr<ScanRange> range = LocateKeyRange(options);
  if (!range.ok()) return range.status();
  return impl_->Assemble<LocateResult>(
      *range, std::min(options.max_objects, kMaxLocateObjects),
      [&](Client& c, CellId cell, int max, const std::string& token) {
        LocateOptions part = options;
        part.cell = cell;
        part.max_objects = max;
        if (!token.empty()) part.continuation_token = token;
        return c.Locate(part);
      },
      [&](const LocateResult& part) {
        return LocatePageToken(options, EncodeKey(part.objects.back().key));
      });
}

absl::StatusOr<uint32_t> ClusterClient::CellOf(const ObjectKey& key) {
  if (absl::Status s = impl_->EnsureMap(); !s.ok()) return s;
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

uint64_t ClusterClient::map_epoch() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->map_epoch;
}

uint64_t ClusterClient::map_reads() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->map_reads;
}

}  // namespace cellindex
