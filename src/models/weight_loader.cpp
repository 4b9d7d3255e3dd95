#include "models/weight_loader.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <unordered_map>

#include "io/checkpoint/checkpoint_layout.h"
#include "io/safetensors/safetensors.h"
#include "io/safetensors/safetensors_index.h"

namespace acefit::models {

struct WeightLoader::Files {
  std::optional<SafetensorsFile> single;
  std::optional<ShardedCheckpoint> sharded;
  // name -> (file, index in that file)
  std::unordered_map<std::string, std::pair<const SafetensorsFile*, std::size_t>> by_name;
  // A planned loader: name -> shape, and no files.
  bool planned = false;
  std::unordered_map<std::string, std::vector<std::int64_t>> planned_shapes;
};

namespace {

// The index of the first NaN or infinity among `bytes` read as `dtype`
// (f32, bf16 or f16): an all-ones exponent. One pass, no branches in the
// common case, so it costs little next to reading and converting.
template <typename Bits>
std::optional<std::size_t> first_non_finite_as(std::span<const std::byte> bytes, Bits exponent) {
  const std::size_t count = bytes.size() / sizeof(Bits);
  constexpr std::size_t kBlock = 4096;
  for (std::size_t start = 0; start < count; start += kBlock) {
    const std::size_t end = std::min(count, start + kBlock);
    bool any = false;
    for (std::size_t i = start; i < end; ++i) {
      Bits bits;
      std::memcpy(&bits, bytes.data() + i * sizeof(Bits), sizeof(Bits));
      any |= (bits & exponent) == exponent;
    }
    if (!any) continue;
    for (std::size_t i = start; i < end; ++i) {
      Bits bits;
      std::memcpy(&bits, bytes.data() + i * sizeof(Bits), sizeof(Bits));
      if ((bits & exponent) == exponent) return i;
    }
  }
  return std::nullopt;
}

// corrupt naming the file and the tensor when a loaded weight is NaN or
// infinite: a damaged checkpoint, reported as such rather than as NaN
// latents many steps later.
Status check_loaded_finite(std::span<const std::byte> bytes, DType dtype, const std::string& file,
                           const std::string& name) {
  std::optional<std::size_t> at;
  if (dtype == DType::f32) at = first_non_finite_as<std::uint32_t>(bytes, 0x7f800000u);
  if (dtype == DType::bf16) at = first_non_finite_as<std::uint16_t>(bytes, 0x7f80u);
  if (dtype == DType::f16) at = first_non_finite_as<std::uint16_t>(bytes, 0x7c00u);
  if (!at) return Status();
  return Status(ErrorCode::corrupt, file + ": tensor " + name + ": element " + std::to_string(*at) +
                                        " is NaN or infinite (as " +
                                        std::string(dtype_name(dtype)) +
                                        "): the checkpoint holds a non-finite weight");
}

}  // namespace

WeightLoader::WeightLoader(WeightLoader&&) noexcept = default;
WeightLoader& WeightLoader::operator=(WeightLoader&&) noexcept = default;
WeightLoader::~WeightLoader() = default;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

Expected<WeightLoader> WeightLoader::open(const std::string& model_dir) {
  ACEFIT_ASSIGN(const std::string path, find_weight_file(model_dir));
  WeightLoader loader;
  loader.folder_ = model_dir;
  loader.files_ = std::make_unique<Files>();
  Files& files = *loader.files_;
  const std::string suffix = ".index.json";
  if (path.size() > suffix.size() &&
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    ACEFIT_ASSIGN(ShardedCheckpoint sharded, open_sharded(path));
    files.sharded.emplace(std::move(sharded));
    for (const ShardedTensor& tensor : files.sharded->tensors)
      files.by_name[tensor.name] = {&files.sharded->shards[tensor.shard], tensor.index};
  } else {
    ACEFIT_ASSIGN(SafetensorsFile file, open_safetensors(path));
    files.single.emplace(std::move(file));
    const auto& tensors = files.single->tensors();
    for (std::size_t i = 0; i < tensors.size(); ++i)
      files.by_name[tensors[i].name] = {&*files.single, i};
  }
  return loader;
}

WeightLoader WeightLoader::planned(std::string label, std::vector<TensorSpec> specs) {
  WeightLoader loader;
  loader.folder_ = std::move(label);
  loader.files_ = std::make_unique<Files>();
  loader.files_->planned = true;
  for (TensorSpec& spec : specs) loader.files_->planned_shapes[spec.name] = std::move(spec.shape);
  return loader;
}

bool WeightLoader::has(const std::string& name) const {
  if (files_->planned) return files_->planned_shapes.count(name) != 0;
  return files_->by_name.count(name) != 0;
}

Expected<std::vector<std::int64_t>> WeightLoader::shape(const std::string& name) const {
  if (files_->planned) {
    const auto found = files_->planned_shapes.find(name);
    if (found == files_->planned_shapes.end())
      return Status(ErrorCode::not_found, folder_ + ": tensor " + name + " is missing");
    return found->second;
  }
  const auto found = files_->by_name.find(name);
  if (found == files_->by_name.end())
    return Status(ErrorCode::not_found, folder_ + ": tensor " + name + " is missing");
  const SafetensorsTensorInfo& info = found->second.first->tensors()[found->second.second];
  std::vector<std::int64_t> shape;
  for (const std::uint64_t dim : info.shape) shape.push_back(static_cast<std::int64_t>(dim));
  return shape;
}

Expected<Tensor> WeightLoader::load(Device& device, const std::string& name,
                                    const std::vector<std::int64_t>& expected_shape,
                                    DType dtype) const {
  if (files_->planned && !device.planning())
    return Status(ErrorCode::invalid_argument,
                  folder_ + ": planned weights without files load only on a planning device");
  ACEFIT_ASSIGN(const std::vector<std::int64_t> stored, shape(name));
  if (!expected_shape.empty() && stored != expected_shape) {
    return Status(ErrorCode::corrupt, folder_ + ": tensor " + name + " has shape " +
                                          shape_text(stored) + ", the config implies " +
                                          shape_text(expected_shape));
  }
  if (dtype != DType::f32 && dtype != DType::bf16 && dtype != DType::f16)
    return Status(ErrorCode::invalid_argument, "weights load as f32, bf16 or f16 only");
  const std::optional<Shape> tensor_shape = Shape::from(stored);
  if (!tensor_shape)
    return Status(ErrorCode::corrupt, folder_ + ": tensor " + name + " has too many dims");
  ACEFIT_ASSIGN(Tensor tensor, device.empty(dtype, *tensor_shape, MemoryTag::weights));
  if (tensor.planned()) return tensor;
  const auto& [file, index] = files_->by_name.at(name);
  if (device.host_backed()) {
    const std::span<std::byte> bytes{static_cast<std::byte*>(tensor.raw_data()), tensor.nbytes()};
    ACEFIT_TRY(file->read_tensor_as(index, dtype, bytes));
    ACEFIT_TRY(check_loaded_finite(bytes, dtype, file->path(), name));
  } else {
    std::vector<std::byte> staging(tensor.nbytes());
    ACEFIT_TRY(file->read_tensor_as(index, dtype, staging));
    ACEFIT_TRY(check_loaded_finite(staging, dtype, file->path(), name));
    ACEFIT_TRY(device.copy_from_host(tensor.raw_data(), staging.data(), staging.size()));
  }
  return tensor;
}

}  // namespace acefit::models
