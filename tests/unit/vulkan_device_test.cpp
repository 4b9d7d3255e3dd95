// The vulkan device itself (lavapipe in CI, ACEFIT_TEST_VULKAN_DEVICE on a
// GPU): suballocation, the Budget cap, transfers through the staging arena
// in pieces, copies on the device, batched submission and the failures that
// must be statuses.
#include <cstring>
#include <numeric>

#include "device/device_selection.h"
#include "device/vulkan/vulkan_device.h"
#include "ops/elementwise.h"
#include "test_support.h"

namespace acefit {
namespace {

class VulkanDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    device_ = testing::device_or_skip("vulkan");
    if (!device_) GTEST_SKIP() << "no vulkan device";
    vk_ = as_vulkan(*device_);
    ASSERT_NE(vk_, nullptr);
    ASSERT_TRUE(device_->synchronize().ok());
  }
  std::shared_ptr<Device> device_;
  VulkanDevice* vk_ = nullptr;
};

TEST_F(VulkanDeviceTest, SmallTensorsShareDriverBlocks) {
  const std::uint64_t blocks_before = vk_->stats().driver_blocks;
  std::vector<Tensor> tensors;
  for (int i = 0; i < 500; ++i) {
    tensors.push_back(testing::unwrap(device_->empty(DType::f32, Shape{1000 + i}, MemoryTag::io)));
  }
  // 500 tensors of about 4 KiB: a block or two, not 500 driver allocations.
  EXPECT_LE(vk_->stats().driver_blocks, blocks_before + 2);
  // Distinct, aligned, non-overlapping ranges.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const auto& t : tensors) ranges.emplace_back(vk_->address(t), t.nbytes());
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    EXPECT_EQ(ranges[i].first % 256, 0u);
    if (i > 0) {
      EXPECT_GE(ranges[i].first, ranges[i - 1].first + ranges[i - 1].second);
    }
  }
  // The Budget counts each at the 256-byte granularity.
  std::uint64_t expected = 0;
  for (const auto& t : tensors) expected += (t.nbytes() + 255) / 256 * 256;
  EXPECT_EQ(device_->budget().used_bytes(), expected);
}

TEST_F(VulkanDeviceTest, FreedRangesAreReusedAndLargeBlocksGoBack) {
  const std::uint64_t driver_before = vk_->stats().driver_bytes;
  {
    // 300 MiB: more than half a block, so a driver allocation of its own.
    Tensor big =
        testing::unwrap(device_->empty(DType::i8, Shape{std::int64_t{300} << 20}, MemoryTag::io));
    EXPECT_GE(vk_->stats().driver_bytes, driver_before + (std::uint64_t{300} << 20));
  }
  ASSERT_TRUE(device_->synchronize().ok());
  EXPECT_LE(vk_->stats().driver_bytes, driver_before + (std::uint64_t{256} << 20));
  // Allocate and free the same size many times: the driver is not asked again.
  for (int i = 0; i < 50; ++i) {
    Tensor t = testing::unwrap(device_->empty(DType::f32, Shape{4096}, MemoryTag::io));
  }
  const std::uint64_t blocks = vk_->stats().driver_blocks;
  for (int i = 0; i < 50; ++i) {
    Tensor t = testing::unwrap(device_->empty(DType::f32, Shape{4096}, MemoryTag::io));
  }
  EXPECT_EQ(vk_->stats().driver_blocks, blocks);
}

TEST_F(VulkanDeviceTest, PastTheCapIsOutOfMemoryAndTheDeviceStaysUsable) {
  const std::uint64_t cap = device_->budget().cap_bytes();
  device_->budget().set_cap_bytes(std::uint64_t{64} << 20);
  Tensor kept = testing::unwrap(device_->empty(DType::f32, Shape{8 << 20}, MemoryTag::io));
  auto refused = device_->empty(DType::f32, Shape{9 << 20}, MemoryTag::activations);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::out_of_memory);
  EXPECT_NE(refused.status().message().find("vulkan:"), std::string::npos)
      << refused.status().message();
  kept = Tensor();
  // The device still works after the refusal.
  const auto values = testing::random_floats(1000, 3);
  Tensor t = testing::upload(*device_, values, Shape{1000});
  EXPECT_EQ(testing::download(t), values);
  device_->budget().set_cap_bytes(cap);
}

