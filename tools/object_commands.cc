// `cellindex put | get | rm | ls | locate`: one object, one listing page, or
// the objects on a volume or node.
#include <iostream>
#include <limits>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "index/rpc/cluster/cluster_client.h"
#include "recovery/coord/etcd_client.h"
#include "tools/command_util.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"

namespace cellindex::tools {
namespace {

std::string LocationText(const Extent& e) {
  return absl::StrCat(e.node, ":", e.volume, ":", e.offset, ":", e.length);
}

// "NODE:VOLUME:OFFSET:LENGTH", the numbers as strict as any numeric flag.
absl::StatusOr<Extent> ParseLocation(const std::string& text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --location \"", absl::CHexEscape(text), "\": ", why));
  };
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  if (parts.size() != 4) return invalid("want NODE:VOLUME:OFFSET:LENGTH");
  absl::StatusOr<uint64_t> offset =
      ParseDecimal("OFFSET", parts[2], 0, std::numeric_limits<uint64_t>::max());
  if (!offset.ok()) return invalid(offset.status().message());
  absl::StatusOr<uint64_t> length =
      ParseDecimal("LENGTH", parts[3], 0, std::numeric_limits<uint64_t>::max());
  if (!length.ok()) return invalid(length.status().message());
  return Extent{parts[0], parts[1], *offset, *length};
}

// Two extents of one object that share bytes of a volume (volume names are
// unique across the service): a repeated --location, or a mistyped offset.
// Disjoint extents on one volume are allowed: shards may share a volume.
bool Overlap(const Extent& a, const Extent& b) {
  // A zero length or an end past 2^64 is left to ValidateObjectRecord.
  auto last_byte = [](const Extent& e) -> std::optional<uint64_t> {
    if (e.length == 0 || e.offset > std::numeric_limits<uint64_t>::max() - (e.length - 1)) {
      return std::nullopt;
    }
    return e.offset + (e.length - 1);
  };
  const std::optional<uint64_t> a_last = last_byte(a), b_last = last_byte(b);
  return a.volume == b.volume && a_last && b_last && a.offset <= *b_last && b.offset <= *a_last;
}

absl::StatusOr<ObjectRecord> RecordFromFlags(const PutFlags& put) {
  ObjectRecord r;
  r.size = put.size;
  r.etag = put.etag;
  r.content_type = put.content_type;
  r.storage_class = put.storage_class;
  for (const std::string& text : put.locations) {
    absl::StatusOr<Extent> e = ParseLocation(text);
    if (!e.ok()) return e.status();
    for (const Extent& other : r.locations) {
      if (Overlap(*e, other)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid --location \"", absl::CHexEscape(text),
                         "\": overlaps --location \"", absl::CHexEscape(LocationText(other)),
                         "\" on volume \"", absl::CHexEscape(other.volume), "\""));
      }
    }
    r.locations.push_back(*std::move(e));
  }
  // Names are compared ignoring case, as HTTP headers (x-amz-meta-NAME) are;
  // the map alone would keep the last of two equal names silently.
  absl::flat_hash_set<std::string> names;
  for (const std::string& text : put.metadata) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --meta \"", absl::CHexEscape(text), "\": want NAME=VALUE"));
    }
    std::string name = text.substr(0, eq);
    if (!names.insert(absl::AsciiStrToLower(name)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --meta \"", absl::CHexEscape(text), "\": duplicate name \"",
                       absl::CHexEscape(name), "\" (names ignore case)"));
    }
    r.user_metadata[std::move(name)] = text.substr(eq + 1);
  }
  return r;
}

Json LocationsJson(const std::vector<Extent>& extents) {
  Json list = Json::array();
  for (const Extent& e : extents) {
    list.push_back(
        {{"Node", e.node}, {"Volume", e.volume}, {"Offset", e.offset}, {"Length", e.length}});
  }
  return list;
}

std::string StorageClass(const std::string& c) { return c.empty() ? "STANDARD" : c; }

}  // namespace

