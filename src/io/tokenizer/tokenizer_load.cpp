// Tokenizer loading: Hugging Face tokenizer.json, or vocab.json + merges.txt
// (+ tokenizer_config.json). Every failure names the file and the entry.
//
// tokenizer.json is streamed through the strict pull reader: the vocabulary
// and the merges (150k entries each in Qwen3's file) go straight into the
// builder, and only the small sections (added_tokens, normalizer,
// pre_tokenizer, post_processor, the model's settings) become DOM values. JSON errors win
// over the checks on the contents: after the first failed check the rest
// of the file is still read, and an invalid document reports that instead.
#include <cctype>
#include <charconv>
#include <filesystem>
#include <new>
#include <optional>

#include "io/file/regular_file.h"
#include "io/json/strict_json.h"
#include "io/tokenizer/tokenizer.h"
#include "io/tokenizer/tokenizer_impl.h"

namespace acefit {

namespace {

constexpr std::size_t kMaxJsonDepth = 64;

Status corrupt(const std::string& origin, const std::string& what) {
  return Status(ErrorCode::corrupt, origin + ": " + what);
}

Expected<std::string> read_file(const std::string& path) {
  return read_regular_file(path, static_cast<std::size_t>(kMaxTokenizerFileBytes),
                           "a tokenizer file");
}

JsonReaderOptions reader_options() {
  JsonReaderOptions options;
  options.max_depth = kMaxJsonDepth;
  options.require_object_root = false;
  return options;
}

// A reader error as a Status naming the file. `event` is the event the
// failed next() was filling (for a duplicate key it holds the key).
Status json_error(const std::string& origin, const JsonReader& reader, const JsonEvent& event) {
  const JsonError& error = reader.error();
  if (error.kind == JsonErrorKind::out_of_memory) {
    return Status(ErrorCode::out_of_memory, origin + ": out of memory parsing JSON");
  }
  if (error.kind == JsonErrorKind::duplicate_key) {
    return corrupt(origin, "duplicate key " + shown_token(event.text) + " at byte " +
                               std::to_string(error.offset));
  }
  return corrupt(origin, "invalid JSON: " + error.message);
}

Status json_error(const std::string& origin, const JsonError& error) {
  if (error.kind == JsonErrorKind::out_of_memory) {
    return Status(ErrorCode::out_of_memory, origin + ": out of memory parsing JSON");
  }
  return corrupt(origin, "invalid JSON: " + error.message);
}

// A vocabulary id: an integer literal of either sign, clamped to int64.
std::optional<std::int64_t> integer_id(const JsonEvent& event) {
  if (event.type == JsonEventType::integer) {
    return event.integer > static_cast<std::uint64_t>(INT64_MAX)
               ? INT64_MAX
               : static_cast<std::int64_t>(event.integer);
  }
  if (event.type != JsonEventType::number) return std::nullopt;
  if (event.text.find_first_of(".eE") != std::string::npos) return std::nullopt;
  std::int64_t value = 0;
  const auto [ptr, ec] =
      std::from_chars(event.text.data(), event.text.data() + event.text.size(), value);
  (void)ptr;
  if (ec != std::errc()) return INT64_MIN;
  return value;
}

bool is_begin(const JsonEvent& event) {
  return event.type == JsonEventType::object_begin || event.type == JsonEventType::array_begin;
}

// ---- the small sections, on DOM values ----

// An optional boolean member: absent or null -> fallback.
Expected<bool> flag(const JsonValue& object, const char* key, bool fallback,
                    const std::string& origin, const std::string& where) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || value->kind == JsonKind::null) return fallback;
  if (value->kind != JsonKind::boolean) {
    return corrupt(origin, where + "." + key + " must be a boolean, not " +
                               std::string(json_kind_name(value->kind)));
  }
  return value->boolean;
}

