#version 450
// Folds weight normalisation: w[r, :] = g[r] * v[r, :] / ||v[r, :]|| (0 for a
// zero row). v, w f32 [rows, cols]; g f32 [rows]. One workgroup per row
// (rows numbered over x then y of the grid): each invocation sums squares
// over a strided part of the row, a shared-memory tree reduces them, then
// the row is scaled.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP = 256;  // a power of two

layout(push_constant, scalar) uniform Push {
  F32 g;
  F32 v;
  F32 w;
  uint rows;
  uint cols;
} p;

shared float partial[WORKGROUP];

void main() {
  const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (row >= p.rows) return;
  const uint t = gl_LocalInvocationID.x;
  const uint base = row * p.cols;
  float sum = 0.0;
  for (uint j = t; j < p.cols; j += WORKGROUP) {
    const float x = p.v.v[base + j];
    sum = fma(x, x, sum);
  }
  partial[t] = sum;
  barrier();
  for (uint half_size = WORKGROUP / 2; half_size > 0; half_size /= 2) {
    if (t < half_size) partial[t] += partial[t + half_size];
    barrier();
  }
  const float norm = sqrt(partial[0]);
  const float factor = norm > 0.0 ? p.g.v[row] / norm : 0.0;
  for (uint j = t; j < p.cols; j += WORKGROUP) p.w.v[base + j] = p.v.v[base + j] * factor;
}