TEST_F(VulkanDeviceTest, TransfersLargerThanTheStagingArenaArriveWhole) {
  // 40 MiB of floats: more than the 32 MiB staging arena, so in pieces.
  std::vector<float> values(10 << 20);
  std::iota(values.begin(), values.end(), 0.0f);
  device_->reset_transfer_stats();
  Tensor t = testing::upload(*device_, values, Shape{static_cast<std::int64_t>(values.size())});
  const std::vector<float> back = testing::download(t);
  ASSERT_EQ(back.size(), values.size());
  EXPECT_EQ(std::memcmp(back.data(), values.data(), values.size() * sizeof(float)), 0);
  const TransferStats stats = device_->transfer_stats();
  EXPECT_EQ(stats.to_device_bytes, values.size() * sizeof(float));
  EXPECT_EQ(stats.to_host_bytes, values.size() * sizeof(float));
  EXPECT_EQ(stats.to_device_count, 1u);
  EXPECT_GT(stats.seconds, 0.0);
}

TEST_F(VulkanDeviceTest, ViewsAndCopiesOnTheDeviceUseTheirOffsets) {
  std::vector<float> values(3000);
  std::iota(values.begin(), values.end(), 1.0f);
  Tensor t = testing::upload(*device_, values, Shape{3, 1000});
  Tensor row = testing::unwrap(t.narrow(0, 1, 1));
  EXPECT_EQ(vk_->address(row), vk_->address(t) + 1000 * sizeof(float));
  const std::vector<float> middle = testing::download(row);
  ASSERT_EQ(middle.size(), 1000u);
  EXPECT_EQ(middle.front(), 1001.0f);
  EXPECT_EQ(middle.back(), 2000.0f);
  // A copy on the device into another tensor (another block or range).
  Tensor other = testing::unwrap(device_->empty(DType::f32, Shape{1, 1000}, MemoryTag::io));
  ASSERT_TRUE(copy_into(row, other).ok());
  EXPECT_EQ(testing::download(other), middle);
}

TEST_F(VulkanDeviceTest, KernelsAreBatchedBetweenSyncPoints) {
  const auto a = testing::random_floats(4096, 1), b = testing::random_floats(4096, 2);
  Tensor x = testing::upload(*device_, a, Shape{4096});
  Tensor y = testing::upload(*device_, b, Shape{4096});
  ASSERT_TRUE(device_->synchronize().ok());
  const VulkanStats before = vk_->stats();
  ops::OpContext ctx{*device_, testing::test_pool()};
  Tensor sum = x;
  for (int i = 0; i < 200; ++i) sum = testing::unwrap(ops::add(ctx, sum, y));
  const VulkanStats recorded = vk_->stats();
  EXPECT_EQ(recorded.dispatches - before.dispatches, 200u);
  // No wait for any of the 200 kernels, and far fewer submissions than kernels.
  EXPECT_EQ(recorded.waits, before.waits) << recorded.submits - before.submits;
  EXPECT_LE(recorded.submits - before.submits, 200u / 32);
  const std::vector<float> out = testing::download(sum);
  for (std::size_t i = 0; i < out.size(); ++i) {
    ASSERT_NEAR(out[i], a[i] + 200.0 * b[i], 1e-3 * (1 + std::abs(200.0 * b[i]))) << i;
  }
  EXPECT_EQ(vk_->stats().pipelines, recorded.pipelines);  // one add pipeline, reused
}

TEST_F(VulkanDeviceTest, BadLaunchesAndForeignPointersAreErrors) {
  struct Push {
    std::uint64_t a, b, y;
    std::uint32_t n, nb;
  } push{};
  ShaderCode none{"none", nullptr, 0};
  auto status = vk_->dispatch(none, push, {0, 1, 1});
  EXPECT_EQ(status.code(), ErrorCode::invalid_argument) << status.to_string();
  std::vector<std::byte> too_much(vk_->limits().push_constant_bytes + 4);
  status = vk_->dispatch(none, std::span<const std::byte>(too_much), {1, 1, 1});
  EXPECT_EQ(status.code(), ErrorCode::invalid_argument) << status.to_string();
  // A host pointer handed to a copy is refused, not followed.
  float host[4] = {};
  Tensor t = testing::unwrap(device_->empty(DType::f32, Shape{4}, MemoryTag::io));
  status = device_->copy_to_host(host, host + 1, sizeof host);
  EXPECT_FALSE(status.ok());
  status = device_->copy_on_device(t.raw_data(), host, sizeof host);
  EXPECT_FALSE(status.ok());
  // And the device is still usable.
  EXPECT_TRUE(device_->synchronize().ok());
}

