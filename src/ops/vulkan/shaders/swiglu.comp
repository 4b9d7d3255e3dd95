#version 450
// y[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i].
// gate, up, y: f32 [n]. One invocation per element.
#include "common.glsl"
#include "math.glsl"

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;

layout(push_constant, scalar) uniform Push {
  F32 gate;
  F32 up;
  F32 y;
  uint n;
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.n) return;
  const float g = p.gate.v[i];
  p.y.v[i] = g / (1.0 + exp_f32(-g)) * p.up.v[i];
}
