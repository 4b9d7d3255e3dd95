#version 450
// y = conv1d(x, W) + bias, PyTorch semantics, groups = 1:
//   y[b, co, t] = bias[co] + sum_{ci, k} W[co, ci, k] x[b, ci, t*stride - padding + k*dilation]
// x [B, Cin, L], W [Cout, Cin, K], bias [Cout], y [B, Cout, L_out]; x is 0
// outside [0, L). An implicit GEMM (conv_gemm.glsl) with one phase:
// W as [Cout, Cin*K] times im2col(x) [Cin*K, L_out].
#include "conv_gemm.glsl"

Maps phase_maps(uint phase) {
  Maps m;
  m.taps = p.kernel;
  m.w_out = p.in_channels * p.kernel;
  m.w_in = p.kernel;
  m.w_tap = 1;
  m.w_origin = 0;
  m.x_step = int(p.stride);
  m.x_origin = -int(p.padding);
  m.x_tap = int(p.dilation);
  m.y_step = 1;
  m.y_origin = 0;
  m.columns = p.out_length;
  return m;
}
