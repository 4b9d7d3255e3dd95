// The built-in tier table against the GPU Compatibility Guide, transcribed
// here independently of src/adapt/tier_table.json, and the boundary rule.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "adapt/tier_table.h"
#include "test_support.h"

namespace acefit {
namespace {

struct GuideRow {
  const char* name;
  const char* label;
  int duration_lm, duration_no_lm, batch_lm, batch_no_lm;
  bool init_lm;
  std::vector<std::string> models;
  const char* recommended_lm;  // nullptr: none
  std::vector<std::string> backends;
  const char* backend;
  OffloadMode offload;
  bool int8;
};

// The guide's table and the spec's tier record (gpu-adaptation.md 1.1, 1.3).
const std::vector<GuideRow>& guide() {
  static const std::vector<GuideRow> rows = {
      {"tier1",
       "tier1 (≤4GB)",
       240,
       360,
       1,
       1,
       false,
       {},
       nullptr,
       {"pt", "mlx"},
       "pt",
       OffloadMode::cpu_dit,
       true},
      {"tier2",
       "tier2 (4-6GB)",
       480,
       600,
       1,
       1,
       false,
       {},
       nullptr,
       {"pt", "mlx"},
       "pt",
       OffloadMode::cpu_dit,
       true},
      {"tier3",
       "tier3 (6-8GB)",
       480,
       600,
       1,
       2,
       true,
       {"0.6B"},
       "0.6B",
       {"pt", "mlx"},
       "pt",
       OffloadMode::cpu_dit,
       true},
      {"tier4",
       "tier4 (8-12GB)",
       480,
       600,
       2,
       4,
       true,
       {"0.6B"},
       "0.6B",
       {"vllm", "pt", "mlx"},
       "vllm",
       OffloadMode::cpu_dit,
       true},
      {"tier5",
       "tier5 (12-16GB)",
       480,
       600,
       2,
       4,
       true,
       {"0.6B", "1.7B"},
       "1.7B",
       {"vllm", "pt", "mlx"},
       "vllm",
       OffloadMode::cpu,
       true},
      {"tier6a",
       "tier6a (16-20GB)",
       480,
       600,
       4,
       8,
       true,
       {"0.6B", "1.7B"},
       "1.7B",
       {"vllm", "pt", "mlx"},
       "vllm",
       OffloadMode::cpu,
       true},
      {"tier6b",
       "tier6b (20-24GB)",
       480,
       480,
       4,
       8,
       true,
       {"0.6B", "1.7B", "4B"},
       "1.7B",
       {"vllm", "pt", "mlx"},
       "vllm",
       OffloadMode::none,
       false},
      {"unlimited",
       "unlimited (≥24GB)",
       600,
       600,
       8,
       8,
       true,
       {"0.6B", "1.7B", "4B"},
       "4B",
       {"vllm", "pt", "mlx"},
       "vllm",
       OffloadMode::none,
       false},
  };
  return rows;
}

TierTable builtin() {
  return testing::unwrap(default_tier_table());
}

TEST(TierTable, EveryFieldOfEveryTierMatchesTheGuide) {
  const TierTable table = builtin();
  ASSERT_EQ(table.tiers.size(), guide().size());
  for (std::size_t i = 0; i < guide().size(); ++i) {
    const GuideRow& want = guide()[i];
    const TierRecord& got = table.tiers[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.label, want.label);
    EXPECT_EQ(got.max_duration_with_lm_s, want.duration_lm);
    EXPECT_EQ(got.max_duration_without_lm_s, want.duration_no_lm);
    EXPECT_EQ(got.max_batch_with_lm, want.batch_lm);
    EXPECT_EQ(got.max_batch_without_lm, want.batch_no_lm);
    EXPECT_EQ(got.init_lm_default, want.init_lm);
    EXPECT_EQ(got.lm_models, want.models);
    EXPECT_EQ(got.recommended_lm.has_value(), want.recommended_lm != nullptr);
    if (want.recommended_lm) {
      EXPECT_EQ(got.recommended_lm.value_or(""), want.recommended_lm);
    }
    EXPECT_EQ(got.allowed_backends, want.backends);
    EXPECT_EQ(got.recommended_backend, want.backend);
    EXPECT_EQ(got.offload, want.offload);
    EXPECT_EQ(got.quantization_int8, want.int8);
    EXPECT_TRUE(got.compile);  // compile is on for every tier
    EXPECT_EQ(got.max_duration_s(true), want.duration_lm);
    EXPECT_EQ(got.max_batch(false), want.batch_no_lm);
    // Informational LM memory: 0.6B 3, 1.7B 8, 4B 12 GB, for each allowed size.
    ASSERT_EQ(got.lm_memory.size(), want.models.size());
    for (const auto& memory : got.lm_memory) {
      const double expected = memory.size == "0.6B" ? 3 : memory.size == "1.7B" ? 8 : 12;
      EXPECT_EQ(memory.gib, expected) << memory.size;
    }
  }
}

TEST(TierTable, GuideSimulationExamples) {
  const TierTable table = builtin();
  const std::pair<double, const char*> examples[] = {
      {4, "tier1"},        {6, "tier2"},     {8, "tier4"},
      {12, "tier5"},       {16, "tier6a"},   {20, "tier6b"},
      {24, "unlimited"},   {0, "tier1"},     {12288.0 / 1024, "tier5"},
      {23.6, "unlimited"}, {15.9, "tier6a"}, {80, "unlimited"}};
  for (const auto& [gib, tier] : examples) {
    EXPECT_EQ(table.tier_for_memory(gib).name, tier) << gib << " GiB";
  }
}

TEST(TierTable, BothSidesOfEveryBoundary) {
  const TierTable table = builtin();
  // Nominal card sizes with a 0.5 GiB tolerance (spec 2).
  const std::pair<double, const char*> boundaries[] = {
      {4.5, "tier2"},   {6.5, "tier3"},   {7.5, "tier4"},     {11.5, "tier5"},
      {15.5, "tier6a"}, {19.5, "tier6b"}, {23.5, "unlimited"}};
  const char* below = "tier1";
  for (const auto& [edge, tier] : boundaries) {
    EXPECT_EQ(table.tier_for_memory(edge - 1e-9).name, below) << "just below " << edge;
    EXPECT_EQ(table.tier_for_memory(edge - 0.01).name, below) << "0.01 below " << edge;
    EXPECT_EQ(table.tier_for_memory(edge).name, tier) << "at " << edge;
    EXPECT_EQ(table.tier_for_memory(edge + 0.01).name, tier) << "0.01 above " << edge;
    below = tier;
  }
}

TEST(TierTable, FindsTiersByNameWithTheTier6Alias) {
  const TierTable table = builtin();
  ASSERT_NE(table.find("tier6"), nullptr);
  EXPECT_EQ(table.find("tier6")->name, "tier6b");
  EXPECT_EQ(table.find("tier5")->name, "tier5");
  EXPECT_EQ(table.find("tier7"), nullptr);
  EXPECT_EQ(table.find(""), nullptr);
  EXPECT_EQ(table.names().size(), 8u);
}

TEST(TierTable, LmSizesAndNames) {
  EXPECT_EQ(lm_size_of("acestep-5Hz-lm-0.6B"), "0.6B");
  EXPECT_EQ(lm_size_of("acestep-5Hz-lm-1.7B-v4-fix"), "1.7B");
  EXPECT_EQ(lm_size_of("acestep-5Hz-lm-4B"), "4B");
  EXPECT_EQ(lm_size_of("my-14B-model"), std::nullopt);
  EXPECT_EQ(lm_size_of("acestep-5Hz-lm"), std::nullopt);
  EXPECT_EQ(lm_size_of("x4Bx-acestep-4B"), "4B");  // the second, whole-part match
  EXPECT_EQ(lm_model_name("1.7B"), "acestep-5Hz-lm-1.7B");
  EXPECT_EQ(with_lm_size("acestep-5Hz-lm-4B-v2", "1.7B"), "acestep-5Hz-lm-1.7B-v2");
  EXPECT_EQ(with_lm_size("x4Bx-lm-4B", "0.6B"), "x4Bx-lm-0.6B");
  EXPECT_EQ(with_lm_size("no-size", "0.6B"), "no-size");
  EXPECT_EQ(largest_lm_size({"0.6B", "1.7B"}), "1.7B");
  EXPECT_EQ(largest_lm_size({"4B", "0.6B"}), "4B");
  EXPECT_EQ(largest_lm_size({}), std::nullopt);
}

// One valid tier as JSON, to damage in the rejection tests.
nlohmann::json valid_table() {
  return nlohmann::json::parse(R"({"format": "acefit-tier-table-1", "tiers": [
    {"name": "small", "label": "small", "min_memory_gib": 0, "max_duration_with_lm_s": 120,
     "max_duration_without_lm_s": 240, "max_batch_with_lm": 1, "max_batch_without_lm": 2,
     "init_lm_default": false, "lm_models": [], "recommended_lm": null,
     "allowed_backends": ["pt"], "recommended_backend": "pt", "offload": "cpu+dit",
     "quantization": "int8", "compile": true, "lm_memory_gib": {}},
    {"name": "big", "label": "big", "min_memory_gib": 10, "max_duration_with_lm_s": 600,
     "max_duration_without_lm_s": 600, "max_batch_with_lm": 4, "max_batch_without_lm": 8,
     "init_lm_default": true, "lm_models": ["1.7B", "0.6B"], "recommended_lm": "1.7B",
     "allowed_backends": ["vllm", "pt"], "recommended_backend": "vllm", "offload": "none",
     "quantization": "none", "compile": false, "lm_memory_gib": {"0.6B": 3}}]})");
}

