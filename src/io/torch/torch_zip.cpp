#include "io/torch/torch_zip.h"

#include <array>
#include <cstring>
#include <new>

#include "io/file/atomic_file.h"
#include "io/torch/torch_pickle.h"

namespace acefit {
namespace {

constexpr std::uint32_t kEocdSignature = 0x06054b50;
constexpr std::uint32_t kZip64EocdSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kLocalSignature = 0x04034b50;
constexpr std::uint64_t kEocdBytes = 22;
constexpr std::uint64_t kLocatorBytes = 20;
constexpr std::uint64_t kZip64EocdBytes = 56;
constexpr std::uint64_t kCentralBytes = 46;
constexpr std::uint64_t kLocalBytes = 30;
constexpr std::uint32_t kU32Sentinel = 0xFFFFFFFFu;
constexpr std::uint16_t kU16Sentinel = 0xFFFFu;

std::uint16_t u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t u64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(u32(p)) | (static_cast<std::uint64_t>(u32(p + 4)) << 32);
}

Status zip_error(const std::string& origin, const std::string& what) {
  return Status(ErrorCode::corrupt, "zip archive '" + origin + "': " + what);
}

std::string at(std::uint64_t offset) {
  return " at offset " + std::to_string(offset);
}

// Fills the fields a ZIP64 extra field (id 1) carries in place of the
// sentinels, in the order the format fixes: sizes, local offset, disk.
Status read_zip64_extra(const std::uint8_t* extra, std::uint64_t length, ZipEntry& entry,
                        std::uint32_t& disk, const std::string& origin, std::uint64_t where) {
  std::uint64_t pos = 0;
  while (length - pos >= 4) {
    const std::uint16_t id = u16(extra + pos);
    const std::uint16_t size = u16(extra + pos + 2);
    if (size > length - pos - 4)
      return zip_error(origin, "extra field overruns its entry" + at(where));
    if (id == 1) {
      const std::uint8_t* f = extra + pos + 4;
      std::uint64_t left = size;
      auto take64 = [&](std::uint64_t& field) {
        if (left < 8) return false;
        field = u64(f);
        f += 8;
        left -= 8;
        return true;
      };
      if (entry.uncompressed_size == kU32Sentinel && !take64(entry.uncompressed_size)) {
        return zip_error(origin, "ZIP64 extra field too short" + at(where));
      }
      if (entry.compressed_size == kU32Sentinel && !take64(entry.compressed_size)) {
        return zip_error(origin, "ZIP64 extra field too short" + at(where));
      }
      if (entry.local_header_offset == kU32Sentinel && !take64(entry.local_header_offset)) {
        return zip_error(origin, "ZIP64 extra field too short" + at(where));
      }
      if (disk == kU16Sentinel) {
        if (left < 4) return zip_error(origin, "ZIP64 extra field too short" + at(where));
        disk = u32(f);
      }
    }
    pos += 4 + static_cast<std::uint64_t>(size);
  }
  return {};
}

}  // namespace

std::uint32_t crc32_ieee(std::span<const std::uint8_t> bytes) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const std::uint8_t b : bytes) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