// A member that must be absent, null or one of `allowed` (strings) / `allowed_flag`.
Status expect_value(const JsonValue& object, const char* key,
                    std::initializer_list<std::string_view> allowed,
                    std::optional<bool> allowed_flag, const std::string& origin,
                    const std::string& where) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || value->kind == JsonKind::null) return {};
  if (value->kind == JsonKind::string) {
    for (const std::string_view text : allowed) {
      if (value->text == text) return {};
    }
  }
  if (value->kind == JsonKind::boolean && allowed_flag && value->boolean == *allowed_flag) {
    return {};
  }
  return Status(ErrorCode::unsupported, origin + ": " + where + "." + key + " = " +
                                            json_value_preview(*value, 80) + " is not supported");
}

Status read_added_token(const JsonValue& entry, const std::optional<std::int64_t>& id_from_key,
                        TokenizerBuilder& builder, const std::string& where) {
  const std::string& origin = builder.origin_;
  if (entry.kind != JsonKind::object) return corrupt(origin, where + " is not an object");
  AddedToken token;
  if (id_from_key) {
    token.id = static_cast<std::int32_t>(*id_from_key);
  } else {
    const JsonValue* id = entry.find("id");
    std::optional<std::int64_t> value;
    if (id != nullptr && id->kind == JsonKind::integer) {
      value = id->integer > static_cast<std::uint64_t>(INT64_MAX)
                  ? INT64_MAX
                  : static_cast<std::int64_t>(id->integer);
    } else if (id != nullptr && id->kind == JsonKind::number &&
               id->text.find_first_of(".eE") == std::string::npos) {
      std::int64_t parsed = INT64_MIN;  // a negative literal beyond int64 stays the minimum
      const auto result =
          std::from_chars(id->text.data(), id->text.data() + id->text.size(), parsed);
      (void)result;
      value = parsed;
    }
    if (!value) return corrupt(origin, where + ".id is missing or not an integer");
    if (*value < 0 || *value > kMaxTokenId) {
      return corrupt(origin, where + ": id " + std::to_string(*value) + " is outside 0.." +
                                 std::to_string(kMaxTokenId));
    }
    token.id = static_cast<std::int32_t>(*value);
  }
  const JsonValue* content = entry.find("content");
  if (content == nullptr || content->kind != JsonKind::string) {
    return corrupt(origin, where + ".content is missing or not a string");
  }
  token.content = content->text;
  const std::string named = where + " " + shown_token(token.content);
  ACEFIT_ASSIGN(token.special, flag(entry, "special", false, origin, named));
  ACEFIT_ASSIGN(token.lstrip, flag(entry, "lstrip", false, origin, named));
  ACEFIT_ASSIGN(token.rstrip, flag(entry, "rstrip", false, origin, named));
  ACEFIT_ASSIGN(token.normalized, flag(entry, "normalized", !token.special, origin, named));
  ACEFIT_ASSIGN(const bool single_word, flag(entry, "single_word", false, origin, named));
  if (single_word) {
    return Status(ErrorCode::unsupported, origin + ": " + named + ": single_word is not supported");
  }
  return builder.add_added_token(std::move(token), named);
}

const JsonValue* string_member(const JsonValue& object, std::string_view key) {
  if (object.kind != JsonKind::object) return nullptr;
  const JsonValue* value = object.find(key);
  return value != nullptr && value->kind == JsonKind::string ? value : nullptr;
}

// A Split pattern as PCRE2 source: {"Regex": ...} as is, {"String": ...} quoted.
Expected<std::string> split_pattern(const JsonValue& pattern, const std::string& origin,
                                    const std::string& where) {
  if (const JsonValue* regex = string_member(pattern, "Regex")) return regex->text;
  if (const JsonValue* literal = string_member(pattern, "String")) {
    std::string out;
    for (const char c : literal->text) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x80 && !std::isalnum(byte)) out += '\\';
      out += c;
    }
    return out;
  }
  return corrupt(origin, where + ".pattern must be {\"Regex\": ...} or {\"String\": ...}");
}

