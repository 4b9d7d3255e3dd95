// What a block of device memory is for. Every allocation carries one tag so
// the Budget can report current and peak bytes per purpose.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace acefit {

enum class MemoryTag : int {
  weights = 0,
  activations,
  workspace,
  kv_cache,
  io,
};

inline constexpr std::size_t kMemoryTagCount = 5;

inline constexpr std::array<MemoryTag, kMemoryTagCount> kAllMemoryTags = {
    MemoryTag::weights, MemoryTag::activations, MemoryTag::workspace, MemoryTag::kv_cache,
    MemoryTag::io};

constexpr std::string_view memory_tag_name(MemoryTag tag) {
  switch (tag) {
    case MemoryTag::weights:
      return "weights";
    case MemoryTag::activations:
      return "activations";
    case MemoryTag::workspace:
      return "workspace";
    case MemoryTag::kv_cache:
      return "kv_cache";
    case MemoryTag::io:
      return "io";
  }
  return "unknown";
}

std::optional<MemoryTag> parse_memory_tag(std::string_view name);

}  // namespace acefit
