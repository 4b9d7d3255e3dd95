#include "models/lm/causal_lm.h"

#include <algorithm>
#include <string>

#include "models/weight_copy.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "ops/linear.h"
#include "ops/norm.h"

namespace acefit::models::lm {

Expected<CausalLm> CausalLm::load(const std::string& dir, Device& device, DType matrix_dtype) {
  ACEFIT_ASSIGN(const Qwen3Config config, load_qwen3_config(dir));
  ACEFIT_ASSIGN(const WeightLoader loader, WeightLoader::open(dir));
  return load(loader, config, device, matrix_dtype);
}

Expected<CausalLm> CausalLm::load(const WeightLoader& loader, const Qwen3Config& config,
                                  Device& device, DType matrix_dtype) {
  if (matrix_dtype != DType::f32 && matrix_dtype != DType::bf16)
    return Status(ErrorCode::invalid_argument,
                  loader.folder() + ": the 5 Hz LM loads its matrices as f32 or bf16, not " +
                      std::string(dtype_name(matrix_dtype)) + " (it is never quantized)");
  // f32 and bf16 loads never quantize, so the pool is never used.
  ThreadPool serial(1);
  const ops::OpContext ctx{device, serial, MemoryTag::weights};
  CausalLm lm;
  lm.config_ = config;
  const Qwen3Config& c = lm.config_;
  lm.geometry_ = {c.hidden_size,
                  c.num_attention_heads,
                  c.num_key_value_heads,
                  c.head_dim,
                  static_cast<float>(c.rms_norm_eps),
                  static_cast<float>(c.rope_theta)};
  // The causal LM's export has the "model." prefix; a bare stack has none.
  const std::string prefix = loader.has("embed_tokens.weight") ? "" : "model.";
  ACEFIT_ASSIGN(lm.embed_tokens_, loader.load(device, prefix + "embed_tokens.weight",
                                              {c.vocab_size, c.hidden_size}, matrix_dtype));
  lm.layers_.reserve(static_cast<std::size_t>(c.num_hidden_layers));
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    ACEFIT_ASSIGN(Qwen3LayerWeights layer,
                  load_qwen3_layer(loader, ctx, prefix + "layers." + std::to_string(i) + ".",
                                   lm.geometry_, c.intermediate_size, matrix_dtype));
    lm.layers_.push_back(std::move(layer));
  }
  ACEFIT_ASSIGN(lm.norm_, load_vector(loader, device, prefix + "norm.weight", c.hidden_size));
  return lm;
}

void CausalLm::collect_weights(std::vector<Tensor*>& out) {
  out.push_back(&embed_tokens_);
  for (Qwen3LayerWeights& layer : layers_) models::collect_weights(layer, out);
  out.push_back(&norm_);
}

Expected<CausalLm> CausalLm::copy_to(Device& device) const {
  return copy_model_to(*this, device);
}

Status CausalLm::check_device(const ops::OpContext& ctx, std::string_view what) const {
  if (&device() != &ctx.device)
    return Status(ErrorCode::invalid_argument,
                  "5 Hz LM " + std::string(what) + ": the weights are on '" + device().name() +
                      "', the step runs on '" + ctx.device.name() + "' (copy_to first)");
  return {};
}

Status CausalLm::check_ids(std::span<const std::int32_t> ids) const {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size)
      return Status(ErrorCode::invalid_argument, "5 Hz LM: token id " + std::to_string(ids[i]) +
                                                     " at index " + std::to_string(i) +
                                                     " is outside the vocabulary [0, " +
                                                     std::to_string(config_.vocab_size) + ")");
  }
  return {};
}

Expected<Tensor> CausalLm::embed(const ops::OpContext& ctx, std::span<const std::int32_t> ids,
                                 std::int64_t batch, std::int64_t length) const {
  // The ids are on the host and already checked: each row is one copy on
  // the device (no upload of the ids, no read-back of a check), then one
  // widening to f32 for a bf16 table.
  const std::int64_t hidden = config_.hidden_size;
  const auto count = static_cast<std::int64_t>(ids.size());
  const std::size_t row_bytes =
      static_cast<std::size_t>(hidden) * dtype_size(embed_tokens_.dtype());
  ACEFIT_ASSIGN(Tensor rows,
                ctx.device.empty(embed_tokens_.dtype(), Shape{count, hidden}, ctx.output_tag));
  if (!ctx.device.planning()) {
    const auto* table = static_cast<const std::byte*>(embed_tokens_.raw_data());
    auto* out = static_cast<std::byte*>(rows.raw_data());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      ACEFIT_TRY(ctx.device.copy_on_device(
          out + i * row_bytes, table + static_cast<std::size_t>(ids[i]) * row_bytes, row_bytes));
    }
  }
  if (rows.dtype() != DType::f32) {
    ACEFIT_ASSIGN(rows, ops::cast(ctx, rows, DType::f32));
  }
  return rows.reshape(Shape{batch, length, hidden});
}

