// Reading a float32 tensor saved with torch.save (a PyTorch zip archive)
// without Python, for silence_latent.pt (model spec 3.5). The ZIP central
// directory (with ZIP64) is parsed with every offset and size checked
// against the file; the tensor's raw bytes are the single stored entry whose
// name ends in "/data/0", checked against its CRC-32, and data.pkl is parsed
// (io/torch/torch_pickle.h) to confirm a contiguous FloatStorage of the expected
// shape. Works on a byte span so the fuzz target can drive it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace acefit {

struct ZipEntry {
  std::string name;  // raw bytes as stored
  std::uint16_t flags = 0;
  std::uint16_t method = 0;  // 0 = stored
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;
};

// At most this many central-directory entries are accepted.
inline constexpr std::uint64_t kZipMaxEntries = 65536;

// Parses the end-of-central-directory record (ZIP64 when present) and the
// central directory. Errors name `origin` and the offset of the problem.
Expected<std::vector<ZipEntry>> parse_zip_directory(std::span<const std::uint8_t> bytes,
                                                    const std::string& origin);

// Verifies the entry's local header (same name and method, data before the
// central directory), requires method 0 (stored) and a matching CRC-32, and
// returns its bytes as a view into `bytes`.
Expected<std::span<const std::uint8_t>> zip_stored_entry(std::span<const std::uint8_t> bytes,
                                                         const ZipEntry& entry,
                                                         const std::string& origin);

std::uint32_t crc32_ieee(std::span<const std::uint8_t> bytes);

struct PtTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;  // row-major (C order), host memory
};

// Parses a .pt archive held in memory and returns its float32 tensor, which
// must have exactly `expected_shape`.
Expected<PtTensor> parse_pt_float_tensor(std::span<const std::uint8_t> bytes,
                                         std::span<const std::int64_t> expected_shape,
                                         const std::string& origin);

// Reads `path` (at most the tensor's size plus 64 MiB) and parses it.
Expected<PtTensor> read_pt_float_tensor(const std::string& path,
                                        std::span<const std::int64_t> expected_shape);

}  // namespace acefit
