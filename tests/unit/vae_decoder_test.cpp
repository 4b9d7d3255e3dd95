// The Oobleck VAE decoder and tiled decode, on tiny
// synthetic checkpoints. The decoder is compared with a naive double-precision
// implementation written here from acestep-model.md 13.1-13.3 (weight norm,
// conv1d, conv-transpose, snake as plain loops); the tiling with decoding each
// window separately and trimming it by hand (13.5).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <tuple>

#include "device/cpu/cpu_device.h"
#include "device/planning/planning_device.h"
#include "device/sim/sim_device.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "io/safetensors/safetensors_writer.h"
#include "models/vae/oobleck_decoder.h"
#include "models/vae/tiled_decode.h"
#include "models/weight_loader.h"
#include "test_support.h"

namespace acefit {
namespace {

namespace fs = std::filesystem;
using models::DecodeTilePlan;
using models::HostAudio;
using models::OobleckDecoder;

// ---------------------------------------------------------------------------
// Naive reference, one batch item at a time, in double precision.

struct Signal {
  std::int64_t channels = 0;
  std::int64_t length = 0;
  std::vector<double> v;  // [channels, length]

  Signal(std::int64_t c, std::int64_t l)
      : channels(c), length(l), v(static_cast<std::size_t>(c * l), 0.0) {}
  double& at(std::int64_t c, std::int64_t t) { return v[static_cast<std::size_t>(c * length + t)]; }
  double at(std::int64_t c, std::int64_t t) const {
    return v[static_cast<std::size_t>(c * length + t)];
  }
};

// With f32_arithmetic every product, sum and sin result is rounded to float
// as a plain single-precision implementation would (the accuracy floor the
// decoder can be held to); otherwise everything stays in double.
class NaiveDecoder {
 public:
  explicit NaiveDecoder(const std::string& dir, bool f32_arithmetic = false)
      : f32_(f32_arithmetic),
        config_(testing::unwrap(load_vae_config(dir))),
        loader_(testing::unwrap(models::WeightLoader::open(dir))),
        cpu_(make_cpu_device()) {}

  Signal decode(const Signal& latent) const {
    std::vector<std::int64_t> mult = {1};
    mult.insert(mult.end(), config_.channel_multiples.begin(), config_.channel_multiples.end());
    const auto n = static_cast<std::int64_t>(config_.downsampling_ratios.size());
    const std::int64_t dc = config_.decoder_channels;
    auto m = [&](std::int64_t i) { return mult[static_cast<std::size_t>(i)]; };

    Signal h = conv(latent, "decoder.conv1.", dc * m(n), 7, 3, 1, true);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::string p = "decoder.block." + std::to_string(i) + ".";
      const std::int64_t c_out = dc * m(n - i - 1);
      const std::int64_t s = config_.downsampling_ratios[static_cast<std::size_t>(n - 1 - i)];
      h = snake(h, p + "snake1.");
      h = conv_transpose(h, p + "conv_t1.", c_out, s, (s + 1) / 2);
      const std::int64_t dilations[3] = {1, 3, 9};
      for (int r = 0; r < 3; ++r) {
        const std::string u = p + "res_unit" + std::to_string(r + 1) + ".";
        const std::int64_t d = dilations[r];
        Signal t = snake(h, u + "snake1.");
        t = conv(t, u + "conv1.", c_out, 7, 3 * d, d, true);
        t = snake(t, u + "snake2.");
        t = conv(t, u + "conv2.", c_out, 1, 0, 1, true);
        for (std::size_t j = 0; j < h.v.size(); ++j) h.v[j] = q(h.v[j] + t.v[j]);
      }
    }
    h = snake(h, "decoder.snake1.");
    return conv(h, "decoder.conv2.", config_.audio_channels, 7, 3, 1, false);
  }

 private:
  std::vector<double> values(const std::string& name) const {
    const Tensor t = testing::unwrap(loader_.load(*cpu_, name, {}, DType::f32));
    const float* p = t.data<float>();
    return std::vector<double>(p, p + t.numel());
  }

  // w = g v / ||v||, the norm over every dim but dim 0.
  std::vector<double> folded(const std::string& prefix) const {
    std::vector<double> v = values(prefix + "weight_v");
    const std::vector<double> g = values(prefix + "weight_g");
    const std::size_t cols = v.size() / g.size();
    for (std::size_t r = 0; r < g.size(); ++r) {
      double sum = 0.0;
      for (std::size_t j = 0; j < cols; ++j) sum += v[r * cols + j] * v[r * cols + j];
      const double norm = std::sqrt(sum);
      for (std::size_t j = 0; j < cols; ++j) v[r * cols + j] = q(v[r * cols + j] * (g[r] / norm));
    }
    return v;
  }

