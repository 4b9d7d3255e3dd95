// config.json on the strict reader (io/json/strict_json.h): no recursion on
// input depth (the DOM's depth is limited, so its destruction is bounded,
// and messages render values with an explicit stack), time linear in the
// input and memory proportional to it.
#include "io/json/config_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <new>
#include <vector>

#include "io/file/regular_file.h"
#include "io/json/strict_json.h"

namespace acefit {

namespace {

constexpr std::size_t kMaxConfigBytes = 16u << 20;
// Containers open at once in a config (Hugging Face configs nest a few levels).
constexpr std::size_t kMaxConfigDepth = 64;
// Values and keys in a config (the shipped ones have a few hundred; a tier
// table about 500). Bounds the DOM (about 150 bytes a value) to well under
// 100 MB whatever the file holds.
constexpr std::size_t kMaxConfigValues = 500000;

// "line L, column C" of a byte offset (1-based, columns in bytes).
std::string line_column(std::string_view text, std::size_t offset) {
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

// The raw (still escaped) key of the string token at `offset`, for messages.
std::string_view raw_key_at(std::string_view text, std::size_t offset) {
  if (offset >= text.size() || text[offset] != '"') return {};
  std::size_t end = offset + 1;
  while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
  return text.substr(offset + 1, std::min(end, text.size()) - offset - 1);
}

std::string shown(const JsonValue& value) {
  return json_value_preview(value, 40);
}

// An integer literal (no fraction or exponent) of either sign.
struct IntegerValue {
  bool is_integer = false;
  bool above = false;  // beyond int64 upwards
  bool below = false;  // beyond int64 downwards
  std::int64_t value = 0;
};

IntegerValue as_integer(const JsonValue& value) {
  IntegerValue out;
  if (value.kind == JsonKind::integer) {
    out.is_integer = true;
    if (value.integer > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      out.above = true;
    } else {
      out.value = static_cast<std::int64_t>(value.integer);
    }
    return out;
  }
  if (value.kind != JsonKind::number) return out;
  const std::string& literal = value.text;
  if (literal.find_first_of(".eE") != std::string::npos) return out;
  out.is_integer = true;
  const auto [ptr, ec] =
      std::from_chars(literal.data(), literal.data() + literal.size(), out.value);
  (void)ptr;
  if (ec != std::errc()) {
    out.below = literal[0] == '-';
    out.above = !out.below;
  }
  return out;
}

}  // namespace

// The parsed document, shared by a config and the nested configs made from it.
struct ConfigJson::Document {
  std::shared_ptr<const JsonValue> root;
  const JsonValue* object = nullptr;           // this config's object, inside root
  std::vector<const JsonMember*> sorted_keys;  // its members, by key

  void index() {
    sorted_keys.clear();
    sorted_keys.reserve(object->members.size());
    for (const JsonMember& member : object->members) sorted_keys.push_back(&member);
    std::sort(sorted_keys.begin(), sorted_keys.end(),
              [](const JsonMember* a, const JsonMember* b) { return a->key < b->key; });
  }