namespace {

// Where put, get, rm, ls and locate go: the index in --data/--store, or
// the cluster of host processes (--cluster) through ClusterClient.
struct Target {
  std::unique_ptr<Index> index;
  std::unique_ptr<ClusterClient> cluster;

  absl::StatusOr<uint64_t> Put(const ObjectKey& k, const ObjectRecord& r, const Precondition& p) {
    return cluster ? cluster->Put(k, r, p) : index->Put(k, r, p);
  }
  absl::StatusOr<ObjectRecord> Get(const ObjectKey& k) {
    return cluster ? cluster->Get(k) : index->Get(k);
  }
  absl::Status Delete(const ObjectKey& k) { return cluster ? cluster->Delete(k) : index->Delete(k); }
  absl::StatusOr<ListResult> List(const std::string& bucket, const ListOptions& o) {
    return cluster ? cluster->List(bucket, o) : index->List(bucket, o);
  }
  absl::StatusOr<LocateResult> Locate(const LocateOptions& o) {
    return cluster ? cluster->Locate(o) : index->Locate(o);
  }
};

absl::StatusOr<Target> OpenTarget(const GlobalFlags& flags, bool create) {
  Target t;
  if (flags.cluster.empty()) {
    absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, create);
    if (!index.ok()) return index.status();
    t.index = *std::move(index);
    return t;
  }
  absl::StatusOr<std::vector<std::string>> endpoints = EtcdClient::ParseEndpoints(flags.cluster);
  if (!endpoints.ok()) return endpoints.status();
  ClusterClientOptions o;
  o.etcd_endpoints = *endpoints;
  o.cluster = flags.cluster_name;
  absl::StatusOr<std::unique_ptr<ClusterClient>> c = ClusterClient::Connect(o);
  if (!c.ok()) return c.status();
  t.cluster = *std::move(c);
  return t;
}

}  // namespace

int RunPut(const GlobalFlags& flags, const PutFlags& put) {
  absl::StatusOr<ObjectRecord> record = RecordFromFlags(put);
  if (!record.ok()) return ReportError(record.status());
  Precondition precondition;
  precondition.if_version_match = put.if_match;
  precondition.if_none_match = put.if_none_match;
  absl::StatusOr<Target> index = OpenTarget(flags, /*create=*/true);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<uint64_t> version = index->Put({put.bucket, put.key}, *record, precondition);
  if (!version.ok()) return ReportError(version.status());
  if (flags.json) {
    PrintJson({{"Bucket", put.bucket}, {"Key", put.key}, {"Version", *version}});
  } else {
    std::cout << "version " << *version << "\n";
  }
  return kExitOk;
}