Expected<std::vector<ZipEntry>> parse_zip_directory(std::span<const std::uint8_t> bytes,
                                                    const std::string& origin) {
  try {
    const std::uint8_t* base = bytes.data();
    const std::uint64_t size = bytes.size();
    if (size < kEocdBytes) {
      return zip_error(origin, "file of " + std::to_string(size) + " bytes is too small");
    }
    // The EOCD record ends the file exactly: its comment length must reach
    // the last byte. Scan back over at most a maximal comment.
    std::uint64_t eocd = 0;
    bool found = false;
    bool signature_seen = false;
    const std::uint64_t lowest = size - kEocdBytes > 0xFFFF ? size - kEocdBytes - 0xFFFF : 0;
    for (std::uint64_t i = size - kEocdBytes + 1; i-- > lowest;) {
      if (u32(base + i) != kEocdSignature) continue;
      signature_seen = true;
      if (i + kEocdBytes + u16(base + i + 20) == size) {
        eocd = i;
        found = true;
        break;
      }
    }
    if (!found) {
      return zip_error(origin, signature_seen
                                   ? "trailing bytes after the end-of-central-directory record"
                                   : "no end-of-central-directory record (not a zip archive)");
    }
    const std::uint8_t* e = base + eocd;
    std::uint64_t disk = u16(e + 4), cd_disk = u16(e + 6);
    std::uint64_t entries_disk = u16(e + 8), entries = u16(e + 10);
    std::uint64_t cd_size = u32(e + 12), cd_offset = u32(e + 16);
    std::uint64_t cd_limit = eocd;  // the directory ends before this
    const bool has_locator =
        eocd >= kLocatorBytes && u32(base + eocd - kLocatorBytes) == kZip64LocatorSignature;
    if (has_locator) {
      const std::uint64_t locator = eocd - kLocatorBytes;
      const std::uint64_t record = u64(base + locator + 8);
      if (u32(base + locator + 4) != 0 || u32(base + locator + 16) > 1) {
        return zip_error(origin, "multi-disk archives are not supported");
      }
      if (record > locator || locator - record < kZip64EocdBytes ||
          u32(base + record) != kZip64EocdSignature) {
        return zip_error(origin, "ZIP64 end-of-central-directory record missing" + at(record));
      }
      const std::uint8_t* z = base + record;
      const std::uint64_t record_size = u64(z + 4);
      if (record_size < kZip64EocdBytes - 12 || record_size > locator - record - 12) {
        return zip_error(origin, "ZIP64 end-of-central-directory size is wrong" + at(record));
      }
      disk = u32(z + 16);
      cd_disk = u32(z + 20);
      entries_disk = u64(z + 24);
      entries = u64(z + 32);
      cd_size = u64(z + 40);
      cd_offset = u64(z + 48);
      cd_limit = record;
    } else if (entries == kU16Sentinel || cd_size == kU32Sentinel || cd_offset == kU32Sentinel) {
      return zip_error(origin, "ZIP64 sizes without a ZIP64 locator");
    }
    if (disk != 0 || cd_disk != 0 || entries_disk != entries) {
      return zip_error(origin, "multi-disk archives are not supported");
    }
    if (entries > kZipMaxEntries) {
      return zip_error(origin, std::to_string(entries) + " entries, more than the limit of " +
                                   std::to_string(kZipMaxEntries));
    }
    if (cd_offset > cd_limit || cd_size > cd_limit - cd_offset) {
      return zip_error(origin, "central directory (offset " + std::to_string(cd_offset) + ", " +
                                   std::to_string(cd_size) + " bytes) lies past its end record" +
                                   at(cd_limit));
    }
    if (entries * kCentralBytes > cd_size) {
      return zip_error(origin, std::to_string(entries) + " entries cannot fit in a directory of " +
                                   std::to_string(cd_size) + " bytes");
    }
    std::vector<ZipEntry> result;
    result.reserve(entries);
    const std::uint64_t cd_end = cd_offset + cd_size;
    std::uint64_t pos = cd_offset;
    for (std::uint64_t n = 0; n < entries; ++n) {
      if (cd_end - pos < kCentralBytes || u32(base + pos) != kCentralSignature) {
        return zip_error(origin,
                         "central directory entry " + std::to_string(n) + " is invalid" + at(pos));
      }
      const std::uint8_t* c = base + pos;
      ZipEntry entry;
      entry.flags = u16(c + 8);
      entry.method = u16(c + 10);
      entry.crc32 = u32(c + 16);
      entry.compressed_size = u32(c + 20);
      entry.uncompressed_size = u32(c + 24);
      const std::uint64_t name_length = u16(c + 28);
      const std::uint64_t extra_length = u16(c + 30);
      const std::uint64_t comment_length = u16(c + 32);
      std::uint32_t entry_disk = u16(c + 34);
      entry.local_header_offset = u32(c + 42);
      const std::uint64_t total = kCentralBytes + name_length + extra_length + comment_length;
      if (total > cd_end - pos) {
        return zip_error(origin, "central directory entry " + std::to_string(n) +
                                     " overruns the directory" + at(pos));
      }
      entry.name.assign(reinterpret_cast<const char*>(c + kCentralBytes), name_length);
      ACEFIT_TRY(read_zip64_extra(c + kCentralBytes + name_length, extra_length, entry, entry_disk,
                                  origin, pos));
      if (entry_disk != 0) return zip_error(origin, "entry on another disk" + at(pos));
      if (entry.local_header_offset >= cd_offset) {
        return zip_error(origin, "entry '" + entry.name +
                                     "' has its local header past the "
                                     "start of the central directory" +
                                     at(pos));
      }
      result.push_back(std::move(entry));
      pos += total;
    }
    if (pos != cd_end) {
      return zip_error(origin, "central directory has " + std::to_string(cd_end - pos) +
                                   " bytes after its last entry" + at(pos));
    }
    return result;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "zip archive '" + origin + "': out of memory");
  }
}

