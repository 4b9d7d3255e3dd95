// Elementwise arithmetic kernels: add, mul (b repeating over a's leading
// dims) and scale, one invocation per element.
#include "ops/vulkan/launch.h"
#include "ops/vulkan/vulkan_kernels.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

namespace {

Status elementwise_binary(VulkanDevice& device, std::string_view op, const ShaderCode& shader,
                          const Tensor& a, const Tensor& b, Tensor& y) {
  ACEFIT_TRY(check_u32(op, "element count", a.numel()));
  struct Push {
    std::uint64_t a, b, y;
    std::uint32_t n, nb;
  } push{device.address(a), device.address(b), device.address(y), u32(a.numel()), u32(b.numel())};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup};
  return device.dispatch(shader, push, grid_1d(device, a.numel(), workgroup), constants);
}

}  // namespace

Status add(VulkanDevice& device, const Tensor& a, const Tensor& b, Tensor& y) {
  return elementwise_binary(device, "add", shaders::add, a, b, y);
}

Status mul(VulkanDevice& device, const Tensor& a, const Tensor& b, Tensor& y) {
  return elementwise_binary(device, "mul", shaders::mul, a, b, y);
}

Status scale(VulkanDevice& device, const Tensor& x, float factor, Tensor& y) {
  ACEFIT_TRY(check_u32("scale", "element count", x.numel()));
  struct Push {
    std::uint64_t x, y;
    std::uint32_t n;
    float factor;
  } push{device.address(x), device.address(y), u32(x.numel()), factor};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup};
  return device.dispatch(shaders::scale, push, grid_1d(device, x.numel(), workgroup), constants);
}

}  // namespace acefit::ops::vulkan
