// The vulkan attention kernel (shaders/attention_flash.glsl): flash attention
// that never stores the score matrix. Inputs are checked by ops::attention.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::ops::vulkan {

// What the op resolved: every field as in ops::AttentionOptions, with the
// scale and query position made concrete.
struct AttentionParams {
  int mask = 0;  // 0 full, 1 causal, 2 sliding window
  std::int64_t window = 0;
  std::int64_t query_position = 0;
  float scale = 1.0f;
  // Row reductions through shared memory even where subgroup arithmetic
  // exists (the portable shader; tests run it on every device).
  bool shared_reductions = false;
};

// The largest head_dim the kernel takes.
inline constexpr std::int64_t kAttentionMaxHeadDim = 512;

// q[B, Sq, Hq, D], k and v [B, Sk, Hkv, D] -> out[B, Sq, Hq, D], all f32.
// key_lengths: i32 [B] keys per batch item, or an undefined tensor for none.
Status attention(VulkanDevice& device, const Tensor& q, const Tensor& k, const Tensor& v,
                 const Tensor& key_lengths, const AttentionParams& params, Tensor& out);

}  // namespace acefit::ops::vulkan
