// The request flags `generate` and `plan` share (caption, lyrics, metadata,
// sampler) and the translation of flags + effective settings into a
// GenerationRequest and GeneratorOptions, so both commands describe the
// same run in the same words.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "adapt/settings.h"
#include "pipeline/generator.h"

namespace acefit::cli {

inline constexpr double kDefaultDurationS = 30.0;

struct RequestArgs {
  std::string caption;
  std::string lyrics;
  std::string language = "unknown";
  std::uint64_t seed = 42;
  std::optional<int> steps;
  std::optional<double> shift;
  std::optional<double> guidance;
  std::optional<int> bpm;
  std::optional<std::string> keyscale;
  std::optional<std::string> time_signature;
  std::string method = "ode";
  bool f32_weights = false;
};

// caption_required: generate needs one; plan does not (prompt lengths barely
// change the plan).
void add_request_flags(CLI::App& command, RequestArgs& args, bool caption_required);

// invalid_argument naming the flag for bad values.
Expected<GenerationRequest> build_request(const RequestArgs& args,
                                          const EffectiveSettings& settings);

// The checkpoints folder, the DiT folder from --config-path, the weight
// dtypes and the offload mode and INT8 from the settings.
GeneratorOptions generator_options(const RequestArgs& args, const EffectiveSettings& settings,
                                   const std::string& checkpoints);

// The folder of the Qwen3 tokenizer files: ACEFIT_QWEN3_TOKENIZER_DIR, else
// the folder scripts/fetch-tokenizer fills; "" when neither has them.
std::string default_tokenizer_dir();

}  // namespace acefit::cli
