#include "io/file/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <new>
#include <utility>

#include "io/file/temp_cleanup.h"

namespace acefit {
namespace {

class PosixFileSystem final : public FileSystem {
 public:
  int open(const std::string& path, int flags, unsigned mode, int& fd_out) override {
    const int fd = ::open(path.c_str(), flags, static_cast<mode_t>(mode));
    if (fd < 0) return errno;
    fd_out = fd;
    return 0;
  }
  int write(int fd, const void* data, std::size_t size, std::size_t& written_out) override {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) return errno;
    written_out = static_cast<std::size_t>(n);
    return 0;
  }
  int fsync(int fd) override { return ::fsync(fd) == 0 ? 0 : errno; }
  int close(int fd) override { return ::close(fd) == 0 ? 0 : errno; }
  int rename(const std::string& from, const std::string& to) override {
    return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
  }
  int link(const std::string& from, const std::string& to) override {
    return ::link(from.c_str(), to.c_str()) == 0 ? 0 : errno;
  }
  int unlink(const std::string& path) override { return ::unlink(path.c_str()) == 0 ? 0 : errno; }
};

// Splits "a/b/c.wav" into folder "a/b" and name "c.wav"; "c.wav" -> ".".
bool split_path(const std::string& path, std::string& folder, std::string& name) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    folder = ".";
    name = path;
  } else {
    folder = slash == 0 ? "/" : path.substr(0, slash);
    name = path.substr(slash + 1);
  }
  return !name.empty() && name != "." && name != "..";
}

std::string random_hex16() {
  std::uint64_t value = 0;
  if (getrandom(&value, sizeof(value), GRND_NONBLOCK) != static_cast<ssize_t>(sizeof(value))) {
    // No entropy available yet: mix time, pid and a counter; O_EXCL still
    // guarantees uniqueness, this only keeps collisions rare.
    static thread_local std::uint64_t counter = 0;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    value = (static_cast<std::uint64_t>(now.tv_nsec) << 20) ^
            (static_cast<std::uint64_t>(getpid()) << 40) ^ (++counter * 0x9E3779B97F4A7C15ull);
  }
  static const char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 0; i < 16; ++i) out[i] = digits[(value >> (4 * i)) & 15];
  return out;
}

constexpr std::size_t kNameMax = 255;

}  // namespace

int FileSystem::free_bytes(const std::string& folder, std::uint64_t& bytes_out) {
  struct statvfs info {};
  if (::statvfs(folder.c_str(), &info) != 0) return errno;
  bytes_out = static_cast<std::uint64_t>(info.f_bavail) * info.f_frsize;
  return 0;
}

FileSystem& posix_file_system() {
  static PosixFileSystem instance;
  return instance;
}

std::string describe_io_errno(int error_number) {
  const bool full = error_number == ENOSPC || error_number == EDQUOT;
  return std::string(full ? "disk_full: " : "io_error: ") + std::strerror(error_number);
}

// ---- FaultInjectingFileSystem ----------------------------------------------

void FaultInjectingFileSystem::fail_nth(FileOp op, int nth, int error_number) {
  fault_op_ = op;
  fault_nth_ = nth;
  fault_errno_ = error_number;
  fault_fired_ = false;
}

int FaultInjectingFileSystem::tick(FileOp op) {
  const int count = ++counts_[static_cast<int>(op)];
  if (fault_nth_ > 0 && op == fault_op_ && count == fault_nth_) {
    fault_fired_ = true;
    return fault_errno_;
  }
  return 0;
}

int FaultInjectingFileSystem::open(const std::string& path, int flags, unsigned mode, int& fd_out) {
  if (const int e = tick(FileOp::open)) return e;
  return posix_file_system().open(path, flags, mode, fd_out);
}

int FaultInjectingFileSystem::write(int fd, const void* data, std::size_t size,
                                    std::size_t& written_out) {
  if (const int e = tick(FileOp::write)) return e;
  if (eintr_every_other_write_) {
    eintr_next_ = !eintr_next_;
    if (!eintr_next_) return EINTR;
  }
  if (max_write_bytes_ > 0 && size > max_write_bytes_) size = max_write_bytes_;
  return posix_file_system().write(fd, data, size, written_out);
}