bool has_type(const JsonValue& value, std::string_view type) {
  const JsonValue* member = string_member(value, "type");
  return member != nullptr && member->text == type;
}

Status read_pre_tokenizer(const JsonValue* pre_tokenizer, TokenizerBuilder& builder) {
  const std::string& origin = builder.origin_;
  if (pre_tokenizer == nullptr || pre_tokenizer->kind == JsonKind::null) {
    return Status(ErrorCode::unsupported, origin +
                                              ": pre_tokenizer is null; byte-level BPE "
                                              "without a pre-tokenizer is not supported");
  }
  std::vector<std::pair<const JsonValue*, std::string>> steps;
  if (has_type(*pre_tokenizer, "Sequence")) {
    const JsonValue* list = pre_tokenizer->find("pretokenizers");
    if (list == nullptr || list->kind != JsonKind::array) {
      return corrupt(origin, "pre_tokenizer.pretokenizers must be an array");
    }
    for (std::size_t i = 0; i < list->items.size(); ++i) {
      steps.emplace_back(&list->items[i], "pre_tokenizer.pretokenizers[" + std::to_string(i) + "]");
    }
  } else {
    steps.emplace_back(pre_tokenizer, "pre_tokenizer");
  }
  bool split_seen = false, byte_level_seen = false;
  for (const auto& [step, where] : steps) {
    const JsonValue* type_value = string_member(*step, "type");
    if (type_value == nullptr) {
      return corrupt(origin, where + " must be an object with a string \"type\"");
    }
    const std::string& type = type_value->text;
    if (type == "Split" && !split_seen && !byte_level_seen) {
      ACEFIT_TRY(expect_value(*step, "behavior", {"Isolated"}, std::nullopt, origin, where));
      ACEFIT_TRY(expect_value(*step, "invert", {}, false, origin, where));
      const JsonValue* pattern = step->find("pattern");
      if (pattern == nullptr) return corrupt(origin, where + ".pattern is missing");
      ACEFIT_ASSIGN(const std::string source, split_pattern(*pattern, origin, where));
      ACEFIT_TRY(builder.set_split_pattern(source, where + ".pattern"));
      split_seen = true;
    } else if (type == "ByteLevel" && !byte_level_seen) {
      ACEFIT_TRY(expect_value(*step, "add_prefix_space", {}, false, origin, where));
      ACEFIT_ASSIGN(const bool use_regex, flag(*step, "use_regex", true, origin, where));
      if (use_regex && split_seen) {
        return Status(ErrorCode::unsupported,
                      origin + ": " + where + ": ByteLevel with use_regex after a Split");
      }
      if (use_regex) ACEFIT_TRY(builder.set_split_pattern(kGpt2SplitPattern, where));
      byte_level_seen = true;
    } else {
      return Status(ErrorCode::unsupported,
                    origin + ": " + where + ": pre-tokenizer \"" + printable(type) +
                        "\" is not supported here (expected Split then ByteLevel)");
    }
  }
  if (!byte_level_seen) {
    return Status(ErrorCode::unsupported, origin + ": pre_tokenizer has no ByteLevel step");
  }
  return {};
}

Status read_normalizer(const JsonValue* normalizer, TokenizerBuilder& builder) {
  const std::string& origin = builder.origin_;
  builder.set_nfc(false);
  if (normalizer == nullptr || normalizer->kind == JsonKind::null) return {};
  std::vector<const JsonValue*> steps;
  const JsonValue* list =
      normalizer->kind == JsonKind::object ? normalizer->find("normalizers") : nullptr;
  if (has_type(*normalizer, "Sequence") && list != nullptr && list->kind == JsonKind::array) {
    for (const JsonValue& step : list->items) steps.push_back(&step);
  } else {
    steps.push_back(normalizer);
  }
  for (const JsonValue* step : steps) {
    if (!has_type(*step, "NFC")) {
      return Status(ErrorCode::unsupported, origin + ": normalizer " +
                                                json_value_preview(*step, 80) +
                                                " is not supported (only NFC)");
    }
    builder.set_nfc(true);
  }
  return {};
}

