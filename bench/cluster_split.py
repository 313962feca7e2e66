#!/usr/bin/env python3
"""Splits in a cluster against splits in one process (issue 13), same data.

Loads OBJECTS objects into CELLS cells twice (two stores, the same
objects), checkpoints both, then, ROUNDS times, splits cell r (at its
median) of each:
  - baseline: `cellindex split --cell r` on the single-process index;
  - cluster: `cellindex --cluster E split --cell r` against one etcd and
    HOSTS `cellindex host` processes sharing the other store (the owner
    runs the split and commits it in etcd).
For each it reports how long the parent's requests were held (held), the
split from start to end on the index (split: checkpoints, hold, commit,
children's checkpoints), and for the cluster the command's wall time (the
request through etcd, the owner's run, the result read back). Medians over
the rounds, and the cluster's ratio to the baseline.

  bench/cluster_split.py [--build build] [--objects 400000] [--cells 4]
                         [--hosts 2] [--rounds 3] [--json]

Keep OBJECTS / CELLS under 200000 (Options::split_keys): a larger cell
splits by itself during the load, and the cells to split are ids 0 to
ROUNDS - 1.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from host_failover import Log, start_etcd, stop, wait_for  # noqa: E402


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"cluster_split: {' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--objects", type=int, default=400000)
    ap.add_argument("--cells", type=int, default=4)
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.objects // args.cells >= 200000:
        raise SystemExit("cluster_split: --objects / --cells must stay under 200000 (cells would "
                         "split during the load)")
    if args.rounds > args.cells:
        raise SystemExit("cluster_split: --rounds is at most --cells (one split per original cell)")
    tool = os.path.abspath(os.path.join(args.build, "tools", "cellindex"))
    work = tempfile.mkdtemp(prefix="cluster-split-")
    procs, etcd = [], None
    try:
        for name in ("single", "cluster"):
            flags = ["--data", os.path.join(work, name + "-seed"), "--store", os.path.join(work, name)]
            run([tool, *flags, "--cells", str(args.cells), "load", "--objects", str(args.objects)])
            run([tool, *flags, "checkpoint"])
        etcd, endpoint = start_etcd(work)
        logs = []
        for h in range(args.hosts):
            path = os.path.join(work, f"h{h}.log")
            open(path, "w").close()
            procs.append(subprocess.Popen(
                [tool, "--data", os.path.join(work, f"h{h}"), "--store", os.path.join(work, "cluster"),
                 "--json", "host", "--name", f"h{h}", "--etcd", endpoint, "--listen", "127.0.0.1:0"],
                stdout=open(path, "w"), stderr=subprocess.STDOUT))
            logs.append(Log(path))

        def events(kind):
            for log in logs:
                log.poll()
            return [e for log in logs for e in log.events if e["event"] == kind]
        # Every cell serving before the first split.
        wait_for(lambda: len({e["cell"] for e in events("serving-cell")}) >= args.cells, 180,
                 "every cell serving")
        single, cluster = [], []
        for r in range(args.rounds):
            out = json.loads(run([tool, "--data", os.path.join(work, "single-seed"), "--store",
                                  os.path.join(work, "single"), "--json", "split", "--cell", str(r)]))
            single.append({"held_s": out["held_seconds"], "split_s": out["total_seconds"]})
            start = time.monotonic()
            run([tool, "--cluster", endpoint, "--json", "split", "--cell", str(r)])
            wall = time.monotonic() - start
            wait_for(lambda: any(r in e["cells"] for e in events("split")), 60, "the split's event")
            e = next(e for e in events("split") if r in e["cells"])
            cluster.append({"held_s": e["held_ms"] / 1000, "split_s": e["ms"] / 1000,
                            "command_s": wall})
        med = lambda rows, k: statistics.median(x[k] for x in rows)  # noqa: E731
        out = {"objects": args.objects, "cells": args.cells, "hosts": args.hosts,
               "single": single, "cluster": cluster,
               "median": {"single_held_s": med(single, "held_s"),
                          "single_split_s": med(single, "split_s"),
                          "cluster_held_s": med(cluster, "held_s"),
                          "cluster_split_s": med(cluster, "split_s"),
                          "cluster_command_s": med(cluster, "command_s")}}
        m = out["median"]
        m["held_ratio"] = m["cluster_held_s"] / m["single_held_s"]
        m["split_ratio"] = m["cluster_split_s"] / m["single_split_s"]
        if args.json:
            print(json.dumps(out, indent=1))
        else:
            print(f"{args.objects} objects, {args.cells} cells, {args.hosts} hosts, "
                  f"{args.rounds} splits each (medians)")
            print(f"  one process: held {m['single_held_s'] * 1000:.0f} ms, "
                  f"split {m['single_split_s']:.2f} s")
            print(f"  cluster:     held {m['cluster_held_s'] * 1000:.0f} ms, "
                  f"split {m['cluster_split_s']:.2f} s, command {m['cluster_command_s']:.2f} s")
            print(f"  ratio:       held {m['held_ratio']:.2f}x, split {m['split_ratio']:.2f}x")
    finally:
        stop(procs)
        if etcd is not None:
            etcd.terminate()
            etcd.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
