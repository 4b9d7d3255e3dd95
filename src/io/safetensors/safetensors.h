// Reading untrusted safetensors files: the header is validated against rules
// S1-S19 of shared/spec/reliability.md (2.1) before any tensor byte is read,
// tensor bytes are read with pread into owned buffers after re-checking that
// the file did not change (S20, no mmap and so no SIGBUS), and an opt-in pass
// reports non-finite values (S21). Every failure is a Status whose message
// reads "<file>: <code>: <details>", <code> being one of the stable names
// below (safetensors_error_code() extracts it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace acefit {

// The 22 reference dtypes, spelled in the header exactly as their names.
enum class SafetensorsDtype : std::uint8_t {
  boolean,  // BOOL
  u8,
  i8,
  f8_e5m2,
  f8_e4m3,
  f8_e8m0,
  f8_e4m3fnuz,
  f8_e5m2fnuz,
  f4,
  f6_e2m3,
  f6_e3m2,
  i16,
  u16,
  f16,
  bf16,
  i32,
  u32,
  f32,
  i64,
  u64,
  f64,
  c64,
};

inline constexpr std::size_t kSafetensorsDtypeCount = 22;

// The reference name ("BF16", "F8_E4M3", ...).
std::string_view safetensors_dtype_name(SafetensorsDtype dtype);
// Case-sensitive lookup of a reference name.
std::optional<SafetensorsDtype> parse_safetensors_dtype(std::string_view name);
std::uint32_t safetensors_dtype_bits(SafetensorsDtype dtype);
// The engine dtype acefit computes with, or nullopt (see check_computable).
std::optional<DType> safetensors_compute_dtype(SafetensorsDtype dtype);

// The stable error codes; the message of every failure carries one.
enum class SafetensorsError {
  header_too_small,
  header_too_large,
  header_out_of_bounds,
  header_not_utf8,
  header_syntax,
  header_trailing_bytes,
  duplicate_key,
  invalid_metadata,
  invalid_name,
  too_many_tensors,
  missing_field,
  unknown_field,
  unknown_dtype,
  invalid_shape,
  invalid_offset,
  size_overflow,
  misaligned_sub_byte,
  size_mismatch,
  file_size_mismatch,
  unsupported_dtype,
  io_error,
  non_finite,  // the opt-in S21 check
  out_of_memory,
};

inline constexpr std::size_t kSafetensorsErrorCount = 23;

std::string_view safetensors_error_name(SafetensorsError error);
// The ErrorCode a failure with this stable code carries.
ErrorCode safetensors_error_status_code(SafetensorsError error);
// Status(<code>, "<origin>: <name>: <detail>").
Status safetensors_status(SafetensorsError error, std::string_view origin, std::string detail);
// The stable code named in a failure's message ("size_mismatch"), or "" when
// the message carries none.
std::string_view safetensors_error_code(const Status& status);
// The earliest of `codes` that appears in `message` as "<code>: " at its
// start or after ": " (file names precede the code and are trusted).
std::string_view find_stable_code(std::string_view message,
                                  std::span<const std::string_view> codes);

inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;  // S2
inline constexpr std::size_t kSafetensorsMaxNameBytes = 1024;             // S10
inline constexpr std::size_t kSafetensorsMaxRank = 8;                     // S13

struct SafetensorsOptions {
  std::uint64_t max_tensors = 100'000;  // S10, enforced while parsing
};

struct SafetensorsTensorInfo {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::vector<std::uint64_t> shape;  // empty for a scalar
  std::uint64_t element_count = 0;
  std::uint64_t data_begin = 0;   // data_offsets[0], relative to the data section
  std::uint64_t data_end = 0;     // data_offsets[1]
  std::uint64_t file_offset = 0;  // absolute: 8 + N + data_begin
  std::uint64_t byte_size = 0;
};

// What a valid header describes.
struct SafetensorsLayout {
  std::uint64_t file_bytes = 0;                               // F
  std::uint64_t header_bytes = 0;                             // N
  std::vector<SafetensorsTensorInfo> tensors;                 // in header order
  std::vector<std::pair<std::string, std::string>> metadata;  // __metadata__, in order
  std::uint64_t total_tensor_bytes = 0;

  std::uint64_t data_offset() const { return 8 + header_bytes; }
  std::optional<std::size_t> index_of(std::string_view name) const;

  std::unordered_map<std::string, std::size_t> by_name;  // filled by the parser
};

// S1-S3: the header length N from the first 8 bytes of a file of
// `file_bytes` bytes (fewer than 8 bytes given: header_too_small).
Expected<std::uint64_t> check_safetensors_prefix(std::span<const std::uint8_t> first_bytes,
                                                 std::uint64_t file_bytes, std::string_view origin);

