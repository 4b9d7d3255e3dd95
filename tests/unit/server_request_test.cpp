// /release_task fields (tools/server/release_request.h): upstream's fields,
// defaults and aliases, and the checks of reliability.md 3.3 (API-01 to
// API-05).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "io/text/text_input.h"
#include "release_request.h"

namespace server_request_test {

using namespace acefit;
using namespace acefit::server;
using json = nlohmann::json;

// Parses a JSON body as the HTTP layer does.
Parsed<ReleaseRequest> from_text(const std::string& body) {
  auto parsed = parse_json_body(body);
  if (!parsed.ok()) {
    Parsed<ReleaseRequest> out;
    out.error = parsed.error;
    return out;
  }
  return parse_release_request(*parsed.value, FieldSource::json);
}

ReleaseRequest accepted(const json& body, FieldSource source = FieldSource::json) {
  auto parsed = parse_release_request(body, source);
  EXPECT_TRUE(parsed.ok()) << body.dump() << " -> "
                           << (parsed.error ? parsed.error->message : std::string());
  return parsed.ok() ? *parsed.value : ReleaseRequest{};
}

// The error for `body`, which must be refused naming `field`.
RequestError refused(const json& body, const std::string& field,
                     FieldSource source = FieldSource::json) {
  auto parsed = parse_release_request(body, source);
  EXPECT_FALSE(parsed.ok()) << body.dump() << " was accepted";
  if (parsed.ok()) return {};
  EXPECT_EQ(parsed.error->http_status, 400);
  EXPECT_EQ(parsed.error->field, field) << body.dump() << ": " << parsed.error->message;
  EXPECT_NE(parsed.error->message.find(field), std::string::npos) << parsed.error->message;
  return *parsed.error;
}

RequestError refused_text(const std::string& body, const std::string& code) {
  auto parsed = from_text(body);
  EXPECT_FALSE(parsed.ok()) << body << " was accepted";
  if (parsed.ok()) return {};
  EXPECT_EQ(parsed.error->http_status, 400);
  EXPECT_EQ(parsed.error->code, code) << body << ": " << parsed.error->message;
  return *parsed.error;
}

double up(double x) {
  return std::nextafter(x, std::numeric_limits<double>::infinity());
}
double down(double x) {
  return std::nextafter(x, -std::numeric_limits<double>::infinity());
}

TEST(ServerRequest, UpstreamDefaults) {
  const ReleaseRequest r = accepted(json::object());
  EXPECT_EQ(r.batch_size, 2);
  EXPECT_EQ(r.song.settings.at("batch"), "2");
  EXPECT_EQ(r.audio_format, "mp3");
  EXPECT_EQ(r.song.steps, 8);
  EXPECT_EQ(r.song.shift, 3.0);
  EXPECT_FALSE(r.song.guidance.has_value());  // the model's (base: 7.0; turbo: none)
  EXPECT_EQ(r.song.language, "en");
  EXPECT_FALSE(r.song.thinking);
  EXPECT_TRUE(r.song.random_seed);
  EXPECT_EQ(r.seed, -1);
  EXPECT_FLOAT_EQ(r.song.lm_temperature, 0.85f);
  EXPECT_FLOAT_EQ(r.song.lm_cfg_scale, 2.5f);
  EXPECT_FLOAT_EQ(r.song.lm_top_p, 0.9f);
  EXPECT_EQ(r.song.lm_top_k, 0);
  EXPECT_FLOAT_EQ(r.song.lm_repetition_penalty, 1.0f);
  EXPECT_EQ(r.song.lm_negative_prompt, "NO USER INPUT");
  EXPECT_EQ(r.song.method, "ode");
  EXPECT_FALSE(r.duration_s.has_value());
  EXPECT_EQ(r.song.settings.count("duration_s"), 0u);
  EXPECT_FALSE(r.song.no_cot_caption);
  EXPECT_FALSE(r.song.no_cot_language);
  EXPECT_EQ(r.canonical, json::object());
}

TEST(ServerRequest, DurationRange) {
  for (const double ok : {10.0, 600.0, 30.5}) {
    const ReleaseRequest r = accepted({{"audio_duration", ok}});
    EXPECT_EQ(r.duration_s, ok);
  }
  EXPECT_EQ(accepted({{"audio_duration", 10}}).song.settings.at("duration_s"), "10");
  EXPECT_FALSE(accepted({{"audio_duration", nullptr}}).duration_s.has_value());  // auto
  for (const json& bad : std::initializer_list<json>{0, -1, 9.99, down(10.0), 600.01, up(600.0),
                                                     1e9, "30", true, json::array()}) {
    refused({{"audio_duration", bad}}, "audio_duration");
  }
  refused_text(R"({"audio_duration": 1e400})", "invalid_json");
}

TEST(ServerRequest, BatchRange) {
  EXPECT_EQ(accepted({{"batch_size", 1}}).batch_size, 1);
  EXPECT_EQ(accepted({{"batch_size", 8}}).song.settings.at("batch"), "8");
  EXPECT_EQ(accepted({{"batch_size", nullptr}}).batch_size, 2);
  for (const json& bad :
       std::initializer_list<json>{0, -1, 9, 1.5, 2.0, 2147483648LL,
                                   std::numeric_limits<std::uint64_t>::max(), "2", false}) {
    refused({{"batch_size", bad}}, "batch_size");
  }
  // 2^64 does not fit any integer type: the parser reads it as a fraction.
  EXPECT_EQ(refused_text(R"({"batch_size": 18446744073709551616})", "invalid_request").field,
            "batch_size");
}

TEST(ServerRequest, StepsRange) {
  EXPECT_EQ(accepted({{"inference_steps", 1}}).song.steps, 1);
  EXPECT_EQ(accepted({{"inference_steps", 200}}).song.steps, 200);
  for (const json& bad : std::initializer_list<json>{0, -1, 201, 8.5, 1000000, "8"})
    refused({{"inference_steps", bad}}, "inference_steps");
}

TEST(ServerRequest, SeedRangeNeverWraps) {
  const ReleaseRequest low = accepted({{"seed", 0}});
  EXPECT_FALSE(low.song.random_seed);
  EXPECT_EQ(low.song.seed, 0u);
  const ReleaseRequest high = accepted({{"seed", 4294967295LL}});
  EXPECT_FALSE(high.song.random_seed);
  EXPECT_EQ(high.song.seed, 4294967295u);
  EXPECT_EQ(high.seed, 4294967295LL);
  EXPECT_TRUE(accepted({{"seed", -1}}).song.random_seed);
  for (const json& bad :
       std::initializer_list<json>{-2, 4294967296LL, 9223372036854775807LL,
                                   std::numeric_limits<std::uint64_t>::max(), 1.5, "42"}) {
    refused({{"seed", bad}}, "seed");
  }
  refused_text(R"({"seed": 9223372036854775808})", "invalid_request");
  refused_text(R"({"seed": 18446744073709551616})", "invalid_request");
}

TEST(ServerRequest, SeedAndUseRandomSeed) {
  EXPECT_EQ(accepted({{"seed", 42}}).song.seed, 42u);  // a seed alone is used
  EXPECT_TRUE(accepted({{"seed", 42}, {"use_random_seed", true}}).song.random_seed);  // upstream
  EXPECT_TRUE(accepted({{"use_random_seed", false}}).song.random_seed);               // seed -1
  const ReleaseRequest fixed = accepted({{"use_random_seed", false}, {"seed", 7}});
  EXPECT_FALSE(fixed.song.random_seed);
  EXPECT_EQ(fixed.song.seed, 7u);
  refused({{"use_random_seed", "false"}}, "use_random_seed");
}

TEST(ServerRequest, GuidanceRange) {
  EXPECT_EQ(accepted({{"guidance_scale", 0}}).song.guidance, 0.0);
  EXPECT_EQ(accepted({{"guidance_scale", 100}}).song.guidance, 100.0);
  EXPECT_EQ(accepted({{"guidance_scale", 7.0}}).song.guidance, 7.0);
  for (const json& bad : std::initializer_list<json>{down(0.0), -1, up(100.0), 1e6, "7", nullptr})
    refused({{"guidance_scale", bad}}, "guidance_scale");
  refused_text(R"({"guidance_scale": 1e400})", "invalid_json");
}

TEST(ServerRequest, ShiftRange) {
  EXPECT_EQ(accepted({{"shift", 1.0}}).song.shift, 1.0);
  EXPECT_EQ(accepted({{"shift", 5}}).song.shift, 5.0);
  for (const json& bad : std::initializer_list<json>{0, -1, down(1.0), up(5.0), 5.01, "3"})
    refused({{"shift", bad}}, "shift");
  refused_text(R"({"shift": 1e400})", "invalid_json");
}

TEST(ServerRequest, FormFieldsAreReadFromStrings) {
  const ReleaseRequest r = accepted({{"audio_duration", "30"},
                                     {"batch_size", "3"},
                                     {"seed", "4294967295"},
                                     {"thinking", "true"},
                                     {"shift", "2.5"},
                                     {"bpm", ""},
                                     {"metas", R"({"keyscale": "C major"})"}},
                                    FieldSource::form);
  EXPECT_EQ(r.duration_s, 30.0);
  EXPECT_EQ(r.batch_size, 3);
  EXPECT_EQ(r.song.seed, 4294967295u);
  EXPECT_TRUE(r.song.thinking);
  EXPECT_EQ(r.song.shift, 2.5);
  EXPECT_FALSE(r.song.bpm.has_value());
  EXPECT_EQ(r.song.keyscale, "C major");
  for (const auto& [field, bad] : std::initializer_list<std::pair<std::string, std::string>>{
           {"audio_duration", "abc"},
           {"audio_duration", "1e400"},
           {"audio_duration", "nan"},
           {"audio_duration", "30 "},
           {"audio_duration", "9.99"},
           {"batch_size", "2.0"},
           {"batch_size", "+2"},
           {"batch_size", "99999999999999999999999"},
           {"seed", "4294967296"},
           {"thinking", "yes"},
           {"guidance_scale", "inf"}}) {
    refused({{field, bad}}, field, FieldSource::form);
  }
  EXPECT_EQ(refused({{"seed", "1,2"}}, "seed", FieldSource::form).code, "unsupported_field");
  refused({{"metas", "{\"bpm\": 1"}}, "metas", FieldSource::form);
}

TEST(ServerRequest, AliasesAndCamelCase) {
  const ReleaseRequest r = accepted({{"caption", "lofi"},
                                     {"keyScale", "F# minor"},
                                     {"timesignature", "3/4"},
                                     {"target_duration", 45},
                                     {"inferenceSteps", 4},
                                     {"useRandomSeed", false},
                                     {"seed", 9},
                                     {"lmTemperature", 1.0},
                                     {"vocalLanguage", "zh"},
                                     {"audioFormat", "flac"}});
  EXPECT_EQ(r.song.caption, "lofi");
  EXPECT_EQ(r.song.keyscale, "F# minor");
  EXPECT_EQ(r.song.time_signature, "3/4");
  EXPECT_EQ(r.duration_s, 45.0);
  EXPECT_EQ(r.song.steps, 4);
  EXPECT_EQ(r.song.seed, 9u);
  EXPECT_FLOAT_EQ(r.song.lm_temperature, 1.0f);
  EXPECT_EQ(r.song.language, "zh");
  EXPECT_EQ(r.audio_format, "flac");
  EXPECT_EQ(accepted({{"duration", 20}}).duration_s, 20.0);
  EXPECT_EQ(accepted({{"audioDuration", 20}}).duration_s, 20.0);
  EXPECT_EQ(accepted({{"description", ""}}).song.caption, "");  // sample_query at its default
  // One field under two names: refused, never the last one winning.
  const RequestError twice = refused({{"prompt", "a"}, {"caption", "b"}}, "prompt");
  EXPECT_NE(twice.message.find("caption"), std::string::npos);
  refused({{"duration", 20}, {"audio_duration", 30}}, "duration");
}

TEST(ServerRequest, NestedMetasAreMerged) {
  const ReleaseRequest r = accepted({{"prompt", "x"},
                                     {"metas", {{"bpm", 120}, {"keyscale", "C major"}}},
                                     {"metadata", {{"duration", 30}}},
                                     {"user_metadata", {{"timesignature", "4"}}}});
  EXPECT_EQ(r.song.bpm, 120);
  EXPECT_EQ(r.song.keyscale, "C major");
  EXPECT_EQ(r.duration_s, 30.0);
  EXPECT_EQ(r.song.time_signature, "4");
  EXPECT_EQ(r.canonical["bpm"], 120);
  EXPECT_FALSE(r.canonical.contains("metas"));
  EXPECT_TRUE(accepted({{"metas", nullptr}}).canonical.empty());
  refused({{"bpm", 100}, {"metas", {{"bpm", 120}}}}, "metas.bpm");
  refused({{"metas", {{"genres", "pop"}}}}, "metas.genres");
  refused({{"metas", {{"metas", json::object()}}}}, "metas.metas");
  refused({{"metas", "bpm=120"}}, "metas");
  refused({{"metas", {{"bpm", 29}}}}, "metas.bpm");
}

TEST(ServerRequest, DuplicateKeysAreRefused) {
  EXPECT_EQ(refused_text(R"({"seed": 1, "seed": 2})", "invalid_request").field, "seed");
  EXPECT_EQ(refused_text(R"({"metas": {"bpm": 90, "bpm": 91}})", "invalid_request").field, "bpm");
  // The same key in two different objects is fine.
  EXPECT_TRUE(from_text(R"({"bpm": 90, "metas": {"keyscale": "C major"}})").ok());
  EXPECT_TRUE(parse_json_body(R"({"a": {"b": 1}, "b": 2, "c": [{"b": 3}, {"b": 4}]})").ok());
}

TEST(ServerRequest, MalformedJsonIsInvalidJsonWithOffset) {
  for (const std::string body :
       {R"({"prompt": "x")", R"({"prompt": "x",})", R"({/* c */ "prompt": "x"})",
        R"({"shift": NaN})", R"({'prompt': 'x'})", "", "[]", "\"x\"", "{\"prompt\": \"\xff\"}"}) {
    const RequestError e = refused_text(body, "invalid_json");
    EXPECT_FALSE(e.message.empty());
  }
  EXPECT_NE(refused_text(R"({"prompt": "x",})", "invalid_json").message.find("byte 16"),
            std::string::npos);
  std::string deep(100, '[');
  deep = "{\"a\": " + deep + std::string(100, ']') + "}";
  refused_text(deep, "invalid_json");
  EXPECT_TRUE(from_text("{}").ok());
}

TEST(ServerRequest, UnknownFieldsAreRefused) {
  const RequestError e = refused({{"durration", 30}}, "durration");
  EXPECT_EQ(e.code, "unknown_field");
  // An unknown key never comes back raw (no terminal escapes in the body).
  auto raw = parse_release_request({{"\x1b[31mx", 1}}, FieldSource::json);
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.error->code, "unknown_field");
  EXPECT_EQ(raw.error->message, "unknown field '\\x1b[31mx'");
  refused({{"Prompt", "x"}}, "Prompt");
  refused({{"prompt_", "x"}}, "prompt_");
}

