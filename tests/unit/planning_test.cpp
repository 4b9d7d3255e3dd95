// Plan, then run: the planning device must predict the measured peak exactly,
// the hard cap must hold at that peak, and an allocation failure at any point
// of a multi-op workload must surface as out_of_memory with nothing leaked.
#include "device/planning/planning_device.h"
#include "device/sim/sim_device.h"
#include "ops/sample_workload.h"
#include "test_support.h"

namespace acefit {
namespace {

ops::SampleWorkloadShape shape_with(std::int64_t batch, std::int64_t seq, std::int64_t window) {
  ops::SampleWorkloadShape s;
  s.batch = batch;
  s.seq = seq;
  s.window = window;
  return s;
}

std::uint64_t planned_peak(const Device& like, const ops::SampleWorkloadShape& s) {
  auto planner = make_planning_device(like);
  auto out = ops::run_sample_workload(ops::OpContext{*planner, testing::test_pool()}, s, 1);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(plan_report(*planner).allocations, planner->budget().stats().reservations);
  return plan_report(*planner).peak_bytes;
}

TEST(Planning, PlannedPeakEqualsMeasuredPeak) {
  for (const auto& s : {shape_with(1, 8, 2), shape_with(2, 48, 8), shape_with(3, 200, 16),
                        shape_with(1, 700, 128)}) {
    for (const std::string kind : {"cpu", "sim"}) {
      auto device = testing::make_test_device(kind);
      const std::uint64_t plan = planned_peak(*device, s);
      auto out = ops::run_sample_workload(ops::OpContext{*device, testing::test_pool()}, s, 1);
      ASSERT_TRUE(out.ok()) << out.status().to_string();
      EXPECT_EQ(device->budget().peak_bytes(), plan) << kind << " seq " << s.seq;
      EXPECT_GT(plan, 0u);
      // Per tag, too.
      auto planner = make_planning_device(*device);
      ASSERT_TRUE(
          ops::run_sample_workload(ops::OpContext{*planner, testing::test_pool()}, s, 1).ok());
      for (MemoryTag tag : kAllMemoryTags) {
        EXPECT_EQ(planner->budget().peak_bytes(tag), device->budget().peak_bytes(tag))
            << memory_tag_name(tag);
      }
    }
  }
}

TEST(Planning, TheLedgerAccountsForEveryByte) {
  auto sim = make_sim_device(1ull << 30);
  auto planner = make_planning_device(*sim);
  Tensor kept;
  {
    auto out = ops::run_sample_workload(ops::OpContext{*planner, testing::test_pool()},
                                        shape_with(2, 48, 8), 1);
    ASSERT_TRUE(out.ok());
    kept = out.value();
  }
  const PlanReport report = plan_report(*planner);
  std::uint64_t live = 0;
  for (const AllocationRecord& r : report.ledger) {
    if (r.released_at == 0) live += r.bytes;
    EXPECT_TRUE(r.released_at == 0 || r.released_at >= r.index);
  }
  EXPECT_EQ(live, planner->budget().used_bytes());
  EXPECT_EQ(live, planner->budget().accounted_bytes(kept.nbytes()));
}

TEST(Planning, HardCapHoldsAtThePlannedPeak) {
  const auto s = shape_with(2, 64, 8);
  const std::uint64_t peak = planned_peak(*make_sim_device(1ull << 30), s);
  auto reference = make_sim_device(1ull << 30);
  const auto expected = testing::download(testing::unwrap(
      ops::run_sample_workload(ops::OpContext{*reference, testing::test_pool()}, s, 1)));
  {
    auto exact = make_sim_device(peak);
    auto out = ops::run_sample_workload(ops::OpContext{*exact, testing::test_pool()}, s, 1);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(testing::download(out.value()), expected);
    EXPECT_LE(exact->budget().peak_bytes(), peak);
  }
  auto short_by_one = make_sim_device(peak - 1);
  auto out = ops::run_sample_workload(ops::OpContext{*short_by_one, testing::test_pool()}, s, 1);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), ErrorCode::out_of_memory);
  EXPECT_EQ(out.status().oom()->cap_bytes, peak - 1);
  out = Status(ErrorCode::cancelled, "dropped");
  EXPECT_EQ(short_by_one->budget().used_bytes(), 0u);
}

TEST(Planning, FaultInjectionAtEveryAllocationLeaksNothing) {
  const auto s = shape_with(2, 24, 4);
  auto device = make_sim_device(1ull << 30);
  const ops::OpContext ctx{*device, testing::test_pool()};
  const auto expected = testing::download(testing::unwrap(ops::run_sample_workload(ctx, s, 1)));
  const std::uint64_t before = device->budget().stats().reservations;
  ASSERT_TRUE(ops::run_sample_workload(ctx, s, 1).ok());
  const std::uint64_t count = device->budget().stats().reservations - before;
  ASSERT_GT(count, 20u);
  for (std::uint64_t n = 1; n <= count; ++n) {
    device->budget().fail_nth_reservation(n);
    {
      auto out = ops::run_sample_workload(ctx, s, 1);
      ASSERT_FALSE(out.ok()) << "allocation " << n << " of " << count << " was meant to fail";
      EXPECT_EQ(out.status().code(), ErrorCode::out_of_memory) << out.status().to_string();
    }
    ASSERT_EQ(device->budget().used_bytes(), 0u) << "leak after a failure at allocation " << n;
  }
  device->budget().fail_nth_reservation(0);
  // The device is healthy afterwards and gives the same result.
  EXPECT_EQ(testing::download(testing::unwrap(ops::run_sample_workload(ctx, s, 1))), expected);
}

TEST(Planning, SameSeedSameResultOnEveryDevice) {
  const auto s = shape_with(2, 40, 8);
  auto cpu = testing::make_test_device("cpu");
  auto sim = testing::make_test_device("sim");
  const auto on_cpu = testing::download(
      testing::unwrap(ops::run_sample_workload(ops::OpContext{*cpu, testing::test_pool()}, s, 5)));
  const auto on_sim = testing::download(
      testing::unwrap(ops::run_sample_workload(ops::OpContext{*sim, testing::test_pool()}, s, 5)));
  EXPECT_EQ(on_cpu, on_sim);
  const auto other_seed = testing::download(
      testing::unwrap(ops::run_sample_workload(ops::OpContext{*sim, testing::test_pool()}, s, 6)));
  EXPECT_NE(on_sim, other_seed);
}

}  // namespace
}  // namespace acefit
