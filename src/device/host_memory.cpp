#include "device/host_memory.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace acefit {

void* host_aligned_alloc(std::uint64_t bytes) {
  void* pointer = nullptr;
  if (posix_memalign(&pointer, kHostAlignmentBytes, bytes == 0 ? 1 : bytes) != 0) return nullptr;
  return pointer;
}

void host_aligned_free(void* pointer) {
  std::free(pointer);
}

std::uint64_t host_total_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

std::uint64_t host_available_bytes() {
  std::FILE* file = std::fopen("/proc/meminfo", "r");
  if (file == nullptr) return 0;
  char line[256];
  unsigned long long kib = 0;
  bool found = false;
  while (std::fgets(line, sizeof line, file) != nullptr) {
    if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
      found = true;
      break;
    }
  }
  std::fclose(file);
  return found ? static_cast<std::uint64_t>(kib) * 1024 : 0;
}

}  // namespace acefit
