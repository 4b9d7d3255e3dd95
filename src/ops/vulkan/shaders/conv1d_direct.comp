#version 450
// y = conv1d(x, W) + bias for small channel counts, one output per
// invocation, no shared memory:
//   y[b, co, t] = bias[co] + sum_{ci, k} W[co, ci, k] x[b, ci, t*stride - padding + k*dilation]
// x [B, Cin, L], W [Cout, Cin, K], bias [Cout], y [B, Cout, L_out]; x is 0
// outside [0, L). Neighbouring invocations take neighbouring t of one
// (b, co), so x loads are coalesced and W loads are uniform.
#include "common.glsl"

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;

layout(push_constant, scalar) uniform Push {
  F32 x;
  F32 w;
  F32 bias;
  F32 y;
  uint in_channels;
  uint out_channels;
  uint in_length;
  uint out_length;
  uint kernel;
  uint stride;
  uint padding;
  uint dilation;
  uint has_bias;
  uint count;  // B * Cout * L_out
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.count) return;
  const uint t = i % p.out_length;
  const uint row = i / p.out_length;  // b * Cout + co
  const uint co = row % p.out_channels;
  const uint b = row / p.out_channels;
  const int origin = int(t * p.stride) - int(p.padding);
  // Taps whose input position lies in [0, L): k in [k_begin, k_end).
  const int d = int(p.dilation);
  const int k_begin = origin >= 0 ? 0 : (-origin + d - 1) / d;
  const int k_end = min(int(p.kernel), (int(p.in_length) - origin + d - 1) / d);
  float acc = p.has_bias != 0 ? p.bias.v[co] : 0.0;
  uint x_row = b * p.in_channels * p.in_length;
  uint w_row = co * p.in_channels * p.kernel;
  for (uint ci = 0; ci < p.in_channels; ++ci) {
    for (int k = k_begin; k < k_end; ++k) {
      acc += p.w.v[w_row + uint(k)] * p.x.v[x_row + uint(origin + k * d)];
    }
    x_row += p.in_length;
    w_row += p.kernel;
  }
  p.y.v[i] = acc;
}
