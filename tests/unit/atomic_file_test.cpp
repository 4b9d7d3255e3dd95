// Tests for atomic file output (reliability spec 3.6, OUT-01..OUT-09): the
// normal path, every operation failing in turn through the fault-injecting
// file system, folders that are missing or read-only, symlink targets and
// stale temp file removal.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "io/file/atomic_file.h"
#include "io/file/output_stream.h"
#include "io/file/temp_cleanup.h"

namespace acefit {
namespace {

namespace fs = std::filesystem;

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "acefit-atomic-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(dir_, fs::perms::owner_all, ignored);
    fs::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  static std::span<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
  }
  // Every name in the folder.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  bool any_temp() const {
    for (const auto& name : listing()) {
      if (name.rfind(kAtomicTempPrefix, 0) == 0) return true;
    }
    return false;
  }
  fs::path dir_;
};

const std::string kPayload(100000, 'x');

TEST_F(AtomicFile, WritesCompleteFileAndLeavesNoTemp) {  // OUT-01
  FaultInjectingFileSystem shim;
  AtomicWriteOptions options;
  options.fs = &shim;
  ASSERT_TRUE(write_file_atomic(path("out.bin"), bytes(kPayload), options).ok());
  EXPECT_EQ(read(path("out.bin")), kPayload);
  EXPECT_EQ(listing(), std::vector<std::string>{"out.bin"});
  // The temp file and the folder were both fsynced; the rename happened once.
  EXPECT_EQ(shim.count(FileOp::fsync), 2);
  EXPECT_EQ(shim.count(FileOp::open), 2);  // temp file, then the folder
  EXPECT_EQ(shim.count(FileOp::rename), 1);
  EXPECT_EQ(shim.count(FileOp::close), 2);
  struct stat info {};
  ASSERT_EQ(::stat(path("out.bin").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0600, 0600);
}

TEST_F(AtomicFile, ShortWritesAndEintrAreRetried) {
  FaultInjectingFileSystem shim;
  shim.set_max_write_bytes(7);
  shim.set_eintr_every_other_write(true);
  AtomicWriteOptions options;
  options.fs = &shim;
  const std::string payload(1000, 'q');
  ASSERT_TRUE(write_file_atomic(path("short.bin"), bytes(payload), options).ok());
  EXPECT_EQ(read(path("short.bin")), payload);
  EXPECT_GT(shim.count(FileOp::write), 2 * (1000 / 7));
}

// OUT-02/03/05: every operation before the rename fails in turn with each
// errno; the old file must be untouched and no temp file left.
TEST_F(AtomicFile, EachFailureLeavesOldFileAndNoTemp) {  // OUT-02, OUT-03 (I/O shim)
  const std::string old_contents = "old contents";
  struct Case {
    FileOp op;
    int nth;
  };
  const Case cases[] = {{FileOp::open, 1},  {FileOp::write, 1}, {FileOp::write, 3},
                        {FileOp::fsync, 1}, {FileOp::close, 1}, {FileOp::rename, 1}};
  for (const int error_number : {ENOSPC, EIO, EACCES}) {
    for (const Case& c : cases) {
      SCOPED_TRACE("op " + std::to_string(static_cast<int>(c.op)) + " nth " +
                   std::to_string(c.nth) + " errno " + std::to_string(error_number));
      for (const bool existing : {false, true}) {
        std::error_code ignored;
        fs::remove(path("out.wav"), ignored);
        if (existing) {
          std::ofstream(path("out.wav"), std::ios::binary) << old_contents;
        }
        FaultInjectingFileSystem shim;
        shim.set_max_write_bytes(4096);  // several writes per file
        shim.fail_nth(c.op, c.nth, error_number);
        AtomicWriteOptions options;
        options.fs = &shim;
        const Status status = write_file_atomic(path("out.wav"), bytes(kPayload), options);
        EXPECT_TRUE(shim.fault_fired());
        ASSERT_FALSE(status.ok());
        EXPECT_EQ(status.code(), ErrorCode::io);
        EXPECT_NE(status.message().find(path("out.wav")), std::string::npos) << status.message();
        EXPECT_NE(status.message().find(error_number == ENOSPC ? "disk_full" : "io_error"),
                  std::string::npos)
            << status.message();
        EXPECT_FALSE(any_temp());
        if (existing) {
          EXPECT_EQ(read(path("out.wav")), old_contents);
        } else {
          EXPECT_FALSE(fs::exists(path("out.wav")));  // no final, no zero-byte file
        }
      }
    }
  }
}

// OUT-02 on a real full file system: a 64 KiB tmpfs mounted over the test
// folder (needs CAP_SYS_ADMIN; elsewhere the shim test above covers it).
TEST_F(AtomicFile, RealFullTmpfsLeavesNothing) {  // OUT-02
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=64k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); EachFailureLeavesOldFileAndNoTemp covers ENOSPC through the shim";
  }
  const Status status = write_file_atomic(path("out.wav"), bytes(kPayload + kPayload));
  const Status small = write_file_atomic(path("small.wav"), bytes("fits"));
  const auto names = listing();
  ::umount2(dir_.c_str(), MNT_DETACH);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::io);
  EXPECT_NE(status.message().find("disk_full"), std::string::npos) << status.message();
  EXPECT_TRUE(small.ok()) << small.to_string();
  EXPECT_EQ(names, std::vector<std::string>{"small.wav"});  // no temp, no partial out.wav
}

