#include "io/tokenizer/bpe.h"

#include <algorithm>
#include <functional>

#include "io/text/utf8.h"

namespace acefit {

namespace {

// Bytes that stand for themselves: '!'..'~', '¡'..'¬', '®'..'ÿ'.
bool printable_byte(std::uint32_t byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

struct ByteLevelMaps {
  std::array<char32_t, 256> to_char{};
  std::array<std::string, 256> to_utf8{};
  std::unordered_map<char32_t, std::uint8_t> to_byte;

  ByteLevelMaps() {
    std::uint32_t next = 0;
    for (std::uint32_t byte = 0; byte < 256; ++byte) {
      to_char[byte] = printable_byte(byte) ? byte : 256 + next++;
      append_utf8(to_utf8[byte], to_char[byte]);
      to_byte.emplace(to_char[byte], static_cast<std::uint8_t>(byte));
    }
  }
};

const ByteLevelMaps& maps() {
  static const ByteLevelMaps instance;
  return instance;
}

}  // namespace

char32_t byte_level_char(std::uint8_t byte) {
  return maps().to_char[byte];
}

std::string byte_level_encode(std::string_view bytes) {
  const ByteLevelMaps& m = maps();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out += m.to_utf8[static_cast<std::uint8_t>(c)];
  return out;
}

bool byte_level_decode(std::string_view text, std::string& out) {
  const ByteLevelMaps& m = maps();
  out.clear();
  for (std::size_t offset = 0; offset < text.size();) {
    const Utf8Char decoded = decode_utf8_at(text, offset);
    if (decoded.length == 0) return false;
    const auto it = m.to_byte.find(decoded.code_point);
    if (it == m.to_byte.end()) return false;
    out += static_cast<char>(it->second);
    offset += decoded.length;
  }
  return true;
}

void bpe_encode_word(const BpeTables& tables, std::string_view word, BpeScratch& scratch,
                     std::vector<std::int32_t>& out) {
  if (word.size() == 1) {
    out.push_back(tables.byte_ids[static_cast<std::uint8_t>(word[0])]);
    return;
  }
  if (tables.ignore_merges) {
    const auto it = tables.token_ids.find(std::string(word));
    if (it != tables.token_ids.end()) {
      out.push_back(it->second);
      return;
    }
  }
  auto& symbols = scratch.symbols;
  auto& heap = scratch.heap;
  symbols.clear();
  heap.clear();
  const auto n = static_cast<std::int32_t>(word.size());
  for (std::int32_t i = 0; i < n; ++i) {
    symbols.push_back(
        {tables.byte_ids[static_cast<std::uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, true});
  }
  const auto greater = std::greater<BpeScratch::Candidate>();
  const auto consider = [&](std::int32_t position) {
    const std::int32_t next = symbols[position].next;
    if (next < 0) return;
    const std::int32_t left = symbols[position].id;
    const std::int32_t right = symbols[next].id;
    const auto it = tables.merges.find(BpeTables::pair_key(left, right));
    if (it == tables.merges.end()) return;
    heap.push_back(
        {(static_cast<std::uint64_t>(it->second.rank) << 32) | static_cast<std::uint32_t>(position),
         left, right, it->second.result});
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  for (std::int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const BpeScratch::Candidate top = heap.back();
    heap.pop_back();
    const auto position = static_cast<std::int32_t>(top.order & 0xFFFFFFFFu);
    BpeScratch::Symbol& symbol = symbols[position];
    // Stale when either side merged since this candidate was pushed.
    if (!symbol.alive || symbol.id != top.left || symbol.next < 0) continue;
    BpeScratch::Symbol& right = symbols[symbol.next];
    if (right.id != top.right) continue;
    symbol.id = top.result;
    right.alive = false;
    symbol.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = position;
    if (symbol.prev >= 0) consider(symbol.prev);
    consider(position);
  }
  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace acefit
