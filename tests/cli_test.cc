// The `cellindex` binary end to end: put / get / ls / rm / locate with their
// --json output parsed, load / cells / stat, and the exit code and one-line
// message for each class of error.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"
#include "tools/workload.h"

namespace cellindex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Json = nlohmann::json;

struct Result {
  int code = -1;
  std::string out, err;
  Json json() const { return Json::parse(out); }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  // Runs `cellindex --data <data_> ARGS...`.
  Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--data", data_});
    return RunRaw(std::move(args));
  }

  // Runs `cellindex ARGS...`.
  Result RunRaw(std::vector<std::string> args) {
    args.insert(args.begin(), CELLINDEX_CLI_PATH);
    const std::string out = dir_ / "stdout", err = dir_ / "stderr";
    pid_t pid = ::fork();
    if (pid == 0) {
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = ReadFile(out);
    r.err = ReadFile(err);
    return r;
  }

  // Runs and expects success; returns the parsed --json output.
  Json RunJson(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.code == 0 ? r.json() : Json();
  }

  // Expects exit code `code` and one line on stderr that contains `message`.
  void ExpectError(std::vector<std::string> args, int code, const std::string& message) {
    Result r = Run(args);
    EXPECT_EQ(r.code, code) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_THAT(r.err, StartsWith("cellindex: "));
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }

  testing::ScratchDir dir_;
  std::string data_ = dir_ / "data";
};

TEST_F(CliTest, PutGetLsRmLocateWithJson) {
  Json put = RunJson({"--cells",
                      "3",
                      "put",
                      "photos",
                      "2024/cat.jpg",
                      "--size",
                      "1234",
                      "--etag",
                      "\"abc\"",
                      "--content-type",
                      "image/jpeg",
                      "--storage-class",
                      "STANDARD_IA",
                      "--location",
                      "node-7:vol-31:0:1234",
                      "--location",
                      "node-8:vol-40:4096:1234",
                      "--meta",
                      "owner=alice",
                      "--meta",
                      "note=été"});
  EXPECT_EQ(put["Bucket"], "photos");
  EXPECT_EQ(put["Key"], "2024/cat.jpg");
  const uint64_t version = put["Version"];
  RunJson({"put", "photos", "2024/dog.jpg", "--size", "7", "--location", "node-8:vol-41:0:7"});
  RunJson({"put", "photos", "index.html", "--size", "99"});

  Json get = RunJson({"get", "photos", "2024/cat.jpg"});
  EXPECT_EQ(get["Bucket"], "photos");
  EXPECT_EQ(get["Key"], "2024/cat.jpg");
  EXPECT_EQ(get["Size"], 1234);
  EXPECT_EQ(get["ETag"], "\"abc\"");
  EXPECT_EQ(get["ContentType"], "image/jpeg");
  EXPECT_EQ(get["StorageClass"], "STANDARD_IA");
  EXPECT_EQ(get["Version"], version);
  EXPECT_EQ(get["Metadata"], Json({{"note", "été"}, {"owner", "alice"}}));
  EXPECT_EQ(get["Locations"],
            Json::parse(R"([{"Node":"node-7","Volume":"vol-31","Offset":0,"Length":1234},
                            {"Node":"node-8","Volume":"vol-40","Offset":4096,"Length":1234}])"));
  EXPECT_EQ(get["LastModified"].get<std::string>().size(), 24u);  // 2024-05-01T12:34:56.789Z

  Json ls = RunJson({"ls", "photos", "--delimiter", "/"});
  EXPECT_EQ(ls["KeyCount"], 2);
  EXPECT_EQ(ls["IsTruncated"], false);
  EXPECT_FALSE(ls.contains("NextContinuationToken"));
  EXPECT_EQ(ls["CommonPrefixes"], Json::parse(R"([{"Prefix":"2024/"}])"));
  ASSERT_EQ(ls["Contents"].size(), 1u);
  EXPECT_EQ(ls["Contents"][0]["Key"], "index.html");
  EXPECT_EQ(ls["Contents"][0]["Size"], 99);
  for (const char* field : {"ETag", "LastModified"}) {
    EXPECT_TRUE(ls["Contents"][0].contains(field)) << field;
  }

  // Pages, by continuation token.
  std::vector<std::string> keys;
  std::vector<std::string> args = {"ls", "photos", "--max-keys", "2"};
  for (int page = 0; page < 5; ++page) {
    Json p = RunJson(args);
    for (const Json& c : p["Contents"]) keys.push_back(c["Key"]);
    if (!p["IsTruncated"].get<bool>()) break;
    args = {"ls", "photos", "--max-keys", "2", "--continuation-token", p["NextContinuationToken"]};
  }
  EXPECT_THAT(keys, ElementsAre("2024/cat.jpg", "2024/dog.jpg", "index.html"));

  Json on_volume = RunJson({"locate", "--volume", "vol-31"});
  ASSERT_EQ(on_volume["Objects"].size(), 1u);
  EXPECT_EQ(on_volume["Objects"][0]["Key"], "2024/cat.jpg");
  EXPECT_EQ(on_volume["Objects"][0]["Locations"],
            Json::parse(R"([{"Node":"node-7","Volume":"vol-31","Offset":0,"Length":1234}])"));
  Json on_node = RunJson({"locate", "--node", "node-8", "--max-objects", "1", "--all"});
  ASSERT_EQ(on_node["Objects"].size(), 2u);
  EXPECT_EQ(on_node["Objects"][1]["Key"], "2024/dog.jpg");
  EXPECT_EQ(on_node["IsTruncated"], false);

  RunJson({"rm", "photos", "2024/cat.jpg"});
  ExpectError({"get", "photos", "2024/cat.jpg"}, 1, "photos/2024/cat.jpg not found");
  ExpectError({"rm", "photos", "2024/cat.jpg"}, 1, "not found");
  EXPECT_EQ(RunJson({"locate", "--volume", "vol-31"})["Objects"].size(), 0u);
  EXPECT_EQ(RunJson({"ls", "photos"})["KeyCount"], 2);

  // Text output too.
  Result text = Run({"ls", "photos", "--delimiter", "/"});
  EXPECT_EQ(text.code, 0);
  EXPECT_THAT(text.out, HasSubstr("PRE 2024/"));
  EXPECT_THAT(text.out, HasSubstr("index.html"));
}

