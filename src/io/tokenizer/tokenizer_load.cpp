// Tokenizer loading: Hugging Face tokenizer.json, or vocab.json + merges.txt
// (+ tokenizer_config.json). Every failure names the file and the entry.
#include <filesystem>
#include <fstream>
#include <new>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "io/tokenizer/tokenizer.h"
#include "io/tokenizer/tokenizer_impl.h"

namespace acefit {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxJsonDepth = 64;

Status corrupt(const std::string& origin, const std::string& what) {
  return Status(ErrorCode::corrupt, origin + ": " + what);
}

Expected<std::string> read_file(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) {
    return Status(std::filesystem::exists(path) ? ErrorCode::io : ErrorCode::not_found,
                  path + ": cannot read (" + error.message() + ")");
  }
  if (size > static_cast<std::uintmax_t>(kMaxTokenizerFileBytes)) {
    return corrupt(path, "the file is " + std::to_string(size) + " bytes, over the limit of " +
                             std::to_string(kMaxTokenizerFileBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::io, path + ": cannot open");
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) {
    return Status(ErrorCode::io, path + ": short read");
  }
  return text;
}

// Nesting depth, counted outside strings, so that no hostile file reaches
// the parser with thousands of open brackets.
std::size_t max_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Strict parse: duplicate keys and nesting over kMaxJsonDepth are errors.
Expected<json> parse_json_file_text(const std::string& text, const std::string& origin) {
  if (max_depth(text) > kMaxJsonDepth) {
    return corrupt(origin, "invalid JSON: nested deeper than " + std::to_string(kMaxJsonDepth));
  }
  std::vector<std::unordered_set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == json::parse_event_t::key && !open_objects.empty() && !duplicate) {
      std::string key = parsed.get<std::string>();
      if (!open_objects.back().insert(key).second) duplicate = std::move(key);
    }
    return true;
  };
  try {
    json root = json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    if (duplicate) return corrupt(origin, "duplicate key " + shown_token(*duplicate));
    if (!root.is_object()) return corrupt(origin, "the top level is not a JSON object");
    return root;
  } catch (const json::exception& error) {
    return corrupt(origin, std::string("invalid JSON: ") + error.what());
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, origin + ": out of memory parsing JSON");
  }
}

std::string type_name(const json& value) {
  return value.type_name();
}

// An optional boolean member: absent or null -> fallback.
Expected<bool> flag(const json& object, const char* key, bool fallback, const std::string& origin,
                    const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return corrupt(origin, where + "." + key + " must be a boolean, not " + type_name(*it));
  }
  return it->get<bool>();
}

// A member that must be absent, null or equal to one of `allowed`.
Status expect_value(const json& object, const char* key, std::initializer_list<json> allowed,
                    const std::string& origin, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  for (const json& value : allowed) {
    if (*it == value) return {};
  }
  return Status(ErrorCode::unsupported,
                origin + ": " + where + "." + key + " = " + it->dump() + " is not supported");
}

Status read_added_token(const json& entry, const std::optional<std::int64_t>& id_from_key,
                        TokenizerBuilder& builder, const std::string& where) {
  const std::string& origin = builder.origin_;
  if (!entry.is_object()) return corrupt(origin, where + " is not an object");
  AddedToken token;
  if (id_from_key) {
    token.id = static_cast<std::int32_t>(*id_from_key);
  } else {
    const auto id = entry.find("id");
    if (id == entry.end() || !id->is_number_integer()) {
      return corrupt(origin, where + ".id is missing or not an integer");
    }
    const auto value = id->get<std::int64_t>();
    if (value < 0 || value > kMaxTokenId) {
      return corrupt(origin, where + ": id " + std::to_string(value) + " is outside 0.." +
                                 std::to_string(kMaxTokenId));
    }
    token.id = static_cast<std::int32_t>(value);
  }
  const auto content = entry.find("content");
  if (content == entry.end() || !content->is_string()) {
    return corrupt(origin, where + ".content is missing or not a string");
  }
  token.content = content->get<std::string>();
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

// A Split pattern as PCRE2 source: {"Regex": ...} as is, {"String": ...} quoted.
Expected<std::string> split_pattern(const json& pattern, const std::string& origin,
                                    const std::string& where) {
  if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
    return pattern["Regex"].get<std::string>();
  }
  if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
    std::string out;
    for (const char c : pattern["String"].get<std::string>()) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x80 && !std::isalnum(byte)) out += '\\';
      out += c;
    }
    return out;
  }
  return corrupt(origin, where + ".pattern must be {\"Regex\": ...} or {\"String\": ...}");
}

