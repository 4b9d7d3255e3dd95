// Model weight enumeration and copies (offload): a tiny text encoder,
// condition encoder, DiT and detokenizer loaded on the cpu device, copied to
// a sim device with copy_model_to, give bitwise the same outputs; the copy
// moves exactly weight_bytes over the sim device's transfer counters, and a
// copy onto a planning device reserves exactly weight_bytes. Also the
// planned WeightLoader (weights without files).
#include <gtest/gtest.h>

#include "device/planning/planning_device.h"
#include "device/sim/sim_device.h"
#include "golden_support.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "models/dit/condition_encoder.h"
#include "models/dit/dit_decoder.h"
#include "models/fsq/detokenizer.h"
#include "models/host_tensor.h"
#include "models/qwen3/text_encoder.h"
#include "models/weight_copy.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

using models::WeightLoader;

class WeightCopyTest : public ::testing::Test {
 protected:
  std::shared_ptr<Device> cpu_ = make_test_device("cpu");
  std::shared_ptr<Device> sim_ = make_sim_device(std::uint64_t{1} << 30);
  ops::OpContext cpu_ctx() { return ops::OpContext{*cpu_, test_pool()}; }
  ops::OpContext sim_ctx() { return ops::OpContext{*sim_, test_pool()}; }
  std::string dit_dir() const { return golden_checkpoints() + "/acestep-v15-turbo"; }
  DitConfig dit_config() const { return unwrap(load_dit_config(dit_dir())); }

  // Copies `model` to the sim device and to a planning device mirroring it,
  // checking the transfer count and the reservations; returns the sim copy.
  template <class Model>
  Model copy_and_check(const Model& model, const std::string& what) {
    const std::uint64_t bytes = models::weight_bytes(model);
    EXPECT_GT(bytes, 0u) << what;
    sim_->reset_transfer_stats();
    const std::uint64_t used_before = sim_->budget().used_bytes();
    Model copy = unwrap(models::copy_model_to(model, *sim_));
    const TransferStats stats = sim_->transfer_stats();
    EXPECT_EQ(stats.to_device_bytes, bytes) << what;
    const std::uint64_t g = sim_->budget().granularity_bytes();
    EXPECT_EQ(sim_->budget().used_bytes() - used_before, models::weight_bytes(copy, g)) << what;
    EXPECT_EQ(models::weight_bytes(copy), bytes) << what;
    // Every tensor moved, none left behind.
    std::vector<Tensor*> tensors;
    copy.collect_weights(tensors);
    for (const Tensor* t : tensors) {
      if (t->defined()) {
        EXPECT_EQ(t->device(), sim_.get()) << what;
      }
    }
    auto planning = make_planning_device(*sim_);
    const Model planned = unwrap(models::copy_model_to(model, *planning));
    EXPECT_EQ(planning->budget().used_bytes(), models::weight_bytes(model, g)) << what;
    EXPECT_EQ(planning->budget().current_bytes(MemoryTag::weights), planning->budget().used_bytes())
        << what;
    return copy;
  }
};

TEST_F(WeightCopyTest, TextEncoderCopyComputesTheSame) {
  const GoldenFile golden("text_encoder");
  const auto encoder = unwrap(models::TextEncoder::load(
      golden_checkpoints() + "/Qwen3-Embedding-0.6B", *cpu_, DType::bf16));
  const auto copy = copy_and_check(encoder, "text encoder");
  EXPECT_EQ(copy.config().hidden_size, encoder.config().hidden_size);
  const auto& ids = golden["input_ids"];
  const Tensor cpu_ids = unwrap(models::tensor_from_host(*cpu_, *Shape::from(ids.shape), ids.i64));
  const Tensor sim_ids = unwrap(models::tensor_from_host(*sim_, *Shape::from(ids.shape), ids.i64));
  EXPECT_EQ(download(unwrap(copy.encode(sim_ctx(), sim_ids))),
            download(unwrap(encoder.encode(cpu_ctx(), cpu_ids))));
  // The copy computes only on its own device.
  EXPECT_FALSE(copy.encode(cpu_ctx(), cpu_ids).ok());
}

TEST_F(WeightCopyTest, ConditionEncoderCopyComputesTheSame) {
  const GoldenFile golden("condition_encoder");
  const auto loader = unwrap(WeightLoader::open(dit_dir()));
  for (const DType dtype : {DType::bf16, DType::i8}) {
    const auto encoder =
        unwrap(models::ConditionEncoder::load(loader, cpu_ctx(), dit_config(), dtype));
    const auto copy = copy_and_check(encoder, "condition encoder");
    std::vector<float> out[2];
    for (int i = 0; i < 2; ++i) {
      Device& device = i == 0 ? *cpu_ : *sim_;
      const ops::OpContext ctx{device, test_pool()};
      const models::ConditionInputs inputs = golden_condition_inputs(golden, device);
      out[i] = download(unwrap((i == 0 ? encoder : copy).encode(ctx, inputs)).states);
    }
    EXPECT_EQ(out[0], out[1]) << dtype_name(dtype);
  }
}

