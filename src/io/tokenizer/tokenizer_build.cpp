// TokenizerBuilder and AddedTokenTrie (see tokenizer_impl.h).
#include <algorithm>
#include <cstdio>
#include <functional>
#include <new>

#include "io/text/utf8.h"
#include "io/tokenizer/tokenizer_impl.h"

namespace acefit {

std::string shown_token(std::string_view text, std::size_t max_bytes) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i >= max_bytes) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7F || byte == '"' || byte == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", byte);
      out += hex;
    } else {
      out += static_cast<char>(byte);
    }
  }
  return out + "\"";
}

std::string EntryName::text() const {
  switch (form_) {
    case Form::plain:
      return std::string(prefix_);
    case Form::token:
      return std::string(prefix_) + shown_token(token_);
    case Form::index:
      return std::string(prefix_) + std::to_string(index_) + std::string(suffix_);
  }
  return std::string(prefix_);
}

// ---- TokenIdTable ----

void TokenIdTable::rebuild(std::size_t slot_count) {
  slots_.assign(slot_count, 0);
  const std::size_t mask = slot_count - 1;
  for (std::size_t k = 0; k < entries_.size(); ++k) {
    std::size_t i = entries_[k].hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = static_cast<std::uint32_t>(k + 1);
  }
}

bool TokenIdTable::insert(std::string_view bytes, std::int32_t id) {
  if (blob_.size() + bytes.size() > UINT32_MAX || entries_.size() >= UINT32_MAX / 4) {
    throw std::bad_alloc();
  }
  if (2 * (entries_.size() + 1) > slots_.size())
    rebuild(std::max<std::size_t>(64, 2 * slots_.size()));
  const std::size_t hash = std::hash<std::string_view>{}(bytes);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hash & mask;
  while (slots_[i] != 0) {
    const Entry& entry = entries_[slots_[i] - 1];
    if (entry.hash == hash && this->bytes(entry) == bytes) return false;
    i = (i + 1) & mask;
  }
  slots_[i] = static_cast<std::uint32_t>(entries_.size() + 1);
  entries_.push_back({static_cast<std::uint32_t>(blob_.size()),
                      static_cast<std::uint32_t>(bytes.size()), id, hash});
  blob_.append(bytes);
  return true;
}

std::int32_t TokenIdTable::find(std::string_view bytes) const {
  if (slots_.empty()) return -1;
  const std::size_t hash = std::hash<std::string_view>{}(bytes);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask; slots_[i] != 0; i = (i + 1) & mask) {
    const Entry& entry = entries_[slots_[i] - 1];
    if (entry.hash == hash && this->bytes(entry) == bytes) return entry.id;
  }
  return -1;
}

// ---- AddedTokenTrie ----

void AddedTokenTrie::insert(std::string_view content, std::int32_t index) {
  std::int32_t node = 0;
  for (const char c : content) {
    const std::uint64_t key =
        (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(c);
    const auto it = edges_.find(key);
    if (it != edges_.end()) {
      node = it->second;
    } else {
      const auto child = static_cast<std::int32_t>(node_token_.size());
      node_token_.push_back(-1);
      edges_.emplace(key, child);
      node = child;
    }
  }
  node_token_[node] = index;
  if (!content.empty()) first_byte_[static_cast<unsigned char>(content[0])] = true;
}

std::pair<std::int32_t, std::size_t> AddedTokenTrie::longest_match(std::string_view text,
                                                                   std::size_t position) const {
  std::pair<std::int32_t, std::size_t> best{-1, 0};
  std::int32_t node = 0;
  for (std::size_t i = position; i < text.size(); ++i) {
    const std::uint64_t key =
        (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]);
    const auto it = edges_.find(key);
    if (it == edges_.end()) break;
    node = it->second;
    if (node_token_[node] >= 0) best = {node_token_[node], i + 1 - position};
  }
  return best;
}

// ---- TokenizerBuilder ----

TokenizerBuilder::TokenizerBuilder(std::string origin) : origin_(std::move(origin)) {}

namespace {

constexpr std::size_t kTokenIdSlack = 65536;

Status corrupt(const std::string& origin, const EntryName& where, const std::string& what) {
  return Status(ErrorCode::corrupt, origin + ": " + where.text() + ": " + what);
}

}  // namespace

std::optional<std::string_view> TokenizerBuilder::vocab_bytes_of(std::int32_t id) const {
  const auto bit = static_cast<std::size_t>(id);
  if (id < 0 || bit / 64 >= vocab_id_used_.size()) return std::nullopt;
  if ((vocab_id_used_[bit / 64] >> (bit % 64) & 1) == 0) return std::nullopt;
  for (const TokenIdTable::Entry& entry : vocab_ids_.entries()) {
    if (entry.id == id) return vocab_ids_.bytes(entry);
  }
  return std::nullopt;
}

