// Launches the flash-attention shader: tile sizes from the device's limits
// (workgroup invocations, shared memory, subgroup size), one workgroup per
// (batch item, head, block of queries).
#include <algorithm>
#include <string>

#include "ops/vulkan/attention_kernels.h"
#include "ops/vulkan/launch.h"
#include "vulkan_shaders.h"

namespace acefit::ops::vulkan {

namespace {

struct AttentionTiles {
  std::uint32_t queries = 1;        // BQ: queries per workgroup
  std::uint32_t keys = 1;           // BK: keys per shared-memory block
  std::uint32_t row_threads = 1;    // TPR: threads per query
  bool subgroup = false;            // row reductions by subgroup operations
  std::uint32_t max_head_dim = 64;  // DMAX: head_dim rounded up to 64, 128, 256 or 512
};

std::uint32_t attention_pow2_floor(std::uint32_t x) {
  std::uint32_t y = 1;
  while (y * 2 <= x) y *= 2;
  return y;
}

// Shared memory the shader declares for these tiles (see attention_flash.glsl).
std::uint64_t attention_shared_bytes(const AttentionTiles& t) {
  const std::uint64_t d = t.max_head_dim;
  const std::uint64_t floats = t.queries * (d + 1) + t.keys * (d + 1) + t.keys * d +
                               std::uint64_t{t.queries} * t.keys +
                               2 * std::uint64_t{t.queries} * t.row_threads;
  return floats * sizeof(float);
}

Expected<AttentionTiles> attention_tiles(const VulkanLimits& limits, std::int64_t head_dim) {
  AttentionTiles t;
  const std::uint32_t max_invocations =
      attention_pow2_floor(std::min<std::uint32_t>(256, limits.max_workgroup_invocations));
  const std::uint32_t subgroup = limits.subgroup_size;
  t.subgroup = limits.subgroup_arithmetic && subgroup >= 4 && subgroup <= 64 &&
               (subgroup & (subgroup - 1)) == 0 && subgroup <= max_invocations;
  t.row_threads = t.subgroup ? subgroup : std::min<std::uint32_t>(16, max_invocations);
  // Queries per workgroup: fill the workgroup, at most 32. Not fitted to
  // the query count: every distinct tile set is one more pipeline to build.
  t.queries = std::max<std::uint32_t>(1, std::min(32u, max_invocations / t.row_threads));
  t.keys = std::max<std::uint32_t>(32, t.row_threads);
  // Few head_dim buckets, so few pipelines (each is compiled once per device).
  while (t.max_head_dim < head_dim) t.max_head_dim *= 2;
  t.max_head_dim = std::max(t.max_head_dim, t.row_threads);
  while (attention_shared_bytes(t) > limits.shared_memory_bytes) {
    if (t.keys > 8) {
      t.keys /= 2;
    } else if (t.queries > 1) {
      t.queries /= 2;
    } else if (t.keys > 1) {
      t.keys /= 2;
    } else {
      return unsupported("attention on vulkan: head_dim " + std::to_string(head_dim) +
                         " needs more than the device's " +
                         std::to_string(limits.shared_memory_bytes) + " bytes of shared memory");
    }
  }
  return t;
}

}  // namespace

Status attention(VulkanDevice& device, const Tensor& q, const Tensor& k, const Tensor& v,
                 const Tensor& key_lengths, const AttentionParams& params, Tensor& out) {
  constexpr std::string_view op = "attention";
  const std::int64_t batch = q.dim(0), q_len = q.dim(1), q_heads = q.dim(2), head_dim = q.dim(3);
  const std::int64_t kv_len = k.dim(1), kv_heads = k.dim(2);
  if (head_dim < 1 || head_dim > kAttentionMaxHeadDim) {
    return unsupported("attention on vulkan: head_dim " + std::to_string(head_dim) +
                       " is outside the kernel's 1.." + std::to_string(kAttentionMaxHeadDim));
  }
  ACEFIT_TRY(check_u32(op, "query element count", q.numel()));
  ACEFIT_TRY(check_u32(op, "key element count", k.numel()));
  // A window past every distance a query can have to a key sees all of them.
  const std::int64_t reach = params.query_position + q_len + kv_len;
  const std::int64_t window = std::min(params.window, reach);
  ACEFIT_TRY(check_u32(op, "query position", reach + window + 1));
  VulkanLimits limits = device.limits();
  if (params.shared_reductions) limits.subgroup_arithmetic = false;
  ACEFIT_ASSIGN(const AttentionTiles tiles, attention_tiles(limits, head_dim));

  struct Push {
    std::uint64_t q, k, v, out, lengths;
    std::uint32_t batch, q_len, kv_len, q_heads, kv_heads, head_dim, mask, window, query_position,
        has_lengths;
    float scale;
  } push{device.address(q),
         device.address(k),
         device.address(v),
         device.address(out),
         key_lengths.defined() ? device.address(key_lengths) : 0,
         u32(batch),
         u32(q_len),
         u32(kv_len),
         u32(q_heads),
         u32(kv_heads),
         u32(head_dim),
         static_cast<std::uint32_t>(params.mask),
         u32(window),
         u32(params.query_position),
         key_lengths.defined() ? 1u : 0u,
         params.scale};
  const std::int64_t q_blocks = (q_len + tiles.queries - 1) / tiles.queries;
  const std::int64_t groups = batch * q_heads * q_blocks;
  ACEFIT_TRY(check_u32(op, "workgroup count", groups));
  const std::uint32_t constants[] = {tiles.queries * tiles.row_threads, tiles.queries, tiles.keys,
                                     tiles.row_threads, tiles.max_head_dim};
  return device.dispatch(tiles.subgroup ? shaders::attention_subgroup : shaders::attention, push,
                         grid_1d(device, static_cast<std::uint64_t>(groups), 1), constants);
}

}  // namespace acefit::ops::vulkan
