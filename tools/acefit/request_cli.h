// The request flags `generate` and `plan` share (caption, lyrics, metadata,
// sampler) and the translation of flags + effective settings into a
// GenerationRequest and GeneratorOptions, so both commands describe the
// same run in the same words.
//
// Numbers are checked while the command line is parsed (a NaN, an infinity,
// a value out of range or a seed that would wrap is exit 2 naming the flag);
// text keeps every character it was given ("[Intro]" stays "[Intro]") and is
// checked (length, UTF-8, control characters) before anything is loaded.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acefit/request.h"
#include "engine/song_request.h"

namespace acefit::cli {

inline constexpr double kMaxShift = 100.0;
inline constexpr double kMaxGuidance = 100.0;
inline constexpr int kMaxSteps = 1000;
// --audio-codes-file: 3000 codes (600 s) of "<|audio_code_63999|>" are 60 KB.
inline constexpr std::size_t kMaxAudioCodeBytes = 1 << 20;

// The request flags fill a SongRequest (include/acefit/request.h) and the
// files and texts that become its fields.
struct RequestArgs : SongRequest {
  std::string caption_file;
  std::string lyrics_file;
  // --audio-codes / --audio-codes-file: <|audio_code_N|> tokens or integers
  // (parsed into audio_codes by prepare_request_args).
  std::string audio_codes_text;
  std::string audio_codes_file;
};

// caption_required: generate needs one; plan does not (prompt lengths barely
// change the plan).
void add_request_flags(CLI::App& command, RequestArgs& args, bool caption_required);

// Makes a text option keep its value exactly: CLI11 otherwise reads
// "[a,b]" as a list and drops the brackets.
CLI::Option* keep_text(CLI::Option* option);

// Reads --caption-file / --lyrics-file, draws the seed for --seed -1 and
// checks the text and metadata flags; invalid_argument naming the flag.
// Cheap: call it before anything is opened or loaded.
Status prepare_request_args(RequestArgs& args, bool caption_required);

// invalid_argument naming the flag for bad values (engine/song_request.h).
inline Expected<GenerationRequest> build_request(const RequestArgs& args,
                                                 const EffectiveSettings& settings) {
  return generation_request(args, settings);
}

inline GeneratorOptions generator_options(const RequestArgs& args,
                                          const EffectiveSettings& settings,
                                          const std::string& checkpoints,
                                          std::string* note = nullptr) {
  return generator_options_for(args, settings, checkpoints, note);
}

// The folder of the Qwen3 tokenizer files: ACEFIT_QWEN3_TOKENIZER_DIR, else
// the folder scripts/fetch-tokenizer fills; "" when neither has them.
std::string default_tokenizer_dir();

// Strict number parsing for flags and variables: the whole text, no NaN or
// infinity, within [min, max]; nullopt otherwise.
std::optional<double> parse_finite(std::string_view text, double min, double max);
std::optional<std::int64_t> parse_whole(std::string_view text, std::int64_t min, std::int64_t max);

}  // namespace acefit::cli
