#include "models/fsq/detokenizer.h"

#include "models/host_tensor.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "ops/linear.h"

namespace acefit::models {

Expected<std::vector<float>> fsq_code_values(std::int64_t code,
                                             const std::vector<std::int64_t>& levels) {
  std::int64_t size = 1;
  for (const std::int64_t level : levels) size *= level;
  if (code < 0 || code >= size)
    return Status(ErrorCode::invalid_argument, "audio code " + std::to_string(code) +
                                                   " is outside [0, " + std::to_string(size) + ")");
  std::vector<float> values;
  std::int64_t stride = 1;
  for (const std::int64_t level : levels) {
    const std::int64_t digit = (code / stride) % level;
    values.push_back(static_cast<float>(digit) * 2.0f / static_cast<float>(level - 1) - 1.0f);
    stride *= level;
  }
  return values;
}

Expected<Detokenizer> Detokenizer::load(const WeightLoader& loader, const ops::OpContext& ctx,
                                        const DitConfig& dit_config, DType matrix_dtype) {
  Device& device = ctx.device;
  const DType dtype = unquantized_dtype(matrix_dtype);
  Detokenizer d;
  // The encoder dims (18.5: the XL detokenizer is narrower than its DiT).
  d.config_ = dit_config.encoder_config();
  const DitConfig& config = d.config_;
  const std::int64_t h = config.hidden_size;
  const auto n_levels = static_cast<std::int64_t>(config.fsq_input_levels.size());
  ACEFIT_ASSIGN(d.project_out_, loader.load(device, "tokenizer.quantizer.project_out.weight",
                                            {config.fsq_dim, n_levels}, DType::f32));
  ACEFIT_ASSIGN(
      d.project_out_bias_,
      load_vector(loader, device, "tokenizer.quantizer.project_out.bias", config.fsq_dim));
  ACEFIT_ASSIGN(d.stack_, EncoderStack::load(loader, ctx, "detokenizer.", config, config.fsq_dim,
                                             config.num_attention_pooler_hidden_layers, dtype));
  ACEFIT_ASSIGN(Tensor special, loader.load(device, "detokenizer.special_tokens",
                                            {1, config.pool_window_size, h}, DType::f32));
  ACEFIT_ASSIGN(d.special_tokens_, special.reshape(Shape{config.pool_window_size, h}));
  ACEFIT_ASSIGN(d.proj_out_, loader.load(device, "detokenizer.proj_out.weight",
                                         {config.audio_acoustic_hidden_dim, h}, dtype));
  ACEFIT_ASSIGN(d.proj_out_bias_, load_vector(loader, device, "detokenizer.proj_out.bias",
                                              config.audio_acoustic_hidden_dim));
  return d;
}

void Detokenizer::collect_weights(std::vector<Tensor*>& out) {
  out.push_back(&project_out_);
  out.push_back(&project_out_bias_);
  stack_.collect_weights(out);
  out.push_back(&special_tokens_);
  out.push_back(&proj_out_);
  out.push_back(&proj_out_bias_);
}

Expected<Tensor> Detokenizer::dequantize(const ops::OpContext& ctx,
                                         std::span<const std::int64_t> codes) const {
  if (codes.empty()) return Status(ErrorCode::invalid_argument, "detokenizer: no audio codes");
  const auto n_levels = static_cast<std::int64_t>(config_.fsq_input_levels.size());
  std::vector<float> values;
  values.reserve(codes.size() * static_cast<std::size_t>(n_levels));
  for (const std::int64_t code : codes) {
    ACEFIT_ASSIGN(const std::vector<float> v, fsq_code_values(code, config_.fsq_input_levels));
    values.insert(values.end(), v.begin(), v.end());
  }
  const auto n = static_cast<std::int64_t>(codes.size());
  ACEFIT_ASSIGN(Tensor v, tensor_from_host(ctx.device, Shape{1, n, n_levels}, values));
  return ops::linear(ctx, v, project_out_, project_out_bias_);
}

Expected<Tensor> Detokenizer::detokenize(const ops::OpContext& ctx, const Tensor& quantized) const {
  const std::int64_t h = config_.hidden_size;
  const std::int64_t pool = config_.pool_window_size;
  if (quantized.rank() != 3 || quantized.dim(2) != config_.fsq_dim)
    return Status(ErrorCode::invalid_argument, "detokenizer: quantized " + quantized.describe() +
                                                   " must be [B, N, " +
                                                   std::to_string(config_.fsq_dim) + "]");
  const std::int64_t batch = quantized.dim(0), n = quantized.dim(1);
  Tensor x;
  {
    ACEFIT_ASSIGN(Tensor embedded, stack_.embed(ctx, quantized));  // [B, N, H]
    ACEFIT_ASSIGN(Tensor column, embedded.reshape(Shape{batch * n, 1, h}));
    ACEFIT_ASSIGN(Tensor repeated,
                  ops::concat(ctx, std::vector<Tensor>(static_cast<std::size_t>(pool), column), 1));
    ACEFIT_ASSIGN(x, ops::add(ctx, repeated, special_tokens_));  // [B*N, pool, H]
  }
  ACEFIT_ASSIGN(Tensor encoded, stack_.encode(ctx, x));
  ACEFIT_ASSIGN(Tensor projected, ops::linear(ctx, encoded, proj_out_, proj_out_bias_));
  return projected.reshape(Shape{batch, n * pool, config_.audio_acoustic_hidden_dim});
}

}  // namespace acefit::models
