#include "ops/conv.h"

#include "ops/cpu/cpu_kernels.h"
#include "ops/validate.h"
#include "ops/vulkan/conv_kernels.h"

namespace acefit::ops {

namespace {

Status check_conv_inputs(const OpContext& ctx, std::string_view op, const Tensor& x,
                         const Tensor& weight, const Tensor& bias, std::int64_t out_channels) {
  ACEFIT_TRY(check_input(ctx, op, "x", x));
  ACEFIT_TRY(check_input(ctx, op, "weight", weight));
  ACEFIT_TRY(check_dtype(op, "x", x, {DType::f32}));
  ACEFIT_TRY(check_dtype(op, "weight", weight, {DType::f32}));
  ACEFIT_TRY(check_rank(op, "x", x, 3, 3));
  ACEFIT_TRY(check_rank(op, "weight", weight, 3, 3));
  if (bias.defined()) {
    ACEFIT_TRY(check_input(ctx, op, "bias", bias));
    ACEFIT_TRY(check_dtype(op, "bias", bias, {DType::f32}));
    if (bias.shape() != Shape{out_channels}) {
      return fail(op,
                  "bias " + bias.describe() + " should be [" + std::to_string(out_channels) + "]");
    }
  }
  return check_kernel_device(ctx, op);
}

}  // namespace

Expected<Tensor> conv1d(const OpContext& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, const Conv1dOptions& options) {
  constexpr std::string_view op = "conv1d";
  ACEFIT_TRY(check_conv_inputs(ctx, op, x, weight, bias,
                               weight.defined() && weight.rank() == 3 ? weight.dim(0) : 0));
  if (options.stride < 1 || options.dilation < 1 || options.padding < 0) {
    return fail(op, "stride and dilation must be >= 1 and padding >= 0");
  }
  cpu::Conv1dShape s{};
  s.batch = x.dim(0);
  s.in_channels = x.dim(1);
  s.length = x.dim(2);
  s.out_channels = weight.dim(0);
  s.kernel = weight.dim(2);
  s.stride = options.stride;
  s.padding = options.padding;
  s.dilation = options.dilation;
  if (weight.dim(1) != s.in_channels) {
    return fail(op, "weight " + weight.describe() + " expects " + std::to_string(weight.dim(1)) +
                        " input channels, x " + x.describe() + " has " +
                        std::to_string(s.in_channels));
  }
  if (s.kernel < 1) return fail(op, "kernel size must be >= 1");
  const std::int64_t span = s.dilation * (s.kernel - 1) + 1;
  if (s.length + 2 * s.padding < span) {
    return fail(op, "input length " + std::to_string(s.length) + " (padded " +
                        std::to_string(s.length + 2 * s.padding) +
                        ") is shorter than the kernel span " + std::to_string(span));
  }
  s.out_length = (s.length + 2 * s.padding - span) / s.stride + 1;
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, Shape{s.batch, s.out_channels, s.out_length},
                                           ctx.output_tag));
  Tensor work;
  // The vulkan kernel gathers im2col tiles in shared memory: no workspace.
  const bool vulkan = ctx.device.kind() == DeviceKind::vulkan;
  const bool direct = s.kernel == 1 && s.stride == 1 && s.padding == 0;
  if (!direct && !vulkan && y.numel() > 0) {
    ACEFIT_ASSIGN(
        work,
        ctx.device.empty(DType::f32, Shape{s.in_channels * s.kernel * cpu::conv1d_block_columns(s)},
                         MemoryTag::workspace));
  }
  if (planning(ctx) || y.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::conv1d(*vk, x, weight, bias, y, s.stride, s.padding, s.dilation));
    return y;
  }
  cpu::conv1d(ctx.pool, s, x.data<float>(), weight.data<float>(),
              bias.defined() ? bias.data<float>() : nullptr, y.data<float>(),
              work.defined() ? work.data<float>() : nullptr);
  return y;
}

