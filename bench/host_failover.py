#!/usr/bin/env python3
"""Failover of real host processes (issue 13), timed from their events.

Makes an index of OBJECTS objects in CELLS cells (`cellindex load`), starts
etcd and HOSTS `cellindex host` processes on loopback sharing its store, waits
until every cell serves, SIGKILLs the host that started last (not the
controller), and times, from the kill:
  - detection: the controller's first reassignment of a lost cell (the
    lease expired and its keys went);
  - claim: each lost cell adopted by a survivor (its claim succeeded);
  - restore: each lost cell serving again (the survivor's restore);
  - full availability: the last lost cell serving.
Each figure is the time the event's line appeared in the host's output
(polled every 5 ms). Then it stops everything it started.

  bench/host_failover.py [--build build] [--objects 200000] [--cells 16]
                         [--hosts 4] [--lease-ttl 3] [--rounds 3]
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, tempfile, time, urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Log:
    """A process's JSON events, each stamped with when it was first seen."""
    def __init__(self, path):
        self.path, self.offset, self.events = path, 0, []

    def poll(self):
        with open(self.path) as f:
            f.seek(self.offset)
            data = f.read()
        complete = data[: data.rfind("\n") + 1]
        self.offset += len(complete.encode())
        now = time.monotonic()
        for line in complete.splitlines():
            if line.startswith("{"):
                e = json.loads(line)
                e["seen"] = now
                self.events.append(e)


def wait_for(cond, within, what):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.005)  # the poll's pace; the deadline bounds it
    raise SystemExit(f"host_failover: {what} did not happen within {within} s")


