// The Oobleck VAE decoder (diffusers AutoencoderOobleck, acestep-model.md
// 13.3): latents [B, 64, T] -> audio [B, 2, 1920 T]. Weight normalisation is
// folded once at load (13.2), so only the effective weights stay resident.
// The snake parameters stay in log scale; the snake op exponentiates them.
// Every op runs on the device the weights were loaded onto; on a planning
// device the same graph reserves its memory and no kernel runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "device/device.h"
#include "io/checkpoint/model_config.h"
#include "ops/op_context.h"

namespace acefit::models {

class OobleckDecoder {
 public:
  // One weight-normalised convolution after folding.
  struct Conv {
    Tensor weight;  // Conv1d [Cout, Cin, K]; ConvTranspose1d [Cin, Cout, K]
    Tensor bias;    // [Cout], or undefined
  };
  // A snake activation's log-scale parameters, each [C].
  struct Snake {
    Tensor alpha;
    Tensor beta;
  };
  // y = x + conv2(snake2(conv1(snake1(x)))), conv1 k7 dilated, conv2 k1.
  struct ResUnit {
    std::int64_t dilation = 1;
    Snake snake1;
    Conv conv1;
    Snake snake2;
    Conv conv2;
  };
  // snake1 -> conv_t1 (kernel 2s, stride s, padding ceil(s/2)) -> 3 res units.
  struct Block {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::int64_t stride = 1;
    Snake snake1;
    Conv conv_t1;
    ResUnit res_units[3];
  };

  // Reads <vae_dir>/config.json and the decoder.* tensors (each shape checked
  // against the config), folds weight_g / weight_v into f32 weights on
  // `device` and drops the rest. `pool` runs the folding kernels; null uses a
  // single-threaded pool.
  static Expected<OobleckDecoder> load(const std::string& vae_dir, Device& device,
                                       ThreadPool* pool = nullptr);

  // The decoder's weights for `config` reserved on a planning device without
  // reading any file: for planning memory before a checkpoint is present.
  // invalid_argument on a device that is not a planning device.
  static Expected<OobleckDecoder> plan(const VaeConfig& config, Device& planning_device);

  const VaeConfig& config() const { return config_; }
  Device& device() const { return *device_; }
  // Output samples per latent frame (the product of the ratios, 1920).
  std::int64_t hop() const { return config_.hop_samples(); }
  // Bytes the folded weights hold on the device (tensor sizes, before the
  // budget rounds each reservation up to its granularity).
  std::uint64_t weight_bytes() const;

  // The same decoder with every folded weight copied onto `device` (weights
  // tag; host <-> device copies are counted by the device): for keeping the
  // VAE on the host between runs and for decoding on the host when the
  // device is full. On `device` itself the copy shares the weights. Works
  // between planning devices (nothing is copied, the reservations are made).
  // Nothing stays reserved on `device` when it fails.
  Expected<OobleckDecoder> copy_to(Device& device) const;

  // Every weight tensor, in checkpoint order (the convention of
  // models/weight_copy.h).
  void collect_weights(std::vector<Tensor*>& out);

  // latents f32 [B, decoder_input_channels, T] on ctx.device (the device the
  // weights live on) -> audio f32 [B, audio_channels, hop * T]. Intermediates
  // are released as soon as the next stage no longer needs them.
  Expected<Tensor> decode(const ops::OpContext& ctx, const Tensor& latents) const;

 private:
  OobleckDecoder() = default;
  static Status check_config(const VaeConfig& config);

  VaeConfig config_;
  Device* device_ = nullptr;
  Conv conv1_;
  std::vector<Block> blocks_;
  Snake snake_;
  Conv conv2_;
};

}  // namespace acefit::models
