#include "io/json/config_json.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace acefit {

struct ConfigJson::Document {
  nlohmann::json root;
};

namespace {

constexpr std::size_t kMaxConfigBytes = 16u << 20;

// "line L, column C" of a byte offset (1-based, columns in bytes).
std::string line_column(const std::string& text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::string shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

}  // namespace

ConfigJson::ConfigJson(ConfigJson&&) noexcept = default;
ConfigJson& ConfigJson::operator=(ConfigJson&&) noexcept = default;
ConfigJson::~ConfigJson() = default;

Expected<ConfigJson> ConfigJson::parse(const std::string& text, const std::string& origin) {
  ConfigJson config;
  config.origin_ = origin;
  // Duplicate keys: the parser callback sees each key; one set per open object.
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  std::size_t duplicate_depth = 0;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == Event::key && !open_objects.empty() && !duplicate) {
      const std::string key = parsed.get<std::string>();
      if (!open_objects.back().insert(key).second) {
        duplicate = key;
        duplicate_depth = static_cast<std::size_t>(depth);
      }
    }
    return true;
  };
  try {
    auto document = std::make_unique<Document>();
    document->root = nlohmann::json::parse(text, callback, /*allow_exceptions=*/true,
                                           /*ignore_comments=*/false);
    if (duplicate) {
      return Status(ErrorCode::corrupt, origin + ": duplicate key \"" + *duplicate + "\" (depth " +
                                            std::to_string(duplicate_depth) + ")");
    }
    if (!document->root.is_object()) {
      return Status(ErrorCode::corrupt, origin + ": the top level must be a JSON object");
    }
    config.document_ = std::move(document);
  } catch (const nlohmann::json::parse_error& error) {
    std::string what = error.what();
    const auto colon = what.rfind(": ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    return Status(ErrorCode::corrupt, origin + ": invalid JSON at " +
                                          line_column(text, error.byte > 0 ? error.byte - 1 : 0) +
                                          ": " + what);
  } catch (const nlohmann::json::exception& error) {
    return Status(ErrorCode::corrupt, origin + ": invalid JSON: " + error.what());
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, origin + ": out of host memory while parsing");
  }
  return config;
}

Expected<ConfigJson> ConfigJson::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::not_found, path + ": cannot open (missing or unreadable)");
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) return Status(ErrorCode::io, path + ": cannot read its size");
  if (static_cast<std::uint64_t>(size) > kMaxConfigBytes) {
    return Status(ErrorCode::corrupt, path + ": " + std::to_string(static_cast<long long>(size)) +
                                          " bytes is larger than the 16 MiB a config may have");
  }
  in.seekg(0);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), size)) return Status(ErrorCode::io, path + ": read failed");
  return parse(text, path);
}

bool ConfigJson::has(const std::string& key) const {
  const auto& root = document_->root;
  return root.contains(key) && !root.at(key).is_null();
}

Status ConfigJson::key_error(const std::string& key, const std::string& what) const {
  return Status(ErrorCode::corrupt, origin_ + ": key \"" + key + "\" " + what);
}

Expected<std::int64_t> ConfigJson::integer(const std::string& key, std::int64_t min,
                                           std::int64_t max, std::optional<std::int64_t> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const auto& value = document_->root.at(key);
  if (!value.is_number_integer()) return key_error(key, "must be an integer, got " + shown(value));
  if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    return key_error(key, "is " + shown(value) + ", above the maximum " + std::to_string(max));
  }
  const std::int64_t v = value.get<std::int64_t>();
  if (v < min || v > max) {
    return key_error(key, "is " + std::to_string(v) + ", outside " + std::to_string(min) + ".." +
                              std::to_string(max));
  }
  return v;
}

Expected<double> ConfigJson::number(const std::string& key, double min, double max,
                                    std::optional<double> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const auto& value = document_->root.at(key);
  if (!value.is_number()) return key_error(key, "must be a number, got " + shown(value));
  const double v = value.get<double>();
  if (!std::isfinite(v) || v < min || v > max) {
    return key_error(key, "is " + shown(value) + ", outside the allowed range");
  }
  return v;
}