Status TokenizerBuilder::add_vocab(std::string_view spelling, std::int64_t id,
                                   const EntryName& where) {
  if (id < 0 || id > kMaxTokenId) {
    return corrupt(origin_, where,
                   "id " + std::to_string(id) + " is outside 0.." + std::to_string(kMaxTokenId));
  }
  if (spelling.empty() || !byte_level_decode(spelling, left_)) {
    return corrupt(origin_, where,
                   "the token is not spelled with the byte-level alphabet (GPT-2 byte map)");
  }
  const auto id32 = static_cast<std::int32_t>(id);
  const auto bit = static_cast<std::size_t>(id);
  if (bit / 64 >= vocab_id_used_.size()) {
    vocab_id_used_.resize(std::max(bit / 64 + 1, 2 * vocab_id_used_.size()), 0);
  }
  if ((vocab_id_used_[bit / 64] >> (bit % 64) & 1) != 0) {
    const auto existing = vocab_bytes_of(id32);
    return corrupt(origin_, where,
                   "id " + std::to_string(id) + " is already used by " +
                       shown_token(byte_level_encode(existing.value_or(""))));
  }
  if (!vocab_ids_.insert(left_, id32)) {
    return corrupt(origin_, where, "duplicate token string");
  }
  vocab_id_used_[bit / 64] |= std::uint64_t{1} << (bit % 64);
  return {};
}

Status TokenizerBuilder::add_merge(std::string_view left, std::string_view right,
                                   const EntryName& where) {
  if (!byte_level_decode(left, left_) || left_.empty()) {
    return corrupt(origin_, where, shown_token(left) + " is not a byte-level token");
  }
  if (!byte_level_decode(right, right_) || right_.empty()) {
    return corrupt(origin_, where, shown_token(right) + " is not a byte-level token");
  }
  const std::int32_t left_id = vocab_ids_.find(left_);
  if (left_id < 0) return corrupt(origin_, where, "unknown token " + shown_token(left));
  const std::int32_t right_id = vocab_ids_.find(right_);
  if (right_id < 0) return corrupt(origin_, where, "unknown token " + shown_token(right));
  merged_.assign(left_);
  merged_ += right_;
  const std::int32_t result = vocab_ids_.find(merged_);
  if (result < 0) {
    return corrupt(origin_, where,
                   "the merged token " + shown_token(byte_level_encode(merged_)) +
                       " is not in the vocabulary");
  }
  if (merges_.size() >= static_cast<std::size_t>(INT32_MAX)) {
    return corrupt(origin_, where, "too many merges");
  }
  // BPE files hold about as many merges as tokens: one table size, no rehashing.
  if (merges_.empty()) merges_.reserve(vocab_ids_.size());
  const BpeMerge merge{static_cast<std::int32_t>(merges_.size()), result};
  if (!merges_.emplace(BpeTables::pair_key(left_id, right_id), merge).second) {
    return corrupt(origin_, where,
                   "duplicate merge " + shown_token(left) + " " + shown_token(right));
  }
  return {};
}

Status TokenizerBuilder::add_added_token(AddedToken token, const std::string& where) {
  if (token.id < 0 || token.id > kMaxTokenId) {
    return corrupt(
        origin_, where,
        "id " + std::to_string(token.id) + " is outside 0.." + std::to_string(kMaxTokenId));
  }
  if (token.content.empty()) return corrupt(origin_, where, "empty content");
  ACEFIT_TRY(validate_utf8(token.content, origin_ + ": " + where + ": content"));
  if (added_by_content_.count(token.content) != 0) {
    return corrupt(origin_, where, "duplicate added token " + shown_token(token.content));
  }
  if (added_by_id_.count(token.id) != 0) {
    return corrupt(origin_, where,
                   "id " + std::to_string(token.id) + " is already used by the added token " +
                       shown_token(added_[added_by_id_.at(token.id)].content));
  }
  // An added token may repeat a vocabulary entry only with the same id and bytes.
  const auto vocab_entry = vocab_bytes_of(token.id);
  if (vocab_entry && *vocab_entry != token.content) {
    return corrupt(origin_, where,
                   "id " + std::to_string(token.id) + " is already the vocabulary token " +
                       shown_token(byte_level_encode(*vocab_entry)));
  }
  const std::int32_t vocab_id = vocab_ids_.find(token.content);
  if (vocab_id >= 0 && vocab_id != token.id) {
    return corrupt(
        origin_, where,
        "the content is already the vocabulary token with id " + std::to_string(vocab_id));
  }
  added_by_content_.emplace(token.content, added_.size());
  added_by_id_.emplace(token.id, added_.size());
  added_.push_back(std::move(token));
  return {};
}

Status TokenizerBuilder::set_split_pattern(std::string_view pattern, const std::string& where) {
  auto splitter = RegexSplitter::compile(pattern, origin_ + ": " + where);
  if (!splitter.ok()) return splitter.status();
  splitter_ = std::move(splitter).value();
  return {};
}

