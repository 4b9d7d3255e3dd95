// The vulkan kernels of ops/layout.h (contiguous, transpose, slice, concat,
// pad, copy_into). Inputs are checked by the op before a launcher runs. Any dtype: the
// kernels move elements of 1, 2, 4 or 8 bytes without looking at them. A
// launcher records work; it does not wait for it.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "device/vulkan/vulkan_device.h"

namespace acefit::ops::vulkan {

// Copies the view src into the view dst (same shape and dtype, any strides
// >= 0, on this device): contiguous, transpose, slice, concat's parts and
// copy_into.
Status strided_copy(VulkanDevice& device, const Tensor& src, Tensor& dst);

// y (contiguous) = x (contiguous) padded along axis with `before` elements
// first and y.dim(axis) - x.dim(axis) - before after, of `value` (f32) or 0.
Status pad(VulkanDevice& device, const Tensor& x, Tensor& y, int axis, std::int64_t before,
           float value);

}  // namespace acefit::ops::vulkan
