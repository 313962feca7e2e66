#include "tests/fault_injection_fs.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/checkpoint.h"
#include "tests/test_util.h"

namespace cellindex::testing {
namespace {

using rocksdb::FSDirectory;
using rocksdb::FSWritableFile;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

constexpr char kMissing[] = "<missing>";

class FaultInjectionFsTest : public ::testing::Test {
 protected:
  FaultInjectionFsTest()
      : fs_(std::make_shared<FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                       scratch_ / "trash")),
        root_(scratch_ / "root") {}

  // The tree every test works in, durably created.
  void SetUp() override {
    ASSERT_TRUE(fs_->CreateDir(root_, {}, nullptr).ok());
    SyncDir(scratch_.path());
  }

  std::string Path(const std::string& name) const { return root_ + "/" + name; }

  std::unique_ptr<FSWritableFile> Create(const std::string& path) {
    std::unique_ptr<FSWritableFile> file;
    EXPECT_TRUE(fs_->NewWritableFile(path, {}, &file, nullptr).ok()) << path;
    return file;
  }

  void Append(FSWritableFile& file, const std::string& data) {
    ASSERT_TRUE(file.Append(data, {}, nullptr).ok());
  }

  void Sync(FSWritableFile& file) { ASSERT_TRUE(file.Sync({}, nullptr).ok()); }

  // A file holding `data`, synced, whose creation is durable.
  void WriteDurable(const std::string& path, const std::string& data) {
    auto file = Create(path);
    Append(*file, data);
    Sync(*file);
    ASSERT_TRUE(file->Close({}, nullptr).ok());
    SyncDir(ParentDir(path));
  }

  void SyncDir(const std::string& dir) {
    std::unique_ptr<FSDirectory> handle;
    ASSERT_TRUE(fs_->NewDirectory(dir, {}, &handle, nullptr).ok()) << dir;
    ASSERT_TRUE(handle->Fsync({}, nullptr).ok()) << dir;
  }

  static std::string ParentDir(const std::string& path) {
    return path.substr(0, path.rfind('/'));
  }

  std::string Read(const std::string& path) {
    if (!Exists(path)) return kMissing;
    std::string data;
    EXPECT_TRUE(rocksdb::ReadFileToString(fs_.get(), path, &data).ok()) << path;
    return data;
  }

  bool Exists(const std::string& path) { return fs_->FileExists(path, {}, nullptr).ok(); }

  std::vector<std::string> TrashContents() {
    std::vector<std::string> children;
    EXPECT_TRUE(fs_->GetChildren(scratch_ / "trash", {}, &children, nullptr).ok());
    return children;
  }

  void PowerLoss() {
    absl::Status s = fs_->SimulatePowerLoss();
    ASSERT_TRUE(s.ok()) << s;
  }

  ScratchDir scratch_;
  std::shared_ptr<FaultInjectionFileSystem> fs_;
  std::string root_;
};

// ---- file data ---------------------------------------------------------------

TEST_F(FaultInjectionFsTest, UnsyncedAppendsAreCutAtPowerLoss) {
  auto file = Create(Path("f"));
  SyncDir(root_);
  Append(*file, "synced");
  Sync(*file);
  Append(*file, "+unsynced");
  ASSERT_TRUE(file->Close({}, nullptr).ok());
  EXPECT_EQ(Read(Path("f")), "synced+unsynced");

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "synced");
}

TEST_F(FaultInjectionFsTest, SyncedAppendsSurvive) {
  auto file = Create(Path("f"));
  SyncDir(root_);
  Append(*file, "one");
  Sync(*file);
  Append(*file, "two");
  ASSERT_TRUE(file->Fsync({}, nullptr).ok());  // Fsync counts like Sync

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "onetwo");
}

TEST_F(FaultInjectionFsTest, CloseFlushAndRangeSyncMakeNothingDurable) {
  auto file = Create(Path("f"));
  SyncDir(root_);
  Append(*file, "data");
  ASSERT_TRUE(file->Flush({}, nullptr).ok());
  ASSERT_TRUE(file->RangeSync(0, 4, {}, nullptr).ok());
  ASSERT_TRUE(file->Close({}, nullptr).ok());

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "");  // its creation is durable, its data is not
}

TEST_F(FaultInjectionFsTest, ReopenedFileKeepsItsSyncedPrefixOnly) {
  WriteDurable(Path("f"), "old");
  std::unique_ptr<FSWritableFile> file;
  ASSERT_TRUE(fs_->ReopenWritableFile(Path("f"), {}, &file, nullptr).ok());
  Append(*file, "+new");
  ASSERT_TRUE(file->Close({}, nullptr).ok());
  EXPECT_EQ(Read(Path("f")), "old+new");

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "old");
}

