// Scaled dot-product attention with grouped-query heads.
#pragma once

#include <vector>

#include "ops/op_context.h"

namespace acefit::ops {

enum class AttentionMask {
  full,            // every query sees every key (also cross-attention)
  causal,          // query at position p sees keys j <= p
  sliding_window,  // query at position p sees keys with |p - j| <= window
};

struct AttentionOptions {
  AttentionMask mask = AttentionMask::full;
  std::int64_t window = 0;  // for sliding_window
  float scale = 0.0f;       // 0: 1 / sqrt(head_dim)
  // Position of query 0 among the keys, for causal and sliding masks.
  // -1 means kv_len - q_len (queries are the last positions, as with a KV cache).
  std::int64_t query_position = -1;
  // Key padding: keys at positions >= key_lengths[b] are hidden from every
  // query of batch item b (empty: none hidden). A query that then sees no
  // key at all gets the mean of all values, as a softmax over scores that
  // were all set to the most negative value gives (the reference's eager
  // masking); without key_lengths such a query gets zeros.
  std::vector<std::int64_t> key_lengths;
};

// q[B, Sq, Hq, D], k and v [B, Sk, Hkv, D] -> [B, Sq, Hq, D], all f32.
// Hq must be a multiple of Hkv; query head h uses key-value head h / (Hq/Hkv).
// A query that sees no key gets zeros, or under key padding the mean of all
// values (AttentionOptions::key_lengths).
Expected<Tensor> attention(const OpContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                           const AttentionOptions& options = {});

}  // namespace acefit::ops
