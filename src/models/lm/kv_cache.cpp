#include "models/lm/kv_cache.h"

#include <algorithm>
#include <string>

#include "ops/layout.h"

namespace acefit::models::lm {

namespace {

std::string tokens_text(std::int64_t tokens) {
  return std::to_string(tokens) + (tokens == 1 ? " token" : " tokens");
}

}  // namespace

std::string_view kv_cache_kind_name(KvCacheKind kind) {
  return kind == KvCacheKind::preallocated ? "preallocated" : "grown";
}

std::uint64_t KvCache::bytes_per_token(const Qwen3Config& config) {
  return 2 * static_cast<std::uint64_t>(config.num_hidden_layers) *
         static_cast<std::uint64_t>(config.num_key_value_heads) *
         static_cast<std::uint64_t>(config.head_dim) * sizeof(float);
}

std::int64_t KvCache::block_tokens(std::int64_t tokens) {
  if (tokens <= 0) return 0;
  return (tokens + kKvBlockTokens - 1) / kKvBlockTokens * kKvBlockTokens;
}

std::uint64_t KvCache::preallocated_bytes(const Qwen3Config& config,
                                          const KvCacheOptions& options) {
  if (options.sequences < 1) return 0;
  return static_cast<std::uint64_t>(options.sequences) *
         static_cast<std::uint64_t>(block_tokens(options.tokens_per_sequence)) *
         bytes_per_token(config);
}

Expected<KvCache> KvCache::create(Device& device, const Qwen3Config& config,
                                  const KvCacheOptions& options) {
  const std::string what = "KV cache (" + std::string(kv_cache_kind_name(options.kind)) + ")";
  if (options.sequences < 1)
    return Status(ErrorCode::invalid_argument,
                  what + ": needs at least one sequence, got " + std::to_string(options.sequences));
  // 2^24 tokens per sequence keeps every index far inside 32 bits per head.
  constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;
  if (options.tokens_per_sequence < 1 || options.tokens_per_sequence > kMaxTokens)
    return Status(ErrorCode::invalid_argument, what + ": tokens per sequence must be in [1, " +
                                                   std::to_string(kMaxTokens) + "], got " +
                                                   std::to_string(options.tokens_per_sequence));
  if (config.num_hidden_layers < 1 || config.num_key_value_heads < 1 || config.head_dim < 1)
    return Status(ErrorCode::invalid_argument, what + ": the config has no layers or heads");
  KvCache cache;
  cache.device_ = &device;
  cache.options_ = options;
  cache.layers_ = static_cast<int>(config.num_hidden_layers);
  cache.kv_heads_ = config.num_key_value_heads;
  cache.head_dim_ = config.head_dim;
  cache.limit_ = block_tokens(options.tokens_per_sequence);
  const auto sequences = static_cast<std::size_t>(options.sequences);
  cache.lengths_.assign(sequences, 0);
  if (options.kind == KvCacheKind::grown) {
    cache.capacities_.assign(sequences, 0);
    const std::size_t tensors = static_cast<std::size_t>(cache.layers_) * sequences;
    cache.keys_.resize(tensors);
    cache.values_.resize(tensors);
    return cache;
  }
  cache.capacities_.assign(sequences, cache.limit_);
  const Shape pool{options.sequences * cache.limit_, cache.kv_heads_, cache.head_dim_};
  for (int layer = 0; layer < cache.layers_; ++layer) {
    ACEFIT_ASSIGN(Tensor k, device.empty(DType::f32, pool, MemoryTag::kv_cache));
    cache.keys_.push_back(std::move(k));
    ACEFIT_ASSIGN(Tensor v, device.empty(DType::f32, pool, MemoryTag::kv_cache));
    cache.values_.push_back(std::move(v));
  }
  return cache;
}

Status KvCache::check_sequence(int seq) const {
  if (seq < 0 || seq >= options_.sequences)
    return Status(ErrorCode::invalid_argument, "KV cache: no sequence " + std::to_string(seq) +
                                                   " (the cache holds " +
                                                   std::to_string(options_.sequences) + ")");
  return {};
}

std::int64_t KvCache::length(int seq) const {
  return check_sequence(seq).ok() ? lengths_[static_cast<std::size_t>(seq)] : 0;
}

std::int64_t KvCache::capacity(int seq) const {
  return check_sequence(seq).ok() ? capacities_[static_cast<std::size_t>(seq)] : 0;
}

std::uint64_t KvCache::reserved_bytes() const {
  std::uint64_t total = 0;
  for (const Tensor& t : keys_) total += t.defined() ? t.storage()->bytes() : 0;
  for (const Tensor& t : values_) total += t.defined() ? t.storage()->bytes() : 0;
  return total;
}

const Tensor& KvCache::key_storage(int layer, int seq) const {
  if (options_.kind == KvCacheKind::preallocated) return keys_[static_cast<std::size_t>(layer)];
  return keys_[static_cast<std::size_t>(layer) * static_cast<std::size_t>(options_.sequences) +
               static_cast<std::size_t>(seq)];
}

const Tensor& KvCache::value_storage(int layer, int seq) const {
  if (options_.kind == KvCacheKind::preallocated) return values_[static_cast<std::size_t>(layer)];
  return values_[static_cast<std::size_t>(layer) * static_cast<std::size_t>(options_.sequences) +
                 static_cast<std::size_t>(seq)];
}

Status KvCache::ensure_room(int seq, std::int64_t count) {
  ACEFIT_TRY(check_sequence(seq));
  if (count < 0)
    return Status(ErrorCode::invalid_argument, "KV cache: cannot append a negative token count");
  const std::int64_t needed = lengths_[static_cast<std::size_t>(seq)] + count;
  const std::int64_t capacity = capacities_[static_cast<std::size_t>(seq)];
  if (needed <= capacity) return {};
  const std::string held = tokens_text(lengths_[static_cast<std::size_t>(seq)]);
  if (options_.kind == KvCacheKind::preallocated)
    return Status(ErrorCode::invalid_argument,
                  "KV cache: sequence " + std::to_string(seq) + " holds " + held +
                      " and cannot take " + std::to_string(count) +
                      " more: its preallocated capacity is " + tokens_text(capacity) + " (" +
                      std::to_string(capacity / kKvBlockTokens) + " blocks of " +
                      std::to_string(kKvBlockTokens) + ")");
  if (needed > limit_)
    return Status(ErrorCode::invalid_argument,
                  "KV cache: sequence " + std::to_string(seq) + " holds " + held +
                      " and cannot take " + std::to_string(count) +
                      " more: the cache may grow to " + tokens_text(limit_) + " per sequence");
  return grow(seq, block_tokens(needed));
}

Status KvCache::grow(int seq, std::int64_t tokens) {
  const auto s = static_cast<std::size_t>(seq);
  const std::int64_t held = lengths_[s];
  const Shape shape{tokens, kv_heads_, head_dim_};
  const std::uint64_t held_bytes =
      static_cast<std::uint64_t>(held * kv_heads_ * head_dim_) * sizeof(float);
  for (std::vector<Tensor>* tensors : {&keys_, &values_}) {
    for (int layer = 0; layer < layers_; ++layer) {
      Tensor& old = (*tensors)[static_cast<std::size_t>(layer) *
                                   static_cast<std::size_t>(options_.sequences) +
                               s];
      if (old.defined() && old.dim(0) >= tokens) continue;  // grown before a failure
      auto grown = device_->empty(DType::f32, shape, MemoryTag::kv_cache);
      if (!grown.ok())
        return grown.status().with_context("growing the KV cache of sequence " +
                                           std::to_string(seq) + " to " + tokens_text(tokens));
      if (held > 0) {
        ACEFIT_TRY(device_->copy_on_device(grown.value().raw_data(), old.raw_data(), held_bytes));
      }
      old = std::move(grown).value();  // frees the smaller tensor
    }
  }
  capacities_[s] = tokens;
  return {};
}

Status KvCache::write(const ops::OpContext& ctx, int layer, int seq, const Tensor& k,
                      const Tensor& v) {
  ACEFIT_TRY(check_sequence(seq));
  if (layer < 0 || layer >= layers_)
    return Status(ErrorCode::invalid_argument, "KV cache: no layer " + std::to_string(layer));
  if (k.rank() != 4 || k.dim(0) != 1 || k.dim(2) != kv_heads_ || k.dim(3) != head_dim_ ||
      k.shape() != v.shape())
    return Status(ErrorCode::invalid_argument, "KV cache: expects k and v [1, n, " +
                                                   std::to_string(kv_heads_) + ", " +
                                                   std::to_string(head_dim_) + "], got " +
                                                   k.describe() + " and " + v.describe());
  const std::int64_t start = lengths_[static_cast<std::size_t>(seq)];
  const std::int64_t count = k.dim(1);
  if (start + count > capacities_[static_cast<std::size_t>(seq)])
    return Status(ErrorCode::invalid_argument,
                  "KV cache: sequence " + std::to_string(seq) + " has no room for " +
                      tokens_text(count) + " after " + tokens_text(start) + " (capacity " +
                      tokens_text(capacities_[static_cast<std::size_t>(seq)]) + ")");
  ACEFIT_ASSIGN(const Tensor k_target, view(key_storage(layer, seq), seq, start, count));
  ACEFIT_TRY(ops::copy_into(ctx, k_target, k));
  ACEFIT_ASSIGN(const Tensor v_target, view(value_storage(layer, seq), seq, start, count));
  return ops::copy_into(ctx, v_target, v);
}

Status KvCache::commit(int seq, std::int64_t count) {
  ACEFIT_TRY(check_sequence(seq));
  const auto s = static_cast<std::size_t>(seq);
  if (count < 0 || lengths_[s] + count > capacities_[s])
    return Status(ErrorCode::invalid_argument, "KV cache: sequence " + std::to_string(seq) +
                                                   " cannot commit " + tokens_text(count) +
                                                   " after " + tokens_text(lengths_[s]));
  lengths_[s] += count;
  return {};
}

void KvCache::clear(int seq) {
  if (!check_sequence(seq).ok()) return;
  const auto s = static_cast<std::size_t>(seq);
  lengths_[s] = 0;
  if (options_.kind != KvCacheKind::grown) return;
  capacities_[s] = 0;
  for (int layer = 0; layer < layers_; ++layer) {
    const std::size_t i =
        static_cast<std::size_t>(layer) * static_cast<std::size_t>(options_.sequences) + s;
    keys_[i] = Tensor();
    values_[i] = Tensor();
  }
}

Expected<Tensor> KvCache::view(const Tensor& storage, int seq, std::int64_t start,
                               std::int64_t tokens) const {
  const std::int64_t base = options_.kind == KvCacheKind::preallocated
                                ? seq * capacities_[static_cast<std::size_t>(seq)]
                                : 0;
  ACEFIT_ASSIGN(const Tensor rows, storage.narrow(0, base + start, tokens));
  return rows.reshape(Shape{1, tokens, kv_heads_, head_dim_});
}

Expected<Tensor> KvCache::keys(int layer, int seq, std::int64_t tokens) const {
  ACEFIT_TRY(check_sequence(seq));
  if (layer < 0 || layer >= layers_ || tokens < 0 ||
      tokens > capacities_[static_cast<std::size_t>(seq)])
    return Status(ErrorCode::invalid_argument, "KV cache: no view of " + tokens_text(tokens) +
                                                   " of layer " + std::to_string(layer) +
                                                   ", sequence " + std::to_string(seq));
  return view(key_storage(layer, seq), seq, 0, tokens);
}

Expected<Tensor> KvCache::values(int layer, int seq, std::int64_t tokens) const {
  ACEFIT_TRY(check_sequence(seq));
  if (layer < 0 || layer >= layers_ || tokens < 0 ||
      tokens > capacities_[static_cast<std::size_t>(seq)])
    return Status(ErrorCode::invalid_argument, "KV cache: no view of " + tokens_text(tokens) +
                                                   " of layer " + std::to_string(layer) +
                                                   ", sequence " + std::to_string(seq));
  return view(value_storage(layer, seq), seq, 0, tokens);
}

}  // namespace acefit::models::lm
