// The Qwen2 / Qwen3 byte-level BPE tokenizer (also the ACE-Step 5 Hz LM's,
// which adds <|audio_code_N|> tokens): loads Hugging Face tokenizer.json, or
// vocab.json + merges.txt (+ tokenizer_config.json), and turns UTF-8 text
// into token ids and back. Pipeline (the same as Hugging Face tokenizers):
//   1. the text must be valid UTF-8 (errors name the byte offset);
//   2. added tokens written in the text (<|endoftext|>, <|im_start|>, ...)
//      are cut out first, leftmost then longest match, each to its one id;
//   3. every other stretch is NFC-normalised, split by the pre-tokenizer
//      regex, and each piece is BPE-encoded over its raw bytes;
//   4. with special tokens on, the post-processor's template (e.g. Qwen3-
//      Embedding's "$A <|endoftext|>") adds its ids around the text's.
// A loaded Tokenizer is immutable; encode and decode may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace acefit {

// ---- ACE-Step audio-code tokens (acestep-model.md 14.2) ----

inline constexpr std::int32_t kAudioCodeFirstTokenId = 151669;
inline constexpr std::int32_t kAudioCodeCount = 64000;      // valid FSQ codes 0..63999
inline constexpr std::int32_t kAudioCodeSlotCount = 65535;  // slots in the LM vocabulary

// The token id of audio code `code`; invalid_argument unless 0 <= code < 64000.
Expected<std::int32_t> audio_code_token_id(std::int64_t code);
// Whether `token_id` is one of the 64000 valid audio-code tokens.
bool is_audio_code(std::int64_t token_id);
// The code of an audio-code token id; invalid_argument when it is not one.
Expected<std::int32_t> audio_code_of_token(std::int64_t token_id);
// "<|audio_code_N|>" (N is not range-checked).
std::string audio_code_token_text(std::int64_t code);

// ---- the tokenizer ----

struct AddedToken {
  std::int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;      // swallows the white space before it
  bool rstrip = false;      // swallows the white space after it
  bool normalized = false;  // informational: every added token is matched on the raw text
};

struct TokenizerOptions {
  // Added tokens that must exist (TX-08: a missing required special token
  // is a load error). The default is what ACE-Step's prompts need.
  std::vector<std::string> required_tokens = {"<|endoftext|>"};
  // The embedding table's row count, when known: every id must be below it.
  std::optional<std::int64_t> embedding_rows;
};

// Hard limits checked while loading (before anything is sized from a file).
inline constexpr std::int64_t kMaxTokenizerFileBytes = 512ll << 20;
inline constexpr std::int32_t kMaxTokenId = (1 << 24) - 1;

class Tokenizer {
 public:
  // From a model folder: tokenizer.json when present, else vocab.json +
  // merges.txt (+ tokenizer_config.json for the added tokens).
  static Expected<Tokenizer> load(const std::string& directory,
                                  const TokenizerOptions& options = {});
  // From one tokenizer.json file.
  static Expected<Tokenizer> load_json_file(const std::string& path,
                                            const TokenizerOptions& options = {});
  // From tokenizer.json text; `origin` names it in messages.
  static Expected<Tokenizer> from_json(std::string_view text, std::string_view origin,
                                       const TokenizerOptions& options = {});
  // From vocab.json + merges.txt (+ tokenizer_config.json when the path is
  // not empty). The pre-tokenizer is Qwen2's and NFC is on, as in
  // transformers' Qwen2Tokenizer.
  static Expected<Tokenizer> load_vocab_merges(const std::string& vocab_path,
                                               const std::string& merges_path,
                                               const std::string& config_path,
                                               const TokenizerOptions& options = {});

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Text -> ids. invalid_argument for text that is not UTF-8 (naming the
  // byte offset) or that the split pattern cannot finish on. With
  // `add_special_tokens` (Hugging Face's default) the post-processor's ids
  // go around the text's: special_prefix() + text ids + special_suffix().
  Expected<std::vector<std::int32_t>> encode(std::string_view text,
                                             bool add_special_tokens = true) const;

  // What tokenizer.json's post_processor adds before and after the text's
  // ids (its TemplateProcessing "single" template); both empty without one
  // (vocab.json + merges.txt never have one).
  std::span<const std::int32_t> special_prefix() const;
  std::span<const std::int32_t> special_suffix() const;
  // special_prefix().size() + special_suffix().size() (Hugging Face's
  // num_special_tokens_to_add for one sequence).
  std::size_t special_token_count() const;

  // Ids -> text. invalid_argument for an id outside the vocabulary (naming
  // it and its position). Byte sequences that do not form UTF-8 (a token
  // list cut inside a character) become U+FFFD, as Hugging Face does.
  Expected<std::string> decode(std::span<const std::int32_t> ids,
                               bool skip_special_tokens = false) const;
  // The same, keeping the raw bytes.
  Expected<std::string> decode_bytes(std::span<const std::int32_t> ids,
                                     bool skip_special_tokens = false) const;

  // One past the largest id (151669 for Qwen3).
  std::int64_t vocab_size() const;
  // The id of a token written as raw text ("hello", " world", "<|im_end|>").
  std::optional<std::int32_t> token_id(std::string_view text) const;
  // The raw bytes (or added-token content) of an id.
  Expected<std::string> token_text(std::int32_t id) const;
  const std::vector<AddedToken>& added_tokens() const;
  std::size_t merge_count() const;
  // Whether <|audio_code_N|> is id 151669 + N for every N in 0..63999.
  Status check_audio_code_tokens() const;
  // Where this tokenizer was loaded from.
  const std::string& origin() const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend struct TokenizerBuilder;
};

// ---- tokenizer.json post-processors (acestep-model.md 18.1) ----

// Qwen3-Embedding-0.6B's post_processor, as its tokenizer.json has it:
// ByteLevel, then the template "$A <|endoftext|>" (id 151643).
inline constexpr std::string_view kQwen3EmbeddingPostProcessorJson =
    R"({"type":"Sequence","processors":[{"type":"ByteLevel","add_prefix_space":false,)"
    R"("trim_offsets":false,"use_regex":false},{"type":"TemplateProcessing","single":)"
    R"([{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<|endoftext|>","type_id":0}}],)"
    R"("pair":[{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<|endoftext|>",)"
    R"("type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"<|endoftext|>",)"
    R"("type_id":0}}],"special_tokens":{"<|endoftext|>":{"id":"<|endoftext|>","ids":[151643],)"
    R"("tokens":["<|endoftext|>"]}}}]})";
// The Qwen3 base tokenizer's (and the 5 Hz LM's): ids unchanged.
inline constexpr std::string_view kByteLevelPostProcessorJson =
    R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false})";

// tokenizer.json text with its top-level "post_processor" value replaced by
// `post_processor_json` (added first when absent); every other byte kept.
// For writing model folders. corrupt (naming `origin`) for invalid JSON.
Expected<std::string> replace_post_processor(std::string_view tokenizer_json,
                                             std::string_view post_processor_json,
                                             const std::string& origin);

}  // namespace acefit
