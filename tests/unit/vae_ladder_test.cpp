// The adaptive VAE decode (gpu-adaptation.md 9.2, 9.3) on the tiny synthetic
// VAE and the sim device: planned peaks against measured ones, the ladder
// under caps computed from those peaks and under injected failures, the
// memory of what worked, and the pieces it is built from (level 1's device
// accumulation, copying the decoder). References are independent calls:
// tiled_decode / decode on latents transposed here.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "device/cpu/cpu_device.h"
#include "device/planning/planning_device.h"
#include "device/sim/sim_device.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "io/safetensors/safetensors_writer.h"
#include "models/vae/oobleck_decoder.h"
#include "models/vae/tiled_decode.h"
#include "pipeline/vae_decode.h"
#include "test_support.h"

namespace acefit {
namespace {

namespace fs = std::filesystem;
using models::HostAudio;
using models::OobleckDecoder;

constexpr std::uint64_t kLadderGiB = std::uint64_t{1} << 30;
constexpr std::int64_t kChannels = 64;
// Tiled decodes at different chunks agree to this fraction of the largest
// |sample| on the synthetic VAE (measured: about 2e-4; f32 rounding that its
// weights amplify).
constexpr double kTiledTolerance = 1e-3;

class VaeLadderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string templ = (fs::temp_directory_path() / "acefit-vae-ladder-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = new fs::path(templ);
    SyntheticCheckpointOptions options;
    options.seed = 5;
    options.with_text_encoder = false;
    options.with_lm = false;
    const Status written = write_synthetic_checkpoints(root_->string(), options);
    ASSERT_TRUE(written.ok()) << written.to_string();
    const Status micro = write_micro_vae(micro_dir());
    ASSERT_TRUE(micro.ok()) << micro.to_string();
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    if (root_ != nullptr) fs::remove_all(*root_, ignored);
    delete root_;
    root_ = nullptr;
  }
  static std::string vae_dir() { return (*root_ / "vae").string(); }
  static std::string micro_dir() { return (*root_ / "vae-micro").string(); }

  // A much smaller Oobleck decoder (two blocks, hop 40, 8 channels at the
  // top) with the same structure and 64 latent channels, f32 weights. The
  // first block upsamples by 10 as the real one does, so its receptive field
  // stays within the 16 frames of overlap that chunk 64 keeps.
  static Status write_micro_vae(const std::string& dir) {
    VaeConfig config;
    config.encoder_hidden_size = 4;
    config.downsampling_ratios = {4, 10};
    config.channel_multiples = {1, 2};
    config.decoder_channels = 4;
    std::error_code error;
    fs::create_directories(dir, error);
    if (error) return Status(ErrorCode::io, error.message());
    std::ofstream(dir + "/config.json")
        << R"({"_class_name": "AutoencoderOobleck", "encoder_hidden_size": 4, )"
        << R"("downsampling_ratios": [4, 10], "channel_multiples": [1, 2], "decoder_channels": 4, )"
        << R"("decoder_input_channels": 64, "audio_channels": 2, "sampling_rate": 48000})";
    const std::vector<TensorSpec> specs = expected_vae_tensors(config);
    std::vector<std::vector<float>> buffers;
    buffers.reserve(specs.size());
    std::vector<SafetensorsEntry> entries;
    std::uint64_t seed = 900;
    for (const TensorSpec& spec : specs) {
      std::vector<std::uint64_t> shape;
      std::size_t count = 1;
      for (const std::int64_t d : spec.shape) {
        shape.push_back(static_cast<std::uint64_t>(d));
        count *= static_cast<std::size_t>(d);
      }
      const bool gain = spec.name.ends_with("weight_g");
      std::vector<float>& values =
          buffers.emplace_back(testing::random_floats(count, ++seed, gain ? 0.1f : 0.5f));
      if (gain)
        for (float& v : values) v += 0.6f;
      entries.push_back({spec.name, SafetensorsDtype::f32, std::move(shape),
                         std::as_bytes(std::span<const float>(values))});
    }
    return write_safetensors(dir + "/diffusion_pytorch_model.safetensors", entries);
  }

  static ops::OpContext ctx(Device& device) { return ops::OpContext{device, testing::test_pool()}; }
  static OobleckDecoder load(Device& device, const std::string& dir = vae_dir()) {
    return testing::unwrap(OobleckDecoder::load(dir, device, &testing::test_pool()));
  }
  static VaeConfig config(const std::string& dir = vae_dir()) {
    return testing::unwrap(load_vae_config(dir));
  }

  // Host latents [batch, frames, 64], frame-major as the Generator holds them.
  static std::vector<float> latents(std::int64_t batch, std::int64_t frames, std::uint64_t seed) {
    return testing::random_floats(static_cast<std::size_t>(batch * frames * kChannels), seed);
  }

  // Item b of frame-major host latents as f32 [1, 64, frames] on `device`.
  static Tensor upload_item(Device& device, const std::vector<float>& host, std::int64_t b,
                            std::int64_t frames) {
    std::vector<float> bct(static_cast<std::size_t>(kChannels * frames));
    for (std::int64_t c = 0; c < kChannels; ++c)
      for (std::int64_t t = 0; t < frames; ++t)
        bct[static_cast<std::size_t>(c * frames + t)] =
            host[static_cast<std::size_t>((b * frames + t) * kChannels + c)];
    return testing::upload(device, bct, Shape{1, kChannels, frames});
  }

