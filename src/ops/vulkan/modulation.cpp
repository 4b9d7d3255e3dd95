// Per-item modulation kernels on x [B, S, C] with [B, C] vectors (a
// [B, 1, C] view has the same layout): one invocation per element.
#include "ops/vulkan/launch.h"
#include "ops/vulkan/vulkan_kernels.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

namespace {

// Both kernels take three tensors x, a, b besides y, and the same shapes.
Status modulation_launch(VulkanDevice& device, std::string_view op, const ShaderCode& shader,
                         const Tensor& x, const Tensor& a, const Tensor& b, Tensor& y) {
  ACEFIT_TRY(check_u32(op, "element count", x.numel()));
  struct Push {
    std::uint64_t x, a, b, y;
    std::uint32_t n, seq_cols, cols;
  } push{device.address(x), device.address(a),        device.address(b), device.address(y),
         u32(x.numel()),    u32(x.dim(1) * x.dim(2)), u32(x.dim(2))};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup};
  return device.dispatch(shader, push, grid_1d(device, x.numel(), workgroup), constants);
}

}  // namespace

Status modulate(VulkanDevice& device, const Tensor& x, const Tensor& shift, const Tensor& scale,
                Tensor& y) {
  return modulation_launch(device, "modulate", shaders::modulate, x, shift, scale, y);
}

Status gated_add(VulkanDevice& device, const Tensor& x, const Tensor& update, const Tensor& gate,
                 Tensor& y) {
  return modulation_launch(device, "gated_add", shaders::gated_add, x, update, gate, y);
}

}  // namespace acefit::ops::vulkan
