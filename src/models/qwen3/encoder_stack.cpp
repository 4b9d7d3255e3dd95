#include "models/qwen3/encoder_stack.h"

#include "ops/norm.h"

namespace acefit::models {

AttentionGeometry dit_geometry(const DitConfig& c) {
  return {c.hidden_size,
          c.num_attention_heads,
          c.num_key_value_heads,
          c.head_dim,
          static_cast<float>(c.rms_norm_eps),
          static_cast<float>(c.rope_theta)};
}

Expected<EncoderStack> EncoderStack::load(const WeightLoader& loader, const ops::OpContext& ctx,
                                          const std::string& prefix, const DitConfig& config,
                                          std::int64_t in_features, std::int64_t layer_count,
                                          DType matrix_dtype) {
  EncoderStack stack;
  stack.geometry_ = dit_geometry(config);
  stack.window_ = config.sliding_window;
  const std::int64_t hidden = config.hidden_size;
  ACEFIT_ASSIGN(stack.embed_weight_, load_linear(loader, ctx, prefix + "embed_tokens.weight",
                                                 {hidden, in_features}, matrix_dtype));
  ACEFIT_ASSIGN(stack.embed_bias_,
                load_vector(loader, ctx.device, prefix + "embed_tokens.bias", hidden));
  for (std::int64_t j = 0; j < layer_count; ++j) {
    ACEFIT_ASSIGN(Qwen3LayerWeights layer,
                  load_qwen3_layer(loader, ctx, prefix + "layers." + std::to_string(j) + ".",
                                   stack.geometry_, config.intermediate_size, matrix_dtype));
    stack.layers_.push_back(std::move(layer));
    stack.sliding_.push_back(config.use_sliding_window && config.sliding_layer(j));
  }
  ACEFIT_ASSIGN(stack.norm_, load_vector(loader, ctx.device, prefix + "norm.weight", hidden));
  return stack;
}

void EncoderStack::collect_weights(std::vector<Tensor*>& out) {
  embed_weight_.collect(out);
  out.push_back(&embed_bias_);
  for (Qwen3LayerWeights& layer : layers_) models::collect_weights(layer, out);
  out.push_back(&norm_);
}

Expected<Tensor> EncoderStack::embed(const ops::OpContext& ctx, const Tensor& x) const {
  return apply_linear(ctx, x, embed_weight_, embed_bias_);
}

Expected<Tensor> EncoderStack::encode(const ops::OpContext& ctx, const Tensor& input,
                                      const std::vector<std::int64_t>& key_lengths) const {
  Tensor x = input;
  for (std::size_t j = 0; j < layers_.size(); ++j) {
    ops::AttentionOptions options = layer_attention_options(false, sliding_[j], window_);
    options.key_lengths = key_lengths;
    ACEFIT_ASSIGN(x, qwen3_layer(ctx, layers_[j], geometry_, x, options));
  }
  return ops::rms_norm(ctx, x, norm_, geometry_.rms_eps);
}

}  // namespace acefit::models
