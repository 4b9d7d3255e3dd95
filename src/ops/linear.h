// Linear layers and matrix products.
#pragma once

#include <utility>

#include "ops/op_context.h"

namespace acefit::ops {

// y[..., N] = x[..., K] W[N, K]^T + bias[N].
// W is f32, bf16, or i8 with weight_scale[N] (f32, per output row: the
// weight is W_i8 * scale). x and the result are f32. bias may be undefined.
Expected<Tensor> linear(const OpContext& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias = {}, const Tensor& weight_scale = {});

// Per-output-row symmetric int8 quantization of an f32 or bf16 weight
// [N, K]: scale = max|row| / 127, q = round(w / scale). Both results carry
// the weights tag. Returns {q (i8 [N, K]), scale (f32 [N])}.
Expected<std::pair<Tensor, Tensor>> quantize_int8(const OpContext& ctx, const Tensor& weight);

// Batched product: a[..., M, K] b[..., K, N] -> [..., M, N] (f32). With
// transpose_b, b is [..., N, K]. b's batch dims equal a's, or b is 2-D and
// shared by every batch item.
Expected<Tensor> matmul(const OpContext& ctx, const Tensor& a, const Tensor& b,
                        bool transpose_b = false);

}  // namespace acefit::ops
