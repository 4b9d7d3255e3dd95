// Audio codes to 25 Hz latent hints (spec: acestep-model.md 8.1-8.3): the
// FSQ codebook (levels [8, 8, 8, 5, 5, 5], symmetric values
// q * 2 / (L - 1) - 1), the quantizer's project_out (Linear 6 -> H) and the
// detokenizer (embed, + the 5 learned position tokens, a 2-layer encoder
// over each code's 5 frames, final norm, Linear H -> 64).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "io/checkpoint/model_config.h"
#include "models/qwen3/encoder_stack.h"

namespace acefit::models {

// The FSQ values of `code` (digit d = (code / stride_d) mod L_d). Errors
// for a code outside [0, prod(levels)).
Expected<std::vector<float>> fsq_code_values(std::int64_t code,
                                             const std::vector<std::int64_t>& levels);

class Detokenizer {
 public:
  // Loads onto load_ctx.device. The FSQ tokenizer and the detokenizer are
  // never quantized (spec gpu-adaptation.md 7.1): matrix_dtype i8 loads
  // their matrices as bf16.
  static Expected<Detokenizer> load(const WeightLoader& loader, const ops::OpContext& load_ctx,
                                    const DitConfig& config, DType matrix_dtype);

  const DitConfig& config() const { return config_; }

  // Every weight tensor.
  void collect_weights(std::vector<Tensor*>& out);

  // codes (N) -> quantized [1, N, H] (project_out of the FSQ values).
  Expected<Tensor> dequantize(const ops::OpContext& ctx, std::span<const std::int64_t> codes) const;
  // quantized [B, N, H] -> hints [B, pool * N, 64].
  Expected<Tensor> detokenize(const ops::OpContext& ctx, const Tensor& quantized) const;

 private:
  DitConfig config_;
  Tensor project_out_, project_out_bias_;  // [H, n_levels], [H]
  EncoderStack stack_;                     // detokenizer.embed_tokens / layers / norm
  Tensor special_tokens_;                  // [pool, H]
  Tensor proj_out_, proj_out_bias_;        // [64, H], [64]
};

}  // namespace acefit::models
