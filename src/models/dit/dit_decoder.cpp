#include "models/dit/dit_decoder.h"

#include <algorithm>
#include <cmath>

#include "models/host_tensor.h"
#include "models/weight_copy.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "ops/linear.h"
#include "ops/modulation.h"
#include "ops/norm.h"

namespace acefit::models {

namespace {

constexpr std::int64_t kSinusoidWidth = 256;  // cos and sin of 128 frequencies

Status dit_bad_input(const std::string& what) {
  return Status(ErrorCode::invalid_argument, "DiT: " + what);
}

Expected<TimestepEmbedderWeights> load_timestep_embedder(const WeightLoader& loader,
                                                         const ops::OpContext& ctx,
                                                         const std::string& p, std::int64_t h,
                                                         DType dtype) {
  Device& device = ctx.device;
  TimestepEmbedderWeights w;
  ACEFIT_ASSIGN(w.linear_1,
                load_linear(loader, ctx, p + "linear_1.weight", {h, kSinusoidWidth}, dtype));
  ACEFIT_ASSIGN(w.linear_1_bias, load_vector(loader, device, p + "linear_1.bias", h));
  ACEFIT_ASSIGN(w.linear_2, load_linear(loader, ctx, p + "linear_2.weight", {h, h}, dtype));
  ACEFIT_ASSIGN(w.linear_2_bias, load_vector(loader, device, p + "linear_2.bias", h));
  ACEFIT_ASSIGN(w.time_proj, load_linear(loader, ctx, p + "time_proj.weight", {6 * h, h}, dtype));
  ACEFIT_ASSIGN(w.time_proj_bias, load_vector(loader, device, p + "time_proj.bias", 6 * h));
  return w;
}

// A [1, rows, H] table stored in the checkpoint, as f32 [rows, H].
Expected<Tensor> load_table(const WeightLoader& loader, Device& device, const std::string& name,
                            std::int64_t rows, std::int64_t h) {
  ACEFIT_ASSIGN(Tensor table, loader.load(device, name, {1, rows, h}, DType::f32));
  return table.reshape(Shape{rows, h});
}

// Element k along axis 1 of m [B, 6, H], as [B, 1, H] (the modulation ops
// take this shape as is).
Expected<Tensor> chunk(const ops::OpContext& ctx, const Tensor& m, std::int64_t k) {
  return ops::slice(ctx, m, 1, k, k + 1);
}

}  // namespace

std::vector<float> timestep_sinusoid(float tau) {
  const std::int64_t half = kSinusoidWidth / 2;
  std::vector<float> e(static_cast<std::size_t>(kSinusoidWidth));
  const float s = 1000.0f * tau;
  for (std::int64_t k = 0; k < half; ++k) {
    const float f =
        std::exp(-std::log(10000.0f) * static_cast<float>(k) / static_cast<float>(half));
    const float angle = s * f;
    e[static_cast<std::size_t>(k)] = std::cos(angle);
    e[static_cast<std::size_t>(k + half)] = std::sin(angle);
  }
  return e;
}

Expected<DitDecoder> DitDecoder::load(const WeightLoader& loader, const ops::OpContext& load_ctx,
                                      const DitConfig& config, DType dtype) {
  DitDecoder dit;
  dit.config_ = config;
  dit.geometry_ = dit_geometry(config);
  const std::int64_t h = config.hidden_size;
  const std::int64_t p = config.patch_size;
  const std::int64_t latent = config.audio_acoustic_hidden_dim;
  if (config.in_channels != 3 * latent)
    return Status(ErrorCode::corrupt, loader.folder() + ": in_channels " +
                                          std::to_string(config.in_channels) + " is not 3 x " +
                                          std::to_string(latent) + " (context, mask, latent)");
  Device& dev = load_ctx.device;
  const ops::OpContext ctx{dev, load_ctx.pool, MemoryTag::weights};
  ACEFIT_ASSIGN(dit.time_embed_,
                load_timestep_embedder(loader, ctx, "decoder.time_embed.", h, dtype));
  ACEFIT_ASSIGN(dit.time_embed_r_,
                load_timestep_embedder(loader, ctx, "decoder.time_embed_r.", h, dtype));
  {
    // Conv1d(in -> H, kernel p, stride p) as a linear over [p * in] per patch.
    ACEFIT_ASSIGN(Tensor conv, loader.load(dev, "decoder.proj_in.1.weight",
                                           {h, config.in_channels, p}, DType::f32));
    ACEFIT_ASSIGN(Tensor permuted, ops::transpose(ctx, conv, 1, 2));  // [H, p, in]
    ACEFIT_ASSIGN(dit.proj_in_, permuted.reshape(Shape{h, p * config.in_channels}));
    ACEFIT_ASSIGN(dit.proj_in_bias_, load_vector(loader, dev, "decoder.proj_in.1.bias", h));
  }
  ACEFIT_ASSIGN(dit.condition_embedder_,
                load_linear(loader, ctx, "decoder.condition_embedder.weight",
                            {h, config.encoder_width()}, dtype));
  ACEFIT_ASSIGN(dit.condition_embedder_bias_,
                load_vector(loader, dev, "decoder.condition_embedder.bias", h));
  for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string prefix = "decoder.layers." + std::to_string(i) + ".";
    DitLayerWeights layer;
    ACEFIT_ASSIGN(layer.self_attn_norm,
                  load_vector(loader, dev, prefix + "self_attn_norm.weight", h));
    ACEFIT_ASSIGN(layer.cross_attn_norm,
                  load_vector(loader, dev, prefix + "cross_attn_norm.weight", h));
    ACEFIT_ASSIGN(layer.mlp_norm, load_vector(loader, dev, prefix + "mlp_norm.weight", h));
    ACEFIT_ASSIGN(layer.self_attn,
                  load_attention(loader, ctx, prefix + "self_attn.", dit.geometry_, dtype));
    ACEFIT_ASSIGN(layer.cross_attn,
                  load_attention(loader, ctx, prefix + "cross_attn.", dit.geometry_, dtype));
    ACEFIT_ASSIGN(layer.mlp,
                  load_mlp(loader, ctx, prefix + "mlp.", h, config.intermediate_size, dtype));
    ACEFIT_ASSIGN(layer.scale_shift_table,
                  load_table(loader, dev, prefix + "scale_shift_table", 6, h));
    dit.layers_.push_back(std::move(layer));
  }
  ACEFIT_ASSIGN(dit.norm_out_, load_vector(loader, dev, "decoder.norm_out.weight", h));
  ACEFIT_ASSIGN(dit.output_table_, load_table(loader, dev, "decoder.scale_shift_table", 2, h));
  {
    // ConvTranspose1d(H -> 64, kernel p, stride p) as a linear H -> [p * 64]
    // whose output reshapes to p consecutive frames.
    ACEFIT_ASSIGN(Tensor conv,
                  loader.load(dev, "decoder.proj_out.1.weight", {h, latent, p}, DType::f32));
    ACEFIT_ASSIGN(Tensor permuted, ops::transpose(ctx, conv, 1, 2));  // [H, p, 64]
    ACEFIT_ASSIGN(Tensor flat, permuted.reshape(Shape{h, p * latent}));
    ACEFIT_ASSIGN(dit.proj_out_, ops::transpose(ctx, flat, 0, 1));  // [p * 64, H]
    ACEFIT_ASSIGN(Tensor bias, load_vector(loader, dev, "decoder.proj_out.1.bias", latent));
    ACEFIT_ASSIGN(dit.proj_out_bias_,
                  ops::concat(ctx, std::vector<Tensor>(static_cast<std::size_t>(p), bias), 0));
  }
  // null_condition_emb stands in for encoder states: encoder width.
  ACEFIT_ASSIGN(dit.null_condition_,
                loader.load(dev, "null_condition_emb", {1, 1, config.encoder_width()}));
  return dit;
}

