// Moving small host-side arrays (sinusoids, FSQ values, noise, ids) onto a
// device and results back, the same way on every device kind: a planning
// device only records the allocation.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "device/device.h"

namespace acefit::models {

// A new f32 tensor of `shape` holding `values` (exactly numel of them).
Expected<Tensor> tensor_from_host(Device& device, const Shape& shape, std::span<const float> values,
                                  MemoryTag tag = MemoryTag::activations);
// The same for i64 (token ids, codes).
Expected<Tensor> tensor_from_host(Device& device, const Shape& shape,
                                  std::span<const std::int64_t> values,
                                  MemoryTag tag = MemoryTag::activations);
// The elements of an f32 tensor (any layout), in row-major order. A planned
// tensor gives zeros.
Expected<std::vector<float>> tensor_to_host(const Tensor& tensor);

}  // namespace acefit::models
