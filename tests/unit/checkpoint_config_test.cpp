// config.json reading (CK-23..CK-25, CK-27), the expected tensor sets of
// each checkpoint against the counts and shapes in the model spec, the
// config-versus-weights check (CK-26) and checkpoint folder discovery.
#include <filesystem>
#include <fstream>

#include "io/checkpoint/checkpoint_layout.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "io/checkpoint/model_config.h"
#include "test_support.h"

namespace acefit {
namespace {

namespace fs = std::filesystem;

const TensorSpec* find(const std::vector<TensorSpec>& specs, const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::int64_t> shape_of(const std::vector<TensorSpec>& specs, const std::string& name) {
  const TensorSpec* s = find(specs, name);
  return s ? s->shape : std::vector<std::int64_t>{-1};
}

std::string error_of(const Expected<DitConfig>& r) {
  return r.ok() ? "" : r.status().message();
}
std::string error_of(const Expected<Qwen3Config>& r) {
  return r.ok() ? "" : r.status().message();
}

TEST(CheckpointTensors, DitMatchesTheSpecAtShippedDims) {
  const auto specs = expected_dit_tensors(DitConfig{});
  EXPECT_EQ(specs.size(), 677u);
  EXPECT_EQ(shape_of(specs, "decoder.time_embed.time_proj.weight"),
            (std::vector<std::int64_t>{12288, 2048}));
  EXPECT_EQ(shape_of(specs, "decoder.proj_in.1.weight"), (std::vector<std::int64_t>{2048, 192, 2}));
  EXPECT_EQ(shape_of(specs, "decoder.layers.23.self_attn.k_proj.weight"),
            (std::vector<std::int64_t>{1024, 2048}));
  EXPECT_EQ(shape_of(specs, "decoder.layers.5.cross_attn.q_norm.weight"),
            (std::vector<std::int64_t>{128}));
  EXPECT_EQ(shape_of(specs, "decoder.layers.0.scale_shift_table"),
            (std::vector<std::int64_t>{1, 6, 2048}));
  EXPECT_EQ(shape_of(specs, "decoder.proj_out.1.weight"), (std::vector<std::int64_t>{2048, 64, 2}));
  EXPECT_EQ(shape_of(specs, "encoder.lyric_encoder.layers.7.mlp.down_proj.weight"),
            (std::vector<std::int64_t>{2048, 6144}));
  EXPECT_EQ(shape_of(specs, "encoder.timbre_encoder.embed_tokens.weight"),
            (std::vector<std::int64_t>{2048, 64}));
  EXPECT_EQ(shape_of(specs, "tokenizer.quantizer.project_in.weight"),
            (std::vector<std::int64_t>{6, 2048}));
  EXPECT_EQ(shape_of(specs, "detokenizer.special_tokens"), (std::vector<std::int64_t>{1, 5, 2048}));
  EXPECT_EQ(shape_of(specs, "detokenizer.proj_out.weight"), (std::vector<std::int64_t>{64, 2048}));
  EXPECT_EQ(shape_of(specs, "null_condition_emb"), (std::vector<std::int64_t>{1, 1, 2048}));
  EXPECT_EQ(find(specs, "decoder.layers.24.mlp_norm.weight"), nullptr);
}

TEST(CheckpointTensors, VaeMatchesTheSpecAtShippedDims) {
  const auto specs = expected_vae_tensors(VaeConfig{});
  EXPECT_EQ(specs.size(), 365u);
  EXPECT_EQ(shape_of(specs, "decoder.conv1.weight_v"), (std::vector<std::int64_t>{2048, 64, 7}));
  EXPECT_EQ(shape_of(specs, "decoder.block.0.conv_t1.weight_v"),
            (std::vector<std::int64_t>{2048, 1024, 20}));
  EXPECT_EQ(shape_of(specs, "decoder.block.0.conv_t1.weight_g"),
            (std::vector<std::int64_t>{2048, 1, 1}));
  EXPECT_EQ(shape_of(specs, "decoder.block.1.conv_t1.weight_v"),
            (std::vector<std::int64_t>{1024, 512, 12}));
  EXPECT_EQ(shape_of(specs, "decoder.block.4.conv_t1.weight_v"),
            (std::vector<std::int64_t>{128, 128, 4}));
  EXPECT_EQ(shape_of(specs, "decoder.block.2.res_unit3.conv2.weight_v"),
            (std::vector<std::int64_t>{256, 256, 1}));
  EXPECT_EQ(shape_of(specs, "decoder.block.0.snake1.alpha"),
            (std::vector<std::int64_t>{1, 2048, 1}));
  EXPECT_EQ(shape_of(specs, "decoder.conv2.weight_v"), (std::vector<std::int64_t>{2, 128, 7}));
  EXPECT_EQ(find(specs, "decoder.conv2.bias"), nullptr);
  EXPECT_EQ(shape_of(specs, "encoder.block.4.conv1.weight_v"),
            (std::vector<std::int64_t>{2048, 1024, 20}));
  EXPECT_EQ(shape_of(specs, "encoder.block.0.res_unit1.conv1.weight_v"),
            (std::vector<std::int64_t>{128, 128, 7}));
  EXPECT_EQ(shape_of(specs, "encoder.conv2.weight_v"), (std::vector<std::int64_t>{128, 2048, 3}));
  EXPECT_EQ(shape_of(specs, "encoder.snake1.beta"), (std::vector<std::int64_t>{1, 2048, 1}));
  EXPECT_EQ(VaeConfig{}.hop_samples(), 1920);
}

TEST(CheckpointTensors, Qwen3TextEncoderAndLmPrefix) {
  const auto specs = expected_qwen3_tensors(Qwen3Config{}, "");
  EXPECT_EQ(specs.size(), 310u);
  EXPECT_EQ(shape_of(specs, "embed_tokens.weight"), (std::vector<std::int64_t>{151669, 1024}));
  EXPECT_EQ(shape_of(specs, "layers.27.self_attn.q_proj.weight"),
            (std::vector<std::int64_t>{2048, 1024}));
  EXPECT_EQ(shape_of(specs, "layers.0.self_attn.o_proj.weight"),
            (std::vector<std::int64_t>{1024, 2048}));
  Qwen3Config lm4b;
  lm4b.hidden_size = 2560;
  lm4b.num_hidden_layers = 36;
  lm4b.num_attention_heads = 32;
  lm4b.intermediate_size = 9728;
  lm4b.vocab_size = 217204;
  const auto lm = expected_qwen3_tensors(lm4b, "model.");
  EXPECT_EQ(lm.size(), 36u * 11u + 2u);
  EXPECT_EQ(shape_of(lm, "model.layers.35.self_attn.q_proj.weight"),
            (std::vector<std::int64_t>{4096, 2560}));
  EXPECT_EQ(shape_of(lm, "model.layers.0.self_attn.k_proj.weight"),
            (std::vector<std::int64_t>{1024, 2560}));
}

TEST(ModelConfig, ShippedValuesAndDefaults) {
  const auto dit =
      testing::unwrap(parse_dit_config(R"({"hidden_size": 2048, "num_hidden_layers": 24,
      "is_turbo": true, "architectures": ["AceStep"], "sliding_window": 128})",
                                       "dit/config.json"));
  EXPECT_EQ(dit.intermediate_size, 6144);
  EXPECT_EQ(dit.layer_types.size(), 24u);
  EXPECT_TRUE(dit.sliding_layer(0));
  EXPECT_FALSE(dit.sliding_layer(1));
  EXPECT_TRUE(dit.is_turbo);
  const auto vae = testing::unwrap(
      parse_vae_config(R"({"downsampling_ratios": [2, 4, 4, 6, 10]})", "vae/config.json"));
  EXPECT_EQ(vae.hop_samples(), 1920);
  const auto qwen =
      testing::unwrap(parse_qwen3_config(R"({"hidden_size": 1024, "intermediate_size": 3072,
      "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
      "vocab_size": 151669, "rope_theta": 1000000, "torch_dtype": "bfloat16"})",
                                         "qwen/config.json"));
  EXPECT_EQ(qwen.head_dim, 128);
  EXPECT_EQ(qwen.rope_theta, 1e6);
}