  // Item b decoded directly by tiled_decode.
  static std::vector<float> tiled(const OobleckDecoder& decoder, const std::vector<float>& host,
                                  std::int64_t b, std::int64_t frames, std::int64_t chunk,
                                  bool accumulate_on_device = false) {
    Device& device = decoder.device();
    const Tensor z = upload_item(device, host, b, frames);
    models::TiledDecodeOptions options;
    options.chunk = chunk;
    options.accumulate_on_device = accumulate_on_device;
    return testing::unwrap(models::tiled_decode(decoder, ctx(device), z, options)).data;
  }

  // Item b decoded whole in one call.
  static std::vector<float> whole(const OobleckDecoder& decoder, const std::vector<float>& host,
                                  std::int64_t b, std::int64_t frames) {
    Device& device = decoder.device();
    const Tensor z = upload_item(device, host, b, frames);
    return testing::download(testing::unwrap(decoder.decode(ctx(device), z)));
  }

  static VaeDecodeOptions start(std::int64_t chunk, VaeDecodeLevel level) {
    VaeDecodeOptions options;
    options.chunk = chunk;
    options.start_level = level;
    return options;
  }

  static fs::path* root_;
};

fs::path* VaeLadderTest::root_ = nullptr;

std::span<const float> item_of(const std::vector<float>& audio, std::int64_t b,
                               std::int64_t samples) {
  const auto size = static_cast<std::size_t>(2 * samples);
  return std::span<const float>(audio).subspan(static_cast<std::size_t>(b) * size, size);
}

double max_abs(std::span<const float> a) {
  double m = 0.0;
  for (const float v : a) m = std::max(m, std::fabs(static_cast<double>(v)));
  return m;
}

double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

bool all_finite(std::span<const float> a) {
  return std::all_of(a.begin(), a.end(), [](float v) { return std::isfinite(v); });
}

const VaeChunkPeak& peak_at(const VaeDecodePeaks& peaks, std::int64_t chunk) {
  for (const VaeChunkPeak& p : peaks.peaks)
    if (p.chunk == chunk) return p;
  throw std::runtime_error("no peak for chunk " + std::to_string(chunk));
}

constexpr VaeDecodeLevel kLevel1 = VaeDecodeLevel::device_tiled;
constexpr VaeDecodeLevel kLevel2 = VaeDecodeLevel::device_host_accumulate;
constexpr VaeDecodeLevel kLevel3 = VaeDecodeLevel::host;

// ---------------------------------------------------------------------------
// The pieces.

TEST_F(VaeLadderTest, CopyToMovesTheWeightsAndCountsTheTransfer) {
  auto sim = make_sim_device(kLadderGiB);
  auto cpu = make_cpu_device();
  const OobleckDecoder decoder = load(*sim);
  const std::uint64_t on_sim = sim->budget().used_bytes();
  sim->reset_transfer_stats();
  {
    const OobleckDecoder copy = testing::unwrap(decoder.copy_to(*cpu));
    EXPECT_EQ(&copy.device(), cpu.get());
    EXPECT_EQ(copy.weight_bytes(), decoder.weight_bytes());
    EXPECT_EQ(cpu->budget().current_bytes(MemoryTag::weights), on_sim);
    // sim -> host copies are transfers the sim device counts.
    EXPECT_EQ(sim->transfer_stats().to_host_bytes, decoder.weight_bytes());
    // Same audio from both copies.
    const std::vector<float> z = latents(1, 5, 3);
    EXPECT_EQ(whole(copy, z, 0, 5), whole(decoder, z, 0, 5));
    // On its own device the copy shares the weights.
    const std::uint64_t before = sim->budget().used_bytes();
    const OobleckDecoder same = testing::unwrap(decoder.copy_to(*sim));
    EXPECT_EQ(sim->budget().used_bytes(), before);
  }
  EXPECT_EQ(cpu->budget().used_bytes(), 0u);  // released with the copy

  // A host too small: out_of_memory and nothing left reserved there.
  auto small = make_cpu_device(decoder.weight_bytes() / 2);
  const auto failed = decoder.copy_to(*small);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::out_of_memory);
  EXPECT_EQ(small->budget().used_bytes(), 0u);

  // Between planning devices the reservations are made, nothing is copied.
  auto planner = make_planning_device(*sim);
  auto host_planner = make_planning_device(*cpu);
  const OobleckDecoder planned = testing::unwrap(OobleckDecoder::plan(config(), *planner));
  const OobleckDecoder planned_copy = testing::unwrap(planned.copy_to(*host_planner));
  EXPECT_EQ(host_planner->budget().used_bytes(), planner->budget().used_bytes());
}

