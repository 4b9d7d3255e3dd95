// The safetensors header validator (rules S4-S19) and the tables it uses:
// dtype names and widths, stable error codes. Pure: bytes in, layout out.
#include <algorithm>
#include <array>
#include <cstring>
#include <new>

#include "io/json/strict_json.h"
#include "io/safetensors/safetensors.h"

namespace acefit {

namespace {

struct DtypeEntry {
  SafetensorsDtype dtype;
  std::string_view name;
  std::uint32_t bits;
};

// Every reference dtype, listed on purpose: no default branch adds one.
constexpr std::array<DtypeEntry, kSafetensorsDtypeCount> kDtypes{{
    {SafetensorsDtype::boolean, "BOOL", 8},
    {SafetensorsDtype::u8, "U8", 8},
    {SafetensorsDtype::i8, "I8", 8},
    {SafetensorsDtype::f8_e5m2, "F8_E5M2", 8},
    {SafetensorsDtype::f8_e4m3, "F8_E4M3", 8},
    {SafetensorsDtype::f8_e8m0, "F8_E8M0", 8},
    {SafetensorsDtype::f8_e4m3fnuz, "F8_E4M3FNUZ", 8},
    {SafetensorsDtype::f8_e5m2fnuz, "F8_E5M2FNUZ", 8},
    {SafetensorsDtype::f4, "F4", 4},
    {SafetensorsDtype::f6_e2m3, "F6_E2M3", 6},
    {SafetensorsDtype::f6_e3m2, "F6_E3M2", 6},
    {SafetensorsDtype::i16, "I16", 16},
    {SafetensorsDtype::u16, "U16", 16},
    {SafetensorsDtype::f16, "F16", 16},
    {SafetensorsDtype::bf16, "BF16", 16},
    {SafetensorsDtype::i32, "I32", 32},
    {SafetensorsDtype::u32, "U32", 32},
    {SafetensorsDtype::f32, "F32", 32},
    {SafetensorsDtype::i64, "I64", 64},
    {SafetensorsDtype::u64, "U64", 64},
    {SafetensorsDtype::f64, "F64", 64},
    {SafetensorsDtype::c64, "C64", 64},
}};

constexpr std::array<std::string_view, kSafetensorsErrorCount> kErrorNames{
    "header_too_small",   "header_too_large",    "header_out_of_bounds",
    "header_not_utf8",    "header_syntax",       "header_trailing_bytes",
    "duplicate_key",      "invalid_metadata",    "invalid_name",
    "too_many_tensors",   "missing_field",       "unknown_field",
    "unknown_dtype",      "invalid_shape",       "invalid_offset",
    "size_overflow",      "misaligned_sub_byte", "size_mismatch",
    "file_size_mismatch", "unsupported_dtype",   "io_error",
    "non_finite",         "out_of_memory",
};

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}
bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::string header_tensor_label(std::string_view name) {
  return "tensor '" + printable(name) + "'";
}

// Walks the header's events and fills a layout (S5-S14), stopping at the
// first violation in file order.
class HeaderParser {
 public:
  HeaderParser(std::string_view header, std::string_view origin, const SafetensorsOptions& options)
      : reader_(header, reader_options()), origin_(origin), options_(options) {}

  Status run(SafetensorsLayout& layout) {
    if (!next()) return json_failure();  // '{' (the reader enforces S5)
    while (true) {
      if (!next()) return json_failure();
      if (event_.type == JsonEventType::object_end) break;
      const std::string key = event_.text;
      const std::size_t key_offset = event_.offset;
      if (key == "__metadata__") {
        ACEFIT_TRY(parse_metadata(layout));
        continue;
      }
      ACEFIT_TRY(check_name(key, key_offset));
      if (layout.tensors.size() >= options_.max_tensors) {
        return fail(SafetensorsError::too_many_tensors,
                    "tensor " + std::to_string(layout.tensors.size() + 1) + " ('" +
                        printable(key, 40) + "' at header byte " + std::to_string(key_offset) +
                        ") exceeds the limit of " + std::to_string(options_.max_tensors) +
                        " tensors");
      }
      SafetensorsTensorInfo info;
      info.name = key;
      ACEFIT_TRY(parse_entry(info, key_offset));
      layout.tensors.push_back(std::move(info));
    }
    if (!next()) return json_failure();  // trailing bytes (S6)
    return Status::ok_status();
  }

