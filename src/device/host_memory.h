// Aligned host allocation shared by the host-backed devices.
#pragma once

#include <cstdint>

namespace acefit {

inline constexpr std::uint64_t kHostAlignmentBytes = 64;

// Null on failure (never throws).
void* host_aligned_alloc(std::uint64_t bytes);
void host_aligned_free(void* pointer);

// The host's physical and available memory (sysconf, /proc/meminfo).
std::uint64_t host_total_bytes();
std::uint64_t host_available_bytes();

}  // namespace acefit
