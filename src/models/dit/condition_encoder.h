// The condition encoder of the DiT checkpoint (`encoder.*`, spec:
// acestep-model.md 7): the text projector, the lyric encoder over embedding
// rows, the timbre encoder over reference (or silence) latents, and the
// packing of the three into one sequence of encoder states.
//
// Masks are written as lengths: every sequence here is padded on the right
// (the tokenizer pads after the text), so "the first n positions are valid"
// is the whole mask. Packing with the reference's stable descending sort on
// such masks puts, per row: valid lyric, valid timbre, valid caption, then
// padded lyric, padded caption.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint/model_config.h"
#include "models/qwen3/encoder_stack.h"

namespace acefit::models {

struct ConditionInputs {
  Tensor text_hidden;                       // [B, Lt, text_hidden_dim] (text encoder output)
  std::vector<std::int64_t> text_lengths;   // valid caption tokens per item
  Tensor lyric_embeddings;                  // [B, Ll, text_hidden_dim] (embedding rows)
  std::vector<std::int64_t> lyric_lengths;  // valid lyric tokens per item
  Tensor timbre_latents;                    // [B, frames, 64]: one reference per item
};

struct EncoderStates {
  Tensor states;                      // [B, Ll + 1 + Lt, H], packed
  std::vector<std::int64_t> lengths;  // valid positions per item (packed first)
  // The parts before packing (golden tests compare them).
  Tensor text_projected, lyric_encoded, timbre_encoded;  // [B,Lt,H], [B,Ll,H], [B,1,H]
};

class ConditionEncoder {
 public:
  // Loads `encoder.*` onto load_ctx.device at the config's encoder dims
  // (DitConfig::encoder_config). matrix_dtype f32, bf16 or i8: with i8 every
  // Linear (text projector, the stacks' embed and projection matrices) is
  // quantized per output row on load_ctx (spec 7.1).
  static Expected<ConditionEncoder> load(const WeightLoader& loader, const ops::OpContext& load_ctx,
                                         const DitConfig& config, DType matrix_dtype);

  // The encoder-side config (encoder dims).
  const DitConfig& config() const { return config_; }

  // Every weight tensor (text projector, lyric and timbre stacks).
  void collect_weights(std::vector<Tensor*>& out);

  Expected<EncoderStates> encode(const ops::OpContext& ctx, const ConditionInputs& inputs) const;

 private:
  DitConfig config_;
  LinearWeight text_projector_;  // [H, text_hidden_dim], no bias
  EncoderStack lyric_encoder_;
  EncoderStack timbre_encoder_;
  std::optional<Tensor> timbre_token_;  // [1, 1, H]: XL only, prepended to the frames
};

// pack() of the reference for right-padded parts: per row, the valid
// positions of each part in order, then the padded positions of each part
// in order. parts[i] is [B, L_i, H] with lengths[i][b] valid positions.
Expected<Tensor> pack_right_padded(const ops::OpContext& ctx, const std::vector<Tensor>& parts,
                                   const std::vector<std::vector<std::int64_t>>& lengths);

}  // namespace acefit::models
