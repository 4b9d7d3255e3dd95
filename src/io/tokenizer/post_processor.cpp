// tokenizer.json's post_processor (acestep-model.md 18.1): what encode adds
// around the text's ids when special tokens are on. Read from the DOM of the
// small "post_processor" section; the ids are checked against the
// vocabulary in TokenizerBuilder::finish.
//
// Supported, as Hugging Face tokenizers applies them to one sequence:
//   - null or absent: nothing is added;
//   - ByteLevel: changes offsets only, no ids;
//   - TemplateProcessing: its "single" template, "$A" (the text) between
//     special-token pieces whose ids come from its "special_tokens" map;
//   - Sequence: the processors above in order (a later template wraps the
//     result of an earlier one).
// Anything else (BertProcessing, RobertaProcessing, ...) is a load error
// naming the type: a tokenizer is never loaded with ids silently missing.
#include <string>

#include "io/json/strict_json.h"
#include "io/tokenizer/pretokenizer.h"
#include "io/tokenizer/tokenizer_impl.h"

namespace acefit {

namespace {

// Far beyond any real template (Qwen3's adds one token), small enough that
// a hostile file cannot make every encode copy a large list.
constexpr std::size_t kMaxTemplatePieces = 64;
constexpr std::size_t kMaxSpecialTokenIds = 64;
constexpr std::size_t kMaxAddedIds = 256;
constexpr int kMaxProcessorDepth = 8;

Status post_corrupt(const std::string& origin, const std::string& what) {
  return Status(ErrorCode::corrupt, origin + ": " + what);
}

std::string post_kind_name(const JsonValue& value) {
  return std::string(json_kind_name(value.kind));
}

// A non-negative integer that fits a token id, or nullopt.
std::optional<std::int64_t> post_token_id(const JsonValue& value) {
  if (value.kind != JsonKind::integer) return std::nullopt;
  if (value.integer > static_cast<std::uint64_t>(kMaxTokenId)) return std::nullopt;
  return static_cast<std::int64_t>(value.integer);
}

struct PostSpecialToken {
  std::vector<std::int32_t> ids;
};

class PostProcessorReader {
 public:
  explicit PostProcessorReader(TokenizerBuilder& builder)
      : builder_(builder), origin_(builder.origin_) {}

  Status read(const JsonValue& value, const std::string& where, int depth) {
    if (depth > kMaxProcessorDepth) {
      return post_corrupt(origin_, where + ": post-processors nested more than " +
                                       std::to_string(kMaxProcessorDepth) + " deep");
    }
    if (value.kind == JsonKind::null) return {};
    if (value.kind != JsonKind::object) {
      return post_corrupt(origin_,
                          where + " must be an object or null, not " + post_kind_name(value));
    }
    const JsonValue* type = value.find("type");
    if (type == nullptr || type->kind != JsonKind::string) {
      return post_corrupt(origin_, where + " must have a string \"type\"");
    }
    if (type->text == "ByteLevel") return {};  // offsets only
    if (type->text == "TemplateProcessing") return read_template_processing(value, where);
    if (type->text == "Sequence") {
      const JsonValue* list = value.find("processors");
      if (list == nullptr || list->kind != JsonKind::array) {
        return post_corrupt(origin_, where + ".processors must be an array");
      }
      for (std::size_t i = 0; i < list->items.size(); ++i) {
        ACEFIT_TRY(
            read(list->items[i], where + ".processors[" + std::to_string(i) + "]", depth + 1));
      }
      return {};
    }
    return Status(ErrorCode::unsupported,
                  origin_ + ": " + where + ": post-processor type \"" + printable(type->text) +
                      "\" is not supported (only TemplateProcessing, ByteLevel and Sequence); "
                      "its special tokens would be missing from the ids");
  }