  // The member named `key`, or nullptr.
  const JsonValue* find(std::string_view key) const {
    const auto it = std::lower_bound(
        sorted_keys.begin(), sorted_keys.end(), key,
        [](const JsonMember* member, std::string_view k) { return member->key < k; });
    if (it == sorted_keys.end() || (*it)->key != key) return nullptr;
    return &(*it)->value;
  }
};

ConfigJson::ConfigJson(ConfigJson&&) noexcept = default;
ConfigJson& ConfigJson::operator=(ConfigJson&&) noexcept = default;
ConfigJson::~ConfigJson() = default;

Expected<ConfigJson> ConfigJson::parse(const std::string& text, const std::string& origin) {
  ConfigJson config;
  config.origin_ = origin;
  try {
    // A UTF-8 byte order mark is skipped (offsets stay those of the file).
    std::string_view body = text;
    std::size_t skipped = 0;
    if (body.substr(0, 3) == "\xEF\xBB\xBF") skipped = 3;
    JsonReaderOptions options;
    options.max_depth = kMaxConfigDepth;
    auto root = std::make_shared<JsonValue>();
    JsonError error;
    if (!parse_json(body.substr(skipped), options, *root, error, kMaxConfigValues)) {
      const std::size_t offset = error.offset + skipped;
      if (error.kind == JsonErrorKind::out_of_memory) {
        return Status(ErrorCode::out_of_memory, origin + ": out of host memory while parsing");
      }
      if (error.kind == JsonErrorKind::duplicate_key) {
        return Status(ErrorCode::corrupt, origin + ": duplicate key \"" +
                                              printable(raw_key_at(text, offset)) + "\" at " +
                                              line_column(text, offset));
      }
      return Status(ErrorCode::corrupt, origin + ": invalid JSON at " + line_column(text, offset) +
                                            ": " + error.message);
    }
    if (root->kind != JsonKind::object) {
      return Status(ErrorCode::corrupt, origin + ": the top level must be a JSON object");
    }
    auto document = std::make_unique<Document>();
    document->object = root.get();
    document->root = std::move(root);
    document->index();
    config.document_ = std::move(document);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, origin + ": out of host memory while parsing");
  }
  return config;
}

Expected<ConfigJson> ConfigJson::load(const std::string& path) {
  ACEFIT_ASSIGN(const std::string text, read_regular_file(path, kMaxConfigBytes, "a config"));
  return parse(text, path);
}

bool ConfigJson::has(const std::string& key) const {
  const JsonValue* value = document_->find(key);
  return value != nullptr && value->kind != JsonKind::null;
}

Status ConfigJson::key_error(const std::string& key, const std::string& what) const {
  return Status(ErrorCode::corrupt, origin_ + ": key \"" + key + "\" " + what);
}

Expected<std::optional<std::int64_t>> ConfigJson::optional_integer(const std::string& key,
                                                                   std::int64_t min,
                                                                   std::int64_t max) {
  read_.insert(key);
  if (!has(key)) return std::optional<std::int64_t>();
  ACEFIT_ASSIGN(const std::int64_t value, integer(key, min, max, std::nullopt));
  return std::optional<std::int64_t>(value);
}

Expected<std::int64_t> ConfigJson::integer(const std::string& key, std::int64_t min,
                                           std::int64_t max, std::optional<std::int64_t> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const JsonValue& value = *document_->find(key);
  const IntegerValue v = as_integer(value);
  if (!v.is_integer) return key_error(key, "must be an integer, got " + shown(value));
  if (v.above) {
    return key_error(key, "is " + shown(value) + ", above the maximum " + std::to_string(max));
  }
  if (v.below) {
    return key_error(key, "is " + shown(value) + ", below the minimum " + std::to_string(min));
  }
  if (v.value < min || v.value > max) {
    return key_error(key, "is " + std::to_string(v.value) + ", outside " + std::to_string(min) +
                              ".." + std::to_string(max));
  }
  return v.value;
}

Expected<double> ConfigJson::number(const std::string& key, double min, double max,
                                    std::optional<double> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const JsonValue& value = *document_->find(key);
  if (value.kind != JsonKind::integer && value.kind != JsonKind::number) {
    return key_error(key, "must be a number, got " + shown(value));
  }
  const double v = value.number;
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
  const JsonValue& value = *document_->find(key);
  if (value.kind != JsonKind::boolean) {
    return key_error(key, "must be true or false, got " + shown(value));
  }
  return value.boolean;
}

Expected<std::string> ConfigJson::string(const std::string& key,
                                         std::optional<std::string> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const JsonValue& value = *document_->find(key);
  if (value.kind != JsonKind::string)
    return key_error(key, "must be a string, got " + shown(value));
  return value.text;
}

Expected<std::vector<std::int64_t>> ConfigJson::integer_list(
    const std::string& key, std::int64_t min, std::int64_t max, std::size_t max_count,
    std::optional<std::vector<std::int64_t>> fallback) {
  read_.insert(key);
  if (!has(key)) {
    if (fallback) return *fallback;
    return key_error(key, "is missing");
  }
  const JsonValue& value = *document_->find(key);
  if (value.kind != JsonKind::array || value.items.empty() || value.items.size() > max_count) {
    return key_error(key, "must be a list of 1 to " + std::to_string(max_count) + " integers");
  }
  std::vector<std::int64_t> out;
  out.reserve(value.items.size());
  for (const JsonValue& item : value.items) {
    const IntegerValue v = as_integer(item);
    if (!v.is_integer) return key_error(key, "holds " + shown(item) + ", not an integer");
    if (v.above || v.below || v.value < min || v.value > max) {
      return key_error(key, "holds " + shown(item) + ", outside " + std::to_string(min) + ".." +
                                std::to_string(max));
    }
    out.push_back(v.value);
  }
  return out;
}

Expected<std::vector<std::string>> ConfigJson::string_list(const std::string& key,
                                                           std::size_t max_count,
                                                           std::vector<std::string> fallback) {
  read_.insert(key);
  if (!has(key)) return fallback;
  const JsonValue& value = *document_->find(key);
  if (value.kind != JsonKind::array || value.items.size() > max_count) {
    return key_error(key, "must be a list of at most " + std::to_string(max_count) + " strings");
  }
  std::vector<std::string> out;
  out.reserve(value.items.size());
  for (const JsonValue& item : value.items) {
    if (item.kind != JsonKind::string) {
      return key_error(key, "holds " + shown(item) + ", not a string");
    }
    out.push_back(item.text);
  }
  return out;
}

Expected<ConfigJson> ConfigJson::object(const std::string& key) {
  read_.insert(key);
  if (!has(key)) return key_error(key, "is missing");
  const JsonValue& value = *document_->find(key);
  if (value.kind != JsonKind::object) {
    return key_error(key, "must be an object, got " + shown(value));
  }
  ConfigJson nested;
  nested.origin_ = origin_ + ": " + key;
  nested.document_ = std::make_unique<Document>();
  nested.document_->root = document_->root;
  nested.document_->object = &value;
  nested.document_->index();
  return nested;
}

Expected<std::vector<ConfigJson>> ConfigJson::object_list(const std::string& key,
                                                          std::size_t max_count) {
  read_.insert(key);
  if (!has(key)) return key_error(key, "is missing");
  const JsonValue& value = *document_->find(key);
  if (value.kind != JsonKind::array || value.items.empty() || value.items.size() > max_count) {
    return key_error(key, "must be a list of 1 to " + std::to_string(max_count) + " objects");
  }
  std::vector<ConfigJson> out;
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    const JsonValue& item = value.items[i];
    if (item.kind != JsonKind::object) {
      return key_error(
          key, "holds " + shown(item) + " at index " + std::to_string(i) + ", not an object");
    }
    ConfigJson nested;
    nested.origin_ = origin_ + ": " + key + "[" + std::to_string(i) + "]";
    nested.document_ = std::make_unique<Document>();
    nested.document_->root = document_->root;
    nested.document_->object = &item;
    nested.document_->index();
    out.push_back(std::move(nested));
  }
  return out;
}

std::vector<std::string> ConfigJson::keys() const {
  std::vector<std::string> out;
  out.reserve(document_->sorted_keys.size());
  for (const JsonMember* member : document_->sorted_keys) out.push_back(member->key);
  return out;
}

std::vector<std::string> ConfigJson::unread_keys() const {
  std::vector<std::string> keys;
  for (const JsonMember* member : document_->sorted_keys) {
    if (read_.count(member->key) == 0) keys.push_back(member->key);
  }
  return keys;
}

}  // namespace acefit
