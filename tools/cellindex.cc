// The cellindex command. Exit codes: see tools/exit_codes.h and README.md.
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/commands.h"
#include "tools/demo.h"
#include "tools/drill.h"
#include "tools/exit_codes.h"

namespace {

constexpr char kExitCodeHelp[] =
    "Exit codes: 0 ok, 1 not found, 2 invalid input or usage, 3 precondition failed,\n"
    "4 unavailable, 5 data loss, 6 any other error.";

// A repeatable option that takes one value per occurrence.
CLI::Option* AddRepeated(CLI::App* cmd, const std::string& name, std::vector<std::string>& values,
                         const std::string& help) {
  return cmd->add_option(name, values, help)->allow_extra_args(false);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cellindex;
  using namespace cellindex::tools;
  CLI::App app{"cellindex: an object-metadata and location index of cells"};
  app.footer(kExitCodeHelp);
  app.require_subcommand(1);
  GlobalFlags flags;
  app.add_option("--data", flags.data_dir, "host-local state directory")->capture_default_str();
  app.add_option("--store", flags.store_dir, "durable store directory (default: inside --data)");
  app.add_option("--cells", flags.cells,
                 "cells of a new index (used only when the index is created)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--json", flags.json, "machine-readable output");

  DemoOptions demo;
  double demo_seconds = 3;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo", "restart demonstration: write (sync), SIGKILL, reopen, read back every ack");
  demo_cmd->add_option("--cells", demo.cells, "cells")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  demo_cmd->add_option("--writers", demo.writers, "writer threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  demo_cmd->add_option("--seconds", demo_seconds, "how long to write before the kill")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();

  DrillOptions drill;
  double drill_before = 2, drill_after = 2;
  CLI::App* drill_cmd = app.add_subcommand(
      "drill", "restart drill: load, checkpoint, lose hosts under load, recover, verify every ack");
  drill_cmd->add_option("--hosts", drill.hosts, "simulated hosts")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  drill_cmd->add_option("--cells", drill.cells, "cells")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  drill_cmd->add_option("--objects", drill.objects, "objects loaded before the loss")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 34))
      ->capture_default_str();
  drill_cmd->add_option("--lose", drill.lose, "hosts removed")->capture_default_str();
  drill_cmd->add_flag("--all", drill.all, "remove every host: a full cold start");
  drill_cmd->add_option("--writers", drill.writers, "writer threads during the drill")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  drill_cmd->add_option("--readers", drill.readers, "reader threads during the drill")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  drill_cmd->add_option("--before", drill_before, "seconds of load before the loss")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  drill_cmd->add_option("--after", drill_after, "seconds of load after full availability")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  drill_cmd->add_option("--recovery-parallelism", drill.recovery_parallelism,
                        "cells restored at once (0: one per hardware thread)")
      ->check(CLI::Range(0, 256));
  drill_cmd->add_flag("--paranoid", drill.paranoid, "deep-validate each cell before it serves");

  PutFlags put;
  CLI::App* put_cmd = app.add_subcommand("put", "store an object's record (creates the index)");
  put_cmd->add_option("bucket", put.bucket, "bucket")->required();
  put_cmd->add_option("key", put.key, "key")->required();
  put_cmd->add_option("--size", put.size, "size in bytes");
  put_cmd->add_option("--etag", put.etag, "ETag");
  put_cmd->add_option("--content-type", put.content_type, "content type");
  put_cmd->add_option("--storage-class", put.storage_class, "storage class (default STANDARD)");
  AddRepeated(put_cmd, "--location", put.locations,
              "an extent NODE:VOLUME:OFFSET:LENGTH (repeatable)");
  AddRepeated(put_cmd, "--meta", put.metadata, "user metadata NAME=VALUE (repeatable)");
  CLI::Option* if_match = put_cmd->add_option("--if-match", put.if_match,
                                              "write only if the object is at this version");
  put_cmd->add_flag("--if-none-match", put.if_none_match, "write only if the object is absent")
      ->excludes(if_match);

