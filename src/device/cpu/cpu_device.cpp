#include "device/cpu/cpu_device.h"

#include <cstring>

#include "device/host_memory.h"

namespace acefit {

namespace {

class CpuDevice final : public Device {
 public:
  explicit CpuDevice(std::uint64_t cap_bytes)
      : Device("cpu", DeviceKind::cpu, cap_bytes, kHostAlignmentBytes) {}

  DeviceMemory memory() const override { return {host_total_bytes(), host_available_bytes()}; }

 protected:
  void* raw_allocate(std::uint64_t bytes) override { return host_aligned_alloc(bytes); }
  void raw_free(void* pointer, std::uint64_t) override { host_aligned_free(pointer); }
  Status raw_copy_from_host(void* dst, const void* src, std::uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
    return {};
  }
  Status raw_copy_to_host(void* dst, const void* src, std::uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
    return {};
  }
  Status raw_copy_on_device(void* dst, const void* src, std::uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
    return {};
  }
  bool counts_transfers() const override { return false; }
};

}  // namespace

std::shared_ptr<Device> make_cpu_device(std::uint64_t cap_bytes) {
  if (cap_bytes == 0) cap_bytes = host_total_bytes();
  if (cap_bytes == 0) cap_bytes = kUnlimitedBytes;
  return std::make_shared<CpuDevice>(cap_bytes);
}

}  // namespace acefit
