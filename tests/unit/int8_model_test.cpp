// INT8 weight-only quantization of the models (spec gpu-adaptation.md 7.1):
// apply_linear on an i8 weight against a naive dequantized product, the
// quantized load against a naive per-row quantization, the condition
// encoder and one DiT step loaded as i8 against the PyTorch goldens, and
// the weight bytes at the tiny and the shipped dims (planning devices).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "device/planning/planning_device.h"
#include "device/sim/sim_device.h"
#include "golden_support.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "models/dit/condition_encoder.h"
#include "models/dit/dit_decoder.h"
#include "models/fsq/detokenizer.h"
#include "models/linear_weight.h"
#include "models/qwen3/text_encoder.h"
#include "models/weight_copy.h"
#include "ops/linear.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

using models::LinearWeight;
using models::WeightLoader;

std::vector<std::int8_t> download_i8(const Tensor& t) {
  std::vector<std::int8_t> values(static_cast<std::size_t>(t.numel()));
  const Status status = t.device()->copy_to_host(values.data(), t.raw_data(), t.nbytes());
  if (!status.ok()) throw std::runtime_error(status.to_string());
  return values;
}

// Every element of w within half a step of its quantized value, and the
// scale the naive max|row| / 127.
void expect_valid_quantization(const std::vector<float>& w, const std::vector<std::int8_t>& q,
                               const std::vector<float>& scale, std::int64_t n, std::int64_t k,
                               const std::string& what) {
  ASSERT_EQ(q.size(), w.size());
  ASSERT_EQ(static_cast<std::int64_t>(scale.size()), n);
  std::size_t bad = 0;
  for (std::int64_t r = 0; r < n; ++r) {
    double peak = 0;
    for (std::int64_t j = 0; j < k; ++j)
      peak = std::max(peak, std::fabs(static_cast<double>(w[static_cast<std::size_t>(r * k + j)])));
    const double s = peak / 127.0;
    ASSERT_NEAR(scale[static_cast<std::size_t>(r)], s, 1e-6 * s) << what << " row " << r;
    for (std::int64_t j = 0; j < k; ++j) {
      const auto i = static_cast<std::size_t>(r * k + j);
      const double err =
          std::fabs(static_cast<double>(w[i]) - q[i] * static_cast<double>(scale[r]));
      if (err > 0.5 * s * (1 + 1e-5) + 1e-30 && ++bad <= 5)
        ADD_FAILURE() << what << ": w[" << r << ", " << j << "] = " << w[i] << ", q = " << int{q[i]}
                      << ", scale " << scale[static_cast<std::size_t>(r)];
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

class Int8LinearTest : public DeviceTest {};

TEST_P(Int8LinearTest, ApplyLinearMatchesNaiveDequantizedProduct) {
  const std::int64_t m = 7, n = 33, k = 70;
  const std::vector<float> x = random_floats(static_cast<std::size_t>(m * k), 11);
  const std::vector<float> w = random_floats(static_cast<std::size_t>(n * k), 12, 0.2f);
  const std::vector<float> b = random_floats(static_cast<std::size_t>(n), 13);
  const auto [q, s] = unwrap(ops::quantize_int8(ctx(), up(w, Shape{n, k})));
  const LinearWeight weight{q, s};
  ASSERT_TRUE(weight.quantized());
  EXPECT_EQ(weight.nbytes(), static_cast<std::uint64_t>(n * k + 4 * n));
  const std::vector<std::int8_t> qh = download_i8(q);
  const std::vector<float> sh = download(s);
  expect_valid_quantization(w, qh, sh, n, k, "quantize_int8");

  const std::vector<float> y =
      download(unwrap(models::apply_linear(ctx(), up(x, Shape{m, k}), weight, up(b, Shape{n}))));
  std::vector<double> naive(static_cast<std::size_t>(m * n));
  std::vector<double> exact(naive.size());  // with the unquantized weight
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t o = 0; o < n; ++o) {
      double acc = b[static_cast<std::size_t>(o)], acc_exact = acc;
      for (std::int64_t j = 0; j < k; ++j) {
        const double xv = x[static_cast<std::size_t>(i * k + j)];
        acc += xv * qh[static_cast<std::size_t>(o * k + j)] * sh[static_cast<std::size_t>(o)];
        acc_exact += xv * w[static_cast<std::size_t>(o * k + j)];
      }
      naive[static_cast<std::size_t>(i * n + o)] = acc;
      exact[static_cast<std::size_t>(i * n + o)] = acc_exact;
    }
  }
  expect_close(y, naive, 1e-5, 1e-5, "i8 linear vs dequantized");
  // And the quantization error stays within sum |x| * scale / 2 per output.
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t o = 0; o < n; ++o) {
      double bound = 0;
      for (std::int64_t j = 0; j < k; ++j)
        bound +=
            std::fabs(x[static_cast<std::size_t>(i * k + j)]) * sh[static_cast<std::size_t>(o)];
      const auto at = static_cast<std::size_t>(i * n + o);
      EXPECT_LE(std::fabs(y[at] - exact[at]), 0.5 * bound + 1e-4) << i << ", " << o;
    }
  }
  // An i8 weight without its scales is refused.
  EXPECT_FALSE(models::apply_linear(ctx(), up(x, Shape{m, k}), LinearWeight{q, Tensor()}).ok());
}

