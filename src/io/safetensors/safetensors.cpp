// The safetensors file reader: open + fstat, S1-S3 on the first 8 bytes,
// the header validator, then pread-based tensor reads that re-check the file.
#include "io/safetensors/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <vector>

#include "io/json/strict_json.h"

namespace acefit {

namespace {

constexpr std::size_t kBufferAlignment = 64;
constexpr std::size_t kFiniteChunkBytes = 1 << 20;

std::string file_errno_text(int error) {
  return std::strerror(error);
}

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Reads exactly destination.size() bytes at `offset`; false with errno-like
// detail on a short read or an error.
bool pread_exact(int fd, std::byte* destination, std::uint64_t size, std::uint64_t offset,
                 std::string& detail) {
  std::uint64_t done = 0;
  while (done < size) {
    const std::uint64_t want = std::min<std::uint64_t>(size - done, 1u << 30);
    const ssize_t got = ::pread(fd, destination + done, static_cast<std::size_t>(want),
                                static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      detail = "read of " + std::to_string(size) + " bytes at file offset " +
               std::to_string(offset) + " failed: " + file_errno_text(errno);
      return false;
    }
    if (got == 0) {
      detail = "the file ended at offset " + std::to_string(offset + done) + " while reading " +
               std::to_string(size) + " bytes at offset " + std::to_string(offset) +
               " (truncated while open?)";
      return false;
    }
    done += static_cast<std::uint64_t>(got);
  }
  return true;
}

std::string tensor_label(std::string_view name) {
  return "tensor '" + printable(name) + "'";
}

std::uint16_t load_u16(const std::byte* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(p[0]) |
                                    (static_cast<unsigned>(p[1]) << 8));
}
std::uint32_t load_u32(const std::byte* p) {
  return static_cast<std::uint32_t>(load_u16(p)) |
         (static_cast<std::uint32_t>(load_u16(p + 2)) << 16);
}
std::uint64_t load_u64(const std::byte* p) {
  return static_cast<std::uint64_t>(load_u32(p)) |
         (static_cast<std::uint64_t>(load_u32(p + 4)) << 32);
}

// 0: finite; 1: NaN; 2: +Inf; 3: -Inf. `p` points at one element (one
// component for C64).
int classify(SafetensorsDtype dtype, const std::byte* p) {
  switch (dtype) {
    case SafetensorsDtype::f32:
    case SafetensorsDtype::c64: {
      const std::uint32_t v = load_u32(p);
      if ((v & 0x7F800000u) != 0x7F800000u) return 0;
      return (v & 0x007FFFFFu) ? 1 : ((v >> 31) ? 3 : 2);
    }
    case SafetensorsDtype::f64: {
      const std::uint64_t v = load_u64(p);
      if ((v & 0x7FF0000000000000ull) != 0x7FF0000000000000ull) return 0;
      return (v & 0x000FFFFFFFFFFFFFull) ? 1 : ((v >> 63) ? 3 : 2);
    }
    case SafetensorsDtype::f16: {
      const std::uint16_t v = load_u16(p);
      if ((v & 0x7C00u) != 0x7C00u) return 0;
      return (v & 0x03FFu) ? 1 : ((v >> 15) ? 3 : 2);
    }
    case SafetensorsDtype::bf16: {
      const std::uint16_t v = load_u16(p);
      if ((v & 0x7F80u) != 0x7F80u) return 0;
      return (v & 0x007Fu) ? 1 : ((v >> 15) ? 3 : 2);
    }
    case SafetensorsDtype::f8_e5m2: {
      const auto v = static_cast<unsigned>(*p);
      if ((v & 0x7Cu) != 0x7Cu) return 0;
      return (v & 0x03u) ? 1 : ((v >> 7) ? 3 : 2);
    }
    case SafetensorsDtype::f8_e4m3:  // "fn": no Inf, NaN is S.1111.111
      return (static_cast<unsigned>(*p) & 0x7Fu) == 0x7Fu ? 1 : 0;
    case SafetensorsDtype::f8_e4m3fnuz:
    case SafetensorsDtype::f8_e5m2fnuz:  // NaN is the negative zero pattern
      return static_cast<unsigned>(*p) == 0x80u ? 1 : 0;
    case SafetensorsDtype::f8_e8m0:
      return static_cast<unsigned>(*p) == 0xFFu ? 1 : 0;
    default:
      return 0;  // integers, BOOL, F4 and F6 have no NaN or Inf
  }
}

// Bytes per checked unit (an element, or a component of C64), 0 when the
// dtype cannot hold a non-finite value.
std::size_t finite_unit_bytes(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::f32:
    case SafetensorsDtype::c64:
      return 4;
    case SafetensorsDtype::f64:
      return 8;
    case SafetensorsDtype::f16:
    case SafetensorsDtype::bf16:
      return 2;
    case SafetensorsDtype::f8_e5m2:
    case SafetensorsDtype::f8_e4m3:
    case SafetensorsDtype::f8_e4m3fnuz:
    case SafetensorsDtype::f8_e5m2fnuz:
    case SafetensorsDtype::f8_e8m0:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

void TensorBuffer::AlignedDelete::operator()(std::byte* p) const {
  ::operator delete[](p, std::align_val_t{kBufferAlignment});
}

std::span<const float> TensorBuffer::as_f32() const {
  if (dtype_ != SafetensorsDtype::f32) return {};
  return {reinterpret_cast<const float*>(data_.get()), size_ / sizeof(float)};
}

std::span<const std::uint16_t> TensorBuffer::as_f16_bits() const {
  if (dtype_ != SafetensorsDtype::f16 && dtype_ != SafetensorsDtype::bf16) return {};
  return {reinterpret_cast<const std::uint16_t*>(data_.get()), size_ / 2};
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept {
  *this = std::move(other);
}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
    path_ = std::move(other.path_);
    layout_ = std::move(other.layout_);
    device_id_ = other.device_id_;
    inode_ = other.inode_;
    mtime_ns_ = other.mtime_ns_;
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (fd_ >= 0) ::close(fd_);
}

const SafetensorsTensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto index = layout_.index_of(name);
  return index ? &layout_.tensors[*index] : nullptr;
}

Status SafetensorsFile::check_unchanged() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    return safetensors_status(SafetensorsError::io_error, path_,
                              "fstat failed: " + file_errno_text(errno));
  }
  if (static_cast<std::uint64_t>(st.st_size) != layout_.file_bytes) {
    return safetensors_status(SafetensorsError::io_error, path_,
                              "the file changed size since it was validated (" +
                                  std::to_string(layout_.file_bytes) + " -> " +
                                  std::to_string(st.st_size) + " bytes)");
  }
  if (mtime_ns(st) != mtime_ns_) {
    return safetensors_status(SafetensorsError::io_error, path_,
                              "the file was modified since it was validated");
  }
  return Status::ok_status();
}

