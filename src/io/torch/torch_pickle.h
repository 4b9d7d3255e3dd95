// A restricted reader for the data.pkl of a torch.save'd tensor: a small
// pickle stack machine (protocols 2..5, the opcodes torch.save emits, no code
// execution, bounded nesting) that returns what _rebuild_tensor_v2 would be
// called with: storage type and key, storage offset, size and stride. Used by
// io/torch_zip to confirm that a .pt file holds the tensor the caller expects.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace acefit {

struct PickledTensor {
  std::string storage_type;  // e.g. "FloatStorage"
  std::string storage_key;   // archive entry "<prefix>/data/<key>"
  std::string location;      // e.g. "cpu"
  std::int64_t storage_numel = 0;
  std::int64_t storage_offset = 0;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> stride;
};

// Parses a pickle whose result is torch._utils._rebuild_tensor_v2(...).
// `origin` names the source in error messages.
Expected<PickledTensor> parse_tensor_pickle(std::span<const std::uint8_t> bytes,
                                            const std::string& origin);

}  // namespace acefit
