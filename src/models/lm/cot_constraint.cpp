#include "models/lm/cot_constraint.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "models/lm/lm_tokens.h"

namespace acefit::models::lm {
// Named (not anonymous): the unity build puts other files beside this one.
namespace cot_internal {

constexpr float kCotMasked = -std::numeric_limits<float>::infinity();

enum class Field { none, bpm, caption, duration, genres, keyscale, language, timesignature };

// What a step of the machine emits.
enum class StepKind {
  forced,  // a fixed token list: a fixed string or an injected user value
  number,  // a prefix tree with the numeric end rule (bpm, duration)
  choice,  // a prefix tree whose complete values end at once (keyscale, ...)
  caption,
  genres,
  done,  // only EOS
};

// A prefix tree over token ids: node 0 is the root.
struct TokenTrie {
  struct Node {
    std::vector<std::pair<std::int32_t, std::int32_t>> children;  // token -> node
    bool complete = false;
  };
  std::vector<Node> nodes = std::vector<Node>(1);

  std::int32_t child(std::int32_t node, std::int32_t token) const {
    for (const auto& [id, next] : nodes[static_cast<std::size_t>(node)].children) {
      if (id == token) return next;
    }
    return -1;
  }
  void insert(std::span<const std::int32_t> tokens) {
    std::int32_t node = 0;
    for (std::int32_t token : tokens) {
      std::int32_t next = child(node, token);
      if (next < 0) {
        next = static_cast<std::int32_t>(nodes.size());
        nodes[static_cast<std::size_t>(node)].children.emplace_back(token, next);
        nodes.emplace_back();
      }
      node = next;
    }
    nodes[static_cast<std::size_t>(node)].complete = true;
  }
};

struct Step {
  StepKind kind = StepKind::forced;
  Field field = Field::none;         // the field whose value this step writes
  std::vector<std::int32_t> tokens;  // forced
  int trie = -1;                     // number / choice
  bool greedy_first = false;         // language: the best first token only
  std::string user_value;            // forced user values: the value itself
};

// Per-token facts of the ordinary (non-added) tokens, for the free text.
enum TokenFlag : std::uint8_t {
  kLeadingSpace = 1,  // starts with a space or a tab
  kHasNewline = 2,    // contains '\n'
  kEndsLine = 4,      // contains '\n' and nothing follows the last one
  kHasContent = 8,    // some byte that is not white space
  kBlocked = 16,      // never in free text: a backtick (code fences), or
                      // text after a newline (an unindented line)
};

bool is_space_byte(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string trim(std::string_view text) {
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_space_byte(text[begin])) ++begin;
  while (end > begin && is_space_byte(text[end - 1])) --end;
  return std::string(text.substr(begin, end - begin));
}

// Lines trimmed, empty ones dropped, joined by single spaces (a wrapped
// YAML caption back on one line; upstream's postprocess_caption).
std::string join_lines(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string line = trim(text.substr(start, end - start));
    if (!line.empty()) {
      if (!out.empty()) out += ' ';
      out += line;
    }
    start = end + 1;
  }
  return out;
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::string_view field_name(Field field) {
  switch (field) {
    case Field::bpm:
      return "bpm";
    case Field::caption:
      return "caption";
    case Field::duration:
      return "duration";
    case Field::genres:
      return "genres";
    case Field::keyscale:
      return "keyscale";
    case Field::language:
      return "language";
    case Field::timesignature:
      return "timesignature";
    case Field::none:
      break;
  }
  return "";
}

void store_value(CotFields& fields, Field field, const std::string& raw) {
  switch (field) {
    case Field::bpm:
      fields.bpm = parse_int(trim(raw));
      break;
    case Field::duration:
      fields.duration_s = parse_int(trim(raw));
      break;
    case Field::caption:
      fields.caption = join_lines(raw);
      break;
    case Field::genres:
      fields.genres = trim(raw);
      break;
    case Field::keyscale:
      fields.keyscale = trim(raw);
      break;
    case Field::language:
      fields.language = trim(raw);
      break;
    case Field::timesignature:
      fields.time_signature = trim(raw);
      break;
    case Field::none:
      break;
  }
}

// Keeps the scores of `allowed` (those inside the span), masks the rest.
void keep_only(std::span<float> logits, std::span<const std::int32_t> allowed) {
  std::array<std::pair<std::int32_t, float>, 16> small{};
  std::vector<std::pair<std::int32_t, float>> large;
  std::size_t count = 0;
  for (std::int32_t id : allowed) {
    if (id < 0 || static_cast<std::size_t>(id) >= logits.size()) continue;
    const std::pair<std::int32_t, float> entry{id, logits[static_cast<std::size_t>(id)]};
    if (count < small.size()) {
      small[count] = entry;
    } else {
      large.push_back(entry);
    }
    ++count;
  }
  std::fill(logits.begin(), logits.end(), kCotMasked);
  for (std::size_t i = 0; i < std::min(count, small.size()); ++i) {
    logits[static_cast<std::size_t>(small[i].first)] = small[i].second;
  }
  for (const auto& [id, value] : large) logits[static_cast<std::size_t>(id)] = value;
}

void keep_one(std::span<float> logits, std::int32_t id) {
  const std::array<std::int32_t, 1> allowed = {id};
  keep_only(logits, allowed);
}

float score_of(std::span<const float> logits, std::int32_t id) {
  if (id < 0 || static_cast<std::size_t>(id) >= logits.size()) return kCotMasked;
  return logits[static_cast<std::size_t>(id)];
}

}  // namespace cot_internal

struct CotConstraint::Tables {
  std::vector<cot_internal::Step> steps;
  std::vector<cot_internal::TokenTrie> tries;
  std::int32_t newline = 0;
  std::int32_t eos = kImEndTokenId;
  std::int32_t text_end = 0;  // ordinary tokens are ids [0, text_end)
  std::vector<std::uint8_t> flags;
  std::vector<std::string> texts;  // raw bytes of the ordinary tokens
  int max_free_tokens = kCotCaptionTokensDefault;
  std::int32_t limit = 0;