void collect_weights(TimestepEmbedderWeights& w, std::vector<Tensor*>& out) {
  w.linear_1.collect(out);
  out.push_back(&w.linear_1_bias);
  w.linear_2.collect(out);
  out.push_back(&w.linear_2_bias);
  w.time_proj.collect(out);
  out.push_back(&w.time_proj_bias);
}

void collect_weights(DitLayerWeights& w, std::vector<Tensor*>& out) {
  out.push_back(&w.self_attn_norm);
  out.push_back(&w.cross_attn_norm);
  out.push_back(&w.mlp_norm);
  collect_weights(w.self_attn, out);
  collect_weights(w.cross_attn, out);
  collect_weights(w.mlp, out);
  out.push_back(&w.scale_shift_table);
}

void DitDecoder::collect_weights(std::vector<Tensor*>& out, bool with_layers) {
  models::collect_weights(time_embed_, out);
  models::collect_weights(time_embed_r_, out);
  out.push_back(&proj_in_);
  out.push_back(&proj_in_bias_);
  condition_embedder_.collect(out);
  out.push_back(&condition_embedder_bias_);
  if (with_layers) {
    for (DitLayerWeights& layer : layers_) models::collect_weights(layer, out);
  }
  out.push_back(&norm_out_);
  out.push_back(&output_table_);
  out.push_back(&proj_out_);
  out.push_back(&proj_out_bias_);
  out.push_back(&null_condition_);
}

