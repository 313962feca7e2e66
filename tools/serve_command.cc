// `cellindex serve --listen HOST:PORT`: opens the index (making it when
// missing) and serves it over gRPC (tools/rpc_service.h) until SIGTERM or
// SIGINT, then stops taking calls, lets those under way finish (up to 5 s)
// and closes the index. The first line on stdout says where it listens
// ("serving on HOST:PORT", or {"serving": "HOST:PORT"} with --json), so
// that with port 0 a caller learns the port bound.
#include <signal.h>

#include <iostream>

#include "tools/command_util.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/rpc_service.h"

namespace cellindex::tools {

int RunServe(const GlobalFlags& flags, const std::string& listen) {
  // Checked before the index is opened (and made): bad input changes
  // nothing.
  if (absl::Status s = ValidateListenAddress(listen); !s.ok()) return ReportError(s);
  const sigset_t stop = BlockStopSignals();
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(flags, /*create=*/true);
  if (!index.ok()) return ReportError(index.status());
  // Asked to stop while the index opened (recovery can take a while): it
  // stops without serving.
  sigset_t pending;
  sigpending(&pending);
  if (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)) {
    int sig = 0;
    sigwait(&stop, &sig);
    index->reset();
    std::cout << "stopped before serving (" << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ")"
              << std::endl;
    return kExitOk;
  }
  absl::StatusOr<std::unique_ptr<RpcServer>> server = RpcServer::Start(index->get(), listen);
  if (!server.ok()) return ReportError(server.status());
  if (flags.json) {
    std::cout << Json{{"serving", (*server)->address()}}.dump() << std::endl;
  } else {
    std::cout << "serving on " << (*server)->address() << std::endl;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->Shutdown(absl::Seconds(5));
  server->reset();
  index->reset();
  if (flags.json) {
    std::cout << Json{{"stopped", sig == SIGTERM ? "SIGTERM" : "SIGINT"}}.dump() << std::endl;
  } else {
    std::cout << "stopped (" << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ")" << std::endl;
  }
  return kExitOk;
}

}  // namespace cellindex::tools
