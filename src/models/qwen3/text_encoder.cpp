#include "models/qwen3/text_encoder.h"

#include "models/weight_copy.h"

#include "ops/layout.h"
#include "ops/norm.h"

namespace acefit::models {

Expected<TextEncoder> TextEncoder::load(const std::string& dir, Device& device,
                                        DType matrix_dtype) {
  ACEFIT_ASSIGN(const Qwen3Config config, load_qwen3_config(dir));
  ACEFIT_ASSIGN(const WeightLoader loader, WeightLoader::open(dir));
  return load(loader, config, device, matrix_dtype);
}

Expected<TextEncoder> TextEncoder::load(const WeightLoader& loader, const Qwen3Config& config,
                                        Device& device, DType matrix_dtype) {
  if (matrix_dtype != DType::f32 && matrix_dtype != DType::bf16)
    return Status(ErrorCode::invalid_argument,
                  loader.folder() + ": the text encoder loads its matrices as f32 or bf16, not " +
                      std::string(dtype_name(matrix_dtype)) +
                      " (INT8 covers the DiT checkpoint only)");
  // f32 and bf16 loads never quantize, so the pool is never used.
  ThreadPool serial(1);
  const ops::OpContext ctx{device, serial, MemoryTag::weights};
  TextEncoder encoder;
  encoder.config_ = config;
  const Qwen3Config& c = encoder.config_;
  encoder.geometry_ = {c.hidden_size,
                       c.num_attention_heads,
                       c.num_key_value_heads,
                       c.head_dim,
                       static_cast<float>(c.rms_norm_eps),
                       static_cast<float>(c.rope_theta)};
  // Some Qwen3 exports keep the "model." prefix of the causal LM.
  const std::string prefix = loader.has("embed_tokens.weight") ? "" : "model.";
  ACEFIT_ASSIGN(encoder.embed_tokens_, loader.load(device, prefix + "embed_tokens.weight",
                                                   {c.vocab_size, c.hidden_size}, matrix_dtype));
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    ACEFIT_ASSIGN(Qwen3LayerWeights layer,
                  load_qwen3_layer(loader, ctx, prefix + "layers." + std::to_string(i) + ".",
                                   encoder.geometry_, c.intermediate_size, matrix_dtype));
    encoder.layers_.push_back(std::move(layer));
  }
  ACEFIT_ASSIGN(encoder.norm_, load_vector(loader, device, prefix + "norm.weight", c.hidden_size));
  return encoder;
}

void TextEncoder::collect_weights(std::vector<Tensor*>& out) {
  out.push_back(&embed_tokens_);
  for (Qwen3LayerWeights& layer : layers_) models::collect_weights(layer, out);
  out.push_back(&norm_);
}

Expected<Tensor> TextEncoder::embed(const ops::OpContext& ctx, const Tensor& ids) const {
  if (ids.rank() != 2)
    return Status(ErrorCode::invalid_argument,
                  "text encoder: ids must be [B, L], got " + ids.describe());
  Device& table_device = *embed_tokens_.device();
  if (&table_device == &ctx.device) return ops::embedding(ctx, embed_tokens_, ids);
  // The table stayed on the host (copy_to): gather the rows there and bring
  // only them to the compute device.
  const ops::OpContext table_ctx{table_device, ctx.pool, MemoryTag::io};
  ACEFIT_ASSIGN(const Tensor host_ids, copy_to_device(ids, table_device, MemoryTag::io));
  ACEFIT_ASSIGN(const Tensor rows, ops::embedding(table_ctx, embed_tokens_, host_ids));
  return copy_to_device(rows, ctx.device, ctx.output_tag);
}

Expected<TextEncoder> TextEncoder::copy_to(Device& device) const {
  TextEncoder copy = *this;
  std::vector<Tensor*> tensors;
  for (Qwen3LayerWeights& layer : copy.layers_) models::collect_weights(layer, tensors);
  tensors.push_back(&copy.norm_);
  ACEFIT_TRY(copy_tensors_to(tensors, device));
  return copy;
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