// ---- tokenizer.json, streamed ----

class TokenizerJsonStream {
 public:
  TokenizerJsonStream(std::string_view text, TokenizerBuilder& builder)
      : reader_(text, reader_options()), builder_(builder), origin_(builder.origin_) {}

  Status run() {
    ACEFIT_TRY(read_document());
    if (!model_seen_) return corrupt(origin_, "\"model\" is missing or not an object");
    ACEFIT_TRY(check_model());
    if (added_ && added_->kind != JsonKind::null) {
      if (added_->kind != JsonKind::array) return corrupt(origin_, "added_tokens is not an array");
      for (std::size_t i = 0; i < added_->items.size(); ++i) {
        ACEFIT_TRY(read_added_token(added_->items[i], std::nullopt, builder_,
                                    "added_tokens[" + std::to_string(i) + "]"));
      }
    }
    ACEFIT_TRY(read_normalizer(normalizer_ ? &*normalizer_ : nullptr, builder_));
    ACEFIT_TRY(read_pre_tokenizer(pre_tokenizer_ ? &*pre_tokenizer_ : nullptr, builder_));
    return read_post_processor(post_processor_ ? &*post_processor_ : nullptr, builder_);
  }

 private:
  // Pulls the next event; false at a JSON error (then json_status_ is set).
  bool next() {
    if (reader_.next(event_)) return true;
    json_status_ = json_error(origin_, reader_, event_);
    return false;
  }

  // Records the first failed check on the contents.
  void note(Status status) {
    if (first_error_.ok() && !status.ok()) first_error_ = std::move(status);
  }

  // Skips the value that starts with the current event.
  bool skip_value() {
    if (!is_begin(event_)) return true;
    if (reader_.skip_container(event_)) return true;
    json_status_ = json_error(origin_, reader_, event_);
    return false;
  }

  bool read_dom(std::optional<JsonValue>& out) {
    out.emplace();
    JsonError error;
    if (read_json_value(reader_, event_, *out, error)) return true;
    json_status_ = error.kind == JsonErrorKind::duplicate_key ? json_error(origin_, reader_, event_)
                                                              : json_error(origin_, error);
    return false;
  }

  Status read_document() {
    if (!next()) return json_status_;
    if (event_.type != JsonEventType::object_begin) {
      if (!skip_value() || !next()) return json_status_;
      return corrupt(origin_, "the top level is not a JSON object");
    }
    while (true) {
      if (!next()) return json_status_;
      if (event_.type == JsonEventType::object_end) break;
      key_ = event_.text;  // a key
      if (!next()) return json_status_;
      bool ok = true;
      if (key_ == "model") {
        ok = read_model();
      } else if (key_ == "added_tokens") {
        ok = read_dom(added_);
      } else if (key_ == "normalizer") {
        ok = read_dom(normalizer_);
      } else if (key_ == "pre_tokenizer") {
        ok = read_dom(pre_tokenizer_);
      } else if (key_ == "post_processor") {
        ok = read_dom(post_processor_);
      } else {
        ok = skip_value();
      }
      if (!ok) return json_status_;
    }
    if (!next()) return json_status_;  // the end, after the trailing bytes
    return first_error_;
  }

  bool read_model() {
    model_seen_ = event_.type == JsonEventType::object_begin;
    if (!model_seen_) {
      note(corrupt(origin_, "\"model\" is missing or not an object"));
      return skip_value();
    }
    model_.kind = JsonKind::object;
    model_.offset = event_.offset;
    while (true) {
      if (!next()) return false;
      if (event_.type == JsonEventType::object_end) return true;
      std::string key = event_.text;
      if (!next()) return false;
      bool ok = true;
      if (key == "vocab") {
        ok = read_vocab();
      } else if (key == "merges") {
        ok = read_merges();
      } else {
        // A setting: kept for check_model.
        std::optional<JsonValue> value;
        ok = read_dom(value);
        if (ok) model_.members.push_back(JsonMember{std::move(key), 0, std::move(*value)});
      }
      if (!ok) return false;
    }
  }

