#version 450
// Gated residual: y[b, s, c] = x[b, s, c] + gate[b, c] * update[b, s, c].
// x, update, y: f32 [B, S, C] flat [n]; gate: f32 [B, C]. One invocation per element.
#include "common.glsl"

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;

layout(push_constant, scalar) uniform Push {
  F32 x;
  F32 update;
  F32 gate;
  F32 y;
  uint n;         // B * S * C
  uint seq_cols;  // S * C
  uint cols;      // C
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.n) return;
  const uint v = (i / p.seq_cols) * p.cols + i % p.cols;  // [b, c]
  p.y.v[i] = p.x.v[i] + p.gate.v[v] * p.update.v[i];
}
