// Activations and softmax (f32, any shape).
#pragma once

#include "ops/op_context.h"

namespace acefit::ops {

Expected<Tensor> silu(const OpContext& ctx, const Tensor& x);  // x * sigmoid(x)
// Exact (erf) GELU, or the tanh approximation.
Expected<Tensor> gelu(const OpContext& ctx, const Tensor& x, bool tanh_approximation = false);
// silu(gate) * up, same shapes.
Expected<Tensor> swiglu(const OpContext& ctx, const Tensor& gate, const Tensor& up);
// Softmax over the last dim.
Expected<Tensor> softmax(const OpContext& ctx, const Tensor& x);

}  // namespace acefit::ops
