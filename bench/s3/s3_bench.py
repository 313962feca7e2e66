"""cellindex-s3 benchmark: small-object PUT and GET and LIST pages of 1000
keys through the server over HTTP (boto3 clients on a thread pool), beside
the same operations in process (s3_embedded_bench: S3Service without HTTP,
and the Index calls alone), in the same run on the same machine.

Usage:
  /usr/bin/python3 bench/s3/s3_bench.py --server build/tools/s3/cellindex-s3 \
      --embedded build/bench/s3/s3_embedded_bench [--objects 2000] [--threads 8] \
      [--size 1024] [--json]
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "s3"))
from s3_harness import Server  # noqa: E402


def run_phase(n, threads, op):
    """op(client, i) for i in range(n) on `threads` threads, one boto3 client
    each; returns (latencies in µs, wall seconds)."""
    local = threading.local()
    latencies = []
    lock = threading.Lock()

    def one(i):
        if not hasattr(local, "client"):
            local.client = make_client()
        start = time.perf_counter()
        op(local.client, i)
        took = (time.perf_counter() - start) * 1e6
        with lock:
            latencies.append(took)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n)))
    return latencies, time.perf_counter() - start


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(latencies, seconds, server_cpu=None):
    latencies = sorted(latencies)
    out = {"median_us": round(statistics.median(latencies), 1),
           "p99_us": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
           "ops_per_s": round(len(latencies) / seconds, 1)}
    if server_cpu is not None:
        out["server_cpu_us_per_op"] = round(server_cpu * 1e6 / len(latencies), 1)
    return out


def measured(pid, n, threads, op):
    before = cpu_seconds(pid)
    latencies, seconds = run_phase(n, threads, op)
    return summary(latencies, seconds, cpu_seconds(pid) - before)


def key(i):
    return "obj/%08d" % i


def main():
    global make_client
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--embedded", required=True)
    p.add_argument("--objects", type=int, default=2000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    body = b"x" * a.size
    pages = (a.objects + 999) // 1000
    list_reps = max(20, pages)
    http = {}
    with Server(a.server) as server:
        make_client = server.boto3
        server.boto3().create_bucket(Bucket="http-bench")
        pid = server.proc.pid
        http["put"] = measured(pid, a.objects, a.threads, lambda c, i: c.put_object(
            Bucket="http-bench", Key=key(i), Body=body))
        http["get"] = measured(pid, a.objects, a.threads, lambda c, i: c.get_object(
            Bucket="http-bench", Key=key(i))["Body"].read())

        def list_page(c, i):
            first = (i % pages) * 1000
            args = {"StartAfter": key(first - 1)} if first else {}
            page = c.list_objects_v2(Bucket="http-bench", **args)
            assert page["KeyCount"] == min(1000, a.objects - first), page["KeyCount"]
        http["list_1000"] = measured(pid, list_reps, a.threads, list_page)

    embedded = json.loads(subprocess.run(
        [a.embedded, "--objects", str(a.objects), "--threads", str(a.threads),
         "--size", str(a.size), "--dir", "/tmp"],
        check=True, capture_output=True, text=True, timeout=600).stdout)["phases"]
    report = {"objects": a.objects, "threads": a.threads, "size": a.size,
              "cpus": os.cpu_count(), "operations": {}}
    for op, name in (("put", "put"), ("get", "get"), ("list_1000", "list_1000")):
        index = embedded[f"index_{name}"]
        service = embedded[f"service_{name}"]
        report["operations"][op] = {
            "http": http[op], "service": service, "index": index,
            "median_http_over_service": round(http[op]["median_us"] / service["median_us"], 2),
            "median_http_over_index": round(http[op]["median_us"] / index["median_us"], 2),
        }
    if a.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{a.objects} objects of {a.size} B, {a.threads} threads, {os.cpu_count()} CPUs; "
          "median latency in µs (ops/s)")
    print(f"{'op':<10} {'HTTP (boto3)':>20} {'S3Service':>20} {'Index':>20} "
          f"{'HTTP/Svc':>9} {'HTTP/Idx':>9} {'server CPU µs/op':>17}")
    for op, r in report["operations"].items():
        cell = lambda s: f"{s['median_us']:.0f} ({s['ops_per_s']:.0f}/s)"
        print(f"{op:<10} {cell(r['http']):>20} {cell(r['service']):>20} {cell(r['index']):>20} "
              f"{r['median_http_over_service']:>9} {r['median_http_over_index']:>9} "
              f"{r['http']['server_cpu_us_per_op']:>17}")


if __name__ == "__main__":
    main()