TEST_F(VaeLadderTest, DeviceAccumulationEqualsHostAccumulation) {
  auto sim = make_sim_device(kLadderGiB);
  const OobleckDecoder decoder = load(*sim, micro_dir());
  const std::int64_t frames = 300;
  const std::vector<float> z = latents(1, frames, 7);
  for (const std::int64_t chunk : {64, 128, 1024}) {
    sim->reset_transfer_stats();
    const std::vector<float> host_side = tiled(decoder, z, 0, frames, chunk, false);
    const TransferStats per_core = sim->transfer_stats();
    sim->reset_transfer_stats();
    const std::vector<float> device_side = tiled(decoder, z, 0, frames, chunk, true);
    const TransferStats per_item = sim->transfer_stats();
    EXPECT_EQ(device_side, host_side) << "chunk " << chunk;
    EXPECT_EQ(device_side.size(), static_cast<std::size_t>(2 * decoder.hop() * frames));
    // Level 1 copies the item's audio to the host once; level 2 once per
    // core and channel (+1 for the latent upload either way).
    const auto tiles = testing::unwrap(models::plan_decode_tiles(frames, chunk)).tiles.size();
    EXPECT_EQ(per_item.to_host_count, 1u) << chunk;
    EXPECT_EQ(per_core.to_host_count, 2 * tiles) << chunk;
    EXPECT_EQ(per_item.to_host_bytes, per_core.to_host_bytes);
  }
  EXPECT_EQ(sim->budget().current_bytes(MemoryTag::io), 0u);
}

// ---------------------------------------------------------------------------
// Planned peaks.

