#version 450
// y = conv_transpose1d(x, W) + bias, PyTorch semantics (no dilation):
//   y[b, co, t] = bias[co] + sum over ci, k with t = l*stride - padding + k of
//                 x[b, ci, l] W[ci, co, k]
// x [B, Cin, L], W [Cin, Cout, K], bias [Cout], y [B, Cout, L_out].
// Gather form, split into `stride` phases so no tap is wasted: the outputs
// t = u*stride + r (phase r) are reached by the taps k = kp + j*stride with
// kp = (r + padding) % stride, from l = u + c - j, c = (r + padding) / stride.
// Each phase is a conv over u with ceil((K - kp) / stride) reversed taps,
// run as the implicit GEMM of conv_gemm.glsl.
#include "conv_gemm.glsl"

Maps phase_maps(uint phase) {
  const uint s = p.stride;
  const uint kp = (phase + p.padding) % s;
  Maps m;
  m.taps = kp < p.kernel ? (p.kernel - kp + s - 1) / s : 0;
  m.w_out = p.kernel;
  m.w_in = p.out_channels * p.kernel;
  m.w_tap = s;
  m.w_origin = kp;
  m.x_step = 1;
  m.x_origin = int((phase + p.padding) / s);
  m.x_tap = -1;
  m.y_step = s;
  m.y_origin = phase;
  m.columns = phase < p.out_length ? (p.out_length - phase + s - 1) / s : 0;
  return m;
}