  std::string bucket, key;
  CLI::App* get_cmd = app.add_subcommand("get", "print an object's record");
  get_cmd->add_option("bucket", bucket, "bucket")->required();
  get_cmd->add_option("key", key, "key")->required();
  CLI::App* rm_cmd = app.add_subcommand("rm", "delete an object's record");
  rm_cmd->add_option("bucket", bucket, "bucket")->required();
  rm_cmd->add_option("key", key, "key")->required();

  ListOptions list;
  CLI::App* ls_cmd = app.add_subcommand("ls", "list a bucket (one page, as S3 ListObjectsV2)");
  ls_cmd->add_option("bucket", bucket, "bucket")->required();
  ls_cmd->add_option("--prefix", list.prefix, "only keys that start with this");
  ls_cmd->add_option("--delimiter", list.delimiter, "roll keys up into common prefixes at this");
  ls_cmd->add_option("--start-after", list.start_after, "only keys after this one");
  ls_cmd->add_option("--continuation-token", list.continuation_token,
                     "the NextContinuationToken of the previous page");
  ls_cmd->add_option("--max-keys", list.max_keys, "entries per page (at most 1000)")
      ->capture_default_str();

  LocateFlags locate;
  CLI::App* locate_cmd =
      app.add_subcommand("locate", "the objects with bytes on a volume or a node");
  CLI::Option_group* target = locate_cmd->add_option_group("target", "exactly one of");
  target->add_option("--volume", locate.options.volume, "volume");
  target->add_option("--node", locate.options.node, "node");
  target->require_option(1);
  locate_cmd
      ->add_option("--max-objects", locate.options.max_objects, "objects per page (at most 1000)")
      ->capture_default_str();
  locate_cmd->add_option("--continuation-token", locate.options.continuation_token,
                         "the NextContinuationToken of the previous page");
  locate_cmd->add_flag("--all", locate.all, "every page");

  CLI::App* cells_cmd = app.add_subcommand("cells", "per cell: range, state, keys, bytes, journal");
  std::optional<uint32_t> checkpoint_cell;
  CLI::App* checkpoint_cmd =
      app.add_subcommand("checkpoint", "checkpoint every cell (or one) into the durable store");
  checkpoint_cmd->add_option("--cell", checkpoint_cell, "only this cell");
  CLI::App* stat_cmd = app.add_subcommand("stat", "the index as a whole");

  LoadFlags load;
  CLI::App* load_cmd =
      app.add_subcommand("load", "bulk-load synthetic objects (creates the index)");
  load_cmd->add_option("--objects", load.objects, "objects to load")
      ->required()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  load_cmd->add_option("--buckets", load.buckets, "buckets: 3 large, the rest small")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  load_cmd->add_option("--first", load.first, "number of the first object")->capture_default_str();
  load_cmd->add_option("--seed", load.seed, "workload seed")->capture_default_str();
  load_cmd->add_option("--threads", load.threads, "loader threads (default: one per core)")
      ->check(CLI::Range(1, 256));

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
    demo.data_dir = flags.data_dir + "/demo";
    demo.store_dir = flags.store_dir;
    demo.write_for = absl::Seconds(demo_seconds);
    demo.json = flags.json;
    return RunDemo(demo);
  }
  if (drill_cmd->parsed()) {
    drill.dir = flags.data_dir + "/drill";
    drill.before = absl::Seconds(drill_before);
    drill.after = absl::Seconds(drill_after);
    drill.json = flags.json;
    return RunDrill(drill);
  }
  if (put_cmd->parsed()) return RunPut(flags, put);
  if (get_cmd->parsed()) return RunGet(flags, bucket, key);
  if (rm_cmd->parsed()) return RunRm(flags, bucket, key);
  if (ls_cmd->parsed()) return RunLs(flags, bucket, list);
  if (locate_cmd->parsed()) return RunLocate(flags, locate);
  if (cells_cmd->parsed()) return RunCells(flags);
  if (checkpoint_cmd->parsed()) return RunCheckpoint(flags, checkpoint_cell);
  if (stat_cmd->parsed()) return RunStat(flags);
  if (load_cmd->parsed()) return RunLoad(flags, load);
  return kExitInvalid;
}