Status SafetensorsFile::read_range(std::uint64_t offset, std::span<std::byte> destination,
                                   std::string_view tensor) const {
  ACEFIT_TRY(check_unchanged());
  std::string detail;
  if (!pread_exact(fd_, destination.data(), destination.size(), offset, detail)) {
    return safetensors_status(SafetensorsError::io_error, path_,
                              tensor_label(tensor) + ": " + detail);
  }
  // A rewrite during the read is caught here, so a load is consistent or fails.
  return check_unchanged();
}

Expected<std::size_t> SafetensorsFile::resolve(std::string_view name) const {
  const auto index = layout_.index_of(name);
  if (!index) {
    return Status(ErrorCode::not_found,
                  printable(path_) + ": no " + tensor_label(name) + " in this file");
  }
  return *index;
}

Status SafetensorsFile::read_tensor_bytes(std::size_t index,
                                          std::span<std::byte> destination) const {
  if (index >= layout_.tensors.size()) {
    return invalid_argument(printable(path_) + ": tensor index " + std::to_string(index) +
                            " out of range (" + std::to_string(layout_.tensors.size()) +
                            " tensors)");
  }
  const SafetensorsTensorInfo& t = layout_.tensors[index];
  if (destination.size() != t.byte_size) {
    return invalid_argument(printable(path_) + ": " + tensor_label(t.name) + " is " +
                            std::to_string(t.byte_size) + " bytes, destination is " +
                            std::to_string(destination.size()));
  }
  return read_range(t.file_offset, destination, t.name);
}

Status SafetensorsFile::read_tensor_bytes(std::string_view name,
                                          std::span<std::byte> destination) const {
  ACEFIT_ASSIGN(const std::size_t index, resolve(name));
  return read_tensor_bytes(index, destination);
}

