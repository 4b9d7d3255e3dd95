#version 450
// y[i] = a[i] * b[i % nb]: elementwise product, b repeating over a's leading
// dims. a, y: f32 [n]; b: f32 [nb], nb divides n. One invocation per element.
#include "common.glsl"

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;

layout(push_constant, scalar) uniform Push {
  F32 a;
  F32 b;
  F32 y;
  uint n;
  uint nb;
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.n) return;
  p.y.v[i] = p.a.v[i] * p.b.v[i % p.nb];
}