int FaultInjectingFileSystem::fsync(int fd) {
  if (const int e = tick(FileOp::fsync)) return e;
  return posix_file_system().fsync(fd);
}

int FaultInjectingFileSystem::close(int fd) {
  // A failing close still releases the descriptor, as on Linux.
  const int e = tick(FileOp::close);
  const int real = posix_file_system().close(fd);
  return e != 0 ? e : real;
}

int FaultInjectingFileSystem::rename(const std::string& from, const std::string& to) {
  if (const int e = tick(FileOp::rename)) return e;
  return posix_file_system().rename(from, to);
}

int FaultInjectingFileSystem::link(const std::string& from, const std::string& to) {
  if (const int e = tick(FileOp::link)) return e;
  return posix_file_system().link(from, to);
}

int FaultInjectingFileSystem::unlink(const std::string& path) {
  if (const int e = tick(FileOp::unlink)) return e;
  return posix_file_system().unlink(path);
}

int FaultInjectingFileSystem::free_bytes(const std::string& folder, std::uint64_t& bytes_out) {
  if (fake_free_bytes_) {
    bytes_out = free_bytes_;
    return 0;
  }
  return posix_file_system().free_bytes(folder, bytes_out);
}

// ---- AtomicFileWriter ------------------------------------------------------

Expected<AtomicFileWriter> AtomicFileWriter::create(const std::string& target_path,
                                                    const AtomicWriteOptions& options) {
  try {
    AtomicFileWriter writer;
    writer.fs_ = options.fs != nullptr ? options.fs : &posix_file_system();
    writer.target_path_ = target_path;
    writer.replace_existing_ = options.replace_existing;
    std::string name;
    if (!split_path(target_path, writer.folder_, name)) {
      return invalid_argument("cannot write '" + target_path + "': the path names no file");
    }
    if (name.size() > kNameMax) {
      return invalid_argument("cannot write '" + target_path + "': the file name is longer than " +
                              std::to_string(kNameMax) + " bytes");
    }
    const std::string prefix = std::string(kAtomicTempPrefix) + std::to_string(::getpid()) + "-";
    const std::size_t room = kNameMax - prefix.size() - 1 - 16;
    const std::string stem = name.substr(0, room);
    const std::string base = writer.folder_ == "/" ? "/" : writer.folder_ + "/";
    (void)remove_dead_owner_temp_files(writer.folder_, kAtomicTempPrefix, kDeadOwnerTempMinAgeS);
    // O_EXCL makes the name ours; a collision with another writer retries.
    int last_error = EEXIST;
    for (int attempt = 0; attempt < 16 && last_error == EEXIST; ++attempt) {
      const std::string candidate = base + prefix + stem + "-" + random_hex16();
      // Registered before it exists: a signal between open and register
      // must not leave it behind.
      const int slot = register_temp(candidate, false);
      int fd = -1;
      last_error =
          writer.fs_->open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.mode, fd);
      if (last_error == 0) {
        writer.fd_ = fd;
        writer.temp_path_ = candidate;
        writer.temp_slot_ = slot;
        return writer;
      }
      unregister_temp(slot);
    }
    return Status(ErrorCode::io, "cannot write '" + target_path +
                                     "': cannot create a file in folder '" + writer.folder_ +
                                     "': " + describe_io_errno(last_error));
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "cannot write '" + target_path + "': out of memory");
  }
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : fs_(other.fs_),
      target_path_(std::move(other.target_path_)),
      temp_path_(std::move(other.temp_path_)),
      folder_(std::move(other.folder_)),
      replace_existing_(other.replace_existing_),
      fd_(std::exchange(other.fd_, -1)),
      committed_(other.committed_),
      finished_(other.finished_),
      temp_slot_(std::exchange(other.temp_slot_, -1)),
      bytes_written_(other.bytes_written_),
      error_(std::move(other.error_)) {
  other.temp_path_.clear();
}

AtomicFileWriter& AtomicFileWriter::operator=(AtomicFileWriter&& other) noexcept {
  if (this != &other) {
    discard();
    fs_ = other.fs_;
    target_path_ = std::move(other.target_path_);
    temp_path_ = std::move(other.temp_path_);
    folder_ = std::move(other.folder_);
    replace_existing_ = other.replace_existing_;
    fd_ = std::exchange(other.fd_, -1);
    committed_ = other.committed_;
    finished_ = other.finished_;
    temp_slot_ = std::exchange(other.temp_slot_, -1);
    bytes_written_ = other.bytes_written_;
    error_ = std::move(other.error_);
    other.temp_path_.clear();
  }
  return *this;
}

