#version 450
// y[i] = f(x[i]) for an activation chosen by specialization constant 1:
//   0 silu       x * sigmoid(x)
//   1 gelu       x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))   (exact, via erfc)
//   2 gelu_tanh  0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3)
// x, y: f32 [n]. One invocation per element.
#include "common.glsl"
#include "math.glsl"

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ACTIVATION = 0;

layout(push_constant, scalar) uniform Push {
  F32 x;
  F32 y;
  uint n;
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.n) return;
  const float v = p.x.v[i];
  float r;
  if (ACTIVATION == 0) {
    r = v / (1.0 + exp_f32(-v));
  } else if (ACTIVATION == 1) {
    r = v * normal_cdf(v);
  } else {
    const float u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
    r = v / (1.0 + exp_f32(-2.0 * u));
  }
  p.y.v[i] = r;
}
