#include "io/file/temp_cleanup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace acefit {
namespace {

constexpr int kSlots = 64;
constexpr std::size_t kPathBytes = 4096;

// A slot is free (0), being filled or emptied (1), or holds a file (2) or a
// folder (3). The handler only reads slots in state 2 or 3.
struct TempSlot {
  std::atomic<int> state{0};
  char path[kPathBytes];
};

TempSlot g_slots[kSlots];

constexpr int kMaxDepth = 8;

// linux_dirent64 as getdents64 returns it.
struct LinuxDirent64 {
  std::uint64_t ino;
  std::int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

bool dot_or_dot_dot(const char* name) {
  return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
}

// Removes `name` (a folder) under parent_fd with everything in it.
int remove_tree_at(int parent_fd, const char* name, int depth) {
  const int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : errno;
  alignas(8) char buffer[2048];
  // Removing entries while reading may skip some; read again until a pass
  // finds nothing left.
  for (int pass = 0; pass < 64; ++pass) {
    bool found = false;
    ::lseek(fd, 0, SEEK_SET);
    for (;;) {
      const long n = ::syscall(SYS_getdents64, fd, buffer, sizeof(buffer));
      if (n <= 0) break;
      for (long at = 0; at < n;) {
        const auto* entry = reinterpret_cast<const LinuxDirent64*>(buffer + at);
        at += entry->reclen;
        if (dot_or_dot_dot(entry->name)) continue;
        found = true;
        bool folder = entry->type == DT_DIR;
        if (entry->type == DT_UNKNOWN) {
          struct stat info {};
          folder =
              ::fstatat(fd, entry->name, &info, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(info.st_mode);
        }
        if (folder && depth < kMaxDepth) {
          (void)remove_tree_at(fd, entry->name, depth + 1);
        } else {
          (void)::unlinkat(fd, entry->name, 0);
        }
      }
    }
    if (!found) break;
  }
  ::close(fd);
  if (::unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return errno;
  return 0;
}

void on_fatal_signal(int signal_number) {
  const int saved_errno = errno;
  remove_registered_temps();
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  ::sigaction(signal_number, &fallback, nullptr);
  errno = saved_errno;
  ::raise(signal_number);  // delivered when the handler returns
}

}  // namespace

int register_temp(const std::string& path, bool is_folder) {
  if (path.empty() || path.size() >= kPathBytes) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (!g_slots[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].state.store(is_folder ? 3 : 2, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister_temp(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  g_slots[slot].state.store(1, std::memory_order_release);
  g_slots[slot].path[0] = 0;
  g_slots[slot].state.store(0, std::memory_order_release);
}

void remove_registered_temps() {
  for (TempSlot& slot : g_slots) {
    const int state = slot.state.load(std::memory_order_acquire);
    if (state == 2) {
      (void)::unlink(slot.path);
    } else if (state == 3) {
      (void)remove_tree(slot.path);
    }
  }
}

void install_temp_cleanup_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  sigemptyset(&action.sa_mask);
  for (const int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    ::sigaddset(&action.sa_mask, signal_number);
  }
  for (const int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction previous {};
    // A signal the parent set to be ignored stays ignored (nohup).
    if (::sigaction(signal_number, nullptr, &previous) == 0 && previous.sa_handler == SIG_IGN)
      continue;
    ::sigaction(signal_number, &action, nullptr);
  }
}

int remove_tree(const char* path) {
  return remove_tree_at(AT_FDCWD, path, 0);
}

pid_t temp_owner_pid(const char* name, const char* prefix) {
  const std::size_t length = std::strlen(prefix);
  if (std::strncmp(name, prefix, length) != 0) return 0;
  const char* p = name + length;
  long long pid = 0;
  int digits = 0;
  while (*p >= '0' && *p <= '9' && digits < 10) {
    pid = pid * 10 + (*p - '0');
    ++p;
    ++digits;
  }
  if (digits == 0 || (*p != '-' && *p != 0) || pid <= 0 || pid > 0x7fffffff) return 0;
  return static_cast<pid_t>(pid);
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

namespace {

// Calls `remove(dir_fd, name, info)` for each entry of `folder` named
// "<prefix><pid>..." whose pid is not a live process; counts the removals.
template <typename Remove>
std::uint64_t for_each_dead_owner_entry(const std::string& folder, const char* prefix,
                                        Remove remove) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return 0;
  const int dir_fd = ::dirfd(dir);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const pid_t owner = temp_owner_pid(entry->d_name, prefix);
    if (owner != 0 && !process_alive(owner)) names.emplace_back(entry->d_name);
  }
  std::uint64_t removed = 0;
  for (const std::string& name : names) {
    struct stat info {};
    if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (remove(dir_fd, name, info)) ++removed;
  }
  ::closedir(dir);
  return removed;
}

}  // namespace

std::uint64_t remove_dead_owner_temp_files(const std::string& folder, const char* prefix,
                                           std::int64_t min_age_s) {
  const std::time_t now = std::time(nullptr);
  return for_each_dead_owner_entry(
      folder, prefix, [&](int dir_fd, const std::string& name, const struct stat& info) {
        if (!S_ISREG(info.st_mode)) return false;
        if (static_cast<std::int64_t>(now - info.st_mtime) < min_age_s) return false;
        return ::unlinkat(dir_fd, name.c_str(), 0) == 0;
      });
}

std::uint64_t remove_dead_owner_temp_folders(const std::string& folder, const char* prefix) {
  return for_each_dead_owner_entry(folder, prefix,
                                   [&](int, const std::string& name, const struct stat& info) {
                                     if (!S_ISDIR(info.st_mode)) return false;
                                     return remove_tree((folder + "/" + name).c_str()) == 0;
                                   });
}

}  // namespace acefit
