// Byte-level BPE (GPT-2 / Qwen2 style): the map between raw bytes and the
// printable characters tokenizer files spell them with, and the merge tables
// that turn one pre-tokenized word (raw bytes) into token ids. Merges are
// applied by rank with a heap over a linked list of symbols, so a word of n
// bytes costs O(n log n), never O(n^2).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace acefit {

// The GPT-2 byte-to-unicode map: the code point that stands for each byte in
// vocab.json / tokenizer.json ("Ġ" = U+0120 for a space).
char32_t byte_level_char(std::uint8_t byte);

// Raw bytes -> their byte-level spelling (UTF-8).
std::string byte_level_encode(std::string_view bytes);

// A byte-level spelling -> raw bytes. False when `text` holds a character
// outside the map (or is not UTF-8); `out` is then unspecified.
bool byte_level_decode(std::string_view text, std::string& out);

struct BpeMerge {
  std::int32_t rank = 0;    // position in the merges list; lower merges first
  std::int32_t result = 0;  // id of the merged token
};

// The tables one BPE model needs. Filled by the tokenizer loader, which
// guarantees: every byte has a token (byte_ids has no -1) and every merge's
// parts and result are vocabulary tokens.
struct BpeTables {
  std::array<std::int32_t, 256> byte_ids{};                 // raw byte -> id
  std::unordered_map<std::string, std::int32_t> token_ids;  // raw bytes -> id
  std::unordered_map<std::uint64_t, BpeMerge> merges;       // (left << 32 | right) -> merge
  bool ignore_merges = false;  // a word that is itself a token maps to it directly

  static std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
           static_cast<std::uint32_t>(right);
  }
};

// Reusable buffers for encode_word (one per encoding call, not shared).
struct BpeScratch {
  struct Symbol {
    std::int32_t id;
    std::int32_t prev;
    std::int32_t next;
    bool alive;
  };
  struct Candidate {
    std::uint64_t order;  // rank << 32 | position: the lowest merges first, leftmost on ties
    std::int32_t left;
    std::int32_t right;
    std::int32_t result;
    bool operator>(const Candidate& other) const { return order > other.order; }
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

// Appends the ids of one word (raw bytes, not empty).
void bpe_encode_word(const BpeTables& tables, std::string_view word, BpeScratch& scratch,
                     std::vector<std::int32_t>& out);

}  // namespace acefit
