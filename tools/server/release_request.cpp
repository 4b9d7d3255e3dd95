#include "release_request.h"

#include <charconv>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "io/text/text_input.h"
#include "pipeline/prompt.h"

namespace acefit::server {
namespace {

using json = nlohmann::json;

constexpr int kMaxJsonDepth = 64;

RequestError error(std::string field, std::string message, std::string code = "invalid_request") {
  RequestError e;
  e.http_status = 400;
  e.code = std::move(code);
  e.field = std::move(field);
  e.message = std::move(message);
  return e;
}

// ---- the field table -------------------------------------------------

// Canonical names with their documented aliases; the camelCase form of
// each is accepted too.
const std::vector<std::pair<std::string_view, std::vector<std::string_view>>>& field_names() {
  static const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> kNames = {
      {"prompt", {"caption"}},
      {"lyrics", {}},
      {"thinking", {}},
      {"sample_mode", {}},
      {"sample_query", {"description", "desc"}},
      {"use_format", {}},
      {"model", {}},
      {"bpm", {}},
      {"key_scale", {"keyscale"}},
      {"time_signature", {"timesignature"}},
      {"vocal_language", {}},
      {"inference_steps", {}},
      {"guidance_scale", {}},
      {"use_random_seed", {}},
      {"seed", {}},
      {"reference_audio_path", {}},
      {"src_audio_path", {}},
      {"audio_duration", {"duration", "target_duration"}},
      {"batch_size", {}},
      {"repainting_start", {}},
      {"repainting_end", {}},
      {"instruction", {}},
      {"audio_cover_strength", {}},
      {"task_type", {}},
      {"analysis_only", {}},
      {"full_analysis_only", {}},
      {"use_adg", {}},
      {"cfg_interval_start", {}},
      {"cfg_interval_end", {}},
      {"infer_method", {}},
      {"shift", {}},
      {"timesteps", {}},
      {"audio_format", {}},
      {"use_tiled_decode", {}},
      {"lm_model_path", {}},
      {"lm_backend", {}},
      {"constrained_decoding", {}},
      {"constrained_decoding_debug", {}},
      {"use_cot_caption", {}},
      {"use_cot_language", {}},
      {"is_format_caption", {}},
      {"allow_lm_batch", {}},
      {"track_name", {}},
      {"track_classes", {}},
      {"lm_temperature", {}},
      {"lm_cfg_scale", {}},
      {"lm_top_k", {}},
      {"lm_top_p", {}},
      {"lm_repetition_penalty", {}},
      {"lm_negative_prompt", {}},
      {"ai_token", {}},
      // acefit's own: the tier settings a request may choose (docs/SERVER.md).
      {"offload", {}},
      {"quantization", {}},
      {"compile", {}},
      {"init_lm", {}},
  };
  return kNames;
}

std::string camel_case(std::string_view snake) {
  std::string out;
  bool upper = false;
  for (const char c : snake) {
    if (c == '_') {
      upper = true;
    } else if (upper) {
      out += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
      upper = false;
    } else {
      out += c;
    }
  }
  return out;
}

// Every accepted name -> its canonical name.
const std::map<std::string, std::string, std::less<>>& alias_map() {
  static const auto kMap = [] {
    std::map<std::string, std::string, std::less<>> map;
    for (const auto& [name, aliases] : field_names()) {
      map.emplace(std::string(name), std::string(name));
      map.emplace(camel_case(name), std::string(name));
      for (const auto alias : aliases) {
        map.emplace(std::string(alias), std::string(name));
        map.emplace(camel_case(alias), std::string(name));
      }
    }
    return map;
  }();
  return kMap;
}

bool is_nested_name(std::string_view key) {
  return key == "metas" || key == "metadata" || key == "user_metadata" || key == "userMetadata";
}

// One field as the client gave it.
struct Entry {
  std::string key;  // as written ("metas.bpm" when nested)
  const json* value = nullptr;
  FieldSource source = FieldSource::json;
};

// ---- typed readers ---------------------------------------------------

// Each reader returns an error or fills `out`; nullopt in `out` means
// null (or, from a form, an empty string) where `nullable`.
using Error = std::optional<RequestError>;

std::string type_name(const json& value) {
  if (value.is_number_float()) return "a fractional number";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_array()) return "a list";
  if (value.is_object()) return "an object";
  return "null";
}

bool is_null_form(const Entry& e) {
  return e.value->is_null() || (e.source == FieldSource::form && e.value->is_string() &&
                                e.value->get_ref<const std::string&>().empty());
}

Error read_text(const Entry& e, std::size_t max_bytes, std::string& out) {
  if (!e.value->is_string())
    return error(e.key, e.key + ": expected a string, got " + type_name(*e.value));
  out = e.value->get<std::string>();
  if (Status s = check_text_field(e.key, out, max_bytes); !s.ok()) return error(e.key, s.message());
  return std::nullopt;
}

Error read_bool(const Entry& e, bool& out) {
  if (e.value->is_boolean()) {
    out = e.value->get<bool>();
    return std::nullopt;
  }
  if (e.source == FieldSource::form && e.value->is_string()) {
    const auto& text = e.value->get_ref<const std::string&>();
    if (text == "true" || text == "True" || text == "1") {
      out = true;
      return std::nullopt;
    }
    if (text == "false" || text == "False" || text == "0") {
      out = false;
      return std::nullopt;
    }
    return error(e.key, e.key + ": expected true or false");
  }
  return error(e.key, e.key + ": expected true or false, got " + type_name(*e.value));
}

// A whole number in [lo, hi]. JSON: an integer literal only (no 8.0, no
// "8"), range-checked before any conversion; form: -?[0-9]+.
Error read_int(const Entry& e, std::int64_t lo, std::int64_t hi, std::int64_t& out,
               const std::string& expected) {
  const json& v = *e.value;
  if (e.source == FieldSource::form && v.is_string()) {
    const auto& text = v.get_ref<const std::string&>();
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end || value < lo || value > hi)
      return error(e.key, e.key + ": expected " + expected);
    out = value;
    return std::nullopt;
  }
  if (v.is_number_unsigned()) {
    const auto value = v.get<std::uint64_t>();
    if (hi < 0 || value > static_cast<std::uint64_t>(hi) ||
        (lo > 0 && value < static_cast<std::uint64_t>(lo)))
      return error(e.key, e.key + ": expected " + expected);
    out = static_cast<std::int64_t>(value);
    return std::nullopt;
  }
  if (v.is_number_integer()) {
    const auto value = v.get<std::int64_t>();
    if (value < lo || value > hi) return error(e.key, e.key + ": expected " + expected);
    out = value;
    return std::nullopt;
  }
  return error(e.key, e.key + ": expected " + expected + " (a whole number), got " + type_name(v));
}

