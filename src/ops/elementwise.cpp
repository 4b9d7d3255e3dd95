#include "ops/elementwise.h"

#include "ops/cpu/cpu_kernels.h"
#include "ops/validate.h"
#include "ops/vulkan/vulkan_kernels.h"

namespace acefit::ops {

namespace {

// b's shape must be a suffix of a's shape.
Status check_broadcast(std::string_view op, const Tensor& a, const Tensor& b) {
  if (b.rank() > a.rank())
    return fail(op, "b " + b.describe() + " has a higher rank than a " + a.describe());
  for (int i = 1; i <= b.rank(); ++i) {
    if (a.dim(-i) != b.dim(-i)) {
      return fail(op, "b " + b.describe() + " does not broadcast against a " + a.describe());
    }
  }
  return {};
}

using VulkanBinary = Status (*)(VulkanDevice&, const Tensor&, const Tensor&, Tensor&);

template <typename Kernel>
Expected<Tensor> binary(const OpContext& ctx, std::string_view op, const Tensor& a, const Tensor& b,
                        Kernel kernel, VulkanBinary vulkan_kernel) {
  ACEFIT_TRY(check_input(ctx, op, "a", a));
  ACEFIT_TRY(check_input(ctx, op, "b", b));
  ACEFIT_TRY(check_dtype(op, "a", a, {DType::f32}));
  ACEFIT_TRY(check_dtype(op, "b", b, {DType::f32}));
  ACEFIT_TRY(check_broadcast(op, a, b));
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, a.shape(), ctx.output_tag));
  if (planning(ctx) || a.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    if (vulkan_kernel == nullptr) return unsupported(std::string(op) + ": no vulkan kernel yet");
    ACEFIT_TRY(vulkan_kernel(*vk, a, b, y));
  } else {
    kernel(ctx.pool, a.data<float>(), b.data<float>(), y.data<float>(), a.numel(), b.numel());
  }
  return y;
}

}  // namespace

Expected<Tensor> add(const OpContext& ctx, const Tensor& a, const Tensor& b) {
  return binary(ctx, "add", a, b, cpu::add, vulkan::add);
}

Expected<Tensor> mul(const OpContext& ctx, const Tensor& a, const Tensor& b) {
  return binary(ctx, "mul", a, b, cpu::mul, vulkan::mul);
}

Expected<Tensor> scale(const OpContext& ctx, const Tensor& x, float factor) {
  ACEFIT_TRY(check_input(ctx, "scale", "x", x));
  ACEFIT_TRY(check_dtype("scale", "x", x, {DType::f32}));
  ACEFIT_TRY(check_kernel_device(ctx, "scale"));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || x.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::scale(*vk, x, factor, y));
  } else {
    cpu::scale(ctx.pool, x.data<float>(), factor, y.data<float>(), x.numel());
  }
  return y;
}

}  // namespace acefit::ops