TEST_F(FaultInjectionFsTest, TruncationBelowTheSyncedSizeIsUndone) {
  WriteDurable(Path("f"), "0123456789");
  std::unique_ptr<FSWritableFile> file;
  ASSERT_TRUE(fs_->ReopenWritableFile(Path("f"), {}, &file, nullptr).ok());
  ASSERT_TRUE(file->Truncate(4, {}, nullptr).ok());
  ASSERT_TRUE(file->Close({}, nullptr).ok());
  EXPECT_EQ(Read(Path("f")), "0123");

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "0123456789");
}

// RocksDB 7.8's POSIX FileSystem has no FileSystem::Truncate (NotSupported);
// this base adds one, to test that the wrapper tracks it.
class TruncatingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  TruncatingFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "TruncatingFileSystem"; }
  IOStatus Truncate(const std::string& fname, size_t size, const IOOptions&,
                    rocksdb::IODebugContext*) override {
    if (::truncate(fname.c_str(), static_cast<off_t>(size)) != 0) {
      return IOStatus::IOError("truncate", fname);
    }
    return IOStatus::OK();
  }
};

TEST_F(FaultInjectionFsTest, FileSystemTruncateIsUndoneUnlessSynced) {
  EXPECT_TRUE(fs_->Truncate(root_, 0, {}, nullptr).IsNotSupported() ||
              !fs_->Truncate(root_, 0, {}, nullptr).ok());
  fs_ = std::make_shared<FaultInjectionFileSystem>(std::make_shared<TruncatingFileSystem>(),
                                                   scratch_ / "trash");
  WriteDurable(Path("f"), "0123456789");
  ASSERT_TRUE(fs_->Truncate(Path("f"), 4, {}, nullptr).ok());
  EXPECT_EQ(Read(Path("f")), "0123");
  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "0123456789");

  // Made durable by a sync of the file after the truncation.
  ASSERT_TRUE(fs_->Truncate(Path("f"), 4, {}, nullptr).ok());
  std::unique_ptr<FSWritableFile> file;
  ASSERT_TRUE(fs_->ReopenWritableFile(Path("f"), {}, &file, nullptr).ok());
  Sync(*file);
  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "0123");
}

TEST_F(FaultInjectionFsTest, RewritingAnExistingFileWithoutSyncBringsBackTheOldContents) {
  WriteDurable(Path("f"), "old contents");
  auto file = Create(Path("f"));  // truncates in place
  Append(*file, "new");
  ASSERT_TRUE(file->Close({}, nullptr).ok());
  EXPECT_EQ(Read(Path("f")), "new");

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "old contents");
}

TEST_F(FaultInjectionFsTest, OverwritesThroughRandomRWFileAreUndone) {
  WriteDurable(Path("f"), "abcdef");
  std::unique_ptr<rocksdb::FSRandomRWFile> file;
  ASSERT_TRUE(fs_->NewRandomRWFile(Path("f"), {}, &file, nullptr).ok());
  ASSERT_TRUE(file->Write(2, "XY", {}, nullptr).ok());
  ASSERT_TRUE(file->Write(5, "Z+tail", {}, nullptr).ok());
  ASSERT_TRUE(file->Close({}, nullptr).ok());
  EXPECT_EQ(Read(Path("f")), "abXYeZ+tail");

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "abcdef");
}

// ---- directory entries ---------------------------------------------------------

TEST_F(FaultInjectionFsTest, UnsyncedNewFileVanishes) {
  auto file = Create(Path("f"));
  Append(*file, "data");
  Sync(*file);  // the data is synced, the directory entry is not
  ASSERT_TRUE(file->Close({}, nullptr).ok());

  PowerLoss();
  EXPECT_FALSE(Exists(Path("f")));
}

TEST_F(FaultInjectionFsTest, FileWhoseDirWasSyncedSurvivesWithItsSyncedData) {
  auto file = Create(Path("f"));
  Append(*file, "data");
  Sync(*file);
  ASSERT_TRUE(file->Close({}, nullptr).ok());
  SyncDir(root_);

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "data");
}

TEST_F(FaultInjectionFsTest, UnsyncedRenameOverExistingIsRevertedAndTheOldTargetComesBack) {
  WriteDurable(Path("CURRENT"), "old");
  WriteDurable(Path("CURRENT.tmp"), "new");
  ASSERT_TRUE(fs_->RenameFile(Path("CURRENT.tmp"), Path("CURRENT"), {}, nullptr).ok());
  EXPECT_EQ(Read(Path("CURRENT")), "new");
  EXPECT_FALSE(Exists(Path("CURRENT.tmp")));

  PowerLoss();
  EXPECT_EQ(Read(Path("CURRENT")), "old");
  EXPECT_EQ(Read(Path("CURRENT.tmp")), "new");
  EXPECT_TRUE(TrashContents().empty());
}

