#include "tools/rpc_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "index/base/host_port.h"
#include "index/rpc/cellindex.grpc.pb.h"
#include "index/rpc/rpc_convert.h"

namespace cellindex::tools {
namespace {

class Service final : public rpc::CellIndex::Service {
 public:
  explicit Service(Index* index) : index_(*index) {}

  grpc::Status Put(grpc::ServerContext* c, const rpc::PutRequest* request,
                   rpc::PutReply* reply) override {
    absl::StatusOr<ObjectRecord> record = FromProto(request->record());
    if (!record.ok()) return Answer(c, record.status());
    absl::StatusOr<uint64_t> v =
        index_.Put(FromProto(request->key()), *record, FromProto(request->precondition()));
    if (v.ok()) reply->set_version(*v);
    return Answer(c, v.status());
  }

  grpc::Status Get(grpc::ServerContext* c, const rpc::GetRequest* request,
                   rpc::GetReply* reply) override {
    absl::StatusOr<ObjectRecord> r = index_.Get(FromProto(request->key()));
    if (r.ok()) ToProto(*r, reply->mutable_record());
    return Answer(c, r.status());
  }

  grpc::Status Delete(grpc::ServerContext* c, const rpc::DeleteRequest* request,
                      rpc::DeleteReply*) override {
    return Answer(c, index_.Delete(FromProto(request->key()), FromProto(request->precondition())));
  }

  grpc::Status Write(grpc::ServerContext* c, const rpc::WriteRequest* request,
                     rpc::WriteReply* reply) override {
    absl::StatusOr<WriteBatch> batch = FromProto(*request);
    if (!batch.ok()) return Answer(c, batch.status());
    absl::StatusOr<std::vector<uint64_t>> v = index_.Write(*batch);
    if (v.ok()) {
      for (uint64_t version : *v) reply->add_versions(version);
    }
    return Answer(c, v.status());
  }

  grpc::Status List(grpc::ServerContext* c, const rpc::ListRequest* request,
                    rpc::ListReply* reply) override {
    absl::StatusOr<ListResult> r = index_.List(request->bucket(), FromProto(*request));
    if (r.ok()) ToProto(*r, reply);
    return Answer(c, r.status());
  }

  grpc::Status Locate(grpc::ServerContext* c, const rpc::LocateRequest* request,
                      rpc::LocateReply* reply) override {
    absl::StatusOr<LocateResult> r = index_.Locate(FromProto(*request));
    if (r.ok()) ToProto(*r, reply);
    return Answer(c, r.status());
  }

  grpc::Status CellMap(grpc::ServerContext* c, const rpc::CellMapRequest*,
                       rpc::CellMapReply* reply) override {
    const cellindex::CellMap map = index_.cell_map();
    reply->set_epoch(map.epoch());
    for (const CellRange& r : map.cells()) ToProto(r, reply->add_cells());
    return Answer(c, absl::OkStatus());
  }

  grpc::Status Checkpoint(grpc::ServerContext* c, const rpc::CheckpointRequest* request,
                          rpc::CheckpointReply* reply) override {
    std::optional<CellId> cell;
    if (request->has_cell()) cell = request->cell();
    absl::StatusOr<std::vector<CheckpointReport>> r = index_.Checkpoint(cell);
    if (r.ok()) {
      for (const CheckpointReport& t : *r) ToProto(t, reply->add_cells());
    }
    return Answer(c, r.status());
  }

 private:
  static grpc::Status Answer(grpc::ServerContext* c, const absl::Status& s) {
    c->AddTrailingMetadata(kFromIndexMetadata, "1");
    if (WasNotApplied(s)) c->AddTrailingMetadata(kNotAppliedMetadata, "1");
    if (IsNotServedHere(s)) c->AddTrailingMetadata(kNotServedHereMetadata, "1");
    return ToGrpc(s);
  }

  Index& index_;
};

}  // namespace

absl::Status ValidateListenAddress(const std::string& listen) {
  if (absl::Status s = ValidateHostPort(listen, /*allow_port_zero=*/true); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --listen address \"", listen, "\": ", s.message()));
  }
  return absl::OkStatus();
}

struct RpcServer::Impl {
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  std::string address;
  bool stopped = false;
};

absl::StatusOr<std::unique_ptr<RpcServer>> RpcServer::Start(Index* index,
                                                            const std::string& listen) {
  if (absl::Status s = ValidateListenAddress(listen); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<Service>(index);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(impl->service.get());
  // As the client: no size limit of gRPC's own (a write batch, a Locate
  // page of 1000 objects with up to 256 locations each).
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || port == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", listen, " (in use, or not an address of this host)"));
  }
  impl->address = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
  return std::unique_ptr<RpcServer>(new RpcServer(std::move(impl)));
}

RpcServer::RpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RpcServer::~RpcServer() { Shutdown(absl::ZeroDuration()); }

const std::string& RpcServer::address() const { return impl_->address; }

void RpcServer::Shutdown(absl::Duration grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  impl_->server->Wait();
}

}  // namespace cellindex::tools