void DitDecoder::collect_layer_weights(std::size_t layer, std::vector<Tensor*>& out) {
  models::collect_weights(layers_.at(layer), out);
}

Expected<DitDecoder> DitDecoder::copy_to(Device& device, bool with_layers) const {
  DitDecoder copy = *this;
  std::vector<Tensor*> tensors;
  copy.collect_weights(tensors, with_layers);
  ACEFIT_TRY(copy_tensors_to(tensors, device));
  return copy;
}

Expected<std::vector<DitLayerWeights>> DitDecoder::layers_on(Device& device, std::size_t begin,
                                                             std::size_t end) const {
  std::vector<DitLayerWeights> window(layers_.begin() + static_cast<std::ptrdiff_t>(begin),
                                      layers_.begin() + static_cast<std::ptrdiff_t>(end));
  std::vector<Tensor*> tensors;
  for (DitLayerWeights& layer : window) models::collect_weights(layer, tensors);
  ACEFIT_TRY(copy_tensors_to(tensors, device));
  return window;
}

Expected<Tensor> DitDecoder::null_condition(const ops::OpContext& ctx, std::int64_t batch,
                                            std::int64_t length) const {
  if (batch < 1 || length < 1) return dit_bad_input("null condition needs batch and length >= 1");
  const std::int64_t width = config_.encoder_width();
  ACEFIT_ASSIGN(Tensor row, null_condition_.reshape(Shape{1, width}));
  ACEFIT_ASSIGN(Tensor rows,
                ops::concat(ctx, std::vector<Tensor>(static_cast<std::size_t>(length), row), 0));
  ACEFIT_ASSIGN(Tensor one, rows.reshape(Shape{1, length, width}));
  return ops::concat(ctx, std::vector<Tensor>(static_cast<std::size_t>(batch), one), 0);
}

Expected<DitCrossCache> DitDecoder::prepare(const ops::OpContext& ctx,
                                            const Tensor& encoder_states) const {
  if (encoder_states.rank() != 3 || encoder_states.dim(2) != config_.encoder_width() ||
      encoder_states.dim(1) < 1)
    return dit_bad_input("encoder states " + encoder_states.describe() + " must be [B, L >= 1, " +
                         std::to_string(config_.encoder_width()) + "]");
  DitCrossCache cache;
  cache.batch = encoder_states.dim(0);
  ACEFIT_ASSIGN(Tensor embedded,
                apply_linear(ctx, encoder_states, condition_embedder_, condition_embedder_bias_));
  const AttentionGeometry& g = geometry_;
  const auto window = static_cast<std::size_t>(stream_window_);
  for (std::size_t begin = 0; begin < layers_.size(); begin += window) {
    const std::size_t end = std::min(layers_.size(), begin + window);
    // Only the cross-attention keys and values are needed here: a streamed
    // window copies just those.
    std::vector<AttentionWeights> kv(end - begin);
    std::vector<Tensor*> tensors;
    for (std::size_t i = begin; i < end; ++i) {
      AttentionWeights& w = kv[i - begin];
      w.k_proj = layers_[i].cross_attn.k_proj;
      w.v_proj = layers_[i].cross_attn.v_proj;
      w.k_norm = layers_[i].cross_attn.k_norm;
      w.k_proj.collect(tensors);
      w.v_proj.collect(tensors);
      tensors.push_back(&w.k_norm);
    }
    ACEFIT_TRY(copy_tensors_to(tensors, ctx.device));
    for (const AttentionWeights& w : kv) {
      ACEFIT_ASSIGN(Tensor k, project_heads(ctx, embedded, w.k_proj, w.k_norm, g.kv_heads,
                                            g.head_dim, g.rms_eps));
      ACEFIT_ASSIGN(Tensor v, project_heads(ctx, embedded, w.v_proj, Tensor(), g.kv_heads,
                                            g.head_dim, g.rms_eps));
      cache.keys.push_back(std::move(k));
      cache.values.push_back(std::move(v));
    }
  }
  return cache;
}

