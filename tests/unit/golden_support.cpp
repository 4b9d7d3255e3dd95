#include "golden_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include <unistd.h>

#include "io/checkpoint/checkpoint_synth.h"
#include "io/safetensors/safetensors.h"
#include "test_support.h"
#include "tokenizer_test_support.h"

namespace acefit::testing {

GoldenFile::GoldenFile(const std::string& name)
    : path_(std::string(ACEFIT_TEST_DATA_DIR) + "/golden/" + name + ".safetensors") {
  auto opened = open_safetensors(path_);
  if (!opened.ok()) throw std::runtime_error(opened.status().to_string());
  const SafetensorsFile& file = opened.value();
  for (const SafetensorsTensorInfo& info : file.tensors()) {
    GoldenArray array;
    for (const std::uint64_t d : info.shape) array.shape.push_back(static_cast<std::int64_t>(d));
    auto buffer = file.read_tensor(info.name);
    if (!buffer.ok()) throw std::runtime_error(buffer.status().to_string());
    const auto bytes = buffer.value().bytes();
    if (info.dtype == SafetensorsDtype::f32) {
      array.f32.resize(bytes.size() / sizeof(float));
      std::memcpy(array.f32.data(), bytes.data(), bytes.size());
    } else if (info.dtype == SafetensorsDtype::i64) {
      array.i64.resize(bytes.size() / sizeof(std::int64_t));
      std::memcpy(array.i64.data(), bytes.data(), bytes.size());
    } else {
      throw std::runtime_error(path_ + ": " + info.name + " is neither F32 nor I64");
    }
    arrays_.emplace_back(info.name, std::move(array));
  }
}

bool GoldenFile::has(const std::string& tensor) const {
  for (const auto& [name, array] : arrays_) {
    if (name == tensor) return true;
  }
  return false;
}

const GoldenArray& GoldenFile::operator[](const std::string& tensor) const {
  for (const auto& [name, array] : arrays_) {
    if (name == tensor) return array;
  }
  throw std::runtime_error(path_ + " has no tensor " + tensor);
}

Tensor GoldenFile::upload(Device& device, const std::string& tensor) const {
  const GoldenArray& array = (*this)[tensor];
  return testing::upload(device, array.f32, *Shape::from(array.shape));
}

void expect_matches_golden(const std::vector<float>& actual, const GoldenArray& expected,
                           const std::string& what, double min_cosine, double max_abs_ratio) {
  ASSERT_EQ(actual.size(), expected.f32.size()) << what << ": element count";
  double dot = 0, na = 0, ne = 0, max_err = 0, max_ref = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected.f32[i];
    ASSERT_TRUE(std::isfinite(a)) << what << ": element " << i << " is not finite";
    dot += a * e;
    na += a * a;
    ne += e * e;
    max_err = std::max(max_err, std::fabs(a - e));
    max_ref = std::max(max_ref, std::fabs(e));
  }
  ASSERT_GT(ne, 0.0) << what << ": the golden is all zeros";
  const double cosine = dot / std::sqrt(na * ne);
  EXPECT_GE(cosine, min_cosine) << what;
  EXPECT_LE(max_err, max_abs_ratio * max_ref)
      << what << ": max abs error " << max_err << " against max |golden| " << max_ref;
  ::testing::Test::RecordProperty(what + "_cosine", std::to_string(cosine));
  ::testing::Test::RecordProperty(what + "_max_abs_error_ratio", std::to_string(max_err / max_ref));
}

void expect_matches_golden(const Tensor& actual, const GoldenArray& expected,
                           const std::string& what, double min_cosine, double max_abs_ratio) {
  std::vector<std::int64_t> shape(actual.shape().data(), actual.shape().data() + actual.rank());
  ASSERT_EQ(shape, expected.shape) << what << ": shape " << actual.describe();
  expect_matches_golden(download(actual), expected, what, min_cosine, max_abs_ratio);
}

std::vector<std::int64_t> mask_lengths(const GoldenArray& mask) {
  const std::int64_t rows = mask.shape.at(0), cols = mask.shape.at(1);
  std::vector<std::int64_t> lengths;
  for (std::int64_t b = 0; b < rows; ++b) {
    std::int64_t n = 0;
    while (n < cols && mask.i64[static_cast<std::size_t>(b * cols + n)] == 1) ++n;
    for (std::int64_t j = n; j < cols; ++j) {
      if (mask.i64[static_cast<std::size_t>(b * cols + j)] != 0)
        throw std::runtime_error("mask row is not ones then zeros");
    }
    lengths.push_back(n);
  }
  return lengths;
}

namespace {

// One folder per test process (ctest runs tests in parallel processes),
// removed when the process ends.
struct ScratchFolder {
  std::string path =
      std::string(ACEFIT_BINARY_DIR) + "/golden-checkpoints-" + std::to_string(::getpid());
  ~ScratchFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

const std::string& golden_checkpoints() {
  static std::once_flag once;
  static ScratchFolder folder;
  static const std::string& root = folder.path;
  std::call_once(once, [] {
    SyntheticCheckpointOptions options;
    options.seed = 1;
    options.with_lm = false;
    std::filesystem::remove_all(root);
    const Status status = write_synthetic_checkpoints(root, options);
    if (!status.ok()) throw std::runtime_error(status.to_string());
  });
  return root;
}

const std::string& xl_golden_checkpoints() {
  static std::once_flag once;
  static ScratchFolder folder{std::string(ACEFIT_BINARY_DIR) + "/xl-golden-checkpoints-" +
                              std::to_string(::getpid())};
  static const std::string& root = folder.path;
  std::call_once(once, [] {
    SyntheticCheckpointOptions options;
    options.preset = SyntheticPreset::xl_tiny;
    options.seed = 1;
    options.with_lm = false;
    std::filesystem::remove_all(root);
    const Status status = write_synthetic_checkpoints(root, options);
    if (!status.ok()) throw std::runtime_error(status.to_string());
  });
  return root;
}

const std::string& tokenized_checkpoints() {
  static std::once_flag once;
  static ScratchFolder folder{std::string(ACEFIT_BINARY_DIR) + "/tokenized-checkpoints-" +
                              std::to_string(::getpid())};
  static const std::string& root = folder.path;
  std::call_once(once, [] {
    SyntheticCheckpointOptions options;
    options.with_lm = false;
    options.tokenizer_dir = qwen3_tokenizer_dir();
    std::filesystem::remove_all(root);
    const Status status = write_synthetic_checkpoints(root, options);
    if (!status.ok()) throw std::runtime_error(status.to_string() + "; " + qwen3_install_hint());
  });
  return root;
}

}  // namespace acefit::testing
