#include "device/planning/planning_device.h"

namespace acefit {

namespace {

class PlanningDevice final : public Device {
 public:
  explicit PlanningDevice(const Device& like)
      : Device(like.name(), like.kind(), like.budget().cap_bytes(),
               like.budget().granularity_bytes()),
        reported_(like.memory()) {
    budget().set_keep_ledger(true);
  }

  bool planning() const override { return true; }
  DeviceMemory memory() const override { return reported_; }

 protected:
  void* raw_allocate(std::uint64_t) override { return nullptr; }
  void raw_free(void*, std::uint64_t) override {}
  Status raw_copy_from_host(void*, const void*, std::uint64_t) override { return {}; }
  Status raw_copy_to_host(void*, const void*, std::uint64_t) override { return {}; }
  Status raw_copy_on_device(void*, const void*, std::uint64_t) override { return {}; }

 private:
  DeviceMemory reported_;
};

}  // namespace

std::shared_ptr<Device> make_planning_device(const Device& like) {
  return std::make_shared<PlanningDevice>(like);
}

PlanReport plan_report(const Device& planning_device) {
  const BudgetStats stats = planning_device.budget().stats();
  PlanReport report;
  report.peak_bytes = stats.peak_bytes;
  report.peak_by_tag = stats.peak_by_tag;
  report.ledger = planning_device.budget().ledger();
  report.allocations = report.ledger.size();
  return report;
}

}  // namespace acefit
