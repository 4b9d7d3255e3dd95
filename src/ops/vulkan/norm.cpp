// RMSNorm (rms_norm.comp / rms_norm_subgroup.comp: one workgroup per row,
// f32 reduction by a shared-memory tree or subgroup arithmetic) and
// rotate-half RoPE (rope.comp: one invocation per token and frequency).
#include <cmath>

#include "ops/vulkan/launch.h"
#include "ops/vulkan/rows.h"
#include "ops/vulkan/vulkan_kernels.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

Status rms_norm(VulkanDevice& device, const Tensor& x, const Tensor& weight, float eps, Tensor& y,
                bool shared_reductions) {
  ACEFIT_TRY(check_u32("rms_norm", "element count", x.numel()));
  const std::int64_t cols = x.dim(-1);
  const std::int64_t rows = x.numel() / cols;
  struct Push {
    std::uint64_t x, w, y;
    std::uint32_t rows, cols, has_weight;
    float eps;
  } push{device.address(x),
         weight.defined() ? device.address(weight) : 0,
         device.address(y),
         u32(rows),
         u32(cols),
         weight.defined() ? 1u : 0u,
         eps};
  const std::uint32_t constants[] = {row_workgroup(device, cols)};
  return device.dispatch(
      row_subgroups(device, shared_reductions) ? shaders::rms_norm_subgroup : shaders::rms_norm,
      push, row_grid(device, rows), constants);
}

Status rope(VulkanDevice& device, const Tensor& x, float theta, std::int64_t offset, Tensor& y) {
  ACEFIT_TRY(check_u32("rope", "element count", x.numel()));
  ACEFIT_TRY(check_u32("rope", "last position", offset + x.dim(1)));
  const std::int64_t tokens = x.dim(0) * x.dim(1);
  const std::int64_t half = x.dim(3) / 2;
  // log2(theta) / D in double, split into two floats for the shader.
  const double per_dim = std::log2(static_cast<double>(theta)) / static_cast<double>(x.dim(3));
  const auto per_dim_hi = static_cast<float>(per_dim);
  const auto per_dim_lo = static_cast<float>(per_dim - static_cast<double>(per_dim_hi));
  struct Push {
    std::uint64_t x, y;
    std::uint32_t tokens, seq, heads, half_dim, offset;
    float per_dim_hi, per_dim_lo;
  } push{device.address(x), device.address(y), u32(tokens), u32(x.dim(1)), u32(x.dim(2)),
         u32(half),         u32(offset),       per_dim_hi,  per_dim_lo};
  const std::uint32_t workgroup = workgroup_1d(device);
  const std::uint32_t constants[] = {workgroup};
  return device.dispatch(shaders::rope, push, grid_1d(device, tokens * half, workgroup), constants);
}

}  // namespace acefit::ops::vulkan