 private:
  static JsonReaderOptions reader_options() {
    JsonReaderOptions options;
    options.max_depth = 3;
    options.allow_leading_whitespace = false;
    options.require_object_root = true;
    options.trailing = JsonTrailing::spaces_only;
    return options;
  }

  bool next() { return reader_.next(event_); }

  Status fail(SafetensorsError error, std::string detail) {
    return safetensors_status(error, origin_, std::move(detail));
  }

  Status json_failure() {
    const JsonError& error = reader_.error();
    SafetensorsError code = SafetensorsError::header_syntax;
    switch (error.kind) {
      case JsonErrorKind::not_utf8:
        code = SafetensorsError::header_not_utf8;
        break;
      case JsonErrorKind::syntax:
        code = SafetensorsError::header_syntax;
        break;
      case JsonErrorKind::trailing:
        code = SafetensorsError::header_trailing_bytes;
        break;
      case JsonErrorKind::duplicate_key:
        code = SafetensorsError::duplicate_key;
        break;
      case JsonErrorKind::out_of_memory:
        code = SafetensorsError::out_of_memory;
        break;
    }
    const std::string_view inside = reader_.current_object_key();
    std::string where;
    if (error.kind != JsonErrorKind::duplicate_key && !inside.empty()) {
      where = inside == "__metadata__" ? std::string(" (inside __metadata__)")
                                       : " (inside " + header_tensor_label(inside) + ")";
    }
    return fail(code, "header " + error.message + where + "; the header starts at file offset 8");
  }

  Status check_name(const std::string& name, std::size_t offset) {
    const std::string at = " at header byte " + std::to_string(offset);
    if (name.empty()) return fail(SafetensorsError::invalid_name, "empty tensor name" + at);
    if (name.size() > kSafetensorsMaxNameBytes) {
      return fail(SafetensorsError::invalid_name, "tensor name '" + printable(name, 40) + "'" + at +
                                                      " is " + std::to_string(name.size()) +
                                                      " bytes, above the limit of " +
                                                      std::to_string(kSafetensorsMaxNameBytes));
    }
    if (name.find('\0') != std::string::npos) {
      return fail(SafetensorsError::invalid_name,
                  "tensor name '" + printable(name) + "'" + at + " contains U+0000");
    }
    return Status::ok_status();
  }

  Status parse_metadata(SafetensorsLayout& layout) {
    if (!next()) return json_failure();
    if (event_.type != JsonEventType::object_begin) {
      return fail(SafetensorsError::invalid_metadata,
                  "__metadata__ at header byte " + std::to_string(event_.offset) + " is " +
                      describe_json_value(event_) + ", not an object of strings");
    }
    while (true) {
      if (!next()) return json_failure();
      if (event_.type == JsonEventType::object_end) return Status::ok_status();
      std::string key = event_.text;
      if (!next()) return json_failure();
      if (event_.type != JsonEventType::string) {
        return fail(SafetensorsError::invalid_metadata,
                    "__metadata__ key '" + printable(key) + "' at header byte " +
                        std::to_string(event_.offset) + " holds " + describe_json_value(event_) +
                        "; only string values are allowed");
      }
      layout.metadata.emplace_back(std::move(key), std::move(event_.text));
    }
  }

  // Reads an array of u64 integer literals into `out` (at most `max` of them).
  Status parse_integers(const SafetensorsTensorInfo& info, std::string_view field,
                        SafetensorsError error, std::size_t max, std::vector<std::uint64_t>& out) {
    const std::string where = header_tensor_label(info.name) + ": " + std::string(field);
    if (!next()) return json_failure();
    if (event_.type != JsonEventType::array_begin) {
      return fail(error, where + " at header byte " + std::to_string(event_.offset) + " is " +
                             describe_json_value(event_) + ", not an array of integers");
    }
    while (true) {
      if (!next()) return json_failure();
      if (event_.type == JsonEventType::array_end) return Status::ok_status();
      if (event_.type != JsonEventType::integer) {
        return fail(error, where + " element " + std::to_string(out.size()) + " at header byte " +
                               std::to_string(event_.offset) + " is " +
                               describe_json_value(event_) +
                               "; it must be an integer literal in [0, 2^64-1] with no sign, "
                               "fraction or exponent");
      }
      if (out.size() >= max) {
        return fail(error, where + " has more than " + std::to_string(max) + " elements (element " +
                               std::to_string(out.size()) + " at header byte " +
                               std::to_string(event_.offset) + ")");
      }
      out.push_back(event_.integer);
    }
  }

