// The fields of upstream's POST /release_task (gpu-adaptation.md 15.3) read
// into an acefit::SongRequest (docs/SERVER.md, "Request fields"), with the
// checks of reliability.md 3.3: integer fields take integer literals only,
// the JSON type is checked before any conversion, each range is enforced
// at its boundaries, unknown fields and duplicate keys are refused, and a
// field acefit does not implement is refused unless it carries upstream's
// default. Every error names the field.
//
// Two sources: a JSON body (strict types: "30" for a number is refused) and
// form fields (urlencoded or multipart), which the HTTP layer hands over as
// a JSON object of strings; those strings are read as numbers or booleans
// where the field needs one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "acefit/request.h"

namespace acefit::server {

// An error the HTTP layer turns into a response body.
struct RequestError {
  int http_status = 400;
  // invalid_json: malformed body (byte offset in the message), not an object;
  // invalid_request: wrong type, out of range, key or field given twice;
  // unknown_field: not an upstream field or documented alias;
  // unsupported_field: a field acefit does not implement, not at its default.
  std::string code;
  std::string field;    // the field as the client wrote it ("" when none)
  std::string message;  // one line, names the field; never echoes raw control bytes
};

// A value or a RequestError.
template <typename T>
struct Parsed {
  std::optional<T> value;
  std::optional<RequestError> error;
  bool ok() const { return value.has_value(); }
};

enum class FieldSource {
  json,  // a JSON body: types checked strictly
  form,  // urlencoded / multipart fields: every value a string
};

// Ranges (reliability.md 3.3; the engine may narrow them per model).
inline constexpr double kMinDurationS = 10.0;
inline constexpr double kMaxDurationS = 600.0;
inline constexpr int kMinBatch = 1;
inline constexpr int kMaxBatch = 8;
inline constexpr int kDefaultBatch = 2;
inline constexpr int kMinSteps = 1;
inline constexpr int kMaxSteps = 200;
inline constexpr std::uint64_t kMaxSeed = 4294967295ULL;
inline constexpr double kMinGuidance = 0.0;
inline constexpr double kMaxGuidance = 100.0;
inline constexpr double kMinShift = 1.0;
inline constexpr double kMaxShift = 5.0;

// A /release_task request read and checked.
struct ReleaseRequest {
  // caption, lyrics, language, seed / random_seed, steps, shift, guidance,
  // bpm, keyscale, time_signature, method, thinking, the lm_* values, and
  // settings: "duration_s", "batch", "lm_model", "backend", "config_path"
  // (the DiT model) when given.
  SongRequest song;
  std::string audio_format = "mp3";  // mp3, flac, wav, wav32 (float) or opus, as asked
  std::optional<std::string> model;  // DiT model name; the HTTP layer checks it is loaded
  int batch_size = kDefaultBatch;
  std::optional<double> duration_s;  // none: the model's choice (the LM's or 30 s)
  std::int64_t seed = -1;            // as asked: -1 random
  // The request in canonical form (snake_case names, typed values, metas
  // merged, the ai_token left out): what the job store keeps. Parsing it
  // again as FieldSource::json gives the same ReleaseRequest, so a job
  // queued before a restart runs as asked.
  nlohmann::json canonical = nlohmann::json::object();
};

// Reads a JSON body strictly: malformed JSON, NaN, comments, trailing
// commas, 1e400, an empty body or a top level that is not an object ->
// 400 invalid_json with the byte offset; a key given twice in one object ->
// 400 invalid_request naming the key.
Parsed<nlohmann::json> parse_json_body(std::string_view text);

// The /release_task fields of `fields` (an object; from parse_json_body or
// the HTTP layer's form fields). Nested `metas` / `metadata` /
// `user_metadata` objects (or, from a form, JSON text of an object) are
// merged into the top level; a field given twice (under two aliases, or at
// the top and in a nested object) is refused.
Parsed<ReleaseRequest> parse_release_request(const nlohmann::json& fields, FieldSource source);

}  // namespace acefit::server
