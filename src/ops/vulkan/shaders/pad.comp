#version 450
// y = x padded along one axis: y[o, t, j] = x[o, t - before, j] for
// before <= t < before + x_axis, else `fill` (the bits of an f32 value, or 0).
// x [outer, x_axis, inner], y [outer, y_axis, inner], both contiguous, any
// dtype: elements of 1, 2 or 4 bytes (constant_id 1; the launcher moves
// 8-byte elements as pairs of 4-byte ones). One invocation per element of y.
#extension GL_EXT_buffer_reference_uvec2 : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP = 256;
layout(constant_id = 1) const uint ELEMENT_BYTES = 4;

layout(push_constant, scalar) uniform Push {
  uvec2 x;  // device addresses, typed below by ELEMENT_BYTES
  uvec2 y;
  uint count;  // elements of y
  uint inner;
  uint x_axis;
  uint y_axis;
  uint before;
  uint fill;
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.count) return;
  const uint j = i % p.inner;
  const uint row = i / p.inner;
  const uint t = row % p.y_axis;
  const uint o = row / p.y_axis;
  const bool inside = t >= p.before && t - p.before < p.x_axis;
  if (!inside) {
    if (ELEMENT_BYTES == 1) {
      I8(p.y).v[i] = int8_t(p.fill);
    } else if (ELEMENT_BYTES == 2) {
      U16(p.y).v[i] = uint16_t(p.fill);
    } else {
      I32(p.y).v[i] = int(p.fill);
    }
    return;
  }
  const uint s = (o * p.x_axis + (t - p.before)) * p.inner + j;
  if (ELEMENT_BYTES == 1) {
    I8(p.y).v[i] = I8(p.x).v[s];
  } else if (ELEMENT_BYTES == 2) {
    U16(p.y).v[i] = U16(p.x).v[s];
  } else {
    I32(p.y).v[i] = I32(p.x).v[s];
  }
}
