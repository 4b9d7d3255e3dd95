// The 5 Hz LM (acestep-5Hz-lm-0.6B / 1.7B / 4B; spec acestep-model.md
// 14.1): the Qwen3 causal stack (models/qwen3/qwen3_layer.h: q/k RMSNorm
// per head, rotate-half RoPE at each token's position, grouped-query
// attention, SwiGLU; causal, no sliding window) over a KV cache
// (kv_cache.h), with the output head tied to the embedding table.
//
// Folders are read unchanged: config.json, model.safetensors or a sharded
// index, tensors with or without the causal LM's "model." prefix; a stored
// lm_head.weight is ignored (the head is tied). The embedding table [V, H]
// stays on the model's device: the head multiplies by it.
//
// Every entry point takes ids on the host and returns tensors on
// ctx.device; nothing is read back (the caller downloads the logits it
// samples from). An id outside [0, vocab) is an invalid_argument error
// naming it, raised before anything is computed or appended.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/checkpoint/model_config.h"
#include "models/lm/kv_cache.h"
#include "models/qwen3/qwen3_layer.h"

namespace acefit::models::lm {

class CausalLm {
 public:
  // Reads <dir>/config.json and the weights onto `device`. matrix_dtype:
  // f32 or bf16 for the projection matrices and the embedding table (the
  // LM is never quantized); norms are f32.
  static Expected<CausalLm> load(const std::string& dir, Device& device, DType matrix_dtype);
  // The same from an open loader, or a planned one on a planning device
  // (WeightLoader::planned with expected_qwen3_tensors(config, "model.")).
  static Expected<CausalLm> load(const WeightLoader& loader, const Qwen3Config& config,
                                 Device& device, DType matrix_dtype);

  const Qwen3Config& config() const { return config_; }
  std::int64_t vocab_size() const { return config_.vocab_size; }
  // The device the weights are on.
  Device& device() const { return *embed_tokens_.device(); }

  // Every weight tensor (embedding table, layers, final norm).
  void collect_weights(std::vector<Tensor*>& out);
  // A copy with every weight on `device` (offload between stages).
  Expected<CausalLm> copy_to(Device& device) const;

  // Appends `ids` (at least one) to sequence `seq` of the cache, after what
  // it holds (positions continue; each new token sees the cached ones and
  // the new ones before it) -> the hidden state of the last new token after
  // the final norm, f32 [1, H].
  Expected<Tensor> prefill(const ops::OpContext& ctx, KvCache& cache, int seq,
                           std::span<const std::int32_t> ids) const;
  // One new token for each listed sequence (distinct), each at its own
  // position -> hidden states after the final norm, f32 [n, H], row i for
  // seqs[i]. Projections and MLP run batched over the n sequences; RoPE,
  // the cache write and attention run per sequence.
  Expected<Tensor> decode(const ops::OpContext& ctx, KvCache& cache, std::span<const int> seqs,
                          std::span<const std::int32_t> tokens) const;
  // The tied head over vocabulary rows [row_begin, row_end) only: hidden
  // f32 [n, H] -> f32 [n, row_end - row_begin] on ctx.device (phase 2 needs
  // only the audio-code rows).
  Expected<Tensor> logits(const ops::OpContext& ctx, const Tensor& hidden, std::int64_t row_begin,
                          std::int64_t row_end) const;

 private:
  Status check_device(const ops::OpContext& ctx, std::string_view what) const;
  Status check_ids(std::span<const std::int32_t> ids) const;
  // Embedding rows of host ids -> f32 [batch, length, H] on ctx.device.
  Expected<Tensor> embed(const ops::OpContext& ctx, std::span<const std::int32_t> ids,
                         std::int64_t batch, std::int64_t length) const;
  // The layers over x [n, L, H] for sequences seqs (n of them, each getting
  // L new tokens after what the cache holds); commits the tokens.
  Expected<Tensor> run_layers(const ops::OpContext& ctx, KvCache& cache, std::span<const int> seqs,
                              Tensor x) const;

  Qwen3Config config_;
  AttentionGeometry geometry_;
  Tensor embed_tokens_;  // [V, H], f32 or bf16
  std::vector<Qwen3LayerWeights> layers_;
  Tensor norm_;
};

}  // namespace acefit::models::lm