  // Conv1d, weight [cout, cin, k]: y[o, t] = b[o] + sum w[o, i, k] x[i, t - pad + k dil].
  Signal conv(const Signal& x, const std::string& prefix, std::int64_t cout, std::int64_t k,
              std::int64_t pad, std::int64_t dil, bool bias) const {
    const std::vector<double> w = folded(prefix);
    const std::vector<double> b = bias ? values(prefix + "bias") : std::vector<double>(cout, 0.0);
    const std::int64_t cin = x.channels;
    EXPECT_EQ(static_cast<std::int64_t>(w.size()), cout * cin * k) << prefix;
    Signal y(cout, x.length + 2 * pad - dil * (k - 1));
    for (std::int64_t o = 0; o < cout; ++o) {
      for (std::int64_t t = 0; t < y.length; ++t) {
        double s = b[static_cast<std::size_t>(o)];
        for (std::int64_t i = 0; i < cin; ++i) {
          for (std::int64_t kk = 0; kk < k; ++kk) {
            const std::int64_t pos = t - pad + kk * dil;
            if (pos >= 0 && pos < x.length)
              s = q(s + q(w[static_cast<std::size_t>((o * cin + i) * k + kk)] * x.at(i, pos)));
          }
        }
        y.at(o, t) = s;
      }
    }
    return y;
  }

  // ConvTranspose1d, weight [cin, cout, k]: x[i, t] w[i, o, k] lands on y[o, t s - pad + k].
  Signal conv_transpose(const Signal& x, const std::string& prefix, std::int64_t cout,
                        std::int64_t stride, std::int64_t pad) const {
    const std::vector<double> w = folded(prefix);
    const std::vector<double> b = values(prefix + "bias");
    const std::int64_t cin = x.channels;
    const auto k = static_cast<std::int64_t>(w.size()) / (cin * cout);
    Signal y(cout, (x.length - 1) * stride - 2 * pad + k);
    for (std::int64_t o = 0; o < cout; ++o)
      for (std::int64_t t = 0; t < y.length; ++t) y.at(o, t) = b[static_cast<std::size_t>(o)];
    for (std::int64_t i = 0; i < cin; ++i) {
      for (std::int64_t o = 0; o < cout; ++o) {
        for (std::int64_t kk = 0; kk < k; ++kk) {
          const double wv = w[static_cast<std::size_t>((i * cout + o) * k + kk)];
          for (std::int64_t t = 0; t < x.length; ++t) {
            const std::int64_t pos = t * stride - pad + kk;
            if (pos >= 0 && pos < y.length) y.at(o, pos) = q(y.at(o, pos) + q(wv * x.at(i, t)));
          }
        }
      }
    }
    return y;
  }

  // y = x + 1 / (exp(beta) + 1e-9) sin^2(exp(alpha) x), per channel.
  Signal snake(const Signal& x, const std::string& prefix) const {
    const std::vector<double> alpha = values(prefix + "alpha");
    const std::vector<double> beta = values(prefix + "beta");
    EXPECT_EQ(static_cast<std::int64_t>(alpha.size()), x.channels) << prefix;
    Signal y = x;
    for (std::int64_t c = 0; c < x.channels; ++c) {
      const double a = q(std::exp(alpha[static_cast<std::size_t>(c)]));
      const double inv = q(1.0 / (std::exp(beta[static_cast<std::size_t>(c)]) + 1e-9));
      for (std::int64_t t = 0; t < x.length; ++t) {
        const double s = q(std::sin(q(a * x.at(c, t))));
        y.at(c, t) = q(x.at(c, t) + q(q(inv * s) * s));
      }
    }
    return y;
  }

  double q(double v) const { return f32_ ? static_cast<double>(static_cast<float>(v)) : v; }