int RunGet(const GlobalFlags& flags, const std::string& bucket, const std::string& key) {
  absl::StatusOr<Target> index = OpenTarget(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<ObjectRecord> r = index->Get({bucket, key});
  if (!r.ok()) return ReportError(r.status());
  if (flags.json) {
    PrintJson({{"Bucket", bucket},
               {"Key", key},
               {"Size", r->size},
               {"ETag", r->etag},
               {"LastModified", Iso8601(r->modified)},
               {"ContentType", r->content_type},
               {"StorageClass", StorageClass(r->storage_class)},
               {"Version", r->version},
               {"Metadata", r->user_metadata},
               {"Locations", LocationsJson(r->locations)}});
    return kExitOk;
  }
  auto line = [](absl::string_view name, absl::string_view value) {
    std::cout << absl::StrFormat("%-14s %s\n", name, value);
  };
  line("Bucket", bucket);
  line("Key", key);
  line("Size", absl::StrCat(r->size));
  line("ETag", r->etag);
  line("LastModified", Iso8601(r->modified));
  line("ContentType", r->content_type);
  line("StorageClass", StorageClass(r->storage_class));
  line("Version", absl::StrCat(r->version));
  for (const auto& [name, value] : r->user_metadata)
    line("Metadata", absl::StrCat(name, "=", value));
  for (const Extent& e : r->locations) line("Location", LocationText(e));
  return kExitOk;
}

int RunRm(const GlobalFlags& flags, const std::string& bucket, const std::string& key) {
  absl::StatusOr<Target> index = OpenTarget(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  if (absl::Status s = index->Delete({bucket, key}); !s.ok()) return ReportError(s);
  if (flags.json) PrintJson({{"Bucket", bucket}, {"Key", key}, {"Deleted", true}});
  return kExitOk;
}

int RunLs(const GlobalFlags& flags, const std::string& bucket, const ListOptions& options) {
  absl::StatusOr<Target> index = OpenTarget(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  absl::StatusOr<ListResult> page = index->List(bucket, options);
  if (!page.ok()) return ReportError(page.status());
  if (flags.json) {
    Json contents = Json::array(), prefixes = Json::array();
    for (const ListedObject& o : page->contents) {
      contents.push_back({{"Key", o.key},
                          {"Size", o.size},
                          {"ETag", o.etag},
                          {"LastModified", Iso8601(o.last_modified)},
                          {"StorageClass", StorageClass(o.storage_class)}});
    }
    for (const std::string& p : page->common_prefixes) prefixes.push_back({{"Prefix", p}});
    Json j = {{"Name", bucket},
              {"Prefix", options.prefix},
              {"Delimiter", options.delimiter},
              {"MaxKeys", std::min(options.max_keys, kMaxListKeys)},
              {"KeyCount", page->key_count},
              {"IsTruncated", page->is_truncated},
              {"Contents", contents},
              {"CommonPrefixes", prefixes}};
    if (page->is_truncated) j["NextContinuationToken"] = page->next_continuation_token;
    PrintJson(j);
    return kExitOk;
  }
  // As `aws s3 ls`: common prefixes, then keys with time and size.
  for (const std::string& p : page->common_prefixes) {
    std::cout << absl::StrFormat("%24s %12s %s\n", "", "PRE", p);
  }
  for (const ListedObject& o : page->contents) {
    std::cout << absl::StrFormat("%24s %12d %s\n", Iso8601(o.last_modified), o.size, o.key);
  }
  if (page->is_truncated) {
    std::cout << "more: --continuation-token " << page->next_continuation_token << "\n";
  }
  return kExitOk;
}

int RunLocate(const GlobalFlags& flags, const LocateFlags& locate) {
  absl::StatusOr<Target> index = OpenTarget(flags, /*create=*/false);
  if (!index.ok()) return ReportError(index.status());
  LocateOptions options = locate.options;
  LocateResult all;
  for (;;) {
    absl::StatusOr<LocateResult> page = index->Locate(options);
    if (!page.ok()) return ReportError(page.status());
    for (LocatedObject& o : page->objects) all.objects.push_back(std::move(o));
    all.is_truncated = page->is_truncated;
    all.next_continuation_token = page->next_continuation_token;
    if (!locate.all || !page->is_truncated) break;
    options.continuation_token = page->next_continuation_token;
  }
  if (flags.json) {
    Json objects = Json::array();
    for (const LocatedObject& o : all.objects) {
      objects.push_back({{"Bucket", o.key.bucket},
                         {"Key", o.key.key},
                         {"Size", o.size},
                         {"Version", o.version},
                         {"Locations", LocationsJson(o.extents)}});
    }
    Json j = {{"Objects", objects}, {"IsTruncated", all.is_truncated}};
    if (all.is_truncated) j["NextContinuationToken"] = all.next_continuation_token;
    PrintJson(j);
    return kExitOk;
  }
  for (const LocatedObject& o : all.objects) {
    std::vector<std::string> extents;
    for (const Extent& e : o.extents) extents.push_back(LocationText(e));
    std::cout << o.key.bucket << "/" << o.key.key << "  " << absl::StrJoin(extents, " ") << "\n";
  }
  if (all.is_truncated) {
    std::cout << "more: --continuation-token " << all.next_continuation_token << "\n";
  }
  return kExitOk;
}

}  // namespace cellindex::tools