TEST_F(FaultInjectionFsTest, SyncedRenameStays) {
  WriteDurable(Path("CURRENT"), "old");
  WriteDurable(Path("CURRENT.tmp"), "new");
  ASSERT_TRUE(fs_->RenameFile(Path("CURRENT.tmp"), Path("CURRENT"), {}, nullptr).ok());
  SyncDir(root_);
  EXPECT_TRUE(TrashContents().empty());  // the replaced file is purged once that is durable

  PowerLoss();
  EXPECT_EQ(Read(Path("CURRENT")), "new");
  EXPECT_FALSE(Exists(Path("CURRENT.tmp")));
}

TEST_F(FaultInjectionFsTest, RenameIntoAnotherDirectoryIsDurableWhenTheTargetDirIsSynced) {
  ASSERT_TRUE(fs_->CreateDir(Path("a"), {}, nullptr).ok());
  ASSERT_TRUE(fs_->CreateDir(Path("b"), {}, nullptr).ok());
  SyncDir(root_);
  WriteDurable(Path("a/f"), "data");
  ASSERT_TRUE(fs_->RenameFile(Path("a/f"), Path("b/f"), {}, nullptr).ok());
  SyncDir(Path("a"));  // the source's directory does not make it durable

  PowerLoss();
  EXPECT_EQ(Read(Path("a/f")), "data");
  EXPECT_FALSE(Exists(Path("b/f")));

  ASSERT_TRUE(fs_->RenameFile(Path("a/f"), Path("b/f"), {}, nullptr).ok());
  SyncDir(Path("b"));
  PowerLoss();
  EXPECT_FALSE(Exists(Path("a/f")));
  EXPECT_EQ(Read(Path("b/f")), "data");
}

TEST_F(FaultInjectionFsTest, UnsyncedDeleteIsUndone) {
  WriteDurable(Path("f"), "data");
  ASSERT_TRUE(fs_->DeleteFile(Path("f"), {}, nullptr).ok());
  EXPECT_FALSE(Exists(Path("f")));

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "data");
}

TEST_F(FaultInjectionFsTest, SyncedDeleteStaysAndPurgesTheTrash) {
  WriteDurable(Path("f"), "data");
  ASSERT_TRUE(fs_->DeleteFile(Path("f"), {}, nullptr).ok());
  EXPECT_EQ(TrashContents().size(), 1u);
  SyncDir(root_);
  EXPECT_TRUE(TrashContents().empty());

  PowerLoss();
  EXPECT_FALSE(Exists(Path("f")));
}

TEST_F(FaultInjectionFsTest, DeletedFileComesBackWithItsSyncedDataOnly) {
  auto file = Create(Path("f"));
  SyncDir(root_);
  Append(*file, "synced");
  Sync(*file);
  Append(*file, "+unsynced");
  ASSERT_TRUE(fs_->DeleteFile(Path("f"), {}, nullptr).ok());
  Append(*file, "+after delete");  // an open handle still writes to the deleted file
  ASSERT_TRUE(file->Close({}, nullptr).ok());

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "synced");
}

TEST_F(FaultInjectionFsTest, UnsyncedHardLinkIsUndone) {
  WriteDurable(Path("f"), "data");
  ASSERT_TRUE(fs_->LinkFile(Path("f"), Path("g"), {}, nullptr).ok());
  EXPECT_EQ(Read(Path("g")), "data");

  PowerLoss();
  EXPECT_FALSE(Exists(Path("g")));
  EXPECT_EQ(Read(Path("f")), "data");

  ASSERT_TRUE(fs_->LinkFile(Path("f"), Path("g"), {}, nullptr).ok());
  SyncDir(root_);
  PowerLoss();
  EXPECT_EQ(Read(Path("g")), "data");
}

TEST_F(FaultInjectionFsTest, NewDirectoryVanishesWithAllItHoldsUnlessItsParentWasSynced) {
  WriteDurable(Path("d-sibling"), "sorts between d and d/f");
  ASSERT_TRUE(fs_->CreateDir(Path("d"), {}, nullptr).ok());
  ASSERT_TRUE(fs_->CreateDirIfMissing(Path("d/e"), {}, nullptr).ok());
  WriteDurable(Path("d/e/f"), "data");  // syncs d/e, not d or root
  SyncDir(Path("d"));

  PowerLoss();
  EXPECT_FALSE(Exists(Path("d")));
  EXPECT_FALSE(fs_->TrackedFile(Path("d/e/f")).has_value());

  ASSERT_TRUE(fs_->CreateDir(Path("d"), {}, nullptr).ok());
  SyncDir(root_);
  WriteDurable(Path("d/f"), "data");
  PowerLoss();
  EXPECT_EQ(Read(Path("d/f")), "data");
}

