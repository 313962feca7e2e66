#include "index/rpc/rpc_convert.h"

#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace cellindex {
namespace {

void ToProto(const Extent& e, rpc::Extent* out) {
  out->set_node(e.node);
  out->set_volume(e.volume);
  out->set_offset(e.offset);
  out->set_length(e.length);
}

Extent FromProto(const rpc::Extent& e) {
  return Extent{e.node(), e.volume(), e.offset(), e.length()};
}

// InfinitePast (unset) travels as no value.
bool TimeSet(absl::Time t) { return t != absl::InfinitePast(); }

}  // namespace

void ToProto(const ObjectKey& key, rpc::ObjectKey* out) {
  out->set_bucket(key.bucket);
  out->set_key(key.key);
}

ObjectKey FromProto(const rpc::ObjectKey& key) { return ObjectKey{key.bucket(), key.key()}; }

void ToProto(const ObjectRecord& r, rpc::ObjectRecord* out) {
  out->set_size(r.size);
  out->set_etag(r.etag);
  if (TimeSet(r.created)) out->set_created_unix_micros(absl::ToUnixMicros(r.created));
  if (TimeSet(r.modified)) out->set_modified_unix_micros(absl::ToUnixMicros(r.modified));
  out->set_content_type(r.content_type);
  out->set_storage_class(r.storage_class);
  for (const auto& [name, value] : r.user_metadata) {
    rpc::Metadata* m = out->add_user_metadata();
    m->set_name(name);
    m->set_value(value);
  }
  out->set_version(r.version);
  for (const Extent& e : r.locations) ToProto(e, out->add_locations());
}

absl::StatusOr<ObjectRecord> FromProto(const rpc::ObjectRecord& r) {
  ObjectRecord out;
  out.size = r.size();
  out.etag = r.etag();
  if (r.has_created_unix_micros()) out.created = absl::FromUnixMicros(r.created_unix_micros());
  if (r.has_modified_unix_micros()) {
    out.modified = absl::FromUnixMicros(r.modified_unix_micros());
  }
  out.content_type = r.content_type();
  out.storage_class = r.storage_class();
  for (const rpc::Metadata& m : r.user_metadata()) {
    if (!out.user_metadata.emplace(m.name(), m.value()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("user metadata name \"", absl::CHexEscape(m.name()), "\" given twice"));
    }
  }
  out.version = r.version();
  for (const rpc::Extent& e : r.locations()) out.locations.push_back(FromProto(e));
  return out;
}

void ToProto(const Precondition& p, rpc::Precondition* out) {
  if (p.if_version_match) out->set_if_version_match(*p.if_version_match);
  out->set_if_none_match(p.if_none_match);
}

Precondition FromProto(const rpc::Precondition& p) {
  Precondition out;
  if (p.has_if_version_match()) out.if_version_match = p.if_version_match();
  out.if_none_match = p.if_none_match();
  return out;
}

void ToProto(const WriteBatch& batch, rpc::WriteRequest* out) {
  for (const WriteOp& op : batch.ops()) {
    rpc::WriteOp* o = out->add_ops();
    o->set_kind(op.kind == WriteOp::Kind::kPut ? rpc::WriteOp::PUT : rpc::WriteOp::DELETE);
    ToProto(op.key, o->mutable_key());
    if (op.kind == WriteOp::Kind::kPut) ToProto(op.record, o->mutable_record());
    ToProto(op.precondition, o->mutable_precondition());
  }
}

absl::StatusOr<WriteBatch> FromProto(const rpc::WriteRequest& request) {
  WriteBatch batch;
  for (int i = 0; i < request.ops_size(); ++i) {
    const rpc::WriteOp& o = request.ops(i);
    if (o.kind() == rpc::WriteOp::DELETE) {
      batch.Delete(FromProto(o.key()), FromProto(o.precondition()));
    } else if (o.kind() == rpc::WriteOp::PUT) {
      absl::StatusOr<ObjectRecord> record = FromProto(o.record());
      if (!record.ok()) return record.status();
      batch.Put(FromProto(o.key()), *std::move(record), FromProto(o.precondition()));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("write op ", i, " has an unknown kind (", o.kind(), ")"));
    }
  }
  return batch;
}

void ToProto(absl::string_view bucket, const ListOptions& o, rpc::ListRequest* out) {
  out->set_bucket(std::string(bucket));
  out->set_prefix(o.prefix);
  out->set_delimiter(o.delimiter);
  out->set_start_after(o.start_after);
  out->set_continuation_token(o.continuation_token);
  out->set_max_keys(o.max_keys);
  if (o.cell) out->set_cell(*o.cell);
}

ListOptions FromProto(const rpc::ListRequest& r) {
  ListOptions o;
  o.prefix = r.prefix();
  o.delimiter = r.delimiter();
  o.start_after = r.start_after();
  o.continuation_token = r.continuation_token();
  if (r.has_max_keys()) o.max_keys = r.max_keys();
  if (r.has_cell()) o.cell = r.cell();
  return o;
}

