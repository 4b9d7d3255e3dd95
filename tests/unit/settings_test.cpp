// Settings resolution: precedence, every fallback and clamp of the guide, and
// an invalid value for every environment variable of the option table.
#include <gtest/gtest.h>

#include <map>

#include "adapt/options.h"
#include "adapt/settings.h"
#include "test_support.h"

namespace acefit {
namespace {

GpuFacts nvidia(double gib, int compute_major = 8) {
  GpuFacts gpu;
  gpu.vendor = "NVIDIA";
  gpu.name = "Test GPU";
  gpu.total_gib = gib;
  gpu.compute_major = compute_major;
  gpu.cuda_class = true;
  return gpu;
}

struct Harness {
  TierTable table = testing::unwrap(default_tier_table());
  GpuFacts gpu = nvidia(24);
  std::string run_device = "cuda:0";
  DotEnv dotenv;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> cli;
  bool lm_in_pipeline = true;
  std::optional<HostLimits> host_limits;

  Expected<EffectiveSettings> resolve() const {
    SettingsInput in;
    in.gpu = gpu;
    in.run_device = run_device;
    in.table = &table;
    in.dotenv = &dotenv;
    in.environment = [this](std::string_view name) -> std::optional<std::string> {
      const auto it = env.find(std::string(name));
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    in.command_line = cli;
    in.lm_in_pipeline = lm_in_pipeline;
    in.host_limits = host_limits;
    return resolve_settings(in);
  }
  EffectiveSettings ok() const { return testing::unwrap(resolve()); }
};

bool has_warning(const EffectiveSettings& s, const std::string& part) {
  for (const auto& w : s.warnings) {
    if (w.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(Settings, TierDefaultsWithNothingSet) {
  Harness h;
  h.gpu = nvidia(12);
  const auto s = h.ok();
  EXPECT_EQ(s.tier.value, "tier5");
  EXPECT_EQ(s.tier.source, SettingSource::device);
  EXPECT_EQ(s.gpu_memory_gib.value, 12);
  EXPECT_TRUE(s.init_lm.value);
  EXPECT_EQ(s.lm_model.value, "acestep-5Hz-lm-1.7B");
  EXPECT_EQ(s.backend.value, "vllm");
  EXPECT_EQ(s.backend.source, SettingSource::tier);
  EXPECT_EQ(s.offload.value, OffloadMode::cpu);
  EXPECT_TRUE(s.quantization.value);
  EXPECT_TRUE(s.compile.value);
  EXPECT_EQ(s.batch.value, 1);  // one song unless asked
  EXPECT_EQ(s.max_batch.value, 2);
  EXPECT_EQ(s.max_duration_s.value, 480);
  EXPECT_EQ(s.lm_max_duration_s.value, 480);
  EXPECT_EQ(s.duration_s.value, std::nullopt);
  EXPECT_EQ(s.device.value, "cuda:0");
  EXPECT_EQ(s.config_path.value, "acestep-v15-turbo");
  EXPECT_TRUE(s.warnings.empty());
}

// On the CPU every LM size may be chosen; vllm falls back to pt.
TEST(Settings, NoGpuRunsAnyLmOnTheHostWithPt) {
  Harness h;
  h.gpu = {};
  h.run_device = "cpu";
  h.host_limits = HostLimits{420, 3, std::uint64_t{16} << 30};
  h.cli["lm_model"] = "acestep-5Hz-lm-4B";
  h.cli["backend"] = "vllm";
  const auto s = h.ok();
  EXPECT_EQ(s.lm_model.value, std::optional<std::string>("acestep-5Hz-lm-4B"));
  EXPECT_EQ(s.backend.value, "pt");
  EXPECT_FALSE(s.warnings.empty());
}

// No GPU is not a 4 GB GPU: no tier, the limits of the memory plan against
// the host's RAM (given by the caller), no offload, no quantization, and
// the LM on the host (0.6B by default, backend pt, any size allowed).
TEST(Settings, NoGpuHasNoTierAndLimitsFromThePlan) {
  Harness h;
  h.gpu = {};
  h.run_device = "cpu";
  h.host_limits = HostLimits{420, 3, std::uint64_t{16} << 30};
  const auto s = h.ok();
  EXPECT_TRUE(s.no_gpu_tier);
  EXPECT_EQ(s.tier.value, "none");
  EXPECT_EQ(s.tier.reason, "CPU, no GPU tier");
  EXPECT_TRUE(s.init_lm.value);
  EXPECT_EQ(s.lm_model.value, std::optional<std::string>("acestep-5Hz-lm-0.6B"));
  EXPECT_EQ(s.backend.value, "pt");
  EXPECT_EQ(s.batch.value, 1);
  EXPECT_EQ(s.max_duration_s.value, 420);
  EXPECT_EQ(s.max_batch.value, 3);
  EXPECT_NE(s.max_duration_s.reason.find("memory plan against 16 GiB of available RAM"),
            std::string::npos)
      << s.max_duration_s.reason;
  EXPECT_EQ(s.offload.value, OffloadMode::none);
  EXPECT_FALSE(s.quantization.value);
  EXPECT_TRUE(s.warnings.empty());
  // Above the plan's limits: clamped, naming the RAM.
  h.cli["batch"] = "5";
  h.cli["duration_s"] = "500";
  const auto c = h.ok();
  EXPECT_EQ(c.batch.value, 3);
  EXPECT_EQ(c.duration_s.value, 420.0);
  EXPECT_TRUE(has_warning(c, "exceeds the limit for this machine's RAM (16 GiB available)"));
  // The plan's numbers stay within the guide's maxima (600 s, batch 8).
  Harness big;
  big.gpu = {};
  big.run_device = "cpu";
  big.host_limits = HostLimits{9000, 64, std::uint64_t{512} << 30};
  EXPECT_EQ(big.ok().max_duration_s.value, 600);
  EXPECT_EQ(big.ok().max_batch.value, 8);
  // --tier still picks a tier by hand.
  big.cli["tier"] = "tier4";
  EXPECT_EQ(big.ok().tier.value, "tier4");
  EXPECT_FALSE(big.ok().no_gpu_tier);
}

// On the CPU nothing is offloaded and INT8 is not a default, whatever the
// (simulated) tier says; an explicit --quantization int8 is kept.
TEST(Settings, CpuRunsDefaultToNoOffloadAndNoQuantization) {
  Harness h;
  h.gpu = {};
  h.run_device = "cpu";
  h.env["MAX_CUDA_VRAM"] = "8";  // tier4: cpu+dit and INT8 on a GPU
  auto s = h.ok();
  EXPECT_EQ(s.tier.value, "tier4");
  EXPECT_EQ(s.offload.value, OffloadMode::none);
  EXPECT_EQ(s.offload.requested, std::nullopt);
  EXPECT_FALSE(s.quantization.value);
  h.cli["quantization"] = "int8";
  h.cli["offload"] = "cpu+dit";
  s = h.ok();
  EXPECT_TRUE(s.quantization.value);
  EXPECT_EQ(s.offload.value, OffloadMode::none);
  EXPECT_EQ(s.offload.requested, "cpu+dit");
  EXPECT_TRUE(has_warning(s, "Offload needs a GPU"));
  // The same tier on a (simulated) GPU keeps the tier's defaults.
  Harness gpu;
  gpu.gpu = {};
  gpu.run_device = "sim";
  gpu.env["MAX_CUDA_VRAM"] = "8";
  EXPECT_EQ(gpu.ok().offload.value, OffloadMode::cpu_dit);
  EXPECT_TRUE(gpu.ok().quantization.value);
}

// MAX_CUDA_VRAM without a GPU device says plainly that only the tier changed.
TEST(Settings, MaxCudaVramOnTheCpuSaysOnlyTheTierChanged) {
  Harness h;
  h.gpu = {};
  h.run_device = "cpu";
  h.env["MAX_CUDA_VRAM"] = "8";
  EXPECT_TRUE(has_warning(h.ok(), "MAX_CUDA_VRAM=8 changes only the tier (tier4"));
  EXPECT_TRUE(has_warning(h.ok(), "ACEFIT_DEVICE=sim as well to also cap memory"));
  h.run_device = "sim";
  EXPECT_FALSE(has_warning(h.ok(), "changes only the tier"));
}

// Until generate runs the 5 Hz LM, its limits and the 4B offload rule stay off.
TEST(Settings, LmLimitsApplyOnlyWhenTheLmRuns) {
  Harness h;
  h.gpu = nvidia(8);  // tier4: 480 s / batch 2 with LM, 600 s / 4 without
  h.lm_in_pipeline = false;
  auto s = h.ok();
  EXPECT_TRUE(s.init_lm.value);
  EXPECT_EQ(s.max_duration_s.value, 600);
  EXPECT_EQ(s.max_batch.value, 4);
  h.lm_in_pipeline = true;
  EXPECT_EQ(h.ok().max_batch.value, 2);
  Harness four;
  four.gpu = nvidia(22);
  four.cli["lm_model"] = "acestep-5Hz-lm-4B";
  four.lm_in_pipeline = false;
  EXPECT_EQ(four.ok().offload.value, OffloadMode::none);
  four.lm_in_pipeline = true;
  EXPECT_EQ(four.ok().offload.value, OffloadMode::cpu);
}

TEST(Settings, GuideExamplesThroughMaxCudaVram) {
  const std::pair<const char*, const char*> examples[] = {
      {"4", "tier1"},   {"6", "tier2"},   {"8", "tier4"},     {"12", "tier5"},
      {"16", "tier6a"}, {"20", "tier6b"}, {"24", "unlimited"}};
  for (const auto& [vram, tier] : examples) {
    Harness h;
    h.gpu = {};  // even without a GPU: the simulated one is a CUDA GPU
    h.run_device = "cpu";
    h.env["MAX_CUDA_VRAM"] = vram;
    const auto s = h.ok();
    EXPECT_EQ(s.tier.value, tier) << vram;
    EXPECT_EQ(s.gpu_memory_gib.source, SettingSource::environment);
    EXPECT_EQ(s.gpu_memory_gib.origin, "MAX_CUDA_VRAM");
    EXPECT_TRUE(has_warning(s, "DEBUG MODE: Simulating GPU memory as " + std::string(vram) +
                                   ".0 GiB (set via MAX_CUDA_VRAM environment variable)"));
    EXPECT_FALSE(s.no_gpu_tier);
    const TierRecord* record = h.table.find(tier);
    EXPECT_EQ(s.backend.value, record->recommended_backend) << vram;
  }
}

TEST(Settings, OtherSimulationVariablesAndInvalidValues) {
  Harness h;
  h.gpu = nvidia(80);
  h.env["MAX_XPU_VRAM"] = "12";
  EXPECT_EQ(h.ok().tier.value, "tier5");
  h.env["MAX_MPS_VRAM"] = "6";  // MPS before XPU
  EXPECT_EQ(h.ok().tier.value, "tier2");
  h.env["MAX_CUDA_VRAM"] = "16";  // CUDA first
  EXPECT_EQ(h.ok().tier.value, "tier6a");
  for (const char* bad : {"abc", "-4", "0", "8GB", "", "1e3", "nan"}) {
    Harness b;
    b.gpu = nvidia(12);
    b.env["MAX_CUDA_VRAM"] = bad;
    const auto s = b.ok();
    EXPECT_EQ(s.tier.value, "tier5") << bad;  // ignored: the GPU's own size
    EXPECT_TRUE(has_warning(s, "Invalid MAX_CUDA_VRAM value: " + std::string(bad) + ", ignoring"))
        << bad;
  }
  // From .env too, below the environment.
  Harness d;
  d.gpu = nvidia(80);
  d.dotenv = parse_dotenv("MAX_CUDA_VRAM=8\n", ".env");
  EXPECT_EQ(d.ok().tier.value, "tier4");
  EXPECT_EQ(d.ok().gpu_memory_gib.source, SettingSource::dotenv);
  d.env["MAX_CUDA_VRAM"] = "12";
  EXPECT_EQ(d.ok().tier.value, "tier5");
}

TEST(Settings, PrecedenceDotEnvThenEnvironmentThenCommandLine) {
  Harness h;
  h.gpu = nvidia(22);  // tier6b: no quantization, so compile is free to change
  EXPECT_TRUE(h.ok().compile.value);
  h.dotenv = parse_dotenv("ACESTEP_COMPILE_MODEL=false\n", ".env");
  auto s = h.ok();
  EXPECT_FALSE(s.compile.value);
  EXPECT_EQ(s.compile.source, SettingSource::dotenv);
  EXPECT_EQ(s.compile.origin, "ACESTEP_COMPILE_MODEL");
  h.env["ACESTEP_COMPILE_MODEL"] = "true";
  s = h.ok();
  EXPECT_TRUE(s.compile.value);
  EXPECT_EQ(s.compile.source, SettingSource::environment);
  h.cli["compile"] = "false";
  s = h.ok();
  EXPECT_FALSE(s.compile.value);
  EXPECT_EQ(s.compile.source, SettingSource::command_line);
  EXPECT_EQ(s.compile.origin, "--compile");
  EXPECT_EQ(s.compile.requested, std::nullopt);
}

TEST(Settings, VllmOnTiers1To3BecomesPt) {
  for (double gib : {4.0, 6.0, 7.0}) {
    Harness h;
    h.gpu = nvidia(gib);
    h.cli["backend"] = "vllm";
    const auto s = h.ok();
    EXPECT_EQ(s.backend.value, "pt") << gib;
    EXPECT_EQ(s.backend.requested, "vllm");
    EXPECT_EQ(s.backend.source, SettingSource::command_line);
    EXPECT_NE(s.backend.reason.find("not allowed on " + s.tier.value), std::string::npos);
    EXPECT_TRUE(has_warning(s, "The vllm backend is not allowed on"));
  }
  Harness tier4;
  tier4.gpu = nvidia(8);
  tier4.cli["backend"] = "vllm";
  EXPECT_EQ(tier4.ok().backend.value, "vllm");
  EXPECT_TRUE(tier4.ok().warnings.empty());
}

TEST(Settings, MlxOffAppleAndVllmOffCudaBecomePt) {
  Harness h;
  h.gpu = nvidia(24);
  h.env["ACESTEP_LM_BACKEND"] = "mlx";
  auto s = h.ok();
  EXPECT_EQ(s.backend.value, "pt");
  EXPECT_EQ(s.backend.requested, "mlx");
  EXPECT_TRUE(has_warning(s, "mlx backend runs only on Apple Silicon"));
  h.gpu.apple = true;
  h.gpu.vendor = "Apple";
  h.gpu.cuda_class = false;
  EXPECT_EQ(h.ok().backend.value, "mlx");
  // vllm needs an NVIDIA or AMD GPU: an Intel card of 12 GB gets pt, quietly
  // when vllm was only the tier's default.
  Harness intel;
  intel.gpu = {};
  intel.gpu.vendor = "Intel";
  intel.gpu.total_gib = 12;
  intel.gpu.intel = true;
  s = intel.ok();
  EXPECT_EQ(s.backend.value, "pt");
  EXPECT_EQ(s.backend.requested, std::nullopt);
  EXPECT_FALSE(has_warning(s, "vllm"));
  EXPECT_EQ(s.offload.value, OffloadMode::none);  // Intel XPU: offload forced off (tier5: cpu)
  EXPECT_EQ(s.offload.requested, std::nullopt);
  // Pre-Volta NVIDIA: pt only.
  Harness old;
  old.gpu = nvidia(24, 6);
  old.cli["backend"] = "vllm";
  s = old.ok();
  EXPECT_EQ(s.backend.value, "pt");
  EXPECT_TRUE(has_warning(s, "compute capability 7.0 or newer"));
}

TEST(Settings, LmLargerThanTheTierAllowsBecomesTheLargestAllowed) {
  Harness h;
  h.gpu = nvidia(8);  // tier4: 0.6B only
  h.cli["lm_model"] = "acestep-5Hz-lm-1.7B";
  auto s = h.ok();
  EXPECT_EQ(s.lm_model.value, "acestep-5Hz-lm-0.6B");
  EXPECT_EQ(s.lm_model.requested, "acestep-5Hz-lm-1.7B");
  EXPECT_TRUE(has_warning(s, "larger than your GPU tier (tier4, 8 GiB) allows"));
  // The version suffix is kept.
  h.cli["lm_model"] = "acestep-5Hz-lm-4B-v2";
  h.gpu = nvidia(12);  // tier5: up to 1.7B
  EXPECT_EQ(h.ok().lm_model.value, "acestep-5Hz-lm-1.7B-v2");
  // --force keeps the choice, with a warning.
  h.cli["force"] = "true";
  s = h.ok();
  EXPECT_EQ(s.lm_model.value, "acestep-5Hz-lm-4B-v2");
  EXPECT_EQ(s.lm_model.requested, std::nullopt);
  EXPECT_TRUE(has_warning(s, "may cause high VRAM usage or OOM"));
  EXPECT_EQ(s.offload.value, OffloadMode::cpu);  // 4B on <= 24 GB forces offload
  // A smaller LM than recommended is fine.
  Harness small;
  small.gpu = nvidia(24);
  small.env["ACESTEP_LM_MODEL_PATH"] = "acestep-5Hz-lm-0.6B";
  s = small.ok();
  EXPECT_EQ(s.lm_model.value, "acestep-5Hz-lm-0.6B");
  EXPECT_EQ(s.lm_model.source, SettingSource::environment);
  EXPECT_TRUE(s.warnings.empty());
}

TEST(Settings, FourBillionLmNeedsTwentyGigabytes) {
  Harness h;
  h.gpu = nvidia(19.7);  // tier6b lists 4B, but the card is under 20 GB
  h.cli["lm_model"] = "acestep-5Hz-lm-4B";
  auto s = h.ok();
  EXPECT_EQ(s.tier.value, "tier6b");
  EXPECT_EQ(s.lm_model.value, "acestep-5Hz-lm-1.7B");
  EXPECT_EQ(s.lm_model.requested, "acestep-5Hz-lm-4B");
  EXPECT_TRUE(has_warning(s, "The 4B LM needs 20 GiB or more"));
  // At 22 GB it stays, and offload is forced on (tier6b's default is none).
  h.gpu = nvidia(22);
  s = h.ok();
  EXPECT_EQ(s.lm_model.value, "acestep-5Hz-lm-4B");
  EXPECT_EQ(s.offload.value, OffloadMode::cpu);
  EXPECT_EQ(s.offload.requested, "none");
  // Above 24 GB nothing changes.
  h.gpu = nvidia(40);
  s = h.ok();
  EXPECT_EQ(s.offload.value, OffloadMode::none);
  EXPECT_TRUE(s.warnings.empty());
}

TEST(Settings, LmOnTiers1And2IsTurnedOffUnlessForced) {
  for (double gib : {4.0, 6.0}) {
    Harness h;
    h.gpu = nvidia(gib);
    h.env["ACESTEP_INIT_LLM"] = "true";
    auto s = h.ok();
    EXPECT_FALSE(s.init_lm.value) << gib;
    EXPECT_EQ(s.init_lm.requested, "true");
    EXPECT_EQ(s.lm_model.value, std::nullopt);
    EXPECT_TRUE(has_warning(s, "does not have enough memory to run any LM model"));
    EXPECT_EQ(s.max_duration_s.value, h.table.find(s.tier.value)->max_duration_without_lm_s);
    h.cli["force"] = "true";
    s = h.ok();
    EXPECT_TRUE(s.init_lm.value);
    EXPECT_EQ(s.lm_model.value, "acestep-5Hz-lm-0.6B");  // the smallest
    EXPECT_TRUE(has_warning(s, "LM initialization forced"));
    EXPECT_EQ(s.max_duration_s.value, h.table.find(s.tier.value)->max_duration_with_lm_s);
  }
  // Turning the LM off where the tier has one is simply honoured.
  Harness off;
  off.gpu = nvidia(24);
  off.cli["init_lm"] = "false";
  const auto s = off.ok();
  EXPECT_FALSE(s.init_lm.value);
  EXPECT_EQ(s.lm_model.value, std::nullopt);
  EXPECT_EQ(s.max_batch.value, 8);
}

TEST(Settings, QuantizationWithoutCompileTurnsCompileOn) {
  Harness h;
  h.gpu = nvidia(24);  // unlimited: no quantization by default
  h.cli["quantization"] = "int8";
  h.cli["compile"] = "false";
  auto s = h.ok();
  EXPECT_TRUE(s.quantization.value);
  EXPECT_TRUE(s.compile.value);
  EXPECT_EQ(s.compile.requested, "false");
  EXPECT_TRUE(has_warning(s, "Quantization requires compile"));
  h.cli["quantization"] = "none";
  s = h.ok();
  EXPECT_FALSE(s.quantization.value);
  EXPECT_FALSE(s.compile.value);
  // int8_weight_only is the reference's name; int4 is refused.
  h.cli["quantization"] = "int8_weight_only";
  EXPECT_TRUE(h.ok().quantization.value);
  h.cli["quantization"] = "int4_weight_only";
  const auto refused = h.resolve();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("Unsupported quantization type"), std::string::npos);
}

TEST(Settings, DurationAndBatchAreClampedWithTheGuidesMessages) {
  Harness h;
  h.gpu = nvidia(8);
  h.cli["duration_s"] = "600";
  h.cli["batch"] = "8";
  auto s = h.ok();
  EXPECT_EQ(s.duration_s.value, 480);
  EXPECT_EQ(s.duration_s.requested, "600");
  EXPECT_TRUE(has_warning(s,
                          "Requested duration (600s) exceeds the limit for your GPU (8 GiB). "
                          "Maximum allowed: 480s (with LM). Duration will be clamped to 480s."));
  EXPECT_EQ(s.batch.value, 2);
  EXPECT_TRUE(has_warning(s,
                          "Requested batch size (8) exceeds the limit for your GPU (8 GiB). "
                          "Maximum allowed: 2 (with LM). Batch size will be clamped to 2."));
  // Without the LM the larger limits apply.
  h.cli["init_lm"] = "false";
  h.cli["duration_s"] = "700";
  s = h.ok();
  EXPECT_EQ(s.duration_s.value, 600);
  EXPECT_TRUE(
      has_warning(s, "Maximum allowed: 600s (without LM). Duration will be clamped to 600s."));
  EXPECT_EQ(s.batch.value, 4);
  EXPECT_TRUE(has_warning(s, "Maximum allowed: 4 (without LM). Batch size will be clamped to 4."));
  // Within the limits: unchanged, no warning.
  h.cli["duration_s"] = "123.4";
  h.cli["batch"] = "3";
  s = h.ok();
  EXPECT_EQ(s.duration_s.value, 123.4);
  EXPECT_EQ(s.batch.value, 3);
  EXPECT_TRUE(s.warnings.empty());
  // Below the 10 s floor: raised.
  h.cli["duration_s"] = "5";
  EXPECT_EQ(h.ok().duration_s.value, 10);
  // Each tier's limit, on both sides, for duration and batch.
  for (const auto& tier : h.table.tiers) {
    Harness t;
    t.gpu = nvidia(tier.min_memory_gib == 0 ? 2 : tier.min_memory_gib);
    for (int delta : {0, 1}) {
      t.cli["duration_s"] = std::to_string(tier.max_duration_s(tier.init_lm_default) + delta);
      t.cli["batch"] = std::to_string(tier.max_batch(tier.init_lm_default) + delta);
      const auto r = t.ok();
      EXPECT_EQ(r.tier.value, tier.name);
      EXPECT_EQ(r.duration_s.value, tier.max_duration_s(tier.init_lm_default)) << tier.name;
      EXPECT_EQ(r.batch.value, tier.max_batch(tier.init_lm_default)) << tier.name;
      EXPECT_EQ(r.duration_s.requested.has_value(), delta == 1) << tier.name;
      EXPECT_EQ(r.batch.requested.has_value(), delta == 1) << tier.name;
    }
  }
}

TEST(Settings, LmDurationMaximumIsTheTiersMaximumWithLm) {
  Harness h;
  for (const auto& tier : h.table.tiers) {
    h.gpu = nvidia(tier.min_memory_gib + 0.1);
    EXPECT_EQ(h.ok().lm_max_duration_s.value, tier.max_duration_with_lm_s) << tier.name;
  }
}

// Output names must not depend on the tier: one song unless asked.
TEST(Settings, DefaultBatchIsOneOnEveryTier) {
  Harness h;
  h.gpu = nvidia(4);
  EXPECT_EQ(h.ok().batch.value, 1);
  h.gpu = nvidia(24);
  EXPECT_EQ(h.ok().batch.value, 1);
  h.env["ACESTEP_BATCH_SIZE"] = "6";
  EXPECT_EQ(h.ok().batch.value, 6);
  EXPECT_EQ(h.ok().batch.source, SettingSource::environment);
}

TEST(Settings, OffloadFromTheFlagOrTheTwoVariables) {
  Harness h;
  h.gpu = nvidia(12);  // tier5: cpu
  h.env["ACESTEP_OFFLOAD_DIT_TO_CPU"] = "true";
  EXPECT_EQ(h.ok().offload.value, OffloadMode::cpu_dit);
  h.env["ACESTEP_OFFLOAD_TO_CPU"] = "false";
  auto s = h.ok();
  EXPECT_EQ(s.offload.value, OffloadMode::none);
  EXPECT_TRUE(has_warning(s, "ACESTEP_OFFLOAD_DIT_TO_CPU needs ACESTEP_OFFLOAD_TO_CPU"));
  h.env.erase("ACESTEP_OFFLOAD_DIT_TO_CPU");
  s = h.ok();
  EXPECT_EQ(s.offload.value, OffloadMode::none);
  EXPECT_EQ(s.offload.origin, "ACESTEP_OFFLOAD_TO_CPU");
  h.cli["offload"] = "cpu+dit";
  s = h.ok();
  EXPECT_EQ(s.offload.value, OffloadMode::cpu_dit);
  EXPECT_EQ(s.offload.source, SettingSource::command_line);
}

TEST(Settings, ManualTierKeepsTheDetectedMemory) {
  Harness h;
  h.gpu = nvidia(24);
  h.cli["tier"] = "tier3";
  auto s = h.ok();
  EXPECT_EQ(s.tier.value, "tier3");
  EXPECT_EQ(s.tier.source, SettingSource::command_line);
  EXPECT_EQ(s.gpu_memory_gib.value, 24);
  EXPECT_EQ(s.backend.value, "pt");
  EXPECT_EQ(s.max_batch.value, 1);
  h.cli["tier"] = "tier6";
  EXPECT_EQ(h.ok().tier.value, "tier6b");
  h.cli["tier"] = "tier9";
  EXPECT_FALSE(h.resolve().ok());
}

// Each variable of the option table, set to garbage, is ignored with a
// warning naming it, and the setting keeps its default.
TEST(Settings, AnInvalidValueForEachEnvironmentVariable) {
  const Harness clean;
  const auto defaults = setting_views(clean.ok());
  int checked = 0;
  for (const auto& option : option_table()) {
    if (option.env.empty()) continue;
    for (const char* bad : {"garbage!", "-3", "cuda:x/../"}) {
      Harness h;
      h.env[std::string(option.env)] = bad;
      const auto s = h.ok();
      const std::string variable(option.env);
      if (variable == "ACESTEP_CONFIG_PATH" && std::string(bad) != "cuda:x/../") continue;
      const bool device_variable = variable == "ACESTEP_DEVICE" || variable == "ACEFIT_DEVICE";
      // Device variables are reported where the device is opened (the
      // DeviceSelection tests); every other one here.
      if (!device_variable) {
        EXPECT_TRUE(has_warning(s, "Invalid " + variable + " value: " + bad))
            << variable << "=" << bad;
      }
      const auto views = setting_views(s);
      for (std::size_t i = 0; i < views.size(); ++i) {
        EXPECT_EQ(scalar_text(views[i].value), scalar_text(defaults[i].value))
            << variable << "=" << bad << " changed " << views[i].name;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 30);
}

TEST(Settings, AnInvalidCommandLineValueIsAnErrorNamingTheFlag) {
  const std::pair<const char*, const char*> cases[] = {{"backend", "--backend"},
                                                       {"init_lm", "--init-llm"},
                                                       {"offload", "--offload"},
                                                       {"quantization", "--quantization"},
                                                       {"compile", "--compile"},
                                                       {"duration_s", "--duration"},
                                                       {"batch", "--batch"},
                                                       {"lm_model", "--lm-model"},
                                                       {"vae_on_cpu", "--vae-on-cpu"},
                                                       {"vae_decode_chunk_size", "--vae-chunk"},
                                                       {"config_path", "--config-path"},
                                                       {"tier", "--tier"}};
  for (const auto& [setting, flag] : cases) {
    Harness h;
    h.cli[setting] = "no/such/value";
    const auto r = h.resolve();
    ASSERT_FALSE(r.ok()) << setting;
    EXPECT_EQ(r.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(r.status().message().find(std::string(flag) + ": invalid value 'no/such/value'"),
              std::string::npos)
        << r.status().message();
  }
}

TEST(Settings, EveryOptionRowHasHelpAndAKnownSetting) {
  Harness h;
  const auto views = setting_views(h.ok());
  for (const auto& option : option_table()) {
    EXPECT_FALSE(option.help.empty()) << option.setting;
    EXPECT_FALSE(option.flag.empty() && option.env.empty()) << option.setting;
    bool known = false;
    for (const auto& view : views) known = known || view.name == option.setting;
    EXPECT_TRUE(known) << option.setting;
  }
  // Every variable the issue names is in the table.
  for (const char* variable :
       {"ACESTEP_INIT_LLM", "ACESTEP_LM_MODEL_PATH", "ACESTEP_LM_BACKEND", "ACESTEP_OFFLOAD_TO_CPU",
        "ACESTEP_OFFLOAD_DIT_TO_CPU", "ACESTEP_QUANTIZATION", "ACESTEP_COMPILE_MODEL",
        "ACESTEP_CONFIG_PATH", "ACESTEP_DEVICE", "ACESTEP_VAE_ON_CPU",
        "ACESTEP_VAE_DECODE_CHUNK_SIZE", "ACESTEP_BATCH_SIZE"}) {
    EXPECT_NE(find_option_by_env(variable), nullptr) << variable;
  }
}

TEST(Settings, FormatsMemoryLikeTheGuide) {
  EXPECT_EQ(gib_text(8), "8");
  EXPECT_EQ(gib_text(7.63), "7.6");
  EXPECT_EQ(gib_text(0), "0");
  EXPECT_EQ(gib_text(23.99), "24");
}

}  // namespace
}  // namespace acefit