TEST_P(Int8LinearTest, LoadLinearQuantizesTheStoredMatrix) {
  const auto loader = unwrap(WeightLoader::open(golden_checkpoints() + "/acestep-v15-turbo"));
  const std::string name = "decoder.layers.1.mlp.down_proj.weight";
  const auto shape = unwrap(loader.shape(name));
  const LinearWeight full = unwrap(models::load_linear(loader, ctx(), name, shape, DType::f32));
  EXPECT_FALSE(full.scale.defined());
  const std::uint64_t before = device_->budget().current_bytes(MemoryTag::weights);
  const LinearWeight q8 = unwrap(models::load_linear(loader, ctx(), name, shape, DType::i8));
  ASSERT_EQ(q8.weight.dtype(), DType::i8);
  ASSERT_EQ(q8.scale.shape(), Shape{shape[0]});
  // Only the i8 matrix and the scales stay.
  const std::uint64_t g = device_->budget().granularity_bytes();
  const auto rounded = [g](std::uint64_t bytes) { return (bytes + g - 1) / g * g; };
  EXPECT_EQ(device_->budget().current_bytes(MemoryTag::weights) - before,
            rounded(q8.weight.nbytes()) + rounded(q8.scale.nbytes()));
  expect_valid_quantization(download(full.weight), download_i8(q8.weight), download(q8.scale),
                            shape[0], shape[1], name);
  EXPECT_FALSE(models::load_linear(loader, ctx(), name, shape, DType::f16).ok());
}

ACEFIT_DEVICE_TEST_SUITE(Int8LinearTest);

struct Agreement {
  double cosine = 0;
  double max_abs_error = 0;
  double max_abs_golden = 0;
};

Agreement agreement(const std::vector<float>& actual, const GoldenArray& golden) {
  Agreement a;
  double dot = 0, na = 0, ne = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double x = actual[i], e = golden.f32.at(i);
    dot += x * e;
    na += x * x;
    ne += e * e;
    a.max_abs_error = std::max(a.max_abs_error, std::fabs(x - e));
    a.max_abs_golden = std::max(a.max_abs_golden, std::fabs(e));
  }
  a.cosine = dot / std::sqrt(na * ne);
  return a;
}

// The INT8 results against the goldens (computed with the bf16 weights):
// quantization moves them, so the bar is a cosine of 0.999, not the 0.99999
// of the unquantized models; and they must differ from the bf16 results.
constexpr double kInt8MinCosine = 0.999;

void report(const std::string& what, const Agreement& a) {
  std::cout << "[int8] " << what << ": cosine " << a.cosine << ", max abs error " << a.max_abs_error
            << " (max |golden| " << a.max_abs_golden << ")\n";
  ::testing::Test::RecordProperty(what + "_cosine", std::to_string(a.cosine));
  ::testing::Test::RecordProperty(what + "_max_abs_error", std::to_string(a.max_abs_error));
}