// A finite number in [lo, hi] (lo excluded when lo_open). JSON: a number
// (integer or fractional); form: a decimal number.
Error read_number(const Entry& e, double lo, double hi, bool lo_open, double& out,
                  const std::string& expected) {
  const json& v = *e.value;
  double value = 0;
  if (e.source == FieldSource::form && v.is_string()) {
    const auto& text = v.get_ref<const std::string&>();
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end)
      return error(e.key, e.key + ": expected " + expected);
  } else if (v.is_number()) {
    value = v.get<double>();
  } else {
    return error(e.key, e.key + ": expected " + expected + ", got " + type_name(v));
  }
  if (!std::isfinite(value) || value < lo || value > hi || (lo_open && value <= lo))
    return error(e.key, e.key + ": expected " + expected);
  out = value;
  return std::nullopt;
}

// A name from a fixed list.
Error read_choice(const Entry& e, std::initializer_list<std::string_view> choices,
                  std::string& out) {
  std::string expected;
  for (const auto c : choices) expected += (expected.empty() ? "" : ", ") + std::string(c);
  if (!e.value->is_string())
    return error(e.key, e.key + ": expected one of " + expected + ", got " + type_name(*e.value));
  const auto& text = e.value->get_ref<const std::string&>();
  for (const auto c : choices) {
    if (text == c) {
      out = text;
      return std::nullopt;
    }
  }
  return error(e.key, e.key + ": expected one of " + expected);
}

// A model folder name: text, no path (API-05).
Error read_model_name(const Entry& e, std::string& out) {
  if (Error err = read_text(e, 256, out)) return err;
  if (out.empty() || out.find('/') != std::string::npos || out.find('\\') != std::string::npos ||
      out.front() == '.' || out.find(':') != std::string::npos)
    return error(e.key, e.key + ": expected a model folder name, not a path");
  return std::nullopt;
}

std::string number_text(double value) {
  char buffer[64];
  const auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, ptr) : std::to_string(value);
}

// ---- fields acefit does not implement --------------------------------