TEST_F(CliTest, ExitCodeAndMessageForEachClassOfError) {
  ASSERT_EQ(Run({"put", "bucket", "a"}).code, 0);
  ASSERT_EQ(Run({"put", "bucket", "b"}).code, 0);
  // Invalid input: 2.
  ExpectError({"put", "Bad_Bucket", "k"}, 2, "invalid bucket name");
  ExpectError({"get", "ab", "k"}, 2, "invalid bucket name");
  ExpectError({"put", "bucket", std::string(1025, 'k')}, 2, "longer than the limit of 1024");
  ExpectError({"put", "bucket", "bad\xff\xfe"}, 2, "not valid UTF-8");
  ExpectError({"ls", "bucket", "--prefix", "\xc3"}, 2, "invalid prefix");
  ExpectError({"put", "bucket", "k", "--location", "node:vol:1"}, 2, "invalid --location");
  ExpectError({"put", "bucket", "k", "--location", "no de:vol:0:1"}, 2, "invalid record");
  ExpectError({"put", "bucket", "k", "--meta", "novalue"}, 2, "invalid --meta");
  ExpectError({"locate", "--volume", "vol:1"}, 2, "invalid volume name");
  ExpectError({"ls", "bucket", "--max-keys", "-1"}, 2, "max-keys");

  Json first = RunJson({"ls", "bucket", "--max-keys", "1"});
  std::string token = first["NextContinuationToken"];
  EXPECT_EQ(RunJson({"ls", "bucket", "--continuation-token", token})["Contents"][0]["Key"], "b");
  std::string altered = token;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'Q' ? 'R' : 'Q';
  ExpectError({"ls", "bucket", "--continuation-token", altered}, 2, "invalid continuation token");
  ExpectError({"ls", "bucket", "--prefix", "a", "--continuation-token", token}, 2,
              "another prefix");

  // Usage: 2.
  ExpectError({"nosuchcommand"}, 2, "see --help");
  ExpectError({"put", "bucket"}, 2, "see --help");
  ExpectError({"locate"}, 2, "see --help");
  ExpectError({"put", "bucket", "k", "--if-match", "1", "--if-none-match"}, 2, "excludes");

  // Failed precondition: 3.
  ExpectError({"put", "bucket", "a", "--if-none-match"}, 3, "precondition failed");
  ExpectError({"put", "bucket", "a", "--if-match", "999"}, 3, "not at version 999");
  const uint64_t version = RunJson({"get", "bucket", "a"})["Version"];
  EXPECT_EQ(Run({"put", "bucket", "a", "--if-match", std::to_string(version)}).code, 0);

  // Not found: 1, including no index at all (and looking creates nothing).
  ExpectError({"get", "bucket", "zzz"}, 1, "not found");
  data_ = dir_ / "none";
  ExpectError({"stat"}, 1, "no index in");
  EXPECT_FALSE(std::ifstream(data_).good());
}

