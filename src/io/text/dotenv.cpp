#include "io/text/dotenv.h"

#include <sys/stat.h>
#include <fstream>

namespace acefit {

namespace {

constexpr std::size_t kMaxDotEnvBytes = 1u << 20;

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// The value after '=': quoted or plain. nullopt when a quote is not closed
// or text follows the closing quote.
std::optional<std::string> parse_value(std::string_view raw) {
  raw = trim(raw);
  if (raw.empty()) return std::string();
  const char quote = raw.front();
  if (quote != '"' && quote != '\'') {
    const auto comment = raw.find(" #");
    return std::string(trim(raw.substr(0, comment)));
  }
  std::string value;
  std::size_t i = 1;
  for (; i < raw.size() && raw[i] != quote; ++i) {
    if (quote == '"' && raw[i] == '\\' && i + 1 < raw.size()) {
      const char next = raw[++i];
      value += next == 'n' ? '\n' : next == 't' ? '\t' : next;
    } else {
      value += raw[i];
    }
  }
  if (i >= raw.size()) return std::nullopt;
  const std::string_view rest = trim(raw.substr(i + 1));
  if (!rest.empty() && rest.front() != '#') return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::string> DotEnv::get(std::string_view key) const {
  const auto it = values.find(std::string(key));
  if (it == values.end()) return std::nullopt;
  return it->second;
}

DotEnv parse_dotenv(std::string_view text, const std::string& path) {
  DotEnv env;
  env.path = path;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export ") line = trim(line.substr(7));
    const std::string where = path + ":" + std::to_string(line_number);
    const auto equals = line.find('=');
    const std::string_view key =
        equals == std::string_view::npos ? line : trim(line.substr(0, equals));
    if (equals == std::string_view::npos || !valid_key(key)) {
      env.warnings.push_back(where + ": ignored: not a KEY=VALUE line");
      continue;
    }
    auto value = parse_value(line.substr(equals + 1));
    if (!value) {
      env.warnings.push_back(where + ": ignored: " + std::string(key) +
                             " has an unclosed quote or text after the closing quote");
      continue;
    }
    if (env.values.count(std::string(key)) != 0) {
      env.warnings.push_back(where + ": " + std::string(key) + " set again; the later value wins");
    }
    env.values[std::string(key)] = std::move(*value);
  }
  return env;
}

Expected<DotEnv> load_dotenv(const std::string& folder) {
  for (const char* name : {".env", ".env.example"}) {
    const std::string path = (folder.empty() ? std::string(".") : folder) + "/" + name;
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) continue;
    if (!S_ISREG(info.st_mode))
      return Status(ErrorCode::invalid_argument, path + ": not a regular file");
    if (static_cast<std::uint64_t>(info.st_size) > kMaxDotEnvBytes) {
      return Status(ErrorCode::invalid_argument, path + ": larger than the 1 MiB a .env may have");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status(ErrorCode::io, path + ": cannot open (unreadable)");
    std::string text(static_cast<std::size_t>(info.st_size), '\0');
    if (!in.read(text.data(), info.st_size)) return Status(ErrorCode::io, path + ": read failed");
    return parse_dotenv(text, path);
  }
  return DotEnv{};
}

}  // namespace acefit
