// Per-item adaptive modulation (the DiT's adaLN-style conditioning) on
// x [B, S, C] with per-item vectors of shape [B, C] (a [B, 1, C] view is
// accepted too), all f32.
#pragma once
#include "ops/op_context.h"

namespace acefit::ops {

// y[b, s, c] = x[b, s, c] * (1 + scale[b, c]) + shift[b, c].
Expected<Tensor> modulate(const OpContext& ctx, const Tensor& x, const Tensor& shift,
                          const Tensor& scale);

// y[b, s, c] = x[b, s, c] + gate[b, c] * update[b, s, c].
Expected<Tensor> gated_add(const OpContext& ctx, const Tensor& x, const Tensor& update,
                           const Tensor& gate);

}  // namespace acefit::ops
