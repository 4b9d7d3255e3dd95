// Tokenizer: encoding, decoding and the audio-code helpers. Loading is in
// tokenizer_load.cpp, the tables' checks in tokenizer_build.cpp.
#include "io/tokenizer/tokenizer.h"

#include <new>
#include <unordered_map>

#include "io/text/utf8.h"
#include "io/tokenizer/tokenizer_impl.h"

namespace acefit {

// ---- audio codes ----

Expected<std::int32_t> audio_code_token_id(std::int64_t code) {
  if (code < 0 || code >= kAudioCodeCount) {
    return invalid_argument("audio code " + std::to_string(code) + " is outside 0.." +
                            std::to_string(kAudioCodeCount - 1));
  }
  return static_cast<std::int32_t>(kAudioCodeFirstTokenId + code);
}

bool is_audio_code(std::int64_t token_id) {
  return token_id >= kAudioCodeFirstTokenId && token_id < kAudioCodeFirstTokenId + kAudioCodeCount;
}

Expected<std::int32_t> audio_code_of_token(std::int64_t token_id) {
  if (!is_audio_code(token_id)) {
    return invalid_argument("token id " + std::to_string(token_id) +
                            " is not an audio code (those are " +
                            std::to_string(kAudioCodeFirstTokenId) + ".." +
                            std::to_string(kAudioCodeFirstTokenId + kAudioCodeCount - 1) + ")");
  }
  return static_cast<std::int32_t>(token_id - kAudioCodeFirstTokenId);
}

std::string audio_code_token_text(std::int64_t code) {
  return "<|audio_code_" + std::to_string(code) + "|>";
}

// ---- Tokenizer ----

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

namespace {

constexpr std::size_t kMaxCachedWordBytes = 64;
constexpr std::size_t kMaxCacheEntries = 1u << 16;

// Start of the code point that ends just before `end` (end > 0).
std::size_t previous_char_start(std::string_view text, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

// One encode call's working state.
class Encoder {
 public:
  explicit Encoder(const Tokenizer::Impl& impl) : impl_(impl) {}

  Status encode_segment(std::string_view segment, std::vector<std::int32_t>& ids) {
    if (segment.empty()) return {};
    std::string normalized_storage;
    std::string_view normalized = segment;
    if (impl_.nfc) {
      auto nfc = nfc_normalize(segment);
      if (!nfc.ok()) return nfc.status();
      normalized_storage = std::move(nfc).value();
      normalized = normalized_storage;
    }
    pieces_.clear();
    ACEFIT_TRY(impl_.splitter->split(normalized, pieces_));
    for (const auto& [begin, end] : pieces_) {
      const std::string_view word = normalized.substr(begin, end - begin);
      if (word.size() > kMaxCachedWordBytes) {
        bpe_encode_word(impl_.bpe, word, scratch_, ids);
        continue;
      }
      key_.assign(word);
      const auto it = cache_.find(key_);
      if (it != cache_.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        continue;
      }
      const std::size_t first = ids.size();
      bpe_encode_word(impl_.bpe, word, scratch_, ids);
      if (cache_.size() < kMaxCacheEntries) {
        cache_.emplace(key_, std::vector<std::int32_t>(ids.begin() + first, ids.end()));
      }
    }
    return {};
  }

 private:
  const Tokenizer::Impl& impl_;
  BpeScratch scratch_;
  std::vector<std::pair<std::size_t, std::size_t>> pieces_;
  std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
  std::string key_;
};

// Appends bytes as UTF-8, each maximal ill-formed subsequence replaced by
// U+FFFD (the Unicode "best practice" that Rust's from_utf8_lossy follows).
void append_lossy(std::string_view bytes, std::string& out) {
  for (std::size_t i = 0; i < bytes.size();) {
    const Utf8Char decoded = decode_utf8_at(bytes, i);
    if (decoded.length > 0) {
      out.append(bytes.substr(i, decoded.length));
      i += decoded.length;
      continue;
    }
    const auto lead = static_cast<unsigned char>(bytes[i]);
    std::size_t skip = 1;
    if (lead >= 0xC2 && lead <= 0xF4) {
      const std::size_t needed = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      unsigned char low = 0x80, high = 0xBF;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
      while (skip < needed && i + skip < bytes.size()) {
        const auto next = static_cast<unsigned char>(bytes[i + skip]);
        if (next < low || next > high) break;
        low = 0x80;
        high = 0xBF;
        ++skip;
      }
    }
    out += "\xEF\xBF\xBD";
    i += skip;
  }
}

}  // namespace

Expected<std::vector<std::int32_t>> Tokenizer::encode(std::string_view text,
                                                      bool add_special_tokens) const {
  ACEFIT_TRY(validate_utf8(text, "text"));
  try {
    std::vector<std::int32_t> ids;
    ids.reserve(text.size() / 3 + 1 + special_token_count());
    if (add_special_tokens) ids.assign(impl_->post_prefix.begin(), impl_->post_prefix.end());
    Encoder encoder(*impl_);
    std::size_t segment_start = 0;
    std::size_t position = 0;
    while (position < text.size()) {
      if (!impl_->trie.may_start(static_cast<unsigned char>(text[position]))) {
        ++position;
        continue;
      }
      const auto [index, length] = impl_->trie.longest_match(text, position);
      if (index < 0) {
        ++position;
        continue;
      }
      const AddedToken& token = impl_->added[index];
      std::size_t segment_end = position;
      if (token.lstrip) {
        while (segment_end > segment_start) {
          const std::size_t start = previous_char_start(text, segment_end);
          if (!is_unicode_white_space(decode_utf8_at(text, start).code_point)) break;
          segment_end = start;
        }
      }
      ACEFIT_TRY(
          encoder.encode_segment(text.substr(segment_start, segment_end - segment_start), ids));
      ids.push_back(token.id);
      position += length;
      if (token.rstrip) {
        while (position < text.size()) {
          const Utf8Char next = decode_utf8_at(text, position);
          if (!is_unicode_white_space(next.code_point)) break;
          position += next.length;
        }
      }
      segment_start = position;
    }
    ACEFIT_TRY(encoder.encode_segment(text.substr(segment_start), ids));
    if (add_special_tokens) {
      ids.insert(ids.end(), impl_->post_suffix.begin(), impl_->post_suffix.end());
    }
    return ids;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory,
                  "tokenizer: out of memory encoding " + std::to_string(text.size()) + " bytes");
  }
}

Expected<std::string> Tokenizer::decode_bytes(std::span<const std::int32_t> ids,
                                              bool skip_special_tokens) const {
  try {
    std::string out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::int32_t id = ids[i];
      if (id < 0 || static_cast<std::size_t>(id) >= impl_->kinds.size() ||
          impl_->kinds[id] == TokenKind::none) {
        return invalid_argument("token id " + std::to_string(id) + " at position " +
                                std::to_string(i) + " is not in the vocabulary (ids 0.." +
                                std::to_string(impl_->kinds.size() - 1) + ")");
      }
      if (skip_special_tokens && impl_->kinds[id] == TokenKind::added_special) continue;
      out.append(impl_->piece(id));
    }
    return out;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "tokenizer: out of memory decoding");
  }
}

