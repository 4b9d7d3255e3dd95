// Scaled dot-product attention, one (batch, head, block of queries) at a
// time: scores = Q_blk K_range^T * scale by sgemm, a masked softmax per row,
// then out_blk = P V_range by sgemm written straight into the [B,S,H,D]
// output. K_range is only the keys some query of the block may see, so a
// sliding window costs O(S * window), not O(S^2).
#include <algorithm>
#include <cstring>
#include <limits>

#include "ops/cpu/blas.h"
#include "ops/cpu/cpu_kernels.h"
#include "ops/cpu/vec_math.h"

namespace acefit::cpu {

namespace {

enum Mask { kFull = 0, kCausal = 1, kSliding = 2 };

// Keys visible to the query at absolute position p: [first, last).
void visible_keys(const AttentionShape& s, i64 b, i64 p, i64& first, i64& last) {
  first = 0;
  last = s.key_lengths != nullptr ? s.key_lengths[b] : s.kv_len;
  if (s.mask == kCausal) {
    last = std::min(last, p + 1);
  } else if (s.mask == kSliding) {
    first = std::max<i64>(0, p - s.window);
    last = std::min(last, p + s.window + 1);
  }
  if (last < first) last = first;
}

// The output of a query that sees no key: zeros, or with key padding the
// mean of every value row (a uniform softmax over all keys).
void write_unseeing_row(const AttentionShape& s, const float* vh, i64 kv_row, float* out) {
  std::fill(out, out + s.head_dim, 0.0f);
  if (s.key_lengths == nullptr || s.kv_len == 0) return;
  for (i64 j = 0; j < s.kv_len; ++j) {
    for (i64 e = 0; e < s.head_dim; ++e) out[e] += vh[j * kv_row + e];
  }
  const float inv = 1.0f / static_cast<float>(s.kv_len);
  for (i64 e = 0; e < s.head_dim; ++e) out[e] *= inv;
}

}  // namespace

i64 attention_block_queries(const AttentionShape& s) {
  // Keep the score block near 4 MiB, but at least 16 and at most 256 rows.
  const i64 by_memory = (i64{1} << 20) / std::max<i64>(1, s.kv_len);
  return std::max<i64>(1, std::min({s.q_len, std::max<i64>(16, std::min<i64>(256, by_memory))}));
}

void attention_f32(ThreadPool& pool, const AttentionShape& s, const float* q, const float* k,
                   const float* v, float* out, float* workspace) {
  const i64 d = s.head_dim;
  const i64 q_row = s.q_heads * d;  // stride between query positions
  const i64 kv_row = s.kv_heads * d;
  const i64 group = s.q_heads / s.kv_heads;
  const i64 block = attention_block_queries(s);

  for (i64 b = 0; b < s.batch; ++b) {
    for (i64 h = 0; h < s.q_heads; ++h) {
      const float* qh = q + b * s.q_len * q_row + h * d;
      const float* kh = k + b * s.kv_len * kv_row + (h / group) * d;
      const float* vh = v + b * s.kv_len * kv_row + (h / group) * d;
      float* oh = out + b * s.q_len * q_row + h * d;
      for (i64 q0 = 0; q0 < s.q_len; q0 += block) {
        const i64 rows = std::min(block, s.q_len - q0);
        // Union of the visible key ranges of this block's queries.
        i64 k_first = s.kv_len, k_last = 0;
        // Every row: with key padding the ranges are not monotone at the
        // block's ends (a late row may see nothing while earlier rows do).
        for (i64 r = 0; r < rows; ++r) {
          i64 f, l;
          visible_keys(s, b, s.query_position + q0 + r, f, l);
          if (l > f) {
            k_first = std::min(k_first, f);
            k_last = std::max(k_last, l);
          }
        }
        if (k_last <= k_first) {  // no query of the block sees any key
          for (i64 r = 0; r < rows; ++r) write_unseeing_row(s, vh, kv_row, oh + (q0 + r) * q_row);
          continue;
        }
        const i64 span = k_last - k_first;
        sgemm(pool, false, true, rows, span, d, s.scale, qh + q0 * q_row, q_row,
              kh + k_first * kv_row, kv_row, 0.0f, workspace, span);
        pool.parallel_for(rows, 8, [&](i64 r0, i64 r1) {
          for (i64 r = r0; r < r1; ++r) {
            float* row = workspace + r * span;
            i64 f, l;
            visible_keys(s, b, s.query_position + q0 + r, f, l);
            f = std::max(f, k_first) - k_first;
            l = std::min(l, k_last) - k_first;
            if (l <= f) {
              std::fill(row, row + span, 0.0f);
              continue;
            }
            std::fill(row, row + f, 0.0f);
            std::fill(row + l, row + span, 0.0f);
            const float peak = max_n(row + f, l - f);
            const float sum = exp_shifted_sum(row + f, row + f, l - f, peak);
            const float inv = 1.0f / sum;
            for (i64 j = f; j < l; ++j) row[j] *= inv;
          }
        });
        sgemm(pool, false, false, rows, d, span, 1.0f, workspace, span, vh + k_first * kv_row,
              kv_row, 0.0f, oh + q0 * q_row, q_row);
        if (s.key_lengths != nullptr) {
          for (i64 r = 0; r < rows; ++r) {
            i64 f, l;
            visible_keys(s, b, s.query_position + q0 + r, f, l);
            if (l <= f) write_unseeing_row(s, vh, kv_row, oh + (q0 + r) * q_row);
          }
        }
      }
    }
  }
}

}  // namespace acefit::cpu
