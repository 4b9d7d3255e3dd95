// Shared by rms_norm.comp (shared-memory row reductions) and
// rms_norm_subgroup.comp (subgroup arithmetic, ROW_SUBGROUP defined).
// RMSNorm: y[r, j] = x[r, j] * inv_r * w[j], inv_r = 1 / sqrt(mean_j x[r, j]^2 + eps).
// x, y: f32 [rows, cols]; w: f32 [cols], or absent (has_weight 0: no scaling).
// One workgroup per row (WG invocations striding over its columns); the sum
// of squares is f32, summed per invocation then by a balanced tree.
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

#include "reduce.glsl"

layout(push_constant, scalar) uniform Push {
  F32 x;
  F32 w;
  F32 y;
  uint rows;
  uint cols;
  uint has_weight;
  float eps;
} p;

void main() {
  const uint row = workgroup_row();
  if (row >= p.rows) return;  // whole workgroups only
  const uint lane = gl_LocalInvocationID.x;
  const uint base = row * p.cols;
  float sum = 0.0;
  for (uint j = lane; j < p.cols; j += WG) {
    const float v = p.x.v[base + j];
    sum = fma(v, v, sum);
  }
  const float mean = workgroup_sum(sum) / float(p.cols);
  const float inv = 1.0 / sqrt(mean + p.eps);
  if (p.has_weight != 0) {
    for (uint j = lane; j < p.cols; j += WG) p.y.v[base + j] = p.x.v[base + j] * inv * p.w.v[j];
  } else {
    for (uint j = lane; j < p.cols; j += WG) p.y.v[base + j] = p.x.v[base + j] * inv;
  }
}
