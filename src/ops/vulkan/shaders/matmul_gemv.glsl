// The body of matmul_gemv.comp and matmul_gemv_subgroup.comp:
// y[z, m, n] = scale[n] * sum_k a[z, m, k] b[z, n, k] + bias[n] for few rows
// (M <= MR): the decode-time linear, where the tiled GEMM would leave most of
// its tile empty. a: f32 [Z, M, K]; b: [Z, N, K] (the weight layout; batch
// stride 0 = shared), f32, bf16 (B_TYPE 1) or int8 (B_TYPE 2, times scale[n]
// after the K loop); y: f32 [Z, M, N]; bias: f32 [N] when has_bias.
//
// One workgroup per COLS output columns of batch item gl_WorkGroupID.z.
// Invocation t sums k = t, t + THREADS, ... (neighbouring invocations read
// neighbouring weights) for every row and column, then the THREADS partial
// sums are added: in a shared-memory tree (THREADS is a power of two), or
// with MATMUL_GEMV_SUBGROUP by subgroupAdd and one shared slot per subgroup.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint THREADS = 128;
layout(constant_id = 1) const uint COLS = 4;
layout(constant_id = 2) const uint MR = 4;
layout(constant_id = 3) const uint B_TYPE = 0;  // 0 f32, 1 bf16, 2 int8

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
  uint a_batch;
  uint b_batch;
  uint y_batch;
  uint has_bias;
} p;

shared float partial[MR * COLS * THREADS];  // [MR * COLS][THREADS]

float load_b(uint i) {
  if (B_TYPE == 1) return bf16_to_f32(p.b_u16.v[i]);
  if (B_TYPE == 2) return float(p.b_i8.v[i]);
  return p.b_f32.v[i];
}

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint n0 = gl_WorkGroupID.x * COLS;
  const uint a_base = gl_WorkGroupID.z * p.a_batch;
  const uint b_base = gl_WorkGroupID.z * p.b_batch;
  const uint rows = min(p.m, MR);

  float acc[MR * COLS];
  for (uint i = 0; i < MR * COLS; ++i) acc[i] = 0.0;
  for (uint kk = t; kk < p.k; kk += THREADS) {
    float w[COLS];
    for (uint c = 0; c < COLS; ++c) {
      w[c] = n0 + c < p.n ? load_b(b_base + (n0 + c) * p.k + kk) : 0.0;
    }
    for (uint r = 0; r < rows; ++r) {
      const float x = p.a.v[a_base + r * p.k + kk];
      for (uint c = 0; c < COLS; ++c) acc[r * COLS + c] += x * w[c];
    }
  }
#ifdef MATMUL_GEMV_SUBGROUP
  // partial[i][s] = the sum of subgroup s; then invocation i adds them up.
  for (uint i = 0; i < rows * COLS; ++i) {
    const float sum = subgroupAdd(acc[i]);
    if (subgroupElect()) partial[i * THREADS + gl_SubgroupID] = sum;
  }
  barrier();
  if (t < rows * COLS) {
    float sum = 0.0;
    for (uint s = 0; s < gl_NumSubgroups; ++s) sum += partial[t * THREADS + s];
    partial[t * THREADS] = sum;
  }
  // Each invocation below reads only the slot it wrote.
#else
  for (uint i = 0; i < MR * COLS; ++i) partial[i * THREADS + t] = acc[i];
  barrier();
  for (uint stride = THREADS / 2; stride > 0; stride /= 2) {
    if (t < stride) {
      for (uint i = 0; i < rows * COLS; ++i) {
        partial[i * THREADS + t] += partial[i * THREADS + t + stride];
      }
    }
    barrier();
  }
#endif

  // Invocation t < rows * COLS writes y[z, r, n0 + c] with scale and bias.
  if (t < rows * COLS) {
    const uint r = t / COLS, c = t % COLS, col = n0 + c;
    if (col < p.n) {
      float v = partial[t * THREADS];
      if (B_TYPE == 2) v *= p.scale.v[col];
      if (p.has_bias != 0) v += p.bias.v[col];
      p.y.v[gl_WorkGroupID.z * p.y_batch + r * p.n + col] = v;
    }
  }
}