// Every numeric flag takes decimal digits only, without overflow, within its
// range; anything else is exit 2 naming the flag, and nothing is stored.
TEST_F(CliTest, NumericFlagsAreStrictAndARefusedPutStoresNothing) {
  ASSERT_EQ(Run({"put", "bucket", "old", "--size", "5"}).code, 0);
  const Json old = RunJson({"get", "bucket", "old"});
  // Checked once after each group of refusals: a refused put that stored
  // anything (a new key, or a change of "old") would still show then.
  auto expect_unchanged = [&] {
    EXPECT_EQ(RunJson({"get", "bucket", "old"}), old);
    ExpectError({"get", "bucket", "new"}, 1, "not found");
  };
  for (const std::string bad : {"-1", "18446744073709551616", "99999999999999999999999", "0x10",
                                "+5", " 5", "5 ", "5k", "1e3", "1.5", ""}) {
    SCOPED_TRACE("--size \"" + bad + "\"");
    ExpectError({"put", "bucket", "new", "--size", bad}, 2, "invalid --size \"" + bad + "\"");
    ExpectError({"put", "bucket", "old", "--size", bad}, 2, "invalid --size");
  }
  expect_unchanged();
  ExpectError({"put", "bucket", "new", "--size", "-1"}, 2, "not a decimal number");
  ExpectError({"put", "bucket", "new", "--size", "18446744073709551616"}, 2,
              "out of range (0 to 18446744073709551615)");
  for (const std::string bad : {"-1", "18446744073709551616", "1x"}) {
    ExpectError({"put", "bucket", "old", "--size", "9", "--if-match", bad}, 2,
                "invalid --if-match \"" + bad + "\"");
    ExpectError({"put", "bucket", "new", "--location", "n:v:" + bad + ":5"}, 2,
                "invalid --location \"n:v:" + bad + ":5\": invalid OFFSET");
    ExpectError({"put", "bucket", "new", "--location", "n:v:0:" + bad}, 2,
                "invalid --location \"n:v:0:" + bad + "\": invalid LENGTH");
  }
  expect_unchanged();
  // The edges of the range are accepted.
  ASSERT_EQ(Run({"put", "bucket", "max", "--size", "18446744073709551615"}).code, 0);
  EXPECT_EQ(RunJson({"get", "bucket", "max"})["Size"].get<uint64_t>(), ~uint64_t{0});
  ASSERT_EQ(Run({"put", "bucket", "max", "--location", "n:v:18446744073709551614:1"}).code, 0);

  for (const std::string bad : {"-1", "2147483648", "1k"}) {
    ExpectError({"ls", "bucket", "--max-keys", bad}, 2, "invalid --max-keys");
    ExpectError({"locate", "--node", "n", "--max-objects", bad}, 2, "invalid --max-objects");
  }
  ExpectError({"checkpoint", "--cell", "-1"}, 2, "invalid --cell");
  ExpectError({"checkpoint", "--cell", "4294967296"}, 2, "invalid --cell");

  // Global --cells, and load: refused before anything is created or loaded.
  ExpectError({"--cells", "-1", "put", "bucket", "new"}, 2, "invalid --cells");
  ExpectError({"--cells", "0x10", "put", "bucket", "new"}, 2, "invalid --cells");
  ExpectError({"--cells", "1025", "put", "bucket", "new"}, 2, "out of range (1 to 1024)");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--objects", "10", "--buckets", "-1"},
           {"--objects", "10", "--buckets", "0x10"},
           {"--objects", "10", "--first", "-1"},
           {"--objects", "10", "--seed", "-1"},
           {"--objects", "10", "--threads", "-1"},
           {"--objects", "10", "--threads", "4294967297"},
           // With an unexpected argument too, so that a value taken by mistake
           // fails the test at once instead of loading for hours.
           {"--unexpected", "--objects", "-1"},
           {"--unexpected", "--objects", "18446744073709551617"},
           {"--unexpected", "--objects", "0"}}) {
    std::vector<std::string> load = {"load"};
    load.insert(load.end(), args.begin(), args.end());
    ExpectError(load, 2, "invalid " + args[args.size() - 2]);
  }
  EXPECT_EQ(RunJson({"stat"})["keys"], 2);

  // Drill and demo: with an unexpected argument too, as above.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"drill", "--hosts", "-1"},
                                             {"drill", "--cells", "-4"},
                                             {"drill", "--objects", "-1"},
                                             {"drill", "--lose", "-1"},
                                             {"drill", "--writers", "4294967297"},
                                             {"drill", "--readers", "-1"},
                                             {"drill", "--recovery-parallelism", "-1"},
                                             {"drill", "--before", "nan"},
                                             {"drill", "--after", "-1"},
                                             {"drill", "--restore-mode", "inplace"},
                                             {"demo", "--cells", "4294967297"},
                                             {"demo", "--writers", "-1"},
                                             {"demo", "--seconds", "nan"},
                                             {"demo", "--seconds", "inf"},
                                             {"demo", "--seconds", "1e2"}}) {
    std::vector<std::string> run = args;
    run.push_back("--unexpected");
    ExpectError(run, 2, "invalid " + args[1] + " \"" + args[2] + "\"");
  }
}

