// The XL (4B) DiT models (spec acestep-model.md 18.5): the four encoder_*
// config fields, the encoder-width condition encoder / FSQ / detokenizer
// with a decoder-width DiT, the tensor layout of the real XL checkpoint,
// the prepended timbre special token, folder discovery and the presets.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "device/cpu/cpu_device.h"
#include "golden_support.h"
#include "io/checkpoint/checkpoint_layout.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "models/dit/condition_encoder.h"
#include "models/dit/dit_decoder.h"
#include "models/fsq/detokenizer.h"
#include "models/host_tensor.h"
#include "pipeline/generator.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

std::map<std::string, std::vector<std::int64_t>> shapes_by_name(
    const std::vector<TensorSpec>& specs) {
  std::map<std::string, std::vector<std::int64_t>> out;
  for (const TensorSpec& spec : specs) out[spec.name] = spec.shape;
  return out;
}

TEST(XlConfig, EncoderFieldsAreReadAndDefaultToTheDecoderDims) {
  const DitConfig two_b =
      unwrap(parse_dit_config(R"({"hidden_size": 2048, "num_hidden_layers": 24})", "2b"));
  EXPECT_FALSE(two_b.xl_layout());
  EXPECT_FALSE(two_b.encoder_hidden_size.has_value());
  EXPECT_EQ(two_b.encoder_width(), 2048);
  EXPECT_EQ(two_b.encoder_config().intermediate_size, two_b.intermediate_size);
  EXPECT_EQ(two_b.encoder_config().num_attention_heads, two_b.num_attention_heads);

  const DitConfig xl = unwrap(parse_dit_config(
      R"({"hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 32,
          "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
          "encoder_hidden_size": 2048, "encoder_intermediate_size": 6144,
          "encoder_num_attention_heads": 16, "encoder_num_key_value_heads": 8})",
      "xl"));
  EXPECT_TRUE(xl.xl_layout());
  const DitConfig encoder = xl.encoder_config();
  EXPECT_EQ(encoder.hidden_size, 2048);
  EXPECT_EQ(encoder.intermediate_size, 6144);
  EXPECT_EQ(encoder.num_attention_heads, 16);
  EXPECT_EQ(encoder.num_key_value_heads, 8);
  EXPECT_EQ(encoder.head_dim, 128);
  EXPECT_EQ(xl.hidden_size, 2560);

  // One field alone is the XL layout too; the others follow the decoder.
  const DitConfig partial = unwrap(parse_dit_config(
      R"({"hidden_size": 96, "num_hidden_layers": 2, "encoder_hidden_size": 64})", "partial"));
  EXPECT_TRUE(partial.xl_layout());
  EXPECT_EQ(partial.encoder_width(), 64);
  EXPECT_EQ(partial.encoder_config().num_attention_heads, partial.num_attention_heads);
}

TEST(XlConfig, BadEncoderFieldsAreNamed) {
  const auto heads = parse_dit_config(
      R"({"hidden_size": 64, "num_hidden_layers": 2, "encoder_num_attention_heads": 6,
          "encoder_num_key_value_heads": 4})",
      "cfg");
  ASSERT_FALSE(heads.ok());
  EXPECT_NE(heads.status().message().find("encoder_num_attention_heads"), std::string::npos);
  for (const char* text :
       {R"({"hidden_size": 64, "num_hidden_layers": 2, "encoder_hidden_size": 0})",
        R"({"hidden_size": 64, "num_hidden_layers": 2, "encoder_hidden_size": "x"})",
        R"({"hidden_size": 64, "num_hidden_layers": 2,
                               "encoder_intermediate_size": 1e12})"}) {
    const auto bad = parse_dit_config(text, "cfg");
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_NE(bad.status().message().find("encoder_"), std::string::npos) << bad.status().message();
  }
}

