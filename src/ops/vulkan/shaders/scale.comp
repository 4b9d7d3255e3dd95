#version 450
// y[i] = x[i] * factor. x, y: f32 [n]. One invocation per element.
#include "common.glsl"

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;

layout(push_constant, scalar) uniform Push {
  F32 x;
  F32 y;
  uint n;
  float factor;
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.n) return;
  p.y.v[i] = p.x.v[i] * p.factor;
}