AtomicFileWriter::~AtomicFileWriter() {
  discard();
}

void AtomicFileWriter::discard() {
  if (fd_ >= 0) {
    (void)fs_->close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    (void)fs_->unlink(temp_path_);
    temp_path_.clear();
  }
  unregister_temp(std::exchange(temp_slot_, -1));
}

Status AtomicFileWriter::fail(const char* stage, int error_number) {
  discard();
  error_ = Status(ErrorCode::io, "cannot write '" + target_path_ + "': " + stage + ": " +
                                     describe_io_errno(error_number));
  return error_;
}

Status AtomicFileWriter::write(std::span<const std::uint8_t> bytes) {
  if (!error_.ok()) return error_;
  if (committed_ || fd_ < 0) {
    return Status(ErrorCode::internal, "cannot write '" + target_path_ + "': writer is closed");
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    std::size_t written = 0;
    const int e = fs_->write(fd_, bytes.data() + done, bytes.size() - done, written);
    if (e == EINTR) continue;
    if (e != 0) return fail("write", e);
    if (written == 0) return fail("write made no progress", EIO);
    done += written;
    bytes_written_ += written;
  }
  return {};
}

Status AtomicFileWriter::finish() {
  if (!error_.ok()) return error_;
  if (finished_) return {};
  if (committed_ || fd_ < 0) {
    return Status(ErrorCode::internal, "cannot write '" + target_path_ + "': writer is closed");
  }
  // fsync is never retried: after a failed fsync the kernel may have dropped
  // the dirty pages, so a later success would prove nothing.
  if (const int e = fs_->fsync(fd_)) return fail("fsync", e);
  const int close_error = fs_->close(fd_);
  fd_ = -1;
  if (close_error != 0) return fail("close", close_error);
  finished_ = true;
  return {};
}

Status AtomicFileWriter::commit() {
  if (!error_.ok()) return error_;
  if (committed_) {
    return Status(ErrorCode::internal, "cannot write '" + target_path_ + "': writer is closed");
  }
  ACEFIT_TRY(finish());

  if (replace_existing_) {
    if (const int e = fs_->rename(temp_path_, target_path_)) return fail("rename", e);
  } else {
    const int e = fs_->link(temp_path_, target_path_);
    if (e == EEXIST) {
      discard();
      error_ = Status(ErrorCode::io, "cannot write '" + target_path_ +
                                         "': output_exists: the file already exists and "
                                         "overwriting is disabled");
      return error_;
    }
    if (e != 0) return fail("link", e);
    if (const int u = fs_->unlink(temp_path_)) return fail("remove temp file", u);
  }
  temp_path_.clear();  // the temp name is now the target (or gone)
  unregister_temp(std::exchange(temp_slot_, -1));
  committed_ = true;

  // Make the rename durable. EINVAL/ENOTSUP: the file system cannot fsync a
  // folder (some network and FUSE mounts); there is nothing more to do.
  int dir_fd = -1;
  if (const int e = fs_->open(folder_, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, dir_fd)) {
    error_ = Status(ErrorCode::io, "cannot write '" + target_path_ + "': open folder '" + folder_ +
                                       "' for fsync: " + describe_io_errno(e));
    return error_;
  }
  const int sync_error = fs_->fsync(dir_fd);
  const int dir_close_error = fs_->close(dir_fd);
  if (sync_error != 0 && sync_error != EINVAL && sync_error != ENOTSUP) {
    error_ = Status(ErrorCode::io, "cannot write '" + target_path_ + "': fsync folder '" + folder_ +
                                       "': " + describe_io_errno(sync_error));
    return error_;
  }
  if (dir_close_error != 0) {
    error_ = Status(ErrorCode::io, "cannot write '" + target_path_ + "': close folder '" + folder_ +
                                       "': " + describe_io_errno(dir_close_error));
    return error_;
  }
  return {};
}

Status write_file_atomic(const std::string& target_path, std::span<const std::uint8_t> bytes,
                         const AtomicWriteOptions& options) {
  ACEFIT_ASSIGN(AtomicFileWriter writer, AtomicFileWriter::create(target_path, options));
  ACEFIT_TRY(writer.write(bytes));
  return writer.commit();
}

