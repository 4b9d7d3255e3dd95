// The planning allocator. A planning device takes the name, kind and cap of
// the device it plans for; allocations are reserved in its own budget (so
// peaks and out_of_memory behave exactly as on the real device) and recorded
// with their lifetimes, but no memory is touched: storage data is null and
// ops skip their kernels.
#pragma once

#include <memory>

#include "device/device.h"

namespace acefit {

std::shared_ptr<Device> make_planning_device(const Device& like);

// What a planning run found: the peak and its split by tag.
struct PlanReport {
  std::uint64_t peak_bytes = 0;
  std::array<std::uint64_t, kMemoryTagCount> peak_by_tag{};
  std::uint64_t allocations = 0;
  std::vector<AllocationRecord> ledger;
};

PlanReport plan_report(const Device& planning_device);

}  // namespace acefit
