// The cellindex command. Exit codes: see tools/exit_codes.h and README.md.
#include <cstdint>
#include <iostream>
#include <limits>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/command_util.h"
#include "tools/commands.h"
#include "tools/demo.h"
#include "tools/drill.h"
#include "tools/drill_processes.h"
#include "tools/exit_codes.h"

namespace {

constexpr char kExitCodeHelp[] =
    "Exit codes: 0 ok, 1 not found, 2 invalid input or usage, 3 precondition failed,\n"
    "4 unavailable, 5 data loss, 6 any other error, 7 (host) its lease was lost.\n"
    "hosts remove refused (nothing changed, one audit line): 10 unknown host, 11 --match\n"
    "matched another number of hosts, 12 a pool below its minimum, 13 survivors cannot hold\n"
    "the cells, 14 an unhealthy cell, 15 a step too large; 16 an executed removal stopped.\n"
    "hosts add --rebalance / hosts rebalance: 14 refused while a cell is unhealthy (nothing\n"
    "moved), 16 a move failed and the rebalance stopped.";

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

// A repeatable option that takes one value per occurrence.
CLI::Option* AddRepeated(CLI::App* cmd, const std::string& name, std::vector<std::string>& values,
                         const std::string& help) {
  return cmd->add_option(name, values, help)->allow_extra_args(false);
}

template <typename T>
void Assign(T* target, uint64_t value) {
  *target = static_cast<T>(value);
}
template <typename T>
void Assign(std::optional<T>* target, uint64_t value) {
  *target = static_cast<T>(value);
}

// An integer option read by ParseDecimal, not by CLI11 (whose strtoull wraps
// "-1" and overflow). `max` must fit in T; `help` states the range.
template <typename T>
CLI::Option* AddNumber(CLI::App* cmd, const std::string& name, T* target, uint64_t min,
                       uint64_t max, const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name,
          [=](const std::string& text) {
            absl::StatusOr<uint64_t> v = cellindex::tools::ParseDecimal(name, text, min, max);
            if (!v.ok()) throw CLI::ValidationError(std::string(v.status().message()));
            Assign(target, *v);
          },
          help)
      ->type_name("N");
}