TEST_F(FaultInjectionFsTest, UnsyncedDirectoryRenameIsUndone) {
  ASSERT_TRUE(fs_->CreateDir(Path("staging"), {}, nullptr).ok());
  SyncDir(root_);
  WriteDurable(Path("staging-sibling"), "sorts between staging and staging/f");
  WriteDurable(Path("staging/f"), "data");
  ASSERT_TRUE(fs_->RenameFile(Path("staging"), Path("published"), {}, nullptr).ok());
  EXPECT_FALSE(fs_->TrackedFile(Path("staging/f")).has_value());
  EXPECT_TRUE(fs_->TrackedFile(Path("published/f")).has_value());
  // The file is tracked under its new name: unsynced data there is cut too.
  std::unique_ptr<FSWritableFile> file;
  ASSERT_TRUE(fs_->ReopenWritableFile(Path("published/f"), {}, &file, nullptr).ok());
  Append(*file, "+unsynced");
  ASSERT_TRUE(file->Close({}, nullptr).ok());

  PowerLoss();
  EXPECT_FALSE(Exists(Path("published")));
  EXPECT_EQ(Read(Path("staging/f")), "data");
}

TEST_F(FaultInjectionFsTest, UnsyncedDirectoryRemovalIsUndone) {
  ASSERT_TRUE(fs_->CreateDir(Path("d"), {}, nullptr).ok());
  SyncDir(root_);
  ASSERT_TRUE(fs_->DeleteDir(Path("d"), {}, nullptr).ok());

  PowerLoss();
  bool is_dir = false;
  ASSERT_TRUE(fs_->IsDirectory(Path("d"), {}, &is_dir, nullptr).ok());
  EXPECT_TRUE(is_dir);
}

