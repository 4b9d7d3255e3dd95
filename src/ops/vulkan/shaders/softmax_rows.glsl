// Shared by softmax.comp (shared-memory row reductions) and
// softmax_subgroup.comp (subgroup arithmetic, ROW_SUBGROUP defined).
// Softmax over the last dim: y[r, j] = exp(x[r, j] - max_r) / sum_j exp(x[r, j] - max_r).
// x, y: f32 [rows, cols]. One workgroup per row (WG invocations striding
// over its columns, so any row length works): a max reduction, then a sum
// of the shifted exponentials (stored in y), then a rescale of y.
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#include "math.glsl"
#include "reduce.glsl"

layout(push_constant, scalar) uniform Push {
  F32 x;
  F32 y;
  uint rows;
  uint cols;
} p;

void main() {
  const uint row = workgroup_row();
  if (row >= p.rows) return;  // whole workgroups only: no barrier is skipped by part of one
  const uint lane = gl_LocalInvocationID.x;
  const uint base = row * p.cols;
  float peak = uintBitsToFloat(0xff800000u);  // -inf
  for (uint j = lane; j < p.cols; j += WG) peak = max(peak, p.x.v[base + j]);
  peak = workgroup_max(peak);
  float sum = 0.0;
  for (uint j = lane; j < p.cols; j += WG) {
    const float e = exp_f32(p.x.v[base + j] - peak);
    p.y.v[base + j] = e;
    sum += e;
  }
  const float inv = 1.0 / workgroup_sum(sum);
  for (uint j = lane; j < p.cols; j += WG) p.y.v[base + j] *= inv;
}
