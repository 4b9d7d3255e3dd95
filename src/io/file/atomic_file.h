// Atomic file output (reliability spec 3.6, OUT-01..OUT-09): a file is
// written to a hidden temp file in the same folder as the target, fsynced,
// closed and renamed over the target, and then the folder is fsynced. A
// reader sees either the old file (or no file) or the complete new one; any
// failure removes the temp file. All system calls go through FileSystem so
// tests can inject ENOSPC / EIO / EACCES at any operation. Also the bounded
// whole-file reader the audio and .pt readers share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace acefit {

// The system calls atomic output uses. Every call returns 0 on success or
// an errno value on failure (never sets errno for the caller to read).
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual int open(const std::string& path, int flags, unsigned mode, int& fd_out) = 0;
  // May write fewer bytes than asked (short write); EINTR is a valid failure.
  virtual int write(int fd, const void* data, std::size_t size, std::size_t& written_out) = 0;
  virtual int fsync(int fd) = 0;
  virtual int close(int fd) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  // Creates `to` as a hard link to `from`; EEXIST when `to` exists.
  virtual int link(const std::string& from, const std::string& to) = 0;
  virtual int unlink(const std::string& path) = 0;
  // Bytes an unprivileged writer may still use in the folder's file system
  // (default: statvfs).
  virtual int free_bytes(const std::string& folder, std::uint64_t& bytes_out);
};

// The real POSIX calls (a process-wide stateless object).
FileSystem& posix_file_system();

// Which operation a fault applies to.
enum class FileOp { open, write, fsync, close, rename, link, unlink };

// A FileSystem for tests: forwards to POSIX, counts each operation, and fails
// the Nth call (1-based) of one operation with a chosen errno. It can also cap
// every write to a few bytes (short writes) and make writes report EINTR
// first, to exercise the retry loops.
class FaultInjectingFileSystem : public FileSystem {
 public:
  void fail_nth(FileOp op, int nth, int error_number);
  void clear_fault() { fault_nth_ = 0; }
  void set_max_write_bytes(std::size_t bytes) { max_write_bytes_ = bytes; }
  void set_eintr_every_other_write(bool on) { eintr_every_other_write_ = on; }
  int count(FileOp op) const { return counts_[static_cast<int>(op)]; }
  bool fault_fired() const { return fault_fired_; }
  // Makes free_bytes() report this many bytes (unset: the real figure).
  void set_free_bytes(std::uint64_t bytes) {
    free_bytes_ = bytes;
    fake_free_bytes_ = true;
  }

  int open(const std::string& path, int flags, unsigned mode, int& fd_out) override;
  int write(int fd, const void* data, std::size_t size, std::size_t& written_out) override;
  int fsync(int fd) override;
  int close(int fd) override;
  int rename(const std::string& from, const std::string& to) override;
  int link(const std::string& from, const std::string& to) override;
  int unlink(const std::string& path) override;
  int free_bytes(const std::string& folder, std::uint64_t& bytes_out) override;

 private:
  // Counts the call; returns the injected errno or 0.
  int tick(FileOp op);

  int counts_[7] = {};
  FileOp fault_op_ = FileOp::open;
  int fault_nth_ = 0;
  int fault_errno_ = 0;
  bool fault_fired_ = false;
  std::size_t max_write_bytes_ = 0;
  bool eintr_every_other_write_ = false;
  bool eintr_next_ = true;
  bool fake_free_bytes_ = false;
  std::uint64_t free_bytes_ = 0;
};

struct AtomicWriteOptions {
  FileSystem* fs = nullptr;  // nullptr: posix_file_system()
  // true (the CLI): replace an existing target atomically (a symlink target
  // is replaced as a link). false (the server): never overwrite; an
  // existing target fails with "output_exists" and is left untouched.
  bool replace_existing = true;
  unsigned mode = 0644;  // before the process umask
};

// The hidden prefix of every acefit temp file:
// ".acefit-tmp-<pid>-<name>-<random>" (the pid of the writing process).
inline constexpr const char* kAtomicTempPrefix = ".acefit-tmp-";

// A temp file of a dead process is removed by the next writer into its
// folder once it is this old (the age keeps a live writer in another pid
// namespace, whose pid means nothing here, safe).
inline constexpr std::int64_t kDeadOwnerTempMinAgeS = 120;

// Streams a file to its temp name and commits it. Not copyable; moving is
// fine. Destroying an uncommitted writer removes its temp file. After any
// failure the temp file is already gone and every later call returns the
// same error. create() first removes stale temp files of dead processes in
// the folder; the temp path is registered for the signal handler of
// temp_cleanup.h until it is renamed or removed.
class AtomicFileWriter {
 public:
  static Expected<AtomicFileWriter> create(const std::string& target_path,
                                           const AtomicWriteOptions& options = {});

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  // Writes all bytes (loops over short writes and EINTR).
  Status write(std::span<const std::uint8_t> bytes);
  // fsync and close: the temp file is complete and durable, the target is
  // not touched yet (a batch finishes every item before committing any).
  Status finish();
  // finish() if not done, then rename (or link for no-overwrite), fsync the
  // folder.
  Status commit();
  // Closes and removes the temp file; the target is not touched.
  void discard();

  const std::string& target_path() const { return target_path_; }
  const std::string& temp_path() const { return temp_path_; }
  std::uint64_t bytes_written() const { return bytes_written_; }
  // True once the target name holds the new file (even if the folder fsync
  // after the rename then failed).
  bool committed() const { return committed_; }

 private:
  AtomicFileWriter() = default;
  Status fail(const char* stage, int error_number);

  FileSystem* fs_ = nullptr;
  std::string target_path_;
  std::string temp_path_;
  std::string folder_;
  bool replace_existing_ = true;
  int fd_ = -1;
  bool committed_ = false;
  bool finished_ = false;
  int temp_slot_ = -1;
  std::uint64_t bytes_written_ = 0;
  Status error_;
};

// Writes `bytes` to `target_path` atomically (create + write + commit).
Status write_file_atomic(const std::string& target_path, std::span<const std::uint8_t> bytes,
                         const AtomicWriteOptions& options = {});

// Pre-flight for an output folder (OUT-04): it exists, is a folder, and a
// temp file can be created and removed in it. Errors name the folder.
Status check_output_folder(const std::string& folder, FileSystem* fs = nullptr);

// Free space check for a planned output: `needed_bytes` more bytes fit in
// the file system of `folder`. The error names the folder and both figures.
Status check_output_space(const std::string& folder, std::uint64_t needed_bytes,
                          FileSystem* fs = nullptr);

// Removes regular files in `folder` whose names start with kAtomicTempPrefix
// and that were last modified at least `min_age_seconds` ago (OUT-08: stale
// temp files of an interrupted write). Symlinks and folders are left alone.
// Returns how many files were removed.
Expected<std::uint64_t> remove_stale_temp_files(const std::string& folder,
                                                std::int64_t min_age_seconds = 0);

// "disk_full: <strerror>" for ENOSPC/EDQUOT, "io_error: <strerror>" otherwise.
std::string describe_io_errno(int error_number);

// Reads a whole regular file of at most `max_bytes` bytes (larger files are
// refused before anything is allocated). not_found when it does not exist.
Expected<std::vector<std::uint8_t>> read_file_bytes(const std::string& path,
                                                    std::uint64_t max_bytes);

}  // namespace acefit