TEST_F(FaultInjectionFsTest, PathsAreNormalised) {
  EXPECT_EQ(FaultInjectionFileSystem::NormalizePath("/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(FaultInjectionFileSystem::NormalizePath("/a/b/../c"), "/a/c");
  EXPECT_EQ(FaultInjectionFileSystem::NormalizePath("x/y"),
            FaultInjectionFileSystem::NormalizePath(
                absl::StrCat(std::filesystem::current_path().string(), "/x/y")));

  // Written under one spelling, made durable under another.
  auto file = Create(root_ + "//./f");
  Append(*file, "data");
  Sync(*file);
  ASSERT_TRUE(file->Close({}, nullptr).ok());
  SyncDir(root_ + "/./");
  ASSERT_TRUE(fs_->TrackedFile(root_ + "/f").has_value());

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "data");
}

// ---- power switch ------------------------------------------------------------

TEST_F(FaultInjectionFsTest, InactiveModeRefusesEveryChangeAndChangesNothing) {
  WriteDurable(Path("f"), "data");
  auto open = Create(Path("open"));
  SyncDir(root_);
  std::unique_ptr<FSDirectory> dir;
  ASSERT_TRUE(fs_->NewDirectory(root_, {}, &dir, nullptr).ok());

  fs_->SetFilesystemActive(false);
  EXPECT_FALSE(fs_->IsFilesystemActive());
  IOStatus append = open->Append("x", {}, nullptr);
  EXPECT_TRUE(append.IsIOError());
  EXPECT_NE(append.ToString().find("inactive"), std::string::npos) << append.ToString();
  EXPECT_TRUE(open->Sync({}, nullptr).IsIOError());
  EXPECT_TRUE(open->Close({}, nullptr).IsIOError());
  std::unique_ptr<FSWritableFile> file;
  EXPECT_TRUE(fs_->NewWritableFile(Path("new"), {}, &file, nullptr).IsIOError());
  EXPECT_TRUE(fs_->NewWritableFile(Path("f"), {}, &file, nullptr).IsIOError());
  EXPECT_TRUE(fs_->ReopenWritableFile(Path("f"), {}, &file, nullptr).IsIOError());
  EXPECT_TRUE(fs_->RenameFile(Path("f"), Path("g"), {}, nullptr).IsIOError());
  EXPECT_TRUE(fs_->LinkFile(Path("f"), Path("g"), {}, nullptr).IsIOError());
  EXPECT_TRUE(fs_->DeleteFile(Path("f"), {}, nullptr).IsIOError());
  EXPECT_TRUE(fs_->Truncate(Path("f"), 1, {}, nullptr).IsIOError());
  EXPECT_TRUE(fs_->CreateDir(Path("d"), {}, nullptr).IsIOError());
  EXPECT_TRUE(fs_->CreateDirIfMissing(Path("d"), {}, nullptr).IsIOError());
  EXPECT_TRUE(dir->Fsync({}, nullptr).IsIOError());

  // Reads still work, and nothing changed.
  EXPECT_EQ(Read(Path("f")), "data");
  EXPECT_EQ(Read(Path("open")), "");
  EXPECT_FALSE(Exists(Path("new")));
  EXPECT_FALSE(Exists(Path("g")));
  EXPECT_FALSE(Exists(Path("d")));
  EXPECT_EQ(fs_->counters().syncs, 1u);  // WriteDurable's
  EXPECT_EQ(fs_->counters().dir_syncs, 3u);  // SetUp's, WriteDurable's and this test's

  fs_->SetFilesystemActive(true);
  Append(*open, "x");
  EXPECT_EQ(Read(Path("open")), "x");
}

TEST_F(FaultInjectionFsTest, ThePowerLossSequenceLeavesOnlyWhatWasDurable) {
  WriteDurable(Path("kept"), "kept");
  auto file = Create(Path("lost"));
  Append(*file, "lost");
  fs_->SetFilesystemActive(false);
  EXPECT_FALSE(file->Sync({}, nullptr).ok());  // the owner's shutdown fails harmlessly
  file.reset();
  PowerLoss();
  fs_->SetFilesystemActive(true);

  EXPECT_EQ(Read(Path("kept")), "kept");
  EXPECT_FALSE(Exists(Path("lost")));
  EXPECT_TRUE(fs_->PendingDirOps().empty());
}

// Threads publish files (write, sync, rename, fsync the shared directory)
// while others append to one shared log with concurrent syncs: after a power
// loss every published file and every synced log byte is there.
TEST_F(FaultInjectionFsTest, ConcurrentPublishersAndLogSyncsKeepEverythingAcknowledged) {
  constexpr int kThreads = 4;
  constexpr int kFiles = 25;
  auto log = Create(Path("log"));
  SyncDir(root_);
  absl::Mutex log_mu;  // appends need one writer at a time; syncs run alongside
  std::atomic<uint64_t> log_synced{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kFiles; ++i) {
        const std::string name = Path(absl::StrCat("t", t, "-", i));
        std::unique_ptr<FSWritableFile> file;
        ASSERT_TRUE(fs_->NewWritableFile(name + ".tmp", {}, &file, nullptr).ok());
        ASSERT_TRUE(file->Append(name, {}, nullptr).ok());
        ASSERT_TRUE(file->Sync({}, nullptr).ok());
        ASSERT_TRUE(file->Close({}, nullptr).ok());
        ASSERT_TRUE(fs_->RenameFile(name + ".tmp", name, {}, nullptr).ok());
        std::unique_ptr<FSDirectory> dir;
        ASSERT_TRUE(fs_->NewDirectory(root_, {}, &dir, nullptr).ok());
        ASSERT_TRUE(dir->Fsync({}, nullptr).ok());

        uint64_t end;
        {
          absl::MutexLock lock(&log_mu);
          ASSERT_TRUE(log->Append(std::string(100, 'a' + t), {}, nullptr).ok());
          end = fs_->TrackedFile(Path("log"))->size;
        }
        ASSERT_TRUE(log->Sync({}, nullptr).ok());
        uint64_t seen = log_synced.load();
        while (seen < end && !log_synced.compare_exchange_weak(seen, end)) {
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  fs_->SetFilesystemActive(false);
  log.reset();

  PowerLoss();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kFiles; ++i) {
      const std::string name = Path(absl::StrCat("t", t, "-", i));
      EXPECT_EQ(Read(name), name);
      EXPECT_FALSE(Exists(name + ".tmp"));
    }
  }
  // Each thread syncs after its own last append, so the whole log was synced.
  EXPECT_EQ(log_synced.load(), uint64_t{kThreads * kFiles * 100});
  EXPECT_EQ(Read(Path("log")).size(), log_synced.load());
  EXPECT_TRUE(TrashContents().empty());
}

// ---- error injection -----------------------------------------------------------

TEST_F(FaultInjectionFsTest, InjectedSyncFailureReturnsAnErrorAndDoesNotAdvanceTheSyncedSize) {
  auto file = Create(Path("f"));
  SyncDir(root_);
  Append(*file, "abc");
  Sync(*file);
  Append(*file, "def");

  fs_->FailNext(FaultKind::kSync, 1);
  IOStatus s = file->Sync({}, nullptr);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_NE(s.ToString().find("injected"), std::string::npos) << s.ToString();
  ASSERT_TRUE(fs_->TrackedFile(Path("f")).has_value());
  EXPECT_EQ(fs_->TrackedFile(Path("f"))->size, 6u);
  EXPECT_EQ(fs_->TrackedFile(Path("f"))->synced_size, 3u);
  EXPECT_EQ(fs_->counters().injected_failures, 1u);

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "abc");
}

