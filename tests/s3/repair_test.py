"""Orphans and repair: a crash between writing an object's bytes and putting
its record leaves orphan bytes, which `cellindex-s3 scrub` finds (Locate per
volume) and removes; a lost volume is answered by `cellindex-s3 lost-volume`
(Locate(volume)) with exactly the objects that no longer read.

Usage: /usr/bin/python3 repair_test.py PATH/TO/cellindex-s3
"""
import json
import os
import shutil

from botocore.exceptions import ClientError

from s3_harness import ServerTestCase, main, wait_for

OBJECTS = {f"dir{i % 3}/object-{i:02d}": os.urandom(100 + i) for i in range(24)}


def volume_files(server):
    return {v: sorted(os.listdir(server.volume_dir(v))) for v in ("vol-0", "vol-1")}


class RepairTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        s3 = self.server.boto3()
        s3.create_bucket(Bucket="repair")
        for key, data in OBJECTS.items():
            s3.put_object(Bucket="repair", Key=key, Body=data)
        self.server.stop()

    def read_all(self):
        """Key -> bytes, or the error code of its GET."""
        s3 = self.server.boto3(retries=0)
        out = {}
        for key in OBJECTS:
            try:
                out[key] = s3.get_object(Bucket="repair", Key=key)["Body"].read()
            except ClientError as e:
                out[key] = e.response["Error"]["Code"]
        return out

    def test_scrub_removes_the_bytes_of_a_write_that_crashed_before_its_record(self):
        before = volume_files(self.server)
        self.server.start(env={"CELLINDEX_S3_TEST_CRASH_BEFORE_RECORD": "1"})
        with self.assertRaises(Exception):
            self.server.boto3(retries=0).put_object(Bucket="repair", Key="orphan", Body=b"o" * 99)
        wait_for(lambda: self.server.proc.poll() is not None, 30, "the crash")
        self.assertEqual(self.server.proc.returncode, 86)
        self.server.proc = None
        after_crash = volume_files(self.server)
        orphans = {v: sorted(set(after_crash[v]) - set(before[v])) for v in after_crash}
        self.assertEqual(sum(len(o) for o in orphans.values()), 1, orphans)

        self.server.start()
        self.assertEqual(self.read_all(), OBJECTS)
        s3 = self.server.boto3(retries=0)
        with self.assertRaises(ClientError) as missing:
            s3.head_object(Bucket="repair", Key="orphan")
        self.assertEqual(missing.exception.response["Error"]["Code"], "404")
        self.server.stop()

        dry = json.loads(self.server.run_tool("scrub", "--dry-run", "--json"))
        self.assertEqual({v["Volume"]: v["Orphans"] for v in dry}, orphans)
        self.assertEqual(volume_files(self.server), after_crash)  # a dry run removes nothing
        done = json.loads(self.server.run_tool("scrub", "--json"))
        self.assertEqual({v["Volume"]: v["Removed"] for v in done}, orphans)
        self.assertEqual(sum(v["Referenced"] for v in done), len(OBJECTS))
        self.assertEqual(volume_files(self.server), before)
        again = json.loads(self.server.run_tool("scrub", "--json"))
        self.assertEqual(sum(len(v["Removed"]) for v in again), 0)

        self.server.start()
        self.assertEqual(self.read_all(), OBJECTS)

    def test_lost_volume_lists_exactly_the_objects_to_repair(self):
        shutil.rmtree(self.server.volume_dir("vol-0"))
        listed = json.loads(self.server.run_tool("lost-volume", "vol-0", "--json"))
        self.server.start()
        reads = self.read_all()
        unreadable = sorted(k for k, v in reads.items() if v != OBJECTS[k])
        self.assertTrue(unreadable and len(unreadable) < len(OBJECTS), unreadable)
        self.assertEqual(set(reads[k] for k in unreadable), {"InternalError"})
        self.assertEqual(sorted(o["Key"] for o in listed), unreadable)
        for o in listed:
            self.assertEqual(o["Bucket"], "repair")
            self.assertEqual(o["Size"], len(OBJECTS[o["Key"]]))
            self.assertEqual([e["Volume"] for e in o["Extents"]], ["vol-0"])
            self.assertFalse(o["OtherReplica"])
        self.server.stop()
        # The other volume's objects are the rest: together, every object once.
        others = json.loads(self.server.run_tool("lost-volume", "vol-1", "--json"))
        self.assertEqual(sorted(o["Key"] for o in others),
                         sorted(set(OBJECTS) - set(unreadable)))


class ReplicatedRepairTest(ServerTestCase):
    server_args = {"replicas": 2}

    def test_a_lost_volume_is_read_from_the_other_replica(self):
        s3 = self.server.boto3()
        s3.create_bucket(Bucket="replicated")
        for key, data in OBJECTS.items():
            s3.put_object(Bucket="replicated", Key=key, Body=data)
        self.server.stop()
        shutil.rmtree(self.server.volume_dir("vol-0"))
        listed = json.loads(self.server.run_tool("lost-volume", "vol-0", "--json"))
        self.assertEqual(sorted(o["Key"] for o in listed), sorted(OBJECTS))
        self.assertTrue(all(o["OtherReplica"] for o in listed))
        self.server.start()
        s3 = self.server.boto3(retries=0)
        for key, data in OBJECTS.items():
            self.assertEqual(s3.get_object(Bucket="replicated", Key=key)["Body"].read(), data)


if __name__ == "__main__":
    main()