Expected<Tensor> CausalLm::run_layers(const ops::OpContext& ctx, KvCache& cache,
                                      std::span<const int> seqs, Tensor x) const {
  const AttentionGeometry& g = geometry_;
  const auto n = static_cast<std::int64_t>(seqs.size());
  const std::int64_t length = x.dim(1);
  std::vector<std::int64_t> positions;
  for (const int seq : seqs) positions.push_back(cache.length(seq));
  ops::AttentionOptions causal;
  causal.mask = ops::AttentionMask::causal;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Qwen3LayerWeights& w = layers_[l];
    Tensor attended;
    {
      Tensor q, k, v;
      {
        ACEFIT_ASSIGN(const Tensor normed, ops::rms_norm(ctx, x, w.input_layernorm, g.rms_eps));
        ACEFIT_ASSIGN(q, project_heads(ctx, normed, w.attention.q_proj, w.attention.q_norm,
                                       g.q_heads, g.head_dim, g.rms_eps));
        ACEFIT_ASSIGN(k, project_heads(ctx, normed, w.attention.k_proj, w.attention.k_norm,
                                       g.kv_heads, g.head_dim, g.rms_eps));
        ACEFIT_ASSIGN(v, project_heads(ctx, normed, w.attention.v_proj, Tensor(), g.kv_heads,
                                       g.head_dim, g.rms_eps));
      }
      if (n > 1) {
        ACEFIT_ASSIGN(attended, ctx.device.empty(DType::f32, q.shape(), ctx.output_tag));
      }
      for (std::int64_t i = 0; i < n; ++i) {
        const int seq = seqs[static_cast<std::size_t>(i)];
        const std::int64_t position = positions[static_cast<std::size_t>(i)];
        Tensor q_rot;
        {
          ACEFIT_ASSIGN(const Tensor q_i, q.narrow(0, i, 1));
          ACEFIT_ASSIGN(const Tensor k_i, k.narrow(0, i, 1));
          ACEFIT_ASSIGN(const Tensor v_i, v.narrow(0, i, 1));
          ACEFIT_ASSIGN(q_rot, ops::rope(ctx, q_i, g.rope_theta, position));
          ACEFIT_ASSIGN(const Tensor k_rot, ops::rope(ctx, k_i, g.rope_theta, position));
          ACEFIT_TRY(cache.write(ctx, static_cast<int>(l), seq, k_rot, v_i));
        }
        ACEFIT_ASSIGN(const Tensor keys, cache.keys(static_cast<int>(l), seq, position + length));
        ACEFIT_ASSIGN(const Tensor values,
                      cache.values(static_cast<int>(l), seq, position + length));
        causal.query_position = position;
        ACEFIT_ASSIGN(Tensor out, ops::attention(ctx, q_rot, keys, values, causal));
        if (n == 1) {
          attended = std::move(out);
        } else {
          ACEFIT_ASSIGN(const Tensor target, attended.narrow(0, i, 1));
          ACEFIT_TRY(ops::copy_into(ctx, target, out));
        }
      }
    }
    {
      ACEFIT_ASSIGN(const Tensor merged,
                    attended.reshape(Shape{n, length, g.q_heads * g.head_dim}));
      ACEFIT_ASSIGN(const Tensor projected, apply_linear(ctx, merged, w.attention.o_proj));
      attended = Tensor();
      ACEFIT_ASSIGN(x, ops::add(ctx, x, projected));
    }
    ACEFIT_ASSIGN(const Tensor normed,
                  ops::rms_norm(ctx, x, w.post_attention_layernorm, g.rms_eps));
    ACEFIT_ASSIGN(const Tensor mlp_out, mlp(ctx, w.mlp, normed));
    ACEFIT_ASSIGN(x, ops::add(ctx, x, mlp_out));
  }
  for (const int seq : seqs) ACEFIT_TRY(cache.commit(seq, length));
  return x;
}

namespace {

Status check_cache(const KvCache& cache, const Qwen3Config& c) {
  if (cache.layers() != c.num_hidden_layers || cache.kv_heads() != c.num_key_value_heads ||
      cache.head_dim() != c.head_dim)
    return Status(ErrorCode::invalid_argument,
                  "5 Hz LM: the KV cache was made for another model (" +
                      std::to_string(cache.layers()) + " layers x " +
                      std::to_string(cache.kv_heads()) + " x " + std::to_string(cache.head_dim()) +
                      ")");
  return {};
}

}  // namespace

