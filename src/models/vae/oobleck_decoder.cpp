// The Oobleck VAE decoder: loading with weight-norm folding, and the forward
// pass of acestep-model.md 13.3 built from the ops in src/ops.
#include "models/vae/oobleck_decoder.h"

#include <utility>

#include "models/weight_loader.h"
#include "ops/conv.h"
#include "ops/elementwise.h"

namespace acefit::models {

namespace {

constexpr std::int64_t kKernel = 7;
constexpr std::int64_t kDilations[3] = {1, 3, 9};

using Dims = std::vector<std::int64_t>;

// Where the weights come from: a checkpoint (loaded and folded) or nothing
// (reserved on a planning device).
class WeightSource {
 public:
  WeightSource(const WeightLoader* loader, Device& device, ThreadPool& pool)
      : loader_(loader), ctx_{device, pool, MemoryTag::weights} {}

  // A weight-normalised conv "<prefix>weight_v" / "weight_g" (/ "bias").
  Expected<OobleckDecoder::Conv> conv(const std::string& prefix, const Dims& v_shape,
                                      std::int64_t bias_size) const {
    OobleckDecoder::Conv conv;
    if (loader_ == nullptr) {
      ACEFIT_ASSIGN(conv.weight, planned(v_shape));
      if (bias_size > 0) {
        ACEFIT_ASSIGN(conv.bias, planned({bias_size}));
      }
      return conv;
    }
    {
      ACEFIT_ASSIGN(const Tensor v, loader_->load(ctx_.device, prefix + "weight_v", v_shape));
      ACEFIT_ASSIGN(const Tensor g,
                    loader_->load(ctx_.device, prefix + "weight_g", {v_shape[0], 1, 1}));
      auto folded = ops::weight_norm_fold(ctx_, g, v);
      if (!folded.ok()) return folded.status().with_context(prefix + "weight");
      conv.weight = std::move(folded).value();
    }  // v and g are released here
    if (bias_size > 0) {
      ACEFIT_ASSIGN(conv.bias, loader_->load(ctx_.device, prefix + "bias", {bias_size}));
    }
    return conv;
  }

  // "<prefix>alpha" / "beta", stored [1, C, 1], kept as [C].
  Expected<OobleckDecoder::Snake> snake(const std::string& prefix, std::int64_t channels) const {
    OobleckDecoder::Snake snake;
    if (loader_ == nullptr) {
      ACEFIT_ASSIGN(snake.alpha, planned({channels}));
      ACEFIT_ASSIGN(snake.beta, planned({channels}));
      return snake;
    }
    ACEFIT_ASSIGN(const Tensor alpha,
                  loader_->load(ctx_.device, prefix + "alpha", {1, channels, 1}));
    ACEFIT_ASSIGN(const Tensor beta, loader_->load(ctx_.device, prefix + "beta", {1, channels, 1}));
    ACEFIT_ASSIGN(snake.alpha, alpha.reshape(Shape{channels}));
    ACEFIT_ASSIGN(snake.beta, beta.reshape(Shape{channels}));
    return snake;
  }

 private:
  Expected<Tensor> planned(const Dims& dims) const {
    return ctx_.device.empty(DType::f32, *Shape::from(dims), MemoryTag::weights);
  }

