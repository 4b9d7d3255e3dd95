#include "ops/vulkan/launch.h"
#include "ops/vulkan/vulkan_kernels.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

Status add(VulkanDevice& device, const Tensor& a, const Tensor& b, Tensor& y) {
  ACEFIT_TRY(check_u32("add", "element count", a.numel()));
  struct Push {
    std::uint64_t a, b, y;
    std::uint32_t n, nb;
  } push{device.address(a), device.address(b), device.address(y), u32(a.numel()), u32(b.numel())};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup};
  return device.dispatch(shaders::add, push, grid_1d(device, a.numel(), workgroup), constants);
}

}  // namespace acefit::ops::vulkan
