#version 450
// Per-row symmetric int8 quantization, bit-identical to the CPU's:
// scale[r] = max_j |w[r, j]| / 127 (1 for an all-zero row), q[r, j] =
// clamp(round_half_even(w[r, j] * (1 / scale[r])), -127, 127).
// w: f32 or bf16 (SRC_BF16, read as uint16 and widened) [rows, cols];
// q: int8 [rows, cols]; scale: f32 [rows].
//
// One workgroup per row (rows spread over a 2-D grid, x first): a
// shared-memory max over the row, then every invocation quantizes a strided
// share of it. The two divisions are done in integer arithmetic, correctly
// rounded, because Vulkan lets a float division be off by 2.5 ulp.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint THREADS = 256;  // a power of two
layout(constant_id = 1) const uint SRC_BF16 = 0;

layout(push_constant, scalar) uniform Push {
  F32 w_f32;
  U16 w_u16;
  I8 q;
  F32 scale;
  uint rows;
  uint cols;
} p;

shared float peaks[THREADS];
shared float row_inverse;

float load_w(uint i) {
  return SRC_BF16 != 0 ? bf16_to_f32(p.w_u16.v[i]) : p.w_f32.v[i];
}

// a / b rounded to nearest even, for finite positive normal a and b whose
// quotient is normal: a restoring division of the 24-bit significands.
float divide_rounded(float a, float b) {
  const uint ia = floatBitsToUint(a), ib = floatBitsToUint(b);
  const uint ea = ia >> 23, eb = ib >> 23;
  if (ea == 0 || eb == 0 || ea == 255 || eb == 255) return a / b;
  uint ma = (ia & 0x7FFFFFu) | 0x800000u;
  const uint mb = (ib & 0x7FFFFFu) | 0x800000u;
  int e = int(ea) - int(eb);
  if (ma < mb) {
    ma <<= 1;
    e -= 1;
  }
  // ma / mb in [1, 2): 24 quotient bits and one guard bit, remainder = sticky.
  uint q = 0, r = ma;
  for (int i = 0; i < 25; ++i) {
    q <<= 1;
    if (r >= mb) {
      r -= mb;
      q |= 1u;
    }
    r <<= 1;
  }
  const uint guard = q & 1u;
  q >>= 1;
  if (guard != 0 && (r != 0 || (q & 1u) != 0)) q += 1;
  if (q == 0x1000000u) {
    q >>= 1;
    e += 1;
  }
  const int biased = e + 127;
  if (biased <= 0 || biased >= 255) return a / b;
  return uintBitsToFloat((uint(biased) << 23) | (q & 0x7FFFFFu));
}

void main() {
  const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (row >= p.rows) return;  // uniform over the workgroup
  const uint t = gl_LocalInvocationID.x;
  const uint base = row * p.cols;

  // peak = max |w| as the CPU takes it: (peak < v) ? v : peak.
  float peak = 0.0;
  for (uint j = t; j < p.cols; j += THREADS) {
    const float v = abs(load_w(base + j));
    if (peak < v) peak = v;
  }
  peaks[t] = peak;
  barrier();
  for (uint stride = THREADS / 2; stride > 0; stride /= 2) {
    if (t < stride && peaks[t] < peaks[t + stride]) peaks[t] = peaks[t + stride];
    barrier();
  }
  if (t == 0) {
    const float s = peaks[0] > 0.0 ? divide_rounded(peaks[0], 127.0) : 1.0;
    p.scale.v[row] = s;
    row_inverse = divide_rounded(1.0, s);
  }
  barrier();
  const float inv = row_inverse;
  for (uint j = t; j < p.cols; j += THREADS) {
    precise const float v = roundEven(load_w(base + j) * inv);
    p.q.v[base + j] = int8_t(clamp(v, -127.0, 127.0));
  }
}