 private:
  Expected<std::unordered_map<std::string, PostSpecialToken>> read_special_tokens(
      const JsonValue& processor, const std::string& where) {
    std::unordered_map<std::string, PostSpecialToken> out;
    const JsonValue* map = processor.find("special_tokens");
    if (map == nullptr || map->kind == JsonKind::null) return out;
    if (map->kind != JsonKind::object) {
      return post_corrupt(origin_,
                          where + ".special_tokens must be an object, not " + post_kind_name(*map));
    }
    for (const JsonMember& member : map->members) {
      const std::string named = where + ".special_tokens[" + shown_token(member.key) + "]";
      const JsonValue& entry = member.value;
      if (entry.kind != JsonKind::object) {
        return post_corrupt(origin_, named + " must be an object, not " + post_kind_name(entry));
      }
      const JsonValue* id = entry.find("id");
      if (id != nullptr && (id->kind != JsonKind::string || id->text != member.key)) {
        return post_corrupt(origin_, named + ".id must be the string " + shown_token(member.key));
      }
      const JsonValue* ids = entry.find("ids");
      const JsonValue* tokens = entry.find("tokens");
      if (ids == nullptr || ids->kind != JsonKind::array) {
        return post_corrupt(origin_, named + ".ids must be an array of token ids");
      }
      if (tokens == nullptr || tokens->kind != JsonKind::array) {
        return post_corrupt(origin_, named + ".tokens must be an array of strings");
      }
      if (ids->items.size() != tokens->items.size()) {
        return post_corrupt(origin_, named + ": " + std::to_string(ids->items.size()) +
                                         " ids but " + std::to_string(tokens->items.size()) +
                                         " tokens");
      }
      if (ids->items.size() > kMaxSpecialTokenIds) {
        return post_corrupt(origin_, named + " has " + std::to_string(ids->items.size()) +
                                         " ids (at most " + std::to_string(kMaxSpecialTokenIds) +
                                         ")");
      }
      PostSpecialToken special;
      for (std::size_t i = 0; i < ids->items.size(); ++i) {
        const std::string item = named + ".ids[" + std::to_string(i) + "]";
        const std::optional<std::int64_t> value = post_token_id(ids->items[i]);
        if (!value) {
          return post_corrupt(origin_, item + " = " + json_value_preview(ids->items[i], 40) +
                                           " is not a token id (an integer in 0.." +
                                           std::to_string(kMaxTokenId) + ")");
        }
        const JsonValue& token = tokens->items[i];
        if (token.kind != JsonKind::string) {
          return post_corrupt(origin_, named + ".tokens[" + std::to_string(i) +
                                           "] must be a string, not " + post_kind_name(token));
        }
        special.ids.push_back(static_cast<std::int32_t>(*value));
        builder_.post_checks_.push_back(
            TokenizerBuilder::PostCheck{static_cast<std::int32_t>(*value), token.text, item});
      }
      out.emplace(member.key, std::move(special));
    }
    return out;
  }

  // The ids a template adds before and after $A; `checked_only` for the
  // pair template (validated, never applied: acefit encodes one sequence).
  Status read_template(const JsonValue& processor, const char* key, const std::string& where,
                       const std::unordered_map<std::string, PostSpecialToken>& specials,
                       bool single) {
    const std::string named = where + "." + key;
    const JsonValue* pieces = processor.find(key);
    if (pieces == nullptr || pieces->kind != JsonKind::array) {
      return post_corrupt(origin_, named + " must be an array of template pieces");
    }
    if (pieces->items.size() > kMaxTemplatePieces) {
      return post_corrupt(origin_, named + " has " + std::to_string(pieces->items.size()) +
                                       " pieces (at most " + std::to_string(kMaxTemplatePieces) +
                                       ")");
    }
    std::vector<std::int32_t> before, after;
    bool seen_a = false, seen_b = false;
    for (std::size_t i = 0; i < pieces->items.size(); ++i) {
      const std::string piece_where = named + "[" + std::to_string(i) + "]";
      const JsonValue& piece = pieces->items[i];
      if (piece.kind != JsonKind::object || piece.members.size() != 1 ||
          piece.members[0].value.kind != JsonKind::object) {
        return post_corrupt(
            origin_, piece_where + " must be {\"Sequence\": {...}} or {\"SpecialToken\": {...}}");
      }
      const std::string& piece_kind = piece.members[0].key;
      const JsonValue& body = piece.members[0].value;
      const JsonValue* id = body.find("id");
      if (id == nullptr || id->kind != JsonKind::string) {
        return post_corrupt(origin_,
                            piece_where + "." + printable(piece_kind, 40) + ".id must be a string");
      }
      const JsonValue* type_id = body.find("type_id");
      if (type_id != nullptr && type_id->kind != JsonKind::integer) {
        return post_corrupt(origin_, piece_where + "." + printable(piece_kind, 40) +
                                         ".type_id must be a non-negative integer");
      }
      if (piece_kind == "Sequence") {
        if (id->text != "A" && id->text != "B") {
          return post_corrupt(origin_, piece_where + ": sequence id " + shown_token(id->text) +
                                           " is not \"A\" or \"B\"");
        }
        bool& seen = id->text == "A" ? seen_a : seen_b;
        if (seen) {
          return Status(ErrorCode::unsupported,
                        origin_ + ": " + named + " names sequence " + id->text + " twice");
        }
        seen = true;
        if (single && id->text == "B") {
          return post_corrupt(origin_, named + " names sequence B (a single template has only A)");
        }
        continue;
      }
      if (piece_kind != "SpecialToken") {
        return post_corrupt(origin_, piece_where + ": unknown template piece " +
                                         shown_token(piece_kind) +
                                         " (expected \"Sequence\" or \"SpecialToken\")");
      }
      const auto special = specials.find(id->text);
      if (special == specials.end()) {
        return post_corrupt(origin_, piece_where + " names special token " + shown_token(id->text) +
                                         ", which is not in " + where + ".special_tokens");
      }
      std::vector<std::int32_t>& target = seen_a ? after : before;
      target.insert(target.end(), special->second.ids.begin(), special->second.ids.end());
      if (before.size() + after.size() > kMaxAddedIds) {
        return post_corrupt(origin_,
                            named + " adds more than " + std::to_string(kMaxAddedIds) + " tokens");
      }
    }
    if (single && !seen_a) {
      return Status(ErrorCode::unsupported, origin_ + ": " + named + " has no sequence A");
    }
    if (!single && !(seen_a && seen_b)) {
      return post_corrupt(origin_, named + " must use both sequences A and B");
    }
    if (single) {
      // A later template wraps what the earlier ones made.
      std::vector<std::int32_t>& prefix = builder_.post_prefix_;
      std::vector<std::int32_t>& suffix = builder_.post_suffix_;
      prefix.insert(prefix.begin(), before.begin(), before.end());
      suffix.insert(suffix.end(), after.begin(), after.end());
      if (prefix.size() + suffix.size() > kMaxAddedIds) {
        return post_corrupt(
            origin_, "post_processor adds more than " + std::to_string(kMaxAddedIds) + " tokens");
      }
    }
    return {};
  }

