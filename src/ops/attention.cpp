#include "ops/attention.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/cpu/cpu_kernels.h"
#include "ops/validate.h"
#include "ops/vulkan/attention_kernels.h"

namespace acefit::ops {

Expected<Tensor> attention(const OpContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                           const AttentionOptions& options) {
  constexpr std::string_view op = "attention";
  for (const auto& [name, t] :
       {std::pair<const char*, const Tensor&>{"q", q}, {"k", k}, {"v", v}}) {
    ACEFIT_TRY(check_input(ctx, op, name, t));
    ACEFIT_TRY(check_dtype(op, name, t, {DType::f32}));
    ACEFIT_TRY(check_rank(op, name, t, 4, 4));
  }
  if (k.shape() != v.shape())
    return fail(op, "k " + k.describe() + " and v " + v.describe() + " differ");
  const std::int64_t batch = q.dim(0), q_len = q.dim(1), q_heads = q.dim(2), head_dim = q.dim(3);
  const std::int64_t kv_len = k.dim(1), kv_heads = k.dim(2);
  if (k.dim(0) != batch || k.dim(3) != head_dim) {
    return fail(op,
                "q " + q.describe() + " and k " + k.describe() + " disagree on batch or head_dim");
  }
  if (kv_heads == 0 || q_heads % kv_heads != 0) {
    return fail(op, std::to_string(q_heads) + " query heads are not a multiple of " +
                        std::to_string(kv_heads) + " key-value heads");
  }
  if (options.mask == AttentionMask::sliding_window && options.window < 0) {
    return fail(op, "sliding window must be >= 0, got " + std::to_string(options.window));
  }
  if (options.query_position < -1)
    return fail(op, "query_position must be >= 0 (or -1 for automatic)");
  if (!(options.scale >= 0.0f) || !std::isfinite(options.scale))
    return fail(op, "scale must be finite and >= 0");
  if (!options.key_lengths.empty()) {
    if (static_cast<std::int64_t>(options.key_lengths.size()) != batch)
      return fail(op, "key_lengths has " + std::to_string(options.key_lengths.size()) +
                          " entries for a batch of " + std::to_string(batch));
    for (const std::int64_t length : options.key_lengths) {
      if (length < 0 || length > kv_len)
        return fail(op, "key length " + std::to_string(length) + " is outside [0, " +
                            std::to_string(kv_len) + "]");
    }
  }
  ACEFIT_TRY(check_kernel_device(ctx, op));

  cpu::AttentionShape shape{};
  shape.batch = batch;
  shape.q_len = q_len;
  shape.kv_len = kv_len;
  shape.q_heads = q_heads;
  shape.kv_heads = kv_heads;
  shape.head_dim = head_dim;
  shape.scale = options.scale > 0.0f
                    ? options.scale
                    : 1.0f / std::sqrt(static_cast<float>(std::max<std::int64_t>(head_dim, 1)));
  shape.mask = static_cast<int>(options.mask);
  shape.window = options.window;
  shape.query_position = options.query_position >= 0 ? options.query_position
                                                     : std::max<std::int64_t>(0, kv_len - q_len);
  shape.key_lengths = options.key_lengths.empty() ? nullptr : options.key_lengths.data();

  ACEFIT_ASSIGN(Tensor out, ctx.device.empty(DType::f32, q.shape(), ctx.output_tag));
  if (out.numel() == 0) return out;
  if (ctx.device.kind() == DeviceKind::vulkan) {
    // Flash attention needs no score workspace, only the key lengths on the
    // device; the planning device (kind vulkan too) records the same.
    Tensor lengths;
    if (!options.key_lengths.empty()) {
      ACEFIT_ASSIGN(lengths, ctx.device.empty(DType::i32, Shape{batch}, MemoryTag::workspace));
    }
    if (planning(ctx)) return out;
    VulkanDevice* vk = as_vulkan(ctx.device);
    if (vk == nullptr)
      return fail(op, "the device " + ctx.device.name() + " is not a vulkan device");
    if (lengths.defined()) {
      // Bits of u32 lengths (the kernel checks that kv_len fits 32 bits).
      std::vector<std::uint32_t> host;
      for (const std::int64_t length : options.key_lengths)
        host.push_back(static_cast<std::uint32_t>(length));
      ACEFIT_TRY(ctx.device.copy_from_host(lengths.raw_data(), host.data(),
                                           host.size() * sizeof(std::uint32_t)));
    }
    vulkan::AttentionParams params;
    params.mask = shape.mask;
    params.window = shape.window;
    params.query_position = shape.query_position;
    params.scale = shape.scale;
    ACEFIT_TRY(vulkan::attention(*vk, q, k, v, lengths, params, out));
    return out;
  }
  const std::int64_t block = cpu::attention_block_queries(shape);
  ACEFIT_ASSIGN(Tensor work,
                ctx.device.empty(DType::f32, Shape{block * std::max<std::int64_t>(kv_len, 1)},
                                 MemoryTag::workspace));
  if (planning(ctx)) return out;
  cpu::attention_f32(ctx.pool, shape, q.data<float>(), k.data<float>(), v.data<float>(),
                     out.data<float>(), work.data<float>());
  return out;
}

}  // namespace acefit::ops