TEST_F(CliTest, RepeatedOrMalformedMetaAndOverlappingLocationsAreRefused) {
  ASSERT_EQ(Run({"put", "bucket", "old", "--meta", "owner=alice"}).code, 0);
  const Json old = RunJson({"get", "bucket", "old"});
  auto expect_refused = [&](std::vector<std::string> flags, const std::string& message) {
    for (const char* key : {"new", "old"}) {
      std::vector<std::string> args = {"put", "bucket", key};
      args.insert(args.end(), flags.begin(), flags.end());
      ExpectError(args, 2, message);
    }
  };
  // Checked once after the refusals: one that stored anything (a new key,
  // or a change of "old") would still show then.
  auto expect_unchanged = [&] {
    EXPECT_EQ(RunJson({"get", "bucket", "old"}), old);
    ExpectError({"get", "bucket", "new"}, 1, "not found");
  };
  expect_refused({"--meta", "a=1", "--meta", "a=2"}, "duplicate name \"a\"");
  expect_refused({"--meta", "Owner=1", "--meta", "owner=2"}, "duplicate name \"owner\"");
  expect_refused({"--meta", "=v"}, "invalid --meta \"=v\": want NAME=VALUE");
  expect_refused({"--meta", "novalue"}, "invalid --meta \"novalue\": want NAME=VALUE");
  // S3's rules, enforced by the index itself.
  expect_refused({"--meta", "a b=v"}, "invalid record: user metadata name \"a b\"");
  expect_refused({"--meta", "caf\xc3\xa9=v"}, "user metadata name");
  expect_refused({"--meta", "a=line\nbreak"}, "contains a control character");
  expect_refused({"--meta", "a=\r"}, "contains a control character");
  expect_refused({"--meta", "a=\xff"}, "is not valid UTF-8");
  expect_refused({"--meta", "a=1", "--meta", "b=" + std::string(kMaxUserMetadataBytes, 'x')},
                 "user metadata is");
  // Two extents of one object on a volume may not share bytes.
  expect_refused({"--location", "n:v:0:10", "--location", "n:v:0:10"},
                 "invalid --location \"n:v:0:10\": overlaps --location \"n:v:0:10\"");
  expect_refused({"--location", "n:v:0:10", "--location", "n:v:9:1"}, "overlaps");
  expect_refused({"--location", "n:v:0:10", "--location", "m:v:5:10"}, "on volume \"v\"");
  expect_unchanged();

  Json put = RunJson({"put", "bucket", "new", "--meta", "a=", "--meta", "b=x=y", "--meta",
                      "c=\xc3\xa9t\xc3\xa9", "--location", "n:v:0:10", "--location", "n:v:10:10",
                      "--location", "m:w:0:10"});
  Json get = RunJson({"get", "bucket", "new"});
  EXPECT_EQ(get["Metadata"], Json({{"a", ""}, {"b", "x=y"}, {"c", "\xc3\xa9t\xc3\xa9"}}));
  EXPECT_EQ(get["Locations"].size(), 3u);
}