  bool f32_;
  VaeConfig config_;
  models::WeightLoader loader_;
  std::shared_ptr<Device> cpu_;
};

// ---------------------------------------------------------------------------
// Fixture: the synthetic checkpoint (bf16, weights ~ 0.02) and a "lively" one
// with the same shapes whose f32 weights keep activations O(1) so that every
// snake is far from linear.

Status write_lively_vae(const std::string& dir, const std::string& config_source) {
  std::error_code error;
  fs::create_directories(dir, error);
  fs::copy_file(config_source, dir + "/config.json", fs::copy_options::overwrite_existing, error);
  if (error) return Status(ErrorCode::io, error.message());
  Rng rng(77);
  const std::vector<TensorSpec> specs = expected_vae_tensors(synthetic_vae_config());
  std::vector<std::vector<float>> buffers;
  buffers.reserve(specs.size());
  std::vector<SafetensorsEntry> entries;
  for (const TensorSpec& spec : specs) {
    std::uint64_t count = 1;
    std::vector<std::uint64_t> shape;
    for (const std::int64_t d : spec.shape) {
      shape.push_back(static_cast<std::uint64_t>(d));
      count *= static_cast<std::uint64_t>(d);
    }
    auto ends = [&](const std::string& suffix) {
      return spec.name.size() >= suffix.size() &&
             spec.name.compare(spec.name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    std::vector<float>& values = buffers.emplace_back(count);
    for (float& value : values) {
      if (ends("weight_g")) {
        value = 0.6f + 0.1f * rng.normal();
      } else if (ends("alpha") || ends("beta")) {
        value = 0.5f * rng.normal();
      } else if (ends("bias")) {
        value = 0.1f * rng.normal();
      } else {
        value = rng.normal();
      }
    }
    entries.push_back({spec.name, SafetensorsDtype::f32, std::move(shape),
                       std::as_bytes(std::span<const float>(values))});
  }
  return write_safetensors(dir + "/diffusion_pytorch_model.safetensors", entries);
}

class VaeDecoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string templ = (fs::temp_directory_path() / "acefit-vae-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = new fs::path(templ);
    SyntheticCheckpointOptions options;
    options.seed = 3;
    options.with_text_encoder = false;
    options.with_lm = false;
    const Status written = write_synthetic_checkpoints(root_->string(), options);
    ASSERT_TRUE(written.ok()) << written.to_string();
    const Status lively = write_lively_vae(lively_dir(), vae_dir() + "/config.json");
    ASSERT_TRUE(lively.ok()) << lively.to_string();
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    if (root_ != nullptr) fs::remove_all(*root_, ignored);
    delete root_;
    root_ = nullptr;
  }
  static std::string vae_dir() { return (*root_ / "vae").string(); }
  static std::string lively_dir() { return (*root_ / "vae-lively").string(); }

  static ops::OpContext ctx(Device& device) { return ops::OpContext{device, testing::test_pool()}; }

  static OobleckDecoder load(const std::string& dir, Device& device) {
    return testing::unwrap(OobleckDecoder::load(dir, device, &testing::test_pool()));
  }

  // Random latents [batch, 64, frames] on `device` and the same values on host.
  static Tensor latents(Device& device, std::int64_t batch, std::int64_t frames, std::uint64_t seed,
                        std::vector<float>* host = nullptr) {
    std::vector<float> values =
        testing::random_floats(static_cast<std::size_t>(batch * 64 * frames), seed, 1.0f);
    if (host != nullptr) *host = values;
    return testing::upload(device, values, Shape{batch, 64, frames});
  }

  // Compares decode with the naive double reference item by item: the
  // largest error relative to the largest |ref| must be below 1e-4, or, where
  // the weights make the network so sensitive that a plain f32 evaluation
  // (the naive loops rounding every step to float) is itself further off,
  // within twice that f32 evaluation's error and below 5e-4.
  static void expect_matches_naive(const std::string& dir, Device& device, std::int64_t batch,
                                   std::int64_t frames, std::uint64_t seed) {
    const OobleckDecoder decoder = load(dir, device);
    std::vector<float> host;
    const Tensor z = latents(device, batch, frames, seed, &host);
    const Tensor audio = testing::unwrap(decoder.decode(ctx(device), z));
    ASSERT_EQ(audio.shape(), (Shape{batch, 2, 1920 * frames}));
    const std::vector<float> got = testing::download(audio);
    const NaiveDecoder naive(dir), naive_f32(dir, /*f32_arithmetic=*/true);
    for (std::int64_t b = 0; b < batch; ++b) {
      Signal in(64, frames);
      std::copy(host.begin() + b * 64 * frames, host.begin() + (b + 1) * 64 * frames, in.v.begin());
      const Signal ref = naive.decode(in);
      const Signal f32 = naive_f32.decode(in);
      ASSERT_EQ(ref.channels, 2);
      ASSERT_EQ(ref.length, 1920 * frames);
      double max_ref = 0.0, max_err = 0.0, max_f32_err = 0.0;
      for (std::size_t j = 0; j < ref.v.size(); ++j) {
        const double g = got[static_cast<std::size_t>(b) * ref.v.size() + j];
        max_ref = std::max(max_ref, std::fabs(ref.v[j]));
        max_err = std::max(max_err, std::fabs(g - ref.v[j]));
        max_f32_err = std::max(max_f32_err, std::fabs(f32.v[j] - ref.v[j]));
      }
      ASSERT_GT(max_ref, 0.0);
      const double rel = max_err / max_ref, f32_rel = max_f32_err / max_ref;
      std::cout << "[ accuracy ] " << fs::path(dir).filename().string() << " on " << device.name()
                << ", T " << frames << ", item " << b << ": max error / max |ref| " << rel
                << " (plain f32 loops: " << f32_rel << ")\n";
      EXPECT_LT(rel, std::min(5e-4, std::max(1e-4, 2.0 * f32_rel)))
          << dir << " on " << device.name() << ", item " << b << ": max error " << max_err
          << ", max |ref| " << max_ref << ", plain f32 loops " << max_f32_err;
    }
  }

  static fs::path* root_;
};

fs::path* VaeDecoderTest::root_ = nullptr;

models::TiledDecodeOptions tiles(std::int64_t chunk,
                                 std::int64_t overlap = models::kDefaultVaeOverlap) {
  models::TiledDecodeOptions options;
  options.chunk = chunk;
  options.overlap = overlap;
  return options;
}

// ---------------------------------------------------------------------------
// Decoder.

TEST_F(VaeDecoderTest, LoadsFoldedWeightsOnly) {
  auto cpu = make_cpu_device();
  const std::uint64_t before = cpu->budget().used_bytes();
  const OobleckDecoder decoder = load(vae_dir(), *cpu);
  EXPECT_EQ(decoder.hop(), 1920);
  EXPECT_EQ(decoder.config().decoder_channels, 8);
  // Every decoder tensor but weight_g, as f32.
  std::uint64_t expected = 0;
  for (const TensorSpec& spec : expected_vae_tensors(synthetic_vae_config())) {
    if (spec.name.rfind("decoder.", 0) != 0 || spec.name.ends_with("weight_g")) continue;
    std::uint64_t count = 4;
    for (const std::int64_t d : spec.shape) count *= static_cast<std::uint64_t>(d);
    expected += count;
  }
  EXPECT_EQ(decoder.weight_bytes(), expected);
  // The budget rounds each reservation up to its granularity.
  const std::uint64_t held = cpu->budget().current_bytes(MemoryTag::weights);
  EXPECT_GE(held, expected);
  EXPECT_LT(held - expected, std::uint64_t{200} * cpu->budget().granularity_bytes());
  EXPECT_GE(cpu->budget().used_bytes() - before, expected);
}

TEST_F(VaeDecoderTest, MatchesNaiveReferenceOnSyntheticCheckpoint) {
  for (const std::string kind : {"cpu", "sim"}) {
    auto device = testing::make_test_device(kind);
    expect_matches_naive(vae_dir(), *device, 2, 3, 11);
    expect_matches_naive(vae_dir(), *device, 1, 6, 12);
  }
}

TEST_F(VaeDecoderTest, MatchesNaiveReferenceWithLivelyWeights) {
  for (const std::string kind : {"cpu", "sim"}) {
    auto device = testing::make_test_device(kind);
    expect_matches_naive(lively_dir(), *device, 2, 4, 21);
    expect_matches_naive(lively_dir(), *device, 1, 5, 22);
  }
}

TEST_F(VaeDecoderTest, DecodeRejectsBadInputs) {
  auto cpu = make_cpu_device();
  const OobleckDecoder decoder = load(vae_dir(), *cpu);
  auto expect_invalid = [&](const Expected<Tensor>& result, const std::string& what) {
    ASSERT_FALSE(result.ok()) << what;
    EXPECT_EQ(result.status().code(), ErrorCode::invalid_argument) << what;
    EXPECT_NE(result.status().message().find("latents"), std::string::npos)
        << result.status().to_string();
  };
  expect_invalid(decoder.decode(ctx(*cpu), Tensor()), "undefined");
  expect_invalid(decoder.decode(ctx(*cpu), testing::upload(*cpu, std::vector<float>(32 * 4, 0.f),
                                                           Shape{1, 32, 4})),
                 "32 channels");
  expect_invalid(decoder.decode(ctx(*cpu), testing::upload(*cpu, std::vector<float>(64 * 4, 0.f),
                                                           Shape{64, 4})),
                 "rank 2");
  const Tensor bf16 = testing::unwrap(cpu->empty(DType::bf16, Shape{1, 64, 4}, MemoryTag::io));
  expect_invalid(decoder.decode(ctx(*cpu), bf16), "bf16");

  // Another device than the weights'.
  auto other = make_cpu_device();
  const auto elsewhere = decoder.decode(ctx(*other), latents(*other, 1, 3, 1));
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(elsewhere.status().code(), ErrorCode::invalid_argument);
}

TEST_F(VaeDecoderTest, LoadReportsMissingAndMismatchedFiles) {
  auto cpu = make_cpu_device();
  const auto missing = OobleckDecoder::load((*root_ / "no-such-vae").string(), *cpu);
  ASSERT_FALSE(missing.ok());

  // A config that does not match the stored shapes.
  const std::string dir = (*root_ / "vae-wrong").string();
  fs::create_directories(dir);
  fs::copy_file(vae_dir() + "/diffusion_pytorch_model.safetensors",
                dir + "/diffusion_pytorch_model.safetensors", fs::copy_options::overwrite_existing);
  std::ifstream in(vae_dir() + "/config.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string key = "\"decoder_channels\": 8";
  ASSERT_NE(text.find(key), std::string::npos) << text;
  text.replace(text.find(key), key.size(), "\"decoder_channels\": 16");
  std::ofstream(dir + "/config.json") << text;
  const auto wrong = OobleckDecoder::load(dir, *cpu);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), ErrorCode::corrupt) << wrong.status().to_string();
  EXPECT_NE(wrong.status().message().find("decoder.conv1.weight_v"), std::string::npos)
      << wrong.status().to_string();

  // plan() is for planning devices only.
  EXPECT_FALSE(OobleckDecoder::plan(synthetic_vae_config(), *cpu).ok());
}

TEST_F(VaeDecoderTest, TooSmallSimDeviceGivesOutOfMemory) {
  // Room for the weights and 6 MiB: enough for a 4-frame window, not for a
  // 50-frame decode (three [8, 96000] f32 tensors and an 8 MiB workspace).
  auto probe = make_cpu_device();
  const std::uint64_t weights = load(vae_dir(), *probe).weight_bytes();
  auto sim = make_sim_device(std::uint64_t{1} << 30, weights + (std::uint64_t{6} << 20));
  const OobleckDecoder decoder = load(vae_dir(), *sim);
  const Tensor z = latents(*sim, 1, 50, 5);
  const auto result = decoder.decode(ctx(*sim), z);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::out_of_memory) << result.status().to_string();
  EXPECT_TRUE(result.status().oom().has_value());