def start_etcd(work):
    """One etcd for every round: owner epochs are its revisions, which must
    only grow over the store's life (a fresh etcd on a used store is
    refused by the journals: "owner epoch N has taken it")."""
    cport, pport = free_port(), free_port()
    endpoint = f"127.0.0.1:{cport}"
    etcd_dir = os.path.join(work, "etcd")
    p = subprocess.Popen(
        ["etcd", "--name", "b", "--data-dir", etcd_dir,
         "--listen-client-urls", f"http://{endpoint}", "--advertise-client-urls", f"http://{endpoint}",
         "--listen-peer-urls", f"http://127.0.0.1:{pport}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{pport}",
         "--initial-cluster", f"b=http://127.0.0.1:{pport}", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=open(etcd_dir + ".log", "w"))

    def etcd_ready():
        try:
            with urllib.request.urlopen(f"http://{endpoint}/health", timeout=0.5) as r:
                return r.status == 200
        except OSError:
            return False
    wait_for(etcd_ready, 30, "etcd's start")
    return p, endpoint


def one_round(args, tool, work, rnd, endpoint):
    procs = []
    try:
        logs = {}
        for h in range(args.hosts):
            name = f"h{h}"
            path = os.path.join(work, f"{name}-{rnd}.log")
            open(path, "w").close()
            procs.append(subprocess.Popen(
                [tool, "--data", os.path.join(work, f"{name}-{rnd}"), "--store", os.path.join(work, "store"),
                 "--json", "host", "--name", name, "--etcd", endpoint, "--listen", "127.0.0.1:0",
                 "--lease-ttl", str(args.lease_ttl)],
                stdout=open(path, "w"), stderr=subprocess.STDOUT))
            logs[name] = Log(path)
            if h == 0:  # the first host becomes the controller
                wait_for(lambda: (logs[name].poll(), any(e["event"] == "serving" for e in logs[name].events))[1],
                         60, "the first host's start")
        victim = f"h{args.hosts - 1}"

        def serving():
            # Each cell's newest adoption, and whether it serves since.
            for l in logs.values():
                l.poll()
            owner, serves = {}, {}
            events = sorted(((e, name) for name, l in logs.items() for e in l.events),
                            key=lambda en: en[0]["seen"])
            for e, name in events:
                if e["event"] == "adopted":
                    owner[e["cell"]] = (e["seen"], name)
                if e["event"] == "serving-cell":
                    serves[(name, e["cell"])] = e["seen"]
                if e["event"] == "released":
                    owner.pop(e["cell"], None)
            return owner, serves

        def settled():
            owner, serves = serving()
            per_host = {}
            for _, n in owner.values():
                per_host[n] = per_host.get(n, 0) + 1
            # Balanced (the controller moves a cell while two hosts differ
            # by two or more), and every cell serving.
            return (len(owner) == args.cells and len(per_host) == args.hosts and
                    max(per_host.values()) - min(per_host.values()) <= 1 and
                    all((n, c) in serves for c, (_, n) in owner.items()))
        try:
            wait_for(settled, 180, "every cell serving on every host")
        except SystemExit:
            owner, serves = serving()
            per = {}
            for c, (_, n) in owner.items():
                per.setdefault(n, []).append((c, (n, c) in serves))
            raise SystemExit(f"host_failover: the cells did not settle: {per}; logs in {work}")
        # No move in flight for a moment (the controller balances one cell at a time).
        owner, _ = serving()
        lost = sorted(c for c, (_, n) in owner.items() if n == victim)
        kill = time.monotonic()
        procs[args.hosts - 1].send_signal(signal.SIGKILL)
        procs[args.hosts - 1].wait()

        def back():
            o, s = serving()
            return all(c in o and o[c][1] != victim and (o[c][1], c) in s for c in lost)
        wait_for(back, 60 + 3 * args.lease_ttl, "the lost cells serving again")
        o, s = serving()
        assigned = [e["seen"] for l in logs.values() for e in l.events
                    if e["event"] == "assigned" and e["cell"] in lost and e["seen"] >= kill]
        claims = [o[c][0] - kill for c in lost]
        restores = [s[(o[c][1], c)] - o[c][0] for c in lost]
        return {"lost_cells": len(lost),
                "detection_s": min(assigned) - kill if assigned else float("nan"),
                "claim_s": max(claims),
                "restore_median_s": statistics.median(restores),
                "restore_max_s": max(restores),
                "full_availability_s": max(s[(o[c][1], c)] for c in lost) - kill}
    finally:
        stop(reversed(procs))


def stop(procs):
    """SIGTERM each process still running, SIGKILL after 15 s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--objects", type=int, default=200000)
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--lease-ttl", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tool = os.path.abspath(os.path.join(args.build, "tools", "cellindex"))
    work = tempfile.mkdtemp(prefix="host-failover-")
    try:
        t = time.monotonic()
        subprocess.run([tool, "--data", os.path.join(work, "seed"), "--store", os.path.join(work, "store"),
                        "--cells", str(args.cells), "load", "--objects", str(args.objects)],
                       check=True, stdout=subprocess.DEVNULL)
        load_s = time.monotonic() - t
        # As the drill does: every cell checkpointed, so that a restore is
        # the checkpoint plus a short journal tail.
        subprocess.run([tool, "--data", os.path.join(work, "seed"), "--store", os.path.join(work, "store"),
                        "checkpoint"], check=True, stdout=subprocess.DEVNULL)
        etcd, endpoint = start_etcd(work)
        try:
            rounds = [one_round(args, tool, work, r, endpoint) for r in range(args.rounds)]
        finally:
            etcd.terminate()
            etcd.wait()
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        out = {"objects": args.objects, "cells": args.cells, "hosts": args.hosts,
               "lease_ttl_s": args.lease_ttl, "load_s": load_s, "rounds": rounds, "median": med}
        if args.json:
            print(json.dumps(out, indent=1))
        else:
            print(f"{args.objects} objects in {args.cells} cells, {args.hosts} host processes, "
                  f"lease TTL {args.lease_ttl} s; {args.rounds} rounds, medians:")
            for k, v in med.items():
                print(f"  {k:22} {v:.3f}" if isinstance(v, float) else f"  {k:22} {v}")
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