Status read_pre_tokenizer(const json& root, TokenizerBuilder& builder) {
  const std::string& origin = builder.origin_;
  const auto it = root.find("pre_tokenizer");
  if (it == root.end() || it->is_null()) {
    return Status(ErrorCode::unsupported, origin +
                                              ": pre_tokenizer is null; byte-level BPE "
                                              "without a pre-tokenizer is not supported");
  }
  std::vector<std::pair<const json*, std::string>> steps;
  if (it->is_object() && it->value("type", "") == "Sequence") {
    const auto list = it->find("pretokenizers");
    if (list == it->end() || !list->is_array()) {
      return corrupt(origin, "pre_tokenizer.pretokenizers must be an array");
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      steps.emplace_back(&(*list)[i], "pre_tokenizer.pretokenizers[" + std::to_string(i) + "]");
    }
  } else {
    steps.emplace_back(&*it, "pre_tokenizer");
  }
  bool split_seen = false, byte_level_seen = false;
  for (const auto& [step, where] : steps) {
    if (!step->is_object() || !step->contains("type") || !(*step)["type"].is_string()) {
      return corrupt(origin, where + " must be an object with a string \"type\"");
    }
    const std::string type = (*step)["type"].get<std::string>();
    if (type == "Split" && !split_seen && !byte_level_seen) {
      ACEFIT_TRY(expect_value(*step, "behavior", {"Isolated"}, origin, where));
      ACEFIT_TRY(expect_value(*step, "invert", {false}, origin, where));
      if (!step->contains("pattern")) return corrupt(origin, where + ".pattern is missing");
      ACEFIT_ASSIGN(const std::string pattern, split_pattern((*step)["pattern"], origin, where));
      ACEFIT_TRY(builder.set_split_pattern(pattern, where + ".pattern"));
      split_seen = true;
    } else if (type == "ByteLevel" && !byte_level_seen) {
      ACEFIT_TRY(expect_value(*step, "add_prefix_space", {false}, origin, where));
      ACEFIT_ASSIGN(const bool use_regex, flag(*step, "use_regex", true, origin, where));
      if (use_regex && split_seen) {
        return Status(ErrorCode::unsupported,
                      origin + ": " + where + ": ByteLevel with use_regex after a Split");
      }
      if (use_regex) ACEFIT_TRY(builder.set_split_pattern(kGpt2SplitPattern, where));
      byte_level_seen = true;
    } else {
      return Status(ErrorCode::unsupported,
                    origin + ": " + where + ": pre-tokenizer \"" + type +
                        "\" is not supported here (expected Split then ByteLevel)");
    }
  }
  if (!byte_level_seen) {
    return Status(ErrorCode::unsupported, origin + ": pre_tokenizer has no ByteLevel step");
  }
  return {};
}

Status read_normalizer(const json& root, TokenizerBuilder& builder) {
  const std::string& origin = builder.origin_;
  builder.set_nfc(false);
  const auto it = root.find("normalizer");
  if (it == root.end() || it->is_null()) return {};
  std::vector<const json*> steps;
  if (it->is_object() && it->value("type", "") == "Sequence" && it->contains("normalizers") &&
      (*it)["normalizers"].is_array()) {
    for (const json& step : (*it)["normalizers"]) steps.push_back(&step);
  } else {
    steps.push_back(&*it);
  }
  for (const json* step : steps) {
    if (!step->is_object() || step->value("type", "") != "NFC") {
      return Status(ErrorCode::unsupported,
                    origin + ": normalizer " + step->dump() + " is not supported (only NFC)");
    }
    builder.set_nfc(true);
  }
  return {};
}

Status read_model(const json& root, TokenizerBuilder& builder) {
  const std::string& origin = builder.origin_;
  const auto model_it = root.find("model");
  if (model_it == root.end() || !model_it->is_object()) {
    return corrupt(origin, "\"model\" is missing or not an object");
  }
  const json& model = *model_it;
  ACEFIT_TRY(expect_value(model, "type", {"BPE"}, origin, "model"));
  ACEFIT_TRY(expect_value(model, "dropout", {}, origin, "model"));
  ACEFIT_TRY(expect_value(model, "continuing_subword_prefix", {""}, origin, "model"));
  ACEFIT_TRY(expect_value(model, "end_of_word_suffix", {""}, origin, "model"));
  ACEFIT_TRY(expect_value(model, "byte_fallback", {false}, origin, "model"));
  ACEFIT_ASSIGN(const bool ignore_merges, flag(model, "ignore_merges", false, origin, "model"));
  builder.set_ignore_merges(ignore_merges);

  const auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object()) {
    return corrupt(origin, "model.vocab is missing or not an object");
  }
  for (const auto& [token, id] : vocab->items()) {
    const std::string where = "model.vocab entry " + shown_token(token);
    if (!id.is_number_integer()) return corrupt(origin, where + ": the id is not an integer");
    ACEFIT_TRY(builder.add_vocab(token, id.get<std::int64_t>(), where));
  }
  const auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array()) {
    return corrupt(origin, "model.merges is missing or not an array");
  }
  for (std::size_t i = 0; i < merges->size(); ++i) {
    const json& merge = (*merges)[i];
    const std::string where = "model.merges[" + std::to_string(i) + "]";
    if (merge.is_string()) {
      const std::string& text = merge.get_ref<const std::string&>();
      const auto space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        return corrupt(origin, where + ": " + shown_token(text) + " is not \"left right\"");
      }
      ACEFIT_TRY(builder.add_merge(std::string_view(text).substr(0, space),
                                   std::string_view(text).substr(space + 1), where));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      ACEFIT_TRY(builder.add_merge(merge[0].get_ref<const std::string&>(),
                                   merge[1].get_ref<const std::string&>(), where));
    } else {
      return corrupt(origin, where + " must be \"left right\" or [left, right]");
    }
  }
  return {};
}

}  // namespace