  bool read_vocab() {
    vocab_seen_ = event_.type == JsonEventType::object_begin;
    if (!vocab_seen_) {
      if (model_error_.ok()) {
        model_error_ = corrupt(origin_, "model.vocab is missing or not an object");
      }
      return skip_value();
    }
    while (true) {
      if (!next()) return false;
      if (event_.type == JsonEventType::object_end) break;
      token_ = event_.text;
      if (!next()) return false;
      if (!model_error_.ok()) {
        if (!skip_value()) return false;
        continue;
      }
      const std::optional<std::int64_t> id = integer_id(event_);
      if (!id) {
        model_error_ = corrupt(
            origin_, "model.vocab entry " + shown_token(token_) + ": the id is not an integer");
        if (!skip_value()) return false;
        continue;
      }
      model_error_ =
          builder_.add_vocab(token_, *id, EntryName::token("model.vocab entry ", token_));
    }
    vocab_done_ = true;
    // Merges that came before the vocabulary.
    for (std::size_t i = 0; i < pending_merges_.size() && model_error_.ok(); ++i) {
      add_merge_text(i, pending_merges_[i].first, pending_merges_[i].second);
    }
    pending_merges_.clear();
    return true;
  }

  void add_merge_text(std::size_t index, std::string_view left, std::string_view right) {
    model_error_ = builder_.add_merge(left, right, EntryName::index("model.merges[", index, "]"));
  }

  // One merge, "left right" or [left, right]; anything else is an error.
  bool read_merge(std::size_t index) {
    const auto malformed = [&] {
      model_error_ = corrupt(origin_, "model.merges[" + std::to_string(index) +
                                          "] must be \"left right\" or [left, right]");
    };
    if (event_.type == JsonEventType::string) {
      const std::string& text = event_.text;
      const auto space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        model_error_ = corrupt(origin_, "model.merges[" + std::to_string(index) +
                                            "]: " + shown_token(text) + " is not \"left right\"");
        return true;
      }
      take_merge(index, std::string_view(text).substr(0, space),
                 std::string_view(text).substr(space + 1));
      return true;
    }
    if (event_.type != JsonEventType::array_begin) {
      malformed();
      return skip_value();
    }
    // [left, right]
    std::size_t count = 0;
    bool strings = true;
    while (true) {
      if (!next()) return false;
      if (event_.type == JsonEventType::array_end) break;
      if (event_.type == JsonEventType::string && count < 2) {
        (count == 0 ? left_ : right_) = event_.text;
      } else {
        strings = false;
        if (!skip_value()) return false;
      }
      ++count;
    }
    if (count != 2 || !strings) {
      malformed();
      return true;
    }
    take_merge(index, left_, right_);
    return true;
  }

  void take_merge(std::size_t index, std::string_view left, std::string_view right) {
    if (vocab_done_) {
      add_merge_text(index, left, right);
    } else {
      pending_merges_.emplace_back(std::string(left), std::string(right));
    }
  }

  bool read_merges() {
    merges_seen_ = event_.type == JsonEventType::array_begin;
    if (!merges_seen_) {
      if (model_error_.ok()) {
        model_error_ = corrupt(origin_, "model.merges is missing or not an array");
      }
      return skip_value();
    }
    for (std::size_t index = 0;; ++index) {
      if (!next()) return false;
      if (event_.type == JsonEventType::array_end) return true;
      if (!model_error_.ok()) {
        if (!skip_value()) return false;
        continue;
      }
      if (!read_merge(index)) return false;
    }
  }

  // The model's settings first, then the vocabulary and merges.
  Status check_model() {
    ACEFIT_TRY(expect_value(model_, "type", {"BPE"}, std::nullopt, origin_, "model"));
    ACEFIT_TRY(expect_value(model_, "dropout", {}, std::nullopt, origin_, "model"));
    ACEFIT_TRY(
        expect_value(model_, "continuing_subword_prefix", {""}, std::nullopt, origin_, "model"));
    ACEFIT_TRY(expect_value(model_, "end_of_word_suffix", {""}, std::nullopt, origin_, "model"));
    ACEFIT_TRY(expect_value(model_, "byte_fallback", {}, false, origin_, "model"));
    ACEFIT_ASSIGN(const bool ignore_merges, flag(model_, "ignore_merges", false, origin_, "model"));
    builder_.set_ignore_merges(ignore_merges);
    if (!vocab_seen_ && model_error_.ok()) {
      return corrupt(origin_, "model.vocab is missing or not an object");
    }
    ACEFIT_TRY(model_error_);
    if (!merges_seen_) return corrupt(origin_, "model.merges is missing or not an array");
    return {};
  }

  JsonReader reader_;
  JsonEvent event_;
  TokenizerBuilder& builder_;
  const std::string origin_;
  Status json_status_;
  Status first_error_;  // the first failed check outside the model
  Status model_error_;  // the first failed check in model.vocab / model.merges
  std::string key_, token_, left_, right_;
  bool model_seen_ = false, vocab_seen_ = false, vocab_done_ = false, merges_seen_ = false;
  JsonValue model_;  // the model's settings (not vocab or merges)
  std::vector<std::pair<std::string, std::string>> pending_merges_;
  std::optional<JsonValue> added_, normalizer_, pre_tokenizer_, post_processor_;
};

}  // namespace