  const WeightLoader* loader_;
  ops::OpContext ctx_;
};

Expected<Tensor> apply_snake(const ops::OpContext& ctx, const Tensor& x,
                             const OobleckDecoder::Snake& s) {
  return ops::snake(ctx, x, s.alpha, s.beta, /*log_scale=*/true);
}

Expected<Tensor> apply_conv(const ops::OpContext& ctx, const Tensor& x,
                            const OobleckDecoder::Conv& c, std::int64_t padding,
                            std::int64_t dilation = 1) {
  return ops::conv1d(ctx, x, c.weight, c.bias, ops::Conv1dOptions{1, padding, dilation});
}

// x is consumed: the caller's reference is moved in so that it is released
// as soon as the sum exists.
Expected<Tensor> apply_res_unit(const ops::OpContext& ctx, Tensor x,
                                const OobleckDecoder::ResUnit& unit) {
  const std::int64_t d = unit.dilation;
  ACEFIT_ASSIGN(Tensor t, apply_snake(ctx, x, unit.snake1));
  ACEFIT_ASSIGN(t, apply_conv(ctx, t, unit.conv1, (kKernel - 1) / 2 * d, d));
  ACEFIT_ASSIGN(t, apply_snake(ctx, t, unit.snake2));
  ACEFIT_ASSIGN(t, apply_conv(ctx, t, unit.conv2, 0));
  if (t.shape() != x.shape()) {
    return internal_error("oobleck decoder: residual branch " + t.describe() +
                          " does not match its input " + x.describe());
  }
  return ops::add(ctx, x, t);
}

Expected<OobleckDecoder::Block> build_block(const WeightSource& source, const std::string& prefix,
                                            std::int64_t c_in, std::int64_t c_out,
                                            std::int64_t stride) {
  OobleckDecoder::Block block;
  block.in_channels = c_in;
  block.out_channels = c_out;
  block.stride = stride;
  ACEFIT_ASSIGN(block.snake1, source.snake(prefix + "snake1.", c_in));
  ACEFIT_ASSIGN(block.conv_t1, source.conv(prefix + "conv_t1.", {c_in, c_out, 2 * stride}, c_out));
  for (int r = 0; r < 3; ++r) {
    const std::string p = prefix + "res_unit" + std::to_string(r + 1) + ".";
    OobleckDecoder::ResUnit& unit = block.res_units[r];
    unit.dilation = kDilations[r];
    ACEFIT_ASSIGN(unit.snake1, source.snake(p + "snake1.", c_out));
    ACEFIT_ASSIGN(unit.conv1, source.conv(p + "conv1.", {c_out, c_out, kKernel}, c_out));
    ACEFIT_ASSIGN(unit.snake2, source.snake(p + "snake2.", c_out));
    ACEFIT_ASSIGN(unit.conv2, source.conv(p + "conv2.", {c_out, c_out, 1}, c_out));
  }
  return block;
}

std::uint64_t bytes_of(const OobleckDecoder::Conv& c) {
  return c.weight.nbytes() + (c.bias.defined() ? c.bias.nbytes() : 0);
}
std::uint64_t bytes_of(const OobleckDecoder::Snake& s) {
  return s.alpha.nbytes() + s.beta.nbytes();
}

}  // namespace

Status OobleckDecoder::check_config(const VaeConfig& config) {
  if (config.downsampling_ratios.empty()) {
    return invalid_argument("oobleck decoder: downsampling_ratios is empty");
  }
  if (config.channel_multiples.size() != config.downsampling_ratios.size()) {
    return invalid_argument("oobleck decoder: channel_multiples has " +
                            std::to_string(config.channel_multiples.size()) +
                            " entries, downsampling_ratios " +
                            std::to_string(config.downsampling_ratios.size()));
  }
  for (const std::int64_t s : config.downsampling_ratios) {
    if (s < 1 || s % 2 != 0) {
      return unsupported("oobleck decoder: downsampling ratio " + std::to_string(s) +
                         " is not a positive even number, so a block would not upsample by "
                         "exactly its ratio");
    }
  }
  if (config.decoder_channels < 1 || config.decoder_input_channels < 1 ||
      config.audio_channels < 1) {
    return invalid_argument("oobleck decoder: channel counts must be >= 1");
  }
  return {};
}

namespace {

// Builds every decoder weight from `source` in checkpoint order.
Status build_all(const WeightSource& source, const VaeConfig& config, OobleckDecoder::Conv& conv1,
                 std::vector<OobleckDecoder::Block>& blocks, OobleckDecoder::Snake& snake,
                 OobleckDecoder::Conv& conv2) {
  // Channel multiples with a leading 1, walked from the top (decoder order).
  std::vector<std::int64_t> mult = {1};
  mult.insert(mult.end(), config.channel_multiples.begin(), config.channel_multiples.end());
  const std::size_t n = config.downsampling_ratios.size();
  const std::int64_t dc = config.decoder_channels;
  ACEFIT_ASSIGN(
      conv1, source.conv("decoder.conv1.", {dc * mult[n], config.decoder_input_channels, kKernel},
                         dc * mult[n]));
  blocks.clear();
  blocks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    ACEFIT_ASSIGN(OobleckDecoder::Block block,
                  build_block(source, "decoder.block." + std::to_string(i) + ".", dc * mult[n - i],
                              dc * mult[n - i - 1], config.downsampling_ratios[n - 1 - i]));
    blocks.push_back(std::move(block));
  }
  ACEFIT_ASSIGN(snake, source.snake("decoder.snake1.", dc));
  ACEFIT_ASSIGN(conv2, source.conv("decoder.conv2.", {config.audio_channels, dc, kKernel}, 0));
  return {};
}

}  // namespace

Expected<OobleckDecoder> OobleckDecoder::load(const std::string& vae_dir, Device& device,
                                              ThreadPool* pool) {
  ACEFIT_ASSIGN(VaeConfig config, load_vae_config(vae_dir));
  ACEFIT_TRY(check_config(config));
  ACEFIT_ASSIGN(const WeightLoader loader, WeightLoader::open(vae_dir));
  ThreadPool local_pool(1);
  const WeightSource source(&loader, device, pool != nullptr ? *pool : local_pool);
  OobleckDecoder decoder;
  decoder.config_ = std::move(config);
  decoder.device_ = &device;
  const Status built = build_all(source, decoder.config_, decoder.conv1_, decoder.blocks_,
                                 decoder.snake_, decoder.conv2_);
  if (!built.ok()) return built.with_context("loading the VAE decoder from " + vae_dir);
  return decoder;
}