// A number of seconds read by ParseSeconds.
CLI::Option* AddSeconds(CLI::App* cmd, const std::string& name, double* target, double min,
                        double max, const std::string& help) {
  return cmd
      ->add_option_function<std::string>(
          name,
          [=](const std::string& text) {
            absl::StatusOr<double> v = cellindex::tools::ParseSeconds(name, text, min, max);
            if (!v.ok()) throw CLI::ValidationError(std::string(v.status().message()));
            *target = *v;
          },
          help)
      ->type_name("SECONDS");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cellindex;
  using namespace cellindex::tools;
  CLI::App app{"cellindex: an object-metadata and location index of cells"};
  app.footer(kExitCodeHelp);
  app.require_subcommand(1);
  // The global flags may also follow the subcommand: `cellindex get B K --json`.
  app.fallthrough();
  GlobalFlags flags;
  app.add_option("--data", flags.data_dir, "host-local state directory")->capture_default_str();
  app.add_option("--store", flags.store_dir, "durable store directory (default: inside --data)");
  AddNumber(&app, "--cells", &flags.cells, 1, 1024,
            "cells of a new index, 1 to 1024 (used only when the index is created)");
  app.add_flag("--json", flags.json, "machine-readable output");
  app.add_option("--cluster", flags.cluster,
                 "put, get, rm, ls, locate, cells, hosts, pools, hosts remove, split, merge: the cluster of `host` processes whose etcd is at ENDPOINTS "
                 "(HOST:PORT[,HOST:PORT...]), instead of --data and --store");
  app.add_flag("--leave-cluster", flags.leave_cluster,
               "open a store that `host` processes served, once every one has stopped (the "
               "store is marked; without this a single-process open is refused, exit 3)");
  app.add_option("--status-dir", flags.status_dir,
                 "write the status page (index.html) here while the index is open; a directory "
                 "of its own, outside --data, --store and the hosts");

  DemoOptions demo;
  double demo_seconds = 3;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo", "restart demonstration: write (sync), SIGKILL, reopen, read back every ack");
  AddNumber(demo_cmd, "--cells", &demo.cells, 1, 1024, "cells, 1 to 1024")
      ->default_str(absl::StrCat(demo.cells));
  AddNumber(demo_cmd, "--writers", &demo.writers, 1, 256, "writer threads, 1 to 256")
      ->default_str(absl::StrCat(demo.writers));
  AddSeconds(demo_cmd, "--seconds", &demo_seconds, 0.1, 3600,
             "how long to write before the kill, 0.1 to 3600")
      ->default_str(absl::StrCat(demo_seconds));

  DrillOptions drill;
  double drill_before = 2, drill_after = 2;
  CLI::App* drill_cmd = app.add_subcommand(
      "drill", "restart drill: load, checkpoint, lose hosts under load, recover, verify every ack");
  AddNumber(drill_cmd, "--hosts", &drill.hosts, 1, 256, "simulated hosts, 1 to 256")
      ->default_str(absl::StrCat(drill.hosts));
  AddNumber(drill_cmd, "--cells", &drill.cells, 1, 4096, "cells, 1 to 4096")
      ->default_str(absl::StrCat(drill.cells));
  AddNumber(drill_cmd, "--objects", &drill.objects, 1, uint64_t{1} << 34,
            "objects loaded before the loss, 1 to 2^34")
      ->default_str(absl::StrCat(drill.objects));
  AddNumber(drill_cmd, "--lose", &drill.lose, 1, 255, "hosts removed, 1 to hosts - 1")
      ->default_str(absl::StrCat(drill.lose));
  drill_cmd->add_flag("--all", drill.all, "remove every host: a full cold start");
  AddNumber(drill_cmd, "--writers", &drill.writers, 0, 256,
            "writer threads during the drill, 0 to 256")
      ->default_str(absl::StrCat(drill.writers));
  AddNumber(drill_cmd, "--readers", &drill.readers, 0, 256,
            "reader threads during the drill, 0 to 256")
      ->default_str(absl::StrCat(drill.readers));
  AddSeconds(drill_cmd, "--before", &drill_before, 0, 3600,
             "seconds of load before the loss, 0 to 3600")
      ->default_str(absl::StrCat(drill_before));
  AddSeconds(drill_cmd, "--after", &drill_after, 0, 3600,
             "seconds of load after full availability, 0 to 3600")
      ->default_str(absl::StrCat(drill_after));
  AddNumber(drill_cmd, "--recovery-parallelism", &drill.recovery_parallelism, 0, 256,
            "cells restored at once, 0 to 256 (0: one per hardware thread)");
  drill_cmd->add_flag("--paranoid", drill.paranoid, "deep-validate each cell before it serves");
  AddNumber(drill_cmd, "--split-keys", &drill.split_keys, 0, uint64_t{1} << 40,
            "split cells during the load once they hold this many objects (0: the defaults)");
  drill_cmd
      ->add_option_function<std::string>(
          "--restore-mode",
          [&drill](const std::string& text) {
            if (text == "in_place") {
              drill.restore_mode = RestoreMode::kInPlace;
            } else if (text == "copy") {
              drill.restore_mode = RestoreMode::kCopy;
            } else {
              throw CLI::ValidationError(
                  absl::StrCat("invalid --restore-mode \"", text, "\": in_place or copy"));
            }
          },
          "in_place (serve from the checkpoint where it lies in the store while it is copied) "
          "or copy (copy and verify every file first)")
      ->type_name("MODE")
      ->default_str("in_place");
  bool drill_processes = false;
  ProcessDrillOptions process_drill;
  double lease_ttl = absl::ToDoubleSeconds(process_drill.lease_ttl);
  drill_cmd->add_flag("--processes", drill_processes,
                      "run etcd and --hosts `cellindex host` processes on loopback, load through "
                      "the cluster client, and SIGKILL one host process under load");
  AddSeconds(drill_cmd, "--lease-ttl", &lease_ttl, 1, 60,
             "with --processes: the hosts' etcd lease TTL, 1 to 60 s (whole seconds)")
      ->default_str(absl::StrCat(lease_ttl));
  drill_cmd
      ->add_option("--etcd-binary", process_drill.etcd_binary,
                   "with --processes: the etcd server to start (default: etcd on PATH)")
      ->type_name("PATH");
  drill_cmd
      ->add_option("--report", drill.report_dir,
                   "also write the report as a page with the drill's timeline (drill.html, "
                   "self-contained) and its data (drill.json) into DIR, outside DATA/drill")
      ->type_name("DIR");

  PutFlags put;
  CLI::App* put_cmd = app.add_subcommand("put", "store an object's record (creates the index)");
  put_cmd->add_option("bucket", put.bucket, "bucket")->required();
  put_cmd->add_option("key", put.key, "key")->required();
  AddNumber(put_cmd, "--size", &put.size, 0, kU64Max, "size in bytes");
  put_cmd->add_option("--etag", put.etag, "ETag");
  put_cmd->add_option("--content-type", put.content_type, "content type");
  put_cmd->add_option("--storage-class", put.storage_class, "storage class (default STANDARD)");
  AddRepeated(put_cmd, "--location", put.locations,
              "an extent NODE:VOLUME:OFFSET:LENGTH (repeatable; extents on one volume may "
              "not overlap)");
  AddRepeated(put_cmd, "--meta", put.metadata,
              "user metadata NAME=VALUE (repeatable, each NAME once, ignoring case)");
  CLI::Option* if_match = AddNumber(put_cmd, "--if-match", &put.if_match, 0, kU64Max,
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
  AddNumber(ls_cmd, "--max-keys", &list.max_keys, 0, std::numeric_limits<int>::max(),
            "entries per page, 0 or more (more than 1000 reads as 1000, as in S3)")
      ->default_str(absl::StrCat(list.max_keys));

  LocateFlags locate;
  CLI::App* locate_cmd =
      app.add_subcommand("locate", "the objects with bytes on a volume or a node");
  CLI::Option_group* target = locate_cmd->add_option_group("target", "exactly one of");
  target->add_option("--volume", locate.options.volume, "volume");
  target->add_option("--node", locate.options.node, "node");
  target->require_option(1);
  AddNumber(locate_cmd, "--max-objects", &locate.options.max_objects, 0,
            std::numeric_limits<int>::max(),
            "objects per page, 0 or more (more than 1000 reads as 1000)")
      ->default_str(absl::StrCat(locate.options.max_objects));
  locate_cmd->add_option("--continuation-token", locate.options.continuation_token,
                         "the NextContinuationToken of the previous page");
  locate_cmd->add_flag("--all", locate.all, "every page");

  CLI::App* cells_cmd = app.add_subcommand("cells", "per cell: range, state, keys, bytes, journal");
  std::optional<uint32_t> checkpoint_cell;
  CLI::App* checkpoint_cmd =
      app.add_subcommand("checkpoint", "checkpoint every cell (or one) into the durable store");
  AddNumber(checkpoint_cmd, "--cell", &checkpoint_cell, 0, std::numeric_limits<uint32_t>::max(),
            "only this cell");
  CLI::App* stat_cmd = app.add_subcommand("stat", "the index as a whole");
  std::string listen;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "serve the index over gRPC (index/rpc/cellindex.proto) until SIGTERM or SIGINT");
  serve_cmd->add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free one)")
      ->required();
  HostFlags host;
  CLI::App* host_cmd = app.add_subcommand(
      "host", "one host process of a cluster: serves the cells etcd assigns it, over gRPC");
  host_cmd->add_option("--name", host.name, "this host's name in the cluster")->required();
  host_cmd->add_option("--etcd", host.etcd, "etcd endpoints, HOST:PORT[,HOST:PORT...]")
      ->required();
  host_cmd->add_option("--listen", host.listen, "HOST:PORT to listen on (port 0: any free one)")
      ->required();
  host_cmd->add_option("--cluster-name", host.cluster, "the cluster's name in etcd")
      ->capture_default_str();
  AddNumber(host_cmd, "--lease-ttl", &host.lease_ttl, 1, 60,
            "seconds, 1 to 60: how long etcd keeps the host's lease after its last renewal");
  AddNumber(host_cmd, "--split-bytes", &host.split_bytes, 0, uint64_t{1} << 50,
            "as controller: split a cell once its reported size reaches this many bytes "
            "(0: never)");
  AddNumber(host_cmd, "--merge-bytes", &host.merge_bytes, 0, uint64_t{1} << 50,
            "as controller: merge two neighbouring cells whose reported sizes together stay "
            "under this many bytes (0: never; at most a quarter of --split-bytes)");
  uint32_t split_cell = 0;
  std::string split_at;
  CLI::App* split_cmd = app.add_subcommand(
      "split", "split a cell in two while it serves (at its median record, or --at)");
  AddNumber(split_cmd, "--cell", &split_cell, 0, std::numeric_limits<uint32_t>::max(),
            "the cell to split")
      ->required();
  split_cmd->add_option("--at", split_at, "BUCKET/KEY: the first key of the right half");
  std::string merge_cells;
  CLI::App* merge_cmd =
      app.add_subcommand("merge", "merge a cell and its right neighbour while they serve");
  merge_cmd->add_option("--cells", merge_cells, "A,B: the left cell and its right neighbour")
      ->required();

  LoadFlags load;
  CLI::App* load_cmd =
      app.add_subcommand("load", "bulk-load synthetic objects (creates the index)");
  AddNumber(load_cmd, "--objects", &load.objects, 1, uint64_t{1} << 40,
            "objects to load, 1 to 2^40")
      ->required();
  AddNumber(load_cmd, "--buckets", &load.buckets, 1, 100000,
            "buckets, 1 to 100000: 3 large, the rest small")
      ->default_str(absl::StrCat(load.buckets));
  AddNumber(load_cmd, "--first", &load.first, 0, uint64_t{1} << 40,
            "number of the first object, 0 to 2^40")
      ->default_str(absl::StrCat(load.first));
  AddNumber(load_cmd, "--seed", &load.seed, 0, kU64Max, "workload seed")
      ->default_str(absl::StrCat(load.seed));
  AddNumber(load_cmd, "--threads", &load.threads, 1, 256,
            "loader threads, 1 to 256 (default: one per core)");

  CLI::App* metrics_cmd =
      app.add_subcommand("metrics", "the index's metrics in Prometheus text exposition format");
  CLI::App* audit_cmd = app.add_subcommand("audit", "the audit log of capacity changes");
  CLI::App* status_cmd =
      app.add_subcommand("status", "write the status page to --status-dir and print its path");

  CLI::App* pools_cmd = app.add_subcommand("pools", "pools of hosts and their capacity");
  pools_cmd->require_subcommand(0, 1);
  PoolFlags pool;
  CLI::App* pools_set_cmd = pools_cmd->add_subcommand(
      "set", "add or change a pool (fields not given keep their values)");
  pools_set_cmd->add_option("name", pool.name, "pool name: 1 to 63 of a-z, 0-9, _ and -")
      ->required();
  pools_set_cmd
      ->add_option_function<std::string>(
          "--hosts",
          [&pool](const std::string& text) {
            std::vector<std::string> hosts;
            if (!text.empty()) hosts = absl::StrSplit(text, ',');
            pool.hosts = hosts;
          },
          "its hosts, comma-separated (they leave any other pool)")
      ->type_name("H1,H2,...");
  AddNumber(pools_set_cmd, "--min-hosts", &pool.min_hosts, 0, 1 << 20,
            "refuse removals that leave fewer hosts, 0 to 2^20");
  AddNumber(pools_set_cmd, "--min-spare-cells", &pool.min_spare_cells, 0, 1 << 30,
            "refuse removals that leave fewer free cell places (needs --max-cells-per-host)");
  AddNumber(pools_set_cmd, "--max-cells-per-host", &pool.max_cells_per_host, 0, 1 << 30,
            "cells one host of the pool may hold, 0: no limit");
  AddNumber(pools_set_cmd, "--max-bytes-per-host", &pool.max_bytes_per_host, 0, kU64Max,
            "bytes of cells one host of the pool may hold, 0: no limit");

  CLI::App* hosts_cmd = app.add_subcommand("hosts", "hosts: list, add, remove (safely), rebalance");
  hosts_cmd->require_subcommand(0, 1);
  std::string host_name, host_dir;
  CLI::App* hosts_add_cmd = hosts_cmd->add_subcommand("add", "add a host with its directory");
  hosts_add_cmd->add_option("name", host_name, "host name")->required();
  hosts_add_cmd->add_option("dir", host_dir, "its local directory for cell state")->required();
  std::optional<std::string> host_pool;
  hosts_add_cmd->add_option_function<std::string>(
      "--pool", [&host_pool](const std::string& v) { host_pool = v; },
      "the pool it joins (made if missing; without it: the default pool)");
  RebalanceRequest rebalance;
  double rebalance_pause = absl::ToDoubleSeconds(rebalance.pause);
  hosts_add_cmd->add_flag("--rebalance", rebalance.execute,
                          "move cells onto it now, gradually (without it: the plan only)");
  CLI::App* hosts_rebalance_cmd = hosts_cmd->add_subcommand(
      "rebalance",
      "plan spreading the cells evenly over each pool's hosts and, with --execute, move them one "
      "at a time as in a drain");
  hosts_rebalance_cmd->add_flag("--execute", rebalance.execute,
                                "carry the plan out (without it nothing changes)");
  hosts_rebalance_cmd->add_option("--pool", rebalance.pool, "only this pool's hosts");
  for (CLI::App* cmd : {hosts_add_cmd, hosts_rebalance_cmd}) {
    AddNumber(cmd, "--max-moves", &rebalance.max_moves, 0, 1 << 20,
              "cells moved at most, 0 to 2^20 (0: as many as the balance needs)")
        ->default_str("0");
    AddSeconds(cmd, "--pause", &rebalance_pause, 0, 3600,
               "seconds to wait after each moved cell serves and has validated, 0 to 3600")
        ->default_str(absl::StrCat(rebalance_pause));
  }
  HostRemoval removal;
  CLI::App* hosts_remove_cmd = hosts_cmd->add_subcommand(
      "remove",
      "plan the removal of hosts and, with --execute, drain them step by step; refused (its own "
      "exit code, nothing changed) when unsafe");
  CLI::Option* names = hosts_remove_cmd->add_option("names", removal.hosts, "hosts by name");
  CLI::Option* match = hosts_remove_cmd->add_option(
      "--match", removal.match, "hosts whose name matches this glob (* ? [...])");
  names->excludes(match);
  AddNumber(hosts_remove_cmd, "--expect", &removal.expect, 1, 1 << 20,
            "how many hosts --match must match (needed when more than one)")
      ->needs(match);
  AddNumber(hosts_remove_cmd, "--max-step", &removal.max_step, 1, 1 << 20,
            "hosts drained at once, 1 to 2^20")
      ->default_str(absl::StrCat(removal.max_step));
  hosts_remove_cmd
      ->add_option_function<std::string>(
          "--max-fraction",
          [&removal](const std::string& text) {
            absl::StatusOr<double> v = ParseSeconds("--max-fraction", text, 0, 1);
            if (!v.ok() || *v <= 0) {
              throw CLI::ValidationError(absl::StrCat(
                  "invalid --max-fraction \"", text, "\": a fraction above 0, at most 1 (0.5)"));
            }
            removal.max_fraction = *v;
          },
          "the largest share of a pool's hosts one step may take, above 0 and at most 1")
      ->type_name("F")
      ->default_str("0.5");
  hosts_remove_cmd->add_flag("--execute", removal.execute,
                             "carry the plan out (without it nothing changes)");
  bool removal_cancel = false;
  hosts_remove_cmd->add_flag("--cancel", removal_cancel,
                             "with --cluster: the named hosts are no longer drained (they take "
                             "cells again)");

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

  // Demo and drill make their directories below --data without OpenIndex,
  // and start by deleting them: they keep their store there too, and never
  // take one given with --store (which they would erase).
  if (demo_cmd->parsed() || drill_cmd->parsed()) {
    if (!flags.store_dir.empty()) {
      return ReportError(absl::InvalidArgumentError(absl::StrCat(
          demo_cmd->parsed() ? "demo" : "drill", " keeps its own store below --data; it does "
          "not take --store (it would erase it)")));
    }
    if (absl::Status s = CheckDirectoryFlags(flags); !s.ok()) return ReportError(s);
  }
  if (demo_cmd->parsed()) {
    demo.data_dir = flags.data_dir + "/demo";
    demo.write_for = absl::Seconds(demo_seconds);
    demo.json = flags.json;
    return RunDemo(demo);
  }
  if (drill_cmd->parsed() && drill_processes) {
    // What only the in-process drill does.
    for (const char* flag : {"--lose", "--all", "--recovery-parallelism", "--paranoid",
                             "--split-keys", "--restore-mode", "--report"}) {
      if (drill_cmd->count(flag) > 0) {
        return ReportError(absl::InvalidArgumentError(
            absl::StrCat(flag, " does not apply to drill --processes (it kills one host process)")));
      }
    }
    if (lease_ttl != static_cast<double>(static_cast<int64_t>(lease_ttl))) {
      return ReportError(absl::InvalidArgumentError(
          absl::StrCat("invalid --lease-ttl ", lease_ttl, ": whole seconds")));
    }
    if (drill.hosts < 2) {
      return ReportError(absl::InvalidArgumentError(
          "drill --processes needs --hosts 2 or more (one is killed, the others take its cells)"));
    }
    if (drill.cells < drill.hosts) {
      return ReportError(absl::InvalidArgumentError(absl::StrCat(
          "drill --processes needs --cells (", drill.cells, ") at least --hosts (", drill.hosts,
          "): the killed host must serve a cell")));
    }
    process_drill.dir = flags.data_dir + "/drill-processes";
    process_drill.hosts = drill.hosts;
    process_drill.cells = drill.cells;
    process_drill.objects = drill.objects;
    process_drill.writers = drill.writers;
    process_drill.readers = drill.readers;
    process_drill.before = absl::Seconds(drill_before);
    process_drill.after = absl::Seconds(drill_after);
    process_drill.lease_ttl = absl::Seconds(lease_ttl);
    process_drill.json = flags.json;
    return RunProcessDrill(process_drill);
  }
  if (drill_cmd->parsed() && (drill_cmd->count("--lease-ttl") > 0 ||
                              drill_cmd->count("--etcd-binary") > 0)) {
    return ReportError(absl::InvalidArgumentError(
        "--lease-ttl and --etcd-binary apply to drill --processes only"));
  }
  if (drill_cmd->parsed()) {
    drill.dir = flags.data_dir + "/drill";
    drill.before = absl::Seconds(drill_before);
    drill.after = absl::Seconds(drill_after);
    drill.json = flags.json;
    return RunDrill(drill);
  }
  if (!flags.cluster.empty() && !put_cmd->parsed() && !get_cmd->parsed() && !rm_cmd->parsed() &&
      !ls_cmd->parsed() && !locate_cmd->parsed() && !pools_cmd->parsed() &&
      !hosts_remove_cmd->parsed() && !cells_cmd->parsed() && !split_cmd->parsed() &&
      !merge_cmd->parsed() &&
      !(hosts_cmd->parsed() && !hosts_add_cmd->parsed() && !hosts_rebalance_cmd->parsed())) {
    return ReportError(absl::InvalidArgumentError(
        "--cluster applies to put, get, rm, ls, locate, cells, hosts, pools, pools set, "
        "hosts remove, split and merge only (the others need the index itself)"));
  }
  if (!flags.cluster.empty() && cells_cmd->parsed()) return RunClusterCells(flags);
  if (!flags.cluster.empty() && hosts_cmd->parsed() && !hosts_remove_cmd->parsed()) {
    return RunClusterHosts(flags);
  }
  if (put_cmd->parsed()) return RunPut(flags, put);
  if (get_cmd->parsed()) return RunGet(flags, bucket, key);
  if (rm_cmd->parsed()) return RunRm(flags, bucket, key);
  if (ls_cmd->parsed()) return RunLs(flags, bucket, list);
  if (locate_cmd->parsed()) return RunLocate(flags, locate);
  if (cells_cmd->parsed()) return RunCells(flags);
  if (checkpoint_cmd->parsed()) return RunCheckpoint(flags, checkpoint_cell);
  if (stat_cmd->parsed()) return RunStat(flags);
  if (serve_cmd->parsed()) return RunServe(flags, listen);
  if (host_cmd->parsed()) return RunHost(flags, host);
  if (load_cmd->parsed()) return RunLoad(flags, load);
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string arguments = absl::StrJoin(args, " ");
  if (split_cmd->parsed()) return RunSplit(flags, split_cell, split_at, arguments);
  if (merge_cmd->parsed()) return RunMerge(flags, merge_cells, arguments);
  if (metrics_cmd->parsed()) return RunMetrics(flags);
  if (audit_cmd->parsed()) return RunAudit(flags);
  if (status_cmd->parsed()) return RunStatus(flags);
  if (pools_set_cmd->parsed()) return RunPoolsSet(flags, pool, arguments);
  if (pools_cmd->parsed()) return RunPools(flags);
  rebalance.pause = absl::Seconds(rebalance_pause);
  rebalance.arguments = arguments;
  if (hosts_add_cmd->parsed()) {
    return RunHostsAdd(flags, host_name, host_dir, host_pool, rebalance);
  }
  if (hosts_rebalance_cmd->parsed()) return RunHostsRebalance(flags, rebalance);
  if (hosts_remove_cmd->parsed()) {
    if (removal.hosts.empty() && removal.match.empty()) {
      return ReportError(absl::InvalidArgumentError(
          "hosts remove: give host names or --match PATTERN"));
    }
    removal.arguments = arguments;
    return RunHostsRemove(flags, removal, removal_cancel);
  }
  if (hosts_cmd->parsed()) return RunHosts(flags);
  return kExitInvalid;
}