class Int8GoldenTest : public ::testing::Test {
 protected:
  std::shared_ptr<Device> cpu_ = make_test_device("cpu");
  ops::OpContext ctx() { return ops::OpContext{*cpu_, test_pool()}; }
  std::string dit_dir() const { return golden_checkpoints() + "/acestep-v15-turbo"; }
  DitConfig dit_config() const { return unwrap(load_dit_config(dit_dir())); }
};

TEST_F(Int8GoldenTest, ConditionEncoderCloseToGoldenAndNotBf16) {
  const GoldenFile golden("condition_encoder");
  const auto loader = unwrap(WeightLoader::open(dit_dir()));
  const models::ConditionInputs inputs = golden_condition_inputs(golden, *cpu_);
  std::vector<float> out[2];
  const DType dtypes[2] = {DType::i8, DType::bf16};
  for (int i = 0; i < 2; ++i) {
    const auto encoder =
        unwrap(models::ConditionEncoder::load(loader, ctx(), dit_config(), dtypes[i]));
    out[i] = download(unwrap(encoder.encode(ctx(), inputs)).states);
  }
  const Agreement a = agreement(out[0], golden["encoder_states"]);
  report("condition_encoder_i8", a);
  EXPECT_GE(a.cosine, kInt8MinCosine);
  EXPECT_LE(a.max_abs_error, 0.05 * a.max_abs_golden);
  EXPECT_NE(out[0], out[1]) << "the i8 load gave the bf16 result: nothing was quantized";
  report("condition_encoder_bf16", agreement(out[1], golden["encoder_states"]));
}

TEST_F(Int8GoldenTest, DitStepCloseToGoldenAndNotBf16) {
  const GoldenFile golden("dit_step");
  const auto loader = unwrap(WeightLoader::open(dit_dir()));
  std::vector<float> out[2];
  const DType dtypes[2] = {DType::i8, DType::bf16};
  for (int i = 0; i < 2; ++i) {
    const auto dit = unwrap(models::DitDecoder::load(loader, ctx(), dit_config(), dtypes[i]));
    const auto cache = unwrap(dit.prepare(ctx(), golden.upload(*cpu_, "encoder_states")));
    const std::vector<float> t = golden["timestep"].f32;
    out[i] = download(unwrap(dit.forward(ctx(), golden.upload(*cpu_, "x_t"),
                                         golden.upload(*cpu_, "context"), t, t, cache)));
  }
  const Agreement a = agreement(out[0], golden["velocity"]);
  report("dit_velocity_i8", a);
  EXPECT_GE(a.cosine, kInt8MinCosine);
  EXPECT_LE(a.max_abs_error, 0.05 * a.max_abs_golden);
  EXPECT_NE(out[0], out[1]) << "the i8 load gave the bf16 result: nothing was quantized";
  report("dit_velocity_bf16", agreement(out[1], golden["velocity"]));
}

// The XL layout quantized: the encoder-width condition encoder (with the
// timbre token) and the decoder-width DiT step stay close to the xl_tiny
// golden.
TEST_F(Int8GoldenTest, XlConditionEncoderAndDitStepCloseToGolden) {
  const GoldenFile golden("xl_tiny");
  const std::string dir = xl_golden_checkpoints() + "/acestep-v15-xl-turbo";
  const auto loader = unwrap(WeightLoader::open(dir));
  const DitConfig config = unwrap(load_dit_config(dir));
  const models::ConditionInputs inputs = golden_condition_inputs(golden, *cpu_);
  const auto encoder = unwrap(models::ConditionEncoder::load(loader, ctx(), config, DType::i8));
  const Agreement states =
      agreement(download(unwrap(encoder.encode(ctx(), inputs)).states), golden["encoder_states"]);
  report("xl_condition_encoder_i8", states);
  EXPECT_GE(states.cosine, kInt8MinCosine);
  EXPECT_LE(states.max_abs_error, 0.05 * states.max_abs_golden);
  const auto dit = unwrap(models::DitDecoder::load(loader, ctx(), config, DType::i8));
  const auto cache = unwrap(dit.prepare(ctx(), golden.upload(*cpu_, "encoder_states")));
  const std::vector<float> t = golden["timestep"].f32;
  const Agreement velocity =
      agreement(download(unwrap(dit.forward(ctx(), golden.upload(*cpu_, "x_t"),
                                            golden.upload(*cpu_, "context"), t, t, cache))),
                golden["velocity"]);
  report("xl_dit_velocity_i8", velocity);
  EXPECT_GE(velocity.cosine, kInt8MinCosine);
  EXPECT_LE(velocity.max_abs_error, 0.05 * velocity.max_abs_golden);
}