  Status parse_entry(SafetensorsTensorInfo& info, std::size_t key_offset) {
    const std::string label = header_tensor_label(info.name);
    if (!next()) return json_failure();
    if (event_.type != JsonEventType::object_begin) {
      return fail(SafetensorsError::missing_field,
                  label + " (header byte " + std::to_string(key_offset) + ") is " +
                      describe_json_value(event_) +
                      ", not an object with dtype, shape and data_offsets");
    }
    bool have_dtype = false, have_shape = false, have_offsets = false;
    while (true) {
      if (!next()) return json_failure();
      if (event_.type == JsonEventType::object_end) break;
      const std::string field = event_.text;
      const std::size_t field_offset = event_.offset;
      if (field == "dtype") {
        if (!next()) return json_failure();
        const auto dtype = event_.type == JsonEventType::string
                               ? parse_safetensors_dtype(event_.text)
                               : std::nullopt;
        if (!dtype) {
          return fail(SafetensorsError::unknown_dtype,
                      label + ": dtype at header byte " + std::to_string(event_.offset) + " is " +
                          describe_json_value(event_) +
                          ", not one of the 22 reference dtype names");
        }
        info.dtype = *dtype;
        have_dtype = true;
      } else if (field == "shape") {
        ACEFIT_TRY(parse_integers(info, "shape", SafetensorsError::invalid_shape,
                                  kSafetensorsMaxRank, info.shape));
        have_shape = true;
      } else if (field == "data_offsets") {
        std::vector<std::uint64_t> offsets;
        ACEFIT_TRY(
            parse_integers(info, "data_offsets", SafetensorsError::invalid_offset, 2, offsets));
        if (offsets.size() != 2) {
          return fail(SafetensorsError::invalid_offset, label + ": data_offsets has " +
                                                            std::to_string(offsets.size()) +
                                                            " elements; it must be [begin, end]");
        }
        if (offsets[1] < offsets[0]) {
          return fail(SafetensorsError::invalid_offset,
                      label + ": data_offsets [" + std::to_string(offsets[0]) + ", " +
                          std::to_string(offsets[1]) + "] ends before it begins");
        }
        info.data_begin = offsets[0];
        info.data_end = offsets[1];
        have_offsets = true;
      } else {
        return fail(SafetensorsError::unknown_field,
                    label + ": unknown key '" + printable(field, 40) + "' at header byte " +
                        std::to_string(field_offset) +
                        " (a tensor entry has exactly dtype, shape and data_offsets)");
      }
    }
    const char* missing = !have_dtype     ? "dtype"
                          : !have_shape   ? "shape"
                          : !have_offsets ? "data_offsets"
                                          : nullptr;
    if (missing) {
      return fail(
          SafetensorsError::missing_field,
          label + " (header byte " + std::to_string(key_offset) + ") has no '" + missing + "' key");
    }
    return Status::ok_status();
  }

