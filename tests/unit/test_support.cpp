#include "test_support.h"

#include <cstdlib>
#include <string_view>

#include <cmath>
#include <cstring>

#include "device/cpu/cpu_device.h"
#include "device/sim/sim_device.h"
#include "device/vulkan/vulkan_device.h"
#include "ops/cpu/blas.h"

namespace acefit::testing {

bool sweeps_sampled() {
  const char* value = std::getenv("ACEFIT_TEST_SWEEPS");
  return value != nullptr && std::string_view(value) == "sample";
}

std::uint64_t sweep_stride(std::uint64_t stride) {
  return sweeps_sampled() ? stride : 1;
}

ThreadPool& test_pool() {
  static ThreadPool* pool = [] {
    auto* p = new ThreadPool(2);
    cpu::blas_set_threads(p->size());
    return p;
  }();
  return *pool;
}

bool vulkan_required() {
  const char* value = std::getenv("ACEFIT_TEST_REQUIRE_VULKAN");
  return value != nullptr && std::string_view(value) == "1";
}

Expected<std::shared_ptr<Device>> open_test_vulkan_device() {
  ACEFIT_ASSIGN(const auto devices, list_vulkan_devices());
  const char* wanted = std::getenv("ACEFIT_TEST_VULKAN_DEVICE");
  const std::string want = wanted == nullptr ? "llvmpipe" : wanted;
  for (const auto& d : devices) {
    if (std::to_string(d.index) == want || d.name.find(want) != std::string::npos)
      return make_vulkan_device(d.index);
  }
  return Status(ErrorCode::not_found, "no Vulkan device matches ACEFIT_TEST_VULKAN_DEVICE='" +
                                          want + "' (" + std::to_string(devices.size()) +
                                          " devices listed)");
}

namespace {

// One device per test process: opening one builds its pipelines anew.
Expected<std::shared_ptr<Device>>& shared_test_vulkan_device() {
  static Expected<std::shared_ptr<Device>> device = open_test_vulkan_device();
  return device;
}

bool shared_test_vulkan_device_opened = false;

// The shared device is closed when the tests end, before exit handlers
// run: a driver that compiles shaders on its own threads (lavapipe's LLVM)
// must not be torn down while the process destroys the libraries' statics.
class CloseTestVulkanDevice : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!shared_test_vulkan_device_opened) return;
    auto& device = shared_test_vulkan_device();
    if (device.ok() && device.value()) {
      (void)device.value()->synchronize();
      device = Status(ErrorCode::unsupported, "the test Vulkan device was closed");
    }
  }
};

[[maybe_unused]] ::testing::Environment* const close_test_vulkan_device =
    ::testing::AddGlobalTestEnvironment(new CloseTestVulkanDevice);

}  // namespace

std::shared_ptr<Device> test_vulkan_device(std::string& why_not) {
  shared_test_vulkan_device_opened = true;
  auto& device = shared_test_vulkan_device();
  if (!device.ok()) {
    why_not = device.status().to_string();
    return nullptr;
  }
  return device.value();
}

std::shared_ptr<Device> make_test_device(const std::string& kind) {
  if (kind == "sim") return make_sim_device(std::uint64_t{1} << 30);
  if (kind == "vulkan") {
    std::string why_not;
    return test_vulkan_device(why_not);
  }
  return make_cpu_device();
}

std::shared_ptr<Device> device_or_skip(const std::string& kind) {
  if (kind != "vulkan") return make_test_device(kind);
  std::string why_not;
  auto device = test_vulkan_device(why_not);
  if (device) return device;
  if (vulkan_required()) {
    ADD_FAILURE() << "ACEFIT_TEST_REQUIRE_VULKAN=1 but: " << why_not;
  } else {
    GTEST_LOG_(INFO) << "no Vulkan device: " << why_not;
  }
  return nullptr;
}

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, float stddev) {
  Rng rng(seed);
  std::vector<float> values(n);
  for (float& v : values) v = rng.normal() * stddev;
  return values;
}

Tensor upload_bytes(Device& device, const void* data, DType dtype, Shape shape) {
  Tensor t = unwrap(device.empty(dtype, shape, MemoryTag::io));
  const Status status = device.copy_from_host(t.raw_data(), data, t.nbytes());
  if (!status.ok()) throw std::runtime_error(status.to_string());
  return t;
}

Tensor upload(Device& device, const std::vector<float>& values, Shape shape) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel()) {
    throw std::runtime_error("upload: " + std::to_string(values.size()) + " values for " +
                             shape.to_string());
  }
  return upload_bytes(device, values.data(), DType::f32, shape);
}

std::vector<float> download(const Tensor& tensor) {
  std::vector<float> values(static_cast<std::size_t>(tensor.numel()));
  const Status status =
      tensor.device()->copy_to_host(values.data(), tensor.raw_data(), tensor.nbytes());
  if (!status.ok()) throw std::runtime_error(status.to_string());
  return values;
}

void expect_close(const std::vector<float>& actual, const std::vector<double>& expected,
                  double atol, double rtol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i];
    const double e = expected[i];
    if (!(std::fabs(a - e) <= atol + rtol * std::fabs(e))) {
      if (++bad <= 5)
        ADD_FAILURE() << what << ": element " << i << " is " << a << ", expected " << e;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << actual.size()
                     << " elements out of tolerance";
}

}  // namespace acefit::testing
