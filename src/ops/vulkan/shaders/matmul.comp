#version 450
// y[z, m, n] = scale[n] * sum_k a[z, m, k] b[z, k, n] + bias[n]: the tiled
// GEMM behind linear (b is the weight [N, K], read transposed) and matmul.
// a: f32 [Z, M, K]; b: [Z, K, N], or [Z, N, K] with TRANS_B; b's batch
// stride may be 0 (one b shared by every z); b is f32, bf16 (B_TYPE 1, read
// as uint16 and widened) or int8 (B_TYPE 2, times scale[n] once per output
// after the K loop). y: f32 [Z, M, N]. bias: f32 [N] when has_bias.
//
// One workgroup per BM x BN output tile (BM = WG_Y * RM, BN = WG_X * RN) of
// batch item gl_WorkGroupID.z; each invocation accumulates an RM x RN block
// in registers (rows ty + i * WG_Y, columns tx + j * WG_X, so neighbouring
// invocations store neighbouring columns). K advances in slices of BK: a's
// BM x BK slice and b's BK x BN slice are staged through shared memory with
// loads where neighbouring invocations read neighbouring addresses. All
// accumulation is f32; out-of-range rows, columns and K are zero-filled.
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint WG_X = 16;
layout(constant_id = 1) const uint WG_Y = 16;
layout(constant_id = 2) const uint RM = 4;
layout(constant_id = 3) const uint RN = 4;
layout(constant_id = 4) const uint BK = 16;
layout(constant_id = 5) const uint B_TYPE = 0;  // 0 f32, 1 bf16, 2 int8
layout(constant_id = 6) const uint TRANS_B = 0;

const uint BM = WG_Y * RM;
const uint BN = WG_X * RN;
const uint THREADS = WG_X * WG_Y;
const uint A_STRIDE = BM + 1;  // shared rows padded against bank conflicts
const uint B_STRIDE = BN + 1;

layout(push_constant, scalar) uniform Push {
  F32 a;
  F32 b_f32;
  U16 b_u16;
  I8 b_i8;
  F32 bias;
  F32 scale;
  F32 y;
  uint m;
  uint n;
  uint k;
  uint a_batch;  // elements between batch items of a, b, y (b: 0 = shared)
  uint b_batch;
  uint y_batch;
  uint has_bias;
} p;

shared float a_tile[BK * A_STRIDE];  // [BK][BM], k-major
shared float b_tile[BK * B_STRIDE];  // [BK][BN], k-major

float load_b(uint i) {
  if (B_TYPE == 1) return bf16_to_f32(p.b_u16.v[i]);
  if (B_TYPE == 2) return float(p.b_i8.v[i]);
  return p.b_f32.v[i];
}

void main() {
  const uint tx = gl_LocalInvocationID.x;
  const uint ty = gl_LocalInvocationID.y;
  const uint tid = ty * WG_X + tx;
  const uint m0 = gl_WorkGroupID.y * BM;
  const uint n0 = gl_WorkGroupID.x * BN;
  const uint a_base = gl_WorkGroupID.z * p.a_batch;
  const uint b_base = gl_WorkGroupID.z * p.b_batch;

  float acc[RM * RN];
  for (uint i = 0; i < RM * RN; ++i) acc[i] = 0.0;

  for (uint k0 = 0; k0 < p.k; k0 += BK) {
    // a[m0 + r, k0 + c] -> a_tile[c][r]; consecutive invocations walk k.
    for (uint e = tid; e < BM * BK; e += THREADS) {
      const uint r = e / BK, c = e % BK;
      const uint row = m0 + r, col = k0 + c;
      a_tile[c * A_STRIDE + r] = (row < p.m && col < p.k) ? p.a.v[a_base + row * p.k + col] : 0.0;
    }
    if (TRANS_B != 0) {
      // b[n0 + r, k0 + c] ([N, K]) -> b_tile[c][r]; consecutive invocations walk k.
      for (uint e = tid; e < BN * BK; e += THREADS) {
        const uint r = e / BK, c = e % BK;
        const uint row = n0 + r, col = k0 + c;
        b_tile[c * B_STRIDE + r] = (row < p.n && col < p.k) ? load_b(b_base + row * p.k + col) : 0.0;
      }
    } else {
      // b[k0 + r, n0 + c] ([K, N]) -> b_tile[r][c]; consecutive invocations walk n.
      for (uint e = tid; e < BN * BK; e += THREADS) {
        const uint r = e / BN, c = e % BN;
        const uint row = k0 + r, col = n0 + c;
        b_tile[r * B_STRIDE + c] = (row < p.k && col < p.n) ? load_b(b_base + row * p.n + col) : 0.0;
      }
    }
    barrier();
    for (uint c = 0; c < BK; ++c) {
      float a_reg[RM];
      float b_reg[RN];
      for (uint i = 0; i < RM; ++i) a_reg[i] = a_tile[c * A_STRIDE + ty + i * WG_Y];
      for (uint j = 0; j < RN; ++j) b_reg[j] = b_tile[c * B_STRIDE + tx + j * WG_X];
      for (uint i = 0; i < RM; ++i) {
        for (uint j = 0; j < RN; ++j) acc[i * RN + j] += a_reg[i] * b_reg[j];
      }
    }
    barrier();
  }

  // Epilogue: per-column int8 scale, then bias; y[z, m, n].
  const uint y_base = gl_WorkGroupID.z * p.y_batch;
  for (uint j = 0; j < RN; ++j) {
    const uint col = n0 + tx + j * WG_X;
    if (col >= p.n) continue;
    const float s = B_TYPE == 2 ? p.scale.v[col] : 1.0;
    const float add = p.has_bias != 0 ? p.bias.v[col] : 0.0;
    for (uint i = 0; i < RM; ++i) {
      const uint row = m0 + ty + i * WG_Y;
      if (row >= p.m) continue;
      const float v = B_TYPE == 2 ? acc[i * RN + j] * s : acc[i * RN + j];
      p.y.v[y_base + row * p.n + col] = v + add;
    }
  }
}