// A base whose file syncs fail once `fail` is set, as a disk would.
class FailingSyncFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FailingSyncFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FailingSyncFileSystem"; }
  IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                           std::unique_ptr<FSWritableFile>* result,
                           rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<FSWritableFile> file;
    IOStatus s = target()->NewWritableFile(fname, options, &file, dbg);
    if (s.ok()) *result = std::make_unique<File>(std::move(file), &fail);
    return s;
  }
  std::atomic<bool> fail{false};

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<FSWritableFile> base, std::atomic<bool>* fail)
        : FSWritableFileOwnerWrapper(std::move(base)), fail_(fail) {}
    IOStatus Sync(const IOOptions& o, rocksdb::IODebugContext* dbg) override {
      return *fail_ ? IOStatus::IOError("disk failed") : target()->Sync(o, dbg);
    }

   private:
    std::atomic<bool>* fail_;
  };
};

TEST_F(FaultInjectionFsTest, ASyncThatFailsInTheBaseDoesNotAdvanceTheSyncedSize) {
  auto base = std::make_shared<FailingSyncFileSystem>();
  fs_ = std::make_shared<FaultInjectionFileSystem>(base, scratch_ / "trash");
  auto file = Create(Path("f"));
  SyncDir(root_);
  Append(*file, "abc");
  Sync(*file);
  Append(*file, "def");
  base->fail = true;
  EXPECT_TRUE(file->Sync({}, nullptr).IsIOError());
  EXPECT_EQ(fs_->TrackedFile(Path("f"))->synced_size, 3u);
  EXPECT_EQ(fs_->counters().syncs, 1u);

  PowerLoss();
  EXPECT_EQ(Read(Path("f")), "abc");
}

TEST_F(FaultInjectionFsTest, FailNextFailsOnlyMatchingCallsAndThenStops) {
  WriteDurable(Path("a.tmp"), "a");
  WriteDurable(Path("b.tmp"), "b");
  fs_->FailNext(FaultKind::kRename, 2, "MANIFEST");
  fs_->FailNext(FaultKind::kLink, 1);  // another kind: renames do not use it up

  EXPECT_TRUE(fs_->RenameFile(Path("a.tmp"), Path("a"), {}, nullptr).ok());
  EXPECT_TRUE(fs_->RenameFile(Path("b.tmp"), Path("MANIFEST"), {}, nullptr).IsIOError());
  EXPECT_TRUE(fs_->RenameFile(Path("b.tmp"), Path("MANIFEST"), {}, nullptr).IsIOError());
  EXPECT_TRUE(Exists(Path("b.tmp")));  // a failed rename changed nothing
  EXPECT_FALSE(Exists(Path("MANIFEST")));
  EXPECT_TRUE(fs_->RenameFile(Path("b.tmp"), Path("MANIFEST"), {}, nullptr).ok());
  EXPECT_EQ(fs_->counters().injected_failures, 2u);
  EXPECT_TRUE(fs_->LinkFile(Path("a"), Path("c"), {}, nullptr).IsIOError());
  EXPECT_TRUE(fs_->LinkFile(Path("a"), Path("c"), {}, nullptr).ok());
}

TEST_F(FaultInjectionFsTest, EachKindOfChangeCanBeFailed) {
  WriteDurable(Path("f"), "data");
  auto file = Create(Path("w"));
  std::unique_ptr<FSDirectory> dir;
  ASSERT_TRUE(fs_->NewDirectory(root_, {}, &dir, nullptr).ok());
  std::unique_ptr<FSWritableFile> created;

  fs_->FailNext(FaultKind::kWrite, 1);
  EXPECT_TRUE(file->Append("x", {}, nullptr).IsIOError());
  fs_->FailNext(FaultKind::kDirSync, 1);
  EXPECT_TRUE(dir->Fsync({}, nullptr).IsIOError());
  fs_->FailNext(FaultKind::kCreate, 1);
  EXPECT_TRUE(fs_->NewWritableFile(Path("new"), {}, &created, nullptr).IsIOError());
  fs_->FailNext(FaultKind::kCreate, 1);
  EXPECT_TRUE(fs_->CreateDir(Path("d"), {}, nullptr).IsIOError());
  fs_->FailNext(FaultKind::kDelete, 1);
  EXPECT_TRUE(fs_->DeleteFile(Path("f"), {}, nullptr).IsIOError());
  fs_->FailNext(FaultKind::kLink, 1);
  EXPECT_TRUE(fs_->LinkFile(Path("f"), Path("g"), {}, nullptr).IsIOError());
  fs_->FailNext(FaultKind::kTruncate, 1);
  EXPECT_TRUE(fs_->Truncate(Path("f"), 0, {}, nullptr).IsIOError());

  EXPECT_EQ(fs_->counters().injected_failures, 7u);
  EXPECT_EQ(Read(Path("w")), "");
  EXPECT_FALSE(Exists(Path("new")));
  EXPECT_FALSE(Exists(Path("d")));
  EXPECT_FALSE(Exists(Path("g")));
  EXPECT_EQ(Read(Path("f")), "data");
  // The failed directory sync made nothing durable.
  EXPECT_EQ(fs_->PendingDirOps().size(), 1u);  // the creation of w
}