  models::TiledDecodeOptions options;
  options.chunk = 1000;
  const auto tiled = models::tiled_decode(decoder, ctx(*sim), z, options);
  ASSERT_FALSE(tiled.ok());
  EXPECT_EQ(tiled.status().code(), ErrorCode::out_of_memory);
  EXPECT_NE(tiled.status().message().find("tile 1 of 1"), std::string::npos)
      << tiled.status().to_string();

  // Small tiles fit where the whole latent did not.
  options.chunk = 4;
  options.overlap = 1;
  const HostAudio audio = testing::unwrap(models::tiled_decode(decoder, ctx(*sim), z, options));
  EXPECT_EQ(audio.samples, 50 * 1920);

  // Not even the weights fit.
  auto tiny = make_sim_device(std::uint64_t{1} << 30, weights / 2);
  const auto no_room = OobleckDecoder::load(vae_dir(), *tiny);
  ASSERT_FALSE(no_room.ok());
  EXPECT_EQ(no_room.status().code(), ErrorCode::out_of_memory);
}

TEST_F(VaeDecoderTest, PlanningDevicePredictsTheSimPeak) {
  auto sim = make_sim_device(std::uint64_t{1} << 30);
  auto planner = make_planning_device(*sim);
  const OobleckDecoder real = load(vae_dir(), *sim);
  const OobleckDecoder planned = load(vae_dir(), *planner);
  EXPECT_EQ(planned.weight_bytes(), real.weight_bytes());
  EXPECT_EQ(planner->budget().used_bytes(), sim->budget().used_bytes());

  const Tensor z = latents(*sim, 1, 7, 3);
  const Tensor pz = testing::unwrap(planner->empty(DType::f32, Shape{1, 64, 7}, MemoryTag::io));
  sim->budget().reset_peaks();
  planner->budget().reset_peaks();
  const Tensor audio = testing::unwrap(real.decode(ctx(*sim), z));
  const Tensor planned_audio = testing::unwrap(planned.decode(ctx(*planner), pz));
  EXPECT_TRUE(planned_audio.planned());
  EXPECT_EQ(planned_audio.shape(), audio.shape());
  EXPECT_EQ(planner->budget().peak_bytes(), sim->budget().peak_bytes());

  const HostAudio tiled =
      testing::unwrap(models::tiled_decode(planned, ctx(*planner), pz, tiles(4, 1)));
  EXPECT_TRUE(tiled.data.empty());
  EXPECT_EQ(tiled.samples, 7 * 1920);
}

