// Normalisation and position encoding.
#pragma once

#include "ops/op_context.h"

namespace acefit::ops {

// y = x / sqrt(mean(x^2 over the last dim) + eps) * weight. x f32 [..., C],
// weight f32 [C] or undefined (no scaling). Statistics in f64.
Expected<Tensor> rms_norm(const OpContext& ctx, const Tensor& x, const Tensor& weight, float eps);

// Rotary position embedding, rotate-half (NeoX) layout, on x [B, S, H, D]
// (D even): pairs (i, i + D/2) turn by angle p * theta^(-2i/D) at position
// p = position_offset + s.
Expected<Tensor> rope(const OpContext& ctx, const Tensor& x, float theta,
                      std::int64_t position_offset = 0);

}  // namespace acefit::ops