// Which of `n` appends fail under FailRandomly(kWrite, 0.3, seed).
std::vector<bool> RandomWriteFailures(const std::string& dir, uint64_t seed, int n) {
  auto fs = std::make_shared<FaultInjectionFileSystem>(rocksdb::FileSystem::Default(),
                                                       dir + "/trash-" + std::to_string(seed));
  std::unique_ptr<FSWritableFile> file;
  EXPECT_TRUE(
      fs->NewWritableFile(dir + "/random-" + std::to_string(seed), {}, &file, nullptr).ok());
  fs->FailRandomly(FaultKind::kWrite, 0.3, seed);
  std::vector<bool> failed;
  for (int i = 0; i < n; ++i) failed.push_back(!file->Append("x", {}, nullptr).ok());
  EXPECT_EQ(fs->counters().injected_failures,
            static_cast<uint64_t>(std::count(failed.begin(), failed.end(), true)));
  return failed;
}

TEST_F(FaultInjectionFsTest, ProbabilisticInjectionIsReproducibleWithASeed) {
  std::vector<bool> first = RandomWriteFailures(root_, 7, 400);
  std::vector<bool> again = RandomWriteFailures(root_, 7, 400);
  std::vector<bool> other = RandomWriteFailures(root_, 8, 400);
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
  const auto failures = std::count(first.begin(), first.end(), true);
  EXPECT_GT(failures, 80);  // 0.3 of 400 is 120
  EXPECT_LT(failures, 160);
}

TEST_F(FaultInjectionFsTest, ClearFaultsStopsInjection) {
  auto file = Create(Path("f"));
  fs_->FailRandomly(FaultKind::kWrite, 1.0, 1);
  EXPECT_FALSE(file->Append("x", {}, nullptr).ok());
  fs_->ClearFaults();
  EXPECT_TRUE(file->Append("x", {}, nullptr).ok());
}

// ---- counters -------------------------------------------------------------------

TEST_F(FaultInjectionFsTest, CountersCountSuccessfulOperations) {
  fs_->ResetCounters();
  WriteDurable(Path("a"), "a");  // 1 file, 1 sync, 1 dir sync
  WriteDurable(Path("b"), "b");  // 1 file, 1 sync, 1 dir sync
  ASSERT_TRUE(fs_->RenameFile(Path("a"), Path("c"), {}, nullptr).ok());
  ASSERT_TRUE(fs_->LinkFile(Path("b"), Path("d"), {}, nullptr).ok());
  ASSERT_TRUE(fs_->DeleteFile(Path("b"), {}, nullptr).ok());
  ASSERT_TRUE(fs_->CreateDirIfMissing(Path("dir"), {}, nullptr).ok());
  ASSERT_TRUE(fs_->CreateDirIfMissing(Path("dir"), {}, nullptr).ok());  // exists: not counted
  fs_->FailNext(FaultKind::kSync, 1);
  auto file = Create(Path("e"));
  EXPECT_FALSE(file->Sync({}, nullptr).ok());  // failed: not counted

  FaultInjectionCounters c = fs_->counters();
  EXPECT_EQ(c.files_created, 3u);
  EXPECT_EQ(c.syncs, 2u);
  EXPECT_EQ(c.dir_syncs, 2u);
  EXPECT_EQ(c.renames, 1u);
  EXPECT_EQ(c.links, 1u);
  EXPECT_EQ(c.deletes, 1u);
  EXPECT_EQ(c.dirs_created, 1u);
  EXPECT_EQ(c.injected_failures, 1u);
}

// ---- RocksDB on top ----------------------------------------------------------

class RocksDbOnFaultInjectionFsTest : public FaultInjectionFsTest {
 protected:
  void SetUp() override {
    FaultInjectionFsTest::SetUp();
    env_ = rocksdb::NewCompositeEnv(fs_);
    options_.env = env_.get();
    options_.create_if_missing = true;
    db_path_ = Path("db");
    // RocksDB does not fsync the parent of the directory it creates (see
    // PendingDirOps after an open): an embedder must create it durably.
    ASSERT_TRUE(fs_->CreateDir(db_path_, {}, nullptr).ok());
    SyncDir(root_);
  }

  void TearDown() override { db_.reset(); }

  void Open() {
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options_, db_path_, &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
  }

  // Power off, the owner shuts down (its writes fail), power loss, power on,
  // reopen.
  void CrashAndReopen() {
    fs_->SetFilesystemActive(false);
    db_.reset();
    ASSERT_NO_FATAL_FAILURE(PowerLoss());
    fs_->SetFilesystemActive(true);
    ASSERT_NO_FATAL_FAILURE(Open());
  }

  std::string Get(const std::string& key) {
    std::string value;
    rocksdb::Status s = db_->Get({}, key, &value);
    if (s.IsNotFound()) return kMissing;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return value;
  }

