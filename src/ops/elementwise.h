// Elementwise arithmetic (f32). b may equal a's shape or be a suffix of it
// (b = [C] against a = [B, T, C]), in which case it repeats.
#pragma once

#include "ops/op_context.h"

namespace acefit::ops {

Expected<Tensor> add(const OpContext& ctx, const Tensor& a, const Tensor& b);
Expected<Tensor> mul(const OpContext& ctx, const Tensor& a, const Tensor& b);
Expected<Tensor> scale(const OpContext& ctx, const Tensor& x, float factor);

}  // namespace acefit::ops