Expected<std::string> Tokenizer::decode(std::span<const std::int32_t> ids,
                                        bool skip_special_tokens) const {
  auto bytes = decode_bytes(ids, skip_special_tokens);
  if (!bytes.ok()) return bytes.status();
  if (check_utf8(*bytes).ok()) return bytes;
  try {
    std::string out;
    append_lossy(*bytes, out);
    return out;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "tokenizer: out of memory decoding");
  }
}

std::int64_t Tokenizer::vocab_size() const {
  return static_cast<std::int64_t>(impl_->kinds.size());
}

std::optional<std::int32_t> Tokenizer::token_id(std::string_view text) const {
  const std::string key(text);
  const auto added = impl_->added_by_content.find(key);
  if (added != impl_->added_by_content.end()) return impl_->added[added->second].id;
  const auto vocab = impl_->bpe.token_ids.find(key);
  if (vocab != impl_->bpe.token_ids.end()) return vocab->second;
  return std::nullopt;
}

Expected<std::string> Tokenizer::token_text(std::int32_t id) const {
  const std::int32_t one[1] = {id};
  return decode_bytes(one);
}

std::span<const std::int32_t> Tokenizer::special_prefix() const {
  return impl_->post_prefix;
}
std::span<const std::int32_t> Tokenizer::special_suffix() const {
  return impl_->post_suffix;
}
std::size_t Tokenizer::special_token_count() const {
  return impl_->post_prefix.size() + impl_->post_suffix.size();
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const {
  return impl_->added;
}
std::size_t Tokenizer::merge_count() const {
  return impl_->merge_count;
}
const std::string& Tokenizer::origin() const {
  return impl_->origin;
}

Status Tokenizer::check_audio_code_tokens() const {
  for (std::int32_t code = 0; code < kAudioCodeCount; ++code) {
    const std::string text = audio_code_token_text(code);
    const auto id = token_id(text);
    if (!id || *id != kAudioCodeFirstTokenId + code) {
      return Status(ErrorCode::corrupt,
                    impl_->origin + ": " + text + " should be id " +
                        std::to_string(kAudioCodeFirstTokenId + code) + " but is " +
                        (id ? "id " + std::to_string(*id) : std::string("missing")));
    }
  }
  return {};
}

}  // namespace acefit