Expected<bool> ConfigJson::boolean(const std::string& key, std::optional<bool> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const auto& value = document_->root.at(key);
  if (!value.is_boolean()) return key_error(key, "must be true or false, got " + shown(value));
  return value.get<bool>();
}

Expected<std::string> ConfigJson::string(const std::string& key,
                                         std::optional<std::string> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const auto& value = document_->root.at(key);
  if (!value.is_string()) return key_error(key, "must be a string, got " + shown(value));
  return value.get<std::string>();
}

Expected<std::vector<std::int64_t>> ConfigJson::integer_list(
    const std::string& key, std::int64_t min, std::int64_t max, std::size_t max_count,
    std::optional<std::vector<std::int64_t>> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const auto& value = document_->root.at(key);
  if (!value.is_array() || value.empty() || value.size() > max_count) {
    return key_error(key, "must be a list of 1 to " + std::to_string(max_count) + " integers");
  }
  std::vector<std::int64_t> out;
  for (const auto& item : value) {
    if (!item.is_number_integer())
      return key_error(key, "holds " + shown(item) + ", not an integer");
    const std::int64_t v =
        item.is_number_unsigned() && item.get<std::uint64_t>() > static_cast<std::uint64_t>(max)
            ? max + 1
            : item.get<std::int64_t>();
    if (v < min || v > max) {
      return key_error(key, "holds " + shown(item) + ", outside " + std::to_string(min) + ".." +
                                std::to_string(max));
    }
    out.push_back(v);
  }
  return out;
}

Expected<std::vector<std::string>> ConfigJson::string_list(const std::string& key,
                                                           std::size_t max_count,
                                                           std::vector<std::string> fallback) {
  read_.insert(key);
  if (!has(key)) return fallback;
  const auto& value = document_->root.at(key);
  if (!value.is_array() || value.size() > max_count) {
    return key_error(key, "must be a list of at most " + std::to_string(max_count) + " strings");
  }
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string()) return key_error(key, "holds " + shown(item) + ", not a string");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Expected<ConfigJson> ConfigJson::object(const std::string& key) {
  read_.insert(key);
  if (!has(key)) return key_error(key, "is missing");
  const auto& value = document_->root.at(key);
  if (!value.is_object()) return key_error(key, "must be an object, got " + shown(value));
  ConfigJson nested;
  nested.origin_ = origin_ + ": " + key;
  nested.document_ = std::make_unique<Document>(Document{value});
  return nested;
}

Expected<std::vector<ConfigJson>> ConfigJson::object_list(const std::string& key,
                                                          std::size_t max_count) {
  read_.insert(key);
  if (!has(key)) return key_error(key, "is missing");
  const auto& value = document_->root.at(key);
  if (!value.is_array() || value.empty() || value.size() > max_count) {
    return key_error(key, "must be a list of 1 to " + std::to_string(max_count) + " objects");
  }
  std::vector<ConfigJson> out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_object()) {
      return key_error(
          key, "holds " + shown(value[i]) + " at index " + std::to_string(i) + ", not an object");
    }
    ConfigJson nested;
    nested.origin_ = origin_ + ": " + key + "[" + std::to_string(i) + "]";
    nested.document_ = std::make_unique<Document>(Document{value[i]});
    out.push_back(std::move(nested));
  }
  return out;
}

std::vector<std::string> ConfigJson::keys() const {
  std::vector<std::string> out;
  for (const auto& [key, value] : document_->root.items()) out.push_back(key);
  return out;
}

std::vector<std::string> ConfigJson::unread_keys() const {
  std::vector<std::string> keys;
  for (const auto& [key, value] : document_->root.items()) {
    if (read_.count(key) == 0) keys.push_back(key);
  }
  return keys;
}

}  // namespace acefit