// Fields accepted only with upstream's default value. Each check returns
// an error (a wrong type, or another value) or nothing.
Error check_default_only(const std::string& name, const Entry& e) {
  const auto unsupported = [&](const std::string& default_text) {
    return error(
        e.key,
        e.key + ": not supported by acefit; only the default (" + default_text + ") is accepted",
        "unsupported_field");
  };
  const auto expect_bool = [&](bool want) -> Error {
    bool value = false;
    if (Error err = read_bool(e, value)) return err;
    if (value != want) return unsupported(want ? "true" : "false");
    return std::nullopt;
  };
  const auto expect_number = [&](double want) -> Error {
    double value = 0;
    if (Error err = read_number(e, -1e300, 1e300, false, value, "a number")) return err;
    if (value != want) return unsupported(number_text(want));
    return std::nullopt;
  };
  // None (null), or an empty string or list.
  const auto expect_none = [&]() -> Error {
    const json& v = *e.value;
    if (v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) ||
        (v.is_array() && v.empty()))
      return std::nullopt;
    return unsupported("none");
  };
  if (name == "sample_mode" || name == "use_format" || name == "analysis_only" ||
      name == "full_analysis_only" || name == "use_adg" || name == "constrained_decoding_debug" ||
      name == "is_format_caption")
    return expect_bool(false);
  if (name == "constrained_decoding" || name == "allow_lm_batch" || name == "use_tiled_decode")
    return expect_bool(true);
  if (name == "repainting_start" || name == "cfg_interval_start") return expect_number(0.0);
  if (name == "cfg_interval_end" || name == "audio_cover_strength") return expect_number(1.0);
  if (name == "sample_query" || name == "reference_audio_path" || name == "src_audio_path" ||
      name == "repainting_end" || name == "timesteps" || name == "track_name" ||
      name == "track_classes")
    return expect_none();
  if (name == "task_type") {
    std::string value;
    if (Error err = read_text(e, 64, value)) return err;
    if (value != "text2music") return unsupported("text2music");
    return std::nullopt;
  }
  if (name == "instruction") {
    std::string value;
    if (Error err = read_text(e, 1024, value)) return err;
    if (!value.empty() && value != kText2MusicInstruction)
      return unsupported("the text2music instruction");
    return std::nullopt;
  }
  return error(e.key, e.key + ": unknown field", "unknown_field");
}

bool is_default_only(std::string_view name) {
  static const std::set<std::string_view> kNames = {"sample_mode",
                                                    "sample_query",
                                                    "use_format",
                                                    "reference_audio_path",
                                                    "src_audio_path",
                                                    "repainting_start",
                                                    "repainting_end",
                                                    "instruction",
                                                    "audio_cover_strength",
                                                    "task_type",
                                                    "analysis_only",
                                                    "full_analysis_only",
                                                    "use_adg",
                                                    "cfg_interval_start",
                                                    "cfg_interval_end",
                                                    "timesteps",
                                                    "use_tiled_decode",
                                                    "constrained_decoding",
                                                    "constrained_decoding_debug",
                                                    "is_format_caption",
                                                    "allow_lm_batch",
                                                    "track_name",
                                                    "track_classes"};
  return kNames.count(name) > 0;
}

// ---- gathering the fields ----------------------------------------------

// Adds the field `leaf` (written as `written`: "metas.bpm" when nested)
// to `fields` under its canonical name; errors for unknown and repeated
// fields.
Error add_entry(std::map<std::string, Entry>& fields, const std::string& written,
                const std::string& leaf, const json& value, FieldSource source) {
  const auto& aliases = alias_map();
  const auto it = aliases.find(leaf);
  if (it == aliases.end())
    return error(written, "unknown field '" + printable_text(written) + "'", "unknown_field");
  const std::string& canonical = it->second;
  if (const auto seen = fields.find(canonical); seen != fields.end()) {
    return error(written, "field '" + printable_text(written) + "' repeats '" +
                              printable_text(seen->second.key) + "' (the same field given twice)");
  }
  fields.emplace(canonical, Entry{written, &value, source});
  return std::nullopt;
}

}  // namespace

// ---- JSON body ---------------------------------------------------------

