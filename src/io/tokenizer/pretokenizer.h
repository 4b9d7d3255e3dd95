// The text stages in front of BPE: NFC normalisation (utf8proc, with a
// canonical reordering that stays O(n log n) on long runs of combining marks)
// and the regex split of Hugging Face's `Split` pre-tokenizer (PCRE2 in UTF +
// UCP mode, JIT when available, with match and heap limits so no input can
// make it backtrack without bound). `\s` and `\S` in a pattern are rewritten
// to Unicode White_Space, the set Rust's regex (and so Hugging Face) uses;
// PCRE2's own \s differs on U+0085.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace acefit {

// The pre-tokenizer pattern of Qwen2 / Qwen2.5 / Qwen3 tokenizers.
inline constexpr std::string_view kQwen2SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The GPT-2 pattern (ByteLevel pre-tokenizer with use_regex = true).
inline constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// NFC of valid UTF-8 (the caller validates). ASCII comes back unchanged
// without work.
Expected<std::string> nfc_normalize(std::string_view text);

// `pattern` with \s and \S replaced by explicit Unicode White_Space classes
// (exposed for tests). Fails on \S inside a character class.
Expected<std::string> rewrite_white_space_classes(std::string_view pattern);

// Splits text like the `Split` pre-tokenizer with behavior "Isolated": every
// match is a piece and so is every stretch of text between matches.
class RegexSplitter {
 public:
  // `origin` names the file and field the pattern came from, for messages.
  static Expected<RegexSplitter> compile(std::string_view pattern, std::string_view origin);

  // Appends the [begin, end) byte ranges of the pieces of `text` (valid
  // UTF-8) in order; together they cover the text exactly.
  Status split(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out) const;

  bool jit() const;
  const std::string& pattern() const;

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace acefit
