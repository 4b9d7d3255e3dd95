// The implicit GEMM behind conv1d.comp and conv_transpose1d.comp. Per batch
// item and phase (gl_WorkGroupID.z = batch * phases + phase) it computes
//   y[co, n * y_step + y_origin] = bias[co]
//       + sum over (ci, j < taps) of W(co, ci, j) * x[ci, n * x_step + x_origin + j * x_tap]
// for co < Cout, n < columns: a GEMM [Cout, Cin*taps] x [Cin*taps, columns]
// whose right-hand side (im2col of x, 0 outside [0, L)) is gathered tile by
// tile into shared memory and never stored. The including shader defines
// Maps phase_maps(uint phase), which sets the affine maps.
//
// Tiling: a workgroup of WN x WM invocations owns a BM x BN tile of y
// (BM = WM*TM rows of Cout, BN = WN*TN columns), each invocation TM x TN
// outputs strided by WM and WN (so stores and shared reads are consecutive
// across invocations). The reduction walks BK-deep slices: a_tile [BK][BM]
// and b_tile [BK][BN] in shared memory. Tiles are numbered over x then y of
// the grid (past 65535 groups in x).
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 0) const uint WN = 16;  // invocations along the columns
layout(constant_id = 1) const uint WM = 16;  // invocations along Cout
layout(constant_id = 2) const uint TN = 4;   // columns per invocation
layout(constant_id = 3) const uint TM = 4;   // rows per invocation
layout(constant_id = 4) const uint BK = 16;  // reduction depth per slice
const uint BN = WN * TN;
const uint BM = WM * TM;

layout(push_constant, scalar) uniform Push {
  F32 x;     // [B, Cin, L]
  F32 w;     // conv1d [Cout, Cin, K]; conv_transpose1d [Cin, Cout, K]
  F32 bias;  // [Cout] when has_bias
  F32 y;     // [B, Cout, L_out]
  uint in_channels;
  uint out_channels;
  uint in_length;
  uint out_length;
  uint kernel;
  uint stride;
  uint padding;
  uint dilation;
  uint has_bias;
  uint n_tiles;  // column tiles (of the longest phase)
  uint m_tiles;  // Cout tiles
  uint phases;   // 1, or the stride of a transposed conv
} p;

struct Maps {
  uint taps;      // reduction taps per input channel
  uint w_out;     // W(co, ci, j) = w[co * w_out + ci * w_in + j * w_tap + w_origin]
  uint w_in;
  uint w_tap;
  uint w_origin;
  int x_step;     // position in x of column n, tap j
  int x_origin;
  int x_tap;
  uint y_step;    // position in y of column n
  uint y_origin;
  uint columns;   // outputs of this phase per row
};

Maps phase_maps(uint phase);

shared float a_tile[BK * BM];
shared float b_tile[BK * BN];

void main() {
  const uint tile = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (tile >= p.n_tiles * p.m_tiles) return;
  const uint batch = gl_WorkGroupID.z / p.phases;
  const Maps m = phase_maps(gl_WorkGroupID.z % p.phases);
  const uint n0 = (tile % p.n_tiles) * BN;
  const uint m0 = (tile / p.n_tiles) * BM;
  if (n0 >= m.columns) return;  // a shorter phase

  const uint tx = gl_LocalInvocationID.x;
  const uint ty = gl_LocalInvocationID.y;
  const uint tid = ty * WN + tx;
  const uint threads = WN * WM;
  const uint depth = p.in_channels * m.taps;
  const uint x_base = batch * p.in_channels * p.in_length;

  float acc[TM * TN];
  for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;

  for (uint k0 = 0; k0 < depth; k0 += BK) {
    // a_tile[k][r] = W(m0 + r, k0 + k), 0 past Cout or the depth.
    for (uint e = tid; e < BM * BK; e += threads) {
      const uint k = e % BK;
      const uint r = e / BK;
      const uint row = m0 + r;
      const uint col = k0 + k;
      float v = 0.0;
      if (row < p.out_channels && col < depth) {
        const uint ci = col / m.taps;
        const uint j = col - ci * m.taps;
        v = p.w.v[row * m.w_out + ci * m.w_in + j * m.w_tap + m.w_origin];
      }
      a_tile[k * BM + r] = v;
    }
    // b_tile[k][c] = im2col(x)[k0 + k, n0 + c].
    for (uint e = tid; e < BN * BK; e += threads) {
      const uint c = e % BN;
      const uint k = e / BN;
      const uint col = k0 + k;
      const uint n = n0 + c;
      float v = 0.0;
      if (col < depth && n < m.columns) {
        const uint ci = col / m.taps;
        const uint j = col - ci * m.taps;
        const int pos = int(n) * m.x_step + m.x_origin + int(j) * m.x_tap;
        if (pos >= 0 && pos < int(p.in_length)) v = p.x.v[x_base + ci * p.in_length + uint(pos)];
      }
      b_tile[k * BN + c] = v;
    }
    barrier();
    for (uint k = 0; k < BK; ++k) {
      float a[TM];
      float b[TN];
      for (uint i = 0; i < TM; ++i) a[i] = a_tile[k * BM + ty + i * WM];
      for (uint j = 0; j < TN; ++j) b[j] = b_tile[k * BN + tx + j * WN];
      for (uint i = 0; i < TM; ++i) {
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
      }
    }
    barrier();
  }

  const uint y_base = batch * p.out_channels * p.out_length;
  for (uint i = 0; i < TM; ++i) {
    const uint row = m0 + ty + i * WM;
    if (row >= p.out_channels) continue;
    const float bias = p.has_bias != 0 ? p.bias.v[row] : 0.0;
    for (uint j = 0; j < TN; ++j) {
      const uint n = n0 + tx + j * WN;
      if (n >= m.columns) continue;
      p.y.v[y_base + row * p.out_length + n * m.y_step + m.y_origin] = acc[i * TN + j] + bias;
    }
  }
}