TEST_F(CliTest, GlobalFlagsWorkBeforeAndAfterTheSubcommand) {
  const std::string store = dir_ / "elsewhere";
  Result put = RunRaw({"put", "bucket", "k", "--size", "7", "--json", "--data", data_, "--store",
                       store, "--cells", "2"});
  ASSERT_EQ(put.code, 0) << put.err;
  EXPECT_EQ(put.json()["Key"], "k");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--json", "--data", data_, "--store", store, "get", "bucket", "k"},
           {"get", "bucket", "k", "--json", "--data", data_, "--store", store},
           {"--json", "get", "bucket", "k", "--store", store, "--data", data_},
           {"--data", data_, "get", "--json", "bucket", "--store", store, "k"}}) {
    Result r = RunRaw(args);
    ASSERT_EQ(r.code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_EQ(r.json()["Size"], 7) << absl::StrJoin(args, " ");
  }
  Result cells = RunRaw({"cells", "--store", store, "--json", "--data", data_});
  ASSERT_EQ(cells.code, 0) << cells.err;
  EXPECT_EQ(cells.json().size(), 2u);
  // The store was where --store said: the default one has no index.
  ExpectError({"get", "bucket", "k"}, 1, "no index in");
  // Bad global flags after the subcommand are refused as before it.
  ExpectError({"get", "bucket", "k", "--store", store, "--cells", "-2"}, 2, "invalid --cells");
  ExpectError({"get", "bucket", "k", "--data", data_}, 2, "--data");
}

TEST_F(CliTest, DataOrStoreThatIsNotADirectoryIsInvalid) {
  const std::string file = dir_ / "file";
  std::ofstream(file) << "not a directory";
  for (const std::string& data : {file, file + "/below"}) {
    data_ = data;
    ExpectError({"put", "bucket", "k"}, 2, "--data " + data + " is not a directory");
    ExpectError({"get", "bucket", "k"}, 2, "is not a directory");
    ExpectError({"stat"}, 2, "is not a directory");
    ExpectError({"load", "--objects", "10"}, 2, "is not a directory");
    ExpectError({"demo", "--seconds", "0.1"}, 2, "is not a directory");
    ExpectError({"drill", "--objects", "10"}, 2, "is not a directory");
  }
  data_ = dir_ / "data";
  ExpectError({"--store", file, "put", "bucket", "k"}, 2,
              "--store " + file + " is not a directory");
  ExpectError({"put", "bucket", "k", "--store", file + "/below"}, 2, "is not a directory");
  // The default store, inside --data.
  ASSERT_TRUE(std::filesystem::create_directories(data_));
  std::ofstream(data_ + "/store") << "not a directory";
  ExpectError({"put", "bucket", "k"}, 2, "store directory " + data_ + "/store is not a directory");
  EXPECT_EQ(ReadFile(file), "not a directory");
  EXPECT_EQ(ReadFile(data_ + "/store"), "not a directory");
}

// demo and drill delete their directories first: they never take a store
// given with --store, which they would erase.
TEST_F(CliTest, DemoAndDrillRefuseAStoreTheyWouldErase) {
  ASSERT_EQ(Run({"put", "bucket", "k"}).code, 0);
  const std::string store = data_ + "/store";
  ExpectError({"--store", store, "demo", "--seconds", "0.1"}, 2, "does not take --store");
  ExpectError({"drill", "--store", store, "--objects", "10"}, 2, "does not take --store");
  EXPECT_EQ(Run({"get", "bucket", "k"}).code, 0);
}