TEST(ModelConfig, CK23_MissingInvalidOrDuplicated) {
  const auto missing = load_dit_config("/nonexistent/acefit-dit");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::not_found);
  EXPECT_NE(missing.status().message().find("/nonexistent/acefit-dit/config.json"),
            std::string::npos);
  const std::string bad =
      error_of(parse_dit_config("{\n  \"hidden_size\": 2048,\n  \"x\": [1, 2,]\n}", "c.json"));
  EXPECT_NE(bad.find("c.json: invalid JSON at line 3"), std::string::npos) << bad;
  EXPECT_NE(error_of(parse_dit_config(R"({"hidden_size": 1, "hidden_size": 2})", "c.json"))
                .find("duplicate key \"hidden_size\""),
            std::string::npos);
  EXPECT_NE(error_of(parse_dit_config(R"({"a": {"b": 1, "b": 1}, "hidden_size": 2})", "c.json"))
                .find("duplicate key \"b\""),
            std::string::npos);
  EXPECT_NE(error_of(parse_dit_config("[]", "c.json")).find("must be a JSON object"),
            std::string::npos);
  EXPECT_FALSE(parse_dit_config("{\"hidden_size\": NaN}", "c.json").ok());
  EXPECT_FALSE(parse_dit_config("{\"hidden_size\": 2048} // comment", "c.json").ok());
}

