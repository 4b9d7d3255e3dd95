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

#include "adapt/settings.h"
#include "pipeline/generator.h"

namespace acefit::cli {

inline constexpr double kDefaultDurationS = 30.0;
inline constexpr std::uint64_t kDefaultSeed = 42;
// Seeds are 0 .. 2^32 - 1 (as the ACE-Step UI); -1 draws one. Batch item b
// uses seed + b, which never wraps in 64 bits.
inline constexpr std::uint64_t kMaxSeed = 4294967295ull;
inline constexpr double kMaxShift = 100.0;
inline constexpr double kMaxGuidance = 100.0;
inline constexpr int kMaxSteps = 1000;
// --audio-codes-file: 3000 codes (600 s) of "<|audio_code_63999|>" are 60 KB.
inline constexpr std::size_t kMaxAudioCodeBytes = 1 << 20;

struct RequestArgs {
  std::string caption;
  std::string lyrics;
  std::string caption_file;
  std::string lyrics_file;
  std::string language = "unknown";
  std::uint64_t seed = kDefaultSeed;
  bool random_seed = false;  // --seed -1
  std::optional<int> steps;
  std::optional<double> shift;
  std::optional<double> guidance;
  std::optional<int> bpm;
  std::optional<std::string> keyscale;
  std::optional<std::string> time_signature;
  bool instrumental = false;  // --instrumental: the lyrics are "[Instrumental]"
  std::string method = "ode";
  // DCW (--dcw on|off; nullopt: by model), --dcw-mode, --dcw-scaler,
  // --dcw-high-scaler.
  std::optional<bool> dcw;
  DcwOptions dcw_options;
  bool f32_weights = false;
  // --audio-codes / --audio-codes-file: <|audio_code_N|> tokens or integers.
  std::string audio_codes_text;
  std::string audio_codes_file;
  std::vector<std::int64_t> audio_codes;  // parsed by prepare_request_args
  // The 5 Hz LM (docs/LM.md): --thinking (CoT, then audio codes), --cot
  // (CoT metadata only) and its sampling.
  bool thinking = false;
  bool cot = false;
  bool no_cot_caption = false;
  bool no_cot_language = false;
  std::string lm_negative_prompt = "NO USER INPUT";
  float lm_temperature = 0.85f;
  float lm_cfg_scale = 2.0f;
  int lm_top_k = 0;
  float lm_top_p = 0.9f;
  float lm_repetition_penalty = 1.0f;
  bool uses_lm() const { return thinking || cot; }
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

// invalid_argument naming the flag for bad values.
Expected<GenerationRequest> build_request(const RequestArgs& args,
                                          const EffectiveSettings& settings);

// The checkpoints folder, the DiT folder from --config-path, the weight
// dtypes and the offload mode and INT8 from the settings.
// With the LM: the settings' model, or when the tier's recommended folder is
// missing, the largest LM folder present that the tier allows (`note` then
// says so).
GeneratorOptions generator_options(const RequestArgs& args, const EffectiveSettings& settings,
                                   const std::string& checkpoints, std::string* note = nullptr);

// The folder of the Qwen3 tokenizer files: ACEFIT_QWEN3_TOKENIZER_DIR, else
// the folder scripts/fetch-tokenizer fills; "" when neither has them.
std::string default_tokenizer_dir();

// Reads the tokenizer a run will use on a thread of its own, started before
// the devices are probed and the settings resolved, so that the two overlap
// (reading tokenizer.json is most of a plan's time). The folder is the one
// Generator::load would read: `preset_dir` for a preset, else the text
// encoder folder of `checkpoints`. take() returns the tokenizer, or null
// when there is none or it failed to load; Generator::load then reads it
// itself and reports the error.
class TokenizerPreload {
 public:
  TokenizerPreload(const std::string& checkpoints, const std::string& preset_dir);
  ~TokenizerPreload();
  TokenizerPreload(const TokenizerPreload&) = delete;
  TokenizerPreload& operator=(const TokenizerPreload&) = delete;
  std::shared_ptr<const Tokenizer> take();
  double load_s() const { return load_s_; }  // reading it, after take()

 private:
  struct Loaded {
    std::shared_ptr<const Tokenizer> tokenizer;
    double seconds = 0;
  };
  std::future<Loaded> pending_;
  double load_s_ = 0;
};

// Strict number parsing for flags and variables: the whole text, no NaN or
// infinity, within [min, max]; nullopt otherwise.
std::optional<double> parse_finite(std::string_view text, double min, double max);
std::optional<std::int64_t> parse_whole(std::string_view text, std::int64_t min, std::int64_t max);

}  // namespace acefit::cli
