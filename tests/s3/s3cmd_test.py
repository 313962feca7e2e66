"""s3cmd (its V1 listings, path-style, SigV4) drives cellindex-s3.

Usage: /usr/bin/python3 s3cmd_test.py PATH/TO/cellindex-s3
"""
import concurrent.futures
import os

from s3_harness import ACCESS_KEY, REGION, SECRET_KEY, TREE, ServerTestCase, main, read_tree, run, write_tree

S3CMD = "/usr/bin/s3cmd"


class S3cmdTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.config = os.path.join(self.server.dir, "s3cfg")
        host = f"127.0.0.1:{self.server.port}"
        with open(self.config, "w") as f:
            f.write(f"[default]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n"
                    f"host_base = {host}\nhost_bucket = {host}\nbucket_location = {REGION}\n"
                    "use_https = False\nsignature_v2 = False\ncheck_ssl_certificate = False\n"
                    "multipart_chunk_size_mb = 15\nsocket_timeout = 30\n")

    def s3cmd(self, *args, check=True):
        return run([S3CMD, "-c", self.config, "--no-progress", *args], self.env, check=check)

    def listed(self, *args):
        """Object URLs that `s3cmd ls` prints (the last field of each line)."""
        out = self.s3cmd("ls", *args).stdout.decode()
        return [line.split("s3://", 1)[1] for line in out.splitlines() if "s3://" in line]

    def test_put_list_get_conditional_delete(self):
        self.assertTrue(os.access(S3CMD, os.X_OK), "s3cmd is not installed")
        local = os.path.join(self.server.dir, "upload")
        write_tree(local)
        self.s3cmd("mb", "s3://cmd-tree")
        self.s3cmd("put", "--recursive", local + "/", "s3://cmd-tree/")

        self.assertEqual(self.listed("--recursive", "s3://cmd-tree"),
                         ["cmd-tree/" + k for k in sorted(TREE, key=lambda k: k.encode())])
        self.assertEqual(sorted(self.listed("s3://cmd-tree/docs/")),
                         sorted(["cmd-tree/docs/readme.txt", "cmd-tree/docs/ünïcödé/",
                                 "cmd-tree/docs/日本語/", "cmd-tree/docs/עברית/"]))
        self.assertEqual(sorted(self.listed("s3://cmd-tree")),
                         ["cmd-tree/docs/", "cmd-tree/photos/", "cmd-tree/top level.txt"])

        # Past one page of 1000 (s3cmd has no page size of its own): 1001
        # directories, listed by key (marker = last key) and by common prefix
        # (NextMarker = a prefix, whose keys the next page must skip).
        s3 = self.server.boto3()
        dirs = ["many/d%04d/" % i for i in range(1001)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda d: s3.put_object(Bucket="cmd-tree", Key=d + "x", Body=b""),
                          dirs))
        self.assertEqual(self.listed("--recursive", "s3://cmd-tree/many/"),
                         ["cmd-tree/" + d + "x" for d in dirs])
        self.assertEqual(self.listed("s3://cmd-tree/many/"), ["cmd-tree/" + d for d in dirs])
        self.s3cmd("del", "--recursive", "--force", "s3://cmd-tree/many/")

        download = os.path.join(self.server.dir, "download")
        os.makedirs(download)
        self.s3cmd("get", "--recursive", "s3://cmd-tree/", download + "/")
        self.assertEqual(read_tree(download), TREE)

        # A conditional create of a key that exists is refused and changes nothing.
        other = os.path.join(self.server.dir, "other.txt")
        with open(other, "wb") as f:
            f.write(b"must not replace")
        refused = self.s3cmd("put", "--add-header=If-None-Match:*", other,
                             "s3://cmd-tree/docs/readme.txt", check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn(b"412", refused.stderr + refused.stdout)
        self.s3cmd("put", "--add-header=If-None-Match:*", other, "s3://cmd-tree/fresh.txt")
        got = os.path.join(self.server.dir, "readme.txt")
        self.s3cmd("get", "s3://cmd-tree/docs/readme.txt", got)
        self.assertEqual(open(got, "rb").read(), TREE["docs/readme.txt"])

        self.s3cmd("del", "--recursive", "--force", "s3://cmd-tree/photos/")
        self.s3cmd("del", "s3://cmd-tree/fresh.txt")
        self.assertEqual(self.listed("--recursive", "s3://cmd-tree"),
                         ["cmd-tree/" + k for k in sorted(
                             (k for k in TREE if not k.startswith("photos/")),
                             key=lambda k: k.encode())])
        self.s3cmd("del", "--recursive", "--force", "s3://cmd-tree/")
        self.s3cmd("rb", "s3://cmd-tree")
        self.assertEqual(self.server.boto3().list_buckets()["Buckets"], [])


if __name__ == "__main__":
    main()
