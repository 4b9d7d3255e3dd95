#include "io/safetensors/safetensors_writer.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace acefit {

namespace {

// product(shape) * bits / 8 without overflow, or nullopt.
std::optional<std::uint64_t> byte_size_of(const std::vector<std::uint64_t>& shape,
                                          std::uint32_t bits) {
  std::uint64_t elements = 1;
  for (const std::uint64_t dim : shape) {
    if (dim != 0 && elements > std::numeric_limits<std::uint64_t>::max() / dim) return {};
    elements *= dim;
  }
  if (elements > std::numeric_limits<std::uint64_t>::max() / bits) return {};
  const std::uint64_t total_bits = elements * bits;
  if (total_bits % 8 != 0) return {};
  return total_bits / 8;
}

Status check_entry(const SafetensorsEntry& entry, std::unordered_set<std::string>& seen) {
  if (entry.name.empty()) return invalid_argument("safetensors writer: empty tensor name");
  if (entry.name.size() > kSafetensorsMaxNameBytes) {
    return invalid_argument("safetensors writer: tensor name longer than " +
                            std::to_string(kSafetensorsMaxNameBytes) + " bytes");
  }
  if (!seen.insert(entry.name).second) {
    return invalid_argument("safetensors writer: duplicate tensor " + entry.name);
  }
  if (entry.shape.size() > kSafetensorsMaxRank) {
    return invalid_argument("safetensors writer: tensor " + entry.name + " has rank " +
                            std::to_string(entry.shape.size()));
  }
  const auto bytes = byte_size_of(entry.shape, safetensors_dtype_bits(entry.dtype));
  if (!bytes || *bytes != entry.bytes.size()) {
    return invalid_argument("safetensors writer: tensor " + entry.name + " has " +
                            std::to_string(entry.bytes.size()) +
                            " bytes, which does not match its shape and dtype");
  }
  return Status();
}

}  // namespace

Expected<std::string> safetensors_header_bytes(
    std::span<const SafetensorsEntry> entries,
    const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::unordered_set<std::string> seen;
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) {
      if (meta.contains(key)) return invalid_argument("safetensors writer: duplicate metadata key");
      meta[key] = value;
    }
    header["__metadata__"] = std::move(meta);
  }
  std::uint64_t offset = 0;
  for (const SafetensorsEntry& entry : entries) {
    ACEFIT_TRY(check_entry(entry, seen));
    if (entry.name == "__metadata__") {
      return invalid_argument("safetensors writer: __metadata__ is not a tensor name");
    }
    header[entry.name] = {{"dtype", std::string(safetensors_dtype_name(entry.dtype))},
                          {"shape", entry.shape},
                          {"data_offsets", {offset, offset + entry.bytes.size()}}};
    offset += entry.bytes.size();
  }
  std::string json;
  try {
    json = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    return invalid_argument("safetensors writer: a tensor name or metadata string is not UTF-8");
  }
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const std::uint64_t length = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return out + json;
}

Status write_safetensors(const std::string& path, std::span<const SafetensorsEntry> entries,
                         const std::vector<std::pair<std::string, std::string>>& metadata,
                         const AtomicWriteOptions& options) {
  ACEFIT_ASSIGN(const std::string header, safetensors_header_bytes(entries, metadata));
  ACEFIT_ASSIGN(AtomicFileWriter writer, AtomicFileWriter::create(path, options));
  ACEFIT_TRY(writer.write({reinterpret_cast<const std::uint8_t*>(header.data()), header.size()}));
  for (const SafetensorsEntry& entry : entries) {
    ACEFIT_TRY(writer.write(
        {reinterpret_cast<const std::uint8_t*>(entry.bytes.data()), entry.bytes.size()}));
  }
  return writer.commit();
}

}  // namespace acefit