TEST(ModelConfig, CK24_MissingKeyOrWrongType) {
  const std::string base = R"("num_hidden_layers": 24)";
  EXPECT_NE(
      error_of(parse_dit_config("{" + base + "}", "c.json")).find("key \"hidden_size\" is missing"),
      std::string::npos);
  for (const std::string value : {"\"2048\"", "24.5", "true", "null_", "[2048]"}) {
    const std::string text = "{\"hidden_size\": " + value + ", " + base + "}";
    const std::string error = error_of(parse_dit_config(text, "c.json"));
    EXPECT_FALSE(error.empty()) << value;
  }
  EXPECT_NE(error_of(parse_dit_config("{\"hidden_size\": -1, " + base + "}", "c.json"))
                .find("key \"hidden_size\" is -1"),
            std::string::npos);
  EXPECT_NE(
      error_of(parse_dit_config("{\"hidden_size\": 2048, " + base + ", \"is_turbo\": 1}", "c.json"))
          .find("is_turbo"),
      std::string::npos);
}

TEST(ModelConfig, CK25_OutOfRangeOrInconsistent) {
  auto qwen = [](const std::string& extra) {
    return error_of(parse_qwen3_config(
        R"({"hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
        "num_attention_heads": 16, "vocab_size": 151669)" +
            extra + "}",
        "q.json"));
  };
  EXPECT_EQ(qwen(""), "");
  EXPECT_NE(qwen(R"(, "num_hidden_layers": 0)").find("duplicate"), std::string::npos);
  auto layers = [](const std::string& v) {
    return error_of(parse_qwen3_config(
        R"({"hidden_size": 1024, "intermediate_size": 3072, "num_attention_heads": 16,
        "vocab_size": 100, "num_hidden_layers": )" +
            v + "}",
        "q.json"));
  };
  for (const char* v : {"0", "-3", "1000000000", "18446744073709551615"}) {
    EXPECT_NE(layers(v).find("num_hidden_layers"), std::string::npos) << v;
  }
  const std::string vocab =
      error_of(parse_qwen3_config(R"({"hidden_size": 1024, "intermediate_size": 3072,
      "num_hidden_layers": 2, "num_attention_heads": 16, "vocab_size": 1099511627776})",
                                  "q.json"));
  EXPECT_NE(vocab.find("vocab_size"), std::string::npos);
  const std::string divisible =
      error_of(parse_qwen3_config(R"({"hidden_size": 1000, "intermediate_size": 3072,
      "num_hidden_layers": 2, "num_attention_heads": 16, "vocab_size": 10})",
                                  "q.json"));
  EXPECT_NE(divisible.find("not divisible"), std::string::npos);
  const std::string gqa =
      error_of(parse_qwen3_config(R"({"hidden_size": 1024, "intermediate_size": 3072,
      "num_hidden_layers": 2, "num_attention_heads": 16, "num_key_value_heads": 5, "vocab_size": 10})",
                                  "q.json"));
  EXPECT_NE(gqa.find("not a multiple"), std::string::npos);
  EXPECT_FALSE(
      parse_dit_config(
          R"({"hidden_size": 2048, "num_hidden_layers": 4, "layer_types": ["full_attention"]})",
          "c")
          .ok());
  EXPECT_FALSE(
      parse_dit_config(R"({"hidden_size": 2048, "num_hidden_layers": 1, "layer_types": ["local"]})",
                       "c")
          .ok());
  EXPECT_FALSE(parse_vae_config(R"({"channel_multiples": [1, 2]})", "v").ok());
  EXPECT_FALSE(parse_vae_config(R"({"channel_multiples": [1, 2, 4, 8, 1000]})", "v").ok());
}

TEST(ModelConfig, CK27_UnknownKeysAreListedNotErrors) {
  const fs::path dir = fs::temp_directory_path() / "acefit-ck27";
  fs::create_directories(dir);
  std::ofstream(dir / "config.json")
      << R"({"hidden_size": 64, "num_hidden_layers": 2, "transformers_version": "4.5",
      "_name_or_path": "x"})";
  std::vector<std::string> unknown;
  ASSERT_TRUE(load_dit_config(dir.string(), &unknown).ok());
  EXPECT_EQ(unknown, (std::vector<std::string>{"_name_or_path", "transformers_version"}));
  fs::remove_all(dir);
}

