// Sharded safetensors checkpoints (*.safetensors.index.json): rules I1-I6 of
// shared/spec/reliability.md (2.3). Shard names are plain file names, each
// resolved path must stay inside the checkpoint folder (whole path
// components, symlinks resolved), the descriptor opened is the file checked,
// and the weight_map must agree with the shards both ways. Failures read
// "<file>: <code>: <details>" like safetensors.h; warnings are returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "io/safetensors/safetensors.h"

namespace acefit {

inline constexpr std::uint64_t kShardIndexMaxBytes = 16ull << 20;  // I1
inline constexpr std::size_t kShardNameMaxBytes = 255;             // I2
inline constexpr std::size_t kMaxShards = 4096;                    // I6

struct ShardedOptions {
  SafetensorsOptions shard_options;
  // Empty: shards must resolve inside the index's own folder. Otherwise the
  // containing root is widened to this folder (a model store such as a hub
  // cache whose snapshot files are symlinks into a sibling blobs folder).
  std::string allowed_root;
  std::size_t max_shards = kMaxShards;
};

// The stable codes of index failures (shard files add the safetensors ones).
inline constexpr std::string_view kShardIndexErrorCodes[] = {
    "index_too_large",            // I1: above 16 MiB
    "index_not_utf8",             // I1 (S4)
    "index_syntax",               // I1 (S7, depth 3), including trailing bytes
    "duplicate_key",              // I1 (S8)
    "invalid_index",              // I1: not an object, no weight_map, wrong value types
    "invalid_name",               // a weight_map tensor name breaking S10
    "invalid_shard_name",         // I2
    "too_many_shards",            // I6
    "shard_not_found",            // I5: a referenced shard does not exist
    "shard_outside_folder",       // I3
    "shard_not_regular_file",     // I4
    "shard_changed",              // I4: the opened descriptor is not the checked file
    "duplicate_shard",            // two names resolving to one file (I6: each opened once)
    "tensor_missing_from_shard",  // I5: weight_map names a shard that lacks the tensor
    "tensor_not_in_index",        // I5: a shard holds a tensor the index does not map to it
    "tensor_in_two_shards",       // I5
    "io_error",
    "out_of_memory",
};

// The parsed index, before anything is opened.
struct ShardIndex {
  std::vector<std::string> shard_names;  // distinct, in order of first appearance
  std::vector<std::pair<std::string, std::size_t>> weight_map;  // tensor -> shard_names index
  std::optional<std::uint64_t> declared_total_size;             // metadata.total_size
  std::vector<std::string> warnings;
};

struct ShardedTensor {
  std::string name;
  std::size_t shard = 0;  // into ShardedCheckpoint::shards
  std::size_t index = 0;  // into that shard's tensors()
};

struct ShardedCheckpoint {
  std::string index_path;
  std::string folder;  // canonical
  std::vector<std::string> shard_names;
  std::vector<SafetensorsFile> shards;  // parallel to shard_names
  std::vector<ShardedTensor> tensors;   // in weight_map order
  std::optional<std::uint64_t> declared_total_size;
  std::uint64_t total_bytes = 0;
  std::vector<std::string> warnings;

  const SafetensorsTensorInfo& info(const ShardedTensor& tensor) const {
    return shards[tensor.shard].tensors()[tensor.index];
  }
};

// I2 for one weight_map value.
Status check_shard_name(std::string_view name, std::string_view origin);

// I1, I2 and I6's count: parses index bytes without touching the filesystem.
Expected<ShardIndex> parse_shard_index(std::string_view bytes, std::string_view origin,
                                       const ShardedOptions& options = {});

// Reads the index (at most 16 MiB) and opens every shard (I1-I6).
Expected<ShardedCheckpoint> open_sharded(const std::string& index_path,
                                         const ShardedOptions& options = {});

// The same for index bytes already in memory, resolved against `folder`.
Expected<ShardedCheckpoint> open_sharded_bytes(std::string_view index_bytes,
                                               const std::string& folder, std::string origin,
                                               const ShardedOptions& options = {});

// The stable code in a failure of open_sharded (index or shard code), or "".
std::string_view sharded_error_code(const Status& status);

}  // namespace acefit
