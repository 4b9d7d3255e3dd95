#include "ops/norm.h"

#include <cmath>

#include "ops/cpu/cpu_kernels.h"
#include "ops/validate.h"
#include "ops/vulkan/vulkan_kernels.h"

namespace acefit::ops {

Expected<Tensor> rms_norm(const OpContext& ctx, const Tensor& x, const Tensor& weight, float eps) {
  constexpr std::string_view op = "rms_norm";
  ACEFIT_TRY(check_input(ctx, op, "x", x));
  ACEFIT_TRY(check_dtype(op, "x", x, {DType::f32}));
  ACEFIT_TRY(check_rank(op, "x", x, 1, kMaxRank));
  const std::int64_t cols = x.dim(-1);
  if (weight.defined()) {
    ACEFIT_TRY(check_input(ctx, op, "weight", weight));
    ACEFIT_TRY(check_dtype(op, "weight", weight, {DType::f32}));
    if (weight.shape() != Shape{cols})
      return fail(op, "weight " + weight.describe() + " should be [" + std::to_string(cols) + "]");
  }
  if (!(eps >= 0.0f) || !std::isfinite(eps)) return fail(op, "eps must be finite and >= 0");
  if (cols == 0) return fail(op, "x " + x.describe() + " has an empty last dim");
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || x.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::rms_norm(*vk, x, weight, eps, y));
    return y;
  }
  cpu::rms_norm(ctx.pool, x.data<float>(), weight.defined() ? weight.data<float>() : nullptr,
                y.data<float>(), x.numel() / cols, cols, eps);
  return y;
}

Expected<Tensor> rope(const OpContext& ctx, const Tensor& x, float theta,
                      std::int64_t position_offset) {
  constexpr std::string_view op = "rope";
  ACEFIT_TRY(check_input(ctx, op, "x", x));
  ACEFIT_TRY(check_dtype(op, "x", x, {DType::f32}));
  ACEFIT_TRY(check_rank(op, "x", x, 4, 4));
  if (x.dim(3) % 2 != 0) return fail(op, "head dim of " + x.describe() + " must be even");
  if (!(theta > 0.0f) || !std::isfinite(theta)) return fail(op, "theta must be finite and > 0");
  if (position_offset < 0) return fail(op, "position_offset must be >= 0");
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || x.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::rope(*vk, x, theta, position_offset, y));
    return y;
  }
  cpu::rope(ctx.pool, x.data<float>(), y.data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3),
            theta, position_offset);
  return y;
}

}  // namespace acefit::ops