TEST_F(VulkanDeviceTest, EveryWorkgroupOfALaunchIndexesItsOwnElements) {
  // Sizes around and far past one 256-invocation workgroup (a kernel that
  // took gl_WorkGroupSize from the folded default wrote only the first
  // 256 + groups - 1 elements).
  ops::OpContext ctx{*device_, testing::test_pool()};
  for (std::int64_t n : {255, 256, 257, 300, 4096, 10001}) {
    const auto a = testing::random_floats(static_cast<std::size_t>(n), 1);
    const auto b = testing::random_floats(static_cast<std::size_t>(n), 2);
    const auto sum = testing::download(testing::unwrap(ops::add(
        ctx, testing::upload(*device_, a, Shape{n}), testing::upload(*device_, b, Shape{n}))));
    for (std::size_t i = 0; i < sum.size(); ++i) ASSERT_EQ(sum[i], a[i] + b[i]) << n << " at " << i;
  }
}

TEST(VulkanSelection, AutoNeverPicksACpuImplementation) {
  VulkanDeviceInfo lavapipe;
  lavapipe.index = 0;
  lavapipe.type = VulkanDeviceType::cpu;
  lavapipe.usable = true;
  VulkanDeviceInfo igpu = lavapipe, dgpu = lavapipe, broken = lavapipe;
  igpu.index = 1;
  igpu.type = VulkanDeviceType::integrated_gpu;
  dgpu.index = 2;
  dgpu.type = VulkanDeviceType::discrete_gpu;
  broken.index = 3;
  broken.type = VulkanDeviceType::discrete_gpu;
  broken.usable = false;
  EXPECT_EQ(preferred_vulkan_device({lavapipe}), -1);
  EXPECT_EQ(preferred_vulkan_device({lavapipe, igpu}), 1);
  EXPECT_EQ(preferred_vulkan_device({lavapipe, igpu, dgpu}), 2);
  EXPECT_EQ(preferred_vulkan_device({broken, lavapipe, igpu}), 1);
  EXPECT_EQ(preferred_vulkan_device({broken}), -1);
}

// auto: a Vulkan GPU when there is one, else the CPU; never lavapipe (here
// the only Vulkan device) and never the cuda device, which has no kernels.
TEST(VulkanSelection, AutoOpensAVulkanGpuElseTheCpu) {
  std::vector<std::string> warnings;
  const DeviceRequest request = testing::unwrap(device_request_from(
      [](std::string_view) { return std::optional<std::string>(); }, std::string("auto")));
  const std::shared_ptr<Device> opened = testing::unwrap(open_device(request, warnings));
  auto listed = list_vulkan_devices();
  const int preferred = listed.ok() ? preferred_vulkan_device(listed.value()) : -1;
  if (preferred < 0) {
    EXPECT_EQ(opened->kind(), DeviceKind::cpu);
  } else {
    EXPECT_EQ(opened->name(), "vulkan:" + std::to_string(preferred));
  }
  EXPECT_NE(opened->kind(), DeviceKind::cuda);
}

TEST(VulkanSelection, DeviceNamesAreParsedStrictly) {
  const auto none = [](std::string_view) { return std::optional<std::string>(); };
  for (const char* good : {"vulkan", "vulkan:0", "vulkan:12"}) {
    const auto request = device_request_from(none, std::string(good));
    ASSERT_TRUE(request.ok()) << good;
    EXPECT_EQ(request->choice, DeviceRequest::Choice::vulkan) << good;
  }
  EXPECT_EQ(device_request_from(none, std::string("vulkan:12"))->ordinal, 12);
  for (const char* bad : {"vulkan:", "vulkan:-1", "vulkan:x", "vulkan:1x", "vulkanx", "vulkan0"}) {
    const auto request = device_request_from(none, std::string(bad));
    ASSERT_FALSE(request.ok()) << bad;
    EXPECT_NE(request.status().message().find(bad), std::string::npos)
        << request.status().message();
  }
  // A bad value in the environment is ignored with a warning.
  const auto from_env = device_request_from([](std::string_view name) {
    return name == "ACEFIT_DEVICE" ? std::optional<std::string>("vulkan:") : std::nullopt;
  });
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->choice, DeviceRequest::Choice::automatic);
  ASSERT_EQ(from_env->warnings.size(), 1u);
}

// A device index that does not exist is not_found naming it.
TEST(VulkanSelection, AMissingIndexIsNamed) {
  auto opened = make_vulkan_device(999);
  ASSERT_FALSE(opened.ok());
  if (!vulkan_compiled_in()) {
    EXPECT_EQ(opened.status().code(), ErrorCode::unsupported);
    return;
  }
  EXPECT_EQ(opened.status().code(), ErrorCode::not_found) << opened.status().to_string();
  EXPECT_NE(opened.status().message().find("vulkan:999"), std::string::npos);
}

}  // namespace
}  // namespace acefit
