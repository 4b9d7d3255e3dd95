#include "ops/modulation.h"

#include "ops/cpu/cpu_kernels.h"
#include "ops/validate.h"
#include "ops/vulkan/vulkan_kernels.h"

namespace acefit::ops {

namespace {

// A per-item vector: [B, C] or [B, 1, C] matching x [B, S, C].
Status check_item_vector(std::string_view op, std::string_view arg, const Tensor& v,
                         const Tensor& x) {
  const bool shape_ok =
      (v.rank() == 2 && v.dim(0) == x.dim(0) && v.dim(1) == x.dim(2)) ||
      (v.rank() == 3 && v.dim(0) == x.dim(0) && v.dim(1) == 1 && v.dim(2) == x.dim(2));
  if (!shape_ok) {
    return fail(op, std::string(arg) + " " + v.describe() + " is not [B, C] or [B, 1, C] for x " +
                        x.describe());
  }
  return {};
}

Status check_common(const OpContext& ctx, std::string_view op, const Tensor& x) {
  ACEFIT_TRY(check_input(ctx, op, "x", x));
  ACEFIT_TRY(check_dtype(op, "x", x, {DType::f32}));
  ACEFIT_TRY(check_rank(op, "x", x, 3, 3));
  return {};
}

}  // namespace

Expected<Tensor> modulate(const OpContext& ctx, const Tensor& x, const Tensor& shift,
                          const Tensor& scale) {
  constexpr std::string_view op = "modulate";
  ACEFIT_TRY(check_common(ctx, op, x));
  for (const auto& [name, t] :
       {std::pair<const char*, const Tensor&>{"shift", shift}, {"scale", scale}}) {
    ACEFIT_TRY(check_input(ctx, op, name, t));
    ACEFIT_TRY(check_dtype(op, name, t, {DType::f32}));
    ACEFIT_TRY(check_item_vector(op, name, t, x));
  }
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || x.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::modulate(*vk, x, shift, scale, y));
  } else {
    cpu::modulate(ctx.pool, x.data<float>(), shift.data<float>(), scale.data<float>(),
                  y.data<float>(), x.dim(0), x.dim(1), x.dim(2));
  }
  return y;
}

Expected<Tensor> gated_add(const OpContext& ctx, const Tensor& x, const Tensor& update,
                           const Tensor& gate) {
  constexpr std::string_view op = "gated_add";
  ACEFIT_TRY(check_common(ctx, op, x));
  ACEFIT_TRY(check_input(ctx, op, "update", update));
  ACEFIT_TRY(check_dtype(op, "update", update, {DType::f32}));
  if (update.shape() != x.shape())
    return fail(op, "update " + update.describe() + " differs from x " + x.describe());
  ACEFIT_TRY(check_input(ctx, op, "gate", gate));
  ACEFIT_TRY(check_dtype(op, "gate", gate, {DType::f32}));
  ACEFIT_TRY(check_item_vector(op, "gate", gate, x));
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || x.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::gated_add(*vk, x, update, gate, y));
  } else {
    cpu::gated_add(ctx.pool, x.data<float>(), update.data<float>(), gate.data<float>(),
                   y.data<float>(), x.dim(0), x.dim(1), x.dim(2));
  }
  return y;
}

}  // namespace acefit::ops