TEST(ServerRequest, UnimplementedFieldsOnlyAtTheirDefault) {
  // Accepted with upstream's default.
  accepted({{"sample_mode", false},
            {"use_format", false},
            {"sample_query", ""},
            {"reference_audio_path", nullptr},
            {"src_audio_path", ""},
            {"repainting_start", 0.0},
            {"repainting_end", nullptr},
            {"instruction", "Fill the audio semantic mask based on the given conditions:"},
            {"audio_cover_strength", 1.0},
            {"task_type", "text2music"},
            {"analysis_only", false},
            {"full_analysis_only", false},
            {"use_adg", false},
            {"cfg_interval_start", 0},
            {"cfg_interval_end", 1},
            {"timesteps", nullptr},
            {"use_tiled_decode", true},
            {"constrained_decoding", true},
            {"constrained_decoding_debug", false},
            {"is_format_caption", false},
            {"allow_lm_batch", true},
            {"track_name", nullptr},
            {"track_classes", json::array()},
            {"ai_token", "secret"}});
  accepted({{"sample_mode", "false"}, {"use_tiled_decode", "true"}}, FieldSource::form);
  // Refused with anything else, naming the field.
  for (const auto& [field, value] : std::initializer_list<std::pair<std::string, json>>{
           {"sample_mode", true},
           {"sampleMode", true},
           {"use_format", true},
           {"sample_query", "a song"},
           {"desc", "a song"},
           {"reference_audio_path", "ref.wav"},
           {"src_audio_path", "../x.wav"},
           {"repainting_start", 5.0},
           {"repainting_end", 10.0},
           {"instruction", "Repaint the mask area based on the given conditions:"},
           {"audio_cover_strength", 0.5},
           {"task_type", "cover"},
           {"analysis_only", true},
           {"full_analysis_only", true},
           {"use_adg", true},
           {"cfg_interval_start", 0.1},
           {"cfg_interval_end", 0.9},
           {"timesteps", "0.9,0.5,0.1"},
           {"use_tiled_decode", false},
           {"constrained_decoding", false},
           {"constrained_decoding_debug", true},
           {"is_format_caption", true},
           {"allow_lm_batch", false},
           {"track_name", "drums"},
           {"track_classes", json::array({"drums"})}}) {
    EXPECT_EQ(refused({{field, value}}, field).code, "unsupported_field") << field;
  }
  // A wrong type is a plain bad value.
  EXPECT_EQ(refused({{"sample_mode", "no"}}, "sample_mode").code, "invalid_request");
}

