// The vulkan kernels of ops/conv.h. Inputs are checked by the op before a
// launcher runs (contiguous f32 on this device, shapes valid, outputs
// allocated). A launcher records work; it does not wait for it.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::ops::vulkan {

// y [B, Cout, L_out] = conv1d(x [B, Cin, L], w [Cout, Cin, K]) + bias [Cout]
// (bias may be undefined): an implicit GEMM tiled through shared memory.
Status conv1d(VulkanDevice& device, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
              std::int64_t stride, std::int64_t padding, std::int64_t dilation);

// y [B, Cout, L_out] = conv_transpose1d(x [B, Cin, L], w [Cin, Cout, K]) + bias:
// the gather form, one implicit GEMM per phase of the stride.
Status conv_transpose1d(VulkanDevice& device, const Tensor& x, const Tensor& w, const Tensor& bias,
                        Tensor& y, std::int64_t stride, std::int64_t padding);

// y = x + 1 / (beta + 1e-9) sin(alpha x)^2 per channel of x [B, C, L]
// (alpha, beta [C]; exponentiated first when log_scale).
Status snake(VulkanDevice& device, const Tensor& x, const Tensor& alpha, const Tensor& beta,
             Tensor& y, bool log_scale);

// w [rows, cols] = g [rows] * v / ||v|| row by row (0 for a zero row).
Status weight_norm(VulkanDevice& device, const Tensor& g, const Tensor& v, Tensor& w,
                   std::int64_t rows, std::int64_t cols);

}  // namespace acefit::ops::vulkan
