#include "ops/linear.h"

#include <algorithm>

#include "ops/cpu/blas.h"
#include "ops/cpu/cpu_kernels.h"
#include "ops/layout.h"
#include "ops/validate.h"
#include "ops/vulkan/linear_kernels.h"

namespace acefit::ops {

namespace {

Expected<Tensor> workspace_floats(const OpContext& ctx, std::int64_t floats) {
  return ctx.device.empty(DType::f32, Shape{floats}, MemoryTag::workspace);
}

}  // namespace

Expected<Tensor> linear(const OpContext& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, const Tensor& weight_scale) {
  constexpr std::string_view op = "linear";
  ACEFIT_TRY(check_input(ctx, op, "x", x));
  ACEFIT_TRY(check_input(ctx, op, "weight", weight));
  ACEFIT_TRY(check_dtype(op, "x", x, {DType::f32}));
  ACEFIT_TRY(check_dtype(op, "weight", weight, {DType::f32, DType::bf16, DType::i8}));
  ACEFIT_TRY(check_rank(op, "x", x, 1, kMaxRank));
  ACEFIT_TRY(check_rank(op, "weight", weight, 2, 2));
  const std::int64_t n = weight.dim(0);
  const std::int64_t k = weight.dim(1);
  if (x.dim(-1) != k) {
    return fail(op, "x " + x.describe() + " has " + std::to_string(x.dim(-1)) +
                        " features, weight " + weight.describe() + " expects " + std::to_string(k));
  }
  if (bias.defined()) {
    ACEFIT_TRY(check_input(ctx, op, "bias", bias));
    ACEFIT_TRY(check_dtype(op, "bias", bias, {DType::f32}));
    if (bias.shape() != Shape{n})
      return fail(op, "bias " + bias.describe() + " should be [" + std::to_string(n) + "]");
  }
  if (weight.dtype() == DType::i8) {
    if (!weight_scale.defined()) return fail(op, "an i8 weight needs weight_scale");
    ACEFIT_TRY(check_input(ctx, op, "weight_scale", weight_scale));
    ACEFIT_TRY(check_dtype(op, "weight_scale", weight_scale, {DType::f32}));
    if (weight_scale.shape() != Shape{n}) {
      return fail(
          op, "weight_scale " + weight_scale.describe() + " should be [" + std::to_string(n) + "]");
    }
  } else if (weight_scale.defined()) {
    return fail(op, "weight_scale is only for i8 weights");
  }
  ACEFIT_TRY(check_kernel_device(ctx, op));

  std::int64_t m_rows = 1;
  for (int i = 0; i < x.rank() - 1; ++i) m_rows *= x.dim(i);
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, x.shape().with_dim(-1, n), ctx.output_tag));
  // The CPU widens narrow weights a block of rows at a time into `work`
  // (bf16 times a few rows of x is a GEMV that widens as it reads); the
  // vulkan kernels widen them as they read and take none. The planning device
  // of a vulkan device has its kind, so plans still equal runs.
  const bool on_vulkan = ctx.device.kind() == DeviceKind::vulkan;
  const bool gemv = weight.dtype() == DType::bf16 && cpu::linear_bf16_few_rows(m_rows);
  Tensor work;
  if (weight.dtype() != DType::f32 && k > 0 && !on_vulkan && !gemv) {
    ACEFIT_ASSIGN(work, workspace_floats(ctx, cpu::linear_block_rows(n, k) * k));
  }
  if (planning(ctx)) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::linear(*vk, x, weight, bias, weight_scale, y));
    return y;
  }
  const float* b = bias.defined() ? bias.data<float>() : nullptr;
  switch (weight.dtype()) {
    case DType::f32:
      cpu::linear_f32(ctx.pool, x.data<float>(), weight.data<float>(), b, y.data<float>(), m_rows,
                      n, k);
      break;
    case DType::bf16:
      cpu::linear_bf16(ctx.pool, x.data<float>(), weight.data<std::uint16_t>(), b, y.data<float>(),
                       m_rows, n, k, work.defined() ? work.data<float>() : nullptr);
      break;
    default:
      cpu::linear_i8(ctx.pool, x.data<float>(), weight.data<std::int8_t>(),
                     weight_scale.data<float>(), b, y.data<float>(), m_rows, n, k,
                     work.data<float>());
      break;
  }
  return y;
}

