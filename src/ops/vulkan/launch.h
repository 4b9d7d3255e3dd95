// What the vulkan kernel launchers share: grids, element-count checks and
// tensor addresses. Each launcher fills its shader's push-constant struct
// (device addresses first, 8 bytes each, then 32-bit shapes, matching the
// shader's `layout(push_constant, scalar)` block) and dispatches.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::ops::vulkan {

// Workgroups for `count` invocations of `workgroup` each, x first then y.
inline std::array<std::uint32_t, 3> grid_1d(const VulkanDevice& device, std::uint64_t count,
                                            std::uint32_t workgroup) {
  const std::uint64_t groups = std::max<std::uint64_t>(1, (count + workgroup - 1) / workgroup);
  const std::uint64_t max_x = device.limits().max_workgroup_count[0];
  const std::uint64_t x = std::min(groups, max_x);
  return {static_cast<std::uint32_t>(x), static_cast<std::uint32_t>((groups + x - 1) / x), 1};
}

// The workgroup size for 1-D kernels: 256, or less where the device allows less.
inline std::uint32_t workgroup_1d(const VulkanDevice& device) {
  return std::min<std::uint32_t>(256, device.limits().max_workgroup_invocations);
}

// Shapes travel as 32-bit values: fails naming the op when one does not fit.
inline Status check_u32(std::string_view op, std::string_view what, std::int64_t value) {
  if (value < 0 || value > std::numeric_limits<std::uint32_t>::max()) {
    return unsupported(std::string(op) + " on vulkan: " + std::string(what) + " " +
                       std::to_string(value) + " does not fit the kernels' 32-bit indices");
  }
  return {};
}

inline std::uint32_t u32(std::int64_t value) {
  return static_cast<std::uint32_t>(value);
}

}  // namespace acefit::ops::vulkan