namespace {

bool is_float_dtype(DType dtype) {
  return dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16;
}

float load_element(DType source, const std::byte* p) {
  if (source == DType::f32) {
    float value;
    std::memcpy(&value, p, 4);
    return value;
  }
  std::uint16_t bits;
  std::memcpy(&bits, p, 2);
  return source == DType::bf16 ? bf16_to_f32(bits) : f16_to_f32(bits);
}

void store_element(DType target, float value, std::byte* p) {
  if (target == DType::f32) {
    std::memcpy(p, &value, 4);
    return;
  }
  const std::uint16_t bits = target == DType::bf16 ? f32_to_bf16(value) : f32_to_f16(value);
  std::memcpy(p, &bits, 2);
}

}  // namespace

Status SafetensorsFile::read_tensor_as(std::size_t index, DType target,
                                       std::span<std::byte> destination) const {
  if (index >= layout_.tensors.size()) {
    return invalid_argument(printable(path_) + ": tensor index " + std::to_string(index) +
                            " out of range");
  }
  const SafetensorsTensorInfo& t = layout_.tensors[index];
  const std::optional<DType> source = safetensors_compute_dtype(t.dtype);
  if (!source || (*source != target && !(is_float_dtype(*source) && is_float_dtype(target)))) {
    return safetensors_status(SafetensorsError::unsupported_dtype, path_,
                              tensor_label(t.name) + " is " +
                                  std::string(safetensors_dtype_name(t.dtype)) +
                                  ", which cannot be loaded as " + std::string(dtype_name(target)));
  }
  const std::uint64_t wanted = t.element_count * dtype_size(target);
  if (destination.size() != wanted) {
    return invalid_argument(printable(path_) + ": " + tensor_label(t.name) + " as " +
                            std::string(dtype_name(target)) + " is " + std::to_string(wanted) +
                            " bytes, destination is " + std::to_string(destination.size()));
  }
  if (*source == target) return read_tensor_bytes(index, destination);

  const std::size_t source_size = dtype_size(*source);
  const std::size_t target_size = dtype_size(target);
  constexpr std::size_t kStagingBytes = 1 << 20;
  const std::size_t chunk_elements = kStagingBytes / source_size;
  std::vector<std::byte> staging(std::min<std::uint64_t>(t.element_count, chunk_elements) *
                                 source_size);
  for (std::uint64_t done = 0; done < t.element_count;) {
    const std::size_t count =
        static_cast<std::size_t>(std::min<std::uint64_t>(t.element_count - done, chunk_elements));
    const std::span<std::byte> chunk(staging.data(), count * source_size);
    ACEFIT_TRY(read_range(t.file_offset + done * source_size, chunk, t.name));
    std::byte* out = destination.data() + done * target_size;
    for (std::size_t i = 0; i < count; ++i) {
      store_element(target, load_element(*source, chunk.data() + i * source_size),
                    out + i * target_size);
    }
    done += count;
  }
  return Status();
}

Status SafetensorsFile::read_tensor_as(std::string_view name, DType target,
                                       std::span<std::byte> destination) const {
  ACEFIT_ASSIGN(const std::size_t index, resolve(name));
  return read_tensor_as(index, target, destination);
}

Expected<TensorBuffer> SafetensorsFile::read_tensor(std::size_t index) const {
  if (index >= layout_.tensors.size()) {
    return invalid_argument(printable(path_) + ": tensor index " + std::to_string(index) +
                            " out of range");
  }
  const SafetensorsTensorInfo& t = layout_.tensors[index];
  if (t.byte_size > SIZE_MAX) {
    return safetensors_status(SafetensorsError::out_of_memory, path_,
                              tensor_label(t.name) + " does not fit in this address space");
  }
  TensorBuffer buffer;
  auto* raw = static_cast<std::byte*>(::operator new[](
      static_cast<std::size_t>(t.byte_size), std::align_val_t{kBufferAlignment}, std::nothrow));
  if (!raw) {
    return safetensors_status(
        SafetensorsError::out_of_memory, path_,
        "cannot allocate " + std::to_string(t.byte_size) + " bytes for " + tensor_label(t.name));
  }
  buffer.data_.reset(raw);
  buffer.size_ = static_cast<std::size_t>(t.byte_size);
  buffer.dtype_ = t.dtype;
  ACEFIT_TRY(read_tensor_bytes(index, buffer.mutable_bytes()));
  return buffer;
}

Expected<TensorBuffer> SafetensorsFile::read_tensor(std::string_view name) const {
  ACEFIT_ASSIGN(const std::size_t index, resolve(name));
  return read_tensor(index);
}

