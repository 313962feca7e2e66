#include "index/rpc/client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "index/base/host_port.h"
#include "index/rpc/cellindex.grpc.pb.h"
#include "index/rpc/rpc_convert.h"

namespace cellindex {

struct Client::Impl {
  std::string address;
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<rpc::CellIndex::Stub> stub;

  // Calls `rpc(context)` until it succeeds, fails for good, or the
  // deadline passes (see client.h for which failures are retried).
  template <typename Rpc>
  absl::Status Call(const char* what, bool write, Rpc rpc) {
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + options.deadline;
    const absl::Time connect_by = std::min(deadline, start + options.connect_deadline);
    absl::Duration backoff = options.initial_backoff;
    absl::Status last;
    for (;;) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(deadline));
      // A call goes only over a connection. A write that finds none in time
      // was never sent, and says so, so that it may go elsewhere. Sent
      // without waiting: if the connection drops first, the call fails (a
      // write's outcome then unknown, as any write the transport fails).
      if (!channel->WaitForConnected(absl::ToChronoTime(connect_by))) {
        absl::Status none = absl::UnavailableError(
            absl::StrCat(what, " to ", address, ": no connection within ",
                         absl::FormatDuration(connect_by - start), ", so not sent"));
        return write ? MarkNotApplied(none) : none;
      }
      context.set_wait_for_ready(false);
      const grpc::Status status = rpc(&context);
      if (status.ok()) return absl::OkStatus();
      const auto& trailer = context.GetServerTrailingMetadata();
      if (trailer.count(kFromIndexMetadata) > 0) {
        // The index's own answer. UNAVAILABLE: the cell does not serve (yet).
        // A read is asked again; a write only when it applied nothing.
        absl::Status answer = FromGrpc(status);
        if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return answer;
        const bool not_applied = trailer.count(kNotAppliedMetadata) > 0;
        if (write && !not_applied) return answer;
        last = not_applied ? MarkNotApplied(answer) : answer;
        // Not this server's cell: waiting here does not help.
        if (trailer.count(kNotServedHereMetadata) > 0) return MarkNotServedHere(last);
      } else if (write) {
        // The transport's: the write may have reached the server.
        return absl::UnavailableError(
            absl::StrCat(what, " to ", address, " failed in transit (", status.error_message(),
                         "): it may or may not have been applied"));
      } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                 status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        last = absl::UnavailableError(
            absl::StrCat(what, " to ", address, ": ", status.error_message()));
      } else {
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            absl::StrCat(what, " to ", address, ": ", status.error_message()));
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return last;
      absl::SleepFor(std::min(backoff, left));
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }
};

