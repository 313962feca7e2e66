// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/)
// from real encoded values, in the input form each harness reads (see the
// comment at the top of each *_fuzzer.cc). Run once after a format changes:
//
//     tools/fuzz.sh --make-corpus
//
// which builds this program and runs it as `fuzz_make_corpus tests/fuzz/corpus`.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "index/base/coding.h"
#include "index/cell/cell_ops.h"
#include "index/model/cell_map.h"
#include "index/model/object_key.h"
#include "index/model/object_record.h"
#include "index/model/page_token.h"
#include "recovery/store/checkpoint_manifest.h"
#include "recovery/journal/journal_format.h"
#include "recovery/journal/journal_writer.h"
#include "tests/fuzz/fuzz_util.h"

namespace cellindex::fuzz {
namespace {

std::filesystem::path root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::filesystem::path dir = root / target;
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

std::string Key(const std::string& bucket, const std::string& key) {
  return EncodeKey(ObjectKey{bucket, key});
}

std::vector<ObjectRecord> Records() {
  std::vector<ObjectRecord> out;
  out.push_back(ObjectRecord{});

  ObjectRecord photo;
  photo.size = 1234567;
  photo.etag = "\"9b2cf535f27731c974343645a3985328\"";
  photo.created = absl::FromUnixMicros(1709251200123456);
  photo.modified = absl::FromUnixMicros(1709251260000001);
  photo.content_type = "image/jpeg";
  photo.storage_class = "STANDARD_IA";
  photo.user_metadata = {{"camera", "X100V"}, {"owner", "ana"}};
  photo.version = 7;
  photo.locations = {{"node-3", "vol-3-07", 4096, 1234567},
                     {"node-11", "vol-11-02", 0, 1234567},
                     {"node-19", "vol-19-11", 81920, 1234567}};
  out.push_back(photo);

  ObjectRecord shards;  // 4+2 erasure-coded
  shards.size = uint64_t{5} << 32;
  shards.etag = "\"3858f62230ac3c915f300c664312c63f-640\"";
  shards.created = absl::FromUnixMicros(-1);
  shards.modified = absl::FromUnixMicros(0);
  shards.content_type = "application/x-parquet";
  shards.version = uint64_t{1} << 40;
  for (uint64_t i = 0; i < 6; ++i) {
    const std::string n = std::to_string(i * 4);
    shards.locations.push_back({"node-" + n, "vol-" + n + "-00", i << 33, uint64_t{5} << 30});
  }
  out.push_back(shards);

  ObjectRecord metadata;  // user metadata at its limit, names in other scripts
  metadata.size = 1;
  metadata.etag = "e";
  metadata.user_metadata = {{"x-\xc3\xa9t\xc3\xa9", std::string(900, 'v')},
                            {"\xe6\x97\xa5\xe6\x9c\xac", std::string(1100, 'w')}};
  metadata.version = 1;
  metadata.locations = {{"n", "v", 0, 1}};
  out.push_back(metadata);
  return out;
}

void ObjectRecords() {
  const std::vector<ObjectRecord> records = Records();
  const char* names[] = {"empty", "photo-3-replicas", "shards-4-2", "metadata-at-limit"};
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string body = BodyOf(EncodeRecord(records[i]));
    FUZZ_CHECK(DecodeRecord(WithChecksumTrailer(body)).ok(), names[i]);
    Write("object_record", names[i], body);
  }
}

// The harness's framing: kind index, scope count, scope values, token body.
std::string TokenInput(uint8_t kind_index, const PageToken& token) {
  std::string in;
  in.push_back(static_cast<char>(kind_index));
  in.push_back(static_cast<char>(token.scope.size()));
  for (const std::string& s : token.scope) {
    in.push_back(static_cast<char>(s.size()));
    in += s;
  }
  const std::string text = EncodePageToken(token);
  std::string raw;
  FUZZ_CHECK(absl::WebSafeBase64Unescape(text, &raw), "bad token");
  FUZZ_CHECK(absl::WebSafeBase64Escape(WithChecksumTrailer(BodyOf(raw))) == text,
             "the token is not base64 of its bytes");
  return in + BodyOf(raw);
}

void PageTokens() {
  PageToken list;
  list.kind = PageToken::Kind::kList;
  list.scope = {"photos", "2024/", "/"};
  list.position = "2024/cat.jpg";
  Write("page_token", "list-key", TokenInput(0, list));
  list.position = "2024/05/";
  list.position_is_prefix = true;
  Write("page_token", "list-common-prefix", TokenInput(0, list));
  PageToken plain;
  plain.scope = {"logs", "", ""};
  plain.position = "2024-03-01/host-17/\xe6\x97\xa5\xe8\xaa\x8c.log";
  Write("page_token", "list-no-prefix", TokenInput(0, plain));
  PageToken volume;
  volume.kind = PageToken::Kind::kLocateVolume;
  volume.scope = {"vol-11-02"};
  volume.position = Key("photos", "2024/cat.jpg");
  Write("page_token", "locate-volume", TokenInput(1, volume));
  PageToken node;
  node.kind = PageToken::Kind::kLocateNode;
  node.scope = {"node-19"};
  node.position = Key("lake", "part-00017.parquet");
  Write("page_token", "locate-node", TokenInput(2, node));
}

void CheckpointManifests() {
  CheckpointManifest m;
  m.range.id = 3;
  m.range.lo = Key("logs", "2024-03-01/");
  m.range.hi = Key("photos", "");
  m.epoch = 7;
  m.owner_epoch = 20;
  m.applied_seq = 12345;
  m.key_count = 99;
  m.created = absl::FromUnixMicros(1709251200000000);
  m.db_identity = "6f1c2a34-8d0e-4b7a-9c55-0e2f7d1a3b4c";
  m.files = {{"000012.sst", "cells/00003/files/6f1c2a34-000012.sst", {4096, 1, 2}},
             {"MANIFEST-000005", "cells/00003/files/00000000000000012345-MANIFEST-000005",
              {512, 0xdeadbeef, 0x12345678}},
             {"CURRENT", "cells/00003/files/00000000000000012345-CURRENT", {16, 3, 4}}};
  FUZZ_CHECK(CheckpointManifest::Decode(m.Encode()).ok(), "three-files");
  Write("checkpoint_manifest", "three-files", BodyOf(m.Encode()));

  CheckpointManifest last;
  last.range.id = 31;
  last.range.lo = Key("zoo", "a");
  last.range.hi_unbounded = true;
  last.epoch = 1;
  FUZZ_CHECK(CheckpointManifest::Decode(last.Encode()).ok(), "unbounded-no-files");
  Write("checkpoint_manifest", "unbounded-no-files", BodyOf(last.Encode()));

  // A manifest as format 2 wrote it (no owner epoch), still read.
  const std::string format2 =
      absl::HexStringToBytes("4d43465402001f057a6f6f0061010001000000000000000000000000");
  FUZZ_CHECK(CheckpointManifest::Decode(WithChecksumTrailer(format2)).ok(), "format-2");
  Write("checkpoint_manifest", "format-2", format2);
}

void CellMaps() {
  absl::StatusOr<CellMap> one = CellMap::FromBoundaries({});
  FUZZ_CHECK(one.ok(), one.status().ToString());
  FUZZ_CHECK(CellMap::Decode(one->Encode()).ok(), "one-cell");
  Write("cell_map", "one-cell", BodyOf(one->Encode()));

  absl::StatusOr<CellMap> four = CellMap::FromBoundaries(
      {Key("logs", "2024-03-01/"), Key("photos", ""), Key("photos", "2024/06/")});
  FUZZ_CHECK(four.ok(), four.status().ToString());
  four->PlaceRoundRobin({"host-0", "host-1", "host-2"});
  four->MoveCell(2, "host-7");
  FUZZ_CHECK(CellMap::Decode(four->Encode()).ok(), "four-cells-moved");
  Write("cell_map", "four-cells-moved", BodyOf(four->Encode()));

  // Lineage: cell 1 split, then its left child merged back with cell 0.
  const absl::Time born = absl::FromUnixSeconds(1700000000);
  absl::StatusOr<CellMap> split = four->Split(1, Key("logs", "2024-09-01/"), 4242, born);
  FUZZ_CHECK(split.ok(), split.status().ToString());
  absl::StatusOr<CellMap> merged = split->Merge(0, 4, 17, 4300, born + absl::Seconds(60));
  FUZZ_CHECK(merged.ok(), merged.status().ToString());
  FUZZ_CHECK(CellMap::Decode(merged->Encode()).ok(), "split-then-merged");
  Write("cell_map", "split-then-merged", BodyOf(merged->Encode()));

  // A map as format 2 wrote it (no next cell id, no lineage), still read.
  const std::string format2 = absl::HexStringToBytes(
      "434d4150022030313233343536373839616263646566303132333435363738396162636465660203000000016702"
      "683101016700017002683202017001000268310c7d28b62a829d1d");
  FUZZ_CHECK(CellMap::Decode(format2).ok(), "format-2");
  Write("cell_map", "format-2", BodyOf(format2));
}

// The journal harness's first byte picks its mode: 0 raw, 1 writer, 2 fragments.
void Journals() {
  const std::vector<ObjectRecord> records = Records();
  std::vector<std::string> payloads;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    std::string p;
    PutFixed64(&p, seq);
    p += Key("photos", "2024/" + std::to_string(seq) + ".jpg");
    p += EncodeRecord(records[seq]);
    payloads.push_back(p);
  }
  std::string big;
  PutFixed64(&big, 4);
  big += std::string(34000, 'b');  // spans a block boundary
  journal::Writer writer(0);
  std::string segment;
  for (const std::string& p : payloads) writer.AddRecord(p, &segment);
  Write("journal_reader", "raw-three-records", std::string(1, '\0') + segment);
  Write("journal_reader", "raw-torn-tail",
        std::string(1, '\0') + segment.substr(0, segment.size() - 100));
  writer.AddRecord(big, &segment);
  Write("journal_reader", "raw-across-blocks", std::string(1, '\0') + segment);

