// Activation and softmax kernels: activation.comp (silu, exact and tanh
// GELU; one invocation per element), swiglu.comp, softmax.comp (one
// workgroup per row).
#include "ops/vulkan/launch.h"
#include "ops/vulkan/rows.h"
#include "ops/vulkan/vulkan_kernels.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

Status activation(VulkanDevice& device, Activation kind, const Tensor& x, Tensor& y) {
  ACEFIT_TRY(check_u32("activation", "element count", x.numel()));
  struct Push {
    std::uint64_t x, y;
    std::uint32_t n;
  } push{device.address(x), device.address(y), u32(x.numel())};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup, static_cast<std::uint32_t>(kind)};
  return device.dispatch(shaders::activation, push, grid_1d(device, x.numel(), workgroup),
                         constants);
}

Status swiglu(VulkanDevice& device, const Tensor& gate, const Tensor& up, Tensor& y) {
  ACEFIT_TRY(check_u32("swiglu", "element count", gate.numel()));
  struct Push {
    std::uint64_t gate, up, y;
    std::uint32_t n;
  } push{device.address(gate), device.address(up), device.address(y), u32(gate.numel())};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup};
  return device.dispatch(shaders::swiglu, push, grid_1d(device, gate.numel(), workgroup),
                         constants);
}

Status softmax(VulkanDevice& device, const Tensor& x, Tensor& y, bool shared_reductions) {
  ACEFIT_TRY(check_u32("softmax", "element count", x.numel()));
  const std::int64_t cols = x.dim(-1);
  const std::int64_t rows = x.numel() / cols;
  struct Push {
    std::uint64_t x, y;
    std::uint32_t rows, cols;
  } push{device.address(x), device.address(y), u32(rows), u32(cols)};
  const std::uint32_t constants[] = {row_workgroup(device, cols)};
  return device.dispatch(
      row_subgroups(device, shared_reductions) ? shaders::softmax_subgroup : shaders::softmax, push,
      row_grid(device, rows), constants);
}

}  // namespace acefit::ops::vulkan
