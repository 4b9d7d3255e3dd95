// Internals of io/tokenizer: the loaded tables (Tokenizer::Impl) and the
// builder the file loaders feed entry by entry. The builder checks every
// entry as it arrives (ids in range, no duplicate ids or token strings,
// merges naming known tokens) and `finish` checks the whole (every byte has
// a token, required tokens present, ids below the embedding rows).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "io/tokenizer/bpe.h"
#include "io/tokenizer/pretokenizer.h"
#include "io/tokenizer/tokenizer.h"

namespace acefit {

// Byte trie over the added tokens' contents: leftmost-longest matching in
// O(length of the longest token) per text position.
class AddedTokenTrie {
 public:
  void insert(std::string_view content, std::int32_t index);
  // The index of the longest token starting at text[position] and its length
  // in bytes, or {-1, 0}.
  std::pair<std::int32_t, std::size_t> longest_match(std::string_view text,
                                                     std::size_t position) const;
  bool may_start(unsigned char byte) const { return first_byte_[byte]; }

 private:
  std::vector<std::int32_t> node_token_{-1};               // node -> token index or -1
  std::unordered_map<std::uint64_t, std::int32_t> edges_;  // node << 8 | byte -> child
  std::array<bool, 256> first_byte_{};
};

enum class TokenKind : std::uint8_t { none, vocab, added, added_special };

struct Tokenizer::Impl {
  std::string origin;
  BpeTables bpe;
  std::size_t merge_count = 0;
  // id -> bytes, stored as one blob: piece i is blob[offsets[i], offsets[i + 1]).
  std::string blob;
  std::vector<std::uint32_t> offsets;
  std::vector<TokenKind> kinds;
  std::vector<AddedToken> added;
  std::unordered_map<std::string, std::int32_t> added_by_content;  // -> index into added
  AddedTokenTrie trie;
  bool nfc = true;
  std::optional<RegexSplitter> splitter;

  std::string_view piece(std::int32_t id) const {
    return std::string_view(blob).substr(offsets[id], offsets[id + 1] - offsets[id]);
  }
};

// Feeds a tokenizer entry by entry. Every message starts with the origin.
struct TokenizerBuilder {
  explicit TokenizerBuilder(std::string origin);

  // One vocabulary entry, spelled byte-level ("Ġworld"). `where` names the
  // entry for messages ("model.vocab entry \"Ġworld\"").
  Status add_vocab(std::string_view spelling, std::int64_t id, const std::string& where);
  // One merge, both parts spelled byte-level; rank = the order of the calls.
  Status add_merge(std::string_view left, std::string_view right, const std::string& where);
  Status add_added_token(AddedToken token, const std::string& where);

  Status set_split_pattern(std::string_view pattern, const std::string& where);
  void set_nfc(bool on) { nfc_ = on; }
  void set_ignore_merges(bool on) { ignore_merges_ = on; }

  Expected<Tokenizer> finish(const TokenizerOptions& options);

  std::string origin_;
  std::unordered_map<std::int32_t, std::string> vocab_by_id_;  // id -> raw bytes
  std::unordered_map<std::string, std::int32_t> vocab_ids_;    // raw bytes -> id
  std::unordered_map<std::uint64_t, BpeMerge> merges_;
  std::vector<AddedToken> added_;
  std::unordered_map<std::string, std::size_t> added_by_content_;
  std::unordered_map<std::int32_t, std::size_t> added_by_id_;
  std::optional<RegexSplitter> splitter_;
  bool nfc_ = true;
  bool ignore_merges_ = false;
  std::string left_, right_, merged_;  // scratch
};

// Untrusted text for a one-line message: quoted, control bytes escaped,
// cut at `max_bytes`.
std::string shown_token(std::string_view text, std::size_t max_bytes = 60);

}  // namespace acefit