std::vector<FoundTensor> as_found(const std::vector<TensorSpec>& specs) {
  std::vector<FoundTensor> found;
  for (const auto& s : specs) found.push_back({s.name, {s.shape.begin(), s.shape.end()}, "BF16"});
  return found;
}

TEST(CheckpointTensors, CK26_EveryMismatchIsReportedAtOnce) {
  DitConfig tiny;
  tiny.hidden_size = 64;
  tiny.intermediate_size = 96;
  tiny.num_hidden_layers = 2;
  tiny.num_attention_heads = 4;
  tiny.num_key_value_heads = 2;
  tiny.head_dim = 16;
  const auto expected = expected_dit_tensors(tiny);
  auto found = as_found(expected);
  EXPECT_TRUE(check_tensors("dit", expected, found).ok());
  found.erase(found.begin() + 3);                          // one missing
  found.push_back({"decoder.extra.weight", {1}, "BF16"});  // one unexpected
  found[10].shape = {1, 2, 3};                             // one wrong shape
  found[11].dtype = "F8_E4M3";                             // one unusable dtype
  const Status status = check_tensors("dit/model.safetensors", expected, found);
  ASSERT_EQ(status.code(), ErrorCode::corrupt);
  const std::string& m = status.message();
  EXPECT_NE(m.find("4 tensor problems"), std::string::npos) << m;
  EXPECT_NE(m.find("missing tensor '" + expected[3].name + "'"), std::string::npos) << m;
  EXPECT_NE(m.find("unexpected tensor 'decoder.extra.weight'"), std::string::npos) << m;
  EXPECT_NE(m.find("has shape [1, 2, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("dtype F8_E4M3"), std::string::npos) << m;
  TensorCheckOptions lm;
  lm.optional_names = {"decoder.extra.weight"};
  EXPECT_EQ(check_tensors("x", expected, as_found(expected), lm).ok(), true);
}

TEST(CheckpointLayout, DiscoversTheOfficialFolders) {
  const fs::path root = fs::temp_directory_path() / "acefit-layout" / "checkpoints";
  fs::remove_all(root.parent_path());
  for (const char* d :
       {"acestep-v15-turbo", "acestep-v15-base", "acestep-v15-xl-turbo", "vae",
        "Qwen3-Embedding-0.6B", "acestep-5Hz-lm-1.7B", "acestep-5Hz-lm-0.6B-v4-fix", "unrelated"}) {
    fs::create_directories(root / d);
  }
  std::ofstream(root / "acestep-v15-turbo" / "model.safetensors") << "x";
  std::ofstream(root / "vae" / "diffusion_pytorch_model.safetensors") << "x";
  std::ofstream(root / "acestep-5Hz-lm-1.7B" / "model.safetensors.index.json") << "{}";
  const auto layout = testing::unwrap(discover_checkpoints(root.string()));
  ASSERT_EQ(layout.dits.size(), 3u);
  EXPECT_EQ(layout.dits[0].name, "acestep-v15-base");
  EXPECT_FALSE(layout.dits[0].turbo);
  EXPECT_TRUE(layout.dits[1].turbo);
  EXPECT_FALSE(layout.dits[1].xl);
  EXPECT_TRUE(layout.dits[2].xl);
  ASSERT_TRUE(layout.vae && layout.text_encoder);
  ASSERT_EQ(layout.lms.size(), 2u);
  EXPECT_EQ(layout.lms[0].size_class, "0.6B");
  EXPECT_EQ(layout.lms[1].size_class, "1.7B");
  EXPECT_EQ(testing::unwrap(find_weight_file((root / "acestep-v15-turbo").string())),
            (root / "acestep-v15-turbo" / "model.safetensors").string());
  EXPECT_NE(
      testing::unwrap(find_weight_file(*layout.vae)).find("diffusion_pytorch_model.safetensors"),
      std::string::npos);
  EXPECT_NE(testing::unwrap(find_weight_file(layout.lms[1].path)).find("index.json"),
            std::string::npos);
  EXPECT_EQ(find_weight_file(*layout.text_encoder).status().code(), ErrorCode::not_found);
  EXPECT_EQ(discover_checkpoints((root / "missing").string()).status().code(),
            ErrorCode::not_found);
  EXPECT_EQ(lm_size_class("acestep-5Hz-lm-4B"), "4B");
  EXPECT_EQ(lm_size_class("acestep-5Hz-lm-custom"), "0.6B");
  fs::remove_all(root.parent_path());
}

}  // namespace
}  // namespace acefit
