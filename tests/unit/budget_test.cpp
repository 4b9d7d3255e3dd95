// The Budget: hard cap, per-tag current and peak bytes, reset, fault
// injection and the planning ledger.
#include <thread>

#include "memory/budget.h"
#include "test_support.h"

namespace acefit {
namespace {

TEST(Budget, HardCapRefusesAndChangesNothing) {
  Budget budget("sim:0", 1000, 1);
  const auto a = testing::unwrap(budget.reserve(600, MemoryTag::weights));
  auto b = budget.reserve(401, MemoryTag::activations);
  ASSERT_FALSE(b.ok());
  const Status status = b.status();
  EXPECT_EQ(status.code(), ErrorCode::out_of_memory);
  EXPECT_EQ(status.oom()->requested_bytes, 401u);
  EXPECT_EQ(status.oom()->used_bytes, 600u);
  EXPECT_EQ(status.oom()->cap_bytes, 1000u);
  EXPECT_EQ(status.oom()->device, "sim:0");
  EXPECT_EQ(status.oom()->tag, MemoryTag::activations);
  EXPECT_EQ(budget.used_bytes(), 600u);
  EXPECT_EQ(budget.current_bytes(MemoryTag::activations), 0u);
  const auto c =
      testing::unwrap(budget.reserve(400, MemoryTag::activations));  // exactly at the cap
  EXPECT_EQ(budget.used_bytes(), 1000u);
  budget.release(c, 400, MemoryTag::activations);
  budget.release(a, 600, MemoryTag::weights);
  EXPECT_EQ(budget.used_bytes(), 0u);
  EXPECT_EQ(budget.stats().failures, 1u);
}

TEST(Budget, HugeRequestsDoNotWrap) {
  Budget budget("cpu", kUnlimitedBytes - 10, 64);
  EXPECT_EQ(budget.accounted_bytes(kUnlimitedBytes - 3), kUnlimitedBytes);
  const auto a = testing::unwrap(budget.reserve(100, MemoryTag::io));
  EXPECT_FALSE(budget.reserve(kUnlimitedBytes - 50, MemoryTag::io).ok());
  EXPECT_FALSE(budget.reserve(kUnlimitedBytes, MemoryTag::io).ok());
  budget.release(a, 100, MemoryTag::io);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(Budget, GranularityRoundsEveryReservation) {
  Budget budget("sim:0", 1 << 20, 64);
  const auto a = testing::unwrap(budget.reserve(1, MemoryTag::io));
  EXPECT_EQ(budget.used_bytes(), 64u);
  const auto b = testing::unwrap(budget.reserve(65, MemoryTag::io));
  EXPECT_EQ(budget.used_bytes(), 192u);
  const auto c = testing::unwrap(budget.reserve(0, MemoryTag::io));
  EXPECT_EQ(budget.used_bytes(), 192u);
  budget.release(a, 1, MemoryTag::io);
  budget.release(b, 65, MemoryTag::io);
  budget.release(c, 0, MemoryTag::io);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(Budget, PerTagCurrentAndPeak) {
  Budget budget("sim:0", 10000, 1);
  const auto w = testing::unwrap(budget.reserve(1000, MemoryTag::weights));
  const auto a1 = testing::unwrap(budget.reserve(300, MemoryTag::activations));
  const auto a2 = testing::unwrap(budget.reserve(200, MemoryTag::activations));
  budget.release(a1, 300, MemoryTag::activations);
  const auto ws = testing::unwrap(budget.reserve(700, MemoryTag::workspace));
  budget.release(ws, 700, MemoryTag::workspace);
  const auto kv = testing::unwrap(budget.reserve(50, MemoryTag::kv_cache));
  EXPECT_EQ(budget.current_bytes(MemoryTag::weights), 1000u);
  EXPECT_EQ(budget.current_bytes(MemoryTag::activations), 200u);
  EXPECT_EQ(budget.peak_bytes(MemoryTag::activations), 500u);
  EXPECT_EQ(budget.peak_bytes(MemoryTag::workspace), 700u);
  EXPECT_EQ(budget.peak_bytes(MemoryTag::kv_cache), 50u);
  EXPECT_EQ(budget.peak_bytes(MemoryTag::io), 0u);
  EXPECT_EQ(budget.peak_bytes(), 1900u);  // weights 1000 + activations 200 + workspace 700
  {
    const auto split = budget.at_peak_by_tag();
    EXPECT_EQ(split[static_cast<int>(MemoryTag::weights)], 1000u);
    EXPECT_EQ(split[static_cast<int>(MemoryTag::activations)], 200u);
    EXPECT_EQ(split[static_cast<int>(MemoryTag::workspace)], 700u);
    EXPECT_EQ(split[static_cast<int>(MemoryTag::kv_cache)], 0u);
  }
  EXPECT_EQ(budget.used_bytes(), 1250u);
  budget.reset_peaks();
  EXPECT_EQ(budget.peak_bytes(), 1250u);
  EXPECT_EQ(budget.at_peak_by_tag()[static_cast<int>(MemoryTag::kv_cache)], 50u);
  EXPECT_EQ(budget.peak_bytes(MemoryTag::workspace), 0u);
  EXPECT_EQ(budget.peak_bytes(MemoryTag::activations), 200u);
  budget.release(w, 1000, MemoryTag::weights);
  budget.release(a2, 200, MemoryTag::activations);
  budget.release(kv, 50, MemoryTag::kv_cache);
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(Budget, LoweringTheCapAppliesToLaterReservations) {
  Budget budget("sim:0", 1000, 1);
  const auto a = testing::unwrap(budget.reserve(800, MemoryTag::weights));
  budget.set_cap_bytes(500);
  EXPECT_EQ(budget.used_bytes(), 800u);
  EXPECT_FALSE(budget.reserve(1, MemoryTag::io).ok());
  budget.release(a, 800, MemoryTag::weights);
  EXPECT_TRUE(budget.reserve(500, MemoryTag::io).ok());
}

TEST(Budget, FaultInjectionFailsExactlyTheNthReservation) {
  Budget budget("sim:0", 1 << 20, 1);
  budget.fail_nth_reservation(3);
  std::vector<std::uint64_t> held;
  held.push_back(testing::unwrap(budget.reserve(10, MemoryTag::io)));
  held.push_back(testing::unwrap(budget.reserve(10, MemoryTag::io)));
  auto third = budget.reserve(10, MemoryTag::io);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), ErrorCode::out_of_memory);
  EXPECT_NE(third.status().message().find("injected"), std::string::npos);
  EXPECT_TRUE(budget.reserve(10, MemoryTag::io).ok());  // one shot
  EXPECT_EQ(budget.used_bytes(), 30u);
  budget.fail_nth_reservation(1);
  budget.fail_nth_reservation(0);  // disarmed
  EXPECT_TRUE(budget.reserve(10, MemoryTag::io).ok());
}

TEST(Budget, LedgerRecordsLifetimes) {
  Budget budget("plan", 1 << 20, 1);
  budget.set_keep_ledger(true);
  const auto a = testing::unwrap(budget.reserve(10, MemoryTag::weights));
  const auto b = testing::unwrap(budget.reserve(20, MemoryTag::activations));
  budget.release(a, 10, MemoryTag::weights);
  const auto c = testing::unwrap(budget.reserve(30, MemoryTag::workspace));
  const auto ledger = budget.ledger();
  ASSERT_EQ(ledger.size(), 3u);
  EXPECT_EQ(ledger[0].index, a);
  EXPECT_EQ(ledger[0].released_at, 2u);  // released after the second reservation
  EXPECT_EQ(ledger[1].released_at, 0u);  // still live
  EXPECT_EQ(ledger[2].bytes, 30u);
  EXPECT_EQ(ledger[2].tag, MemoryTag::workspace);
  budget.release(b, 20, MemoryTag::activations);
  budget.release(c, 30, MemoryTag::workspace);
}

TEST(Budget, ConcurrentReservationsNeverExceedTheCap) {
  Budget budget("sim:0", 64 * 100, 64);
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto r = budget.reserve(64, MemoryTag::activations);
        if (!r.ok()) {
          ++refused;
          continue;
        }
        if (budget.used_bytes() > budget.cap_bytes()) ADD_FAILURE() << "over the cap";
        budget.release(r.value(), 64, MemoryTag::activations);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(budget.used_bytes(), 0u);
  EXPECT_LE(budget.peak_bytes(), budget.cap_bytes());
}

TEST(Budget, FormatBytes) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(3u << 20), "3.0 MiB");
  EXPECT_EQ(format_bytes(3ull << 29), "1.50 GiB");
}

}  // namespace
}  // namespace acefit