TEST(ServerRequest, TextFieldsAreChecked) {
  refused({{"prompt",
            "a\x01"
            "b"}},
          "prompt");
  refused({{"lyrics", "\x1b[2J"}}, "lyrics");
  refused({{"prompt", "\xc3\x28"}}, "prompt");  // invalid UTF-8 (form fields are not JSON-checked)
  refused({{"lyrics", std::string(kMaxLyricsBytes + 1, 'a')}}, "lyrics");
  EXPECT_EQ(accepted({{"lyrics", std::string(kMaxLyricsBytes, 'a')}}).song.lyrics.size(),
            kMaxLyricsBytes);
  refused({{"prompt", std::string(kMaxCaptionBytes + 1, 'a')}}, "prompt");
  refused({{"prompt", nullptr}}, "prompt");
  refused({{"key_scale", "H major"}}, "key_scale");
  refused({{"time_signature", "5/4"}}, "time_signature");
  refused({{"vocal_language", "xx"}}, "vocal_language");
  refused({{"lm_negative_prompt", std::string("a\0b", 3)}}, "lm_negative_prompt");
  EXPECT_EQ(accepted({{"prompt", "caf\xc3\xa9\tjazz\r\n"}}).song.caption, "caf\xc3\xa9\tjazz\r\n");
  EXPECT_FALSE(accepted({{"key_scale", ""}}).song.keyscale.has_value());
  refused({{"bpm", 29}}, "bpm");
  refused({{"bpm", 301}}, "bpm");
  EXPECT_EQ(accepted({{"bpm", 300}}).song.bpm, 300);
}