// The real decoder's memory, planned: weights and the peak of one window.
TEST_F(VaeDecoderTest, PlansRealDimensions) {
  auto cpu = make_cpu_device(std::uint64_t{64} << 30);
  auto planner = make_planning_device(*cpu);
  const OobleckDecoder decoder = testing::unwrap(OobleckDecoder::plan(VaeConfig{}, *planner));
  const std::uint64_t weights = decoder.weight_bytes();
  EXPECT_EQ(planner->budget().used_bytes(), weights);
  EXPECT_GT(weights, std::uint64_t{300} << 20);
  constexpr double kMiB = 1024.0 * 1024.0;
  for (const std::int64_t chunk : {64, 128, 256, 512, 1024}) {
    planner->budget().reset_peaks();
    const Tensor z =
        testing::unwrap(planner->empty(DType::f32, Shape{1, 64, chunk}, MemoryTag::io));
    const Tensor audio = testing::unwrap(decoder.decode(ctx(*planner), z));
    EXPECT_EQ(audio.shape(), (Shape{1, 2, 1920 * chunk}));
    const std::uint64_t peak = planner->budget().peak_bytes() - weights;
    // Three [128, 1920 chunk] f32 tensors live at once in the last residual units.
    EXPECT_GE(peak, std::uint64_t{3} * 128 * 1920 * chunk * 4);
    EXPECT_LT(peak, std::uint64_t{4} * 128 * 1920 * chunk * 4);
    std::cout << "[ planned  ] real VAE decode, f32, window " << chunk << " frames: weights "
              << weights / kMiB << " MiB, activations peak " << peak / kMiB << " MiB\n";
  }
  // A 10-minute latent tiled at 256: the peak is one tile's.
  planner->budget().reset_peaks();
  const Tensor z = testing::unwrap(planner->empty(DType::f32, Shape{1, 64, 15000}, MemoryTag::io));
  const HostAudio audio =
      testing::unwrap(models::tiled_decode(decoder, ctx(*planner), z, tiles(256)));
  EXPECT_EQ(audio.samples, 15000 * 1920);
  std::cout << "[ planned  ] real VAE tiled decode of 15000 frames at chunk 256: device peak "
            << (planner->budget().peak_bytes() - weights - z.nbytes()) / kMiB
            << " MiB above weights and latent\n";
}

