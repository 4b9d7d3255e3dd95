// Reading a model's config.json: strict JSON (duplicate keys rejected,
// errors with line and column), typed field access where a wrong type or an
// out-of-range value is an error naming the key, and defaults for absent
// optional keys. Unknown keys are allowed (Hugging Face configs carry many
// informational ones) and listed so callers can log them at debug level.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace acefit {

class ConfigJson {
 public:
  // Parses text that came from `origin` (a file path, used in messages).
  static Expected<ConfigJson> parse(const std::string& text, const std::string& origin);
  // Reads and parses a file (at most 16 MiB).
  static Expected<ConfigJson> load(const std::string& path);

  ConfigJson(ConfigJson&&) noexcept;
  ConfigJson& operator=(ConfigJson&&) noexcept;
  ~ConfigJson();

  const std::string& origin() const { return origin_; }
  bool has(const std::string& key) const;

  // Integer in [min, max]; `fallback` when absent (nullopt: the key is required).
  Expected<std::int64_t> integer(const std::string& key, std::int64_t min, std::int64_t max,
                                 std::optional<std::int64_t> fallback);
  // Integer in [min, max], or nullopt when the key is absent or null.
  Expected<std::optional<std::int64_t>> optional_integer(const std::string& key, std::int64_t min,
                                                         std::int64_t max);
  Expected<double> number(const std::string& key, double min, double max,
                          std::optional<double> fallback);
  Expected<bool> boolean(const std::string& key, std::optional<bool> fallback);
  Expected<std::string> string(const std::string& key, std::optional<std::string> fallback);
  Expected<std::vector<std::int64_t>> integer_list(
      const std::string& key, std::int64_t min, std::int64_t max, std::size_t max_count,
      std::optional<std::vector<std::int64_t>> fallback);
  // A list of strings, or null / absent -> fallback.
  Expected<std::vector<std::string>> string_list(const std::string& key, std::size_t max_count,
                                                 std::vector<std::string> fallback);

  // A nested object, or each object of a list, as a ConfigJson of its own
  // whose messages name the path ("file: tiers[2]: key ...").
  Expected<ConfigJson> object(const std::string& key);
  Expected<std::vector<ConfigJson>> object_list(const std::string& key, std::size_t max_count);

  // Every top-level key, sorted.
  std::vector<std::string> keys() const;
  // Top-level keys no accessor asked for.
  std::vector<std::string> unread_keys() const;

 private:
  struct Document;
  ConfigJson() = default;
  Status key_error(const std::string& key, const std::string& what) const;

  std::string origin_;
  std::unique_ptr<Document> document_;
  std::set<std::string> read_;
};

}  // namespace acefit
