// The vulkan kernels, one launcher per op (the counterpart of
// ops/cpu/cpu_kernels.h). Inputs are checked by the op (ops/*.cpp) before a
// launcher runs: contiguous, on this device, shapes and dtypes valid, outputs
// allocated. A launcher records work; it does not wait for it.
#pragma once

#include "core/tensor.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::ops::vulkan {

// y = a + b / a * b, b repeating over a's leading dims (b.numel() divides a's).
Status add(VulkanDevice& device, const Tensor& a, const Tensor& b, Tensor& y);

}  // namespace acefit::ops::vulkan