void ToProto(const ListResult& result, rpc::ListReply* out) {
  for (const ListedObject& c : result.contents) {
    rpc::ListedObject* o = out->add_contents();
    o->set_key(c.key);
    o->set_size(c.size);
    o->set_etag(c.etag);
    o->set_last_modified_unix_micros(absl::ToUnixMicros(c.last_modified));
    o->set_storage_class(c.storage_class);
  }
  for (const std::string& p : result.common_prefixes) out->add_common_prefixes(p);
  out->set_is_truncated(result.is_truncated);
  out->set_next_continuation_token(result.next_continuation_token);
  out->set_key_count(result.key_count);
}

ListResult FromProto(const rpc::ListReply& reply) {
  ListResult result;
  for (const rpc::ListedObject& o : reply.contents()) {
    result.contents.push_back(ListedObject{o.key(), o.size(), o.etag(),
                                           absl::FromUnixMicros(o.last_modified_unix_micros()),
                                           o.storage_class()});
  }
  for (const std::string& p : reply.common_prefixes()) result.common_prefixes.push_back(p);
  result.is_truncated = reply.is_truncated();
  result.next_continuation_token = reply.next_continuation_token();
  result.key_count = reply.key_count();
  return result;
}

void ToProto(const LocateOptions& o, rpc::LocateRequest* out) {
  out->set_volume(o.volume);
  out->set_node(o.node);
  out->set_continuation_token(o.continuation_token);
  out->set_max_objects(o.max_objects);
  if (o.cell) out->set_cell(*o.cell);
}

LocateOptions FromProto(const rpc::LocateRequest& r) {
  LocateOptions o;
  o.volume = r.volume();
  o.node = r.node();
  o.continuation_token = r.continuation_token();
  if (r.has_max_objects()) o.max_objects = r.max_objects();
  if (r.has_cell()) o.cell = r.cell();
  return o;
}

void ToProto(const LocateResult& result, rpc::LocateReply* out) {
  for (const LocatedObject& l : result.objects) {
    rpc::LocatedObject* o = out->add_objects();
    ToProto(l.key, o->mutable_key());
    o->set_size(l.size);
    o->set_version(l.version);
    for (const Extent& e : l.extents) ToProto(e, o->add_extents());
  }
  out->set_is_truncated(result.is_truncated);
  out->set_next_continuation_token(result.next_continuation_token);
}

LocateResult FromProto(const rpc::LocateReply& reply) {
  LocateResult result;
  for (const rpc::LocatedObject& o : reply.objects()) {
    LocatedObject l;
    l.key = FromProto(o.key());
    l.size = o.size();
    l.version = o.version();
    for (const rpc::Extent& e : o.extents()) l.extents.push_back(FromProto(e));
    result.objects.push_back(std::move(l));
  }
  result.is_truncated = reply.is_truncated();
  result.next_continuation_token = reply.next_continuation_token();
  return result;
}

void ToProto(const CellRange& range, rpc::CellRange* out) {
  out->set_id(range.id);
  out->set_lo(range.lo);
  out->set_hi(range.hi);
  out->set_hi_unbounded(range.hi_unbounded);
  out->set_host(range.host);
}

CellRange FromProto(const rpc::CellRange& range) {
  CellRange out;
  out.id = range.id();
  out.lo = range.lo();
  out.hi = range.hi();
  out.hi_unbounded = range.hi_unbounded();
  out.host = range.host();
  return out;
}

void ToProto(const CheckpointReport& r, rpc::CheckpointTaken* out) {
  out->set_cell(r.cell);
  out->set_taken(r.taken);
  out->set_applied_seq(r.applied_seq);
  out->set_key_count(r.key_count);
  out->set_files(r.files);
  out->set_files_copied(r.files_copied);
  out->set_bytes_copied(r.bytes_copied);
  out->set_total_bytes(r.total_bytes);
  out->set_checkpoints_deleted(r.checkpoints_deleted);
  out->set_checkpoints_damaged(r.checkpoints_damaged);
  out->set_files_deleted(r.files_deleted);
  out->set_capture_micros(absl::ToInt64Microseconds(r.capture_time));
  out->set_copy_micros(absl::ToInt64Microseconds(r.copy_time));
  out->set_publish_micros(absl::ToInt64Microseconds(r.publish_time));
}

CheckpointReport FromProto(const rpc::CheckpointTaken& t) {
  CheckpointReport r;
  r.cell = t.cell();
  r.taken = t.taken();
  r.applied_seq = t.applied_seq();
  r.key_count = t.key_count();
  r.files = t.files();
  r.files_copied = t.files_copied();
  r.bytes_copied = t.bytes_copied();
  r.total_bytes = t.total_bytes();
  r.checkpoints_deleted = t.checkpoints_deleted();
  r.checkpoints_damaged = t.checkpoints_damaged();
  r.files_deleted = t.files_deleted();
  r.capture_time = absl::Microseconds(t.capture_micros());
  r.copy_time = absl::Microseconds(t.copy_micros());
  r.publish_time = absl::Microseconds(t.publish_micros());
  return r;
}

// absl::StatusCode and grpc::StatusCode share their values (0 to 16).
grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace cellindex
