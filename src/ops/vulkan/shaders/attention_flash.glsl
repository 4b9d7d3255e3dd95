// Flash attention, shared by attention.comp and attention_subgroup.comp:
//   out[b, i, h, :] = softmax_j(q[b, i, h, :] . k[b, j, h / group, :] * scale) v[b, j, h / group, :]
// over the keys j visible to query i (mask, window, key padding).
// q, out: f32 [B, Sq, Hq, D]; k, v: f32 [B, Sk, Hkv, D]; lengths: i32 [B].
// The Sq x Sk score matrix is never stored: a workgroup takes BQ queries of
// one (batch, head), walks the key range its queries may see in blocks of BK
// keys staged in shared memory, and keeps per query a running max m, a
// running sum l and the output accumulator o (online softmax):
//   m' = max(m, max_j s_j); o' = o e^(m - m') + sum_j e^(s_j - m') v_j; l likewise.
// TPR threads share a query row: thread t scores keys t, t + TPR, ... of a
// block and owns output columns t, t + TPR, ... A query that sees no key
// gets zeros, or with key padding the mean of all Sk values (a softmax over
// scores that all hold the same most negative value).
#include "common.glsl"

#extension GL_EXT_control_flow_attributes : require

#ifdef ATTENTION_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(local_size_x_id = 0) in;           // BQ * TPR
layout(constant_id = 1) const uint BQ = 8;   // queries per workgroup
layout(constant_id = 2) const uint BK = 32;  // keys per shared-memory block
layout(constant_id = 3) const uint TPR = 8;  // threads per query row
layout(constant_id = 4) const uint DMAX = 64;  // head_dim <= DMAX, a multiple of TPR

layout(push_constant, scalar) uniform Push {
  F32 q;
  F32 k;
  F32 v;
  F32 out_;
  I32 lengths;  // key length per batch item, when has_lengths
  uint batch;
  uint q_len;
  uint kv_len;
  uint q_heads;
  uint kv_heads;
  uint head_dim;
  uint mask;  // 0 full, 1 causal, 2 sliding window
  uint window;
  uint query_position;  // absolute position of query 0
  uint has_lengths;
  float scale;
} p;

const uint WG = BQ * TPR;
const uint DPT = DMAX / TPR;       // output columns per thread
const uint QK_STRIDE = DMAX + 1;  // padded rows: no bank conflicts across rows
const float NEG = -1.0e30;             // a masked score (finite: no inf arithmetic)

shared float q_s[BQ * QK_STRIDE];  // [BQ, D] queries times scale
shared float k_s[BK * QK_STRIDE];  // [BK, D] keys of the block
shared float v_s[BK * DMAX];       // [BK, D] values of the block
shared float p_s[BQ * BK];         // [BQ, BK] scores, then probabilities
shared float max_s[BQ * TPR];      // per-thread partials of the row reductions
shared float sum_s[BQ * TPR];

// Keys visible to the query at absolute position pos: [first, last).
void visible_keys(uint pos, uint key_len, out uint first, out uint last) {
  first = 0;
  last = key_len;
  if (p.mask == 1) {
    last = min(last, pos + 1);
  } else if (p.mask == 2) {
    first = pos > p.window ? pos - p.window : 0;
    last = min(last, pos + p.window + 1);
  }
  last = max(last, first);
}

// The max / sum of x over the TPR threads of query row r (every thread of
// the workgroup calls these, in uniform control flow).
float row_max(float x, uint r, uint t) {
#ifdef ATTENTION_SUBGROUP
  if (gl_SubgroupSize == TPR) return subgroupMax(x);  // one subgroup per row
#endif
  max_s[r * TPR + t] = x;
  barrier();
  float y = NEG;
  for (uint i = 0; i < TPR; ++i) y = max(y, max_s[r * TPR + i]);
  return y;
}

float row_sum(float x, uint r, uint t) {
#ifdef ATTENTION_SUBGROUP
  if (gl_SubgroupSize == TPR) return subgroupAdd(x);
#endif
  sum_s[r * TPR + t] = x;
  barrier();
  float y = 0.0;
  for (uint i = 0; i < TPR; ++i) y += sum_s[r * TPR + i];
  return y;
}

