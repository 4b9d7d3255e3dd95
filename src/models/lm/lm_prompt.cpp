#include "models/lm/lm_prompt.h"

#include <string_view>

#include "models/lm/cot_text.h"

namespace acefit::models::lm {

namespace {

// Python's str.strip() for the white space a prompt field can carry.
std::string_view lm_prompt_strip_space(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\v\f\x1c\x1d\x1e\x1f";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

std::string lm_prompt_caption_and_lyrics(std::string_view caption, std::string_view lyrics) {
  std::string out = "# Caption\n";
  out += caption;
  out += "\n\n# Lyric\n";
  out += lyrics;
  out += '\n';
  return out;
}

// The Qwen3 chat template's system and user turns.
std::string lm_prompt_system_and_user(std::string_view user_content) {
  std::string out = "<|im_start|>system\n# Instruction\n";
  out += kDefaultLmInstruction;
  out += "\n\n<|im_end|>\n<|im_start|>user\n";
  out += user_content;
  out += "<|im_end|>\n";
  return out;
}

// What the Qwen3 chat template writes for the last assistant message when
// its content holds "</think>": the reasoning (before the first "</think>",
// after the last "<think>" in it, newlines trimmed) in a think block, then
// the rest of the content (after the last "</think>").
std::string lm_prompt_assistant_turn(std::string_view content) {
  constexpr std::string_view kOpen = "<think>";
  constexpr std::string_view kClose = "</think>";
  std::string_view reasoning = content.substr(0, content.find(kClose));
  std::string_view rest = content.substr(content.rfind(kClose) + kClose.size());
  if (const std::size_t open = reasoning.rfind(kOpen); open != std::string_view::npos) {
    reasoning.remove_prefix(open + kOpen.size());
  }
  const auto trim_newlines = [](std::string_view text, bool front, bool back) {
    while (front && !text.empty() && text.front() == '\n') text.remove_prefix(1);
    while (back && !text.empty() && text.back() == '\n') text.remove_suffix(1);
    return text;
  };
  reasoning = trim_newlines(reasoning, true, true);
  rest = trim_newlines(rest, true, false);
  std::string out = "<|im_start|>assistant\n<think>\n";
  out += reasoning;
  out += "\n</think>\n\n";
  out += rest;
  out += "<|im_end|>\n";
  return out;
}

}  // namespace

bool has_meaningful_negative_prompt(const std::string& negative_prompt) {
  const std::string_view stripped = lm_prompt_strip_space(negative_prompt);
  return !stripped.empty() && stripped != kNoNegativePrompt;
}

std::string cot_prompt_text(const LmPromptInput& input, bool conditional) {
  std::string user;
  if (conditional) {
    user = lm_prompt_caption_and_lyrics(input.caption, input.lyrics);
  } else if (has_meaningful_negative_prompt(input.negative_prompt)) {
    user = lm_prompt_caption_and_lyrics(input.negative_prompt, input.lyrics);
  } else {
    user = "# Lyric\n" + input.lyrics + "\n";
  }
  return lm_prompt_system_and_user(user) + "<|im_start|>assistant\n";
}

std::string codes_prompt_text(const LmPromptInput& input, const CotFields& cot, bool conditional) {
  const bool negative = !conditional && has_meaningful_negative_prompt(input.negative_prompt);
  const std::string& caption = negative ? input.negative_prompt : input.caption;
  const std::string think = conditional ? cot_think_block(cot) : std::string("<think>\n</think>");
  // The template's text always ends with "<|im_end|>\n", so upstream's
  // "add a newline when missing" never applies.
  return lm_prompt_system_and_user(lm_prompt_caption_and_lyrics(caption, input.lyrics)) +
         lm_prompt_assistant_turn(think);
}

Expected<std::vector<std::int32_t>> cot_prompt_ids(const Tokenizer& tokenizer,
                                                   const LmPromptInput& input, bool conditional) {
  return tokenizer.encode(cot_prompt_text(input, conditional));
}

Expected<std::vector<std::int32_t>> codes_prompt_ids(const Tokenizer& tokenizer,
                                                     const LmPromptInput& input,
                                                     const CotFields& cot, bool conditional) {
  return tokenizer.encode(codes_prompt_text(input, cot, conditional));
}

}  // namespace acefit::models::lm