TEST(ServerRequest, EnumsModelsAndBackends) {
  EXPECT_EQ(accepted({{"audio_format", "wav32"}}).audio_format, "wav32");
  for (const json& bad : std::initializer_list<json>{"wav\n", "../x", "WAV", "", 1})
    refused({{"audio_format", bad}}, "audio_format");
  EXPECT_EQ(refused({{"audio_format", "aac"}}, "audio_format").code, "unsupported_field");
  EXPECT_EQ(accepted({{"infer_method", "sde"}}).song.method, "sde");
  refused({{"infer_method", "euler"}}, "infer_method");
  EXPECT_EQ(accepted({{"lm_backend", "pt"}}).song.settings.at("backend"), "pt");
  refused({{"lm_backend", "llama"}}, "lm_backend");
  const ReleaseRequest m =
      accepted({{"model", "acestep-v15-turbo"}, {"lm_model_path", "acestep-5Hz-lm-1.7B"}});
  EXPECT_EQ(m.model, "acestep-v15-turbo");
  EXPECT_EQ(m.song.settings.at("config_path"), "acestep-v15-turbo");
  EXPECT_EQ(m.song.settings.at("lm_model"), "acestep-5Hz-lm-1.7B");
  for (const char* bad : {"../x", "/etc/passwd", "a/b", "a\\b", ".hidden", "C:x", ""}) {
    refused({{"model", bad}}, "model");
    refused({{"lm_model_path", bad}}, "lm_model_path");
  }
  EXPECT_FALSE(accepted({{"model", nullptr}}).model.has_value());
  const ReleaseRequest lm = accepted({{"thinking", true},
                                      {"use_cot_caption", false},
                                      {"use_cot_language", false},
                                      {"lm_top_k", 40},
                                      {"lm_top_p", 1},
                                      {"lm_cfg_scale", 3},
                                      {"lm_repetition_penalty", 1.1}});
  EXPECT_TRUE(lm.song.thinking);
  EXPECT_TRUE(lm.song.no_cot_caption);
  EXPECT_TRUE(lm.song.no_cot_language);
  EXPECT_EQ(lm.song.lm_top_k, 40);
  refused({{"lm_top_p", 0}}, "lm_top_p");
  refused({{"lm_temperature", 10.5}}, "lm_temperature");
  refused({{"lm_top_k", -1}}, "lm_top_k");
}