Expected<OobleckDecoder> OobleckDecoder::plan(const VaeConfig& config, Device& planning_device) {
  if (!planning_device.planning()) {
    return invalid_argument("OobleckDecoder::plan needs a planning device, not '" +
                            planning_device.name() + "'");
  }
  ACEFIT_TRY(check_config(config));
  ThreadPool pool(1);
  const WeightSource source(nullptr, planning_device, pool);
  OobleckDecoder decoder;
  decoder.config_ = config;
  decoder.device_ = &planning_device;
  ACEFIT_TRY(build_all(source, decoder.config_, decoder.conv1_, decoder.blocks_, decoder.snake_,
                       decoder.conv2_));
  return decoder;
}

std::uint64_t OobleckDecoder::weight_bytes() const {
  std::uint64_t total = bytes_of(conv1_) + bytes_of(snake_) + bytes_of(conv2_);
  for (const Block& block : blocks_) {
    total += bytes_of(block.snake1) + bytes_of(block.conv_t1);
    for (const ResUnit& unit : block.res_units) {
      total += bytes_of(unit.snake1) + bytes_of(unit.conv1) + bytes_of(unit.snake2) +
               bytes_of(unit.conv2);
    }
  }
  return total;
}

void OobleckDecoder::collect_weights(std::vector<Tensor*>& out) {
  auto conv = [&](Conv& c) {
    out.push_back(&c.weight);
    if (c.bias.defined()) out.push_back(&c.bias);
  };
  auto snake = [&](Snake& s) {
    out.push_back(&s.alpha);
    out.push_back(&s.beta);
  };
  conv(conv1_);
  for (Block& block : blocks_) {
    snake(block.snake1);
    conv(block.conv_t1);
    for (ResUnit& unit : block.res_units) {
      snake(unit.snake1);
      conv(unit.conv1);
      snake(unit.snake2);
      conv(unit.conv2);
    }
  }
  snake(snake_);
  conv(conv2_);
}

Expected<OobleckDecoder> OobleckDecoder::copy_to(Device& device) const {
  if (device_ == nullptr) return invalid_argument("oobleck decoder: not loaded");
  OobleckDecoder copy = *this;  // shares every tensor until it is replaced
  copy.device_ = &device;
  if (&device == device_) return copy;
  std::vector<Tensor*> tensors;
  copy.collect_weights(tensors);
  for (Tensor* tensor : tensors) {
    auto moved = copy_to_device(*tensor, device, MemoryTag::weights);
    if (!moved.ok()) {
      return moved.status().with_context("copying the VAE decoder from '" + device_->name() +
                                         "' to '" + device.name() + "'");
    }
    *tensor = std::move(moved).value();
  }
  return copy;
}

Expected<Tensor> OobleckDecoder::decode(const ops::OpContext& ctx, const Tensor& latents) const {
  if (device_ == nullptr) return invalid_argument("oobleck decoder: not loaded");
  if (&ctx.device != device_) {
    return invalid_argument("oobleck decoder: the weights live on '" + device_->name() +
                            "' but decode was asked to run on '" + ctx.device.name() + "'");
  }
  if (!latents.defined()) return invalid_argument("oobleck decoder: latents are undefined");
  if (latents.dtype() != DType::f32 || latents.rank() != 3 ||
      latents.dim(1) != config_.decoder_input_channels || latents.dim(2) < 1 ||
      latents.dim(0) < 1) {
    return invalid_argument("oobleck decoder: latents " + latents.describe() +
                            " should be f32 [B, " + std::to_string(config_.decoder_input_channels) +
                            ", T] with B, T >= 1");
  }
  const std::int64_t batch = latents.dim(0), frames = latents.dim(2);

  ACEFIT_ASSIGN(Tensor h, apply_conv(ctx, latents, conv1_, (kKernel - 1) / 2));
  for (const Block& block : blocks_) {
    ACEFIT_ASSIGN(h, apply_snake(ctx, h, block.snake1));
    ACEFIT_ASSIGN(h, ops::conv_transpose1d(ctx, h, block.conv_t1.weight, block.conv_t1.bias,
                                           block.stride, (block.stride + 1) / 2));
    for (const ResUnit& unit : block.res_units) {
      ACEFIT_ASSIGN(h, apply_res_unit(ctx, std::move(h), unit));
    }
  }
  ACEFIT_ASSIGN(h, apply_snake(ctx, h, snake_));
  ACEFIT_ASSIGN(h, apply_conv(ctx, h, conv2_, (kKernel - 1) / 2));
  if (h.shape() != Shape{batch, config_.audio_channels, frames * hop()}) {
    return internal_error("oobleck decoder: output " + h.describe() + " for latents " +
                          latents.describe() + " is not [B, " +
                          std::to_string(config_.audio_channels) + ", " + std::to_string(hop()) +
                          " T]");
  }
  return h;
}

}  // namespace acefit::models
