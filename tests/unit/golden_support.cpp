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

models::ConditionInputs golden_condition_inputs(const GoldenFile& golden, Device& device) {
  models::ConditionInputs inputs;
  inputs.text_hidden = golden.upload(device, "text_hidden_states");
  inputs.text_lengths = mask_lengths(golden["text_mask"]);
  inputs.lyric_embeddings = golden.upload(device, "lyric_embeddings");
  inputs.lyric_lengths = mask_lengths(golden["lyric_mask"]);
  inputs.timbre_latents = golden.upload(device, "timbre_latents");
  return inputs;
}

Generator golden_generator(const ops::OpContext& ctx, const std::string& device_param) {
  GeneratorOptions options;
  options.checkpoints = golden_checkpoints();
  options.matrix_dtype = device_param == "cpu" ? DType::f32 : DType::bf16;
  auto generator = Generator::load(options, ctx);
  if (!generator.ok()) throw std::runtime_error(generator.status().to_string());
  return std::move(generator).value();
}

std::vector<float> sample_and_check_steps(const Generator& generator,
                                          const models::EncoderStates& states,
                                          const GoldenFile& golden, Generator::SamplingPlan plan,
                                          const std::string& prefix) {
  std::vector<std::vector<float>> seen;
  plan.on_step = [&](int, const std::vector<float>& x) { seen.push_back(x); };
  const GoldenArray& noise = golden["noise"];
  const std::int64_t frames = noise.shape.at(1);
  auto latents = generator.sample(states, noise.f32, frames, plan);
  if (!latents.ok()) throw std::runtime_error(latents.status().to_string());
  EXPECT_EQ(static_cast<int>(seen.size()), plan.schedule.step_count());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const std::string name = prefix + std::to_string(i);
    expect_matches_golden(seen[i], golden[name], name);
  }
  return std::move(latents).value();
}

namespace {

// One folder per test process (ctest runs tests in parallel processes),
// removed when the process ends.
std::string scratch_path(const char* name) {
  return std::string(ACEFIT_BINARY_DIR) + "/" + name + "-" + std::to_string(::getpid());
}

struct ScratchFolder {
  std::string path = scratch_path("golden-checkpoints");
  ~ScratchFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// Writes the checkpoints into `root` (replacing what is there); throws with
// `hint` appended when that fails.
void write_checkpoints(const std::string& root, const SyntheticCheckpointOptions& options,
                       const std::string& hint = "") {
  std::filesystem::remove_all(root);
  const Status status = write_synthetic_checkpoints(root, options);
  if (!status.ok()) throw std::runtime_error(status.to_string() + hint);
}

// The goldens' checkpoints: seed 1, no LM.
SyntheticCheckpointOptions golden_options(SyntheticPreset preset) {
  SyntheticCheckpointOptions options;
  options.preset = preset;
  options.seed = 1;
  options.with_lm = false;
  return options;
}

}  // namespace

const std::string& golden_checkpoints() {
  static std::once_flag once;
  static ScratchFolder folder;
  std::call_once(once,
                 [] { write_checkpoints(folder.path, golden_options(SyntheticPreset::tiny)); });
  return folder.path;
}

const std::string& xl_golden_checkpoints() {
  static std::once_flag once;
  static ScratchFolder folder{scratch_path("xl-golden-checkpoints")};
  std::call_once(once,
                 [] { write_checkpoints(folder.path, golden_options(SyntheticPreset::xl_tiny)); });
  return folder.path;
}

const std::string& lm_golden_checkpoints() {
  static std::once_flag once;
  static ScratchFolder folder{scratch_path("lm-golden-checkpoints")};
  std::call_once(once, [] {
    // Each part has its own seed: the LM's weights do not depend on the others.
    SyntheticCheckpointOptions options = golden_options(SyntheticPreset::tiny);
    options.with_text_encoder = false;
    options.with_lm = true;
    write_checkpoints(folder.path, options);
  });
  return folder.path;
}

const std::string& tokenized_checkpoints() {
  static std::once_flag once;
  static ScratchFolder folder{scratch_path("tokenized-checkpoints")};
  std::call_once(once, [] {
    SyntheticCheckpointOptions options;
    options.with_lm = false;
    options.tokenizer_dir = qwen3_tokenizer_dir();
    write_checkpoints(folder.path, options, "; " + qwen3_install_hint());
  });
  return folder.path;
}

const std::string& lm_checkpoints() {
  static std::once_flag once;
  static ScratchFolder folder{scratch_path("lm-checkpoints")};
  std::call_once(once, [] {
    SyntheticCheckpointOptions options;
    options.tokenizer_dir = qwen3_tokenizer_dir();
    write_checkpoints(folder.path, options, "; " + qwen3_install_hint());
  });
  return folder.path;
}

}  // namespace acefit::testing