  std::uint8_t flag(std::int32_t id) const {
    return id >= 0 && id < text_end ? flags[static_cast<std::size_t>(id)] : 0;
  }
  bool is_text(std::int32_t id) const { return id >= 0 && id < text_end; }
};

// ---- building ----

namespace cot_internal {

Expected<std::vector<std::int32_t>> encode_plain(const Tokenizer& tokenizer,
                                                 std::string_view text) {
  return tokenizer.encode(text, /*add_special_tokens=*/false);
}

Expected<std::int32_t> single_token(const Tokenizer& tokenizer, std::string_view text) {
  ACEFIT_ASSIGN(auto ids, encode_plain(tokenizer, text));
  if (ids.size() != 1) {
    return internal_error("the tokenizer (" + tokenizer.origin() +
                          ") has no single token for the CoT's \"" + std::string(text) + "\"");
  }
  return ids[0];
}

// Every value tokenised in context ("bpm: " + value), the context's tokens
// ("bpm:", what the machine forced) cut off: a prefix tree over the rest.
Expected<TokenTrie> build_trie(const Tokenizer& tokenizer, std::string_view name,
                               std::span<const std::int32_t> context,
                               const std::vector<std::string>& values) {
  TokenTrie trie;
  for (const std::string& value : values) {
    ACEFIT_ASSIGN(auto ids, encode_plain(tokenizer, std::string(name) + ": " + value));
    if (ids.size() <= context.size() || !std::equal(context.begin(), context.end(), ids.begin())) {
      return internal_error("the tokenizer (" + tokenizer.origin() + ") merges \"" +
                            std::string(name) + ":\" with the value \"" + value + "\"");
    }
    trie.insert(std::span<const std::int32_t>(ids).subspan(context.size()));
  }
  return trie;
}

std::vector<std::string> number_strings(int first, int last) {
  std::vector<std::string> out;
  for (int value = first; value <= last; ++value) out.push_back(std::to_string(value));
  return out;
}

Status check_options(const CotConstraintOptions& options) {
  if (options.min_duration_s < 1 || options.max_duration_s < options.min_duration_s ||
      options.max_duration_s > kCotDurationMax) {
    return invalid_argument("CoT duration range [" + std::to_string(options.min_duration_s) + ", " +
                            std::to_string(options.max_duration_s) + "] is not within [1, " +
                            std::to_string(kCotDurationMax) + "]");
  }
  if (options.max_caption_tokens < 1 || options.max_caption_tokens > 4096) {
    return invalid_argument("CoT max_caption_tokens " + std::to_string(options.max_caption_tokens) +
                            " is not within [1, 4096]");
  }
  return {};
}

// The user's value of `field` in the CoT's form; nullopt when not given.
Expected<std::optional<std::string>> user_value(const CotConstraintOptions& options, Field field) {
  const CotFields& user = options.user;
  switch (field) {
    case Field::bpm:
      if (!user.bpm) return std::optional<std::string>();
      if (*user.bpm < kCotBpmMin || *user.bpm > kCotBpmMax) {
        return invalid_argument("bpm " + std::to_string(*user.bpm) + " is outside " +
                                std::to_string(kCotBpmMin) + ".." + std::to_string(kCotBpmMax));
      }
      return std::optional<std::string>(std::to_string(*user.bpm));
    case Field::duration:
      if (!user.duration_s) return std::optional<std::string>();
      if (*user.duration_s < options.min_duration_s || *user.duration_s > options.max_duration_s) {
        return invalid_argument("duration " + std::to_string(*user.duration_s) + " s is outside " +
                                std::to_string(options.min_duration_s) + ".." +
                                std::to_string(options.max_duration_s) + " s");
      }
      return std::optional<std::string>(std::to_string(*user.duration_s));
    case Field::caption:
    case Field::genres: {
      const auto& given = field == Field::caption ? user.caption : user.genres;
      if (!given) return std::optional<std::string>();
      std::string value = collapse_white_space(*given);
      if (value.empty()) return invalid_argument(std::string(field_name(field)) + " is empty");
      return std::optional<std::string>(std::move(value));
    }
    case Field::keyscale: {
      if (!user.keyscale) return std::optional<std::string>();
      ACEFIT_ASSIGN(std::string value, normalize_keyscale(*user.keyscale));
      return std::optional<std::string>(std::move(value));
    }
    case Field::language: {
      if (!user.language) return std::optional<std::string>();
      ACEFIT_ASSIGN(std::string value, normalize_language(*user.language));
      return std::optional<std::string>(std::move(value));
    }
    case Field::timesignature: {
      if (!user.time_signature) return std::optional<std::string>();
      ACEFIT_ASSIGN(std::string value, normalize_time_signature(*user.time_signature));
      return std::optional<std::string>(std::move(value));
    }
    case Field::none:
      break;
  }
  return std::optional<std::string>();
}

Status scan_vocabulary(const Tokenizer& tokenizer, CotConstraint::Tables& tables) {
  std::int64_t text_end = tokenizer.vocab_size();
  for (const AddedToken& added : tokenizer.added_tokens()) {
    text_end = std::min<std::int64_t>(text_end, added.id);
  }
  tables.text_end = static_cast<std::int32_t>(text_end);
  tables.flags.assign(static_cast<std::size_t>(tables.text_end), 0);
  tables.texts.resize(static_cast<std::size_t>(tables.text_end));
  for (std::int32_t id = 0; id < tables.text_end; ++id) {
    auto text = tokenizer.token_text(id);
    if (!text.ok()) return text.status();
    const std::string& bytes = *text;
    std::uint8_t flag = 0;
    if (!bytes.empty() && (bytes[0] == ' ' || bytes[0] == '\t')) flag |= kLeadingSpace;
    const std::size_t last_newline = bytes.rfind('\n');
    if (last_newline != std::string::npos) {
      flag |= kHasNewline;
      bool text_after = false;
      bool any_after = last_newline + 1 < bytes.size();
      for (std::size_t i = last_newline + 1; i < bytes.size(); ++i) {
        if (!is_space_byte(bytes[i])) text_after = true;
      }
      if (!any_after) flag |= kEndsLine;
      if (text_after) flag |= kBlocked;
    }
    if (std::any_of(bytes.begin(), bytes.end(), [](char c) { return !is_space_byte(c); })) {
      flag |= kHasContent;
    }
    if (bytes.find('`') != std::string::npos) flag |= kBlocked;
    tables.flags[static_cast<std::size_t>(id)] = flag;
    tables.texts[static_cast<std::size_t>(id)] = bytes;
  }
  return {};
}

}  // namespace cot_internal

CotConstraint::CotConstraint(std::shared_ptr<const Tables> tables) : tables_(std::move(tables)) {}

Expected<CotConstraint> CotConstraint::create(const Tokenizer& tokenizer,
                                              const CotConstraintOptions& options) {
  using namespace cot_internal;
  ACEFIT_TRY(check_options(options));
  // The user's values first: a bad one is refused before any table is built.
  for (Field field : {Field::bpm, Field::caption, Field::duration, Field::genres, Field::keyscale,
                      Field::language, Field::timesignature}) {
    ACEFIT_TRY(user_value(options, field).status());
  }
  auto tables = std::make_shared<Tables>();
  tables->max_free_tokens = options.max_caption_tokens;
  ACEFIT_ASSIGN(tables->newline, single_token(tokenizer, "\n"));
  ACEFIT_ASSIGN(const std::int32_t think, single_token(tokenizer, "<think>"));
  const auto eos = tokenizer.token_id("<|im_end|>");
  if (!eos) return internal_error("the tokenizer (" + tokenizer.origin() + ") has no <|im_end|>");
  tables->eos = *eos;
  ACEFIT_TRY(scan_vocabulary(tokenizer, *tables));

  tables->steps.push_back(Step{StepKind::forced, Field::none, {think}, -1, false, {}});
  tables->steps.push_back(Step{StepKind::forced, Field::none, {tables->newline}, -1, false, {}});
  const std::array<Field, 7> order = {Field::bpm,          Field::caption,  Field::duration,
                                      Field::genres,       Field::keyscale, Field::language,
                                      Field::timesignature};
  for (Field field : order) {
    if ((field == Field::caption && !options.use_cot_caption) ||
        (field == Field::genres && !options.include_genres) ||
        (field == Field::language && !options.use_cot_language)) {
      continue;
    }
    const std::string name(field_name(field));
    ACEFIT_ASSIGN(auto name_tokens, encode_plain(tokenizer, name + ":"));
    tables->steps.push_back(Step{StepKind::forced, Field::none, name_tokens, -1, false, {}});
    ACEFIT_ASSIGN(auto given, user_value(options, field));
    if (given) {
      ACEFIT_ASSIGN(auto ids, encode_plain(tokenizer, " " + *given + "\n"));
      tables->steps.push_back(Step{StepKind::forced, field, std::move(ids), -1, false, *given});
      continue;
    }
    Step step;
    step.field = field;
    std::vector<std::string> values;
    switch (field) {
      case Field::bpm:
        values = number_strings(kCotBpmMin, kCotBpmMax);
        break;
      case Field::duration:
        values = number_strings(options.min_duration_s, options.max_duration_s);
        break;
      case Field::keyscale:
        values = cot_keyscales();
        break;
      case Field::language:
        for (std::string_view code : cot_language_codes()) values.emplace_back(code);
        break;
      case Field::timesignature:
        for (std::string_view value : cot_time_signatures()) values.emplace_back(value);
        break;
      default:
        break;
    }
    if (field == Field::caption || field == Field::genres) {
      step.kind = field == Field::caption ? StepKind::caption : StepKind::genres;
    } else {
      step.kind =
          field == Field::bpm || field == Field::duration ? StepKind::number : StepKind::choice;
      step.greedy_first = field == Field::language;
      ACEFIT_ASSIGN(TokenTrie trie, build_trie(tokenizer, name, name_tokens, values));
      step.trie = static_cast<int>(tables->tries.size());
      tables->tries.push_back(std::move(trie));
    }
    tables->steps.push_back(std::move(step));
  }
  tables->steps.push_back(Step{StepKind::done, Field::none, {}, -1, false, {}});

  // The caption ends on the next field name's first token, which must not
  // look like a continuation line; the limit covers every allowed id.
  std::int32_t highest = tables->eos;
  for (std::size_t i = 0; i < tables->steps.size(); ++i) {
    const Step& step = tables->steps[i];
    for (std::int32_t id : step.tokens) highest = std::max(highest, id);
    if (step.kind == StepKind::caption || step.kind == StepKind::genres) {
      highest = std::max(highest, tables->text_end - 1);
    }
    if (step.kind == StepKind::caption) {
      const Step& next = tables->steps[i + 1];
      if (next.kind != StepKind::forced || next.tokens.empty() ||
          (tables->flag(next.tokens[0]) & kLeadingSpace) != 0) {
        return internal_error("the CoT field after the caption does not start with a name");
      }
    }
  }
  for (const TokenTrie& trie : tables->tries) {
    for (const auto& node : trie.nodes) {
      for (const auto& [id, next] : node.children) highest = std::max(highest, id);
    }
  }
  highest = std::max(highest, tables->newline);
  tables->limit = highest + 1;
  return CotConstraint(std::move(tables));
}

// ---- running ----

bool CotConstraint::done() const {
  using namespace cot_internal;
  return tables_->steps[step_].kind == StepKind::done;
}

std::int32_t CotConstraint::token_limit() const {
  return tables_->limit;
}

std::int32_t CotConstraint::eos_token() const {
  return tables_->eos;
}

CotFields CotConstraint::values() const {
  return values_;
}

std::optional<std::int32_t> CotConstraint::forced_token() const {
  using namespace cot_internal;
  const Tables& t = *tables_;
  const Step& step = t.steps[step_];
  if (finished_) return std::nullopt;
  switch (step.kind) {
    case StepKind::forced:
      return step.tokens[position_];
    case StepKind::done:
      return t.eos;
    case StepKind::number:
    case StepKind::choice: {
      const auto& node =
          t.tries[static_cast<std::size_t>(step.trie)].nodes[static_cast<std::size_t>(node_)];
      if (node.complete && (node.children.empty() || step.kind == StepKind::choice)) {
        return t.newline;
      }
      if (!node.complete && node.children.size() == 1) return node.children[0].first;
      return std::nullopt;
    }
    case StepKind::caption:
      if (free_tokens_ >= t.max_free_tokens) {
        return line_start_ ? t.steps[step_ + 1].tokens[0] : t.newline;
      }
      return std::nullopt;
    case StepKind::genres:
      if (free_tokens_ >= t.max_free_tokens) return t.newline;
      return std::nullopt;
  }
  return std::nullopt;
}

void CotConstraint::apply(std::span<float> logits) const {
  using namespace cot_internal;
  const Tables& t = *tables_;
  if (finished_) {
    std::fill(logits.begin(), logits.end(), kCotMasked);
    return;
  }
  if (const auto forced = forced_token()) {
    keep_one(logits, *forced);
    return;
  }
  const Step& step = t.steps[step_];
  const std::size_t size = logits.size();
  const std::size_t text_end = std::min<std::size_t>(size, static_cast<std::size_t>(t.text_end));
  switch (step.kind) {
    case StepKind::number:
    case StepKind::choice: {
      const auto& node =
          t.tries[static_cast<std::size_t>(step.trie)].nodes[static_cast<std::size_t>(node_)];
      std::vector<std::int32_t> children;
      children.reserve(node.children.size());
      for (const auto& [id, next] : node.children) children.push_back(id);
      if (step.greedy_first && node_ == 0) {
        // Upstream: the language's first token is the top-1 valid one.
        std::int32_t best = children.front();
        for (std::int32_t id : children) {
          if (score_of(logits, id) > score_of(logits, best)) best = id;
        }
        keep_one(logits, best);
        return;
      }
      if (node.complete) {
        // The numeric end rule: newline once it beats every allowed digit.
        float best_digit = kCotMasked;
        for (std::int32_t id : children) best_digit = std::max(best_digit, score_of(logits, id));
        if (score_of(logits, t.newline) > best_digit) {
          keep_one(logits, t.newline);
          return;
        }
      }
      keep_only(logits, children);
      return;
    }
    case StepKind::caption:
    case StepKind::genres: {
      const bool genres = step.kind == StepKind::genres;
      if (!genres && line_start_) {
        // Upstream's caption end: after a line, the best-scored token of
        // all decides whether an indented continuation line follows.
        std::size_t top = 0;
        for (std::size_t i = 1; i < size; ++i) {
          if (logits[i] > logits[top]) top = i;
        }
        if (size == 0 || (t.flag(static_cast<std::int32_t>(top)) & kLeadingSpace) == 0) {
          keep_one(logits, t.steps[step_ + 1].tokens[0]);
          return;
        }
        for (std::size_t i = 0; i < text_end; ++i) {
          const std::uint8_t flag = t.flags[i];
          if ((flag & kLeadingSpace) == 0 || (flag & kBlocked) != 0) logits[i] = kCotMasked;
        }
        std::fill(logits.begin() + static_cast<std::ptrdiff_t>(text_end), logits.end(), kCotMasked);
        return;
      }
      if (genres && has_content_) {
        // Upstream's text-field end: newline once it beats every other token.
        const float newline = score_of(logits, t.newline);
        bool beats_all = true;
        for (std::size_t i = 0; i < size && beats_all; ++i) {
          if (i != static_cast<std::size_t>(t.newline) && !(newline > logits[i])) beats_all = false;
        }
        if (beats_all) {
          keep_one(logits, t.newline);
          return;
        }
      }
      for (std::size_t i = 0; i < text_end; ++i) {
        const std::uint8_t flag = t.flags[i];
        const bool masked = (flag & kBlocked) != 0 ||
                            ((flag & kHasNewline) != 0 && (genres || !has_content_)) ||
                            (free_tokens_ == 0 && (flag & kLeadingSpace) == 0);
        if (masked) logits[i] = kCotMasked;
      }
      std::fill(logits.begin() + static_cast<std::ptrdiff_t>(text_end), logits.end(), kCotMasked);
      return;
    }
    case StepKind::forced:
    case StepKind::done:
      break;
  }
}

Status CotConstraint::accept(std::int32_t token) {
  using namespace cot_internal;
  const Tables& t = *tables_;
  const auto reject = [&](std::string_view why) {
    return invalid_argument("CoT token " + std::to_string(token) + " is not allowed " +
                            std::string(why));
  };
  if (finished_) return reject("after EOS");
  const Step& step = t.steps[step_];
  const auto advance = [&] {
    ++step_;
    position_ = 0;
    node_ = 0;
    free_tokens_ = 0;
    line_start_ = false;
    has_content_ = false;
    value_bytes_.clear();
  };
  switch (step.kind) {
    case StepKind::done:
      if (token != t.eos) return reject("after the last field (only EOS)");
      finished_ = true;
      return {};
    case StepKind::forced:
      if (token != step.tokens[position_]) {
        return reject("in a fixed string (expected " + std::to_string(step.tokens[position_]) +
                      ")");
      }
      if (++position_ == step.tokens.size()) {
        if (step.field != Field::none) store_value(values_, step.field, step.user_value);
        advance();
      }
      return {};
    case StepKind::number:
    case StepKind::choice: {
      const TokenTrie& trie = t.tries[static_cast<std::size_t>(step.trie)];
      const auto& node = trie.nodes[static_cast<std::size_t>(node_)];
      if (token == t.newline && node.complete) {
        store_value(values_, step.field, value_bytes_);
        advance();
        return {};
      }
      const std::int32_t next = trie.child(node_, token);
      if (next < 0 || (node.complete && step.kind == StepKind::choice)) {
        return reject("in the " + std::string(field_name(step.field)) + " value");
      }
      node_ = next;
      value_bytes_ += t.texts[static_cast<std::size_t>(token)];
      return {};
    }
    case StepKind::caption: {
      const std::int32_t end_token = t.steps[step_ + 1].tokens[0];
      const bool capped = free_tokens_ >= t.max_free_tokens;
      if (line_start_ && token == end_token) {
        store_value(values_, step.field, value_bytes_);
        advance();
        position_ = 1;
        if (position_ == t.steps[step_].tokens.size()) advance();
        return {};
      }
      const std::uint8_t flag = t.flag(token);
      bool ok = t.is_text(token) && (flag & kBlocked) == 0;
      if (capped) {
        ok = !line_start_ && token == t.newline;
      } else if (line_start_) {
        ok = ok && (flag & kLeadingSpace) != 0;
      } else {
        ok = ok && !((flag & kHasNewline) != 0 && !has_content_) &&
             !(free_tokens_ == 0 && (flag & kLeadingSpace) == 0);
      }
      if (!ok) return reject("in the caption");
      value_bytes_ += t.texts[static_cast<std::size_t>(token)];
      ++free_tokens_;
      if ((flag & kHasContent) != 0) has_content_ = true;
      line_start_ = (flag & kHasNewline) != 0 ? (flag & kEndsLine) != 0 : false;
      return {};
    }
    case StepKind::genres: {
      const bool capped = free_tokens_ >= t.max_free_tokens;
      if (token == t.newline && (has_content_ || capped)) {
        store_value(values_, step.field, value_bytes_);
        advance();
        return {};
      }
      const std::uint8_t flag = t.flag(token);
      const bool ok = !capped && t.is_text(token) && (flag & (kBlocked | kHasNewline)) == 0 &&
                      !(free_tokens_ == 0 && (flag & kLeadingSpace) == 0);
      if (!ok) return reject("in the genres");
      value_bytes_ += t.texts[static_cast<std::size_t>(token)];
      ++free_tokens_;
      if ((flag & kHasContent) != 0) has_content_ = true;
      return {};
    }
  }
  return internal_error("CoT machine in an unknown state");
}

}  // namespace acefit::models::lm
