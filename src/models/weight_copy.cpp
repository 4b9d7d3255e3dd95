// Copying collected weight tensors to a device and counting their bytes.
#include "models/weight_copy.h"

namespace acefit::models {

Status copy_tensors_to(const std::vector<Tensor*>& tensors, Device& device) {
  for (Tensor* tensor : tensors) {
    if (!tensor->defined() || tensor->device() == &device) continue;
    ACEFIT_ASSIGN(*tensor, copy_to_device(*tensor, device, MemoryTag::weights));
  }
  return {};
}

std::uint64_t tensor_bytes(const std::vector<Tensor*>& tensors, std::uint64_t granularity_bytes) {
  const std::uint64_t g = granularity_bytes == 0 ? 1 : granularity_bytes;
  std::uint64_t total = 0;
  for (const Tensor* tensor : tensors) {
    if (!tensor->defined()) continue;
    total += (tensor->nbytes() + g - 1) / g * g;
  }
  return total;
}

}  // namespace acefit::models
