#version 450
// Rotary position embedding, rotate-half (NeoX) layout:
//   y[t, h, i]        = x[t, h, i] cos(a) - x[t, h, i + D/2] sin(a)
//   y[t, h, i + D/2]  = x[t, h, i + D/2] cos(a) + x[t, h, i] sin(a)
// with a = float(p) * inv_freq(i), p = offset + t % seq, inv_freq(i) = theta^(-2i/D).
// x, y: f32 [B*S = tokens, H, D]. One invocation per (token, i < D/2), looping
// over heads, so each angle's sin and cos are computed once.
// inv_freq = 2^-(2i * log2(theta) / D): the host passes log2(theta) / D as
// an f32 hi + lo pair, the product with 2i is kept as hi + lo and 2^ of it
// is taken in double-float, so inv_freq is the f32 the CPU rounds its double
// to (an angle at position 40000 would be off by 1e-3 rad otherwise).
#include "common.glsl"
#include "math.glsl"

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;

layout(push_constant, scalar) uniform Push {
  F32 x;
  F32 y;
  uint tokens;  // B * S
  uint seq;
  uint heads;
  uint half_dim;  // D / 2
  uint offset;
  float log2_theta_per_dim_hi;  // log2(theta) / D = hi + lo
  float log2_theta_per_dim_lo;
} p;

void main() {
  const uint index = flat_index(WORKGROUP);  // token * half_dim + i
  if (index >= p.tokens * p.half_dim) return;
  const uint token = index / p.half_dim;
  const uint i = index - token * p.half_dim;
  // e = 2i * log2(theta) / D as hi + lo; inv_freq = 2^-e = 2^-n 2^-(e - n).
  const float k = float(2 * i);
  const vec2 kc = two_product(k, p.log2_theta_per_dim_hi);
  precise float e_lo = kc.y + k * p.log2_theta_per_dim_lo;
  const float n = round(kc.x);
  precise float f = kc.x - n;  // exact
  const float inv_freq = ldexp(exp2_correctly_rounded(vec2(-f, -e_lo)), -int(n));
  const float angle = float(p.offset + token % p.seq) * inv_freq;
  const vec2 sc = sin_cos(angle);
  const uint dim = 2 * p.half_dim;
  for (uint h = 0; h < p.heads; ++h) {
    const uint base = (token * p.heads + h) * dim + i;
    const float x1 = p.x.v[base];
    const float x2 = p.x.v[base + p.half_dim];
    p.y.v[base] = x1 * sc.y - x2 * sc.x;
    p.y.v[base + p.half_dim] = x2 * sc.y + x1 * sc.x;
  }
}
