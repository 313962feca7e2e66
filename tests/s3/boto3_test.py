"""boto3 (python3-boto3) drives cellindex-s3 on a loopback port.

Usage: /usr/bin/python3 boto3_test.py PATH/TO/cellindex-s3
"""
import concurrent.futures
import hashlib
import http.client
import os
import random
import unittest

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.exceptions import ClientError

from s3_harness import ACCESS_KEY, REGION, SECRET_KEY, TREE, Server, ServerTestCase, main


def utf8_order(keys):
    return sorted(keys, key=lambda k: k.encode())


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call.__name__} succeeded; an error was expected")


def put_with_headers(s3, headers, **kwargs):
    """PutObject with extra headers (this boto3 predates PUT's If-Match and
    If-None-Match parameters), added before signing."""
    def add(request, **_):
        for name, value in headers.items():
            request.headers[name] = value
    s3.meta.events.register("before-sign.s3.PutObject", add, unique_id="extra-headers")
    try:
        return s3.put_object(**kwargs)
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", unique_id="extra-headers")


def list_all_v2(s3, bucket, **kwargs):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, **kwargs)
    keys, prefixes = [], []
    for page in pages:
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes


class Boto3Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(ServerTestCase.binary).__enter__()
        cls.s3 = cls.server.boto3()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def raw(self, method, path, query="", body=b"", headers=None, secret=SECRET_KEY,
            sign=True, payload_hash=None, signed_payload_hash=None):
        """A request signed by botocore's SigV4 signer, sent as given.
        signed_payload_hash: sign (and send) this hash instead of the body's.
        payload_hash: send this hash after signing (the signature breaks)."""
        url = f"{self.server.endpoint}{path}" + (f"?{query}" if query else "")
        request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                                 headers=dict(headers or {}))
        if sign:
            creds = botocore.credentials.Credentials(ACCESS_KEY, secret)
            signer = botocore.auth.S3SigV4Auth(creds, "s3", REGION)
            if signed_payload_hash is not None:
                signer.payload = lambda request: signed_payload_hash
            signer.add_auth(request)
        if payload_hash is not None:
            request.headers.replace_header("X-Amz-Content-SHA256", payload_hash)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        conn.request(method, path + (f"?{query}" if query else ""), body=body,
                     headers=dict(request.headers.items()))
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data.decode(errors="replace")

    def test_tree_roundtrip_listing_conditionals_and_delete(self):
        s3 = self.s3
        s3.create_bucket(Bucket="tree")
        self.assertEqual(error_code(s3.create_bucket, Bucket="tree"),
                         ("BucketAlreadyOwnedByYou", 409))
        self.assertIn("tree", [b["Name"] for b in s3.list_buckets()["Buckets"]])
        for name, data in TREE.items():
            s3.put_object(Bucket="tree", Key=name, Body=data, ContentType="text/plain",
                          Metadata={"origin": "test"})

        # Listing: everything, in UTF-8 byte order, in pages of 2 (V2 and V1).
        everything = utf8_order(TREE)
        self.assertEqual(list_all_v2(s3, "tree", PaginationConfig={"PageSize": 2})[0], everything)
        v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(
            Bucket="tree", PaginationConfig={"PageSize": 3}) for o in page.get("Contents", [])]
        self.assertEqual(v1, everything)
        keys, prefixes = list_all_v2(s3, "tree", Prefix="docs/", Delimiter="/")
        self.assertEqual(keys, ["docs/readme.txt"])
        self.assertEqual(prefixes, utf8_order(["docs/ünïcödé/", "docs/日本語/", "docs/עברית/"]))
        keys, prefixes = list_all_v2(s3, "tree", Delimiter="/", PaginationConfig={"PageSize": 1})
        self.assertEqual((keys, prefixes), (["top level.txt"], ["docs/", "photos/"]))
        page = s3.list_objects_v2(Bucket="tree", StartAfter="photos/2024/", MaxKeys=2,
                                  FetchOwner=True)
        self.assertEqual([o["Key"] for o in page["Contents"]],
                         utf8_order([k for k in TREE if k.encode() > b"photos/2024/"])[:2])
        self.assertTrue(page["IsTruncated"])
        self.assertIn("Owner", page["Contents"][0])

        # Download and compare bytes, sizes, ETags (MD5), metadata, ranges.
        for name, data in TREE.items():
            got = s3.get_object(Bucket="tree", Key=name)
            self.assertEqual(got["Body"].read(), data, name)
            self.assertEqual(got["ETag"], '"%s"' % hashlib.md5(data).hexdigest())
            self.assertEqual(got["ContentLength"], len(data))
            self.assertEqual(got["Metadata"], {"origin": "test"})
            self.assertEqual(got["ContentType"], "text/plain")
        head = s3.head_object(Bucket="tree", Key="docs/日本語/ファイル.bin")
        self.assertEqual(head["ContentLength"], 768)
        ranged = s3.get_object(Bucket="tree", Key="docs/日本語/ファイル.bin", Range="bytes=250-259")
        self.assertEqual(ranged["Body"].read(), TREE["docs/日本語/ファイル.bin"][250:260])
        self.assertEqual(ranged["ContentRange"], "bytes 250-259/768")
        self.assertEqual(error_code(s3.get_object, Bucket="tree", Key="top level.txt",
                                    Range="bytes=5000-"), ("InvalidRange", 416))

        # Conditionals on GET and PUT.
        etag = head["ETag"]
        key = "docs/日本語/ファイル.bin"
        self.assertEqual(s3.get_object(Bucket="tree", Key=key, IfMatch=etag)["ETag"], etag)
        self.assertEqual(error_code(s3.get_object, Bucket="tree", Key=key, IfMatch='"00"'),
                         ("PreconditionFailed", 412))
        self.assertEqual(error_code(s3.get_object, Bucket="tree", Key=key, IfNoneMatch=etag),
                         ("304", 304))
        def put_if(headers, key=key, body=b"no"):
            return put_with_headers(s3, headers, Bucket="tree", Key=key, Body=body)
        self.assertEqual(error_code(put_if, {"If-None-Match": "*"}), ("PreconditionFailed", 412))
        self.assertEqual(error_code(put_if, {"If-Match": '"0123"'}), ("PreconditionFailed", 412))
        self.assertEqual(s3.get_object(Bucket="tree", Key=key)["Body"].read(), TREE[key])
        put_if({"If-Match": etag}, body=b"yes")
        self.assertEqual(s3.get_object(Bucket="tree", Key=key)["Body"].read(), b"yes")
        put_if({"If-None-Match": "*"}, key="new-only", body=b"first")
        self.assertEqual(s3.get_object(Bucket="tree", Key="new-only")["Body"].read(), b"first")

        # Copy, then delete (one and many), and list again.
        s3.copy_object(Bucket="tree", Key="copy/of/readme", CopySource="tree/docs/readme.txt")
        self.assertEqual(s3.get_object(Bucket="tree", Key="copy/of/readme")["Body"].read(),
                         TREE["docs/readme.txt"])
        s3.delete_object(Bucket="tree", Key="top level.txt")
        s3.delete_object(Bucket="tree", Key="never-existed")  # 204 as S3
        self.assertEqual(error_code(s3.get_object, Bucket="tree", Key="top level.txt"),
                         ("NoSuchKey", 404))
        self.assertEqual(error_code(s3.delete_bucket, Bucket="tree"), ("BucketNotEmpty", 409))
        remaining = list_all_v2(s3, "tree")[0]
        result = s3.delete_objects(Bucket="tree", Delete={
            "Objects": [{"Key": k} for k in remaining]})
        self.assertEqual(sorted(d["Key"] for d in result["Deleted"]), sorted(remaining))
        self.assertEqual(list_all_v2(s3, "tree"), ([], []))
        s3.delete_bucket(Bucket="tree")
        self.assertEqual(error_code(s3.head_bucket, Bucket="tree"), ("404", 404))
        self.assertNotIn("tree", [b["Name"] for b in s3.list_buckets()["Buckets"]])
        # Bytes of deleted and replaced objects are gone from the volumes: one
        # file per non-empty object is left, in whatever buckets remain.
        self.assertEqual(self.volume_files(), self.nonempty_objects())

    def test_random_puts_and_lists_match_a_model_of_list_objects_v2(self):
        s3 = self.s3
        s3.create_bucket(Bucket="random")
        rng = random.Random(12)
        alphabet = ["a", "b", "/", "é", "☕", "-", "+", " "]
        model = {}
        pool = concurrent.futures.ThreadPoolExecutor(8)

        def put(key):
            body = key.encode() * rng.randint(0, 3)
            s3.put_object(Bucket="random", Key=key, Body=body)
            return key, body
        for round_ in range(4):
            keys = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
                    for _ in range(60)}
            for key, body in pool.map(put, sorted(keys)):
                model[key] = body
            for key in rng.sample(sorted(model), 10):
                s3.delete_object(Bucket="random", Key=key)
                del model[key]
            for _ in range(12):
                self.check_listing(rng, alphabet, model)
        pool.shutdown()

    def check_listing(self, rng, alphabet, model):
        prefix = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 2)))
        delimiter = rng.choice(["", "/", "a", "é"])
        start_after = rng.choice(["", "".join(rng.choice(alphabet) for _ in range(3))])
        max_keys = rng.choice([1, 2, 3, 7, 20, 1000])
        # The model: every entry (key, or common prefix once) in order.
        entries = []
        for key in utf8_order(model):
            if not key.startswith(prefix) or key.encode() <= start_after.encode():
                continue
            rest = key[len(prefix):]
            if delimiter and delimiter in rest:
                cp = prefix + rest.split(delimiter)[0] + delimiter
                if not entries or entries[-1] != ("p", cp):
                    entries.append(("p", cp))
            else:
                entries.append(("k", key))
        args = dict(Bucket="random", Prefix=prefix, Delimiter=delimiter, MaxKeys=max_keys,
                    StartAfter=start_after)
        what = f"prefix={prefix!r} delimiter={delimiter!r} start_after={start_after!r} " \
               f"max_keys={max_keys}"
        position = 0
        while True:
            page = self.s3.list_objects_v2(**args)
            want = entries[position:position + max_keys]
            got = [("k", o["Key"]) for o in page.get("Contents", [])] + \
                  [("p", p["Prefix"]) for p in page.get("CommonPrefixes", [])]
            self.assertEqual(sorted(got, key=lambda e: e[1].encode()), want, what)
            self.assertEqual(page["KeyCount"], len(want), what)
            for o in page.get("Contents", []):
                self.assertEqual(o["Size"], len(model[o["Key"]]))
                self.assertEqual(o["ETag"], '"%s"' % hashlib.md5(model[o["Key"]]).hexdigest())
            position += len(want)
            self.assertEqual(page["IsTruncated"], position < len(entries), what)
            if not page["IsTruncated"]:
                break
            args["ContinuationToken"] = page["NextContinuationToken"]

    def volume_files(self):
        return sum(len(os.listdir(self.server.volume_dir(v))) for v in ("vol-0", "vol-1"))

    def nonempty_objects(self):
        s3 = self.s3
        return sum(1 for b in s3.list_buckets()["Buckets"]
                   for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"])
                   for o in page.get("Contents", []) if o["Size"] > 0)

    def state(self):
        """What a refused request must not change."""
        s3 = self.s3
        buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
        objects = {b: [(o["Key"], o["ETag"]) for o in
                       s3.list_objects_v2(Bucket=b).get("Contents", [])] for b in buckets}
        files = {v: sorted(os.listdir(self.server.volume_dir(v))) for v in ("vol-0", "vol-1")}
        return buckets, objects, files

    def test_refused_requests_get_s3_errors_and_change_nothing(self):
        s3 = self.s3
        s3.create_bucket(Bucket="guarded")
        s3.put_object(Bucket="guarded", Key="kept", Body=b"kept")
        before = self.state()

        wrong_secret = self.server.boto3(secret_key="not-the-secret")
        self.assertEqual(error_code(wrong_secret.put_object, Bucket="guarded", Key="kept",
                                    Body=b"x"), ("SignatureDoesNotMatch", 403))
        self.assertEqual(error_code(wrong_secret.delete_object, Bucket="guarded", Key="kept"),
                         ("SignatureDoesNotMatch", 403))
        unknown = self.server.boto3(access_key="AKIAUNKNOWNKEY000000")
        self.assertEqual(error_code(unknown.create_bucket, Bucket="intruder"),
                         ("InvalidAccessKeyId", 403))
        self.assertEqual(error_code(unknown.list_objects_v2, Bucket="guarded"),
                         ("InvalidAccessKeyId", 403))
        self.assertEqual(self.state(), before)

        status, body = self.raw("PUT", "/guarded/kept", body=b"unsigned", sign=False)
        self.assertEqual(status, 403)
        self.assertIn("<Code>AccessDenied</Code>", body)
        status, body = self.raw("PUT", "/guarded/kept", body=b"tampered",
                                payload_hash=hashlib.sha256(b"other").hexdigest())
        self.assertEqual(status, 403)  # the header is signed: changing it breaks the signature
        self.assertIn("<Code>SignatureDoesNotMatch</Code>", body)
        status, body = self.raw("PUT", "/guarded/kept", body=b"tampered",
                                signed_payload_hash=hashlib.sha256(b"other").hexdigest())
        self.assertEqual(status, 400)
        self.assertIn("<Code>XAmzContentSHA256Mismatch</Code>", body)
        self.assertEqual(self.state(), before)

        for bad in (b"<Delete><Object><Key>kept</Key></Object>",  # unclosed
                    b"<Delete><Object><Key>kept</Key></Obj></Delete>",
                    b"not xml at all", b"<Delete></Delete>",
                    b"<Delete><Object><Key>kept</Key></Object><Bogus/></Delete>"):
            md5 = __import__("base64").b64encode(hashlib.md5(bad).digest()).decode()
            status, body = self.raw("POST", "/guarded", query="delete", body=bad,
                                    headers={"Content-MD5": md5})
            self.assertEqual(status, 400, bad)
            self.assertIn("<Code>MalformedXML</Code>", body, bad)
        status, body = self.raw("PUT", "/newbucket", body=b"<CreateBucketConfiguration>")
        self.assertEqual(status, 400)
        self.assertIn("<Code>MalformedXML</Code>", body)
        self.assertEqual(self.state(), before)

        self.assertEqual(error_code(s3.put_object, Bucket="guarded", Key="k" * 1025, Body=b"x"),
                         ("KeyTooLongError", 400))
        self.assertEqual(error_code(s3.copy_object, Bucket="guarded", Key="é" * 513,
                                    CopySource="guarded/kept"), ("KeyTooLongError", 400))
        s3.put_object(Bucket="guarded", Key="k" * 1024, Body=b"longest")  # the limit itself
        s3.delete_object(Bucket="guarded", Key="k" * 1024)
        for name in ("ab", "Upper", "bad_name", "-dash", "dash-", "192.168.1.1", "a..b",
                     "x" * 64, "xn--punycode", "cellindex-s3.buckets"):
            self.assertEqual(error_code(s3.create_bucket, Bucket=name),
                             ("InvalidBucketName", 400), name)
        self.assertEqual(error_code(s3.list_objects_v2, Bucket="cellindex-s3.buckets"),
                         ("InvalidBucketName", 400))
        self.assertEqual(error_code(s3.put_object, Bucket="Bad_Bucket", Key="k", Body=b""),
                         ("InvalidBucketName", 400))
        self.assertEqual(error_code(s3.put_object, Bucket="missing-bucket", Key="k", Body=b""),
                         ("NoSuchBucket", 404))
        self.assertEqual(error_code(s3.list_objects_v2, Bucket="guarded",
                                    ContinuationToken="bm90LWEtdG9rZW4"),
                         ("InvalidArgument", 400))
        self.assertEqual(self.state(), before)


if __name__ == "__main__":
    main()
