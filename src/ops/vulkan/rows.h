// Launch shapes for the row kernels (softmax, rms_norm): one workgroup per
// row, rows spread over a 2-D grid (so more than 65535 of them work), and a
// power-of-two workgroup (the shared-memory tree reduction needs one) no
// wider than the row needs, at least one subgroup.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

#include "ops/vulkan/launch.h"

namespace acefit::ops::vulkan {

inline std::uint32_t row_workgroup(const VulkanDevice& device, std::int64_t cols) {
  const std::uint32_t widest = std::bit_floor(workgroup_1d(device));
  const std::uint32_t narrowest =
      std::min(widest, std::max<std::uint32_t>(32, device.limits().subgroup_size));
  const std::uint64_t wanted =
      std::bit_ceil(static_cast<std::uint64_t>(std::max<std::int64_t>(1, cols)));
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(wanted, narrowest, widest));
}

// Whether a row kernel reduces by subgroup arithmetic (its _subgroup shader).
inline bool row_subgroups(const VulkanDevice& device, bool shared_reductions) {
  return device.limits().subgroup_arithmetic && !shared_reductions;
}

// One workgroup per row.
inline std::array<std::uint32_t, 3> row_grid(const VulkanDevice& device, std::int64_t rows) {
  return grid_1d(device, static_cast<std::uint64_t>(rows), 1);
}

}  // namespace acefit::ops::vulkan
