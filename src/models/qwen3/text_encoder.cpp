#include "models/qwen3/text_encoder.h"

#include "ops/layout.h"
#include "ops/norm.h"

namespace acefit::models {

Expected<TextEncoder> TextEncoder::load(const std::string& dir, Device& device,
                                        DType matrix_dtype) {
  TextEncoder encoder;
  ACEFIT_ASSIGN(encoder.config_, load_qwen3_config(dir));
  const Qwen3Config& c = encoder.config_;
  encoder.geometry_ = {c.hidden_size,
                       c.num_attention_heads,
                       c.num_key_value_heads,
                       c.head_dim,
                       static_cast<float>(c.rms_norm_eps),
                       static_cast<float>(c.rope_theta)};
  ACEFIT_ASSIGN(WeightLoader loader, WeightLoader::open(dir));
  // Some Qwen3 exports keep the "model." prefix of the causal LM.
  const std::string prefix = loader.has("embed_tokens.weight") ? "" : "model.";
  ACEFIT_ASSIGN(encoder.embed_tokens_, loader.load(device, prefix + "embed_tokens.weight",
                                                   {c.vocab_size, c.hidden_size}, matrix_dtype));
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    ACEFIT_ASSIGN(Qwen3LayerWeights layer,
                  load_qwen3_layer(loader, device, prefix + "layers." + std::to_string(i) + ".",
                                   encoder.geometry_, c.intermediate_size, matrix_dtype));
    encoder.layers_.push_back(std::move(layer));
  }
  ACEFIT_ASSIGN(encoder.norm_, load_vector(loader, device, prefix + "norm.weight", c.hidden_size));
  return encoder;
}

Expected<Tensor> TextEncoder::embed(const ops::OpContext& ctx, const Tensor& ids) const {
  if (ids.rank() != 2)
    return Status(ErrorCode::invalid_argument,
                  "text encoder: ids must be [B, L], got " + ids.describe());
  return ops::embedding(ctx, embed_tokens_, ids);
}

Expected<Tensor> TextEncoder::encode(const ops::OpContext& ctx, const Tensor& ids) const {
  ACEFIT_ASSIGN(Tensor x, embed(ctx, ids));
  const ops::AttentionOptions causal = layer_attention_options(true, false, 0);
  for (const Qwen3LayerWeights& layer : layers_) {
    ACEFIT_ASSIGN(x, qwen3_layer(ctx, layer, geometry_, x, causal));
  }
  return ops::rms_norm(ctx, x, norm_, geometry_.rms_eps);
}

}  // namespace acefit::models
