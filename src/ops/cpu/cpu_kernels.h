// The CPU math behind each op. Inputs are validated by the op layer: these
// functions take raw, contiguous, row-major buffers and never fail.
// Shape comments use the op's names: B batch, M/N/K GEMM dims, S sequence,
// H heads, D head dim, C channels, L length.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

namespace acefit::cpu {

using i64 = std::int64_t;

// ---- linear -------------------------------------------------------------
// Rows of W converted to f32 per block: the workspace holds rows x K floats.
i64 linear_block_rows(i64 n, i64 k);
// y[M,N] = x[M,K] W[N,K]^T (+ bias[N]).
void linear_f32(ThreadPool& pool, const float* x, const float* w, const float* bias, float* y,
                i64 m, i64 n, i64 k);
// Up to this many rows of x, a bf16 linear is a GEMV that widens W as it
// reads it and takes no workspace (linear_bf16_few_rows).
inline constexpr i64 kLinearFewRows = 4;
bool linear_bf16_few_rows(i64 m);
// W in bf16, converted a block of rows at a time into workspace (none is
// read when linear_bf16_few_rows(m): workspace may then be null).
void linear_bf16(ThreadPool& pool, const float* x, const std::uint16_t* w, const float* bias,
                 float* y, i64 m, i64 n, i64 k, float* workspace);
// W in int8 with one scale per output row: y = (x Wq^T) * scale (+ bias).
void linear_i8(ThreadPool& pool, const float* x, const std::int8_t* w, const float* scale,
               const float* bias, float* y, i64 m, i64 n, i64 k, float* workspace);
// Per-row symmetric int8: scale[r] = max|w[r,:]| / 127, q = round(w / scale).
void quantize_rows_i8(ThreadPool& pool, const float* w, std::int8_t* q, float* scale, i64 rows,
                      i64 cols);

// ---- attention ----------------------------------------------------------
struct AttentionShape {
  i64 batch, q_len, kv_len, q_heads, kv_heads, head_dim;
  float scale;
  int mask;            // 0 full, 1 causal, 2 sliding window
  i64 window;          // sliding: |qpos - j| <= window
  i64 query_position;  // absolute position of query 0 (causal, sliding)
  // Per batch item: keys >= key_lengths[b] are hidden; a query left with no
  // key gets the mean of all values. Null: no key padding (such a query
  // gets zeros).
  const i64* key_lengths = nullptr;
};
i64 attention_block_queries(const AttentionShape& s);
// q[B,Sq,Hq,D], k/v[B,Sk,Hkv,D] -> out[B,Sq,Hq,D]. workspace: block x Sk floats.
void attention_f32(ThreadPool& pool, const AttentionShape& s, const float* q, const float* k,
                   const float* v, float* out, float* workspace);

// ---- normalisation, position, activations -------------------------------
void rms_norm(ThreadPool& pool, const float* x, const float* w, float* y, i64 rows, i64 cols,
              float eps);
// x[B,S,H,D] rotate-half RoPE with positions offset..offset+S-1.
void rope(ThreadPool& pool, const float* x, float* y, i64 batch, i64 seq, i64 heads, i64 dim,
          float theta, i64 offset);
void silu(ThreadPool& pool, const float* x, float* y, i64 n);
void gelu(ThreadPool& pool, const float* x, float* y, i64 n, bool tanh_approximation);
void swiglu(ThreadPool& pool, const float* gate, const float* up, float* y, i64 n);
void softmax(ThreadPool& pool, const float* x, float* y, i64 rows, i64 cols);

// ---- per-item modulation (x [B,S,C], vectors [B,C]) -----------------------
void modulate(ThreadPool& pool, const float* x, const float* shift, const float* scale, float* y,
              i64 batch, i64 seq, i64 channels);
void gated_add(ThreadPool& pool, const float* x, const float* update, const float* gate, float* y,
               i64 batch, i64 seq, i64 channels);

// ---- convolutions ---------------------------------------------------------
struct Conv1dShape {
  i64 batch, in_channels, out_channels, length, kernel, stride, padding, dilation, out_length;
};
i64 conv1d_block_columns(const Conv1dShape& s);  // workspace: in*kernel x block floats
void conv1d(ThreadPool& pool, const Conv1dShape& s, const float* x, const float* w,
            const float* bias, float* y, float* workspace);
i64 conv_transpose1d_block_columns(const Conv1dShape& s);  // workspace: out*kernel x block floats
void conv_transpose1d(ThreadPool& pool, const Conv1dShape& s, const float* x, const float* w,
                      const float* bias, float* y, float* workspace);
// y = x + 1/(beta + 1e-9) * sin(alpha x)^2 per channel; x[B,C,L].
void snake(ThreadPool& pool, const float* x, const float* alpha, const float* beta, float* y,
           i64 batch, i64 channels, i64 length, bool log_scale);
// w[r,:] = g[r] * v[r,:] / ||v[r,:]||.
void weight_norm(ThreadPool& pool, const float* g, const float* v, float* w, i64 rows, i64 cols);

// ---- elementwise and layout ---------------------------------------------
// y = a op b, where b repeats every b_n elements of a (b_n divides n).
void add(ThreadPool& pool, const float* a, const float* b, float* y, i64 n, i64 b_n);
void mul(ThreadPool& pool, const float* a, const float* b, float* y, i64 n, i64 b_n);
void scale(ThreadPool& pool, const float* x, float factor, float* y, i64 n);
// Copies an strided view (element strides, rank dims) into contiguous dst.
void strided_copy(ThreadPool& pool, const void* src, void* dst, std::size_t element_bytes, int rank,
                  const i64* shape, const i64* src_strides);
// Copies a strided view into another strided view of the same shape.
void strided_copy_into(ThreadPool& pool, const void* src, void* dst, std::size_t element_bytes,
                       int rank, const i64* shape, const i64* src_strides, const i64* dst_strides);

}  // namespace acefit::cpu