  // op, where (2 bytes), flip mask, records in the first run, then per record
  // a size (1 byte, or 0xc0+ and a second byte) and a content seed.
  const std::string sizes = std::string("\x10\x01\x80\x02\xc8\x40\x03\x00\x04\xbf\x05", 11);
  Write("journal_reader", "writer-clean", std::string("\x01\x00\x00\x80\x01\x02", 6) + sizes);
  Write("journal_reader", "writer-torn", std::string("\x01\x01\x00\xa0\x01\x02", 6) + sizes);
  Write("journal_reader", "writer-flipped", std::string("\x01\x02\x00\x30\x04\x01", 6) + sizes);

  // cut, then per fragment: ctl, length (1 byte, or 2 with ctl bit 6), payload.
  std::string fragments("\x02\x00", 2);
  fragments += std::string("\x00\x05", 2) + "full1";                 // kFull
  fragments += std::string("\x01\x04", 2) + "firs";                  // kFirst
  fragments += std::string("\x02\x03", 2) + "mid";                   // kMiddle
  fragments += std::string("\x03\x04", 2) + "last";                  // kLast
  fragments += std::string("\xc1\x80\x00", 3);                       // kFirst, 32 KiB generated
  fragments += std::string("\x83\x20", 2);                           // kLast, generated
  Write("journal_reader", "fragments", fragments);
  Write("journal_reader", "fragments-torn", std::string("\x02\x85", 2) + fragments.substr(2));
}

