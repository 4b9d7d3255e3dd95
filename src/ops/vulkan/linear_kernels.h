// The vulkan kernels of ops/linear.h: a shared-memory tiled GEMM (with a
// GEMV-like kernel for a few rows of a weight product) and the int8
// quantizer. Inputs are checked by the op (ops/linear.cpp) before a
// launcher runs; outputs are allocated. A launcher records work only.
#pragma once

#include <optional>

#include "core/tensor.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::ops::vulkan {

// How linear and matmul pick their kernels. The defaults are what the ops
// use; tests set the rest to run the kernels another device would get.
struct LinearOptions {
  // Limits to pick tiles, reductions and grids by instead of the device's
  // (a smaller workgroup, less shared memory, no subgroup arithmetic, fewer
  // workgroups per grid dimension); they must not exceed the device's.
  std::optional<VulkanLimits> limits;
  bool few_row_kernel = true;  // the GEMV-like kernel for M <= 4
};

// y[..., N] = x[..., K] W[N, K]^T (* weight_scale[N] for an i8 W) + bias[N].
// bias and weight_scale may be undefined (weight_scale is needed for i8).
Status linear(VulkanDevice& device, const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Tensor& weight_scale, Tensor& y, const LinearOptions& options = {});

// y[..., M, N] = a[..., M, K] b[..., K, N] (b [..., N, K] with transpose_b;
// a 2-D b is shared by every batch item).
Status matmul(VulkanDevice& device, const Tensor& a, const Tensor& b, bool transpose_b, Tensor& y,
              const LinearOptions& options = {});

// q[r, :] = round(weight[r, :] / scale[r]), scale[r] = max|weight[r, :]| / 127
// (1 for a zero row); weight f32 or bf16 [N, K], q i8 [N, K], scale f32 [N].
Status quantize_int8(VulkanDevice& device, const Tensor& weight, Tensor& q, Tensor& scale);

}  // namespace acefit::ops::vulkan
