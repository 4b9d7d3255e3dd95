#version 450
// Finds the first id outside [0, vocab): status[0] = its index, or count when
// every id is valid. ids: i32 [count], or i64 [count] read as (lo, hi) i32
// words (WORDS = 2, specialization constant 1). One workgroup of WG
// invocations strides over the ids (text-length inputs: tiny); no
// initialisation of status is needed.
#include "common.glsl"

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WORDS = 1;

layout(push_constant, scalar) uniform Push {
  I32 ids;
  I32 status;
  uint count;
  uint vocab;
} p;

shared uint first_bad;

void main() {
  const uint lane = gl_LocalInvocationID.x;
  if (lane == 0) first_bad = p.count;
  barrier();
  for (uint j = lane; j < p.count; j += WG) {
    const uint lo = uint(p.ids.v[j * WORDS]);
    const bool high_ok = WORDS == 1 || p.ids.v[j * WORDS + 1] == 0;
    if (!(high_ok && lo < p.vocab)) {  // a negative id is a huge lo (i32) or hi != 0 (i64)
      atomicMin(first_bad, j);
      break;  // this invocation's later ids come after j
    }
  }
  barrier();
  if (lane == 0) p.status.v[0] = int(first_bad);
}
