#include "http_util.h"

#include "io/text/text_input.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

#include "http_transport.h"
#include "io/file/atomic_file.h"
#include "io/file/temp_cleanup.h"

namespace acefit::server {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded text to an object of strings.
std::optional<RequestError> parse_urlencoded(const std::string& text, nlohmann::json& out) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('&', start);
    if (end == std::string::npos) end = text.size();
    const std::string pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) {
      if (end == text.size()) break;
      continue;
    }
    const auto eq = pair.find('=');
    std::string parts[2] = {pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1)};
    for (std::string& part : parts) {
      std::string decoded;
      for (std::size_t i = 0; i < part.size(); ++i) {
        if (part[i] == '+') {
          decoded += ' ';
        } else if (part[i] == '%') {
          const int hi = i + 2 < part.size() ? hex_digit(part[i + 1]) : -1;
          const int lo = i + 2 < part.size() ? hex_digit(part[i + 2]) : -1;
          if (hi < 0 || lo < 0)
            return RequestError{400, "invalid_request", "",
                                "malformed percent-encoding in the form body"};
          decoded += static_cast<char>(hi * 16 + lo);
          i += 2;
        } else {
          decoded += part[i];
        }
      }
      part = std::move(decoded);
    }
    if (out.contains(parts[0]))
      return RequestError{400, "invalid_request", printable_text(parts[0]),
                          "field '" + printable_text(parts[0]) + "' is given more than once"};
    out[parts[0]] = parts[1];
    if (end == text.size()) break;
  }
  return std::nullopt;
}

// A temp file for an upload, named like acefit's other temps (removed at
// the next start if the process dies).
std::optional<std::pair<int, std::string>> open_upload_temp(const std::string& folder) {
  std::string name =
      folder + "/" + kAtomicTempPrefix + std::to_string(::getpid()) + "-upload-XXXXXX";
  std::vector<char> buffer(name.begin(), name.end());
  buffer.push_back('\0');
  const int fd = ::mkostemp(buffer.data(), O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  return std::make_pair(fd, std::string(buffer.data()));
}

}  // namespace

