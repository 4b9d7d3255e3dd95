// 1-D convolutions over x [B, C, L] (f32), PyTorch semantics, groups = 1.
#pragma once

#include "ops/op_context.h"

namespace acefit::ops {

struct Conv1dOptions {
  std::int64_t stride = 1;
  std::int64_t padding = 0;  // zeros on both sides
  std::int64_t dilation = 1;
};

// weight [Cout, Cin, K], bias [Cout] or undefined.
// L_out = (L + 2 padding - dilation (K - 1) - 1) / stride + 1.
Expected<Tensor> conv1d(const OpContext& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, const Conv1dOptions& options = {});

// weight [Cin, Cout, K], bias [Cout] or undefined (dilation and output
// padding are not supported: the checkpoints do not use them).
// L_out = (L - 1) stride - 2 padding + K.
Expected<Tensor> conv_transpose1d(const OpContext& ctx, const Tensor& x, const Tensor& weight,
                                  const Tensor& bias, std::int64_t stride = 1,
                                  std::int64_t padding = 0);

// Snake activation per channel of x [B, C, L]:
// y = x + 1 / (beta + 1e-9) * sin(alpha x)^2, with alpha = exp(alpha_param)
// and beta = exp(beta_param) when log_scale (the Oobleck VAE's form).
// alpha and beta are [C] (a [1, C, 1] checkpoint tensor reshapes to that).
Expected<Tensor> snake(const OpContext& ctx, const Tensor& x, const Tensor& alpha,
                       const Tensor& beta, bool log_scale = true);

// Folds weight normalisation: w = g * v / ||v||, the norm over every dim but
// dim 0. g is [Cout, 1, ...] or [Cout]; v is [Cout, ...]. Result f32 like v,
// tagged as weights.
Expected<Tensor> weight_norm_fold(const OpContext& ctx, const Tensor& g, const Tensor& v);

}  // namespace acefit::ops