TEST(ServerRequest, CanonicalFormParsesToTheSameRequest) {
  const json body = {
      {"caption", "dream pop"},     {"lyrics", "[Verse]\nla"}, {"metas", {{"bpm", 95}}},
      {"audioDuration", 42.5},      {"batch_size", "4"},       {"seed", "17"},
      {"use_random_seed", "false"}, {"infer_method", "sde"},   {"ai_token", "secret"},
      {"guidance_scale", "6.5"},    {"lm_top_k", ""}};
  const ReleaseRequest first = accepted(body, FieldSource::form);
  EXPECT_FALSE(first.canonical.contains("ai_token"));
  const ReleaseRequest again = accepted(first.canonical, FieldSource::json);
  EXPECT_EQ(again.canonical, first.canonical);
  EXPECT_EQ(again.song.caption, "dream pop");
  EXPECT_EQ(again.song.bpm, 95);
  EXPECT_EQ(again.duration_s, 42.5);
  EXPECT_EQ(again.batch_size, 4);
  EXPECT_EQ(again.song.seed, 17u);
  EXPECT_FALSE(again.song.random_seed);
  EXPECT_EQ(again.song.method, "sde");
  EXPECT_EQ(again.song.guidance, 6.5);
  EXPECT_EQ(again.song.settings, first.song.settings);
}

TEST(ServerRequest, TopLevelMustBeAnObject) {
  EXPECT_EQ(refused(json::array(), "").code, "invalid_json");
  EXPECT_EQ(refused_text("[1]", "invalid_json").message, "JSON payload must be an object");
}

}  // namespace server_request_test
