// Writing a single float32 tensor the way torch.save stores it: a zip
// archive (entries stored, data aligned to 64 bytes) holding data.pkl (a
// protocol-2 pickle that calls torch._utils._rebuild_tensor_v2), byteorder,
// data/0 (the little-endian values, C order) and version. torch.load and
// acefit's read_pt_float_tensor both read it. Used for the silence_latent.pt
// of synthetic checkpoints.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/file/atomic_file.h"

namespace acefit {

// The archive bytes. invalid_argument when values.size() differs from the
// product of shape, or the archive would pass 4 GiB (no zip64 here).
Expected<std::vector<std::uint8_t>> pt_float_tensor_bytes(std::span<const std::int64_t> shape,
                                                          std::span<const float> values,
                                                          const std::string& archive_name);

// The same, written atomically to `path`.
Status write_pt_float_tensor(const std::string& path, std::span<const std::int64_t> shape,
                             std::span<const float> values, const std::string& archive_name,
                             const AtomicWriteOptions& options = {});

}  // namespace acefit
