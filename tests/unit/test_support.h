// Helpers shared by the unit tests: devices to run on, host <-> tensor
// copies, random data and comparison against naive references.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "device/device.h"
#include "ops/op_context.h"

namespace acefit::testing {

ThreadPool& test_pool();

// The exhaustive sweeps (a failure injected at every allocation of a run,
// every memory cap, every reservation of a VAE decode) run whole unless
// ACEFIT_TEST_SWEEPS=sample is set, as the sanitizer pass of .ci/run does;
// then they run every `stride`-th case, always the first and the last (the
// Release pass runs them whole). Returns 1 when the sweep runs whole.
std::uint64_t sweep_stride(std::uint64_t stride);
bool sweeps_sampled();
// True for the cases a sweep with that stride runs: 1, 1 + stride, ..., last.
inline bool sweep_runs(std::uint64_t n, std::uint64_t last, std::uint64_t stride) {
  return n == last || (n - 1) % stride == 0;
}

// "cpu", "sim" or "vulkan": the devices every op test runs on. vulkan is
// the device ACEFIT_TEST_VULKAN_DEVICE names (an index or part of a name;
// default llvmpipe, i.e. lavapipe), opened once per process; null when there
// is none.
std::shared_ptr<Device> make_test_device(const std::string& kind);
// make_test_device, or null after logging why (a failure instead when
// ACEFIT_TEST_REQUIRE_VULKAN=1, as scripts/test sets): the caller skips.
std::shared_ptr<Device> device_or_skip(const std::string& kind);

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, float stddev = 1.0f);

// Uploads host values as an f32 tensor (or another dtype for raw bytes).
Tensor upload(Device& device, const std::vector<float>& values, Shape shape);
Tensor upload_bytes(Device& device, const void* data, DType dtype, Shape shape);
std::vector<float> download(const Tensor& tensor);

// Fails the test unless |actual - expected| <= atol + rtol |expected| everywhere.
void expect_close(const std::vector<float>& actual, const std::vector<double>& expected,
                  double atol, double rtol, const std::string& what);

template <typename T>
T unwrap(Expected<T> result) {
  if (!result.ok()) {
    ADD_FAILURE() << result.status().to_string();
    throw std::runtime_error(result.status().to_string());
  }
  return std::move(result).value();
}

// Fixture parameterised by device kind.
class DeviceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    device_ = device_or_skip(GetParam());
    if (!device_) GTEST_SKIP() << "no " << GetParam() << " device";
  }
  ops::OpContext ctx() { return ops::OpContext{*device_, test_pool()}; }
  Tensor up(const std::vector<float>& values, Shape shape) {
    return upload(*device_, values, shape);
  }
  std::shared_ptr<Device> device_;
};

}  // namespace acefit::testing

#define ACEFIT_DEVICE_TEST_SUITE(suite) \
  INSTANTIATE_TEST_SUITE_P(Devices, suite, ::testing::Values("cpu", "sim", "vulkan"))