// ---------------------------------------------------------------------------
// Tiling.

TEST_F(VaeDecoderTest, TilePlanGeometry) {
  const DecodeTilePlan plan = testing::unwrap(models::plan_decode_tiles(20, 8, 2));
  EXPECT_EQ(plan.overlap, 2);
  EXPECT_FALSE(plan.overlap_halved);
  EXPECT_EQ(plan.stride, 4);
  ASSERT_EQ(plan.tiles.size(), 5u);
  EXPECT_EQ(plan.tiles[0].core_start, 0);
  EXPECT_EQ(plan.tiles[0].core_end, 4);
  EXPECT_EQ(plan.tiles[0].window_start, 0);
  EXPECT_EQ(plan.tiles[0].window_end, 6);
  EXPECT_EQ(plan.tiles[2].core_start, 8);
  EXPECT_EQ(plan.tiles[2].window_start, 6);
  EXPECT_EQ(plan.tiles[2].window_end, 14);
  EXPECT_EQ(plan.tiles[4].core_end, 20);
  EXPECT_EQ(plan.tiles[4].window_end, 20);

  // Uneven: the last core is short.
  const DecodeTilePlan uneven = testing::unwrap(models::plan_decode_tiles(10, 5, 1));
  EXPECT_EQ(uneven.stride, 3);
  ASSERT_EQ(uneven.tiles.size(), 4u);
  EXPECT_EQ(uneven.tiles[3].core_start, 9);
  EXPECT_EQ(uneven.tiles[3].core_end, 10);
  EXPECT_EQ(uneven.tiles[3].window_start, 8);
  EXPECT_EQ(uneven.tiles[3].window_end, 10);

  // T <= chunk: one piece.
  const DecodeTilePlan whole = testing::unwrap(models::plan_decode_tiles(256, 256));
  ASSERT_EQ(whole.tiles.size(), 1u);
  EXPECT_EQ(whole.tiles[0].window_end, 256);
  EXPECT_EQ(whole.overlap, 64);

  // Halving (18.6): 64 -> 32 -> 16 -> 8 -> 4 for chunk 9 and stops at 4.
  const DecodeTilePlan halved = testing::unwrap(models::plan_decode_tiles(30, 9));
  EXPECT_TRUE(halved.overlap_halved);
  EXPECT_EQ(halved.overlap, 4);
  EXPECT_EQ(halved.stride, 1);
  EXPECT_EQ(halved.tiles.size(), 30u);
  const DecodeTilePlan no_overlap = testing::unwrap(models::plan_decode_tiles(5, 2, 0));
  EXPECT_FALSE(no_overlap.overlap_halved);
  EXPECT_EQ(no_overlap.tiles.size(), 3u);
  // The default chunk set against the default overlap: 64 - 128 <= 0 halves once.
  const DecodeTilePlan c64 = testing::unwrap(models::plan_decode_tiles(1000, 64));
  EXPECT_EQ(c64.overlap, 16);
  EXPECT_EQ(c64.stride, 32);

  // Every frame is in exactly one core.
  for (const auto& [frames, chunk, overlap] :
       std::vector<std::tuple<int, int, int>>{{20, 8, 2}, {97, 16, 4}, {33, 9, 64}, {1, 1, 0}}) {
    const DecodeTilePlan p = testing::unwrap(models::plan_decode_tiles(frames, chunk, overlap));
    std::int64_t next = 0;
    for (const auto& tile : p.tiles) {
      EXPECT_EQ(tile.core_start, next);
      EXPECT_LE(tile.window_end - tile.window_start, chunk);
      next = tile.core_end;
    }
    EXPECT_EQ(next, frames);
  }
}