Expected<Tensor> CausalLm::prefill(const ops::OpContext& ctx, KvCache& cache, int seq,
                                   std::span<const std::int32_t> ids) const {
  ACEFIT_TRY(check_device(ctx, "prefill"));
  ACEFIT_TRY(check_cache(cache, config_));
  if (&cache.device() != &ctx.device)
    return Status(ErrorCode::invalid_argument, "5 Hz LM prefill: the KV cache is on '" +
                                                   cache.device().name() + "', the step runs on '" +
                                                   ctx.device.name() + "'");
  if (ids.empty())
    return Status(ErrorCode::invalid_argument, "5 Hz LM prefill: no tokens to append");
  ACEFIT_TRY(check_ids(ids));
  const auto count = static_cast<std::int64_t>(ids.size());
  ACEFIT_TRY(cache.ensure_room(seq, count));
  ACEFIT_ASSIGN(Tensor x, embed(ctx, ids, 1, count));
  const int seqs[] = {seq};
  ACEFIT_ASSIGN(x, run_layers(ctx, cache, seqs, std::move(x)));
  ACEFIT_ASSIGN(const Tensor last, x.narrow(1, count - 1, 1));
  ACEFIT_ASSIGN(const Tensor normed, ops::rms_norm(ctx, last, norm_, geometry_.rms_eps));
  return normed.reshape(Shape{1, config_.hidden_size});
}

Expected<Tensor> CausalLm::decode(const ops::OpContext& ctx, KvCache& cache,
                                  std::span<const int> seqs,
                                  std::span<const std::int32_t> tokens) const {
  ACEFIT_TRY(check_device(ctx, "decode"));
  ACEFIT_TRY(check_cache(cache, config_));
  if (&cache.device() != &ctx.device)
    return Status(ErrorCode::invalid_argument, "5 Hz LM decode: the KV cache is on '" +
                                                   cache.device().name() + "', the step runs on '" +
                                                   ctx.device.name() + "'");
  if (seqs.empty() || seqs.size() != tokens.size())
    return Status(ErrorCode::invalid_argument,
                  "5 Hz LM decode: needs one token per sequence, got " +
                      std::to_string(tokens.size()) + " tokens for " + std::to_string(seqs.size()) +
                      " sequences");
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] < 0 || seqs[i] >= cache.sequences())
      return Status(ErrorCode::invalid_argument,
                    "5 Hz LM decode: no sequence " + std::to_string(seqs[i]) +
                        " (the KV cache holds " + std::to_string(cache.sequences()) + ")");
    for (std::size_t j = 0; j < i; ++j) {
      if (seqs[j] == seqs[i])
        return Status(ErrorCode::invalid_argument,
                      "5 Hz LM decode: sequence " + std::to_string(seqs[i]) + " is listed twice");
    }
  }
  ACEFIT_TRY(check_ids(tokens));
  for (const int seq : seqs) ACEFIT_TRY(cache.ensure_room(seq, 1));
  const auto n = static_cast<std::int64_t>(seqs.size());
  ACEFIT_ASSIGN(Tensor x, embed(ctx, tokens, n, 1));
  ACEFIT_ASSIGN(x, run_layers(ctx, cache, seqs, std::move(x)));
  ACEFIT_ASSIGN(const Tensor normed, ops::rms_norm(ctx, x, norm_, geometry_.rms_eps));
  return normed.reshape(Shape{n, config_.hidden_size});
}

Expected<Tensor> CausalLm::logits(const ops::OpContext& ctx, const Tensor& hidden,
                                  std::int64_t row_begin, std::int64_t row_end) const {
  ACEFIT_TRY(check_device(ctx, "logits"));
  if (!hidden.defined() || hidden.rank() != 2 || hidden.dim(1) != config_.hidden_size ||
      hidden.dtype() != DType::f32)
    return Status(ErrorCode::invalid_argument,
                  "5 Hz LM logits: hidden must be f32 [n, " + std::to_string(config_.hidden_size) +
                      "], got " + (hidden.defined() ? hidden.describe() : "nothing"));
  if (row_begin < 0 || row_end <= row_begin || row_end > config_.vocab_size)
    return Status(ErrorCode::invalid_argument,
                  "5 Hz LM logits: rows [" + std::to_string(row_begin) + ", " +
                      std::to_string(row_end) + ") are not a non-empty range of [0, " +
                      std::to_string(config_.vocab_size) + ")");
  ACEFIT_ASSIGN(const Tensor head, embed_tokens_.narrow(0, row_begin, row_end - row_begin));
  return ops::linear(ctx, hidden, head);
}

}  // namespace acefit::models::lm