Expected<Tokenizer> Tokenizer::from_json(std::string_view text, std::string_view origin_view,
                                         const TokenizerOptions& options) {
  const std::string origin(origin_view);
  try {
    TokenizerBuilder builder(origin);
    TokenizerJsonStream stream(text, builder);
    ACEFIT_TRY(stream.run());
    return builder.finish(options);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, origin + ": out of memory loading the tokenizer");
  }
}

Expected<Tokenizer> Tokenizer::load_json_file(const std::string& path,
                                              const TokenizerOptions& options) {
  ACEFIT_ASSIGN(const std::string text, read_file(path));
  return from_json(text, path, options);
}

namespace {

// vocab.json: one object of token -> id, streamed into the builder.
Status read_vocab_json(std::string_view text, TokenizerBuilder& builder) {
  const std::string& origin = builder.origin_;
  JsonReader reader(text, reader_options());
  JsonEvent event;
  std::string token;
  Status first_error;
  const auto fail = [&] { return json_error(origin, reader, event); };
  if (!reader.next(event)) return fail();
  const bool is_object = event.type == JsonEventType::object_begin;
  if (!is_object) {
    if (is_begin(event) && !reader.skip_container(event)) return fail();
  } else {
    while (true) {
      if (!reader.next(event)) return fail();
      if (event.type == JsonEventType::object_end) break;
      token = event.text;
      if (!reader.next(event)) return fail();
      if (first_error.ok()) {
        const std::optional<std::int64_t> id = integer_id(event);
        first_error =
            id ? builder.add_vocab(token, *id, EntryName::token("entry ", token))
               : corrupt(origin, "entry " + shown_token(token) + ": the id is not an integer");
      }
      if (is_begin(event) && !reader.skip_container(event)) return fail();
    }
  }
  if (!reader.next(event)) return fail();  // the trailing bytes
  if (!is_object) return corrupt(origin, "the top level is not a JSON object");
  return first_error;
}

Expected<JsonValue> read_json_object(std::string_view text, const std::string& origin) {
  JsonReader reader(text, reader_options());
  JsonEvent event;
  JsonValue root;
  JsonError error;
  if (!reader.next(event)) return json_error(origin, reader, event);
  if (!read_json_value(reader, event, root, error)) {
    return error.kind == JsonErrorKind::duplicate_key ? json_error(origin, reader, event)
                                                      : json_error(origin, error);
  }
  if (!reader.next(event)) return json_error(origin, reader, event);
  if (root.kind != JsonKind::object) return corrupt(origin, "the top level is not a JSON object");
  return root;
}

}  // namespace