Expected<std::pair<Tensor, Tensor>> DitDecoder::embed_timesteps(
    const ops::OpContext& ctx, const TimestepEmbedderWeights& w,
    const std::vector<float>& taus) const {
  const auto batch = static_cast<std::int64_t>(taus.size());
  std::vector<float> sinusoids;
  for (const float tau : taus) {
    const std::vector<float> e = timestep_sinusoid(tau);
    sinusoids.insert(sinusoids.end(), e.begin(), e.end());
  }
  ACEFIT_ASSIGN(Tensor e, tensor_from_host(ctx.device, Shape{batch, kSinusoidWidth}, sinusoids));
  ACEFIT_ASSIGN(Tensor hidden, apply_linear(ctx, e, w.linear_1, w.linear_1_bias));
  ACEFIT_ASSIGN(hidden, ops::silu(ctx, hidden));
  ACEFIT_ASSIGN(Tensor temb, apply_linear(ctx, hidden, w.linear_2, w.linear_2_bias));
  ACEFIT_ASSIGN(Tensor activated, ops::silu(ctx, temb));
  ACEFIT_ASSIGN(Tensor proj, apply_linear(ctx, activated, w.time_proj, w.time_proj_bias));
  ACEFIT_ASSIGN(Tensor proj3, proj.reshape(Shape{batch, 6, config_.hidden_size}));
  return std::pair<Tensor, Tensor>{std::move(temb), std::move(proj3)};
}

Expected<Tensor> DitDecoder::forward_layer(const ops::OpContext& ctx, const DitLayerWeights& layer,
                                           std::size_t i, Tensor x, const Tensor& tproj,
                                           const DitCrossCache& cache) const {
  const AttentionGeometry& g = geometry_;
  const std::int64_t batch = x.dim(0), patches = x.dim(1);
  ACEFIT_ASSIGN(Tensor m, ops::add(ctx, tproj, layer.scale_shift_table));  // [B, 6, H]
  ACEFIT_ASSIGN(Tensor shift_sa, chunk(ctx, m, 0));
  ACEFIT_ASSIGN(Tensor scale_sa, chunk(ctx, m, 1));
  ACEFIT_ASSIGN(Tensor gate_sa, chunk(ctx, m, 2));
  ACEFIT_ASSIGN(Tensor shift_ff, chunk(ctx, m, 3));
  ACEFIT_ASSIGN(Tensor scale_ff, chunk(ctx, m, 4));
  ACEFIT_ASSIGN(Tensor gate_ff, chunk(ctx, m, 5));
  {
    ACEFIT_ASSIGN(Tensor normed, ops::rms_norm(ctx, x, layer.self_attn_norm, g.rms_eps));
    ACEFIT_ASSIGN(Tensor modulated, ops::modulate(ctx, normed, shift_sa, scale_sa));
    normed = Tensor();
    const bool sliding =
        config_.use_sliding_window && config_.sliding_layer(static_cast<std::int64_t>(i));
    ACEFIT_ASSIGN(Tensor attended,
                  self_attention(ctx, layer.self_attn, g, modulated,
                                 layer_attention_options(false, sliding, config_.sliding_window)));
    ACEFIT_ASSIGN(x, ops::gated_add(ctx, x, attended, gate_sa));
  }
  {
    ACEFIT_ASSIGN(Tensor normed, ops::rms_norm(ctx, x, layer.cross_attn_norm, g.rms_eps));
    ACEFIT_ASSIGN(Tensor q,
                  project_heads(ctx, normed, layer.cross_attn.q_proj, layer.cross_attn.q_norm,
                                g.q_heads, g.head_dim, g.rms_eps));
    normed = Tensor();
    ACEFIT_ASSIGN(Tensor attended, ops::attention(ctx, q, cache.keys[i], cache.values[i]));
    q = Tensor();
    ACEFIT_ASSIGN(Tensor merged, attended.reshape(Shape{batch, patches, g.q_heads * g.head_dim}));
    ACEFIT_ASSIGN(Tensor projected, apply_linear(ctx, merged, layer.cross_attn.o_proj));
    ACEFIT_ASSIGN(x, ops::add(ctx, x, projected));
  }
  {
    ACEFIT_ASSIGN(Tensor normed, ops::rms_norm(ctx, x, layer.mlp_norm, g.rms_eps));
    ACEFIT_ASSIGN(Tensor modulated, ops::modulate(ctx, normed, shift_ff, scale_ff));
    normed = Tensor();
    ACEFIT_ASSIGN(Tensor update, mlp(ctx, layer.mlp, modulated));
    ACEFIT_ASSIGN(x, ops::gated_add(ctx, x, update, gate_ff));
  }
  return x;
}