TEST(TierTable, ParsesACustomTable) {
  const TierTable table = testing::unwrap(parse_tier_table(valid_table().dump(), "custom.json"));
  ASSERT_EQ(table.tiers.size(), 2u);
  EXPECT_EQ(table.origin, "custom.json");
  EXPECT_EQ(table.tier_for_memory(9.99).name, "small");
  EXPECT_EQ(table.tier_for_memory(10).name, "big");
  // Sizes are kept small to large whatever the file's order.
  EXPECT_EQ(table.tiers[1].lm_models, (std::vector<std::string>{"0.6B", "1.7B"}));
  EXPECT_FALSE(table.tiers[1].compile);
}

TEST(TierTable, RejectsBadTablesNamingTierAndField) {
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> damage;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"missing field", [](auto& j) { j["tiers"][1].erase("max_batch_with_lm"); },
       "tiers[1]: key \"max_batch_with_lm\" is missing"},
      {"unknown key", [](auto& j) { j["tiers"][0]["colour"] = "red"; },
       "tiers[0]: unknown key \"colour\""},
      {"wrong type", [](auto& j) { j["tiers"][0]["compile"] = "yes"; },
       "key \"compile\" must be true or false"},
      {"duration out of range", [](auto& j) { j["tiers"][0]["max_duration_with_lm_s"] = 601; },
       "max_duration_with_lm_s"},
      {"batch zero", [](auto& j) { j["tiers"][0]["max_batch_without_lm"] = 0; },
       "max_batch_without_lm"},
      {"not ascending", [](auto& j) { j["tiers"][1]["min_memory_gib"] = 0; },
       "min_memory_gib must be above the previous tier's"},
      {"first not at zero", [](auto& j) { j["tiers"][0]["min_memory_gib"] = 1; },
       "the first tier must start at min_memory_gib 0"},
      {"duplicate name", [](auto& j) { j["tiers"][1]["name"] = "small"; }, "appears twice"},
      {"recommended LM not allowed", [](auto& j) { j["tiers"][1]["recommended_lm"] = "4B"; },
       "recommended_lm \"4B\" is not in lm_models"},
      {"unknown LM size",
       [](auto& j) {
         j["tiers"][1]["lm_models"] = {"0.6B", "7B"};
       },
       "\"7B\", not one of the known values"},
      {"unknown backend",
       [](auto& j) {
         j["tiers"][0]["allowed_backends"] = {"pt", "onnx"};
       },
       "\"onnx\""},
      {"recommended backend not allowed",
       [](auto& j) { j["tiers"][0]["recommended_backend"] = "vllm"; },
       "recommended_backend \"vllm\" is not in allowed_backends"},
      {"bad offload", [](auto& j) { j["tiers"][0]["offload"] = "gpu"; }, "offload \"gpu\""},
      {"bad quantization", [](auto& j) { j["tiers"][0]["quantization"] = "int4"; },
       "quantization \"int4\""},
      {"LM on without models", [](auto& j) { j["tiers"][0]["init_lm_default"] = true; },
       "init_lm_default is true but lm_models is empty"},
      {"memory for a missing size", [](auto& j) { j["tiers"][1]["lm_memory_gib"]["4B"] = 12; },
       "lm_memory_gib names \"4B\""},
      {"wrong format", [](auto& j) { j["format"] = "v2"; }, "format \"v2\""},
      {"no tiers", [](auto& j) { j["tiers"] = nlohmann::json::array(); }, "\"tiers\""},
  };
  for (const auto& c : cases) {
    nlohmann::json j = valid_table();
    c.damage(j);
    const auto parsed = parse_tier_table(j.dump(), "bad.json");
    ASSERT_FALSE(parsed.ok()) << c.what;
    EXPECT_NE(parsed.status().message().find("bad.json"), std::string::npos) << c.what;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << c.what << ": " << parsed.status().message();
  }
  // Duplicate keys and broken JSON are caught by the strict parser.
  EXPECT_FALSE(parse_tier_table(R"({"format": "acefit-tier-table-1", "format": "x"})", "d").ok());
  EXPECT_FALSE(parse_tier_table("{\"tiers\": [", "broken").ok());
}

