// Copies of a model's weights on another device (for offload: weights kept
// on the host, a copy made on the GPU for a stage and dropped after it) and
// their byte counts. A model lists its tensors with
// `void collect_weights(std::vector<Tensor*>& out)`; a copy of the model
// object shares every tensor's storage with the original until
// copy_tensors_to replaces them.
#pragma once
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "device/device.h"

namespace acefit::models {

// Replaces each defined tensor that is not on `device` by a contiguous copy
// there (copy_to_device, weights tag). Tensors already on `device` stay
// shared: weights are never written after loading. On failure some tensors
// may have been replaced; callers drop the half-copied object.
Status copy_tensors_to(const std::vector<Tensor*>& tensors, Device& device);

// Bytes of the defined tensors, each rounded up to granularity_bytes (pass
// device.budget().granularity_bytes() for what a copy reserves there).
std::uint64_t tensor_bytes(const std::vector<Tensor*>& tensors,
                           std::uint64_t granularity_bytes = 1);

// The model (its config and geometry) with every weight on `device`.
template <class Model>
Expected<Model> copy_model_to(const Model& model, Device& device) {
  Model copy = model;
  std::vector<Tensor*> tensors;
  copy.collect_weights(tensors);
  ACEFIT_TRY(copy_tensors_to(tensors, device));
  return copy;
}

// Bytes of every weight the model holds (see tensor_bytes).
template <class Model>
std::uint64_t weight_bytes(const Model& model, std::uint64_t granularity_bytes = 1) {
  Model view = model;  // shares the storage; collect_weights is non-const
  std::vector<Tensor*> tensors;
  view.collect_weights(tensors);
  return tensor_bytes(tensors, granularity_bytes);
}

}  // namespace acefit::models
