// The 5 Hz LM's prompts (spec: acestep-model.md 14.3): the Qwen3 chat text
// ACE-Step 1.5 builds for phase 1 (CoT) and phase 2 (codes), conditional and
// unconditional (CFG), and its token ids. The ids are what upstream's
// tokenizer call on the whole chat text gives: the text is encoded at once,
// so the special tokens written in it (<|im_start|>, <think>, ...) and any a
// user writes in a caption or lyrics map to their ids.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/tokenizer/tokenizer.h"
#include "models/lm/cot_fields.h"

namespace acefit::models::lm {

inline constexpr const char* kDefaultLmInstruction =
    "Generate audio semantic tokens based on the given conditions:";
inline constexpr const char* kNoNegativePrompt = "NO USER INPUT";

struct LmPromptInput {
  std::string caption;
  std::string lyrics;
  // Used by the unconditional prompts only when meaningful: not blank and
  // not "NO USER INPUT" (white space around it ignored).
  std::string negative_prompt = kNoNegativePrompt;
};

// Whether the negative prompt replaces the caption in the unconditional
// prompts (upstream's _has_meaningful_negative_prompt).
bool has_meaningful_negative_prompt(const std::string& negative_prompt);

// Phase 1 chat text. Conditional user turn "# Caption\n{caption}\n\n# Lyric\n
// {lyrics}\n"; unconditional: the negative prompt as the caption when
// meaningful, else "# Lyric\n{lyrics}\n" alone. Ends with the generation
// prompt "<|im_start|>assistant\n".
std::string cot_prompt_text(const LmPromptInput& input, bool conditional);

// Phase 2 chat text: system and user turns (the unconditional one with the
// negative prompt as the caption when meaningful, else the caption), then
// the closed assistant turn holding the CoT as the Qwen3 chat template
// renders it: "<|im_start|>assistant\n<think>\n{yaml}\n</think>\n\n
// <|im_end|>\n", with an empty CoT in the unconditional prompt.
std::string codes_prompt_text(const LmPromptInput& input, const CotFields& cot, bool conditional);

// The token ids of those texts (tokenizer errors pass through, e.g. text
// that is not UTF-8).
Expected<std::vector<std::int32_t>> cot_prompt_ids(const Tokenizer& tokenizer,
                                                   const LmPromptInput& input, bool conditional);
Expected<std::vector<std::int32_t>> codes_prompt_ids(const Tokenizer& tokenizer,
                                                     const LmPromptInput& input,
                                                     const CotFields& cot, bool conditional);

}  // namespace acefit::models::lm
