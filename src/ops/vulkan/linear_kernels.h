// The vulkan kernels of ops/linear.h: a shared-memory tiled GEMM (with a
// GEMV-like kernel for a few rows of a weight product) and the int8
// quantizer. Inputs are checked by the op (ops/linear.cpp) before a
// launcher runs; outputs are allocated. A launcher records work only.
#pragma once

#include "core/tensor.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::ops::vulkan {

// y[..., N] = x[..., K] W[N, K]^T (* weight_scale[N] for an i8 W) + bias[N].
// bias and weight_scale may be undefined (weight_scale is needed for i8).
Status linear(VulkanDevice& device, const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Tensor& weight_scale, Tensor& y);

// y[..., M, N] = a[..., M, K] b[..., K, N] (b [..., N, K] with transpose_b;
// a 2-D b is shared by every batch item).
Status matmul(VulkanDevice& device, const Tensor& a, const Tensor& b, bool transpose_b, Tensor& y);

// q[r, :] = round(weight[r, :] / scale[r]), scale[r] = max|weight[r, :]| / 127
// (1 for a zero row); weight f32 or bf16 [N, K], q i8 [N, K], scale f32 [N].
Status quantize_int8(VulkanDevice& device, const Tensor& weight, Tensor& q, Tensor& scale);

}  // namespace acefit::ops::vulkan
