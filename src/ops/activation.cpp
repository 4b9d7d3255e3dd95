#include "ops/activation.h"

#include "ops/cpu/cpu_kernels.h"
#include "ops/validate.h"
#include "ops/vulkan/vulkan_kernels.h"

namespace acefit::ops {

namespace {

Status check_f32_input(const OpContext& ctx, std::string_view op, std::string_view arg,
                       const Tensor& t) {
  ACEFIT_TRY(check_input(ctx, op, arg, t));
  return check_dtype(op, arg, t, {DType::f32});
}

}  // namespace

Expected<Tensor> silu(const OpContext& ctx, const Tensor& x) {
  ACEFIT_TRY(check_f32_input(ctx, "silu", "x", x));
  ACEFIT_TRY(check_kernel_device(ctx, "silu"));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || x.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::activation(*vk, vulkan::Activation::silu, x, y));
  } else {
    cpu::silu(ctx.pool, x.data<float>(), y.data<float>(), x.numel());
  }
  return y;
}

Expected<Tensor> gelu(const OpContext& ctx, const Tensor& x, bool tanh_approximation) {
  ACEFIT_TRY(check_f32_input(ctx, "gelu", "x", x));
  ACEFIT_TRY(check_kernel_device(ctx, "gelu"));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || x.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::activation(
        *vk, tanh_approximation ? vulkan::Activation::gelu_tanh : vulkan::Activation::gelu, x, y));
  } else {
    cpu::gelu(ctx.pool, x.data<float>(), y.data<float>(), x.numel(), tanh_approximation);
  }
  return y;
}

Expected<Tensor> swiglu(const OpContext& ctx, const Tensor& gate, const Tensor& up) {
  ACEFIT_TRY(check_f32_input(ctx, "swiglu", "gate", gate));
  ACEFIT_TRY(check_f32_input(ctx, "swiglu", "up", up));
  if (gate.shape() != up.shape()) {
    return fail("swiglu",
                "gate " + gate.describe() + " and up " + up.describe() + " differ in shape");
  }
  ACEFIT_TRY(check_kernel_device(ctx, "swiglu"));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, gate.shape(), ctx.output_tag));
  if (planning(ctx) || y.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::swiglu(*vk, gate, up, y));
  } else {
    cpu::swiglu(ctx.pool, gate.data<float>(), up.data<float>(), y.data<float>(), y.numel());
  }
  return y;
}

Expected<Tensor> softmax(const OpContext& ctx, const Tensor& x) {
  ACEFIT_TRY(check_f32_input(ctx, "softmax", "x", x));
  ACEFIT_TRY(check_rank("softmax", "x", x, 1, kMaxRank));
  if (x.dim(-1) == 0) return fail("softmax", "x " + x.describe() + " has an empty last dim");
  ACEFIT_TRY(check_kernel_device(ctx, "softmax"));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || x.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::softmax(*vk, x, y));
  } else {
    cpu::softmax(ctx.pool, x.data<float>(), y.data<float>(), x.numel() / x.dim(-1), x.dim(-1));
  }
  return y;
}

}  // namespace acefit::ops