TEST_F(AtomicFile, FolderFsyncFailureIsReportedAfterTheRename) {
  FaultInjectingFileSystem shim;
  shim.fail_nth(FileOp::fsync, 2, EIO);  // the folder's fsync
  AtomicWriteOptions options;
  options.fs = &shim;
  const Status status = write_file_atomic(path("out.bin"), bytes(kPayload), options);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("fsync folder"), std::string::npos) << status.message();
  EXPECT_FALSE(any_temp());
  EXPECT_EQ(read(path("out.bin")), kPayload);  // complete, never partial
}

TEST_F(AtomicFile, StreamingWriterFailureKeepsReturningTheError) {
  FaultInjectingFileSystem shim;
  shim.fail_nth(FileOp::write, 2, ENOSPC);
  AtomicWriteOptions options;
  options.fs = &shim;
  auto writer = AtomicFileWriter::create(path("s.bin"), options);
  ASSERT_TRUE(writer.ok());
  EXPECT_TRUE(writer->write(bytes("abc")).ok());
  const Status first = writer->write(bytes("def"));
  EXPECT_FALSE(first.ok());
  EXPECT_FALSE(any_temp());  // removed at the failure, not at destruction
  EXPECT_EQ(writer->write(bytes("ghi")).message(), first.message());
  EXPECT_EQ(writer->commit().message(), first.message());
  EXPECT_FALSE(fs::exists(path("s.bin")));
}

TEST_F(AtomicFile, DiscardedWriterRemovesTemp) {
  {
    auto writer = AtomicFileWriter::create(path("d.bin"));
    ASSERT_TRUE(writer.ok());
    EXPECT_TRUE(writer->write(bytes("partial")).ok());
    EXPECT_TRUE(any_temp());
    EXPECT_EQ(fs::path(writer->temp_path()).parent_path(), dir_);
  }
  EXPECT_TRUE(listing().empty());
}

TEST_F(AtomicFile, MissingFolderNamesTheFolder) {  // OUT-04
  const std::string missing = path("no/such/folder");
  const Status status = write_file_atomic(missing + "/out.wav", bytes("x"));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no/such/folder"), std::string::npos) << status.message();
  const Status preflight = check_output_folder(missing);
  ASSERT_FALSE(preflight.ok());
  EXPECT_NE(preflight.message().find("output folder '" + missing + "'"), std::string::npos);
  std::ofstream(path("file")) << "x";
  EXPECT_NE(check_output_folder(path("file")).message().find("is not a folder"), std::string::npos);
  EXPECT_TRUE(check_output_folder(dir_.string()).ok());
  EXPECT_TRUE(listing() == std::vector<std::string>{"file"});  // the probe is gone
}

