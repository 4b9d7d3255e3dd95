#version 450
// dst[index] = src[index] for every multi-index of `shape`: copies one
// strided view into another of the same shape (contiguous, transpose, slice,
// concat). Any dtype: elements of 1, 2, 4 or 8 bytes (constant_id 1); an
// 8-byte element moves as two 32-bit words. No arithmetic on the values.
// shape [rank] (rank <= 8, merged where both views allow), src_stride and
// dst_stride [rank] in elements; one invocation per element, its flat index
// (innermost dim fastest) decomposed over the shape.
#extension GL_EXT_buffer_reference_uvec2 : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WORKGROUP = 256;
layout(constant_id = 1) const uint ELEMENT_BYTES = 4;

layout(push_constant, scalar) uniform Push {
  uvec2 src;  // device addresses, typed below by ELEMENT_BYTES
  uvec2 dst;
  uint count;  // elements
  uint rank;
  uint shape[8];
  uint src_stride[8];
  uint dst_stride[8];
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.count) return;
  uint rest = i;
  uint s = 0;
  uint d = 0;
  for (int axis = int(p.rank) - 1; axis >= 0; --axis) {
    const uint coord = rest % p.shape[axis];
    rest /= p.shape[axis];
    s += coord * p.src_stride[axis];
    d += coord * p.dst_stride[axis];
  }
  if (ELEMENT_BYTES == 1) {
    I8(p.dst).v[d] = I8(p.src).v[s];
  } else if (ELEMENT_BYTES == 2) {
    U16(p.dst).v[d] = U16(p.src).v[s];
  } else if (ELEMENT_BYTES == 4) {
    I32(p.dst).v[d] = I32(p.src).v[s];
  } else {
    I32(p.dst).v[2 * d] = I32(p.src).v[2 * s];
    I32(p.dst).v[2 * d + 1] = I32(p.src).v[2 * s + 1];
  }
}
