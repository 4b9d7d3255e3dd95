// Helpers the routes share (internal to the server): the response envelope,
// error bodies, authentication and reading request bodies within limits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "http_server.h"
#include "release_request.h"

namespace acefit::server {

// {"data", "code", "error", "timestamp", "extra"} with HTTP status `status`.
void send_data(httplib::Response& res, int status, nlohmann::json data,
               nlohmann::json extra = nullptr);
// The error envelope: "error" {"code", "field", "message"}, "code" the status.
void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& field, const std::string& message);
void send_request_error(httplib::Response& res, const RequestError& error);
// 401 authentication_error: one body for every failure.
void send_unauthorized(ServerState& state, httplib::Response& res);

// The Bearer token matches the key (constant time).
bool key_matches(const std::string& key, const std::string& given);
// Authentication by header alone: true when no key is set or the Bearer
// header carries it.
bool header_authenticated(const ServerState& state, const httplib::Request& req);

// An uploaded file (multipart), saved to a temp file under the output folder.
struct Upload {
  std::string field;
  std::string path;  // the temp file; removed by ~RequestBody
  std::uint64_t bytes = 0;
};

// A request body as fields: a JSON object (JSON bodies) or an object of
// strings (urlencoded and multipart fields), and the uploads.
struct RequestBody {
  nlohmann::json fields = nlohmann::json::object();
  FieldSource source = FieldSource::json;
  std::vector<Upload> uploads;
  RequestBody() = default;
  RequestBody(const RequestBody&) = delete;
  RequestBody& operator=(const RequestBody&) = delete;
  ~RequestBody();
};

enum class BodyKinds { json_or_form, json_form_or_multipart };

// Reads and parses the body within the limits (413 while reading, 415 for
// other content types, 400 for malformed bodies), then authenticates (a
// valid Bearer header or the body's ai_token, which is removed from the
// fields). On failure it has written the response and returns false.
bool read_request_body(ServerState& state, const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& reader, BodyKinds kinds, RequestBody& body);

// The single value of a query parameter ("" when absent).
std::string query_value(const httplib::Request& req, const std::string& name);

// Percent-encodes a query value.
std::string url_encode(const std::string& text);

}  // namespace acefit::server