TEST(Int8Models, TextEncoderRefusesInt8) {
  auto cpu = make_test_device("cpu");
  const auto result =
      models::TextEncoder::load(golden_checkpoints() + "/Qwen3-Embedding-0.6B", *cpu, DType::i8);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::invalid_argument);
}

// The Linear matrices spec 7.1 quantizes: every 2-D ".weight" of decoder.*
// and encoder.* (norms are 1-D, proj_in/proj_out 3-D convolutions, the
// tables 3-D). Returns {sum N*K, sum N}.
std::pair<std::uint64_t, std::uint64_t> quantized_matrix_elements(const DitConfig& config) {
  std::uint64_t elements = 0, rows = 0;
  for (const TensorSpec& spec : expected_dit_tensors(config)) {
    const bool in_scope =
        spec.name.rfind("decoder.", 0) == 0 || spec.name.rfind("encoder.", 0) == 0;
    const bool weight = spec.name.size() > 7 && spec.name.substr(spec.name.size() - 7) == ".weight";
    if (!in_scope || !weight || spec.shape.size() != 2) continue;
    elements += static_cast<std::uint64_t>(spec.shape[0] * spec.shape[1]);
    rows += static_cast<std::uint64_t>(spec.shape[0]);
  }
  return {elements, rows};
}

struct DitBytes {
  std::uint64_t dit = 0, condition = 0, used = 0, peak = 0;
};

// The DiT decoder and the condition encoder loaded onto a fresh planning
// device mirroring `like`.
DitBytes planned_dit_bytes(const WeightLoader& loader, const DitConfig& config, DType dtype,
                           const Device& like) {
  auto planning = make_planning_device(like);
  const ops::OpContext ctx{*planning, test_pool()};
  DitBytes bytes;
  const auto condition = unwrap(models::ConditionEncoder::load(loader, ctx, config, dtype));
  const auto dit = unwrap(models::DitDecoder::load(loader, ctx, config, dtype));
  bytes.dit = models::weight_bytes(dit);
  bytes.condition = models::weight_bytes(condition);
  bytes.used = planning->budget().used_bytes();
  bytes.peak = planning->budget().peak_bytes();
  // Everything the loads left reserved is reachable from collect_weights.
  const std::uint64_t g = planning->budget().granularity_bytes();
  EXPECT_EQ(bytes.used, models::weight_bytes(dit, g) + models::weight_bytes(condition, g));
  return bytes;
}

TEST(Int8Models, TinyWeightBytesHalveTheMatrices) {
  const std::string dir = golden_checkpoints() + "/acestep-v15-turbo";
  const DitConfig config = unwrap(load_dit_config(dir));
  const auto loader = unwrap(WeightLoader::open(dir));
  auto sim = make_sim_device(std::uint64_t{1} << 30);
  const DitBytes bf16 = planned_dit_bytes(loader, config, DType::bf16, *sim);
  const DitBytes i8 = planned_dit_bytes(loader, config, DType::i8, *sim);
  const auto [elements, rows] = quantized_matrix_elements(config);
  // Each quantized matrix [N, K]: 2NK bytes as bf16, NK + 4N as i8.
  EXPECT_EQ(i8.dit + i8.condition, bf16.dit + bf16.condition - elements + 4 * rows);
  std::cout << "[int8] tiny DiT + condition encoder: bf16 " << bf16.dit + bf16.condition
            << " B, i8 " << i8.dit + i8.condition << " B (" << elements
            << " quantized matrix elements)\n";

  // The same load on the sim device holds what the plan reserved.
  const ops::OpContext ctx{*sim, test_pool()};
  {
    const auto condition = unwrap(models::ConditionEncoder::load(loader, ctx, config, DType::i8));
    const auto dit = unwrap(models::DitDecoder::load(loader, ctx, config, DType::i8));
    EXPECT_EQ(sim->budget().used_bytes(), i8.used);
    EXPECT_EQ(sim->budget().peak_bytes(), i8.peak);
  }
}