TEST_F(AtomicFile, ReadOnlyFolderViaShim) {  // OUT-04, independent of the user id
  FaultInjectingFileSystem shim;
  shim.fail_nth(FileOp::open, 1, EROFS);
  const Status status = check_output_folder(dir_.string(), &shim);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("is not writable"), std::string::npos);
  EXPECT_NE(status.message().find("Read-only file system"), std::string::npos);
}

TEST_F(AtomicFile, ReadOnlyFolderViaChmod) {  // OUT-04
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: permission bits do not stop root, so chmod 0555 cannot "
                    "make the folder unwritable (ReadOnlyFolderViaShim covers the error path)";
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  const Status status = write_file_atomic(path("out.wav"), bytes("x"));
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("Permission denied"), std::string::npos);
  EXPECT_FALSE(check_output_folder(dir_.string()).ok());
  ::chmod(dir_.c_str(), 0755);
  EXPECT_TRUE(listing().empty());
}

TEST_F(AtomicFile, ReplacesExistingFileAtomically) {  // OUT-05 (CLI)
  std::ofstream(path("out.wav")) << "old";
  std::ifstream reader(path("out.wav"));  // a reader holding the old file open
  ASSERT_TRUE(write_file_atomic(path("out.wav"), bytes("new contents")).ok());
  EXPECT_EQ(read(path("out.wav")), "new contents");
  std::string old_seen;
  reader >> old_seen;
  EXPECT_EQ(old_seen, "old");
}

TEST_F(AtomicFile, NoOverwriteModeFailsWithOutputExists) {  // OUT-05 (server), OUT-07
  AtomicWriteOptions options;
  options.replace_existing = false;
  ASSERT_TRUE(write_file_atomic(path("job.wav"), bytes("first"), options).ok());
  const Status second = write_file_atomic(path("job.wav"), bytes("second"), options);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.message().find("output_exists"), std::string::npos);
  EXPECT_EQ(read(path("job.wav")), "first");
  EXPECT_EQ(listing(), std::vector<std::string>{"job.wav"});
}

