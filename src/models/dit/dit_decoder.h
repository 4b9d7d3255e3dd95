// The DiT decoder (`decoder.*` of the DiT checkpoint, spec: acestep-model.md
// 10): timestep embeddings of t and t - r, input patching (kernel-2 stride-2
// conv over [context | x_t]), the condition embedder, layers with per-layer
// modulation, self-attention alternating sliding window and full, cross-
// attention over the encoder states, SwiGLU MLP, output modulation and
// un-patching. No padding masks anywhere inside, as in the reference.
//
// Layer streaming: the layers may live on another device than the one a
// call computes on (copy_to(device, false) leaves them where they are, e.g.
// on the host). prepare() and forward() then copy them to ctx.device a
// window of stream_window() layers at a time and release each window
// before copying the next.
#pragma once
#include <cstdint>
#include <vector>

#include "io/checkpoint/model_config.h"
#include "models/qwen3/encoder_stack.h"

namespace acefit::models {

struct TimestepEmbedderWeights {
  LinearWeight linear_1, linear_2, time_proj;           // [H, 256], [H, H], [6H, H]
  Tensor linear_1_bias, linear_2_bias, time_proj_bias;  // [H], [H], [6H]
};

struct DitLayerWeights {
  Tensor self_attn_norm, cross_attn_norm, mlp_norm;  // [H]
  AttentionWeights self_attn, cross_attn;
  MlpWeights mlp;
  Tensor scale_shift_table;  // [6, H]: shift, scale, gate (attention), shift, scale, gate (MLP)
};

// What depends only on the encoder states: computed once per generation
// (and once more when the conditioning changes), reused by every step.
struct DitCrossCache {
  std::vector<Tensor> keys, values;  // per layer: [B, L, Hkv, D]
  std::int64_t batch = 0;
};

class DitDecoder {
 public:
  // Loads onto load_ctx.device (the weight re-layouts of proj_in/proj_out
  // and the INT8 quantization run there as ops). matrix_dtype f32, bf16 or
  // i8: with i8 every Linear of `decoder.*` is quantized per output row
  // (time embedders, condition embedder, attention and MLP projections);
  // proj_in/proj_out (convolutions), norms, tables and null_condition_emb
  // stay f32 whatever the dtype (spec gpu-adaptation.md 7.1).
  static Expected<DitDecoder> load(const WeightLoader& loader, const ops::OpContext& load_ctx,
                                   const DitConfig& config, DType matrix_dtype);

  const DitConfig& config() const { return config_; }
  std::size_t layer_count() const { return layers_.size(); }

  // Every weight tensor; with_layers false leaves out those of layers_.
  void collect_weights(std::vector<Tensor*>& out, bool with_layers = true);
  // The tensors of layer `layer` (< layer_count()).
  void collect_layer_weights(std::size_t layer, std::vector<Tensor*>& out);

  // A copy on `device`; with_layers false copies everything but the layers,
  // which keep sharing this decoder's tensors (layer streaming).
  Expected<DitDecoder> copy_to(Device& device, bool with_layers) const;

  // Layers brought to the compute device at a time when they live elsewhere
  // (values below 1 are taken as 1; at least the layer count: all at once).
  void set_stream_window(int layers) { stream_window_ = layers < 1 ? 1 : layers; }
  int stream_window() const { return stream_window_; }

  // encoder_states [B, L, H] (packed, before the condition embedder).
  Expected<DitCrossCache> prepare(const ops::OpContext& ctx, const Tensor& encoder_states) const;

  // One evaluation: x_t [B, T, 64], context [B, T, 128], t and r per item
  // -> velocity [B, T, 64].
  Expected<Tensor> forward(const ops::OpContext& ctx, const Tensor& x_t, const Tensor& context,
                           const std::vector<float>& t, const std::vector<float>& r,
                           const DitCrossCache& cache) const;

  // null_condition_emb [1, 1, He] broadcast to [B, L, He] (He: the encoder
  // width, encoder_hidden_size): the unconditional
  // encoder states of classifier-free guidance.
  Expected<Tensor> null_condition(const ops::OpContext& ctx, std::int64_t batch,
                                  std::int64_t length) const;

 private:
  // (temb [B, H], projection [B, 6, H]) of one timestep embedder.
  Expected<std::pair<Tensor, Tensor>> embed_timesteps(const ops::OpContext& ctx,
                                                      const TimestepEmbedderWeights& w,
                                                      const std::vector<float>& taus) const;
  // Layers [begin, end) with every tensor on `device`: shared where they
  // already are, copied (weights tag) where not.
  Expected<std::vector<DitLayerWeights>> layers_on(Device& device, std::size_t begin,
                                                   std::size_t end) const;
  // One layer on x [B, patches, H] with the modulation projection tproj.
  Expected<Tensor> forward_layer(const ops::OpContext& ctx, const DitLayerWeights& layer,
                                 std::size_t index, Tensor x, const Tensor& tproj,
                                 const DitCrossCache& cache) const;

  DitConfig config_;
  AttentionGeometry geometry_;
  TimestepEmbedderWeights time_embed_, time_embed_r_;
  Tensor proj_in_, proj_in_bias_;  // as a linear: [H, patch * in_channels], [H]
  LinearWeight condition_embedder_;
  Tensor condition_embedder_bias_;
  std::vector<DitLayerWeights> layers_;
  Tensor norm_out_;
  Tensor output_table_;              // [2, H]: shift, scale
  Tensor proj_out_, proj_out_bias_;  // as a linear: [patch * 64, H], [patch * 64]
  Tensor null_condition_;            // [1, 1, He]
  int stream_window_ = 1;
};

// Every tensor of one timestep embedder / one DiT layer.
void collect_weights(TimestepEmbedderWeights& w, std::vector<Tensor*>& out);
void collect_weights(DitLayerWeights& w, std::vector<Tensor*>& out);

// The 256-value sinusoid of 1000 * tau: cos of 128 frequencies then sin.
std::vector<float> timestep_sinusoid(float tau);

}  // namespace acefit::models
