// Writing safetensors files: the header acefit's own reader accepts (keys in
// the given order, data offsets tiling the data section exactly, header
// padded with spaces to a multiple of 8 bytes), streamed to the target
// through AtomicFileWriter, so a failed write leaves no partial file. Used
// for the synthetic checkpoints the tests and the demo generate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "io/file/atomic_file.h"
#include "io/safetensors/safetensors.h"

namespace acefit {

struct SafetensorsEntry {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::vector<std::uint64_t> shape;  // empty for a scalar
  std::span<const std::byte> bytes;  // exactly product(shape) * element size
};

// invalid_argument for an empty, duplicate or over-long name, a rank above
// kSafetensorsMaxRank, or bytes that do not match the shape (named); io
// errors from the atomic write otherwise.
Status write_safetensors(const std::string& path, std::span<const SafetensorsEntry> entries,
                         const std::vector<std::pair<std::string, std::string>>& metadata = {},
                         const AtomicWriteOptions& options = {});

// The header bytes (length prefix included) that write_safetensors would
// write, for tests and in-memory files.
Expected<std::string> safetensors_header_bytes(
    std::span<const SafetensorsEntry> entries,
    const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace acefit