Status check_output_folder(const std::string& folder, FileSystem* fs) {
  struct stat info {};
  if (::stat(folder.c_str(), &info) != 0) {
    const int e = errno;
    return Status(ErrorCode::io,
                  "output folder '" + folder + "' is not usable: " + describe_io_errno(e));
  }
  if (!S_ISDIR(info.st_mode)) {
    return Status(ErrorCode::io, "output folder '" + folder + "' is not a folder");
  }
  FileSystem& files = fs != nullptr ? *fs : posix_file_system();
  const std::string probe = (folder == "/" ? "/" : folder + "/") + kAtomicTempPrefix +
                            std::to_string(::getpid()) + "-probe-" + random_hex16();
  int fd = -1;
  if (const int e = files.open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600, fd)) {
    return Status(ErrorCode::io,
                  "output folder '" + folder + "' is not writable: " + describe_io_errno(e));
  }
  (void)files.close(fd);
  if (const int e = files.unlink(probe)) {
    return Status(ErrorCode::io, "output folder '" + folder +
                                     "': cannot remove a probe file: " + describe_io_errno(e));
  }
  return {};
}

Status check_output_space(const std::string& folder, std::uint64_t needed_bytes, FileSystem* fs) {
  FileSystem& files = fs != nullptr ? *fs : posix_file_system();
  std::uint64_t free = 0;
  if (const int e = files.free_bytes(folder, free)) {
    return Status(ErrorCode::io, "output folder '" + folder +
                                     "': cannot read its free space: " + describe_io_errno(e));
  }
  if (free < needed_bytes) {
    return Status(ErrorCode::io, "output folder '" + folder + "' has " + std::to_string(free) +
                                     " bytes free, the output needs " +
                                     std::to_string(needed_bytes) + " bytes (disk_full)");
  }
  return {};
}

Expected<std::uint64_t> remove_stale_temp_files(const std::string& folder,
                                                std::int64_t min_age_seconds) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) {
    const int e = errno;
    return Status(ErrorCode::io, "cannot list output folder '" + folder +
                                     "' to remove stale temp files: " + describe_io_errno(e));
  }
  const int dir_fd = ::dirfd(dir);
  const std::size_t prefix_length = std::strlen(kAtomicTempPrefix);
  const std::time_t now = std::time(nullptr);
  std::uint64_t removed = 0;
  Status first_error;
  while (const dirent* entry = ::readdir(dir)) {
    if (std::strncmp(entry->d_name, kAtomicTempPrefix, prefix_length) != 0) continue;
    struct stat info {};
    if (::fstatat(dir_fd, entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(info.st_mode)) continue;
    if (static_cast<std::int64_t>(now - info.st_mtime) < min_age_seconds) continue;
    if (::unlinkat(dir_fd, entry->d_name, 0) == 0) {
      ++removed;
    } else if (errno != ENOENT && first_error.ok()) {
      const int e = errno;
      first_error = Status(ErrorCode::io, "cannot remove stale temp file '" + folder + "/" +
                                              entry->d_name + "': " + describe_io_errno(e));
    }
  }
  ::closedir(dir);
  if (!first_error.ok()) return first_error;
  return removed;
}

Expected<std::vector<std::uint8_t>> read_file_bytes(const std::string& path,
                                                    std::uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return Status(e == ENOENT ? ErrorCode::not_found : ErrorCode::io,
                  "cannot open '" + path + "': " + std::strerror(e));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    return Status(ErrorCode::io, "cannot read '" + path + "': not a regular file");
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (size > max_bytes) {
    return Status(ErrorCode::unsupported, "cannot read '" + path + "': " + std::to_string(size) +
                                              " bytes, more than the limit of " +
                                              std::to_string(max_bytes));
  }
  try {
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int e = errno;
        return Status(ErrorCode::io, "cannot read '" + path + "': " + std::strerror(e));
      }
      if (n == 0) {
        return Status(ErrorCode::io, "cannot read '" + path + "': file shrank while reading");
      }
      done += static_cast<std::size_t>(n);
    }
    return bytes;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "cannot read '" + path + "': out of memory");
  }
}

}  // namespace acefit