  Status read_template_processing(const JsonValue& processor, const std::string& where) {
    ACEFIT_ASSIGN(const auto specials, read_special_tokens(processor, where));
    ACEFIT_TRY(read_template(processor, "single", where, specials, true));
    const JsonValue* pair = processor.find("pair");
    if (pair != nullptr && pair->kind != JsonKind::null) {
      ACEFIT_TRY(read_template(processor, "pair", where, specials, false));
    }
    return {};
  }

  TokenizerBuilder& builder_;
  const std::string origin_;
};

}  // namespace

Status read_post_processor(const JsonValue* post_processor, TokenizerBuilder& builder) {
  builder.post_prefix_.clear();
  builder.post_suffix_.clear();
  builder.post_checks_.clear();
  if (post_processor == nullptr) return {};
  PostProcessorReader reader(builder);
  return reader.read(*post_processor, "post_processor", 0);
}

Status TokenizerBuilder::check_post_processor_ids(const Tokenizer::Impl& impl) const {
  for (const PostCheck& check : post_checks_) {
    const std::size_t id = static_cast<std::size_t>(check.id);
    if (id >= impl.kinds.size() || impl.kinds[id] == TokenKind::none) {
      return Status(ErrorCode::corrupt, origin_ + ": " + check.where + ": id " +
                                            std::to_string(check.id) +
                                            " is not in the vocabulary (ids 0.." +
                                            std::to_string(impl.kinds.size() - 1) + ")");
    }
    // Hugging Face applies the ids, transformers.js looks the token strings
    // up: a file where they disagree has no one right answer.
    const std::string_view piece = impl.piece(check.id);
    const bool same = impl.kinds[id] == TokenKind::vocab ? byte_level_encode(piece) == check.token
                                                         : piece == check.token;
    if (!same) {
      return Status(ErrorCode::corrupt,
                    origin_ + ": " + check.where + ": id " + std::to_string(check.id) +
                        " is the token " + shown_token(piece) +
                        ", but the template's tokens list says " + shown_token(check.token));
    }
  }
  return {};
}

Expected<std::string> replace_post_processor(std::string_view tokenizer_json,
                                             std::string_view post_processor_json,
                                             const std::string& origin) {
  JsonReaderOptions options;
  options.max_depth = 64;
  JsonReader reader(tokenizer_json, options);
  JsonEvent event;
  const auto invalid = [&] {
    return post_corrupt(origin, "invalid JSON: " + reader.error().message);
  };
  if (!reader.next(event)) return invalid();
  if (event.type != JsonEventType::object_begin) {
    return post_corrupt(origin, "the top level is not a JSON object");
  }
  const std::size_t open = event.offset;
  bool any_member = false;
  bool in_target = false;
  std::size_t value_begin = 0;
  std::optional<std::pair<std::size_t, std::size_t>> range;
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (true) {
    if (!reader.next(event)) return invalid();
    if (in_target) {
      // The value ended before this token: back over white space, a comma
      // and white space.
      std::size_t end = event.offset;
      while (end > value_begin && is_space(tokenizer_json[end - 1])) --end;
      if (end > value_begin && tokenizer_json[end - 1] == ',') --end;
      while (end > value_begin && is_space(tokenizer_json[end - 1])) --end;
      range.emplace(value_begin, end);
      in_target = false;
    }
    if (event.type == JsonEventType::object_end) break;
    any_member = true;
    const bool target = event.depth == 1 && event.text == "post_processor";
    if (!reader.next(event)) return invalid();
    if (target) {
      value_begin = event.offset;
      in_target = true;
    }
    if ((event.type == JsonEventType::object_begin || event.type == JsonEventType::array_begin) &&
        !reader.skip_container(event)) {
      return invalid();
    }
  }
  if (!reader.next(event)) return invalid();  // the trailing bytes
  std::string out;
  out.reserve(tokenizer_json.size() + post_processor_json.size() + 32);
  if (range) {
    out.append(tokenizer_json.substr(0, range->first));
    out.append(post_processor_json);
    out.append(tokenizer_json.substr(range->second));
  } else {
    out.append(tokenizer_json.substr(0, open + 1));
    out.append("\"post_processor\":");
    out.append(post_processor_json);
    if (any_member) out.append(",");
    out.append(tokenizer_json.substr(open + 1));
  }
  return out;
}

}  // namespace acefit