Expected<std::pair<Tensor, Tensor>> quantize_int8(const OpContext& ctx, const Tensor& weight) {
  constexpr std::string_view op = "quantize_int8";
  ACEFIT_TRY(check_input(ctx, op, "weight", weight));
  ACEFIT_TRY(check_dtype(op, "weight", weight, {DType::f32, DType::bf16}));
  ACEFIT_TRY(check_rank(op, "weight", weight, 2, 2));
  ACEFIT_TRY(check_kernel_device(ctx, op));
  VulkanDevice* vk = as_vulkan(ctx.device);
  // The CPU quantizes an f32 copy of a bf16 weight; the vulkan kernel reads
  // bf16 itself and takes no copy (nor does its planning device, which has
  // the vulkan kind).
  Tensor source = weight;
  if (weight.dtype() != DType::f32 && ctx.device.kind() != DeviceKind::vulkan) {
    const OpContext work_ctx{ctx.device, ctx.pool, MemoryTag::workspace};
    ACEFIT_ASSIGN(source, cast(work_ctx, weight, DType::f32));
  }
  ACEFIT_ASSIGN(Tensor q, ctx.device.empty(DType::i8, weight.shape(), MemoryTag::weights));
  ACEFIT_ASSIGN(Tensor scale,
                ctx.device.empty(DType::f32, Shape{weight.dim(0)}, MemoryTag::weights));
  if (vk != nullptr) {
    ACEFIT_TRY(vulkan::quantize_int8(*vk, weight, q, scale));
  } else if (!planning(ctx)) {
    cpu::quantize_rows_i8(ctx.pool, source.data<float>(), q.data<std::int8_t>(),
                          scale.data<float>(), weight.dim(0), weight.dim(1));
  }
  return std::make_pair(std::move(q), std::move(scale));
}

Expected<Tensor> matmul(const OpContext& ctx, const Tensor& a, const Tensor& b, bool transpose_b) {
  constexpr std::string_view op = "matmul";
  ACEFIT_TRY(check_input(ctx, op, "a", a));
  ACEFIT_TRY(check_input(ctx, op, "b", b));
  ACEFIT_TRY(check_dtype(op, "a", a, {DType::f32}));
  ACEFIT_TRY(check_dtype(op, "b", b, {DType::f32}));
  ACEFIT_TRY(check_rank(op, "a", a, 2, kMaxRank));
  ACEFIT_TRY(check_rank(op, "b", b, 2, kMaxRank));
  const std::int64_t m = a.dim(-2);
  const std::int64_t k = a.dim(-1);
  const std::int64_t n = transpose_b ? b.dim(-2) : b.dim(-1);
  const std::int64_t kb = transpose_b ? b.dim(-1) : b.dim(-2);
  if (kb != k) {
    return fail(op, "inner dims differ: a " + a.describe() + ", b " + b.describe() +
                        (transpose_b ? " (transposed)" : ""));
  }
  const bool shared_b = b.rank() == 2;
  if (!shared_b) {
    if (b.rank() != a.rank())
      return fail(op, "b " + b.describe() + " must be 2-D or match a's rank " + a.describe());
    for (int i = 0; i < a.rank() - 2; ++i) {
      if (a.dim(i) != b.dim(i))
        return fail(op, "batch dims differ: a " + a.describe() + ", b " + b.describe());
    }
  }
  ACEFIT_TRY(check_kernel_device(ctx, op));
  ACEFIT_ASSIGN(Tensor y, ctx.device.empty(DType::f32, a.shape().with_dim(-1, n), ctx.output_tag));
  if (planning(ctx)) return y;
  if (VulkanDevice* vk = as_vulkan(ctx.device)) {
    ACEFIT_TRY(vulkan::matmul(*vk, a, b, transpose_b, y));
    return y;
  }
  std::int64_t batch_count = 1;
  for (int i = 0; i < a.rank() - 2; ++i) batch_count *= a.dim(i);
  for (std::int64_t i = 0; i < batch_count; ++i) {
    const float* bi = b.data<float>() + (shared_b ? 0 : i * k * n);
    float* yi = y.data<float>() + i * m * n;
    if (k == 0) {
      std::fill(yi, yi + m * n, 0.0f);
      continue;
    }
    cpu::sgemm(ctx.pool, false, transpose_b, m, n, k, 1.0f, a.data<float>() + i * m * k, k, bi,
               transpose_b ? k : n, 0.0f, yi, n);
  }
  return y;
}

}  // namespace acefit::ops