TEST(Int8Models, FullDimsPlannedWeightBytes) {
  const DitConfig config = preset_dit_config(SyntheticPreset::full);
  const Qwen3Config text_config = preset_text_encoder_config(SyntheticPreset::full);
  const std::vector<TensorSpec> specs = expected_dit_tensors(config);
  const auto loader = WeightLoader::planned("planned DiT", specs);
  auto sim = make_sim_device(std::uint64_t{64} << 30);
  const auto start = std::chrono::steady_clock::now();
  const DitBytes bf16 = planned_dit_bytes(loader, config, DType::bf16, *sim);
  const DitBytes i8 = planned_dit_bytes(loader, config, DType::i8, *sim);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto [elements, rows] = quantized_matrix_elements(config);
  EXPECT_EQ(i8.dit + i8.condition, bf16.dit + bf16.condition - elements + 4 * rows);

  std::uint64_t checkpoint_bf16 = 0;  // every tensor of the folder stored as bf16
  for (const TensorSpec& spec : specs) {
    std::uint64_t numel = 1;
    for (const std::int64_t d : spec.shape) numel *= static_cast<std::uint64_t>(d);
    checkpoint_bf16 += 2 * numel;
  }
  const auto gb = [](std::uint64_t b) { return static_cast<double>(b) / 1e9; };
  std::cout << "[int8] full dims (" << seconds << " s for both plans): checkpoint as stored "
            << gb(checkpoint_bf16) << " GB; DiT decoder bf16 " << gb(bf16.dit) << " GB -> i8 "
            << gb(i8.dit) << " GB; condition encoder bf16 " << gb(bf16.condition) << " GB -> i8 "
            << gb(i8.condition) << " GB; together " << gb(bf16.dit + bf16.condition) << " -> "
            << gb(i8.dit + i8.condition) << " GB; load peak bf16 " << gb(bf16.peak) << " GB, i8 "
            << gb(i8.peak) << " GB\n";
  ::testing::Test::RecordProperty("full_bf16_bytes", std::to_string(bf16.dit + bf16.condition));
  ::testing::Test::RecordProperty("full_i8_bytes", std::to_string(i8.dit + i8.condition));
  // The spec's figure: about 4.7 GB -> 2.4 GB.
  EXPECT_GT(gb(bf16.dit + bf16.condition), 4.0);
  EXPECT_LT(gb(bf16.dit + bf16.condition), 5.5);
  EXPECT_GT(gb(i8.dit + i8.condition), 2.0);
  EXPECT_LT(gb(i8.dit + i8.condition), 3.0);
  EXPECT_LT(seconds, 5.0);

  // The text encoder and the detokenizer, planned the same way.
  auto planning = make_planning_device(*sim);
  const ops::OpContext ctx{*planning, test_pool()};
  const auto text_loader =
      WeightLoader::planned("planned text encoder", expected_qwen3_tensors(text_config, ""));
  const auto text =
      unwrap(models::TextEncoder::load(text_loader, text_config, *planning, DType::bf16));
  const auto detokenizer = unwrap(models::Detokenizer::load(loader, ctx, config, DType::i8));
  const std::uint64_t detokenizer_bytes = models::weight_bytes(detokenizer);
  std::cout << "[int8] full dims: text encoder bf16 " << gb(models::weight_bytes(text))
            << " GB; detokenizer (never quantized) " << gb(detokenizer_bytes)
            << " GB; the DiT model as acefit holds it (decoder, condition encoder, detokenizer) "
            << gb(bf16.dit + bf16.condition + detokenizer_bytes) << " GB bf16 -> "
            << gb(i8.dit + i8.condition + detokenizer_bytes) << " GB i8\n";
  EXPECT_EQ(planning->budget().used_bytes(),
            models::weight_bytes(text, planning->budget().granularity_bytes()) +
                models::weight_bytes(detokenizer, planning->budget().granularity_bytes()));
}

}  // namespace
}  // namespace acefit::testing
