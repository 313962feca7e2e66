"""rclone (--s3-provider Other --s3-list-version 2) drives cellindex-s3.

Usage: /usr/bin/python3 rclone_test.py PATH/TO/cellindex-s3
"""
import os

from s3_harness import ACCESS_KEY, REGION, SECRET_KEY, TREE, ServerTestCase, main, read_tree, run, write_tree

RCLONE = "/usr/bin/rclone"


class RcloneTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.config = os.path.join(self.server.dir, "rclone.conf")
        with open(self.config, "w") as f:
            f.write(f"[ci]\ntype = s3\nprovider = Other\naccess_key_id = {ACCESS_KEY}\n"
                    f"secret_access_key = {SECRET_KEY}\nregion = {REGION}\n"
                    f"endpoint = {self.server.endpoint}\nforce_path_style = true\n")

    def rclone(self, *args, check=True):
        return run([RCLONE, "--config", self.config, "--s3-provider", "Other",
                    "--s3-list-version", "2", "--retries", "1", "--low-level-retries", "2",
                    "--contimeout", "10s", "--timeout", "30s", *args], self.env, check=check)

    def lines(self, *args):
        return self.rclone(*args).stdout.decode().splitlines()

    def test_copy_list_check_conditional_delete(self):
        self.assertTrue(os.access(RCLONE, os.X_OK), "rclone is not installed")
        local = os.path.join(self.server.dir, "upload")
        write_tree(local)
        self.rclone("mkdir", "ci:rc-tree")
        self.rclone("copy", local, "ci:rc-tree")

        # Pages of two keys (--s3-list-chunk sets max-keys).
        self.assertEqual(self.lines("lsf", "-R", "--files-only", "--s3-list-chunk", "2",
                                    "ci:rc-tree"),
                         sorted(TREE, key=lambda k: k.encode()))
        self.assertEqual(sorted(self.lines("lsf", "ci:rc-tree/docs")),
                         sorted(["readme.txt", "ünïcödé/", "日本語/", "עברית/"]))
        # rclone check compares sizes and MD5s (the ETags) of both sides.
        self.rclone("check", local, "ci:rc-tree")

        download = os.path.join(self.server.dir, "download")
        self.rclone("copy", "ci:rc-tree", download)
        self.assertEqual(read_tree(download), TREE)

        # Conditional GETs (rclone 1.60's S3 backend refuses If-None-Match on
        # uploads, "Don't know how to set key", so the conditional is a read).
        etag = self.server.boto3().head_object(Bucket="rc-tree", Key="docs/readme.txt")["ETag"]
        matched = self.rclone("cat", "--header-download", f"If-Match: {etag}",
                              "ci:rc-tree/docs/readme.txt")
        self.assertEqual(matched.stdout, TREE["docs/readme.txt"])
        refused = self.rclone("cat", "--header-download", 'If-Match: "0000"',
                              "ci:rc-tree/docs/readme.txt", check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn(b"PreconditionFailed", refused.stderr)

        self.rclone("delete", "ci:rc-tree/photos")
        self.assertEqual(self.lines("lsf", "-R", "--files-only", "ci:rc-tree"),
                         sorted((k for k in TREE if not k.startswith("photos/")),
                                key=lambda k: k.encode()))
        self.rclone("purge", "ci:rc-tree")
        self.assertEqual(self.server.boto3().list_buckets()["Buckets"], [])


if __name__ == "__main__":
    main()