Expected<std::span<const std::uint8_t>> zip_stored_entry(std::span<const std::uint8_t> bytes,
                                                         const ZipEntry& entry,
                                                         const std::string& origin) {
  const std::string what = "entry '" + entry.name + "'";
  if (entry.flags & 1) return zip_error(origin, what + " is encrypted");
  if (entry.method != 0) {
    return zip_error(origin, what + " is compressed (method " + std::to_string(entry.method) +
                                 "); only stored entries are supported");
  }
  if (entry.compressed_size != entry.uncompressed_size) {
    return zip_error(origin, what + " is stored but its sizes differ");
  }
  const std::uint64_t size = bytes.size();
  const std::uint64_t offset = entry.local_header_offset;
  if (offset > size || size - offset < kLocalBytes ||
      u32(bytes.data() + offset) != kLocalSignature) {
    return zip_error(origin, what + " has no local header" + at(offset));
  }
  const std::uint8_t* l = bytes.data() + offset;
  const std::uint16_t flags = u16(l + 6);
  const std::uint64_t local_compressed = u32(l + 18);
  const std::uint64_t name_length = u16(l + 26);
  const std::uint64_t extra_length = u16(l + 28);
  if (u16(l + 8) != entry.method) {
    return zip_error(origin, what + ": local header method differs" + at(offset));
  }
  if (size - offset - kLocalBytes < name_length + extra_length) {
    return zip_error(origin, what + ": local header overruns the file" + at(offset));
  }
  if (std::memcmp(l + kLocalBytes, entry.name.data(), entry.name.size()) != 0 ||
      name_length != entry.name.size()) {
    return zip_error(origin, what + ": local header names a different entry" + at(offset));
  }
  // With a data descriptor (flag bit 3) the local sizes may be zero.
  const bool sizes_deferred = (flags & 8) != 0 && local_compressed == 0;
  if (!sizes_deferred && local_compressed != kU32Sentinel &&
      local_compressed != entry.compressed_size) {
    return zip_error(origin, what + ": local header size " + std::to_string(local_compressed) +
                                 " differs from the directory's " +
                                 std::to_string(entry.compressed_size) + at(offset));
  }
  const std::uint64_t data = offset + kLocalBytes + name_length + extra_length;
  if (entry.compressed_size > size - data) {
    return zip_error(origin, what + " of " + std::to_string(entry.compressed_size) +
                                 " bytes runs past the end of the file" + at(data));
  }
  const std::span<const std::uint8_t> payload(bytes.data() + data,
                                              static_cast<std::size_t>(entry.compressed_size));
  if (crc32_ieee(payload) != entry.crc32) {
    return zip_error(origin, what + " fails its CRC-32 check" + at(data));
  }
  return payload;
}