TEST(TierTable, LoadsFromAFileAndReportsAMissingOne) {
  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / "acefit-tiers-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/tiers.json";
  std::ofstream(path) << valid_table().dump(2);
  const TierTable table = testing::unwrap(load_tier_table(path));
  EXPECT_EQ(table.origin, path);
  EXPECT_EQ(table.tiers.size(), 2u);
  const auto missing = load_tier_table(dir + "/absent.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::not_found);
  fs::remove_all(dir);
}

// ---- upstream's current table (acestep-model.md 18.7) ----

TEST(TierTable, UpstreamTableHasTheDriftOf18_7) {
  const TierTable guide_table = builtin();
  const TierTable table = testing::unwrap(upstream_tier_table());
  EXPECT_EQ(table.origin, kUpstreamTierTableOrigin);
  ASSERT_EQ(table.names(), guide_table.names());
  // Batch limits with the LM: tier3 2, tier5 4, tier6b 8.
  EXPECT_EQ(table.find("tier3")->max_batch_with_lm, 2);
  EXPECT_EQ(table.find("tier5")->max_batch_with_lm, 4);
  EXPECT_EQ(table.find("tier6b")->max_batch_with_lm, 8);
  EXPECT_EQ(guide_table.find("tier3")->max_batch_with_lm, 1);
  EXPECT_EQ(guide_table.find("tier5")->max_batch_with_lm, 2);
  EXPECT_EQ(guide_table.find("tier6b")->max_batch_with_lm, 4);
  // 24 GiB is still tier6b; above it, unlimited.
  EXPECT_EQ(table.tier_for_memory(24).name, "tier6b");
  EXPECT_EQ(table.tier_for_memory(24.5).name, "unlimited");
  EXPECT_EQ(guide_table.tier_for_memory(24).name, "unlimited");
  // Upstream's get_gpu_tier: <= 4, <= 6, <= 8, <= 12, < 15.5, < 20, <= 24.
  const std::pair<double, const char*> examples[] = {
      {0, "tier1"},    {4, "tier1"},     {4.5, "tier2"},      {6, "tier2"},
      {6.5, "tier3"},  {8, "tier3"},     {8.5, "tier4"},      {12, "tier4"},
      {12.5, "tier5"}, {15.4, "tier5"},  {15.5, "tier6a"},    {19.9, "tier6a"},
      {20, "tier6b"},  {23.6, "tier6b"}, {24.1, "unlimited"}, {80, "unlimited"}};
  for (const auto& [gib, tier] : examples) {
    EXPECT_EQ(table.tier_for_memory(gib).name, tier) << gib << " GiB";
  }
  for (const TierRecord& tier : table.tiers) {
    SCOPED_TRACE(tier.name);
    // vllm recommended everywhere, pt and mlx as the fallbacks.
    EXPECT_EQ(tier.recommended_backend, "vllm");
    EXPECT_EQ(tier.allowed_backends, (std::vector<std::string>{"vllm", "pt", "mlx"}));
    // The CUDA VAE chunk cap.
    EXPECT_EQ(tier.max_vae_chunk_frames, 512);
    // Everything else as the guide.
    const TierRecord& same = *guide_table.find(tier.name);
    EXPECT_EQ(same.max_vae_chunk_frames, std::nullopt);
    EXPECT_EQ(tier.max_duration_with_lm_s, same.max_duration_with_lm_s);
    EXPECT_EQ(tier.max_duration_without_lm_s, same.max_duration_without_lm_s);
    EXPECT_EQ(tier.lm_models, same.lm_models);
    EXPECT_EQ(tier.recommended_lm, same.recommended_lm);
    EXPECT_EQ(tier.init_lm_default, same.init_lm_default);
    EXPECT_EQ(tier.offload, same.offload);
    EXPECT_EQ(tier.quantization_int8, same.quantization_int8);
    if (tier.name != "tier3" && tier.name != "tier5" && tier.name != "tier6b") {
      EXPECT_EQ(tier.max_batch_with_lm, same.max_batch_with_lm);
    }
    EXPECT_EQ(tier.max_batch_without_lm, same.max_batch_without_lm);
  }
}

TEST(TierTable, SelectedByNameOrPath) {
  EXPECT_EQ(testing::unwrap(tier_table_by_name_or_path("upstream")).origin,
            kUpstreamTierTableOrigin);
  EXPECT_EQ(testing::unwrap(tier_table_by_name_or_path("guide")).origin, builtin().origin);
  const auto dir =
      std::filesystem::temp_directory_path() / ("acefit-tier-name-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "table.json").string();
  std::string table_text;
  {
    nlohmann::json table = nlohmann::json::parse(
        R"({"format": "acefit-tier-table-1", "tiers": [{"name": "only", "label": "only",
        "min_memory_gib": 0, "max_duration_with_lm_s": 60, "max_duration_without_lm_s": 60,
        "max_batch_with_lm": 1, "max_batch_without_lm": 1, "init_lm_default": false,
        "lm_models": [], "recommended_lm": null, "allowed_backends": ["pt"],
        "recommended_backend": "pt", "offload": "none", "quantization": "none",
        "compile": false, "lm_memory_gib": {}, "max_vae_chunk_frames": 128}]})");
    table_text = table.dump();
    std::ofstream(path) << table_text;
  }
  const TierTable file = testing::unwrap(tier_table_by_name_or_path(path));
  EXPECT_EQ(file.origin, path);
  EXPECT_EQ(file.tiers.at(0).max_vae_chunk_frames, 128);
  const auto missing = tier_table_by_name_or_path("upstreem");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("named guide and upstream"), std::string::npos)
      << missing.status().message();
  // A damaged cap is an error naming the field.
  for (const char* bad : {"0", "-5", "\"512\"", "1.5"}) {
    std::string text = table_text;
    const auto at = text.find("\"max_vae_chunk_frames\":128");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, std::string("\"max_vae_chunk_frames\":128").size(),
                 std::string("\"max_vae_chunk_frames\":") + bad);
    const auto parsed = parse_tier_table(text, "bad.json");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("max_vae_chunk_frames"), std::string::npos)
        << parsed.status().message();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace acefit