Expected<Tokenizer> Tokenizer::from_json(std::string_view text, std::string_view origin_view,
                                         const TokenizerOptions& options) {
  const std::string origin(origin_view);
  try {
    ACEFIT_ASSIGN(const json root, parse_json_file_text(std::string(text), origin));
    TokenizerBuilder builder(origin);
    ACEFIT_TRY(read_model(root, builder));
    const auto added = root.find("added_tokens");
    if (added != root.end() && !added->is_null()) {
      if (!added->is_array()) return corrupt(origin, "added_tokens is not an array");
      for (std::size_t i = 0; i < added->size(); ++i) {
        ACEFIT_TRY(read_added_token((*added)[i], std::nullopt, builder,
                                    "added_tokens[" + std::to_string(i) + "]"));
      }
    }
    ACEFIT_TRY(read_normalizer(root, builder));
    ACEFIT_TRY(read_pre_tokenizer(root, builder));
    return builder.finish(options);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, origin + ": out of memory loading the tokenizer");
  } catch (const json::exception& error) {
    return corrupt(origin, std::string("unexpected JSON shape: ") + error.what());
  }
}

Expected<Tokenizer> Tokenizer::load_json_file(const std::string& path,
                                              const TokenizerOptions& options) {
  ACEFIT_ASSIGN(const std::string text, read_file(path));
  return from_json(text, path, options);
}

Expected<Tokenizer> Tokenizer::load_vocab_merges(const std::string& vocab_path,
                                                 const std::string& merges_path,
                                                 const std::string& config_path,
                                                 const TokenizerOptions& options) {
  try {
    TokenizerBuilder builder(vocab_path);
    {
      ACEFIT_ASSIGN(const std::string text, read_file(vocab_path));
      ACEFIT_ASSIGN(const json vocab, parse_json_file_text(text, vocab_path));
      for (const auto& [token, id] : vocab.items()) {
        const std::string where = "entry " + shown_token(token);
        if (!id.is_number_integer())
          return corrupt(vocab_path, where + ": the id is not an integer");
        ACEFIT_TRY(builder.add_vocab(token, id.get<std::int64_t>(), where));
      }
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
        const std::string where = "line " + std::to_string(line_number);
        const auto space = line.find(' ');
        if (space == std::string_view::npos ||
            line.find(' ', space + 1) != std::string_view::npos) {
          return corrupt(merges_path, where + ": " + shown_token(line) + " is not \"left right\"");
        }
        ACEFIT_TRY(builder.add_merge(line.substr(0, space), line.substr(space + 1), where));
      }
    }
    if (!config_path.empty()) {
      ACEFIT_ASSIGN(const std::string text, read_file(config_path));
      ACEFIT_ASSIGN(const json config, parse_json_file_text(text, config_path));
      builder.origin_ = config_path;
      const auto decoder = config.find("added_tokens_decoder");
      if (decoder != config.end() && !decoder->is_null()) {
        if (!decoder->is_object()) {
          return corrupt(config_path, "added_tokens_decoder is not an object");
        }
        for (const auto& [key, entry] : decoder->items()) {
          const std::string where = "added_tokens_decoder[" + shown_token(key) + "]";
          std::int64_t id = -1;
          if (key.empty() || key.size() > 9 ||
              key.find_first_not_of("0123456789") != std::string::npos) {
            return corrupt(config_path, where + ": the key is not a token id");
          }
          id = std::stoll(key);
          if (id > kMaxTokenId) {
            return corrupt(config_path,
                           where + ": id " + key + " is outside 0.." + std::to_string(kMaxTokenId));
          }
          ACEFIT_TRY(read_added_token(entry, id, builder, where));
        }
      }
    }
    builder.origin_ = vocab_path;
    builder.set_nfc(true);
    return builder.finish(options);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, vocab_path + ": out of memory loading the tokenizer");
  } catch (const json::exception& error) {
    return corrupt(vocab_path, std::string("unexpected JSON shape: ") + error.what());
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
