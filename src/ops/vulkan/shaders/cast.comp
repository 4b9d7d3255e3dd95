#version 450
// y[i] = x[i] converted between f32, f16 and bf16 (specialization constants
// 1 FROM and 2 TO: 0 f32, 1 f16, 2 bf16), bit for bit as the CPU does
// (core/dtype.h): round to nearest even, NaN stays NaN (quiet for bf16),
// overflow to inf, f16 subnormals exact. All integer work on the bits, so no
// driver's denormal flushing or NaN canonicalisation can change a value.
// x, y: [n] of their dtypes. One invocation per element.
#include "common.glsl"

layout(buffer_reference, scalar, buffer_reference_align = 4) buffer U32 { uint v[]; };

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FROM = 0;
layout(constant_id = 2) const uint TO = 2;

layout(push_constant, scalar) uniform Push {
  U32 x32;  // x as 32-bit words (FROM f32)
  U16 x16;  // the same address as 16-bit halves (FROM f16 / bf16)
  U32 y32;
  U16 y16;
  uint n;
} p;

uint f16_bits_to_f32_bits(uint h) {
  const uint sign = (h & 0x8000u) << 16;
  const uint exponent = (h >> 10) & 0x1fu;
  const uint mantissa = h & 0x3ffu;
  if (exponent == 0) {
    if (mantissa == 0) return sign;
    const int top = findMSB(mantissa);  // subnormal: mantissa * 2^-24, normal in f32
    return sign | (uint(top + 103) << 23) | ((mantissa << (23 - top)) & 0x7fffffu);
  }
  if (exponent == 31) return sign | 0x7f800000u | (mantissa << 13);
  return sign | ((exponent + 112u) << 23) | (mantissa << 13);
}

uint f32_bits_to_bf16_bits(uint bits) {
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return (bits >> 16) | 0x0040u;
  }
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return bits >> 16;
}

uint f32_bits_to_f16_bits(uint bits) {
  const uint sign = (bits >> 16) & 0x8000u;
  const uint abs_bits = bits & 0x7fffffffu;
  if (abs_bits >= 0x7f800000u) return sign | 0x7c00u | (abs_bits > 0x7f800000u ? 0x0200u : 0u);
  if (abs_bits >= 0x477ff000u) return sign | 0x7c00u;  // overflow
  if (abs_bits < 0x38800000u) {
    // f16 subnormal or zero: round(value / 2^-24) to nearest even, where
    // value = m 2^(e - 150), i.e. m >> (126 - e) in units of 2^-24.
    const uint e = abs_bits >> 23;
    if (e == 0) return sign;  // f32 zero or subnormal: far below 2^-25
    const uint shift = 126u - e;  // >= 14
    if (shift > 24u) return sign;  // below 2^-25: rounds to zero
    const uint m = (abs_bits & 0x7fffffu) | 0x800000u;
    uint q = m >> shift;
    const uint rest = m & ((1u << shift) - 1u);
    const uint half_ulp = 1u << (shift - 1u);
    if (rest > half_ulp || (rest == half_ulp && (q & 1u) != 0)) q += 1u;
    return sign | q;
  }
  uint rebased = abs_bits - 0x38000000u;  // exponent 127 -> 15
  rebased += 0x0fffu + ((rebased >> 13) & 1u);
  return sign | (rebased >> 13);
}

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.n) return;
  const uint bits = FROM == 0 ? p.x32.v[i]
                    : FROM == 1 ? f16_bits_to_f32_bits(uint(p.x16.v[i]))
                                : uint(p.x16.v[i]) << 16;
  if (TO == 0) {
    p.y32.v[i] = bits;
  } else {
    p.y16.v[i] = uint16_t(TO == 1 ? f32_bits_to_f16_bits(bits) : f32_bits_to_bf16_bits(bits));
  }
}