Status SafetensorsFile::check_finite(std::size_t index) const {
  if (index >= layout_.tensors.size()) {
    return invalid_argument(printable(path_) + ": tensor index " + std::to_string(index) +
                            " out of range");
  }
  const SafetensorsTensorInfo& t = layout_.tensors[index];
  const std::size_t unit = finite_unit_bytes(t.dtype);
  if (unit == 0 || t.byte_size == 0) return Status::ok_status();
  const std::size_t units_per_element = t.dtype == SafetensorsDtype::c64 ? 2 : 1;
  std::unique_ptr<std::byte[]> chunk(new (std::nothrow) std::byte[kFiniteChunkBytes]);
  if (!chunk) {
    return safetensors_status(SafetensorsError::out_of_memory, path_,
                              "cannot allocate the 1 MiB check buffer");
  }
  std::uint64_t done = 0;
  while (done < t.byte_size) {
    const std::uint64_t n = std::min<std::uint64_t>(t.byte_size - done, kFiniteChunkBytes);
    ACEFIT_TRY(
        read_range(t.file_offset + done, {chunk.get(), static_cast<std::size_t>(n)}, t.name));
    for (std::uint64_t at = 0; at + unit <= n; at += unit) {
      const int kind = classify(t.dtype, chunk.get() + at);
      if (kind == 0) continue;
      const std::uint64_t unit_index = (done + at) / unit;
      const char* what = kind == 1 ? "NaN" : kind == 2 ? "+Inf" : "-Inf";
      std::string detail =
          tensor_label(t.name) + ": element " + std::to_string(unit_index / units_per_element);
      if (units_per_element == 2) detail += unit_index % 2 ? " (imaginary part)" : " (real part)";
      detail +=
          " is " + std::string(what) + " (" + std::string(safetensors_dtype_name(t.dtype)) + ")";
      return safetensors_status(SafetensorsError::non_finite, path_, detail);
    }
    done += n;
  }
  return Status::ok_status();
}

Status SafetensorsFile::check_all_finite() const {
  for (std::size_t i = 0; i < layout_.tensors.size(); ++i) ACEFIT_TRY(check_finite(i));
  return Status::ok_status();
}

Expected<SafetensorsFile> open_safetensors_fd(int fd, std::string origin,
                                              const SafetensorsOptions& options) {
  SafetensorsFile file;
  file.fd_ = fd;  // closed by the destructor on every failure path below
  file.path_ = std::move(origin);
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return safetensors_status(SafetensorsError::io_error, file.path_,
                                "fstat failed: " + file_errno_text(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      return safetensors_status(SafetensorsError::io_error, file.path_, "not a regular file");
    }
    const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
    file.device_id_ = static_cast<std::uint64_t>(st.st_dev);
    file.inode_ = static_cast<std::uint64_t>(st.st_ino);
    file.mtime_ns_ = mtime_ns(st);
    std::array<std::uint8_t, 8> prefix{};
    const std::size_t prefix_bytes = file_bytes < 8 ? static_cast<std::size_t>(file_bytes) : 8;
    std::string detail;
    if (!pread_exact(fd, reinterpret_cast<std::byte*>(prefix.data()), prefix_bytes, 0, detail)) {
      return safetensors_status(SafetensorsError::io_error, file.path_, detail);
    }
    ACEFIT_ASSIGN(const std::uint64_t n,
                  check_safetensors_prefix({prefix.data(), prefix_bytes}, file_bytes, file.path_));
    // S1-S3 passed: n <= 10^8 and 8 + n <= F, so the buffer is bounded by the file.
    std::string header(static_cast<std::size_t>(n), '\0');
    if (!pread_exact(fd, reinterpret_cast<std::byte*>(header.data()), n, 8, detail)) {
      return safetensors_status(SafetensorsError::io_error, file.path_, detail);
    }
    ACEFIT_ASSIGN(file.layout_, parse_safetensors_header(header, file_bytes, file.path_, options));
    return file;
  } catch (const std::bad_alloc&) {
    return safetensors_status(SafetensorsError::out_of_memory, file.path_,
                              "out of memory while reading the header");
  }
}

Expected<SafetensorsFile> open_safetensors(const std::string& path,
                                           const SafetensorsOptions& options) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    Status status = safetensors_status(SafetensorsError::io_error, path,
                                       "cannot open: " + file_errno_text(error));
    if (error == ENOENT) status = Status(ErrorCode::not_found, status.message());
    return status;
  }
  return open_safetensors_fd(fd, path, options);
}

}  // namespace acefit
