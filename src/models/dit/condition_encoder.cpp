#include "models/dit/condition_encoder.h"

#include "ops/layout.h"

namespace acefit::models {

namespace {

Status condition_bad_input(const std::string& what) {
  return Status(ErrorCode::invalid_argument, "condition encoder: " + what);
}

Status check_lengths(const char* name, const std::vector<std::int64_t>& lengths, std::int64_t batch,
                     std::int64_t max_length) {
  if (static_cast<std::int64_t>(lengths.size()) != batch)
    return condition_bad_input(std::string(name) + " has " + std::to_string(lengths.size()) +
                               " entries for a batch of " + std::to_string(batch));
  for (const std::int64_t n : lengths) {
    if (n < 0 || n > max_length)
      return condition_bad_input(std::string(name) + " value " + std::to_string(n) +
                                 " is outside [0, " + std::to_string(max_length) + "]");
  }
  return {};
}

}  // namespace

Expected<ConditionEncoder> ConditionEncoder::load(const WeightLoader& loader,
                                                  const ops::OpContext& ctx,
                                                  const DitConfig& config, DType matrix_dtype) {
  ConditionEncoder encoder;
  // The encoder's own dims (the XL models' are narrower than the decoder's).
  encoder.config_ = config.encoder_config();
  const DitConfig& c = encoder.config_;
  ACEFIT_ASSIGN(encoder.text_projector_,
                load_linear(loader, ctx, "encoder.text_projector.weight",
                            {c.hidden_size, c.text_hidden_dim}, matrix_dtype));
  ACEFIT_ASSIGN(encoder.lyric_encoder_,
                EncoderStack::load(loader, ctx, "encoder.lyric_encoder.", c, c.text_hidden_dim,
                                   c.num_lyric_encoder_hidden_layers, matrix_dtype));
  ACEFIT_ASSIGN(encoder.timbre_encoder_,
                EncoderStack::load(loader, ctx, "encoder.timbre_encoder.", c, c.timbre_hidden_dim,
                                   c.num_timbre_encoder_hidden_layers, matrix_dtype));
  // The 2B models leave the timbre special token unused (7.3); the XL
  // models prepend it and read the stack's output there (18.5).
  if (c.xl_layout()) {
    ACEFIT_ASSIGN(Tensor token, loader.load(ctx.device, "encoder.timbre_encoder.special_token",
                                            {1, 1, c.hidden_size}, DType::f32));
    encoder.timbre_token_ = std::move(token);
  }
  return encoder;
}

void ConditionEncoder::collect_weights(std::vector<Tensor*>& out) {
  text_projector_.collect(out);
  lyric_encoder_.collect_weights(out);
  timbre_encoder_.collect_weights(out);
  if (timbre_token_) out.push_back(&*timbre_token_);
}

Expected<EncoderStates> ConditionEncoder::encode(const ops::OpContext& ctx,
                                                 const ConditionInputs& in) const {
  const Tensor& text = in.text_hidden;
  const Tensor& lyric = in.lyric_embeddings;
  const Tensor& timbre = in.timbre_latents;
  if (text.rank() != 3 || lyric.rank() != 3 || timbre.rank() != 3)
    return condition_bad_input("text, lyric and timbre inputs must be [B, L, C]");
  const std::int64_t batch = text.dim(0);
  if (lyric.dim(0) != batch || timbre.dim(0) != batch)
    return condition_bad_input("text " + text.describe() + ", lyric " + lyric.describe() +
                               " and timbre " + timbre.describe() + " disagree on the batch size");
  if (text.dim(2) != config_.text_hidden_dim || lyric.dim(2) != config_.text_hidden_dim)
    return condition_bad_input("text and lyric states must have " +
                               std::to_string(config_.text_hidden_dim) + " channels");
  if (timbre.dim(2) != config_.timbre_hidden_dim || timbre.dim(1) < 1)
    return condition_bad_input("timbre latents " + timbre.describe() +
                               " must be [B, frames >= 1, " +
                               std::to_string(config_.timbre_hidden_dim) + "]");
  ACEFIT_TRY(check_lengths("text_lengths", in.text_lengths, batch, text.dim(1)));
  ACEFIT_TRY(check_lengths("lyric_lengths", in.lyric_lengths, batch, lyric.dim(1)));

  EncoderStates out;
  ACEFIT_ASSIGN(out.text_projected, apply_linear(ctx, text, text_projector_));
  {
    ACEFIT_ASSIGN(Tensor embedded, lyric_encoder_.embed(ctx, lyric));
    ACEFIT_ASSIGN(out.lyric_encoded, lyric_encoder_.encode(ctx, embedded, in.lyric_lengths));
  }
  {
    ACEFIT_ASSIGN(Tensor embedded, timbre_encoder_.embed(ctx, timbre));
    if (timbre_token_) {
      // XL: [token, frames...] per item; every position is valid.
      const std::vector<Tensor> tokens(static_cast<std::size_t>(batch), *timbre_token_);
      ACEFIT_ASSIGN(Tensor prefix, ops::concat(ctx, tokens, 0));
      ACEFIT_ASSIGN(embedded, ops::concat(ctx, {prefix, embedded}, 1));
    }
    ACEFIT_ASSIGN(Tensor encoded, timbre_encoder_.encode(ctx, embedded));
    // Position 0: the first frame (2B) or the special token (XL).
    ACEFIT_ASSIGN(out.timbre_encoded, ops::slice(ctx, encoded, 1, 0, 1));
  }
  const std::vector<std::int64_t> one(static_cast<std::size_t>(batch), 1);
  ACEFIT_ASSIGN(out.states,
                pack_right_padded(ctx, {out.lyric_encoded, out.timbre_encoded, out.text_projected},
                                  {in.lyric_lengths, one, in.text_lengths}));
  out.lengths.resize(static_cast<std::size_t>(batch));
  for (std::size_t b = 0; b < out.lengths.size(); ++b)
    out.lengths[b] = in.lyric_lengths[b] + 1 + in.text_lengths[b];
  return out;
}

Expected<Tensor> pack_right_padded(const ops::OpContext& ctx, const std::vector<Tensor>& parts,
                                   const std::vector<std::vector<std::int64_t>>& lengths) {
  if (parts.empty() || parts.size() != lengths.size())
    return condition_bad_input("pack needs one length list per part");
  const std::int64_t batch = parts[0].dim(0);
  std::vector<Tensor> rows;
  for (std::int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> pieces;
    for (const bool valid : {true, false}) {
      for (std::size_t i = 0; i < parts.size(); ++i) {
        ACEFIT_ASSIGN(Tensor row, parts[i].narrow(0, b, 1));
        const std::int64_t n = lengths[i][static_cast<std::size_t>(b)];
        const std::int64_t start = valid ? 0 : n;
        const std::int64_t end = valid ? n : parts[i].dim(1);
        if (end <= start) continue;
        ACEFIT_ASSIGN(Tensor piece, row.narrow(1, start, end - start));
        pieces.push_back(std::move(piece));
      }
    }
    ACEFIT_ASSIGN(Tensor packed, ops::concat(ctx, pieces, 1));
    rows.push_back(std::move(packed));
  }
  return ops::concat(ctx, rows, 0);
}

}  // namespace acefit::models