Expected<Tokenizer> Tokenizer::load_vocab_merges(const std::string& vocab_path,
                                                 const std::string& merges_path,
                                                 const std::string& config_path,
                                                 const TokenizerOptions& options) {
  try {
    TokenizerBuilder builder(vocab_path);
    {
      ACEFIT_ASSIGN(const std::string text, read_file(vocab_path));
      ACEFIT_TRY(read_vocab_json(text, builder));
    }
    {
      ACEFIT_ASSIGN(const std::string text, read_file(merges_path));
      builder.origin_ = merges_path;
      std::size_t line_number = 0;
      for (std::size_t start = 0; start < text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string_view line = std::string_view(text).substr(start, end - start);
        start = end + 1;
        ++line_number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || (line_number == 1 && line.rfind("#version", 0) == 0)) continue;
        const auto space = line.find(' ');
        if (space == std::string_view::npos ||
            line.find(' ', space + 1) != std::string_view::npos) {
          return corrupt(merges_path, "line " + std::to_string(line_number) + ": " +
                                          shown_token(line) + " is not \"left right\"");
        }
        ACEFIT_TRY(builder.add_merge(line.substr(0, space), line.substr(space + 1),
                                     EntryName::index("line ", line_number, "")));
      }
    }
    if (!config_path.empty()) {
      ACEFIT_ASSIGN(const std::string text, read_file(config_path));
      ACEFIT_ASSIGN(const JsonValue config, read_json_object(text, config_path));
      builder.origin_ = config_path;
      const JsonValue* decoder = config.find("added_tokens_decoder");
      if (decoder != nullptr && decoder->kind != JsonKind::null) {
        if (decoder->kind != JsonKind::object) {
          return corrupt(config_path, "added_tokens_decoder is not an object");
        }
        for (const JsonMember& member : decoder->members) {
          const std::string& key = member.key;
          const std::string where = "added_tokens_decoder[" + shown_token(key) + "]";
          if (key.empty() || key.size() > 9 ||
              key.find_first_not_of("0123456789") != std::string::npos) {
            return corrupt(config_path, where + ": the key is not a token id");
          }
          const std::int64_t id = std::stoll(key);
          if (id > kMaxTokenId) {
            return corrupt(config_path,
                           where + ": id " + key + " is outside 0.." + std::to_string(kMaxTokenId));
          }
          ACEFIT_TRY(read_added_token(member.value, id, builder, where));
        }
      }
    }
    builder.origin_ = vocab_path;
    builder.set_nfc(true);
    return builder.finish(options);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, vocab_path + ": out of memory loading the tokenizer");
  }
}

Expected<Tokenizer> Tokenizer::load(const std::string& directory, const TokenizerOptions& options) {
  const std::filesystem::path dir(directory);
  std::error_code error;
  if (std::filesystem::exists(dir / "tokenizer.json", error)) {
    return load_json_file((dir / "tokenizer.json").string(), options);
  }
  if (std::filesystem::exists(dir / "vocab.json", error) &&
      std::filesystem::exists(dir / "merges.txt", error)) {
    const auto config = dir / "tokenizer_config.json";
    return load_vocab_merges((dir / "vocab.json").string(), (dir / "merges.txt").string(),
                             std::filesystem::exists(config, error) ? config.string() : "",
                             options);
  }
  return Status(ErrorCode::not_found,
                directory + ": no tokenizer.json, and no vocab.json + merges.txt");
}

}  // namespace acefit
