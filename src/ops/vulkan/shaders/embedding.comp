#version 450
// y[t, j] = table[ids[t], j]: rows of an f32 or bf16 table (TABLE_BF16,
// specialization constant 1) gathered into f32. table: [vocab, width];
// ids: i32 [count], or i64 read as (lo, hi) words (WORDS 2, constant 2);
// y: f32 [count, width]. One invocation per output element. An id outside
// the table writes zeros (embedding_check reports it; nothing is read out of
// bounds).
#include "common.glsl"

layout(constant_id = 0) const uint WORKGROUP = 256;
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TABLE_BF16 = 0;
layout(constant_id = 2) const uint WORDS = 1;

layout(push_constant, scalar) uniform Push {
  F32 table32;
  U16 table16;  // the same address, for a bf16 table
  I32 ids;
  F32 y;
  uint n;  // count * width
  uint width;
  uint vocab;
} p;

void main() {
  const uint i = flat_index(WORKGROUP);
  if (i >= p.n) return;
  const uint t = i / p.width;
  const uint j = i - t * p.width;
  const uint id = uint(p.ids.v[t * WORDS]);
  const bool valid = id < p.vocab && (WORDS == 1 || p.ids.v[t * WORDS + 1] == 0);
  float v = 0.0;
  if (valid) {
    const uint at = id * p.width + j;
    v = TABLE_BF16 != 0 ? bf16_to_f32(p.table16.v[at]) : p.table32.v[at];
  }
  p.y.v[i] = v;
}