Expected<Tensor> DitDecoder::forward(const ops::OpContext& ctx, const Tensor& x_t,
                                     const Tensor& context, const std::vector<float>& t,
                                     const std::vector<float>& r,
                                     const DitCrossCache& cache) const {
  const std::int64_t latent = config_.audio_acoustic_hidden_dim;
  const std::int64_t h = config_.hidden_size;
  const std::int64_t p = config_.patch_size;
  if (x_t.rank() != 3 || x_t.dim(2) != latent || x_t.dim(1) < 1)
    return dit_bad_input("x_t " + x_t.describe() + " must be [B, T >= 1, " +
                         std::to_string(latent) + "]");
  const std::int64_t batch = x_t.dim(0), frames = x_t.dim(1);
  if (context.rank() != 3 || context.dim(0) != batch || context.dim(1) != frames ||
      context.dim(2) != config_.in_channels - latent)
    return dit_bad_input("context " + context.describe() + " does not match x_t " + x_t.describe());
  if (static_cast<std::int64_t>(t.size()) != batch || r.size() != t.size())
    return dit_bad_input("one t and one r per batch item are needed");
  if (cache.batch != batch || cache.keys.size() != layers_.size())
    return dit_bad_input("the cross-attention cache was prepared for another batch");

  // 1. Timestep embeddings of t and t - r, summed.
  std::vector<float> t_minus_r(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) t_minus_r[i] = t[i] - r[i];
  Tensor temb, tproj;
  {
    ACEFIT_ASSIGN(auto embedded_t, embed_timesteps(ctx, time_embed_, t));
    ACEFIT_ASSIGN(auto embedded_r, embed_timesteps(ctx, time_embed_r_, t_minus_r));
    ACEFIT_ASSIGN(temb, ops::add(ctx, embedded_t.first, embedded_r.first));
    ACEFIT_ASSIGN(tproj, ops::add(ctx, embedded_t.second, embedded_r.second));
  }

  // 2. Patching: [context | x_t], zero frames up to a multiple of p, conv.
  const std::int64_t padded = (frames + p - 1) / p * p;
  const std::int64_t patches = padded / p;
  Tensor x;
  {
    ACEFIT_ASSIGN(Tensor joined, ops::concat(ctx, {context, x_t}, 2));
    if (padded != frames) {
      ACEFIT_ASSIGN(joined, ops::pad(ctx, joined, 1, 0, padded - frames));
    }
    ACEFIT_ASSIGN(Tensor grouped, joined.reshape(Shape{batch, patches, p * config_.in_channels}));
    ACEFIT_ASSIGN(x, ops::linear(ctx, grouped, proj_in_, proj_in_bias_));
  }

  // 5. Layers, a window at a time when they live on another device.
  const auto window = static_cast<std::size_t>(stream_window_);
  for (std::size_t begin = 0; begin < layers_.size(); begin += window) {
    const std::size_t end = std::min(layers_.size(), begin + window);
    ACEFIT_ASSIGN(const std::vector<DitLayerWeights> resident, layers_on(ctx.device, begin, end));
    for (std::size_t i = begin; i < end; ++i) {
      ACEFIT_ASSIGN(x, forward_layer(ctx, resident[i - begin], i, std::move(x), tproj, cache));
    }
  }

  // 6. Output modulation: shift = table[0] + temb, scale = table[1] + temb.
  Tensor y;
  {
    ACEFIT_ASSIGN(Tensor shift_row, output_table_.narrow(0, 0, 1));
    ACEFIT_ASSIGN(Tensor scale_row, output_table_.narrow(0, 1, 1));
    ACEFIT_ASSIGN(Tensor shift_vec, shift_row.reshape(Shape{h}));
    ACEFIT_ASSIGN(Tensor scale_vec, scale_row.reshape(Shape{h}));
    ACEFIT_ASSIGN(Tensor shift, ops::add(ctx, temb, shift_vec));
    ACEFIT_ASSIGN(Tensor scale, ops::add(ctx, temb, scale_vec));
    ACEFIT_ASSIGN(Tensor normed, ops::rms_norm(ctx, x, norm_out_, geometry_.rms_eps));
    x = Tensor();
    ACEFIT_ASSIGN(y, ops::modulate(ctx, normed, shift, scale));
  }

  // 7-8. Un-patching and the crop to T.
  ACEFIT_ASSIGN(Tensor out, ops::linear(ctx, y, proj_out_, proj_out_bias_));
  ACEFIT_ASSIGN(Tensor frames_out, out.reshape(Shape{batch, padded, latent}));
  if (padded == frames) return frames_out;
  return ops::slice(ctx, frames_out, 1, 0, frames);
}

}  // namespace acefit::models
