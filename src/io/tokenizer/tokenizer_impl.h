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
  // What the post-processor adds around the text's ids (add_special_tokens).
  std::vector<std::int32_t> post_prefix, post_suffix;

  std::string_view piece(std::int32_t id) const {
    return std::string_view(blob).substr(offsets[id], offsets[id + 1] - offsets[id]);
  }
};

// Token bytes -> id while loading: the bytes in one blob and an
// open-addressing index over them, so adding or finding one of 150k tokens
// allocates nothing and costs one hash and a short probe.
class TokenIdTable {
 public:
  struct Entry {
    std::uint32_t offset = 0;  // into the blob
    std::uint32_t length = 0;
    std::int32_t id = 0;
    std::size_t hash = 0;
  };
  // Adds bytes -> id; false when the bytes are already there.
  bool insert(std::string_view bytes, std::int32_t id);
  // The id of `bytes`, or -1.
  std::int32_t find(std::string_view bytes) const;
  std::string_view bytes(const Entry& entry) const {
    return std::string_view(blob_).substr(entry.offset, entry.length);
  }
  const std::vector<Entry>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  void rebuild(std::size_t slot_count);
  std::string blob_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> slots_;  // entry index + 1; 0 = empty
};

// Names an entry for messages ("model.vocab entry \"Ġworld\"",
// "model.merges[7]", "line 4"); the text is built only when a message needs
// it, so loading 150k entries formats nothing.
class EntryName {
 public:
  EntryName(const std::string& text) : prefix_(text) {}  // NOLINT: implicit on purpose
  static EntryName token(std::string_view prefix, std::string_view token) {
    EntryName name(prefix);
    name.token_ = token;
    name.form_ = Form::token;
    return name;
  }
  static EntryName index(std::string_view prefix, std::size_t index, std::string_view suffix) {
    EntryName name(prefix);
    name.index_ = index;
    name.suffix_ = suffix;
    name.form_ = Form::index;
    return name;
  }
  std::string text() const;

 private:
  enum class Form { plain, token, index };
  explicit EntryName(std::string_view prefix) : prefix_(prefix) {}
  std::string_view prefix_, token_, suffix_;
  std::size_t index_ = 0;
  Form form_ = Form::plain;
};

// Feeds a tokenizer entry by entry. Every message starts with the origin.
struct TokenizerBuilder {
  explicit TokenizerBuilder(std::string origin);

  // One vocabulary entry, spelled byte-level ("Ġworld"). `where` names the
  // entry for messages ("model.vocab entry \"Ġworld\"").
  Status add_vocab(std::string_view spelling, std::int64_t id, const EntryName& where);
  // One merge, both parts spelled byte-level; rank = the order of the calls.
  Status add_merge(std::string_view left, std::string_view right, const EntryName& where);
  Status add_added_token(AddedToken token, const std::string& where);

  Status set_split_pattern(std::string_view pattern, const std::string& where);
  void set_nfc(bool on) { nfc_ = on; }
  void set_ignore_merges(bool on) { ignore_merges_ = on; }

  Expected<Tokenizer> finish(const TokenizerOptions& options);

  // The post-processor's ids must be tokens of the finished tables, each
  // the token its template entry names.
  struct PostCheck {
    std::int32_t id = 0;
    std::string token;
    std::string where;
  };
  Status check_post_processor_ids(const Tokenizer::Impl& impl) const;

  std::string origin_;
  // The bytes of vocabulary id `id` (a scan: for messages and the few added
  // tokens that repeat a vocabulary id), or nullopt.
  std::optional<std::string_view> vocab_bytes_of(std::int32_t id) const;

  TokenIdTable vocab_ids_;                    // raw bytes -> id
  std::vector<std::uint64_t> vocab_id_used_;  // bitmap of the vocabulary ids, grown as needed
  std::unordered_map<std::uint64_t, BpeMerge> merges_;
  std::vector<AddedToken> added_;
  std::unordered_map<std::string, std::size_t> added_by_content_;
  std::unordered_map<std::int32_t, std::size_t> added_by_id_;
  std::optional<RegexSplitter> splitter_;
  bool nfc_ = true;
  bool ignore_merges_ = false;
  std::vector<std::int32_t> post_prefix_, post_suffix_;
  std::vector<PostCheck> post_checks_;
  std::string left_, right_, merged_;  // scratch
};

struct JsonValue;
// Reads tokenizer.json's "post_processor" (nullptr: absent) into the
// builder's post_prefix_ / post_suffix_ (post_processor.cpp).
Status read_post_processor(const JsonValue* post_processor, TokenizerBuilder& builder);

// Untrusted text for a one-line message: quoted, control bytes escaped,
// cut at `max_bytes`.
std::string shown_token(std::string_view text, std::size_t max_bytes = 60);

}  // namespace acefit