TEST_F(VaeDecoderTest, TilePlanRejectsBadArguments) {
  EXPECT_EQ(models::plan_decode_tiles(0, 8).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(models::plan_decode_tiles(10, 0).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(models::plan_decode_tiles(10, -3).status().code(), ErrorCode::invalid_argument);
  const auto negative = models::plan_decode_tiles(10, 8, -1);
  EXPECT_EQ(negative.status().code(), ErrorCode::invalid_argument);
  EXPECT_NE(negative.status().message().find("overlap"), std::string::npos);
}

// acestep-model.md 18.6: the overlap is halved while the stride would be
// <= 0 but never below 4 frames (an odd halving that lands below 4 is raised
// to 4), and a chunk that leaves no core with that overlap is an error
// when the latent needs tiles, not an overlap halved further.
TEST_F(VaeDecoderTest, TilePlanFloorsTheOverlapAtFourFrames) {
  for (const std::int64_t chunk : {1, 2, 7, 8}) {
    const auto plan = models::plan_decode_tiles(100, chunk);
    ASSERT_FALSE(plan.ok()) << chunk;
    EXPECT_EQ(plan.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(plan.status().message().find("overlap of 4 (asked 64; the overlap is not reduced "
                                           "below 4 frames): the chunk must be more than 8"),
              std::string::npos)
        << plan.status().to_string();
  }
  // 6 -> 3 is raised to 4; 5 -> 2 too; a chunk of 9 then tiles.
  for (const std::int64_t asked : {5, 6, 9}) {
    const DecodeTilePlan plan = testing::unwrap(models::plan_decode_tiles(40, 9, asked));
    EXPECT_EQ(plan.overlap, 4) << asked;
    EXPECT_TRUE(plan.overlap_halved);
    EXPECT_EQ(plan.stride, 1);
  }
  EXPECT_EQ(testing::unwrap(models::plan_decode_tiles(40, 10, 6)).overlap, 4);
  // Asked below 4 and too large: kept, so an error.
  EXPECT_FALSE(models::plan_decode_tiles(40, 5, 3).ok());
  EXPECT_EQ(testing::unwrap(models::plan_decode_tiles(40, 7, 3)).overlap, 3);
  // One piece needs no stride: no error, whatever the chunk.
  const DecodeTilePlan one = testing::unwrap(models::plan_decode_tiles(8, 8));
  ASSERT_EQ(one.tiles.size(), 1u);
  EXPECT_EQ(one.overlap, 4);
  // The chunk set against the default overlap is unchanged: 64 gets 16.
  EXPECT_EQ(testing::unwrap(models::plan_decode_tiles(1000, 64)).overlap, 16);
  EXPECT_EQ(models::kMinTiledVaeChunk, 9);
}

TEST_F(VaeDecoderTest, TiledEqualsUntiledWhenOneChunkCoversAll) {
  auto cpu = make_cpu_device();
  const OobleckDecoder decoder = load(lively_dir(), *cpu);
  const Tensor z = latents(*cpu, 2, 6, 31);
  const std::vector<float> whole = testing::download(testing::unwrap(decoder.decode(ctx(*cpu), z)));
  for (const std::int64_t chunk : {6, 7, 100}) {
    std::vector<std::pair<std::int64_t, std::int64_t>> calls;
    models::TiledDecodeOptions options;
    options.chunk = chunk;
    options.progress = [&](std::int64_t done, std::int64_t total) {
      calls.push_back({done, total});
    };
    const HostAudio audio = testing::unwrap(models::tiled_decode(decoder, ctx(*cpu), z, options));
    EXPECT_EQ(audio.batch, 2);
    EXPECT_EQ(audio.channels, 2);
    EXPECT_EQ(audio.samples, 6 * 1920);
    EXPECT_EQ(audio.sample_rate, 48000);
    EXPECT_EQ(audio.data, whole) << "chunk " << chunk;
    EXPECT_EQ(calls, (std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 2}, {2, 2}}));
  }
}

// Decodes every window of `plan` on its own and keeps its core: the tiling
// done by hand.
std::vector<float> naive_tiling(const OobleckDecoder& decoder, Device& device,
                                const std::vector<float>& host, std::int64_t batch,
                                std::int64_t frames, const DecodeTilePlan& plan) {
  const std::int64_t hop = 1920, samples = frames * hop;
  std::vector<float> out(static_cast<std::size_t>(batch * 2 * samples), -999.0f);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (const auto& tile : plan.tiles) {
      const std::int64_t w = tile.window_end - tile.window_start;
      std::vector<float> window(static_cast<std::size_t>(64 * w));
      for (std::int64_t c = 0; c < 64; ++c)
        for (std::int64_t t = 0; t < w; ++t)
          window[static_cast<std::size_t>(c * w + t)] =
              host[static_cast<std::size_t>((b * 64 + c) * frames + tile.window_start + t)];
      const Tensor z = testing::upload(device, window, Shape{1, 64, w});
      const std::vector<float> audio = testing::download(
          testing::unwrap(decoder.decode(ops::OpContext{device, testing::test_pool()}, z)));
      const std::int64_t front = (tile.core_start - tile.window_start) * hop;
      const std::int64_t keep = (tile.core_end - tile.core_start) * hop;
      for (std::int64_t c = 0; c < 2; ++c)
        for (std::int64_t t = 0; t < keep; ++t)
          out[static_cast<std::size_t>((b * 2 + c) * samples + tile.core_start * hop + t)] =
              audio[static_cast<std::size_t>(c * w * hop + front + t)];
    }
  }
  return out;
}