TEST_F(WeightCopyTest, DitCopyComputesTheSame) {
  const GoldenFile golden("dit_step");
  const auto loader = unwrap(WeightLoader::open(dit_dir()));
  const auto dit = unwrap(models::DitDecoder::load(loader, cpu_ctx(), dit_config(), DType::bf16));
  const auto copy = copy_and_check(dit, "DiT");
  const std::vector<float> t = golden["timestep"].f32;
  std::vector<float> out[2];
  for (int i = 0; i < 2; ++i) {
    Device& device = i == 0 ? *cpu_ : *sim_;
    const ops::OpContext ctx{device, test_pool()};
    const auto& model = i == 0 ? dit : copy;
    const auto cache = unwrap(model.prepare(ctx, golden.upload(device, "encoder_states")));
    out[i] = download(unwrap(model.forward(ctx, golden.upload(device, "x_t"),
                                           golden.upload(device, "context"), t, t, cache)));
  }
  EXPECT_EQ(out[0], out[1]);

  // copy_to without layers leaves exactly the layers' bytes behind.
  std::uint64_t layer_bytes = 0;
  auto view = dit;
  for (std::size_t i = 0; i < view.layer_count(); ++i) {
    std::vector<Tensor*> tensors;
    view.collect_layer_weights(i, tensors);
    layer_bytes += models::tensor_bytes(tensors);
  }
  sim_->reset_transfer_stats();
  const auto shell = unwrap(dit.copy_to(*sim_, false));
  EXPECT_EQ(sim_->transfer_stats().to_device_bytes, models::weight_bytes(dit) - layer_bytes);
  std::vector<Tensor*> rest;
  auto shell_view = shell;
  shell_view.collect_weights(rest, false);
  EXPECT_EQ(models::tensor_bytes(rest), models::weight_bytes(dit) - layer_bytes);
}

TEST_F(WeightCopyTest, DetokenizerCopyComputesTheSame) {
  const GoldenFile golden("detokenizer");
  const auto loader = unwrap(WeightLoader::open(dit_dir()));
  const auto detokenizer =
      unwrap(models::Detokenizer::load(loader, cpu_ctx(), dit_config(), DType::bf16));
  const auto copy = copy_and_check(detokenizer, "detokenizer");
  const auto q_cpu = unwrap(detokenizer.dequantize(cpu_ctx(), golden["codes"].i64));
  const auto q_sim = unwrap(copy.dequantize(sim_ctx(), golden["codes"].i64));
  EXPECT_EQ(download(unwrap(copy.detokenize(sim_ctx(), q_sim))),
            download(unwrap(detokenizer.detokenize(cpu_ctx(), q_cpu))));
}

TEST_F(WeightCopyTest, CopyFailsCleanlyWhenTheDeviceIsFull) {
  const auto encoder = unwrap(models::TextEncoder::load(
      golden_checkpoints() + "/Qwen3-Embedding-0.6B", *cpu_, DType::bf16));
  const std::uint64_t bytes = models::weight_bytes(encoder);
  auto small = make_sim_device(bytes / 2);
  const auto result = models::copy_model_to(encoder, *small);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::out_of_memory);
  EXPECT_EQ(small->budget().used_bytes(), 0u) << "the half-made copy was released";
}

TEST(PlannedWeightLoader, AnswersFromSpecsAndLoadsOnlyOnPlanningDevices) {
  const std::vector<TensorSpec> specs = {{"a.weight", {4, 3}}, {"b.bias", {4}}};
  const auto loader = WeightLoader::planned("plan", specs);
  EXPECT_EQ(loader.folder(), "plan");
  EXPECT_TRUE(loader.has("a.weight"));
  EXPECT_FALSE(loader.has("c.weight"));
  EXPECT_EQ(unwrap(loader.shape("a.weight")), (std::vector<std::int64_t>{4, 3}));
  EXPECT_EQ(loader.shape("c.weight").status().code(), ErrorCode::not_found);

  auto cpu = make_test_device("cpu");
  const auto refused = loader.load(*cpu, "a.weight", {4, 3}, DType::f32);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::invalid_argument);
  EXPECT_NE(refused.status().message().find(
                "plan: planned weights without files load only on a planning device"),
            std::string::npos)
      << refused.status().to_string();

  auto planning = make_planning_device(*cpu);
  const Tensor t = unwrap(loader.load(*planning, "a.weight", {4, 3}, DType::bf16));
  EXPECT_TRUE(t.planned());
  EXPECT_EQ(t.dtype(), DType::bf16);
  EXPECT_EQ(planning->budget().current_bytes(MemoryTag::weights),
            planning->budget().accounted_bytes(24));
  EXPECT_EQ(loader.load(*planning, "a.weight", {3, 4}).status().code(), ErrorCode::corrupt);
}

}  // namespace
}  // namespace acefit::testing