void send_data(httplib::Response& res, int status, nlohmann::json data, nlohmann::json extra) {
  nlohmann::json body = {{"data", std::move(data)},
                         {"code", status},
                         {"error", nullptr},
                         {"timestamp", now_ms()},
                         {"extra", std::move(extra)}};
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& field, const std::string& message) {
  nlohmann::json body = {
      {"data", nullptr},
      {"code", status},
      {"error",
       {{"code", code},
        {"field", field.empty() ? nlohmann::json(nullptr) : nlohmann::json(field)},
        {"message", message}}},
      {"timestamp", now_ms()},
      {"extra", nullptr}};
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void send_request_error(httplib::Response& res, const RequestError& error) {
  send_error(res, error.http_status, error.code, error.field, error.message);
}

void send_unauthorized(ServerState& state, httplib::Response& res) {
  state.rejected_auth.fetch_add(1);
  res.set_header("WWW-Authenticate", "Bearer");
  send_error(res, 401, "authentication_error", "", "missing or invalid API key");
}

bool key_matches(const std::string& key, const std::string& given) {
  // Every byte of the longer text is compared: the time depends on lengths only.
  const std::size_t n = std::max(key.size(), given.size());
  unsigned diff = key.size() == given.size() ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char a = i < key.size() ? static_cast<unsigned char>(key[i]) : 0;
    const unsigned char b = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0 && !key.empty();
}

bool header_authenticated(const ServerState& state, const httplib::Request& req) {
  if (state.options.api_key.empty()) return true;
  if (req.get_header_value_count("Authorization") != 1) return false;
  const std::string value = req.get_header_value("Authorization");
  if (value.size() < 7 || lower(value.substr(0, 7)) != "bearer ") return false;
  return key_matches(state.options.api_key, trim(value.substr(7)));
}

RequestBody::~RequestBody() {
  for (const Upload& upload : uploads) ::unlink(upload.path.c_str());
}

bool read_request_body(ServerState& state, const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& reader, BodyKinds kinds, RequestBody& body) {
  const auto fail = [&](int status, const std::string& code, const std::string& field,
                        const std::string& message) {
    if (status == 413) state.rejected_size.fetch_add(1);
    if (status == 400 || status == 415) state.rejected_invalid.fetch_add(1);
    send_error(res, status, code, field, message);
    return false;
  };
  // The media type and its parameters.
  const std::string content_type = req.get_header_value("Content-Type");
  const std::string media = lower(trim(content_type.substr(0, content_type.find(';'))));
  bool multipart = false;
  if (media == "application/json") {
    std::size_t at = content_type.find(';');
    while (at != std::string::npos) {
      const std::size_t next = content_type.find(';', at + 1);
      const std::string param = lower(trim(content_type.substr(at + 1, next - at - 1)));
      if (param.rfind("charset=", 0) == 0) {
        std::string charset = param.substr(8);
        if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"')
          charset = charset.substr(1, charset.size() - 2);
        if (charset != "utf-8" && charset != "utf8") {
          close_connection_after_response();
          return fail(415, "unsupported_media_type", "Content-Type",
                      "JSON bodies must be UTF-8 (charset=utf-8)");
        }
      }
      at = next;
    }
  } else if (media == "multipart/form-data" && kinds == BodyKinds::json_form_or_multipart) {
    multipart = true;
  } else if (media != "application/x-www-form-urlencoded") {
    close_connection_after_response();
    return fail(415, "unsupported_media_type", "Content-Type",
                std::string("this route accepts application/json") +
                    (kinds == BodyKinds::json_form_or_multipart
                         ? ", application/x-www-form-urlencoded and multipart/form-data"
                         : " and application/x-www-form-urlencoded"));
  }
  const std::uint64_t limit = multipart
                                  ? state.options.max_upload_bytes + state.options.max_json_bytes
                                  : state.options.max_json_bytes;
  if (req.has_header("Content-Length")) {
    const std::string text = req.get_header_value("Content-Length");
    char* end = nullptr;
    errno = 0;
    const unsigned long long length = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || text[0] == '-') {
      close_connection_after_response();
      return fail(400, "invalid_request", "Content-Length", "malformed Content-Length");
    }
    if (length > limit) {
      close_connection_after_response();
      return fail(413, "payload_too_large", "",
                  "the body is larger than " + std::to_string(limit) + " bytes");
    }
  }

  bool too_large = false;
  std::string text_error;
  bool ok = false;
  if (!multipart) {
    std::string raw;
    ok = reader([&](const char* data, std::size_t n) {
      if (raw.size() + n > limit) {
        too_large = true;
        return false;
      }
      raw.append(data, n);
      return true;
    });
    if (ok) {
      if (media == "application/json") {
        Parsed<nlohmann::json> parsed = parse_json_body(raw);
        if (!parsed.ok()) {
          state.rejected_invalid.fetch_add(1);
          send_request_error(res, *parsed.error);
          return false;
        }
        body.fields = std::move(*parsed.value);
        body.source = FieldSource::json;
      } else {
        body.source = FieldSource::form;
        if (auto error = parse_urlencoded(raw, body.fields)) {
          state.rejected_invalid.fetch_add(1);
          send_request_error(res, *error);
          return false;
        }
      }
    }
  } else {
    body.source = FieldSource::form;
    std::uint64_t text_bytes = 0, upload_bytes = 0;
    int parts = 0;
    int fd = -1;
    std::string current;
    bool current_is_file = false;
    std::set<std::string> names;
    ok = reader(
        [&](const httplib::MultipartFormData& part) {
          if (fd >= 0) {
            ::close(fd);
            fd = -1;
          }
          if (++parts > 64) {
            text_error = "more than 64 multipart parts";
            return false;
          }
          if (!names.insert(part.name).second) {
            text_error = "field '" + printable_text(part.name) + "' is given more than once";
            return false;
          }
          current = part.name;
          current_is_file = !part.filename.empty();
          if (current_is_file) {
            auto temp = open_upload_temp(state.options.output_dir);
            if (!temp) {
              text_error = "cannot store the upload";
              return false;
            }
            fd = temp->first;
            body.uploads.push_back({part.name, temp->second, 0});
          } else {
            body.fields[part.name] = "";
          }
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (current_is_file) {
            upload_bytes += n;
            if (upload_bytes > state.options.max_upload_bytes) {
              too_large = true;
              return false;
            }
            body.uploads.back().bytes += n;
            std::size_t written = 0;
            while (written < n) {
              const ssize_t w = ::write(fd, data + written, n - written);
              if (w < 0 && errno == EINTR) continue;
              if (w <= 0) {
                text_error = "cannot store the upload";
                return false;
              }
              written += static_cast<std::size_t>(w);
            }
            return true;
          }
          text_bytes += n;
          if (text_bytes > state.options.max_json_bytes) {
            too_large = true;
            return false;
          }
          body.fields[current].get_ref<std::string&>().append(data, n);
          return true;
        });
    if (fd >= 0) ::close(fd);
  }
  if (!ok) {
    close_connection_after_response();
    if (too_large) return fail(413, "payload_too_large", "", "the body is larger than the limit");
    if (!text_error.empty()) return fail(400, "invalid_request", "", text_error);
    return fail(400, "invalid_request", "", "the body could not be read (malformed or incomplete)");
  }

  // Authentication by the body's ai_token when the header did not.
  std::optional<std::string> token;
  if (body.fields.is_object() && body.fields.contains("ai_token")) {
    if (body.fields["ai_token"].is_string()) token = body.fields["ai_token"].get<std::string>();
    body.fields.erase("ai_token");
  }
  if (!header_authenticated(state, req) && !(token && key_matches(state.options.api_key, *token))) {
    send_unauthorized(state, res);
    return false;
  }
  return true;
}

std::string query_value(const httplib::Request& req, const std::string& name) {
  const auto it = req.params.find(name);
  return it == req.params.end() ? std::string() : it->second;
}

std::string url_encode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace acefit::server
