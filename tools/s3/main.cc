// cellindex-s3: a small S3-compatible object store on an embedded cellindex.
//
//   cellindex-s3 serve --config FILE [--host ADDR] [--port N] [--port-file F] [--threads N]
//   cellindex-s3 scrub --config FILE [--dry-run] [--json]
//   cellindex-s3 lost-volume --config FILE VOLUME [--json]
//
// Exit codes as the cellindex command's (tools/exit_codes.h).
#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "index/index.h"
#include "tools/command_util.h"
#include "tools/exit_codes.h"
#include "tools/s3/auth.h"
#include "tools/s3/config.h"
#include "tools/s3/handlers.h"
#include "tools/s3/scrub.h"
#include "tools/s3/server.h"
#include "tools/s3/volumes.h"

namespace cellindex::s3 {
namespace {

using tools::Json;

int Fail(const absl::Status& s) {
  std::cerr << "cellindex-s3: " << s.message() << "\n";
  return tools::ExitCodeFor(s);
}

// Opens the index, or creates it with the configured layout.
absl::StatusOr<std::unique_ptr<Index>> OpenIndex(const Config& c) {
  Options o = IndexOptions(c);
  const std::vector<std::string> boundaries = std::move(o.cell_boundaries);
  o.cell_boundaries.clear();
  o.error_if_missing = true;
  absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(o);
  if (!absl::IsNotFound(index.status())) return index;
  o.error_if_missing = false;
  o.cell_boundaries = boundaries;
  return Index::Open(o);
}

struct Opened {
  Config config;
  std::unique_ptr<Index> index;
  std::unique_ptr<Volumes> volumes;
};

absl::StatusOr<Opened> OpenAll(const std::string& config_path) {
  Opened o;
  absl::StatusOr<Config> config = LoadConfig(config_path);
  if (!config.ok()) return config.status();
  o.config = *std::move(config);
  absl::StatusOr<std::unique_ptr<Index>> index = OpenIndex(o.config);
  if (!index.ok()) return index.status();
  o.index = *std::move(index);
  absl::StatusOr<std::unique_ptr<Volumes>> volumes =
      Volumes::Open(o.config.node, o.config.volumes, o.config.replicas);
  if (!volumes.ok()) return volumes.status();
  o.volumes = *std::move(volumes);
  return o;
}

int Main(int argc, char** argv) {
  BlockStopSignals();
  CLI::App app{"cellindex-s3: an S3-compatible object store on an embedded cellindex"};
  app.require_subcommand(1);
  std::string config_path;
  bool json = false;

  ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "serve S3 over HTTP until SIGTERM");
  serve_cmd->add_option("--config", config_path, "configuration file (JSON)")->required();
  serve_cmd->add_option("--host", serve.host, "address to listen on");
  serve_cmd->add_option("--port", serve.port, "port (0: a free one)")->check(CLI::Range(0, 65535));
  serve_cmd->add_option("--port-file", serve.port_file, "write the port here once listening");
  serve_cmd->add_option("--threads", serve.threads, "requests served at once")
      ->check(CLI::Range(1, 1024));

  bool dry_run = false;
  CLI::App* scrub_cmd =
      app.add_subcommand("scrub", "remove object bytes no record names (server stopped)");
  scrub_cmd->add_option("--config", config_path, "configuration file (JSON)")->required();
  scrub_cmd->add_flag("--dry-run", dry_run, "report orphans, remove nothing");
  scrub_cmd->add_flag("--json", json, "print JSON");

  std::string volume;
  CLI::App* lost_cmd =
      app.add_subcommand("lost-volume", "list the objects to repair after losing a volume");
  lost_cmd->add_option("--config", config_path, "configuration file (JSON)")->required();
  lost_cmd->add_option("volume", volume, "the lost volume")->required();
  lost_cmd->add_flag("--json", json, "print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? tools::kExitOk : tools::kExitInvalid;
  }

  absl::StatusOr<Opened> opened = OpenAll(config_path);
  if (!opened.ok()) return Fail(opened.status());

  if (*serve_cmd) {
    HandlerTestHooks hooks;
    // Test hook (tests/s3): crash between writing bytes and putting the record.
    hooks.crash_before_record = std::getenv("CELLINDEX_S3_TEST_CRASH_BEFORE_RECORD") != nullptr;
    S3Service service(opened->index.get(), opened->volumes.get(), opened->config.region, hooks);
    Authenticator auth(opened->config.access_keys, opened->config.region);
    serve.max_object_bytes = opened->config.max_object_bytes;
    std::cerr << "cellindex-s3: serving " << opened->config.volumes.size() << " volumes\n";
    if (absl::Status s = Serve(&service, &auth, serve); !s.ok()) return Fail(s);
    return tools::kExitOk;
  }

  if (*scrub_cmd) {
    absl::StatusOr<ScrubReport> report = Scrub(*opened->index, *opened->volumes, dry_run);
    if (!report.ok()) return Fail(report.status());
    Json out = Json::array();
    for (const ScrubReport::PerVolume& v : report->volumes) {
      out.push_back({{"Volume", v.volume}, {"Files", v.files}, {"Referenced", v.referenced},
                     {dry_run ? "Orphans" : "Removed", v.removed}});
      if (!json) {
        std::cout << v.volume << ": " << v.files << " files, " << v.referenced << " referenced, "
                  << v.removed.size() << (dry_run ? " orphans" : " orphans removed") << "\n";
      }
    }
    if (json) tools::PrintJson(out);
    return tools::kExitOk;
  }

  absl::StatusOr<std::vector<LostObject>> lost =
      LostVolume(*opened->index, *opened->volumes, volume);
  if (!lost.ok()) return Fail(lost.status());
  Json out = Json::array();
  for (const LostObject& o : *lost) {
    Json extents = Json::array();
    for (const Extent& e : o.extents) {
      extents.push_back({{"Node", e.node}, {"Volume", e.volume}, {"Offset", e.offset},
                         {"Length", e.length}});
    }
    out.push_back({{"Bucket", o.key.bucket}, {"Key", o.key.key}, {"Size", o.size},
                   {"OtherReplica", o.other_replica}, {"Extents", extents}});
    if (!json) {
      std::cout << o.key.bucket << "/" << o.key.key << " " << o.size
                << (o.other_replica ? " (another replica reads)" : " (no other replica)") << "\n";
    }
  }
  if (json) tools::PrintJson(out);
  return tools::kExitOk;
}

}  // namespace
}  // namespace cellindex::s3

int main(int argc, char** argv) { return cellindex::s3::Main(argc, argv); }