TEST_F(CliTest, LoadIsDeterministicAndShowsUpInCellsStatAndLs) {
  Json load = RunJson({"--cells", "4", "load", "--objects", "3000", "--buckets", "8"});
  EXPECT_EQ(load["objects"], 3000);
  EXPECT_EQ(load["cells"], 4);

  Json stat = RunJson({"stat"});
  EXPECT_EQ(stat["keys"], 3000);
  EXPECT_EQ(stat["cells"], 4);
  EXPECT_EQ(stat["cells_serving"], 4);
  Json cells = RunJson({"cells"});
  ASSERT_EQ(cells.size(), 4u);
  uint64_t keys = 0;
  for (const Json& c : cells) {
    EXPECT_EQ(c["state"], "serving");
    EXPECT_GT(c["keys"].get<uint64_t>(), 0u);  // the boundaries fit the workload
    EXPECT_GT(c["journal_bytes_total"].get<uint64_t>(), 0u);
    keys += c["keys"].get<uint64_t>();
  }
  EXPECT_EQ(keys, 3000u);

  // Object i is what the workload says it is.
  const tools::Workload workload({8, 1});
  for (uint64_t i : {0, 1234, 2999}) {
    const ObjectKey key = workload.Key(i);
    const ObjectRecord want = workload.Record(i);
    Json got = RunJson({"get", key.bucket, key.key});
    EXPECT_EQ(got["Size"], want.size);
    EXPECT_EQ(got["ETag"], want.etag);
    EXPECT_EQ(got["StorageClass"], want.storage_class);
    EXPECT_EQ(got["Locations"].size(), want.locations.size());
  }
  Json ls = RunJson({"ls", "media-prod", "--prefix", "users/", "--delimiter", "/"});
  EXPECT_GT(ls["CommonPrefixes"].size(), 100u);
  EXPECT_TRUE(absl::StartsWith(ls["CommonPrefixes"][0]["Prefix"].get<std::string>(), "users/u"));
  const Extent e = workload.Record(0).locations.at(0);  // object 0 has bytes
  Json located = RunJson({"locate", "--volume", e.volume, "--all"});
  EXPECT_GT(located["Objects"].size(), 0u);
}

TEST_F(CliTest, CheckpointThenCellsShowRecoveryPhases) {
  RunJson({"--cells", "2", "load", "--objects", "2000", "--buckets", "4"});
  Json ckpt = RunJson({"checkpoint"});
  ASSERT_EQ(ckpt.size(), 2u);
  for (const Json& c : ckpt) {
    EXPECT_EQ(c["taken"], true);
    EXPECT_GT(c["files_copied"].get<uint64_t>(), 0u);
  }
  uint64_t keys = ckpt[0]["keys"].get<uint64_t>() + ckpt[1]["keys"].get<uint64_t>();
  EXPECT_EQ(keys, 2000u);
  Json again = RunJson({"checkpoint", "--cell", "1"});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0]["taken"], false);  // nothing new
  ExpectError({"checkpoint", "--cell", "7"}, 2, "no cell 7");

  // Lose the host's state: the cells come back from their checkpoints, and
  // `cells --json` shows how, phase by phase.
  std::filesystem::remove_all(data_ + "/cells");
  Json cells = RunJson({"cells"});
  ASSERT_EQ(cells.size(), 2u);
  for (const Json& c : cells) {
    EXPECT_EQ(c["state"], "serving");
    EXPECT_EQ(c["recovery"]["source"], "checkpoint");
    EXPECT_GT(c["recovery"]["bytes_fetched"].get<uint64_t>(), 0u);
    for (const char* phase : {"fetch", "verify", "open", "replay", "validate"}) {
      EXPECT_TRUE(c["recovery"]["phases_seconds"].contains(phase)) << phase;
    }
    EXPECT_GT(c["recovery"]["phases_seconds"]["fetch"].get<double>(), 0.0);
  }
}

TEST_F(CliTest, HelpListsTheExitCodes) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Exit codes: 0 ok, 1 not found, 2 invalid input or usage"));
  for (const char* command :
       {"put", "get", "rm", "ls", "locate", "cells", "stat", "load", "demo"}) {
    EXPECT_THAT(r.out, HasSubstr(command));
  }
}

}  // namespace
}  // namespace cellindex