void main() {
  // Workgroup -> (batch b, head h, query block qb), query blocks fastest so
  // neighbouring workgroups read the same keys and values.
  const uint q_blocks = (p.q_len + BQ - 1) / BQ;
  const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (group >= p.batch * p.q_heads * q_blocks) return;  // whole workgroup
  const uint qb = group % q_blocks;
  const uint h = (group / q_blocks) % p.q_heads;
  const uint b = group / (q_blocks * p.q_heads);
  const uint kvh = h / (p.q_heads / p.kv_heads);
  const uint D = p.head_dim;

  const uint tid = gl_LocalInvocationID.x;
  const uint r = tid / TPR;  // this thread's query row in the block
  const uint t = tid % TPR;
  const uint q0 = qb * BQ;
  const uint rows = min(BQ, p.q_len - q0);
  const uint key_len = p.has_lengths != 0 ? uint(p.lengths.v[b]) : p.kv_len;

  uint first = 0, last = 0;  // this row's visible keys (none for rows past Sq)
  if (r < rows) visible_keys(p.query_position + q0 + r, key_len, first, last);
  // Keys any row of the block may see: visible ranges move forward with the
  // position, so [first of row 0, last of the last row) holds them all.
  uint block_first, unused, block_last;
  visible_keys(p.query_position + q0, key_len, block_first, unused);
  visible_keys(p.query_position + q0 + rows - 1, key_len, unused, block_last);

  const uint q_row = p.q_heads * D;   // stride between query positions
  const uint kv_row = p.kv_heads * D;  // stride between key positions
  for (uint i = tid; i < BQ * D; i += WG) {
    const uint rr = i / D, d = i % D;
    q_s[rr * QK_STRIDE + d] =
        rr < rows ? p.q.v[(b * p.q_len + q0 + rr) * q_row + h * D + d] * p.scale : 0.0;
  }

  float m = NEG;  // running max of this row's visible scores
  float l = 0.0;  // running sum of e^(s - m)
  float o[DPT];   // output columns t, t + TPR, ... (unnormalised)
  [[unroll]] for (uint c = 0; c < DPT; ++c) o[c] = 0.0;

  for (uint k0 = block_first; k0 < block_last; k0 += BK) {
    barrier();  // the previous block's k_s, v_s, p_s are no longer read
    for (uint i = tid; i < BK * D; i += WG) {
      const uint j = i / D, d = i % D;
      float kx = 0.0, vx = 0.0;
      if (k0 + j < block_last) {
        const uint at = (b * p.kv_len + k0 + j) * kv_row + kvh * D + d;
        kx = p.k.v[at];
        vx = p.v.v[at];
      }
      k_s[j * QK_STRIDE + d] = kx;
      v_s[j * DMAX + d] = vx;
    }
    barrier();

    // Scores of this thread's keys; masked ones hold NEG.
    float local_max = NEG;
    for (uint j = t; j < BK; j += TPR) {
      const uint key = k0 + j;
      float s = NEG;
      if (key >= first && key < last) {
        s = 0.0;
        [[dont_unroll]] for (uint d = 0; d < D; ++d) s += q_s[r * QK_STRIDE + d] * k_s[j * QK_STRIDE + d];
        local_max = max(local_max, s);
      }
      p_s[r * BK + j] = s;
    }
    const float m_new = max(m, row_max(local_max, r, t));
    float local_sum = 0.0;
    for (uint j = t; j < BK; j += TPR) {
      const float s = p_s[r * BK + j];
      const float e = s == NEG ? 0.0 : exp(s - m_new);
      p_s[r * BK + j] = e;
      local_sum += e;
    }
    const float alpha = exp(m - m_new);  // 1 while the row has seen nothing
    l = l * alpha + row_sum(local_sum, r, t);
    m = m_new;
    barrier();  // the row's probabilities are in p_s

    // o = o * alpha + P V over the block (columns past D are never stored).
    [[unroll]] for (uint c = 0; c < DPT; ++c) o[c] *= alpha;
    [[dont_unroll]] for (uint j = 0; j < BK; ++j) {
      const float pj = p_s[r * BK + j];
      [[unroll]] for (uint c = 0; c < DPT; ++c) o[c] += pj * v_s[j * DMAX + t + c * TPR];
    }
  }

  if (r >= rows) return;
  const uint at = (b * p.q_len + q0 + r) * q_row + h * D;
  if (l > 0.0) {
    const float inv = 1.0 / l;
    for (uint c = 0; c < DPT; ++c) {
      const uint col = t + c * TPR;
      if (col < D) p.out_.v[at + col] = o[c] * inv;
    }
  } else if (p.has_lengths != 0 && p.kv_len > 0) {
    // No visible key under key padding: the mean of every value row.
    const float inv = 1.0 / float(p.kv_len);
    for (uint c = 0; c < DPT; ++c) {
      const uint col = t + c * TPR;
      if (col >= D) continue;
      float acc = 0.0;
      for (uint j = 0; j < p.kv_len; ++j) acc += p.v.v[(b * p.kv_len + j) * kv_row + kvh * D + col];
      p.out_.v[at + col] = acc * inv;
    }
  } else {
    for (uint c = 0; c < DPT; ++c) {
      const uint col = t + c * TPR;
      if (col < D) p.out_.v[at + col] = 0.0;
    }
  }
}