Parsed<json> parse_json_body(std::string_view text) {
  Parsed<json> result;
  std::vector<std::set<std::string>> keys;
  std::optional<std::string> duplicate;
  bool too_deep = false;
  const json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxJsonDepth) too_deep = true;
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() &&
            !keys.back().insert(parsed.get<std::string>()).second && !duplicate)
          duplicate = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  if (text.empty()) {
    result.error = error("", "the request body is empty (expected a JSON object)", "invalid_json");
    return result;
  }
  json value;
  try {
    value = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                        /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    result.error = error("", "malformed JSON at byte " + std::to_string(e.byte), "invalid_json");
    return result;
  } catch (const json::out_of_range&) {
    result.error = error("", "malformed JSON: a number is out of range", "invalid_json");
    return result;
  } catch (const std::exception&) {
    result.error = error("", "malformed JSON", "invalid_json");
    return result;
  }
  if (too_deep) {
    result.error = error("", "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels",
                         "invalid_json");
    return result;
  }
  if (duplicate) {
    result.error = error(*duplicate, "key '" + printable_text(*duplicate) +
                                         "' appears twice in one object (the last value does "
                                         "not silently win)");
    return result;
  }
  if (!value.is_object()) {
    result.error = error("", "JSON payload must be an object", "invalid_json");
    return result;
  }
  result.value = std::move(value);
  return result;
}

// ---- /release_task ------------------------------------------------------

