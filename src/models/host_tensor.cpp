#include "models/host_tensor.h"

namespace acefit::models {

namespace {

template <typename T>
Expected<Tensor> from_host(Device& device, DType dtype, const Shape& shape,
                           std::span<const T> values, MemoryTag tag) {
  if (!shape.valid() || shape.numel() != static_cast<std::int64_t>(values.size())) {
    return Status(ErrorCode::invalid_argument,
                  "tensor_from_host: " + std::to_string(values.size()) +
                      " values do not fill shape " + shape.to_string());
  }
  ACEFIT_ASSIGN(Tensor tensor, device.empty(dtype, shape, tag));
  if (tensor.planned() || values.empty()) return tensor;
  ACEFIT_TRY(device.copy_from_host(tensor.raw_data(), values.data(), values.size_bytes()));
  return tensor;
}

}  // namespace

Expected<Tensor> tensor_from_host(Device& device, const Shape& shape, std::span<const float> values,
                                  MemoryTag tag) {
  return from_host(device, DType::f32, shape, values, tag);
}

Expected<Tensor> tensor_from_host(Device& device, const Shape& shape,
                                  std::span<const std::int64_t> values, MemoryTag tag) {
  return from_host(device, DType::i64, shape, values, tag);
}

Expected<std::vector<float>> tensor_to_host(const Tensor& tensor) {
  if (!tensor.defined()) return Status(ErrorCode::invalid_argument, "tensor_to_host: undefined");
  if (tensor.dtype() != DType::f32)
    return Status(ErrorCode::invalid_argument,
                  "tensor_to_host: f32 only, got " + tensor.describe());
  std::vector<float> values(static_cast<std::size_t>(tensor.numel()));
  if (tensor.planned() || values.empty()) return values;
  Tensor source = tensor;
  // Gather through a contiguous device copy when needed, then copy out.
  Device& device = *tensor.device();
  if (!tensor.is_contiguous()) {
    ACEFIT_ASSIGN(source, copy_to_device(tensor, device, MemoryTag::workspace));
  }
  ACEFIT_TRY(device.copy_to_host(values.data(), source.raw_data(), values.size() * sizeof(float)));
  return values;
}

}  // namespace acefit::models
