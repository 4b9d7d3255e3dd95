// The 5 Hz LM stage (acestep-model.md 14, gpu-adaptation.md 8, 9.4): phase 1
// writes the chain of thought (metadata: bpm, caption, duration, keyscale,
// language, time signature) under the CoT constraint, once per request and
// without CFG; phase 2 writes exactly duration x 5 audio codes for each
// batch item (its own seed), CFG as paired sequences in one batch. Tokens
// are sampled on the host (CFG, constraint, penalty, top-k, top-p,
// temperature) from a partial head: [0, 151669) in phase 1, EOS and the
// 64000 audio-code rows in phase 2.
//
// KV memory is sized from the request (docs/LM.md), never from a fixed
// context: the `vllm` backend reserves one pool of whole 256-token blocks
// for exactly the sequences and tokens the request can need, before the
// first token; `pt` grows each sequence's cache a block at a time. On a
// planning device the same code reserves the same memory without running a
// kernel: prompts are exact when the tokenizer is there, token counts are
// the request's bounds (phase 2 is exact; phase 1 stops at EOS, so a real
// run ends at or below its plan), and the CoT phase 2 is prompted with is
// its longest.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/tokenizer/tokenizer.h"
#include "models/lm/causal_lm.h"
#include "models/lm/cot_fields.h"
#include "models/lm/token_sampler.h"
#include "ops/op_context.h"
#include "pipeline/run_record.h"

namespace acefit {

enum class LmBackend { vllm, pt };
std::string_view lm_backend_name(LmBackend backend);  // "vllm", "pt"
// "vllm", "pt"; "mlx" is pt (mlx runs only on Apple Silicon).
std::optional<LmBackend> parse_lm_backend(std::string_view name);

// What a request asks of the LM.
struct LmRequest {
  bool cot = false;              // phase 1: CoT metadata fills what the user left open
  bool thinking = false;         // phase 2 (and phase 1 unless bpm, keyscale, time signature and
                                 // duration were all given): audio codes steer the DiT
  bool use_cot_caption = true;   // the CoT writes a caption, which the DiT then uses
  bool use_cot_language = true;  // the CoT writes the language
  std::string negative_prompt = "NO USER INPUT";
  models::lm::SamplerOptions sampling;
  int max_duration_s = 600;    // the tier's max_duration_with_lm: the CoT's duration limit
  bool duration_given = true;  // the request's duration is the user's (else the CoT picks)
  bool active() const { return cot || thinking; }
};

// The request's text and metadata, as the LM sees them.
struct LmInputs {
  std::string caption;
  std::string lyrics;
  std::string language = "unknown";
  std::optional<int> bpm;
  std::optional<std::string> keyscale;
  std::optional<std::string> time_signature;
  double duration_s = 30;
  int batch = 1;
  std::uint64_t seed = 0;  // phase 2 item b samples with seed + b
};

struct LmOutcome {
  bool cot_ran = false;
  models::lm::CotFields cot;                     // what phase 1 wrote (user fields included)
  std::string cot_text;                          // its decoded text
  std::vector<std::vector<std::int64_t>> codes;  // phase 2, per batch item
  double target_duration_s = 0;                  // codes / 5
  std::uint64_t kv_peak_bytes = 0;
};

// The bounds a request sets (also what `plan` shows).
struct LmBounds {
  bool phase1 = false, phase2 = false;
  std::int64_t prompt1_tokens = 0;          // phase 1 prompt
  std::int64_t new1_tokens = 0;             // phase 1 at most
  std::int64_t prompt2_tokens = 0;          // phase 2 conditional prompt, at most
  std::int64_t codes = 0;                   // phase 2 codes per item (exactly)
  int sequences2 = 0;                       // phase 2 sequences (CFG twins included)
  std::int64_t kv_tokens_per_sequence = 0;  // the vllm pool's tokens per sequence
  int kv_sequences = 0;                     // the vllm pool's sequences
};

using LmProgressFn =
    std::function<void(std::string_view phase, std::int64_t done, std::int64_t total)>;

// Runs the LM stage on ctx.device with `lm` (already there). tokenizer: the
// LM's (or, planning, any Qwen3 tokenizer; null plans the longest prompts).
Expected<LmOutcome> run_lm_stage(const models::lm::CausalLm& lm, const Tokenizer* tokenizer,
                                 LmBackend backend, const ops::OpContext& ctx,
                                 const LmInputs& inputs, const LmRequest& request, LmReport& report,
                                 const LmProgressFn& progress = {});

// The bounds of a request (prompts tokenized when a tokenizer is given).
Expected<LmBounds> lm_bounds(const Tokenizer* tokenizer, const LmInputs& inputs,
                             const LmRequest& request);

}  // namespace acefit
