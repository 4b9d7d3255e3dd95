// The 5 Hz LM's KV cache (gpu-adaptation.md 8): f32 keys and values for
// every layer of every sequence (CFG twins are sequences of their own), all
// under the device's Budget with MemoryTag::kv_cache. The first `len`
// tokens of a sequence in a layer are one contiguous [1, len, kv_heads,
// head_dim] view, which ops::attention takes as it is.
//
// Two kinds, sized from the request (never capped at a reference context):
//   preallocated (backend `vllm`): at creation each sequence gets its tokens
//     rounded up to whole blocks of kKvBlockTokens, all reserved at once
//     (one pool per layer for K and one for V, sequence s at token
//     s * capacity), resident until the cache is dropped. Appending past a
//     sequence's capacity is an invalid_argument error, never a reallocation.
//   grown (backend `pt`): each sequence starts empty and grows on demand in
//     whole blocks up to the limit given at creation. Growing allocates the
//     larger tensor, copies the tokens held, then frees the old one, one
//     tensor (one layer's K or V) at a time: while growing a sequence from c
//     to c' tokens the reservation peaks at (what the cache holds after the
//     growth) + c * kv_heads * head_dim * 4 bytes (the old copy of one
//     tensor). An out_of_memory while growing comes back as a Status; the
//     tensors already grown keep their new size, the sequence's capacity
//     stays what all of them hold, and a later append grows the rest.
//
// A model appends tokens in three steps, so a failed forward leaves the
// cache as it was: ensure_room (before any computation), write (per layer,
// at positions length .. length + count - 1) and commit (after the last
// layer). keys()/values() give the views a layer's attention reads.
#pragma once
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "device/device.h"
#include "io/checkpoint/model_config.h"
#include "ops/op_context.h"

namespace acefit::models::lm {

inline constexpr std::int64_t kKvBlockTokens = 256;

enum class KvCacheKind { preallocated, grown };

struct KvCacheOptions {
  KvCacheKind kind = KvCacheKind::preallocated;
  int sequences = 1;
  // preallocated: the tokens each sequence may hold (rounded up to whole
  // blocks); grown: the most a sequence may grow to (also rounded up).
  std::int64_t tokens_per_sequence = 0;
};

class KvCache {
 public:
  // invalid_argument for sequences < 1, tokens_per_sequence < 1 or a config
  // without heads; out_of_memory (nothing kept) when a preallocated pool
  // does not fit.
  static Expected<KvCache> create(Device& device, const Qwen3Config& config,
                                  const KvCacheOptions& options);

  // K + V bytes of one token in every layer (f32).
  static std::uint64_t bytes_per_token(const Qwen3Config& config);
  // tokens rounded up to whole kKvBlockTokens blocks.
  static std::int64_t block_tokens(std::int64_t tokens);
  // What a preallocated cache of these options reserves at creation:
  // sequences x block_tokens(tokens_per_sequence) x bytes_per_token.
  static std::uint64_t preallocated_bytes(const Qwen3Config& config, const KvCacheOptions& options);

  KvCache(KvCache&&) noexcept = default;
  KvCache& operator=(KvCache&&) noexcept = default;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;
  ~KvCache() = default;

  KvCacheKind kind() const { return options_.kind; }
  int sequences() const { return options_.sequences; }
  int layers() const { return layers_; }
  std::int64_t kv_heads() const { return kv_heads_; }
  std::int64_t head_dim() const { return head_dim_; }
  // The most tokens a sequence may hold (tokens_per_sequence in blocks).
  std::int64_t limit() const { return limit_; }
  Device& device() const { return *device_; }

  // Tokens held by `seq` / tokens it can hold without growing (0 for a
  // sequence the cache does not have).
  std::int64_t length(int seq) const;
  std::int64_t capacity(int seq) const;
  // Bytes the cache holds on its device now (kv_cache tag).
  std::uint64_t reserved_bytes() const;

  // Makes room for `count` more tokens of `seq`: a grown cache grows by
  // whole blocks; past the capacity of a preallocated cache, or the limit
  // of a grown one, an invalid_argument error naming the sequence and the
  // token counts.
  Status ensure_room(int seq, std::int64_t count);
  // Writes k and v [1, count, kv_heads, head_dim] (f32, on the cache's
  // device) of `layer` at positions length(seq) .. + count - 1 (room must
  // have been made). Does not change length(seq).
  Status write(const ops::OpContext& ctx, int layer, int seq, const Tensor& k, const Tensor& v);
  // Adds `count` written tokens to length(seq).
  Status commit(int seq, std::int64_t count);
  // Forgets the tokens of `seq`; a grown cache frees its blocks.
  void clear(int seq);

  // The first `tokens` positions of `seq` in `layer`: [1, tokens, kv_heads,
  // head_dim] views (tokens <= capacity(seq)).
  Expected<Tensor> keys(int layer, int seq, std::int64_t tokens) const;
  Expected<Tensor> values(int layer, int seq, std::int64_t tokens) const;

 private:
  KvCache() = default;
  Status check_sequence(int seq) const;
  Expected<Tensor> view(const Tensor& storage, int seq, std::int64_t start,
                        std::int64_t tokens) const;
  const Tensor& key_storage(int layer, int seq) const;
  const Tensor& value_storage(int layer, int seq) const;
  Status grow(int seq, std::int64_t tokens);

  Device* device_ = nullptr;
  KvCacheOptions options_;
  int layers_ = 0;
  std::int64_t kv_heads_ = 0;
  std::int64_t head_dim_ = 0;
  std::int64_t limit_ = 0;
  std::vector<std::int64_t> lengths_;
  std::vector<std::int64_t> capacities_;
  // preallocated: one [sequences * capacity, kv_heads, head_dim] pool per
  // layer. grown: [capacity, kv_heads, head_dim] per layer and sequence
  // (index layer * sequences + seq), undefined while empty.
  std::vector<Tensor> keys_;
  std::vector<Tensor> values_;
};

std::string_view kv_cache_kind_name(KvCacheKind kind);

}  // namespace acefit::models::lm