// The plan's peak for each chunk is the sim device's measured peak of the
// ladder decoding one item there, exactly; with two items the peak is the
// same (items are decoded one at a time). Every candidate on the micro VAE
// at 1600 frames (so that each chunk tiles differently), two on the tiny
// one.
TEST_F(VaeLadderTest, PlannedPeaksEqualMeasuredSimPeaks) {
  auto sim = make_sim_device(4 * kLadderGiB);
  auto cpu = make_cpu_device();
  struct Case {
    std::string name, dir;
    std::int64_t frames;
    std::vector<std::int64_t> chunks;
  };
  const std::vector<std::int64_t> all(kVaeChunkCandidates.begin(), kVaeChunkCandidates.end());
  for (const Case& c :
       std::vector<Case>{{"micro", micro_dir(), 1600, all}, {"tiny", vae_dir(), 150, {64, 128}}}) {
    const OobleckDecoder decoder = load(*sim, c.dir);
    const std::uint64_t weights = sim->budget().used_bytes();
    const std::vector<float> z = latents(2, c.frames, 11);
    for (const VaeDecodeLevel level : {kLevel1, kLevel2}) {
      const VaeDecodePeaks plan = testing::unwrap(
          plan_vae_decode_peaks(config(c.dir), *sim, c.frames, 64, level, c.chunks));
      EXPECT_EQ(plan.weight_bytes, weights);
      ASSERT_EQ(plan.peaks.size(), c.chunks.size());
      for (std::size_t i = 0; i < plan.peaks.size(); ++i) {
        const std::int64_t chunk = plan.peaks[i].chunk;
        EXPECT_EQ(chunk, c.chunks[i]);
        if (i > 0) {
          EXPECT_GT(plan.peaks[i].peak_bytes, plan.peaks[i - 1].peak_bytes);
        }
        const std::int64_t batch = i == 1 ? 2 : 1;
        sim->budget().reset_peaks();
        const VaeDecodeOutcome outcome = testing::unwrap(adaptive_vae_decode(
            decoder, ctx(*sim), *cpu, testing::test_pool(),
            std::vector<float>(z.begin(), z.begin() + batch * c.frames * kChannels), batch,
            c.frames, start(chunk, level)));
        EXPECT_EQ(outcome.retries, 0);
        EXPECT_EQ(outcome.level, level);
        EXPECT_EQ(outcome.chunk, chunk);
        EXPECT_EQ(sim->budget().peak_bytes() - weights, plan.peaks[i].peak_bytes)
            << c.name << ", level " << vae_decode_level_number(level) << ", chunk " << chunk
            << ", batch " << batch;
        EXPECT_EQ(sim->budget().used_bytes(), weights);
        std::cout << "[ peak     ] " << c.name << " VAE, " << c.frames << " frames, level "
                  << vae_decode_level_number(level) << ", chunk " << chunk << ", batch " << batch
                  << ": planned " << format_bytes(plan.peaks[i].peak_bytes) << ", measured "
                  << format_bytes(sim->budget().peak_bytes() - weights) << "\n";
      }
    }
  }
  EXPECT_EQ(plan_vae_decode_peaks(config(), *sim, 100, 64, kLevel3).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(plan_vae_decode_peaks(config(), *sim, 0).status().code(), ErrorCode::invalid_argument);
}

// The real VAE (VaeConfig{}) for 10 minutes of audio: every candidate
// planned, fast enough to run before each decode.
TEST_F(VaeLadderTest, PlansTheRealVaeQuickly) {
  auto sim = make_sim_device(std::uint64_t{16} << 30, std::uint64_t{2} << 30);
  for (const VaeDecodeLevel level : {kLevel1, kLevel2}) {
    // Once to warm up, then timed.
    (void)testing::unwrap(plan_vae_decode_peaks(VaeConfig{}, *sim, 4500, 64, level));
    const VaeDecodePeaks plan =
        testing::unwrap(plan_vae_decode_peaks(VaeConfig{}, *sim, 4500, 64, level));
    std::cout << "[ planned  ] real VAE, 4500 frames, level " << vae_decode_level_number(level)
              << ": " << plan.seconds * 1000.0 << " ms for " << plan.peaks.size()
              << " chunks; weights " << format_bytes(plan.weight_bytes) << "\n";
    for (const VaeChunkPeak& p : plan.peaks) {
      std::cout << "[ planned  ]   chunk " << p.chunk << ": decode peak "
                << format_bytes(p.peak_bytes) << "\n";
    }
    EXPECT_LT(plan.seconds, 0.5);  // the target is < 50 ms; this machine is shared
    // At least three [128, 1920 window] f32 tensors (the last residual
    // units) for the largest window, whatever the cap of `like`.
    for (const VaeChunkPeak& p : plan.peaks) {
      EXPECT_GE(p.peak_bytes,
                std::uint64_t{3} * 128 * 1920 * std::min<std::int64_t>(p.chunk, 4500) * 4);
    }
    // Level 1 holds the item's audio on the device as well.
    if (level == kLevel1) {
      const VaeDecodePeaks level2 =
          testing::unwrap(plan_vae_decode_peaks(VaeConfig{}, *sim, 4500, 64, kLevel2));
      for (std::size_t i = 0; i < plan.peaks.size(); ++i) {
        EXPECT_GE(plan.peaks[i].peak_bytes,
                  level2.peaks[i].peak_bytes + std::uint64_t{2} * 1920 * 4500 * 4);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The ladder.

// A cap with room for chunk 128 but not 256: from 512 the chunk halves
// twice and the audio is a chunk-128 decode's.
TEST_F(VaeLadderTest, HalvesTheChunkUntilItFits) {
  auto cpu = make_cpu_device();
  auto probe = make_sim_device(kLadderGiB);
  const std::int64_t frames = 160;
  const std::vector<float> z = latents(1, frames, 21);
  // References on an uncapped device.
  const OobleckDecoder free_decoder = load(*probe);
  const std::vector<float> at128 = tiled(free_decoder, z, 0, frames, 128);
  const std::vector<float> at512 = tiled(free_decoder, z, 0, frames, 512);
  for (const VaeDecodeLevel level : {kLevel1, kLevel2}) {
    const VaeDecodePeaks plan =
        testing::unwrap(plan_vae_decode_peaks(config(), *probe, frames, 64, level));
    ASSERT_LT(peak_at(plan, 128).peak_bytes, peak_at(plan, 256).peak_bytes);
    auto sim = make_sim_device(kLadderGiB, plan.weight_bytes + peak_at(plan, 128).peak_bytes);
    const OobleckDecoder decoder = load(*sim);
    ASSERT_EQ(sim->budget().used_bytes(), plan.weight_bytes);

    std::vector<std::pair<std::int64_t, std::int64_t>> calls;
    VaeDecodeOptions options = start(512, level);
    options.progress = [&](std::int64_t done, std::int64_t total) {
      calls.push_back({done, total});
    };
    const VaeDecodeOutcome outcome = testing::unwrap(
        adaptive_vae_decode(decoder, ctx(*sim), *cpu, testing::test_pool(), z, 1, frames, options));
    EXPECT_EQ(outcome.chunk, 128);
    EXPECT_EQ(outcome.overlap, 32);  // 128 - 2 * 64 <= 0 halves it once
    EXPECT_EQ(outcome.level, level);
    EXPECT_EQ(outcome.retries, 2);
    EXPECT_FALSE(outcome.from_memory);
    ASSERT_EQ(outcome.items.size(), 1u);
    EXPECT_EQ(outcome.items[0], (VaeDecodeRung{level, 128}));
    ASSERT_EQ(outcome.log.size(), 3u);
    for (const std::string& line : outcome.log) std::cout << "[ log      ] " << line << "\n";
    EXPECT_NE(outcome.log[0].find("chunk 512"), std::string::npos) << outcome.log[0];
    EXPECT_NE(outcome.log[0].find("out of memory"), std::string::npos) << outcome.log[0];
    EXPECT_NE(outcome.log[2].find("chunk 128, overlap 32: ok, 3 tiles"), std::string::npos)
        << outcome.log[2];
    EXPECT_EQ(sim->budget().used_bytes(), plan.weight_bytes);
    EXPECT_EQ(sim->budget().peak_bytes(), sim->budget().cap_bytes());  // the plan is exact
    EXPECT_EQ(cpu->budget().used_bytes(), 0u);
    // The successful attempt's progress: 3 tiles of 160 frames at stride 64.
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.back(), std::make_pair(std::int64_t{3}, std::int64_t{3}));

    const HostAudio& audio = outcome.audio;
    EXPECT_EQ(audio.batch, 1);
    EXPECT_EQ(audio.channels, 2);
    EXPECT_EQ(audio.samples, frames * 1920);
    EXPECT_EQ(audio.sample_rate, 48000);
    EXPECT_EQ(audio.data, at128);  // bitwise
    const double diff = max_abs_diff(audio.data, at512), scale = max_abs(at512);
    std::cout << "[ accuracy ] level " << vae_decode_level_number(level)
              << ": chunk 128 vs chunk 512 (uncapped): max abs difference " << diff
              << " (max |audio| " << scale << ")\n";
    // Not bitwise: windows of other lengths round differently, and the
    // synthetic weights amplify f32 rounding (see vae_decoder_test's
    // accuracy notes); the difference is spread over the cores, not at
    // the seams.
    EXPECT_GT(diff, 0.0);
    EXPECT_LE(diff, kTiledTolerance * scale);
  }
}

// A cap below what chunk 64 needs at either level: both device levels are
// exhausted and the host decodes the whole latent.
TEST_F(VaeLadderTest, FallsToTheHostWhenNoChunkFits) {
  auto cpu = make_cpu_device();
  auto probe = make_sim_device(kLadderGiB);
  const std::int64_t frames = 150;
  const VaeDecodePeaks level2 =
      testing::unwrap(plan_vae_decode_peaks(config(), *probe, frames, 64, kLevel2));
  auto sim = make_sim_device(kLadderGiB, level2.weight_bytes + peak_at(level2, 64).peak_bytes - 1);
  const OobleckDecoder decoder = load(*sim);
  const std::vector<float> z = latents(2, frames, 31);
  const VaeDecodeOutcome outcome = testing::unwrap(adaptive_vae_decode(
      decoder, ctx(*sim), *cpu, testing::test_pool(), z, 2, frames, start(512, kLevel1)));
  EXPECT_EQ(outcome.level, kLevel3);
  EXPECT_EQ(outcome.chunk, frames);
  EXPECT_EQ(outcome.overlap, 0);
  // 512, 256, 128, 64 at level 1, then again at level 2; the second item
  // starts where the first ended.
  EXPECT_EQ(outcome.retries, 8);
  EXPECT_EQ(outcome.log.size(), 10u);
  EXPECT_EQ(outcome.items, (std::vector<VaeDecodeRung>{{kLevel3, frames}, {kLevel3, frames}}));
  EXPECT_EQ(sim->budget().used_bytes(), level2.weight_bytes);
  EXPECT_EQ(cpu->budget().used_bytes(), 0u);  // the host copy is gone

  const OobleckDecoder on_host = load(*cpu);
  for (std::int64_t b = 0; b < 2; ++b) {
    const std::vector<float> reference = whole(on_host, z, b, frames);
    const std::span<const float> got = item_of(outcome.audio.data, b, frames * 1920);
    const double diff = max_abs_diff(got, reference);
    std::cout << "[ accuracy ] level 3, item " << b << " vs a whole-latent host decode: max abs "
              << "difference " << diff << "\n";
    EXPECT_EQ(diff, 0.0);
  }
}

// Every reservation of a decode failing in turn: one retry absorbs it, the
// audio is right and nothing leaks. On the micro VAE (hop 40), so that the
// hundreds of decodes this takes stay cheap; the ladder does not depend on
// the network's size.
TEST_F(VaeLadderTest, AbsorbsAnInjectedFailureAtEveryReservation) {
  auto cpu = make_cpu_device();
  auto sim = make_sim_device(kLadderGiB);
  const OobleckDecoder decoder = load(*sim, micro_dir());
  ASSERT_EQ(decoder.hop(), 40);
  const std::int64_t frames = 200;
  const std::vector<float> z = latents(1, frames, 41);
  const OobleckDecoder on_host = load(*cpu, micro_dir());
  const std::vector<float> reference = whole(on_host, z, 0, frames);
  const double scale = max_abs(reference);
  ASSERT_GT(scale, 0.0);
  struct Case {
    VaeDecodeLevel level;
    std::int64_t chunk;
    VaeDecodeRung lands;  // after one out_of_memory
  };
  for (const Case& c : std::vector<Case>{{kLevel1, 512, {kLevel1, 256}},  // one window
                                         {kLevel1, 128, {kLevel1, 64}},
                                         {kLevel1, 64, {kLevel2, 64}},
                                         {kLevel2, 64, {kLevel3, frames}}}) {
    const std::uint64_t before = sim->budget().used_bytes();
    const std::uint64_t host_before = cpu->budget().used_bytes();
    const std::uint64_t counted = sim->budget().stats().reservations;
    const VaeDecodeOutcome clean = testing::unwrap(adaptive_vae_decode(
        decoder, ctx(*sim), *cpu, testing::test_pool(), z, 1, frames, start(c.chunk, c.level)));
    ASSERT_EQ(clean.retries, 0);
    const std::uint64_t reservations = sim->budget().stats().reservations - counted;
    ASSERT_GT(reservations, 20u);
    double worst = 0.0;
    int landed = 0;
    // Every reservation in Release; a fixed sample in the sanitizer pass.
    const std::uint64_t stride = testing::sweep_stride(5);
    std::uint64_t tried = 0;
    for (std::uint64_t n = 1; n <= reservations; ++n) {
      if (!testing::sweep_runs(n, reservations, stride)) continue;
      ++tried;
      sim->budget().fail_nth_reservation(n);
      const auto outcome = adaptive_vae_decode(decoder, ctx(*sim), *cpu, testing::test_pool(), z, 1,
                                               frames, start(c.chunk, c.level));
      sim->budget().fail_nth_reservation(0);
      ASSERT_TRUE(outcome.ok()) << "n = " << n << ": " << outcome.status().to_string();
      EXPECT_EQ(outcome->retries, 1) << "n = " << n;
      EXPECT_EQ(sim->budget().used_bytes(), before) << "n = " << n;
      EXPECT_EQ(cpu->budget().used_bytes(), host_before) << "n = " << n;
      ASSERT_TRUE(all_finite(outcome->audio.data)) << "n = " << n;
      const double diff = max_abs_diff(outcome->audio.data, reference);
      worst = std::max(worst, diff);
      // Its receptive field is within the overlap: only f32 rounding differs.
      EXPECT_LE(diff, 1e-5 * scale) << "n = " << n;
      if (outcome->items == std::vector<VaeDecodeRung>{c.lands}) ++landed;
    }
    EXPECT_EQ(landed, static_cast<int>(tried));
    std::cout << "[ inject   ] micro VAE, " << frames << " frames from level "
              << vae_decode_level_number(c.level) << ", chunk " << c.chunk << ": " << reservations
              << " reservations, each failed once, all landed on level "
              << vae_decode_level_number(c.lands.level) << "/chunk " << c.lands.chunk
              << "; worst max abs difference from the whole decode " << worst << " (max |audio| "
              << scale << ")\n";
  }
}

TEST_F(VaeLadderTest, ForceHostDecodesOnTheHostAtOnce) {
  auto cpu = make_cpu_device();
  auto sim = make_sim_device(kLadderGiB);
  const OobleckDecoder decoder = load(*sim);
  const std::uint64_t weights = sim->budget().used_bytes();
  const std::int64_t frames = 70;
  const std::vector<float> z = latents(1, frames, 51);
  VaeDecodeOptions options = start(512, kLevel1);
  options.force_host = true;
  sim->budget().reset_peaks();
  const VaeDecodeOutcome outcome = testing::unwrap(
      adaptive_vae_decode(decoder, ctx(*sim), *cpu, testing::test_pool(), z, 1, frames, options));
  EXPECT_EQ(outcome.level, kLevel3);
  EXPECT_EQ(outcome.retries, 0);
  EXPECT_EQ(sim->budget().peak_bytes(), weights);  // nothing decoded on the device
  EXPECT_EQ(outcome.audio.data, whole(load(*cpu), z, 0, frames));

  // Decoder already on the host: no copy (the host budget never holds two).
  const OobleckDecoder on_host = load(*cpu);
  const std::uint64_t host_weights = cpu->budget().used_bytes();
  cpu->budget().reset_peaks();
  const VaeDecodeOutcome local = testing::unwrap(
      adaptive_vae_decode(on_host, ctx(*cpu), *cpu, testing::test_pool(), z, 1, frames, options));
  EXPECT_EQ(local.level, kLevel3);
  EXPECT_EQ(local.audio.data, outcome.audio.data);
  EXPECT_EQ(cpu->budget().peak_bytes(MemoryTag::weights), host_weights);
}

TEST_F(VaeLadderTest, RemembersTheRungThatWorked) {
  auto cpu = make_cpu_device();
  auto probe = make_sim_device(kLadderGiB);
  const std::int64_t frames = 600;
  const VaeDecodePeaks plan =
      testing::unwrap(plan_vae_decode_peaks(config(micro_dir()), *probe, frames, 64, kLevel1));
  auto sim = make_sim_device(kLadderGiB, plan.weight_bytes + peak_at(plan, 128).peak_bytes);
  const OobleckDecoder decoder = load(*sim, micro_dir());
  const std::vector<float> z = latents(1, frames, 61);
  VaeDecodeMemory memory;
  const VaeDecodeOutcome first = testing::unwrap(adaptive_vae_decode(
      decoder, ctx(*sim), *cpu, testing::test_pool(), z, 1, frames, start(512, kLevel1), &memory));
  EXPECT_EQ(first.retries, 2);
  EXPECT_EQ(memory.size(), 1u);
  ASSERT_TRUE(memory.find(sim->name(), frames).has_value());
  EXPECT_EQ(*memory.find(sim->name(), frames), (VaeDecodeRung{kLevel1, 128}));
  EXPECT_FALSE(memory.find(sim->name(), frames + 1).has_value());
  EXPECT_FALSE(memory.find("cuda:0", frames).has_value());

  const VaeDecodeOutcome second = testing::unwrap(adaptive_vae_decode(
      decoder, ctx(*sim), *cpu, testing::test_pool(), z, 1, frames, start(512, kLevel1), &memory));
  EXPECT_TRUE(second.from_memory);
  EXPECT_EQ(second.retries, 0);
  EXPECT_EQ(second.chunk, 128);
  EXPECT_EQ(second.level, kLevel1);
  EXPECT_EQ(second.audio.data, first.audio.data);
  EXPECT_EQ(second.log.size(), 2u);  // "worked at ... before" and the ok line

  // Asked to start lower on the ladder or smaller: that is kept.
  const VaeDecodeOutcome level2 = testing::unwrap(adaptive_vae_decode(
      decoder, ctx(*sim), *cpu, testing::test_pool(), z, 1, frames, start(512, kLevel2), &memory));
  EXPECT_EQ(level2.level, kLevel2);
  EXPECT_EQ(level2.chunk, 128);
  EXPECT_EQ(level2.retries, 0);
  const VaeDecodeOutcome smaller = testing::unwrap(adaptive_vae_decode(
      decoder, ctx(*sim), *cpu, testing::test_pool(), z, 1, frames, start(64, kLevel1), &memory));
  EXPECT_EQ(smaller.chunk, 64);
  EXPECT_EQ(*memory.find(sim->name(), frames), (VaeDecodeRung{kLevel1, 128}));

  // A decode that succeeded where it started teaches nothing.
  const std::vector<float> short_z = latents(1, 40, 62);
  (void)testing::unwrap(adaptive_vae_decode(decoder, ctx(*sim), *cpu, testing::test_pool(), short_z,
                                            1, 40, start(512, kLevel1), &memory));
  EXPECT_EQ(memory.size(), 1u);

  memory.forget(sim->name(), frames);
  EXPECT_EQ(memory.size(), 0u);
  memory.remember("x", 1, {kLevel3, 1});
  memory.clear();
  EXPECT_EQ(memory.size(), 0u);
}

// A planning device with the sim device's cap takes the same rungs, and
// level 3 is planned on a planning copy of the host.
TEST_F(VaeLadderTest, PlanningRunsTakeTheSameRungs) {
  auto cpu = make_cpu_device();
  auto probe = make_sim_device(kLadderGiB);
  const std::int64_t frames = 600;
  const VaeDecodePeaks plan =
      testing::unwrap(plan_vae_decode_peaks(config(micro_dir()), *probe, frames, 64, kLevel2));
  for (const std::uint64_t room :
       {peak_at(plan, 128).peak_bytes, peak_at(plan, 64).peak_bytes - 1}) {
    auto sim = make_sim_device(kLadderGiB, plan.weight_bytes + room);
    const OobleckDecoder decoder = load(*sim, micro_dir());
    const std::vector<float> z = latents(2, frames, 71);
    const VaeDecodeOutcome real = testing::unwrap(adaptive_vae_decode(
        decoder, ctx(*sim), *cpu, testing::test_pool(), z, 2, frames, start(1024, kLevel2)));

    cpu->budget().reset_peaks();
    auto planner = make_planning_device(*sim);
    const OobleckDecoder planned =
        testing::unwrap(OobleckDecoder::plan(config(micro_dir()), *planner));
    VaeDecodeMemory memory;
    const VaeDecodeOutcome dry =
        testing::unwrap(adaptive_vae_decode(planned, ctx(*planner), *cpu, testing::test_pool(), {},
                                            2, frames, start(1024, kLevel2), &memory));
    EXPECT_EQ(dry.level, real.level);
    EXPECT_EQ(dry.chunk, real.chunk);
    EXPECT_EQ(dry.retries, real.retries);
    EXPECT_EQ(dry.items, real.items);
    EXPECT_TRUE(dry.audio.data.empty());
    EXPECT_EQ(dry.audio.samples, real.audio.samples);
    EXPECT_EQ(planner->budget().peak_bytes(), sim->budget().peak_bytes());
    EXPECT_EQ(cpu->budget().peak_bytes(), 0u);  // level 3 planned, not run
    EXPECT_EQ(memory.size(), 0u);               // planning never writes the memory
    std::cout << "[ planning ] room " << format_bytes(room) << ": level "
              << vae_decode_level_number(dry.level) << ", chunk " << dry.chunk << ", retries "
              << dry.retries << "\n";
  }
}

TEST_F(VaeLadderTest, OtherErrorsAreReturnedAsTheyAre) {
  auto cpu = make_cpu_device();
  auto sim = make_sim_device(kLadderGiB);
  const OobleckDecoder decoder = load(*sim);
  const std::vector<float> z = latents(1, 10, 81);
  auto run = [&](const std::vector<float>& values, std::int64_t batch, std::int64_t frames,
                 VaeDecodeOptions options) {
    return adaptive_vae_decode(decoder, ctx(*sim), *cpu, testing::test_pool(), values, batch,
                               frames, options);
  };
  EXPECT_EQ(run(z, 1, 11, start(64, kLevel1)).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(run(z, 0, 10, start(64, kLevel1)).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(run(z, 1, 10, start(0, kLevel1)).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(run({}, 1, 10, start(64, kLevel1)).status().code(), ErrorCode::invalid_argument);
  // A chunk too small to tile with the overlap floor of 4 frames (18.6):
  // refused before anything is reserved, not retried at another rung.
  const std::vector<float> z40 = latents(1, 40, 82);
  const std::uint64_t weights = sim->budget().used_bytes();
  for (const std::int64_t chunk : {1, 4, 8}) {
    for (const VaeDecodeLevel level : {kLevel1, kLevel2}) {
      const std::uint64_t reservations = sim->budget().stats().reservations;
      const auto small = run(z40, 1, 40, start(chunk, level));
      ASSERT_FALSE(small.ok()) << chunk;
      EXPECT_EQ(small.status().code(), ErrorCode::invalid_argument);
      EXPECT_NE(small.status().message().find("chunk of " + std::to_string(chunk) +
                                              " latent frames leaves no core"),
                std::string::npos)
          << small.status().to_string();
      EXPECT_NE(small.status().message().find("not reduced below 4"), std::string::npos);
      EXPECT_EQ(sim->budget().used_bytes(), weights);
      EXPECT_EQ(sim->budget().stats().reservations, reservations);
    }
  }
  // 9 tiles with an overlap of 4; a latent no longer than the chunk needs no tiles.
  const VaeDecodeOutcome nine = testing::unwrap(run(z40, 1, 40, start(9, kLevel2)));
  EXPECT_EQ(nine.chunk, 9);
  EXPECT_EQ(nine.overlap, 4);
  EXPECT_EQ(nine.retries, 0);
  const std::vector<float> z8 = latents(1, 8, 83);
  EXPECT_EQ(testing::unwrap(run(z8, 1, 8, start(8, kLevel2))).audio.samples, 8 * 1920);
  // The decoder is not on the compute device.
  auto other = make_sim_device(kLadderGiB);
  EXPECT_EQ(adaptive_vae_decode(decoder, ctx(*other), *cpu, testing::test_pool(), z, 1, 10,
                                start(64, kLevel1))
                .status()
                .code(),
            ErrorCode::invalid_argument);
  // Level 3 failing is an error: a host too small for the decoder's copy.
  auto small_sim = make_sim_device(kLadderGiB, decoder.weight_bytes() + 4096);
  const OobleckDecoder cramped = load(*small_sim);
  auto small_host = make_cpu_device(cramped.weight_bytes() / 2);
  const auto failed = adaptive_vae_decode(cramped, ctx(*small_sim), *small_host,
                                          testing::test_pool(), z, 1, 10, start(64, kLevel1));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::out_of_memory);
  EXPECT_NE(failed.status().message().find("copying the decoder to the host"), std::string::npos)
      << failed.status().to_string();
  EXPECT_EQ(small_host->budget().used_bytes(), 0u);
  EXPECT_EQ(small_sim->budget().used_bytes(),
            small_sim->budget().current_bytes(MemoryTag::weights));
}

// The ladder on the vulkan device: a Budget cap (as MAX_CUDA_VRAM sets
// one) with room for chunk 128 but not 256 makes the decode from 512 run
// out of memory twice, halve the chunk twice and give sim's chunk-128
// audio; the plan made for vulkan is exact there too.
TEST_F(VaeLadderTest, HalvesTheChunkOnTheVulkanDevice) {
  auto vk = testing::device_or_skip("vulkan");
  if (!vk) GTEST_SKIP() << "no vulkan device";
  auto cpu = make_cpu_device();
  auto probe = make_sim_device(kLadderGiB);
  const std::int64_t frames = 160;
  const std::vector<float> z = latents(1, frames, 21);
  const std::vector<float> at128 = tiled(load(*probe, micro_dir()), z, 0, frames, 128);
  const VaeDecodePeaks plan =
      testing::unwrap(plan_vae_decode_peaks(config(micro_dir()), *vk, frames, 64, kLevel1));
  ASSERT_LT(peak_at(plan, 128).peak_bytes, peak_at(plan, 256).peak_bytes);
  const std::uint64_t cap = vk->budget().cap_bytes();
  const std::uint64_t limit = plan.weight_bytes + peak_at(plan, 128).peak_bytes;
  ASSERT_EQ(vk->budget().used_bytes(), 0u);
  vk->budget().set_cap_bytes(limit);
  {
    const OobleckDecoder decoder = load(*vk, micro_dir());
    vk->budget().reset_peaks();
    const auto outcome = adaptive_vae_decode(decoder, ctx(*vk), *cpu, testing::test_pool(), z, 1,
                                             frames, start(512, kLevel1));
    vk->budget().set_cap_bytes(cap);
    ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
    EXPECT_EQ(outcome->chunk, 128);
    EXPECT_EQ(outcome->level, kLevel1);
    EXPECT_EQ(outcome->retries, 2);
    for (const std::string& line : outcome->log) std::cout << "[ log      ] " << line << "\n";
    EXPECT_EQ(vk->budget().peak_bytes(), limit);  // the plan is exact on vulkan
    const double diff = max_abs_diff(outcome->audio.data, at128), scale = max_abs(at128);
    std::cout << "[ accuracy ] vulkan chunk 128 vs sim chunk 128: max abs difference " << diff
              << " (max |audio| " << scale << ")\n";
    EXPECT_LE(diff, kTiledTolerance * scale);
  }
  vk->budget().set_cap_bytes(cap);
  EXPECT_EQ(vk->budget().used_bytes(), 0u);
}

}  // namespace
}  // namespace acefit