absl::Status ValidateRpcAddress(absl::string_view address) {
  if (absl::Status s = ValidateHostPort(address); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid server address \"", address, "\": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& address,
                                                        const ClientOptions& options) {
  if (absl::Status s = ValidateRpcAddress(address); !s.ok()) return s;
  if (options.deadline <= absl::ZeroDuration() ||
      options.connect_deadline <= absl::ZeroDuration() ||
      options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(
        "the client's deadlines and backoffs must be positive, max_backoff at least "
        "initial_backoff");
  }
  auto impl = std::make_unique<Impl>();
  impl->address = address;
  impl->options = options;
  // No size limit of gRPC's own (4 MB by default): a Locate page may hold
  // 1000 objects of up to 256 locations each.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // A connection of its own: by default gRPC shares one per address among
  // every channel of the process, so a new client of a server that has
  // just died would inherit the dead connection and send a write on it
  // (its outcome then unknown) rather than wait for a new one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  impl->channel =
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  impl->stub = rpc::CellIndex::NewStub(impl->channel);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const std::string& Client::address() const { return impl_->address; }

absl::StatusOr<uint64_t> Client::Put(const ObjectKey& key, const ObjectRecord& record,
                                     const Precondition& precondition) {
  rpc::PutRequest request;
  ToProto(key, request.mutable_key());
  ToProto(record, request.mutable_record());
  ToProto(precondition, request.mutable_precondition());
  rpc::PutReply reply;
  absl::Status s = impl_->Call("put", /*write=*/true, [&](grpc::ClientContext* c) {
    return impl_->stub->Put(c, request, &reply);
  });
  if (!s.ok()) return s;
  return reply.version();
}

absl::StatusOr<ObjectRecord> Client::Get(const ObjectKey& key) {
  rpc::GetRequest request;
  ToProto(key, request.mutable_key());
  rpc::GetReply reply;
  absl::Status s = impl_->Call("get", /*write=*/false, [&](grpc::ClientContext* c) {
    return impl_->stub->Get(c, request, &reply);
  });
  if (!s.ok()) return s;
  return FromProto(reply.record());  // InvalidArgument if the server sent a name twice
}

absl::Status Client::Delete(const ObjectKey& key, const Precondition& precondition) {
  rpc::DeleteRequest request;
  ToProto(key, request.mutable_key());
  ToProto(precondition, request.mutable_precondition());
  rpc::DeleteReply reply;
  return impl_->Call("delete", /*write=*/true, [&](grpc::ClientContext* c) {
    return impl_->stub->Delete(c, request, &reply);
  });
}

absl::StatusOr<std::vector<uint64_t>> Client::Write(const WriteBatch& batch) {
  rpc::WriteRequest request;
  ToProto(batch, &request);
  rpc::WriteReply reply;
  absl::Status s = impl_->Call("write", /*write=*/true, [&](grpc::ClientContext* c) {
    return impl_->stub->Write(c, request, &reply);
  });
  if (!s.ok()) return s;
  return std::vector<uint64_t>(reply.versions().begin(), reply.versions().end());
}

absl::StatusOr<ListResult> Client::List(absl::string_view bucket, const ListOptions& options) {
  rpc::ListRequest request;
  ToProto(bucket, options, &request);
  rpc::ListReply reply;
  absl::Status s = impl_->Call("list", /*write=*/false, [&](grpc::ClientContext* c) {
    return impl_->stub->List(c, request, &reply);
  });
  if (!s.ok()) return s;
  return FromProto(reply);
}

absl::StatusOr<LocateResult> Client::Locate(const LocateOptions& options) {
  rpc::LocateRequest request;
  ToProto(options, &request);
  rpc::LocateReply reply;
  absl::Status s = impl_->Call("locate", /*write=*/false, [&](grpc::ClientContext* c) {
    return impl_->stub->Locate(c, request, &reply);
  });
  if (!s.ok()) return s;
  return FromProto(reply);
}

absl::StatusOr<RemoteCellMap> Client::CellMap() {
  rpc::CellMapRequest request;
  rpc::CellMapReply reply;
  absl::Status s = impl_->Call("cell map", /*write=*/false, [&](grpc::ClientContext* c) {
    return impl_->stub->CellMap(c, request, &reply);
  });
  if (!s.ok()) return s;
  RemoteCellMap map;
  map.epoch = reply.epoch();
  for (const rpc::CellRange& r : reply.cells()) map.cells.push_back(FromProto(r));
  return map;
}

absl::StatusOr<std::vector<CheckpointReport>> Client::Checkpoint(std::optional<CellId> cell) {
  rpc::CheckpointRequest request;
  if (cell) request.set_cell(*cell);
  rpc::CheckpointReply reply;
  // Repeating a checkpoint is harmless: a read, as far as retries go.
  absl::Status s = impl_->Call("checkpoint", /*write=*/false, [&](grpc::ClientContext* c) {
    return impl_->stub->Checkpoint(c, request, &reply);
  });
  if (!s.ok()) return s;
  std::vector<CheckpointReport> out;
  for (const rpc::CheckpointTaken& t : reply.cells()) out.push_back(FromProto(t));
  return out;
}

}  // namespace cellindex