  JsonReader reader_;
  JsonEvent event_;
  std::string_view origin_;
  const SafetensorsOptions& options_;
};

// S15-S17 for one tensor.
Status check_tensor_size(SafetensorsTensorInfo& info, std::string_view origin) {
  const std::string label = header_tensor_label(info.name);
  std::uint64_t nonzero_product = 1;
  bool has_zero = false;
  for (const std::uint64_t dim : info.shape) {
    if (dim == 0) {
      has_zero = true;
    } else if (!checked_mul(nonzero_product, dim, nonzero_product)) {
      return safetensors_status(SafetensorsError::size_overflow, origin,
                                label + ": shape " + shape_text(info.shape) +
                                    " has more than 2^64-1 elements (checked ignoring zero "
                                    "dimensions, so the order of dimensions does not matter)");
    }
  }
  info.element_count = has_zero ? 0 : nonzero_product;
  const std::uint32_t width = safetensors_dtype_bits(info.dtype);
  std::uint64_t bits = 0;
  if (!checked_mul(info.element_count, width, bits)) {
    return safetensors_status(SafetensorsError::size_overflow, origin,
                              label + ": shape " + shape_text(info.shape) + " of " +
                                  std::string(safetensors_dtype_name(info.dtype)) +
                                  " holds more than 2^64-1 bits");
  }
  if (bits % 8 != 0) {
    return safetensors_status(SafetensorsError::misaligned_sub_byte, origin,
                              label + ": shape " + shape_text(info.shape) + " of " +
                                  std::string(safetensors_dtype_name(info.dtype)) + " is " +
                                  std::to_string(bits) + " bits, not a whole number of bytes");
  }
  info.byte_size = bits / 8;
  const std::uint64_t span = info.data_end - info.data_begin;
  if (span != info.byte_size) {
    return safetensors_status(SafetensorsError::size_mismatch, origin,
                              label + ": span [" + std::to_string(info.data_begin) + ", " +
                                  std::to_string(info.data_end) + ") is " + std::to_string(span) +
                                  " bytes, shape " + shape_text(info.shape) + " of " +
                                  std::string(safetensors_dtype_name(info.dtype)) + " needs " +
                                  std::to_string(info.byte_size));
  }
  return Status::ok_status();
}

// S18 and S19.
Status check_layout(SafetensorsLayout& layout, std::string_view origin) {
  std::vector<std::size_t> order(layout.tensors.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& ta = layout.tensors[a];
    const auto& tb = layout.tensors[b];
    if (ta.data_begin != tb.data_begin) return ta.data_begin < tb.data_begin;
    if (ta.data_end != tb.data_end) return ta.data_end < tb.data_end;
    return a < b;
  });
  std::uint64_t expected = 0;
  const SafetensorsTensorInfo* previous = nullptr;
  for (const std::size_t i : order) {
    const auto& t = layout.tensors[i];
    if (t.data_begin != expected) {
      std::string detail = header_tensor_label(t.name) + ": data_offsets [" +
                           std::to_string(t.data_begin) + ", " + std::to_string(t.data_end) + "]";
      if (!previous) {
        detail += " make the first tensor in the data section begin at " +
                  std::to_string(t.data_begin) + ", not 0";
      } else {
        detail += (t.data_begin < expected ? " overlap " : " leave a gap after ") +
                  header_tensor_label(previous->name) + ", which ends at " +
                  std::to_string(expected);
      }
      return safetensors_status(SafetensorsError::invalid_offset, origin, detail);
    }
    expected = t.data_end;
    previous = &t;
  }
  std::uint64_t end = 0;
  const bool overflow = !checked_add(layout.data_offset(), expected, end);
  if (overflow || end != layout.file_bytes) {
    std::string detail = "the header (8 + " + std::to_string(layout.header_bytes) +
                         " bytes) and the tensor data (" + std::to_string(expected) +
                         " bytes) need ";
    detail += overflow ? std::string("more than 2^64-1") : std::to_string(end);
    detail += " bytes but the file is " + std::to_string(layout.file_bytes) + " bytes";
    if (overflow || end > layout.file_bytes) {
      detail += " (truncated, or the offsets point past the end)";
    } else {
      detail += " (" + std::to_string(layout.file_bytes - end) + " bytes after the last tensor)";
    }
    return safetensors_status(SafetensorsError::file_size_mismatch, origin, detail);
  }
  std::uint64_t total = 0;
  for (auto& t : layout.tensors) {
    t.file_offset = layout.data_offset() + t.data_begin;  // <= F, checked above
    total += t.byte_size;
  }
  layout.total_tensor_bytes = total;
  return Status::ok_status();
}

}  // namespace

std::string_view safetensors_dtype_name(SafetensorsDtype dtype) {
  return kDtypes[static_cast<std::size_t>(dtype)].name;
}

std::optional<SafetensorsDtype> parse_safetensors_dtype(std::string_view name) {
  for (const auto& entry : kDtypes) {
    if (entry.name == name) return entry.dtype;
  }
  return std::nullopt;
}

std::uint32_t safetensors_dtype_bits(SafetensorsDtype dtype) {
  return kDtypes[static_cast<std::size_t>(dtype)].bits;
}

std::optional<DType> safetensors_compute_dtype(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::f32:
      return DType::f32;
    case SafetensorsDtype::f16:
      return DType::f16;
    case SafetensorsDtype::bf16:
      return DType::bf16;
    case SafetensorsDtype::i8:
      return DType::i8;
    case SafetensorsDtype::i32:
      return DType::i32;
    case SafetensorsDtype::i64:
      return DType::i64;
    default:
      return std::nullopt;
  }
}

std::string_view safetensors_error_name(SafetensorsError error) {
  return kErrorNames[static_cast<std::size_t>(error)];
}

ErrorCode safetensors_error_status_code(SafetensorsError error) {
  switch (error) {
    case SafetensorsError::io_error:
      return ErrorCode::io;
    case SafetensorsError::unsupported_dtype:
      return ErrorCode::unsupported;
    case SafetensorsError::out_of_memory:
      return ErrorCode::out_of_memory;
    default:
      return ErrorCode::corrupt;
  }
}

