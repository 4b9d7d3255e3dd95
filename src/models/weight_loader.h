// Reads the named tensors of one checkpoint folder onto a device: the weight
// file is found as acestep-model.md 3.1 says (model.safetensors, a sharded
// index, or diffusion_pytorch_model.safetensors), every tensor's shape is
// checked against what the model code expects before a byte is read, and
// the values are converted to the dtype the device computes with. On a
// planning device the memory is reserved and nothing is read. A planned
// loader (WeightLoader::planned) has tensor specs and no files: it answers
// has()/shape() from the specs and loads only onto a planning device, so
// memory can be planned at the shipped dims without a checkpoint.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "device/device.h"
#include "io/checkpoint/checkpoint_tensors.h"

namespace acefit::models {

class WeightLoader {
 public:
  static Expected<WeightLoader> open(const std::string& model_dir);
  // Weights without files: `specs` (e.g. expected_dit_tensors(config))
  // give the names and shapes; `label` names it in messages (folder()).
  static WeightLoader planned(std::string label, std::vector<TensorSpec> specs);

  WeightLoader(WeightLoader&&) noexcept;
  WeightLoader& operator=(WeightLoader&&) noexcept;
  ~WeightLoader();

  const std::string& folder() const { return folder_; }
  bool has(const std::string& name) const;
  // The stored shape; not_found naming the tensor and the file.
  Expected<std::vector<std::int64_t>> shape(const std::string& name) const;

  // Loads `name` as `dtype` (f32, bf16 or f16) after checking it has
  // `expected_shape` (empty: any). The tensor carries the weights tag. A
  // planned loader fails with invalid_argument unless `device` is a
  // planning device.
  Expected<Tensor> load(Device& device, const std::string& name,
                        const std::vector<std::int64_t>& expected_shape,
                        DType dtype = DType::f32) const;

 private:
  struct Files;
  WeightLoader() = default;
  std::string folder_;
  std::unique_ptr<Files> files_;
};

// "[2048, 64, 7]"
std::string shape_text(const std::vector<std::int64_t>& shape);

}  // namespace acefit::models