// The journal format harness's first byte: even, a logical record; odd, a
// head's body.
void JournalFormats() {
  journal::SegmentHeader h;
  h.index_id = "0123456789abcdef0123456789abcdef";
  h.cell_id = 3;
  h.first_seq = 1001;
  h.prev_first = 501;
  h.prev_end = 70123;
  h.prev_last_seq = 1000;
  h.gap_end = 900;
  h.created = absl::FromUnixMicros(1700000000000000);
  h.salt = 0x1234567890abcdefull;
  Write("journal_format", "header", std::string(1, '\0') + journal::EncodeSegmentHeader(h));
  Write("journal_format", "seal", std::string(1, '\0') + journal::EncodeSeal(1234));
  std::string data;
  PutFixed64(&data, 77);
  data += "ops";
  Write("journal_format", "data", std::string(1, '\0') + data);
  journal::Head head;
  head.cell_id = 3;
  head.newest = 1001;
  Write("journal_format", "head-open", std::string(1, '\1') + BodyOf(journal::EncodeHead(head)));
  head.closed = true;
  head.closed_end = 4096;
  head.closed_last_seq = 1200;
  Write("journal_format", "head-closed",
        std::string(1, '\1') + BodyOf(journal::EncodeHead(head)));
}

// Journal bodies: the kinds written now (a put over a record, a new put, a
// delete) and the older kinds.
void JournalBodies() {
  ObjectRecord r;
  r.size = 10;
  r.etag = "\"e\"";
  r.locations = {{"node-1", "vol-1", 0, 11}, {"node-2", "vol-3", 4096, 11}};
  const std::string record = EncodeRecord(r);
  const std::string key = EncodeKey({"bucket", "photos/1.jpg"});
  LocationNames old = LocationNamesOf(r);
  std::string body;
  JournalBodyEncoder e(&body);
  e.Begin(3);
  e.AddPut(key, record, &old);
  e.AddPut(EncodeKey({"bucket", "new"}), record, nullptr);
  e.AddDelete(EncodeKey({"bucket", "gone"}), old);
  Write("journal_body", "now", body);
  body.clear();
  e.Begin(2);
  e.AddLegacyPut(key, record);
  e.AddLegacyDelete(EncodeKey({"bucket", "gone"}));
  Write("journal_body", "older", body);
}

}  // namespace
}  // namespace cellindex::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  cellindex::fuzz::root = argv[1];
  cellindex::fuzz::ObjectRecords();
  cellindex::fuzz::PageTokens();
  cellindex::fuzz::CheckpointManifests();
  cellindex::fuzz::CellMaps();
  cellindex::fuzz::Journals();
  cellindex::fuzz::JournalFormats();
  cellindex::fuzz::JournalBodies();
  return 0;
}