Status safetensors_status(SafetensorsError error, std::string_view origin, std::string detail) {
  std::string message;
  if (!origin.empty()) message = printable(origin, 4096) + ": ";
  message += safetensors_error_name(error);
  message += ": ";
  message += detail;
  return Status(safetensors_error_status_code(error), std::move(message));
}

std::string_view find_stable_code(std::string_view message,
                                  std::span<const std::string_view> codes) {
  std::size_t best = std::string_view::npos;
  std::string_view found;
  for (const std::string_view name : codes) {
    std::size_t pos = 0;
    while ((pos = message.find(name, pos)) != std::string_view::npos) {
      const bool starts = pos == 0 || (pos >= 2 && message.substr(pos - 2, 2) == ": ");
      const bool ends = message.substr(pos + name.size(), 2) == ": ";
      if (starts && ends) break;
      ++pos;
    }
    if (pos < best) {
      best = pos;
      found = name;
    }
  }
  return found;
}

std::string_view safetensors_error_code(const Status& status) {
  return find_stable_code(status.message(), kErrorNames);
}

std::optional<std::size_t> SafetensorsLayout::index_of(std::string_view name) const {
  const auto it = by_name.find(std::string(name));
  if (it == by_name.end()) return std::nullopt;
  return it->second;
}

Expected<SafetensorsLayout> parse_safetensors_header(std::string_view header,
                                                     std::uint64_t file_bytes,
                                                     std::string_view origin,
                                                     const SafetensorsOptions& options) {
  try {
    SafetensorsLayout layout;
    layout.file_bytes = file_bytes;
    layout.header_bytes = header.size();
    HeaderParser parser(header, origin, options);
    ACEFIT_TRY(parser.run(layout));
    for (auto& tensor : layout.tensors) ACEFIT_TRY(check_tensor_size(tensor, origin));
    ACEFIT_TRY(check_layout(layout, origin));
    layout.by_name.reserve(layout.tensors.size());
    for (std::size_t i = 0; i < layout.tensors.size(); ++i) {
      layout.by_name.emplace(layout.tensors[i].name, i);
    }
    return layout;
  } catch (const std::bad_alloc&) {
    return safetensors_status(
        SafetensorsError::out_of_memory, origin,
        "out of memory while parsing a header of " + std::to_string(header.size()) + " bytes");
  }
}

Expected<std::uint64_t> check_safetensors_prefix(std::span<const std::uint8_t> first_bytes,
                                                 std::uint64_t file_bytes,
                                                 std::string_view origin) {
  if (file_bytes < 8 || first_bytes.size() < 8) {  // S1
    return safetensors_status(SafetensorsError::header_too_small, origin,
                              "the file is " + std::to_string(file_bytes) +
                                  " bytes; it needs at least 8 for the header length");
  }
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | first_bytes[static_cast<std::size_t>(i)];
  if (n > kSafetensorsMaxHeaderBytes) {  // S2, as u64 before any narrowing
    return safetensors_status(SafetensorsError::header_too_large, origin,
                              "header length " + std::to_string(n) + " exceeds the limit of " +
                                  std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
  }
  if (8 + n > file_bytes) {  // S3 (no overflow: n <= 10^8)
    return safetensors_status(SafetensorsError::header_out_of_bounds, origin,
                              "header length " + std::to_string(n) + " needs " +
                                  std::to_string(8 + n) + " bytes but the file is " +
                                  std::to_string(file_bytes) + " bytes");
  }
  return n;
}

Expected<SafetensorsLayout> validate_safetensors_bytes(std::span<const std::uint8_t> file,
                                                       std::string_view origin,
                                                       const SafetensorsOptions& options) {
  ACEFIT_ASSIGN(const std::uint64_t n,
                check_safetensors_prefix(file.first(std::min<std::size_t>(file.size(), 8)),
                                         file.size(), origin));
  const std::string_view header(reinterpret_cast<const char*>(file.data()) + 8,
                                static_cast<std::size_t>(n));
  return parse_safetensors_header(header, file.size(), origin, options);
}

Status check_computable(const SafetensorsTensorInfo& tensor, std::string_view origin) {
  if (safetensors_compute_dtype(tensor.dtype)) return Status::ok_status();
  return safetensors_status(SafetensorsError::unsupported_dtype, origin,
                            header_tensor_label(tensor.name) + " has dtype " +
                                std::string(safetensors_dtype_name(tensor.dtype)) +
                                ", which acefit cannot compute with (it computes with F32, F16, "
                                "BF16, I8, I32 and I64)");
}

}  // namespace acefit
