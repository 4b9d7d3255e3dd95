// Budget: the accounting of one device's memory. Every device allocation
// reserves its bytes here first. The cap is hard: a reservation past it
// fails with out_of_memory and changes nothing. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/memory_tag.h"
#include "core/status.h"

namespace acefit {

inline constexpr std::uint64_t kUnlimitedBytes = ~std::uint64_t{0};

// One reservation, as recorded when the budget keeps a ledger (planning).
struct AllocationRecord {
  std::uint64_t index = 0;  // 1-based order of the reservation
  std::uint64_t bytes = 0;  // accounted bytes (rounded to the granularity)
  MemoryTag tag = MemoryTag::activations;
  std::uint64_t released_at = 0;  // the reservation count when it was released; 0 = still live
};

struct BudgetStats {
  std::uint64_t cap_bytes = 0;
  std::uint64_t used_bytes = 0;
  std::uint64_t peak_bytes = 0;
  std::array<std::uint64_t, kMemoryTagCount> current_by_tag{};
  std::array<std::uint64_t, kMemoryTagCount> peak_by_tag{};
  // What each tag held at the moment of the overall peak (sums to peak_bytes).
  std::array<std::uint64_t, kMemoryTagCount> at_peak_by_tag{};
  std::uint64_t reservations = 0;  // successful and failed, since construction
  std::uint64_t failures = 0;
};

class Budget {
 public:
  // granularity_bytes: every reservation is rounded up to a multiple of it,
  // so accounting matches what the allocator really hands out.
  Budget(std::string device_name, std::uint64_t cap_bytes, std::uint64_t granularity_bytes = 64);

  const std::string& device_name() const { return device_name_; }
  std::uint64_t granularity_bytes() const { return granularity_bytes_; }
  std::uint64_t accounted_bytes(std::uint64_t requested_bytes) const;

  // Reserves bytes for tag. Returns the reservation index (pass it to
  // release) or out_of_memory with the requested, used and cap figures.
  Expected<std::uint64_t> reserve(std::uint64_t requested_bytes, MemoryTag tag);
  // Returns bytes reserved by reserve(requested_bytes, tag) as `index`.
  void release(std::uint64_t index, std::uint64_t requested_bytes, MemoryTag tag);

  std::uint64_t cap_bytes() const;
  // A new cap applies to later reservations; what is reserved stays.
  void set_cap_bytes(std::uint64_t cap_bytes);
  std::uint64_t used_bytes() const;
  std::uint64_t peak_bytes() const;
  std::uint64_t current_bytes(MemoryTag tag) const;
  std::uint64_t peak_bytes(MemoryTag tag) const;
  // The split of peak_bytes() by tag, taken when the peak was reached.
  std::array<std::uint64_t, kMemoryTagCount> at_peak_by_tag() const;
  BudgetStats stats() const;
  // Peaks start again from the current usage.
  void reset_peaks();

  // Test hook: the n-th reservation from now (1-based) fails with
  // out_of_memory, as if the device were full. 0 disarms it.
  void fail_nth_reservation(std::uint64_t n);

  // Keeping a ledger records every reservation and its lifetime. The
  // planning device keeps one; real devices do not (it would grow forever).
  void set_keep_ledger(bool keep);
  std::vector<AllocationRecord> ledger() const;

 private:
  std::string device_name_;
  std::uint64_t granularity_bytes_;
  mutable std::mutex mutex_;
  std::uint64_t cap_bytes_;
  std::uint64_t used_bytes_ = 0;
  std::uint64_t peak_bytes_ = 0;
  std::array<std::uint64_t, kMemoryTagCount> current_{};
  std::array<std::uint64_t, kMemoryTagCount> peak_{};
  std::array<std::uint64_t, kMemoryTagCount> at_peak_{};
  std::uint64_t reservations_ = 0;
  std::uint64_t failures_ = 0;
  std::uint64_t fail_at_ = 0;  // absolute reservation count that fails; 0 = none
  bool keep_ledger_ = false;
  std::vector<AllocationRecord> ledger_;
};

std::string format_bytes(std::uint64_t bytes);  // "1.50 GiB", "12.0 MiB", "512 B"

}  // namespace acefit
