#version 450
// Snake activation per channel: y = x + 1 / (beta + 1e-9) * sin(alpha x)^2,
// alpha = exp(alpha_param) and beta = exp(beta_param) when log_scale.
// x, y f32 [B, C, L] contiguous; alpha, beta f32 [C]. One invocation per element.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP = 256;

layout(push_constant, scalar) uniform Push {
  F32 x;
  F32 alpha;
  F32 beta;
  F32 y;
  uint count;  // B * C * L
  uint sequence;  // L
  uint channels;
  uint log_scale;
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.count) return;
  const uint c = (i / p.sequence) % p.channels;
  float a = p.alpha.v[c];
  float b = p.beta.v[c];
  if (p.log_scale != 0) {
    a = exp(a);
    b = exp(b);
  }
  const float v = p.x.v[i];
  const float s = sin(a * v);
  p.y.v[i] = v + 1.0 / (b + 1e-9) * s * s;
}