// S4-S19 over the N header bytes of a file of `file_bytes` bytes (S1-S3 are
// the caller's). `origin` names the file in messages.
Expected<SafetensorsLayout> parse_safetensors_header(std::string_view header,
                                                     std::uint64_t file_bytes,
                                                     std::string_view origin,
                                                     const SafetensorsOptions& options = {});

// S1-S19 over a whole file held in memory (the fuzz target uses this; the
// file reader runs the same checks).
Expected<SafetensorsLayout> validate_safetensors_bytes(std::span<const std::uint8_t> file,
                                                       std::string_view origin,
                                                       const SafetensorsOptions& options = {});

// Returns unsupported_dtype unless acefit can compute with the tensor's
// dtype (F32, F16, BF16, I8, I32, I64). U8 and BOOL can still be read as bytes.
Status check_computable(const SafetensorsTensorInfo& tensor, std::string_view origin = {});

// One tensor's bytes in an owned buffer aligned to 64 bytes, so typed access
// is valid whatever the tensor's offset in the file was.
class TensorBuffer {
 public:
  TensorBuffer() = default;
  SafetensorsDtype dtype() const { return dtype_; }
  std::span<const std::byte> bytes() const { return {data_.get(), size_}; }
  std::span<std::byte> mutable_bytes() { return {data_.get(), size_}; }
  // Typed views; empty when the dtype does not match.
  std::span<const float> as_f32() const;
  std::span<const std::uint16_t> as_f16_bits() const;  // F16 or BF16

 private:
  friend class SafetensorsFile;
  struct AlignedDelete {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte[], AlignedDelete> data_;
  std::size_t size_ = 0;
  SafetensorsDtype dtype_ = SafetensorsDtype::u8;
};

// An open, validated safetensors file. Reads re-check with fstat that the
// file keeps the size and modification time it had when validated, and
// report io_error otherwise.
class SafetensorsFile {
 public:
  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const SafetensorsLayout& layout() const { return layout_; }
  const std::vector<SafetensorsTensorInfo>& tensors() const { return layout_.tensors; }
  const std::vector<std::pair<std::string, std::string>>& metadata() const {
    return layout_.metadata;
  }
  const SafetensorsTensorInfo* find(std::string_view name) const;
  std::uint64_t device_id() const { return device_id_; }
  std::uint64_t inode() const { return inode_; }

  // Copies a tensor's bytes into `destination`, which must be exactly its size.
  Status read_tensor_bytes(std::size_t index, std::span<std::byte> destination) const;
  Status read_tensor_bytes(std::string_view name, std::span<std::byte> destination) const;
  // The same into a new aligned buffer.
  Expected<TensorBuffer> read_tensor(std::size_t index) const;
  Expected<TensorBuffer> read_tensor(std::string_view name) const;

  // Reads a tensor converted to the dtype a device computes with, into
  // `destination` (exactly element_count * dtype_size(target) bytes). F32,
  // F16 and BF16 convert among each other (to bf16/f16 rounding to nearest
  // even); I8, I32 and I64 load only as themselves. Without a conversion the
  // bytes go straight into `destination`; with one, through a bounded
  // staging buffer (1 MiB), never a second full copy. unsupported_dtype for
  // any other pair.
  Status read_tensor_as(std::size_t index, DType target, std::span<std::byte> destination) const;
  Status read_tensor_as(std::string_view name, DType target,
                        std::span<std::byte> destination) const;

  // S21, opt-in: non_finite naming the first NaN/Inf element of the tensor
  // (floating dtypes only; the others cannot hold one).
  Status check_finite(std::size_t index) const;
  Status check_all_finite() const;

 private:
  friend Expected<SafetensorsFile> open_safetensors_fd(int fd, std::string origin,
                                                       const SafetensorsOptions& options);
  SafetensorsFile() = default;
  Status check_unchanged() const;
  Status read_range(std::uint64_t offset, std::span<std::byte> destination,
                    std::string_view tensor) const;
  Expected<std::size_t> resolve(std::string_view name) const;

  int fd_ = -1;
  std::string path_;
  SafetensorsLayout layout_;
  std::uint64_t device_id_ = 0;
  std::uint64_t inode_ = 0;
  std::int64_t mtime_ns_ = 0;
};

// Opens and validates (S1-S19). Nothing but the header is read.
Expected<SafetensorsFile> open_safetensors(const std::string& path,
                                           const SafetensorsOptions& options = {});
// The same over a descriptor the caller opened; takes ownership of `fd`
// (closed on failure too). `origin` names the file in messages.
Expected<SafetensorsFile> open_safetensors_fd(int fd, std::string origin,
                                              const SafetensorsOptions& options = {});

}  // namespace acefit