TEST_F(AtomicFile, TwoWritersToOneNameNeverInterleave) {  // OUT-07
  auto a = AtomicFileWriter::create(path("same.wav"));
  auto b = AtomicFileWriter::create(path("same.wav"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->temp_path(), b->temp_path());
  ASSERT_TRUE(a->write(bytes(std::string(5000, 'a'))).ok());
  ASSERT_TRUE(b->write(bytes(std::string(7000, 'b'))).ok());
  ASSERT_TRUE(a->commit().ok());
  ASSERT_TRUE(b->commit().ok());
  EXPECT_EQ(read(path("same.wav")), std::string(7000, 'b'));
  EXPECT_FALSE(any_temp());
}

TEST_F(AtomicFile, SymlinkTargetIsReplacedAsALink) {  // OUT-06
  std::ofstream(path("real.wav")) << "pointed-to";
  fs::create_symlink(path("real.wav"), path("link.wav"));
  ASSERT_TRUE(write_file_atomic(path("link.wav"), bytes("fresh")).ok());
  EXPECT_FALSE(fs::is_symlink(path("link.wav")));
  EXPECT_EQ(read(path("link.wav")), "fresh");
  EXPECT_EQ(read(path("real.wav")), "pointed-to");
}

TEST_F(AtomicFile, TempFileIgnoresTmpdir) {  // OUT-09
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("TMPDIR", "/nonexistent-acefit-tmpdir", 1);
  auto writer = AtomicFileWriter::create(path("t.wav"));
  if (old != nullptr) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  ASSERT_TRUE(writer.ok()) << writer.status().to_string();
  EXPECT_EQ(fs::path(writer->temp_path()).parent_path(), dir_);
  const std::string temp_prefix = ".acefit-tmp-" + std::to_string(::getpid()) + "-t.wav-";
  EXPECT_EQ(fs::path(writer->temp_path()).filename().string().rfind(temp_prefix, 0), 0u);
  ASSERT_TRUE(writer->commit().ok());
}

TEST_F(AtomicFile, LongNamesKeepTempNameWithinLimit) {
  const std::string name(250, 'n');
  ASSERT_TRUE(write_file_atomic(path(name), bytes("x")).ok());
  EXPECT_EQ(read(path(name)), "x");
  EXPECT_FALSE(write_file_atomic(path(std::string(256, 'n')), bytes("x")).ok());
  EXPECT_FALSE(write_file_atomic(dir_.string() + "/", bytes("x")).ok());
}

TEST_F(AtomicFile, StaleTempFilesAreRemoved) {  // OUT-08
  std::ofstream(path(".acefit-tmp-out.wav-0123456789abcdef")) << "half";
  std::ofstream(path(".acefit-tmp-other.flac-fedcba9876543210")) << "half";
  std::ofstream(path("keep.wav")) << "done";
  std::ofstream(path(".hidden")) << "user";
  fs::create_directory(path(".acefit-tmp-folder"));
  fs::create_symlink(path("keep.wav"), path(".acefit-tmp-link"));
  auto young = remove_stale_temp_files(dir_.string(), 3600);
  ASSERT_TRUE(young.ok());
  EXPECT_EQ(*young, 0u);  // too recent: may belong to a live writer
  auto removed = remove_stale_temp_files(dir_.string());
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(listing(), (std::vector<std::string>{".acefit-tmp-folder", ".acefit-tmp-link",
                                                 ".hidden", "keep.wav"}));
  EXPECT_FALSE(remove_stale_temp_files(path("missing")).ok());
}

TEST_F(AtomicFile, ReadFileBytesIsBounded) {
  std::ofstream(path("f")) << "hello";
  auto ok = read_file_bytes(path("f"), 5);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(std::string(ok->begin(), ok->end()), "hello");
  EXPECT_EQ(read_file_bytes(path("f"), 4).status().code(), ErrorCode::unsupported);
  EXPECT_EQ(read_file_bytes(path("nope"), 4).status().code(), ErrorCode::not_found);
  EXPECT_FALSE(read_file_bytes(dir_.string(), 4).ok());
}

// A pid that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

void make_old(const std::string& p) {
  const utimbuf times{std::time(nullptr) - 3600, std::time(nullptr) - 3600};
  ::utime(p.c_str(), &times);
}

TEST_F(AtomicFile, DeadOwnersTempIsRemovedOnTheNextWriteLiveOwnersKept) {  // OUT-08
  const std::string dead = ".acefit-tmp-" + std::to_string(dead_pid()) + "-a.wav-0123456789abcdef";
  const std::string dead_young =
      ".acefit-tmp-" + std::to_string(dead_pid()) + "-b.wav-0123456789abcdef";
  const std::string live = ".acefit-tmp-" + std::to_string(::getppid()) + "-c.wav-0123456789abcdef";
  for (const std::string& name : {dead, dead_young, live}) std::ofstream(path(name)) << "half";
  make_old(path(dead));
  make_old(path(live));
  ASSERT_TRUE(write_file_atomic(path("new.wav"), bytes("x")).ok());
  std::vector<std::string> expected{live, dead_young, "new.wav"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(listing(), expected);
}

TEST_F(AtomicFile, TempOwnerPidIsParsedFromTheName) {
  EXPECT_EQ(temp_owner_pid(".acefit-tmp-123-x.wav-00", kAtomicTempPrefix), 123);
  EXPECT_EQ(temp_owner_pid(".acefit-tmp-123", kAtomicTempPrefix), 123);
  EXPECT_EQ(temp_owner_pid(".acefit-tmp-x.wav-00", kAtomicTempPrefix), 0);
  EXPECT_EQ(temp_owner_pid(".acefit-tmp-12x-a", kAtomicTempPrefix), 0);
  EXPECT_EQ(temp_owner_pid("out.wav", kAtomicTempPrefix), 0);
  EXPECT_TRUE(process_alive(::getpid()));
  EXPECT_FALSE(process_alive(dead_pid()));
}

TEST_F(AtomicFile, FinishKeepsTheTargetUntilCommit) {
  std::ofstream(path("out.wav")) << "old";
  auto writer = AtomicFileWriter::create(path("out.wav"));
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->write(bytes("new")).ok());
  ASSERT_TRUE(writer->finish().ok());
  EXPECT_EQ(read(path("out.wav")), "old");
  EXPECT_EQ(read(writer->temp_path()), "new");  // complete under the temp name
  ASSERT_TRUE(writer->commit().ok());
  EXPECT_TRUE(writer->committed());
  EXPECT_EQ(read(path("out.wav")), "new");
  EXPECT_FALSE(any_temp());
}

TEST_F(AtomicFile, FreeSpaceCheckNamesTheFolderAndBothFigures) {
  FaultInjectingFileSystem shim;
  shim.set_free_bytes(1000);
  EXPECT_TRUE(check_output_space(dir_.string(), 1000, &shim).ok());
  const Status status = check_output_space(dir_.string(), 1001, &shim);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(dir_.string()), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("1000 bytes free"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("1001 bytes"), std::string::npos) << status.message();
  EXPECT_TRUE(check_output_space(dir_.string(), 1).ok());  // the real statvfs
}

TEST_F(AtomicFile, SignalRemovesTheTempFilesOfThisProcess) {
  // The child registers a temp file and a temp folder tree, then is killed
  // by SIGTERM; the handler removes both and the default action ends it.
  const std::string tree = path(".tree.acefit-tmp-1");
  const pid_t child = ::fork();
  if (child == 0) {
    install_temp_cleanup_signal_handlers();
    auto writer = AtomicFileWriter::create(path("sig.wav"));
    if (!writer.ok() || !writer->write(bytes(kPayload)).ok()) ::_exit(3);
    if (::mkdir(tree.c_str(), 0755) != 0) ::_exit(4);
    if (::mkdir((tree + "/sub").c_str(), 0755) != 0) ::_exit(5);
    std::ofstream(tree + "/sub/file") << "x";
    std::ofstream(tree + "/top") << "x";
    register_temp(tree, true);
    ::raise(SIGTERM);
    ::_exit(6);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_TRUE(listing().empty()) << listing().front();
}

TEST_F(AtomicFile, OutputPathKinds) {
  EXPECT_EQ(classify_output_path(path("new.wav")).kind, OutputPathKind::file);
  std::ofstream(path("old.wav")) << "x";
  EXPECT_EQ(classify_output_path(path("old.wav")).kind, OutputPathKind::file);
  EXPECT_EQ(classify_output_path(dir_.string()).kind, OutputPathKind::folder);
  EXPECT_EQ(classify_output_path("/dev/null").kind, OutputPathKind::stream);
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  EXPECT_EQ(classify_output_path(path("fifo")).kind, OutputPathKind::stream);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string sock_path = path("sock");
  ASSERT_LT(sock_path.size(), sizeof(address.sun_path));
  std::memcpy(address.sun_path, sock_path.c_str(), sock_path.size() + 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(classify_output_path(sock_path).kind, OutputPathKind::refused);
  ::close(sock);
  // A stream is written in place: /dev/null stays a character device.
  auto fd = open_output_stream("/dev/null", false);
  ASSERT_TRUE(fd.ok()) << fd.status().to_string();
  EXPECT_TRUE(write_fd_fully(*fd, bytes(kPayload), "/dev/null").ok());
  ::close(*fd);
  struct stat info {};
  ASSERT_EQ(::stat("/dev/null", &info), 0);
  EXPECT_TRUE(S_ISCHR(info.st_mode));
}

}  // namespace
}  // namespace acefit
