#include "device/device.h"

#include <cstring>
#include <limits>

#include "core/timer.h"

namespace acefit {

std::string_view device_kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::cpu:
      return "cpu";
    case DeviceKind::sim:
      return "sim";
    case DeviceKind::cuda:
      return "cuda";
    case DeviceKind::vulkan:
      return "vulkan";
  }
  return "unknown";
}

// Storage handed out by a device: gives its bytes back to the device and the
// budget when the last tensor referring to it goes away.
class Device::Block final : public Storage {
 public:
  Block(std::shared_ptr<Device> owner, void* data, std::uint64_t bytes, MemoryTag tag,
        std::uint64_t index)
      : Storage(data, bytes, owner->planning()),
        owner_(std::move(owner)),
        tag_(tag),
        index_(index) {}
  ~Block() override {
    if (data() != nullptr) owner_->raw_free(data(), bytes());
    owner_->budget_.release(index_, bytes(), tag_);
  }
  Device* device() const override { return owner_.get(); }

 private:
  std::shared_ptr<Device> owner_;
  MemoryTag tag_;
  std::uint64_t index_;
};

Device::Device(std::string name, DeviceKind kind, std::uint64_t cap_bytes,
               std::uint64_t granularity_bytes)
    : name_(std::move(name)), kind_(kind), budget_(name_, cap_bytes, granularity_bytes) {}

Expected<std::shared_ptr<Storage>> Device::allocate(std::uint64_t bytes, MemoryTag tag) {
  if (bytes > static_cast<std::uint64_t>(std::numeric_limits<std::size_t>::max())) {
    return Status::out_of_memory({bytes, budget_.used_bytes(), budget_.cap_bytes(), name_, tag});
  }
  ACEFIT_ASSIGN(const std::uint64_t index, budget_.reserve(bytes, tag));
  void* data = nullptr;
  if (!planning() && bytes > 0) {
    data = raw_allocate(bytes);
    if (data == nullptr) {
      const std::uint64_t used = budget_.used_bytes();
      budget_.release(index, bytes, tag);
      return Status::out_of_memory({bytes, used, budget_.cap_bytes(), name_, tag},
                                   "the device allocator refused");
    }
  }
  std::shared_ptr<Storage> block;
  try {
    block = std::make_shared<Block>(shared_from_this(), data, bytes, tag, index);
  } catch (const std::bad_alloc&) {
    if (data != nullptr) raw_free(data, bytes);
    budget_.release(index, bytes, tag);
    return Status(ErrorCode::out_of_memory, "host memory exhausted while tracking an allocation");
  }
  return block;
}

Expected<Tensor> Device::empty(DType dtype, Shape shape, MemoryTag tag) {
  if (!shape.valid()) return invalid_argument("invalid shape " + shape.to_string());
  const auto count = static_cast<std::uint64_t>(shape.numel());
  if (count > std::numeric_limits<std::uint64_t>::max() / dtype_size(dtype)) {
    return invalid_argument("tensor too large: " + shape.to_string());
  }
  ACEFIT_ASSIGN(auto storage, allocate(count * dtype_size(dtype), tag));
  return Tensor::over(std::move(storage), dtype, shape);
}

Status Device::copy_from_host(void* device_dst, const void* host_src, std::uint64_t bytes) {
  if (planning() || bytes == 0) return {};
  Stopwatch watch;
  ACEFIT_TRY(raw_copy_from_host(device_dst, host_src, bytes));
  if (counts_transfers()) {
    std::lock_guard<std::mutex> lock(transfer_mutex_);
    transfers_.to_device_bytes += bytes;
    ++transfers_.to_device_count;
    transfers_.seconds += watch.elapsed_s();
  }
  return {};
}

Status Device::copy_to_host(void* host_dst, const void* device_src, std::uint64_t bytes) {
  if (planning() || bytes == 0) return {};
  Stopwatch watch;
  ACEFIT_TRY(raw_copy_to_host(host_dst, device_src, bytes));
  if (counts_transfers()) {
    std::lock_guard<std::mutex> lock(transfer_mutex_);
    transfers_.to_host_bytes += bytes;
    ++transfers_.to_host_count;
    transfers_.seconds += watch.elapsed_s();
  }
  return {};
}

Status Device::copy_on_device(void* device_dst, const void* device_src, std::uint64_t bytes) {
  if (planning() || bytes == 0) return {};
  return raw_copy_on_device(device_dst, device_src, bytes);
}

TransferStats Device::transfer_stats() const {
  std::lock_guard<std::mutex> lock(transfer_mutex_);
  return transfers_;
}

void Device::reset_transfer_stats() {
  std::lock_guard<std::mutex> lock(transfer_mutex_);
  transfers_ = {};
}

Status copy_into(const Tensor& source, Tensor& destination) {
  if (!source.defined() || !destination.defined())
    return invalid_argument("copy of an undefined tensor");
  if (!source.is_contiguous() || !destination.is_contiguous()) {
    return invalid_argument("copy_into needs contiguous tensors, got " + source.describe() +
                            " -> " + destination.describe());
  }
  if (source.nbytes() != destination.nbytes()) {
    return invalid_argument("copy_into size mismatch: " + source.describe() + " -> " +
                            destination.describe());
  }
  Device* from = source.device();
  Device* to = destination.device();
  if (from->planning() || to->planning()) return {};
  const std::uint64_t bytes = source.nbytes();
  if (from == to) return to->copy_on_device(destination.raw_data(), source.raw_data(), bytes);
  if (from->host_backed() && to->host_backed()) {
    // Host memory on both sides; the non-cpu side (if any) counts it.
    if (to->kind() != DeviceKind::cpu)
      return to->copy_from_host(destination.raw_data(), source.raw_data(), bytes);
    if (from->kind() != DeviceKind::cpu)
      return from->copy_to_host(destination.raw_data(), source.raw_data(), bytes);
    std::memcpy(destination.raw_data(), source.raw_data(), bytes);
    return {};
  }
  if (from->host_backed())
    return to->copy_from_host(destination.raw_data(), source.raw_data(), bytes);
  if (to->host_backed())
    return from->copy_to_host(destination.raw_data(), source.raw_data(), bytes);
  return unsupported("copy between two non-host devices (" + from->name() + " -> " + to->name() +
                     ")");
}

Expected<Tensor> copy_to_device(const Tensor& source, Device& to, MemoryTag tag) {
  if (!source.defined()) return invalid_argument("copy of an undefined tensor");
  if (!source.is_contiguous()) {
    return invalid_argument("copy_to_device needs a contiguous tensor (use ops::contiguous), got " +
                            source.describe());
  }
  ACEFIT_ASSIGN(Tensor result, to.empty(source.dtype(), source.shape(), tag));
  ACEFIT_TRY(copy_into(source, result));
  return result;
}

}  // namespace acefit