Parsed<ReleaseRequest> parse_release_request(const json& body, FieldSource source) {
  Parsed<ReleaseRequest> result;
  const auto fail = [&](RequestError e) {
    result.error = std::move(e);
    return result;
  };
  if (!body.is_object()) return fail(error("", "the request must be an object", "invalid_json"));

  // Nested metas parsed from form text live here (stable addresses).
  std::vector<std::unique_ptr<json>> nested_storage;
  std::map<std::string, Entry> fields;
  for (const auto& [key, value] : body.items()) {
    if (!is_nested_name(key)) {
      if (Error err = add_entry(fields, key, key, value, source)) return fail(*err);
      continue;
    }
    const json* nested = &value;
    FieldSource nested_source = source;
    if (value.is_null()) continue;
    if (source == FieldSource::form && value.is_string()) {
      if (value.get_ref<const std::string&>().empty()) continue;
      auto parsed = parse_json_body(value.get<std::string>());
      if (!parsed.ok()) {
        RequestError e = *parsed.error;
        e.field = key;
        e.code = "invalid_request";
        e.message = key + ": " + e.message;
        return fail(e);
      }
      nested_storage.push_back(std::make_unique<json>(std::move(*parsed.value)));
      nested = nested_storage.back().get();
      nested_source = FieldSource::json;
    }
    if (!nested->is_object())
      return fail(error(key, key + ": expected an object of fields, got " + type_name(*nested)));
    for (const auto& [inner_key, inner_value] : nested->items()) {
      if (is_nested_name(inner_key))
        return fail(error(
            key + "." + inner_key,
            key + "." + printable_text(inner_key) + ": nested metadata objects go one level deep"));
      if (Error err =
              add_entry(fields, key + "." + inner_key, inner_key, inner_value, nested_source))
        return fail(*err);
    }
  }

  ReleaseRequest out;
  SongRequest& song = out.song;
  song.language = "en";
  song.lm_cfg_scale = 2.5f;
  song.steps = 8;
  song.shift = 3.0;
  json& canonical = out.canonical;
  const auto get = [&](const char* name) -> const Entry* {
    const auto it = fields.find(name);
    return it == fields.end() ? nullptr : &it->second;
  };

  for (const auto& [name, entry] : fields) {
    if (is_default_only(name)) {
      if (Error err = check_default_only(name, entry)) return fail(*err);
    }
  }
  if (const Entry* e = get("ai_token")) {
    if (!e->value->is_null() && !e->value->is_string())
      return fail(error(e->key, e->key + ": expected a string"));
  }

  // Text.
  if (const Entry* e = get("prompt")) {
    if (Error err = read_text(*e, kMaxCaptionBytes, song.caption)) return fail(*err);
    canonical["prompt"] = song.caption;
  }
  if (const Entry* e = get("lyrics")) {
    if (Error err = read_text(*e, kMaxLyricsBytes, song.lyrics)) return fail(*err);
    canonical["lyrics"] = song.lyrics;
  }
  if (const Entry* e = get("key_scale")) {
    std::string value;
    if (Error err = read_text(*e, 256, value)) return fail(*err);
    if (!value.empty()) {
      if (Status s = validate_keyscale(value); !s.ok())
        return fail(error(e->key, e->key + ": " + s.message()));
      song.keyscale = value;
    }
    canonical["key_scale"] = value;
  }
  if (const Entry* e = get("time_signature")) {
    std::string value;
    if (Error err = read_text(*e, 64, value)) return fail(*err);
    if (!value.empty()) {
      if (auto parsed = parse_time_signature(value); !parsed.ok())
        return fail(error(e->key, e->key + ": " + parsed.status().message()));
      song.time_signature = value;
    }
    canonical["time_signature"] = value;
  }
  if (const Entry* e = get("vocal_language")) {
    if (Error err = read_text(*e, 64, song.language)) return fail(*err);
    if (Status s = validate_language(song.language); !s.ok())
      return fail(error(e->key, e->key + ": " + s.message()));
    canonical["vocal_language"] = song.language;
  }
  if (const Entry* e = get("lm_negative_prompt")) {
    if (Error err = read_text(*e, kMaxCaptionBytes, song.lm_negative_prompt)) return fail(*err);
    canonical["lm_negative_prompt"] = song.lm_negative_prompt;
  }

  // Models and backend.
  if (const Entry* e = get("model"); e && !is_null_form(*e)) {
    std::string value;
    if (Error err = read_model_name(*e, value)) return fail(*err);
    out.model = value;
    song.settings["config_path"] = value;
    canonical["model"] = value;
  }
  if (const Entry* e = get("lm_model_path"); e && !is_null_form(*e)) {
    std::string value;
    if (Error err = read_model_name(*e, value)) return fail(*err);
    song.settings["lm_model"] = value;
    canonical["lm_model_path"] = value;
  }
  if (const Entry* e = get("lm_backend")) {
    std::string value;
    if (Error err = read_choice(*e, {"vllm", "pt", "mlx"}, value)) return fail(*err);
    song.settings["backend"] = value;
    canonical["lm_backend"] = value;
  }
  // acefit's tier settings, checked and clamped by the engine like flags.
  if (const Entry* e = get("offload")) {
    std::string value;
    if (Error err = read_choice(*e, {"cpu+dit", "cpu", "none"}, value)) return fail(*err);
    song.settings["offload"] = value;
    canonical["offload"] = value;
  }
  if (const Entry* e = get("quantization")) {
    std::string value;
    if (Error err = read_choice(*e, {"int8", "none"}, value)) return fail(*err);
    song.settings["quantization"] = value;
    canonical["quantization"] = value;
  }
  for (const char* name : {"compile", "init_lm"}) {
    if (const Entry* e = get(name)) {
      bool value = false;
      if (Error err = read_bool(*e, value)) return fail(*err);
      song.settings[name] = value ? "true" : "false";
      canonical[name] = value;
    }
  }
  if (const Entry* e = get("infer_method")) {
    if (Error err = read_choice(*e, {"ode", "sde"}, song.method)) return fail(*err);
    canonical["infer_method"] = song.method;
  }
  if (const Entry* e = get("audio_format")) {
    std::string value;
    if (Error err = read_choice(*e, {"mp3", "flac", "wav", "wav32", "opus", "aac"}, value))
      return fail(*err);
    if (value == "aac")
      return fail(error(e->key,
                        e->key + ": aac is not supported by acefit (mp3, flac, wav, "
                                 "wav32 or opus)",
                        "unsupported_field"));
    out.audio_format = value;
    canonical["audio_format"] = value;
  }

  // Flags.
  const auto read_flag = [&](const char* name, bool& target) -> Error {
    const Entry* e = get(name);
    if (!e) return std::nullopt;
    if (Error err = read_bool(*e, target)) return err;
    canonical[name] = target;
    return std::nullopt;
  };
  if (Error err = read_flag("thinking", song.thinking)) return fail(*err);
  bool cot_caption = true;
  bool cot_language = true;
  if (Error err = read_flag("use_cot_caption", cot_caption)) return fail(*err);
  if (Error err = read_flag("use_cot_language", cot_language)) return fail(*err);
  song.no_cot_caption = !cot_caption;
  song.no_cot_language = !cot_language;

  // Numbers (reliability.md 3.3).
  if (const Entry* e = get("audio_duration"); e && !is_null_form(*e)) {
    double value = 0;
    if (Error err = read_number(*e, kMinDurationS, kMaxDurationS, false, value,
                                "a number of seconds 10 to 600"))
      return fail(*err);
    out.duration_s = value;
    song.settings["duration_s"] = number_text(value);
    canonical["audio_duration"] = value;
  }
  if (const Entry* e = get("batch_size"); e && !is_null_form(*e)) {
    std::int64_t value = 0;
    if (Error err = read_int(*e, kMinBatch, kMaxBatch, value, "a whole number 1 to 8"))
      return fail(*err);
    out.batch_size = static_cast<int>(value);
    canonical["batch_size"] = value;
  }
  song.settings["batch"] = std::to_string(out.batch_size);
  if (const Entry* e = get("inference_steps")) {
    std::int64_t value = 0;
    if (Error err = read_int(*e, kMinSteps, kMaxSteps, value, "a whole number 1 to 200"))
      return fail(*err);
    song.steps = static_cast<int>(value);
    canonical["inference_steps"] = value;
  }
  if (const Entry* e = get("guidance_scale")) {
    double value = 0;
    if (Error err = read_number(*e, kMinGuidance, kMaxGuidance, false, value, "a number 0 to 100"))
      return fail(*err);
    song.guidance = value;
    canonical["guidance_scale"] = value;
  }
  if (const Entry* e = get("shift")) {
    double value = 0;
    if (Error err = read_number(*e, kMinShift, kMaxShift, false, value, "a number 1.0 to 5.0"))
      return fail(*err);
    song.shift = value;
    canonical["shift"] = value;
  }
  if (const Entry* e = get("bpm"); e && !is_null_form(*e)) {
    std::int64_t value = 0;
    if (Error err = read_int(*e, kMinBpm, kMaxBpm, value, "a whole number 30 to 300"))
      return fail(*err);
    song.bpm = static_cast<int>(value);
    canonical["bpm"] = value;
  }
  const auto read_lm = [&](const char* name, double lo, double hi, bool lo_open, float& target,
                           const char* expected) -> Error {
    const Entry* e = get(name);
    if (!e) return std::nullopt;
    double value = 0;
    if (Error err = read_number(*e, lo, hi, lo_open, value, expected)) return err;
    target = static_cast<float>(value);
    canonical[name] = value;
    return std::nullopt;
  };
  if (Error err =
          read_lm("lm_temperature", 0.0, 10.0, false, song.lm_temperature, "a number 0 to 10"))
    return fail(*err);
  if (Error err =
          read_lm("lm_cfg_scale", 0.0, 100.0, false, song.lm_cfg_scale, "a number 0 to 100"))
    return fail(*err);
  if (Error err = read_lm("lm_top_p", 0.0, 1.0, true, song.lm_top_p, "a number > 0 and <= 1"))
    return fail(*err);
  if (Error err = read_lm("lm_repetition_penalty", 0.0, 10.0, true, song.lm_repetition_penalty,
                          "a number > 0 and <= 10"))
    return fail(*err);
  if (const Entry* e = get("lm_top_k"); e && !is_null_form(*e)) {
    std::int64_t value = 0;
    if (Error err = read_int(*e, 0, 1000000, value, "a whole number 0 (off) to 1000000"))
      return fail(*err);
    song.lm_top_k = static_cast<int>(value);
    canonical["lm_top_k"] = value;
  }

  // Seed: -1 draws one (reported with the result); use_random_seed true
  // draws one whatever the seed, as upstream does; a seed given without
  // use_random_seed is used.
  std::optional<bool> use_random;
  if (const Entry* e = get("use_random_seed")) {
    bool value = true;
    if (Error err = read_bool(*e, value)) return fail(*err);
    use_random = value;
    canonical["use_random_seed"] = value;
  }
  std::optional<std::int64_t> seed;
  if (const Entry* e = get("seed")) {
    std::int64_t value = 0;
    if (e->source == FieldSource::form && e->value->is_string() &&
        e->value->get_ref<const std::string&>().find(',') != std::string::npos)
      return fail(error(e->key,
                        e->key + ": a list of seeds is not supported (batch item b uses "
                                 "seed + b); give one seed",
                        "unsupported_field"));
    if (Error err = read_int(*e, -1, static_cast<std::int64_t>(kMaxSeed), value,
                             "-1 (random) or a whole number 0 to 4294967295"))
      return fail(*err);
    seed = value;
    canonical["seed"] = value;
  }
  const bool random = (use_random.value_or(!seed.has_value()) || !seed || *seed < 0);
  song.random_seed = random;
  out.seed = random ? -1 : *seed;
  song.seed = random ? 0 : static_cast<std::uint64_t>(*seed);

  result.value = std::move(out);
  return result;
}

}  // namespace acefit::server
