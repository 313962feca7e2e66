// The cellindex command. Exit codes: see tools/exit_codes.h and README.md.
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/demo.h"
#include "tools/exit_codes.h"

namespace {

constexpr char kExitCodeHelp[] =
    "Exit codes: 0 ok, 1 not found, 2 invalid input or usage, 3 precondition failed,\n"
    "4 unavailable, 5 data loss, 6 any other error.";

}  // namespace

int main(int argc, char** argv) {
  using namespace cellindex::tools;
  CLI::App app{"cellindex: an object-metadata and location index of cells"};
  app.footer(kExitCodeHelp);
  app.require_subcommand(1);
  std::string data_dir = "./cellindex-data";
  std::string store_dir;
  bool json = false;
  app.add_option("--data", data_dir, "host-local state directory")->capture_default_str();
  app.add_option("--store", store_dir, "durable store directory (default: inside --data)");
  app.add_flag("--json", json, "machine-readable output");

  DemoOptions demo;
  double demo_seconds = 3;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo", "restart demonstration: write (sync), SIGKILL, reopen, read back every ack");
  demo_cmd->add_option("--cells", demo.cells, "cells")->check(CLI::Range(1, 1024))->capture_default_str();
  demo_cmd->add_option("--writers", demo.writers, "writer threads")->check(CLI::Range(1, 256))->capture_default_str();
  demo_cmd->add_option("--seconds", demo_seconds, "how long to write before the kill")
      ->check(CLI::Range(0.1, 3600.0))->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "cellindex: " << e.what() << " (see --help)\n";
    return kExitInvalid;
  }

  if (demo_cmd->parsed()) {
    demo.data_dir = data_dir + "/demo";
    demo.store_dir = store_dir;
    demo.write_for = absl::Seconds(demo_seconds);
    demo.json = json;
    return RunDemo(demo);
  }
  return kExitInvalid;
}