Expected<Tokenizer> TokenizerBuilder::finish(const TokenizerOptions& options) {
  auto impl = std::make_unique<Tokenizer::Impl>();
  impl->origin = origin_;
  impl->nfc = nfc_;
  impl->merge_count = merges_.size();
  if (!splitter_) {
    ACEFIT_TRY(set_split_pattern(kQwen2SplitPattern, "default pre-tokenizer"));
  }
  impl->splitter = std::move(splitter_);
  if (vocab_ids_.empty()) {
    return Status(ErrorCode::corrupt, origin_ + ": the vocabulary is empty");
  }
  impl->bpe.byte_ids.fill(-1);
  for (int byte = 0; byte < 256; ++byte) {
    const char byte_char = static_cast<char>(byte);
    const std::int32_t byte_id = vocab_ids_.find(std::string_view(&byte_char, 1));
    if (byte_id < 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", byte);
      return Status(ErrorCode::corrupt,
                    origin_ + ": the vocabulary has no token for byte " + hex + " (" +
                        shown_token(byte_level_encode(std::string(1, static_cast<char>(byte)))) +
                        "); byte-level BPE needs all 256");
    }
    impl->bpe.byte_ids[byte] = byte_id;
  }
  for (const std::string& required : options.required_tokens) {
    if (added_by_content_.count(required) == 0 && vocab_ids_.find(required) < 0) {
      return Status(ErrorCode::corrupt,
                    origin_ + ": the required token " + shown_token(required) + " is missing");
    }
  }
  std::int32_t max_id = 0;
  for (const TokenIdTable::Entry& entry : vocab_ids_.entries()) {
    max_id = std::max(max_id, entry.id);
  }
  for (const AddedToken& token : added_) max_id = std::max(max_id, token.id);
  if (options.embedding_rows && max_id >= *options.embedding_rows) {
    for (const AddedToken& token : added_) {
      if (token.id >= *options.embedding_rows) {
        return Status(ErrorCode::corrupt,
                      origin_ + ": added token " + shown_token(token.content) + " has id " +
                          std::to_string(token.id) + ", not below the " +
                          std::to_string(*options.embedding_rows) + " embedding rows");
      }
    }
    return Status(ErrorCode::corrupt,
                  origin_ + ": vocabulary id " + std::to_string(max_id) + " is not below the " +
                      std::to_string(*options.embedding_rows) + " embedding rows");
  }
  // Tables are sized by the largest id: a sparse id space would let a tiny
  // file allocate without bound.
  const std::size_t token_count = vocab_ids_.size() + added_.size();
  if (static_cast<std::size_t>(max_id) >= 2 * token_count + kTokenIdSlack) {
    return Status(ErrorCode::corrupt,
                  origin_ + ": the ids are too sparse: the largest is " + std::to_string(max_id) +
                      " for " + std::to_string(token_count) + " tokens (at most 2 x tokens + " +
                      std::to_string(kTokenIdSlack) + " is accepted)");
  }
  // Pieces by id, in one blob.
  const std::size_t count = static_cast<std::size_t>(max_id) + 1;
  impl->kinds.assign(count, TokenKind::none);
  std::vector<std::string_view> by_id(count);  // tokens are never empty: empty = no token
  for (const TokenIdTable::Entry& entry : vocab_ids_.entries()) {
    by_id[entry.id] = vocab_ids_.bytes(entry);
    impl->kinds[entry.id] = TokenKind::vocab;
  }
  for (const AddedToken& token : added_) {
    by_id[token.id] = token.content;
    impl->kinds[token.id] = token.special ? TokenKind::added_special : TokenKind::added;
  }
  std::uint64_t total = 0;
  for (const std::string_view piece : by_id) total += piece.size();
  if (total > UINT32_MAX) {
    return Status(ErrorCode::corrupt, origin_ + ": the tokens hold more than 4 GiB of text");
  }
  impl->blob.reserve(total);
  impl->offsets.reserve(count + 1);
  for (const std::string_view piece : by_id) {
    impl->offsets.push_back(static_cast<std::uint32_t>(impl->blob.size()));
    impl->blob += piece;
  }
  impl->offsets.push_back(static_cast<std::uint32_t>(impl->blob.size()));
  impl->bpe.token_ids.reserve(vocab_ids_.size());
  for (const TokenIdTable::Entry& entry : vocab_ids_.entries()) {
    impl->bpe.token_ids.emplace(vocab_ids_.bytes(entry), entry.id);
  }
  impl->bpe.merges = std::move(merges_);
  impl->bpe.ignore_merges = ignore_merges_;
  impl->added = std::move(added_);
  for (std::size_t i = 0; i < impl->added.size(); ++i) {
    impl->added_by_content.emplace(impl->added[i].content, static_cast<std::int32_t>(i));
    impl->trie.insert(impl->added[i].content, static_cast<std::int32_t>(i));
  }
  ACEFIT_TRY(check_post_processor_ids(*impl));
  impl->post_prefix = std::move(post_prefix_);
  impl->post_suffix = std::move(post_suffix_);
  return Tokenizer(std::move(impl));
}

}  // namespace acefit