// The real XL turbo checkpoint's layout: the 2B names with 8 more decoder
// layers (19 tensors each), the decoder at 2560 with 32 x 128 attention, the
// encoder side at 2048.
TEST(XlTensors, FullXlLayoutHasTheRealShapes) {
  const std::vector<TensorSpec> specs = expected_dit_tensors(xl_dit_config());
  EXPECT_EQ(specs.size(), 677u + 8u * 19u);
  const auto shapes = shapes_by_name(specs);
  using S = std::vector<std::int64_t>;
  EXPECT_EQ(shapes.at("decoder.condition_embedder.weight"), (S{2560, 2048}));
  EXPECT_EQ(shapes.at("null_condition_emb"), (S{1, 1, 2048}));
  EXPECT_EQ(shapes.at("decoder.layers.31.self_attn.q_proj.weight"), (S{4096, 2560}));
  EXPECT_EQ(shapes.at("decoder.layers.31.cross_attn.k_proj.weight"), (S{1024, 2560}));
  EXPECT_EQ(shapes.at("decoder.layers.0.self_attn.o_proj.weight"), (S{2560, 4096}));
  EXPECT_EQ(shapes.at("decoder.layers.0.mlp.gate_proj.weight"), (S{9728, 2560}));
  EXPECT_EQ(shapes.at("decoder.time_embed.time_proj.weight"), (S{6 * 2560, 2560}));
  EXPECT_EQ(shapes.at("encoder.text_projector.weight"), (S{2048, 1024}));
  EXPECT_EQ(shapes.at("encoder.lyric_encoder.layers.7.self_attn.q_proj.weight"), (S{2048, 2048}));
  EXPECT_EQ(shapes.at("encoder.lyric_encoder.layers.7.mlp.up_proj.weight"), (S{6144, 2048}));
  EXPECT_EQ(shapes.at("encoder.timbre_encoder.special_token"), (S{1, 1, 2048}));
  EXPECT_EQ(shapes.at("tokenizer.quantizer.project_in.weight"), (S{6, 2048}));
  EXPECT_EQ(shapes.at("detokenizer.special_tokens"), (S{1, 5, 2048}));
  EXPECT_EQ(shapes.at("detokenizer.proj_out.weight"), (S{64, 2048}));
  EXPECT_EQ(shapes.count("decoder.layers.32.mlp_norm.weight"), 0u);

  // Parameters: 4,987,... (about 9.97 GB in bf16; docs/MODELS.md compares
  // this with upstream's 9.0 GB figure).
  std::int64_t params = 0;
  for (const TensorSpec& spec : specs) {
    std::int64_t n = 1;
    for (const std::int64_t d : spec.shape) n *= d;
    params += n;
  }
  EXPECT_GT(params, 4'980'000'000);
  EXPECT_LT(params, 4'995'000'000);
}

TEST(XlTensors, TwoBLayoutIsUnchanged) {
  const std::vector<TensorSpec> specs =
      expected_dit_tensors(preset_dit_config(SyntheticPreset::full));
  EXPECT_EQ(specs.size(), 677u);
  const auto shapes = shapes_by_name(specs);
  EXPECT_EQ(shapes.at("decoder.condition_embedder.weight"),
            (std::vector<std::int64_t>{2048, 2048}));
}

TEST(XlPresets, NamesFoldersAndDims) {
  for (const char* name : {"tiny", "full", "xl-tiny", "xl-full"}) {
    const auto preset = parse_synthetic_preset(name);
    ASSERT_TRUE(preset.has_value()) << name;
    EXPECT_EQ(preset_name(*preset), name);
  }
  EXPECT_FALSE(parse_synthetic_preset("xl").has_value());
  EXPECT_FALSE(parse_synthetic_preset("").has_value());
  EXPECT_EQ(preset_dit_folder(SyntheticPreset::xl_tiny), "acestep-v15-xl-turbo");
  EXPECT_EQ(preset_dit_folder(SyntheticPreset::full), "acestep-v15-turbo");
  const DitConfig tiny = preset_dit_config(SyntheticPreset::xl_tiny);
  EXPECT_TRUE(tiny.xl_layout());
  EXPECT_NE(tiny.hidden_size, tiny.encoder_width());
  // Attention wider than the decoder, as in the real XL (32 x 128 > 2560).
  EXPECT_GT(tiny.num_attention_heads * tiny.head_dim, tiny.hidden_size);
  EXPECT_TRUE(preset_full_size(SyntheticPreset::xl_full));
  EXPECT_FALSE(preset_full_size(SyntheticPreset::xl_tiny));
}

TEST(XlCheckpoint, WrittenFolderIsDiscoveredAndChecksOut) {
  const std::string& root = xl_golden_checkpoints();
  const CheckpointLayout layout = unwrap(discover_checkpoints(root));
  ASSERT_EQ(layout.dits.size(), 1u);
  EXPECT_EQ(layout.dits[0].name, "acestep-v15-xl-turbo");
  EXPECT_TRUE(layout.dits[0].xl);
  EXPECT_TRUE(layout.dits[0].turbo);
  const DitConfig config = unwrap(load_dit_config(layout.dits[0].path));
  EXPECT_TRUE(config.xl_layout());
  EXPECT_EQ(config.encoder_hidden_size,
            preset_dit_config(SyntheticPreset::xl_tiny).encoder_hidden_size);
}

// The XL timbre encoder reads its output at the prepended special token: the
// token's value shapes the result, and the 2B reading (frame 0 of the frames
// alone) gives a different one.
TEST(XlConditionEncoder, TimbreSpecialTokenIsPrependedAndRead) {
  const std::string dir = xl_golden_checkpoints() + "/acestep-v15-xl-turbo";
  const DitConfig xl = unwrap(load_dit_config(dir));
  // The same encoder weights read the 2B way: the encoder dims, no encoder_* fields.
  DitConfig as_2b = xl.encoder_config();
  as_2b.encoder_hidden_size.reset();
  as_2b.encoder_intermediate_size.reset();
  as_2b.encoder_num_attention_heads.reset();
  as_2b.encoder_num_key_value_heads.reset();
  ASSERT_FALSE(as_2b.xl_layout());
  const auto loader = unwrap(models::WeightLoader::open(dir));
  const std::shared_ptr<Device> cpu = make_cpu_device();
  const ops::OpContext ctx{*cpu, test_pool()};
  const auto encoder_xl = unwrap(models::ConditionEncoder::load(loader, ctx, xl, DType::f32));
  const auto encoder_2b = unwrap(models::ConditionEncoder::load(loader, ctx, as_2b, DType::f32));
  EXPECT_EQ(encoder_xl.config().hidden_size, xl.encoder_width());

  const std::int64_t text_dim = xl.text_hidden_dim;
  models::ConditionInputs in;
  std::vector<float> text(static_cast<std::size_t>(3 * text_dim), 0.25f);
  std::vector<float> lyric(static_cast<std::size_t>(2 * text_dim), -0.5f);
  std::vector<float> timbre(static_cast<std::size_t>(6 * xl.timbre_hidden_dim));
  for (std::size_t i = 0; i < timbre.size(); ++i) timbre[i] = static_cast<float>(i % 7) * 0.1f;
  in.text_hidden = unwrap(models::tensor_from_host(*cpu, Shape{1, 3, text_dim}, text));
  in.lyric_embeddings = unwrap(models::tensor_from_host(*cpu, Shape{1, 2, text_dim}, lyric));
  in.timbre_latents =
      unwrap(models::tensor_from_host(*cpu, Shape{1, 6, xl.timbre_hidden_dim}, timbre));
  in.text_lengths = {3};
  in.lyric_lengths = {2};
  const auto out_xl = unwrap(encoder_xl.encode(ctx, in));
  const auto out_2b = unwrap(encoder_2b.encode(ctx, in));
  EXPECT_EQ(out_xl.states.dim(2), xl.encoder_width());
  EXPECT_EQ(out_xl.timbre_encoded.dim(1), 1);
  const std::vector<float> a = unwrap(models::tensor_to_host(out_xl.timbre_encoded));
  const std::vector<float> b = unwrap(models::tensor_to_host(out_2b.timbre_encoded));
  double diff = 0, peak = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
    peak = std::max(peak, static_cast<double>(std::abs(b[i])));
  }
  EXPECT_GT(diff, 0.05 * peak) << "the special token must change the timbre state";
  // The lyric and caption parts do not depend on it.
  EXPECT_EQ(unwrap(models::tensor_to_host(out_xl.lyric_encoded)),
            unwrap(models::tensor_to_host(out_2b.lyric_encoded)));
}

TEST(XlGenerator, TinyXlGeneratesWithTheDecoderAndEncoderWidths) {
  const std::shared_ptr<Device> cpu = make_cpu_device();
  const ops::OpContext ctx{*cpu, test_pool()};
  GeneratorOptions options;
  options.checkpoints = xl_golden_checkpoints();
  options.dit = "acestep-v15-xl-turbo";
  const Generator generator = unwrap(Generator::load(options, ctx));
  EXPECT_TRUE(generator.turbo());
  EXPECT_EQ(generator.dit_name(), "acestep-v15-xl-turbo");
  EXPECT_TRUE(generator.dit_config().xl_layout());
  // Ids straight into the stages (no tokenizer in this folder).
  const std::vector<std::int64_t> caption = {1, 2, 3, 4}, lyric = {5, 6};
  const auto states = unwrap(generator.encode_ids(caption, lyric, 1));
  EXPECT_EQ(states.states.dim(2), generator.dit_config().encoder_width());
  Generator::SamplingPlan plan;
  plan.schedule.t = {1.0, 0.75, 0.5, 0.0};
  plan.schedule.turbo = true;
  const std::int64_t frames = 16;
  std::vector<float> noise(static_cast<std::size_t>(frames * 64));
  for (std::size_t i = 0; i < noise.size(); ++i)
    noise[i] = static_cast<float>((i * 37) % 11) - 5.0f;
  const std::vector<float> latents = unwrap(generator.sample(states, noise, frames, plan));
  EXPECT_EQ(latents.size(), noise.size());
  EXPECT_TRUE(check_sampled_latents(latents, LatentShape{1, frames, 64}).ok());
}

}  // namespace
}  // namespace acefit::testing
