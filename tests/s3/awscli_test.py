"""The AWS CLI (awscli, /usr/bin/aws: s3api and s3 sync) drives cellindex-s3.

Usage: /usr/bin/python3 awscli_test.py PATH/TO/cellindex-s3
"""
import json
import os

from s3_harness import ACCESS_KEY, REGION, SECRET_KEY, TREE, ServerTestCase, main, read_tree, run, write_tree

AWS = "/usr/bin/aws"


class AwsCliTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        d = self.server.dir
        with open(os.path.join(d, "aws-config"), "w") as f:
            f.write(f"[default]\nregion = {REGION}\noutput = json\n"
                    "s3 =\n  addressing_style = path\n")
        with open(os.path.join(d, "aws-credentials"), "w") as f:
            f.write(f"[default]\naws_access_key_id = {ACCESS_KEY}\n"
                    f"aws_secret_access_key = {SECRET_KEY}\n")
        self.env.update(AWS_CONFIG_FILE=os.path.join(d, "aws-config"),
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(d, "aws-credentials"),
                        AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")

    def aws(self, *args, check=True):
        return run([AWS, "--endpoint-url", self.server.endpoint, *args], self.env,
                   check=check)

    def aws_json(self, *args):
        out = self.aws(*args).stdout
        return json.loads(out) if out.strip() else {}

    def test_sync_list_download_conditionals_delete(self):
        self.assertTrue(os.access(AWS, os.X_OK), "awscli is not installed")
        local = os.path.join(self.server.dir, "upload")
        write_tree(local)
        self.aws("s3api", "create-bucket", "--bucket", "cli-tree")
        self.aws("s3", "sync", local, "s3://cli-tree/")

        # --page-size 2: the CLI reads every page of two keys.
        listed = self.aws_json("s3api", "list-objects-v2", "--bucket", "cli-tree",
                               "--page-size", "2")
        self.assertEqual([o["Key"] for o in listed["Contents"]],
                         sorted(TREE, key=lambda k: k.encode()))
        docs = self.aws_json("s3api", "list-objects-v2", "--bucket", "cli-tree",
                             "--prefix", "docs/", "--delimiter", "/")
        self.assertEqual([o["Key"] for o in docs["Contents"]], ["docs/readme.txt"])
        self.assertEqual(sorted(p["Prefix"] for p in docs["CommonPrefixes"]),
                         sorted(["docs/ünïcödé/", "docs/日本語/", "docs/עברית/"]))
        download = os.path.join(self.server.dir, "download")
        self.aws("s3", "sync", "s3://cli-tree/", download)
        self.assertEqual(read_tree(download), TREE)

        key = "docs/ünïcödé/naïve café.txt"
        head = self.aws_json("s3api", "head-object", "--bucket", "cli-tree", "--key", key)
        etag = head["ETag"]
        target = os.path.join(self.server.dir, "got")
        self.aws("s3api", "get-object", "--bucket", "cli-tree", "--key", key,
                 "--if-match", etag, target)
        self.assertEqual(open(target, "rb").read(), TREE[key])
        failed = self.aws("s3api", "get-object", "--bucket", "cli-tree", "--key", key,
                          "--if-match", '"0000"', target, check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn(b"PreconditionFailed", failed.stderr)
        not_modified = self.aws("s3api", "get-object", "--bucket", "cli-tree", "--key", key,
                                "--if-none-match", etag, target, check=False)
        self.assertNotEqual(not_modified.returncode, 0)
        self.assertIn(b"304", not_modified.stderr)

        self.aws("s3", "rm", "s3://cli-tree/photos/", "--recursive")
        self.aws("s3api", "delete-objects", "--bucket", "cli-tree", "--delete",
                 json.dumps({"Objects": [{"Key": "top level.txt"}], "Quiet": True}))
        left = self.aws_json("s3api", "list-objects-v2", "--bucket", "cli-tree")
        self.assertEqual([o["Key"] for o in left["Contents"]],
                         sorted((k for k in TREE if k.startswith("docs/")),
                                key=lambda k: k.encode()))
        self.aws("s3", "rb", "s3://cli-tree", "--force")
        self.assertEqual(self.server.boto3().list_buckets()["Buckets"], [])


if __name__ == "__main__":
    main()