  std::unique_ptr<rocksdb::Env> env_;
  rocksdb::Options options_;
  std::string db_path_;
  std::unique_ptr<rocksdb::DB> db_;
};

TEST_F(RocksDbOnFaultInjectionFsTest, SyncedWalWritesSurvivePowerLoss) {
  ASSERT_NO_FATAL_FAILURE(Open());
  rocksdb::WriteOptions sync;
  sync.sync = true;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(db_->Put(sync, absl::StrCat("key", i), absl::StrCat("value", i)).ok());
  }

  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(Get(absl::StrCat("key", i)), absl::StrCat("value", i));
}

TEST_F(RocksDbOnFaultInjectionFsTest, WritesWithoutWalAndWithoutFlushAreLost) {
  ASSERT_NO_FATAL_FAILURE(Open());
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(db_->Put(sync, "durable", "yes").ok());
  rocksdb::WriteOptions no_wal;
  no_wal.disableWAL = true;
  ASSERT_TRUE(db_->Put(no_wal, "memtable-only", "yes").ok());
  EXPECT_EQ(Get("memtable-only"), "yes");

  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());
  EXPECT_EQ(Get("durable"), "yes");
  EXPECT_EQ(Get("memtable-only"), kMissing);
}

TEST_F(RocksDbOnFaultInjectionFsTest, UnsyncedWalWritesAreLost) {
  ASSERT_NO_FATAL_FAILURE(Open());
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(db_->Put(sync, "synced", "yes").ok());
  ASSERT_TRUE(db_->Put({}, "unsynced", "yes").ok());  // in the WAL file, not synced

  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());
  EXPECT_EQ(Get("synced"), "yes");
  EXPECT_EQ(Get("unsynced"), kMissing);
}

TEST_F(RocksDbOnFaultInjectionFsTest, FlushedDataSurvivesPowerLoss) {
  ASSERT_NO_FATAL_FAILURE(Open());
  rocksdb::WriteOptions no_wal;
  no_wal.disableWAL = true;
  ASSERT_TRUE(db_->Put(no_wal, "flushed", "yes").ok());
  ASSERT_TRUE(db_->Flush({}).ok());

  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());
  EXPECT_EQ(Get("flushed"), "yes");
}

// RocksDB's Checkpoint builds "<dir>.tmp" (CreateDir, hard links, copies),
// renames it to <dir> and fsyncs <dir>, but never the parent: the checkpoint
// is durable only once its caller fsyncs the parent directory.
TEST_F(RocksDbOnFaultInjectionFsTest, CheckpointIsDurableOnlyAfterItsParentDirectoryIsSynced) {
  ASSERT_NO_FATAL_FAILURE(Open());
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(db_->Put(sync, "key", "value").ok());
  ASSERT_TRUE(db_->Flush({}).ok());
  auto checkpoint = [&](const std::string& dir) {
    rocksdb::Checkpoint* raw = nullptr;
    ASSERT_TRUE(rocksdb::Checkpoint::Create(db_.get(), &raw).ok());
    std::unique_ptr<rocksdb::Checkpoint> cp(raw);
    rocksdb::Status s = cp->CreateCheckpoint(dir);
    ASSERT_TRUE(s.ok()) << s.ToString();
  };
  checkpoint(Path("checkpoint"));
  EXPECT_GT(fs_->counters().links, 0u);  // the SST files are hard-linked
  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());
  EXPECT_FALSE(Exists(Path("checkpoint")));
  EXPECT_FALSE(Exists(Path("checkpoint.tmp")));

  checkpoint(Path("checkpoint"));
  SyncDir(root_);
  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());
  db_.reset();
  db_path_ = Path("checkpoint");
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(Get("key"), "value");
}

// Many writer threads with synced writes while flushes and compactions run:
// every acknowledged write is there after the power loss.
TEST_F(RocksDbOnFaultInjectionFsTest, AcknowledgedWritesFromManyThreadsSurvive) {
  options_.write_buffer_size = 64 << 10;  // flush often
  options_.level0_file_num_compaction_trigger = 2;
  options_.max_background_jobs = 4;
  env_->SetBackgroundThreads(2, rocksdb::Env::HIGH);
  env_->SetBackgroundThreads(2, rocksdb::Env::LOW);
  ASSERT_NO_FATAL_FAILURE(Open());
  constexpr int kThreads = 4;
  constexpr int kWrites = 150;
  const std::string padding(1000, 'p');
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      for (int i = 0; i < kWrites; ++i) {
        ASSERT_TRUE(db_->Put(sync, absl::StrCat("t", t, "-", i), padding).ok());
      }
    });
  }
  for (std::thread& w : writers) w.join();

  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWrites; ++i) ASSERT_EQ(Get(absl::StrCat("t", t, "-", i)), padding);
  }
}

}  // namespace
}  // namespace cellindex::testing
