// Device: one place tensors can live. Every allocation goes through the
// device's Budget; copies to and from the host are counted and timed.
//   cpu   the host itself
//   sim   a host-backed stand-in for a GPU with its own capped pool
//   cuda  an NVIDIA GPU (built only when the CUDA toolkit is found)
//   vulkan  any GPU through Vulkan compute (device/vulkan/vulkan_device.h)
// A planning device (make_planning_device) mirrors another device's kind and
// cap but records allocations without touching memory; kernels are skipped.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"
#include "memory/budget.h"

namespace acefit {

enum class DeviceKind : int { cpu = 0, sim, cuda, vulkan };

std::string_view device_kind_name(DeviceKind kind);

// Memory as the device itself reports it (not the Budget's view).
struct DeviceMemory {
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;
};

// Host <-> device copy counters. Copies between host memory and a cpu
// device are not transfers and are not counted.
struct TransferStats {
  std::uint64_t to_device_bytes = 0;
  std::uint64_t to_device_count = 0;
  std::uint64_t to_host_bytes = 0;
  std::uint64_t to_host_count = 0;
  double seconds = 0.0;
};

class Device : public std::enable_shared_from_this<Device> {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const std::string& name() const { return name_; }
  DeviceKind kind() const { return kind_; }
  // True when kernels for this device run on the host CPU (cpu, sim).
  bool host_backed() const { return kind_ == DeviceKind::cpu || kind_ == DeviceKind::sim; }
  // True for a planning device: allocations are recorded, memory untouched.
  virtual bool planning() const { return false; }

  Budget& budget() { return budget_; }
  const Budget& budget() const { return budget_; }

  virtual DeviceMemory memory() const = 0;

  // Allocates through the budget. Fails with out_of_memory past the cap or
  // when the underlying allocator fails; never crashes.
  Expected<std::shared_ptr<Storage>> allocate(std::uint64_t bytes, MemoryTag tag);
  Expected<Tensor> empty(DType dtype, Shape shape, MemoryTag tag);

  // dst/src are device addresses of this device; host pointers are plain.
  Status copy_from_host(void* device_dst, const void* host_src, std::uint64_t bytes);
  Status copy_to_host(void* host_dst, const void* device_src, std::uint64_t bytes);
  Status copy_on_device(void* device_dst, const void* device_src, std::uint64_t bytes);
  virtual Status synchronize() { return {}; }

  TransferStats transfer_stats() const;
  void reset_transfer_stats();

 protected:
  Device(std::string name, DeviceKind kind, std::uint64_t cap_bytes,
         std::uint64_t granularity_bytes);

  // Raw memory, called after the budget reserved the bytes. Null on failure.
  virtual void* raw_allocate(std::uint64_t bytes) = 0;
  virtual void raw_free(void* pointer, std::uint64_t bytes) = 0;
  virtual Status raw_copy_from_host(void* dst, const void* src, std::uint64_t bytes) = 0;
  virtual Status raw_copy_to_host(void* dst, const void* src, std::uint64_t bytes) = 0;
  virtual Status raw_copy_on_device(void* dst, const void* src, std::uint64_t bytes) = 0;
  // Whether host <-> this device copies count as transfers.
  virtual bool counts_transfers() const { return true; }

 private:
  class Block;
  std::string name_;
  DeviceKind kind_;
  Budget budget_;
  mutable std::mutex transfer_mutex_;
  TransferStats transfers_;
};

// Copies a tensor (any strides) into a new contiguous tensor on `to`.
// Either side may be a host-backed device; planned tensors copy nothing.
Expected<Tensor> copy_to_device(const Tensor& source, Device& to, MemoryTag tag);
// Copies a contiguous tensor's bytes into an existing tensor of equal size.
Status copy_into(const Tensor& source, Tensor& destination);

}  // namespace acefit