Expected<PtTensor> parse_pt_float_tensor(std::span<const std::uint8_t> bytes,
                                         std::span<const std::int64_t> expected_shape,
                                         const std::string& origin) {
  try {
    std::uint64_t numel = 1;
    std::string shape_text;
    for (const std::int64_t d : expected_shape) {
      if (d <= 0 || static_cast<std::uint64_t>(d) > (std::uint64_t{1} << 40) / numel) {
        return invalid_argument("expected tensor shape has an invalid dimension " +
                                std::to_string(d));
      }
      numel *= static_cast<std::uint64_t>(d);
      shape_text += (shape_text.empty() ? "" : ", ") + std::to_string(d);
    }
    shape_text = "[" + shape_text + "]";
    ACEFIT_ASSIGN(const std::vector<ZipEntry> entries, parse_zip_directory(bytes, origin));
    auto ends_with = [](const std::string& s, const std::string& tail) {
      return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
    };
    const ZipEntry* data = nullptr;
    for (const ZipEntry& entry : entries) {
      if (!ends_with(entry.name, "/data/0")) continue;
      if (data != nullptr) return zip_error(origin, "more than one entry ends in '/data/0'");
      data = &entry;
    }
    if (data == nullptr) return zip_error(origin, "no entry ends in '/data/0' (no tensor data)");
    const std::string prefix = data->name.substr(0, data->name.size() - 6);  // keeps the '/'
    const ZipEntry* pickle = nullptr;
    const ZipEntry* byteorder = nullptr;
    for (const ZipEntry& entry : entries) {
      if (entry.name == prefix + "data.pkl") {
        if (pickle != nullptr) return zip_error(origin, "duplicate '" + entry.name + "'");
        pickle = &entry;
      } else if (entry.name == prefix + "byteorder") {
        byteorder = &entry;
      }
    }
    if (pickle == nullptr) return zip_error(origin, "no '" + prefix + "data.pkl' entry");
    if (byteorder != nullptr) {
      ACEFIT_ASSIGN(const auto order, zip_stored_entry(bytes, *byteorder, origin));
      if (std::string(order.begin(), order.end()) != "little") {
        return Status(ErrorCode::unsupported,
                      "zip archive '" + origin + "': tensor data is not little-endian");
      }
    }
    ACEFIT_ASSIGN(const auto pickle_bytes, zip_stored_entry(bytes, *pickle, origin));
    ACEFIT_ASSIGN(const PickledTensor info, parse_tensor_pickle(pickle_bytes, origin));
    auto mismatch = [&](const std::string& what) {
      return Status(ErrorCode::corrupt, "tensor in '" + origin + "': " + what);
    };
    if (info.storage_type != "FloatStorage") {
      return mismatch("storage is " + info.storage_type + ", expected FloatStorage (float32)");
    }
    if (info.storage_key != "0") return mismatch("storage key is '" + info.storage_key + "'");
    const std::vector<std::int64_t> expected(expected_shape.begin(), expected_shape.end());
    if (info.shape != expected) {
      std::string got;
      for (const std::int64_t d : info.shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
      return mismatch("shape is [" + got + "], expected " + shape_text);
    }
    std::int64_t step = 1;
    for (std::size_t i = expected.size(); i-- > 0;) {
      if (info.stride.size() != expected.size() || (expected[i] > 1 && info.stride[i] != step)) {
        return mismatch("is not contiguous (stride does not match shape " + shape_text + ")");
      }
      step *= expected[i];
    }
    if (info.storage_offset != 0 || static_cast<std::uint64_t>(info.storage_numel) != numel) {
      return mismatch("storage of " + std::to_string(info.storage_numel) + " elements at offset " +
                      std::to_string(info.storage_offset) + " does not hold exactly the " +
                      std::to_string(numel) + " elements of " + shape_text);
    }
    if (data->uncompressed_size != numel * 4) {
      return zip_error(origin, "entry '" + data->name + "' is " +
                                   std::to_string(data->uncompressed_size) + " bytes, expected " +
                                   std::to_string(numel * 4) + " for float32 " + shape_text);
    }
    ACEFIT_ASSIGN(const auto raw, zip_stored_entry(bytes, *data, origin));
    PtTensor tensor;
    tensor.shape = expected;
    tensor.values.resize(static_cast<std::size_t>(numel));
    for (std::size_t i = 0; i < tensor.values.size(); ++i) {
      const std::uint32_t bits = u32(raw.data() + 4 * i);
      std::memcpy(&tensor.values[i], &bits, 4);
    }
    return tensor;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "tensor in '" + origin + "': out of memory");
  }
}

Expected<PtTensor> read_pt_float_tensor(const std::string& path,
                                        std::span<const std::int64_t> expected_shape) {
  std::uint64_t numel = 1;
  for (const std::int64_t d : expected_shape) {
    if (d <= 0 || static_cast<std::uint64_t>(d) > (std::uint64_t{1} << 40) / numel) {
      return invalid_argument("expected tensor shape has an invalid dimension " +
                              std::to_string(d));
    }
    numel *= static_cast<std::uint64_t>(d);
  }
  ACEFIT_ASSIGN(const std::vector<std::uint8_t> bytes,
                read_file_bytes(path, numel * 4 + (std::uint64_t{64} << 20)));
  return parse_pt_float_tensor(bytes, expected_shape, path);
}

}  // namespace acefit
