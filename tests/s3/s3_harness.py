"""Starts cellindex-s3 on a free loopback port for a test, and stops it.

Everything lives in one temporary directory: the server's config, index,
volumes, and each client's config (never the user's home). Used by the
client tests of tests/s3 as:

    with Server(binary) as s:
        s3 = s.boto3()
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ACCESS_KEY = "AKIACELLINDEXTEST01"
SECRET_KEY = "cellindex/test/secret/key/0123456789abcd"
REGION = "us-east-1"

# Names in several scripts and sizes, to upload as a tree.
TREE = {
    "docs/readme.txt": b"hello, world\n",
    "docs/ünïcödé/naïve café.txt": "déjà vu ☕".encode(),
    "docs/日本語/ファイル.bin": bytes(range(256)) * 3,
    "docs/עברית/קובץ.txt": b"shalom",
    "photos/2024/😀 smile.jpg": os.urandom(70_000),
    "photos/2024/a+b=c&d.png": b"plus and ampersand",
    "photos/2025/Ελληνικά.gif": b"",
    "top level.txt": b"at the root",
}


def wait_for(condition, timeout, what):
    """Polls `condition` until it returns a true value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Server:
    def __init__(self, binary, volumes=2, replicas=1, cells=4, hosts=1, env=None,
                 workdir=None):
        self.binary = binary
        self.owns_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="cellindex-s3-test-")
        self.env = dict(os.environ, **(env or {}))
        self.config_path = os.path.join(self.dir, "config.json")
        if not os.path.exists(self.config_path):
            config = {
                "node": "node-1",
                "region": REGION,
                "data": "index",
                "store": "store",
                "cells": cells,
                "hosts": hosts,
                "replicas": replicas,
                "volumes": {f"vol-{i}": f"volumes/vol-{i}" for i in range(volumes)},
                "access_keys": {ACCESS_KEY: SECRET_KEY},
            }
            with open(self.config_path, "w") as f:
                json.dump(config, f)
        self.proc = None
        self.port = None
        self.clients = []

    def start(self, env=None):
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.remove(port_file)
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--config", self.config_path, "--port", "0",
             "--port-file", port_file],
            stdout=self.log, stderr=self.log, env=dict(self.env, **(env or {})))

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}: "
                                     + self.server_log())
            return os.path.exists(port_file) and open(port_file).read().strip()
        self.port = int(wait_for(listening, 30, "the server to listen"))
        self.endpoint = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self):
        # Idle keep-alive connections would hold the server's workers (up
        # to its keep-alive timeout) after SIGTERM.
        for client in self.clients:
            client.close()
        self.clients = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop on SIGTERM")
            # A clean stop exits 0 (under ASan, also: no leak, no error).
            if self.proc.returncode != 0:
                code = self.proc.returncode
                self.proc = None
                raise AssertionError(f"server exited with {code} on SIGTERM: "
                                     + self.server_log())
        self.proc = None

    def server_log(self):
        try:
            return open(os.path.join(self.dir, "server.log")).read()[-4000:]
        except OSError:
            return ""

    def run_tool(self, *args):
        """Runs `cellindex-s3 ARGS --config ...` (server stopped); returns stdout."""
        out = subprocess.run([self.binary, *args, "--config", self.config_path],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"{args} failed ({out.returncode}): {out.stderr}")
        return out.stdout

    def volume_dir(self, name):
        return os.path.join(self.dir, "volumes", name)

    def boto3(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY, retries=2):
        import boto3
        from botocore.config import Config
        client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            config=Config(s3={"addressing_style": "path"},
                          retries={"total_max_attempts": retries + 1, "mode": "standard"},
                          connect_timeout=10, read_timeout=30))
        self.clients.append(client)
        return client

    def client_env(self):
        """A clean environment for command-line clients: HOME in the temp dir."""
        home = os.path.join(self.dir, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["HOME"] = home
        return env

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self.owns_dir and exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif exc[0] is not None:
            sys.stderr.write(f"server dir kept: {self.dir}\nserver log:\n{self.server_log()}\n")


def write_tree(root, tree=TREE):
    for name, data in tree.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def read_tree(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out


def run(cmd, env, timeout=60, check=True, input=None):
    """Runs a client command, bounded in time; returns the CompletedProcess."""
    out = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, input=input)
    if check and out.returncode != 0:
        raise AssertionError(f"{cmd} failed ({out.returncode}):\n{out.stdout.decode()}\n"
                             f"{out.stderr.decode()}")
    return out


class ServerTestCase(unittest.TestCase):
    """A test with a server of its own (self.server), started before each
    test and stopped after; self.env is a clean environment for a
    command-line client. Run with main()."""
    binary = None
    server_args = {}  # Server's keyword arguments (volumes, replicas, ...)

    def setUp(self):
        self.server = Server(ServerTestCase.binary, **self.server_args).__enter__()
        self.addCleanup(self.server.__exit__, None, None, None)
        self.env = self.server.client_env()


def main():
    """Runs the tests of the calling module: argv[1] is cellindex-s3."""
    ServerTestCase.binary = sys.argv.pop(1)
    unittest.main(module="__main__", verbosity=2)