Expected<Tensor> conv_transpose1d(const OpContext& ctx, const Tensor& x, const Tensor& weight,
                                  const Tensor& bias, std::int64_t stride, std::int64_t padding) {
  constexpr std::string_view op = "conv_transpose1d";
  ACEFIT_TRY(check_conv_inputs(ctx, op, x, weight, bias,
                               weight.defined() && weight.rank() == 3 ? weight.dim(1) : 0));
  if (stride < 1 || padding < 0) return fail(op, "stride must be >= 1 and padding >= 0");
  cpu::Conv1dShape s{};
  s.batch = x.dim(0);
  s.in_channels = x.dim(1);
  s.length = x.dim(2);
  s.out_channels = weight.dim(1);
  s.kernel = weight.dim(2);
  s.stride = stride;
  s.padding = padding;
  s.dilation = 1;
  if (weight.dim(0) != s.in_channels) {
    return fail(op, "weight " + weight.describe() + " expects " + std::to_string(weight.dim(0)) +
                        " input channels, x " + x.describe() + " has " +
                        std::to_string(s.in_channels));
  }
  if (s.kernel < 1) return fail(op, "kernel size must be >= 1");
  if (s.length < 1) return fail(op, "x " + x.describe() + " is empty in length");
  s.out_length = (s.length - 1) * stride - 2 * padding + s.kernel;
  if (s.out_length < 1) return fail(op, "padding " + std::to_string(padding) + " leaves no output");
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, Shape{s.batch, s.out_channels, s.out_length},
                                           ctx.output_tag));
  if (y.numel() == 0) return y;
  // The vulkan kernel gathers the inputs of each output: no workspace.
  if (ctx.device.kind() == DeviceKind::vulkan) {
    if (VulkanDevice* vk = as_vulkan(ctx.device)) {
      ACEFIT_TRY(vulkan::conv_transpose1d(*vk, x, weight, bias, y, stride, padding));
    }
    return y;
  }
  ACEFIT_ASSIGN(Tensor work, ctx.device.empty(DType::f32,
                                              Shape{s.out_channels * s.kernel *
                                                    cpu::conv_transpose1d_block_columns(s)},
                                              MemoryTag::workspace));
  if (planning(ctx)) return y;
  cpu::conv_transpose1d(ctx.pool, s, x.data<float>(), weight.data<float>(),
                        bias.defined() ? bias.data<float>() : nullptr, y.data<float>(),
                        work.data<float>());
  return y;
}

Expected<Tensor> snake(const OpContext& ctx, const Tensor& x, const Tensor& alpha,
                       const Tensor& beta, bool log_scale) {
  constexpr std::string_view op = "snake";
  ACEFIT_TRY(check_input(ctx, op, "x", x));
  ACEFIT_TRY(check_dtype(op, "x", x, {DType::f32}));
  ACEFIT_TRY(check_rank(op, "x", x, 3, 3));
  const std::int64_t channels = x.dim(1);
  for (const auto& [name, t] :
       {std::pair<const char*, const Tensor&>{"alpha", alpha}, {"beta", beta}}) {
    ACEFIT_TRY(check_input(ctx, op, name, t));
    ACEFIT_TRY(check_dtype(op, name, t, {DType::f32}));
    if (t.numel() != channels) {
      return fail(op, std::string(name) + " " + t.describe() + " should hold " +
                          std::to_string(channels) + " values");
    }
  }
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape(), ctx.output_tag));
  if (planning(ctx) || y.numel() == 0) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::snake(*vk, x, alpha, beta, y, log_scale));
    return y;
  }
  cpu::snake(ctx.pool, x.data<float>(), alpha.data<float>(), beta.data<float>(), y.data<float>(),
             x.dim(0), channels, x.dim(2), log_scale);
  return y;
}

Expected<Tensor> weight_norm_fold(const OpContext& ctx, const Tensor& g, const Tensor& v) {
  constexpr std::string_view op = "weight_norm_fold";
  ACEFIT_TRY(check_input(ctx, op, "g", g));
  ACEFIT_TRY(check_input(ctx, op, "v", v));
  ACEFIT_TRY(check_dtype(op, "g", g, {DType::f32}));
  ACEFIT_TRY(check_dtype(op, "v", v, {DType::f32}));
  ACEFIT_TRY(check_rank(op, "v", v, 1, kMaxRank));
  const std::int64_t rows = v.dim(0);
  if (g.numel() != rows || (g.rank() > 0 && g.dim(0) != rows)) {
    return fail(op, "g " + g.describe() + " should hold one value per row of v " + v.describe());
  }
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor w, ctx.device.empty(DType::f32, v.shape(), MemoryTag::weights));
  if (planning(ctx) || rows == 0 || w.numel() == 0) return w;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::weight_norm(*vk, g, v, w, rows, v.numel() / rows));
    return w;
  }
  cpu::weight_norm(ctx.pool, g.data<float>(), v.data<float>(), w.data<float>(), rows,
                   v.numel() / rows);
  return w;
}

}  // namespace acefit::ops