TEST_F(VaeDecoderTest, SmallChunksEqualTheNaiveTiling) {
  for (const std::string kind : {"cpu", "sim"}) {
    auto device = testing::make_test_device(kind);
    const OobleckDecoder decoder = load(lively_dir(), *device);
    std::vector<float> host;
    const Tensor z = latents(*device, 2, 20, 41, &host);
    std::vector<std::pair<std::int64_t, std::int64_t>> calls;
    models::TiledDecodeOptions options;
    options.chunk = 8;
    options.overlap = 2;
    options.progress = [&](std::int64_t done, std::int64_t total) {
      calls.push_back({done, total});
    };
    const HostAudio audio =
        testing::unwrap(models::tiled_decode(decoder, ctx(*device), z, options));
    ASSERT_EQ(audio.samples, 20 * 1920);
    ASSERT_EQ(audio.data.size(), static_cast<std::size_t>(2 * 2 * 20 * 1920));
    const DecodeTilePlan plan = testing::unwrap(models::plan_decode_tiles(20, 8, 2));
    EXPECT_EQ(audio.data, naive_tiling(decoder, *device, host, 2, 20, plan)) << kind;
    ASSERT_EQ(calls.size(), 10u);
    EXPECT_EQ(calls.front(), std::make_pair(std::int64_t{1}, std::int64_t{10}));
    EXPECT_EQ(calls.back(), std::make_pair(std::int64_t{10}, std::int64_t{10}));

    // Overlap-discard differs from the untiled decode only near the seams: the
    // cores see 2 frames of context on each side, not all of it.
    const std::vector<float> whole =
        testing::download(testing::unwrap(decoder.decode(ctx(*device), z)));
    double max_abs = 0.0, max_diff = 0.0;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(whole[i])));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(whole[i]) - audio.data[i]));
    }
    EXPECT_GT(max_diff, 0.0);
    EXPECT_LT(max_diff, max_abs);
  }
}

TEST_F(VaeDecoderTest, HalvedOverlapEqualsTheNaiveTiling) {
  auto cpu = make_cpu_device();
  const OobleckDecoder decoder = load(vae_dir(), *cpu);
  std::vector<float> host;
  const Tensor z = latents(*cpu, 1, 13, 51, &host);
  const HostAudio audio =
      testing::unwrap(models::tiled_decode(decoder, ctx(*cpu), z, tiles(9)));  // overlap 64
  const DecodeTilePlan plan = testing::unwrap(models::plan_decode_tiles(13, 9));
  EXPECT_TRUE(plan.overlap_halved);
  EXPECT_EQ(plan.overlap, 4);  // 64 -> ... -> 4, not below (18.6)
  EXPECT_EQ(plan.tiles.size(), 13u);
  EXPECT_EQ(audio.samples, 13 * 1920);
  EXPECT_EQ(audio.data, naive_tiling(decoder, *cpu, host, 1, 13, plan));
}

TEST_F(VaeDecoderTest, TiledDecodeRejectsBadArguments) {
  auto cpu = make_cpu_device();
  const OobleckDecoder decoder = load(vae_dir(), *cpu);
  const Tensor z = latents(*cpu, 1, 10, 1);
  for (const auto& [chunk, overlap] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 64}, {-5, 2}, {8, -1}}) {
    const auto result = models::tiled_decode(decoder, ctx(*cpu), z, tiles(chunk, overlap));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), ErrorCode::invalid_argument) << result.status().to_string();
  }
  const Tensor wrong = testing::upload(*cpu, std::vector<float>(3 * 10, 0.f), Shape{1, 3, 10});
  EXPECT_EQ(models::tiled_decode(decoder, ctx(*cpu), wrong).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(models::tiled_decode(decoder, ctx(*cpu), Tensor()).status().code(),
            ErrorCode::invalid_argument);
  auto other = make_cpu_device();
  EXPECT_EQ(models::tiled_decode(decoder, ctx(*other), latents(*other, 1, 4, 2)).status().code(),
            ErrorCode::invalid_argument);
}

// ---------------------------------------------------------------------------
// Post-processing.

}  // namespace
}  // namespace acefit
