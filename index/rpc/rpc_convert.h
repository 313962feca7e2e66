// Between the index's types (index/model) and the messages of
// index/rpc/cellindex.proto, both ways, and between absl::Status and
// grpc::Status (the same codes; the message kept). Used by the client
// (index/rpc/client.h) and the server (tools/rpc_service.h) alike, so that
// what one side writes the other reads back unchanged.
#ifndef CELLINDEX_INDEX_RPC_RPC_CONVERT_H_
#define CELLINDEX_INDEX_RPC_RPC_CONVERT_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"
#include "index/base/stats.h"
#include "index/model/cell_map.h"
#include "index/model/list_result.h"
#include "index/model/locate_result.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/write_batch.h"
#include "index/rpc/cellindex.pb.h"

namespace cellindex {

// Trailing metadata the server sets on every reply it makes: a status
// without it came from the transport, not from the index.
inline constexpr char kFromIndexMetadata[] = "cellindex-from-index";
// And on an error that applied nothing (WasNotApplied): a write the client
// may send again.
inline constexpr char kNotAppliedMetadata[] = "cellindex-not-applied";
// And on an UNAVAILABLE for a cell this server does not serve at all
// (IsNotServedHere): the client asks where it is instead of again here.
inline constexpr char kNotServedHereMetadata[] = "cellindex-not-served-here";

void ToProto(const ObjectKey& key, rpc::ObjectKey* out);
ObjectKey FromProto(const rpc::ObjectKey& key);
void ToProto(const ObjectRecord& record, rpc::ObjectRecord* out);
// InvalidArgument for what the model cannot hold (a metadata name twice).
absl::StatusOr<ObjectRecord> FromProto(const rpc::ObjectRecord& record);
void ToProto(const Precondition& p, rpc::Precondition* out);
Precondition FromProto(const rpc::Precondition& p);
void ToProto(const WriteBatch& batch, rpc::WriteRequest* out);
// InvalidArgument for an unknown op kind, and as for a record.
absl::StatusOr<WriteBatch> FromProto(const rpc::WriteRequest& request);

void ToProto(absl::string_view bucket, const ListOptions& options, rpc::ListRequest* out);
ListOptions FromProto(const rpc::ListRequest& request);
void ToProto(const ListResult& result, rpc::ListReply* out);
ListResult FromProto(const rpc::ListReply& reply);

void ToProto(const LocateOptions& options, rpc::LocateRequest* out);
LocateOptions FromProto(const rpc::LocateRequest& request);
void ToProto(const LocateResult& result, rpc::LocateReply* out);
LocateResult FromProto(const rpc::LocateReply& reply);

void ToProto(const CellRange& range, rpc::CellRange* out);
CellRange FromProto(const rpc::CellRange& range);
void ToProto(const CheckpointReport& report, rpc::CheckpointTaken* out);
CheckpointReport FromProto(const rpc::CheckpointTaken& taken);

grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace cellindex

#endif  // CELLINDEX_INDEX_RPC_RPC_CONVERT_H_
