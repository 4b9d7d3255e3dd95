// The CoT finite-state machine (acestep-model.md 14.4-14.6) with the real
// Qwen3 tokenizer, field by field: the forced strings and field order, the
// numeric ranges and end rule (the tier's duration limit included), the
// keyscale / language / time-signature prefix trees, the caption's blocking,
// end rule and cap, user fields injected verbatim, skipped fields.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "models/lm/cot_constraint.h"
#include "models/lm/lm_tokens.h"
#include "tokenizer_test_support.h"

namespace acefit::models::lm {
namespace {

constexpr float kCotInf = std::numeric_limits<float>::infinity();

// A small fast generator for random logits (a full span per step).
struct Xorshift {
  std::uint64_t state;
  explicit Xorshift(std::uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  float uniform() { return static_cast<float>(next() >> 40) / static_cast<float>(1 << 24); }
};

class CotConstraintTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tokenizer_ = testing::qwen3_tokenizer();
    if (!tokenizer_) return;
    texts_ = std::make_unique<std::vector<std::string>>();
    by_first_byte_ = std::make_unique<std::vector<std::vector<std::int32_t>>>(256);
    for (std::int32_t id = 0; id < kFirstAudioCodeTokenId; ++id) {
      auto text = tokenizer_->token_text(id);
      texts_->push_back(text.ok() ? *text : std::string());
      if (!texts_->back().empty()) {
        (*by_first_byte_)[static_cast<unsigned char>(texts_->back()[0])].push_back(id);
      }
    }
    CotConstraintOptions small;
    small.max_caption_tokens = 12;
    auto made = CotConstraint::create(*tokenizer_, small);
    ASSERT_TRUE(made.ok()) << made.status().to_string();
    small_caption_ = std::make_unique<CotConstraint>(std::move(made).value());
  }
  static void TearDownTestSuite() {
    small_caption_.reset();
    texts_.reset();
    by_first_byte_.reset();
  }
  void SetUp() override {
    if (!tokenizer_) GTEST_SKIP() << testing::qwen3_install_hint();
  }

  static std::int32_t id_of(std::string_view text) {
    auto ids = tokenizer_->encode(text, false);
    EXPECT_TRUE(ids.ok() && ids->size() == 1) << "\"" << text << "\" is not one token";
    return ids.ok() && !ids->empty() ? (*ids)[0] : -1;
  }
  static const std::string& text_of(std::int32_t id) {
    return (*texts_)[static_cast<std::size_t>(id)];
  }
  static std::string decode(const std::vector<std::int32_t>& ids) {
    auto text = tokenizer_->decode(ids);
    EXPECT_TRUE(text.ok());
    return text.ok() ? *text : std::string();
  }
  static CotConstraint make(const CotConstraintOptions& options) {
    auto made = CotConstraint::create(*tokenizer_, options);
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return std::move(made).value();
  }

  // The ids apply() leaves finite for these logits.
  static std::vector<std::int32_t> allowed(const CotConstraint& fsm, std::vector<float> logits) {
    fsm.apply(logits);
    std::vector<std::int32_t> out;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      if (logits[i] != -kCotInf) out.push_back(static_cast<std::int32_t>(i));
    }
    return out;
  }

  // Runs the machine to EOS (or `max_steps`): forced tokens are accepted
  // as they are (a caller may skip the model for them); otherwise `score`
  // fills the logits (given the text so far), apply() masks them and the
  // best id is taken. Returns every accepted id, EOS included.
  static std::vector<std::int32_t> drive(
      CotConstraint& fsm, const std::function<void(const std::string&, std::vector<float>&)>& score,
      bool full_vocabulary = false) {
    std::vector<std::int32_t> ids;
    std::string text;
    std::vector<float> logits(
        static_cast<std::size_t>(full_vocabulary ? kLmVocabSize : fsm.token_limit()));
    const int max_steps = 4000;
    for (int step = 0; step < max_steps && !fsm.finished(); ++step) {
      if (const auto forced = fsm.forced_token()) {
        EXPECT_TRUE(fsm.accept(*forced).ok());
        ids.push_back(*forced);
        if (*forced < kFirstAudioCodeTokenId) text += text_of(*forced);
        continue;
      }
      score(text, logits);
      fsm.apply(logits);
      std::size_t best = 0;
      int finite = 0;
      for (std::size_t i = 0; i < logits.size(); ++i) {
        if (logits[i] == -kCotInf) continue;
        ++finite;
        EXPECT_LT(i, static_cast<std::size_t>(fsm.token_limit()));
        if (logits[best] == -kCotInf || logits[i] > logits[best]) best = i;
      }
      EXPECT_GT(finite, 0) << "nothing allowed after \"" << text << "\"";
      if (finite == 0) break;
      const auto id = static_cast<std::int32_t>(best);
      const Status accepted = fsm.accept(id);
      EXPECT_TRUE(accepted.ok()) << accepted.to_string() << " after \"" << text << "\"";
      if (!accepted.ok()) break;
      ids.push_back(id);
      if (id < kFirstAudioCodeTokenId) text += text_of(id);
    }
    return ids;
  }

  // Accepts forced tokens until the logits would decide (or done()).
  static std::string skip_forced(CotConstraint& fsm) {
    std::string text;
    while (!fsm.done()) {
      const auto forced = fsm.forced_token();
      if (!forced) break;
      EXPECT_TRUE(fsm.accept(*forced).ok());
      text += text_of(*forced);
    }
    return text;
  }

  static std::function<void(const std::string&, std::vector<float>&)> random_scores(
      std::uint64_t seed) {
    auto rng = std::make_shared<Xorshift>(seed);
    return [rng](const std::string&, std::vector<float>& logits) {
      for (float& value : logits) value = rng->uniform() * 8.0f;
    };
  }

  // Steers toward `target`: a token scores 10 + its length when the rest of
  // the target starts with its text, 0 otherwise.
  static std::function<void(const std::string&, std::vector<float>&)> steer(std::string target) {
    return [target](const std::string& text, std::vector<float>& logits) {
      const std::string_view rest =
          text.size() <= target.size() ? std::string_view(target).substr(text.size()) : "";
      std::fill(logits.begin(), logits.end(), 0.0f);
      if (rest.empty()) return;
      for (std::int32_t id : (*by_first_byte_)[static_cast<unsigned char>(rest[0])]) {
        const std::string& piece = text_of(id);
        if (static_cast<std::size_t>(id) < logits.size() && rest.substr(0, piece.size()) == piece) {
          logits[static_cast<std::size_t>(id)] = 10.0f + static_cast<float>(piece.size());
        }
      }
    };
  }

  // A machine with every field given but `open` ones, so a steered run
  // spends its steps on those fields.
  static CotConstraintOptions given_but(std::initializer_list<std::string_view> open) {
    const auto is_open = [&](std::string_view name) {
      return std::find(open.begin(), open.end(), name) != open.end();
    };
    CotConstraintOptions options;
    if (!is_open("bpm")) options.user.bpm = 120;
    if (!is_open("caption")) options.user.caption = "A calm piano piece.";
    if (!is_open("duration")) options.user.duration_s = 180;
    if (!is_open("keyscale")) options.user.keyscale = "G major";
    if (!is_open("language")) options.user.language = "en";
    if (!is_open("timesignature")) options.user.time_signature = "4";
    return options;
  }

  static const Tokenizer* tokenizer_;
  static std::unique_ptr<std::vector<std::string>> texts_;
  static std::unique_ptr<std::vector<std::vector<std::int32_t>>> by_first_byte_;
  static std::unique_ptr<CotConstraint> small_caption_;
};

const Tokenizer* CotConstraintTest::tokenizer_ = nullptr;
std::unique_ptr<std::vector<std::string>> CotConstraintTest::texts_;
std::unique_ptr<std::vector<std::vector<std::int32_t>>> CotConstraintTest::by_first_byte_;
std::unique_ptr<CotConstraint> CotConstraintTest::small_caption_;

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

int number_after(const std::string& line, std::string_view prefix) {
  EXPECT_TRUE(starts_with(line, prefix)) << line;
  return std::stoi(line.substr(prefix.size()));
}

TEST_F(CotConstraintTest, RandomLogitsWriteEveryFieldInOrderThenEos) {
  const std::set<std::string> languages = {
      "ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en",  "es", "fa",     "fi",
      "fr", "he", "hi", "hr", "ht", "hu", "id", "is", "it", "ja",  "ko", "la",     "lt",
      "ms", "ne", "nl", "no", "pa", "pl", "pt", "ro", "ru", "sa",  "sk", "sr",     "sv",
      "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yue", "zh", "unknown"};
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    CotConstraint fsm = *small_caption_;
    const auto ids = drive(fsm, random_scores(seed), /*full_vocabulary=*/true);
    ASSERT_TRUE(fsm.finished());
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.back(), kImEndTokenId);
    EXPECT_EQ(ids.front(), kThinkTokenId);
    for (std::int32_t id : ids) EXPECT_LT(id, fsm.token_limit());
    const std::string text = decode(std::vector<std::int32_t>(ids.begin(), ids.end() - 1));
    ASSERT_EQ(text.back(), '\n') << text;
    const auto lines = split_lines(text);
    ASSERT_GE(lines.size(), 7u) << text;
    EXPECT_EQ(lines[0], "<think>");
    const int bpm = number_after(lines[1], "bpm: ");
    EXPECT_TRUE(starts_with(lines[2], "caption: ")) << text;
    std::size_t next = 3;  // continuation lines are indented
    while (next < lines.size() && starts_with(lines[next], " ")) ++next;
    ASSERT_EQ(lines.size(), next + 4) << text;
    const int duration = number_after(lines[next], "duration: ");
    ASSERT_TRUE(starts_with(lines[next + 1], "keyscale: ")) << text;
    ASSERT_TRUE(starts_with(lines[next + 2], "language: ")) << text;
    ASSERT_TRUE(starts_with(lines[next + 3], "timesignature: ")) << text;
    EXPECT_TRUE(text.find('`') == std::string::npos) << text;

    const CotFields values = fsm.values();
    EXPECT_EQ(values.bpm, bpm);
    EXPECT_EQ(values.duration_s, duration);
    EXPECT_GE(bpm, 30);
    EXPECT_LE(bpm, 300);
    EXPECT_GE(duration, 10);
    EXPECT_LE(duration, 600);
    EXPECT_EQ(values.keyscale, lines[next + 1].substr(10));
    ASSERT_TRUE(values.language.has_value());
    EXPECT_EQ(*values.language, lines[next + 2].substr(10));
    EXPECT_TRUE(languages.count(*values.language)) << *values.language;
    EXPECT_TRUE(values.time_signature == "2" || values.time_signature == "3" ||
                values.time_signature == "4" || values.time_signature == "6");
    ASSERT_TRUE(values.caption.has_value());
    EXPECT_FALSE(values.caption->empty());
    EXPECT_EQ(values.caption->find('\n'), std::string::npos);
    EXPECT_FALSE(values.genres.has_value());
  }
}

TEST_F(CotConstraintTest, ForcedStatesAllowOneTokenAndDoneForcesEos) {
  CotConstraint fsm = *small_caption_;
  EXPECT_EQ(fsm.token_limit(), kEndThinkTokenId);  // <think> is the highest id
  ASSERT_EQ(fsm.forced_token(), kThinkTokenId);
  std::vector<float> zeros(static_cast<std::size_t>(fsm.token_limit()), 0.0f);
  EXPECT_EQ(allowed(fsm, zeros), std::vector<std::int32_t>{kThinkTokenId});
  EXPECT_FALSE(fsm.accept(id_of("\n")).ok());  // not allowed: state unchanged
  ASSERT_TRUE(fsm.accept(kThinkTokenId).ok());
  EXPECT_EQ(fsm.forced_token(), id_of("\n"));
  ASSERT_TRUE(fsm.accept(id_of("\n")).ok());
  // "bpm:" then the value's leading space, token by token.
  EXPECT_EQ(skip_forced(fsm), "bpm: ");

  // A fully given CoT runs to done() on forced tokens alone.
  CotConstraint given = make(given_but({}));
  const std::string text = skip_forced(given);
  EXPECT_TRUE(given.done());
  EXPECT_EQ(given.forced_token(), kImEndTokenId);
  EXPECT_EQ(allowed(given, zeros), std::vector<std::int32_t>{kImEndTokenId});
  EXPECT_FALSE(given.accept(kEndThinkTokenId).ok());  // EOS replaces </think>
  EXPECT_TRUE(given.accept(kImEndTokenId).ok());
  EXPECT_TRUE(given.finished());
  EXPECT_FALSE(given.forced_token().has_value());
  EXPECT_TRUE(allowed(given, zeros).empty());
  EXPECT_FALSE(given.accept(kImEndTokenId).ok());
}

TEST_F(CotConstraintTest, BpmStaysWithin30To300) {
  std::set<int> seen;
  for (std::uint64_t seed = 1; seed <= 80; ++seed) {
    CotConstraint fsm = *small_caption_;
    skip_forced(fsm);
    auto rng = random_scores(seed * 7919);
    std::vector<float> logits(static_cast<std::size_t>(fsm.token_limit()));
    while (!fsm.values().bpm) {
      rng("", logits);
      fsm.apply(logits);
      const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
      ASSERT_TRUE(fsm.accept(static_cast<std::int32_t>(best)).ok());
    }
    const int bpm = *fsm.values().bpm;
    EXPECT_GE(bpm, 30);
    EXPECT_LE(bpm, 300);
    seen.insert(bpm);
  }
  EXPECT_GT(seen.size(), 15u);  // random logits reach many values
}

TEST_F(CotConstraintTest, BpmBoundariesAreReachableAndBeyondIsNot) {
  for (int bpm : {30, 31, 99, 100, 299, 300}) {
    CotConstraint fsm = make(given_but({"bpm"}));
    drive(fsm, steer("<think>\nbpm: " + std::to_string(bpm) + "\n"));
    EXPECT_EQ(fsm.values().bpm, bpm);
  }
  // 301 and 29 steer to the nearest value the tree allows, never to them.
  for (int bpm : {301, 29, 1000}) {
    CotConstraint fsm = make(given_but({"bpm"}));
    drive(fsm, steer("<think>\nbpm: " + std::to_string(bpm) + "\n"));
    ASSERT_TRUE(fsm.values().bpm.has_value());
    EXPECT_NE(*fsm.values().bpm, bpm);
    EXPECT_GE(*fsm.values().bpm, 30);
    EXPECT_LE(*fsm.values().bpm, 300);
  }
  // Token by token: after "30", "1" is refused; after "3", a newline too.
  CotConstraint fsm = make(given_but({"bpm"}));
  skip_forced(fsm);
  ASSERT_TRUE(fsm.accept(id_of("3")).ok());
  EXPECT_FALSE(fsm.accept(id_of("\n")).ok());
  ASSERT_TRUE(fsm.accept(id_of("0")).ok());
  EXPECT_FALSE(fsm.accept(id_of("1")).ok());
  ASSERT_TRUE(fsm.accept(id_of("0")).ok());
  EXPECT_EQ(fsm.forced_token(), id_of("\n"));  // 300: no digit can follow
}

TEST_F(CotConstraintTest, NumericValueEndsWhenNewlineBeatsEveryDigit) {
  const std::int32_t newline = id_of("\n");
  const auto digit = [&](char c) { return id_of(std::string(1, c)); };
  std::vector<float> logits(static_cast<std::size_t>(kEndThinkTokenId), 0.0f);
  const auto score = [&](std::initializer_list<std::pair<std::int32_t, float>> scores) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    for (const auto& [id, value] : scores) logits[static_cast<std::size_t>(id)] = value;
    return logits;
  };

  // bpm "1" is no bpm yet: the newline is masked however likely it is.
  CotConstraint fsm = make(given_but({"bpm"}));
  skip_forced(fsm);
  ASSERT_TRUE(fsm.accept(digit('1')).ok());
  auto open = allowed(fsm, score({{newline, 50.0f}}));
  EXPECT_EQ(open.size(), 10u);  // 10..19 lead to 100..199
  EXPECT_EQ(std::count(open.begin(), open.end(), newline), 0);
  EXPECT_FALSE(fsm.accept(newline).ok());

  // bpm "30" is complete and 300 may follow: the logits decide.
  fsm = make(given_but({"bpm"}));
  skip_forced(fsm);
  ASSERT_TRUE(fsm.accept(digit('3')).ok());
  ASSERT_TRUE(fsm.accept(digit('0')).ok());
  EXPECT_FALSE(fsm.forced_token().has_value());
  EXPECT_EQ(allowed(fsm, score({{digit('0'), 4.0f}, {newline, 5.0f}})),
            std::vector<std::int32_t>{newline});
  EXPECT_EQ(allowed(fsm, score({{digit('0'), 5.0f}, {newline, 4.0f}})),
            std::vector<std::int32_t>{digit('0')});
  // A tie is no win: the digit stays.
  EXPECT_EQ(allowed(fsm, score({{digit('0'), 5.0f}, {newline, 5.0f}})),
            std::vector<std::int32_t>{digit('0')});
  ASSERT_TRUE(fsm.accept(newline).ok());
  EXPECT_EQ(fsm.values().bpm, 30);

  // duration "45" (limit 600) is complete and 450..459 may follow.
  CotConstraint duration = make(given_but({"duration"}));
  skip_forced(duration);
  ASSERT_TRUE(duration.accept(digit('4')).ok());
  ASSERT_TRUE(duration.accept(digit('5')).ok());
  EXPECT_EQ(allowed(duration, score({{newline, 3.0f}, {digit('7'), 2.0f}, {digit('9'), 2.5f}})),
            std::vector<std::int32_t>{newline});
  open = allowed(duration, score({{newline, 3.0f}, {digit('9'), 3.5f}}));
  EXPECT_EQ(open.size(), 10u);
  EXPECT_EQ(std::count(open.begin(), open.end(), newline), 0);
  // With a 240 s limit no digit can follow "45": the newline is forced.
  CotConstraintOptions short_tier = given_but({"duration"});
  short_tier.max_duration_s = 240;
  CotConstraint capped = make(short_tier);
  skip_forced(capped);
  ASSERT_TRUE(capped.accept(digit('4')).ok());
  ASSERT_TRUE(capped.accept(digit('5')).ok());
  EXPECT_EQ(capped.forced_token(), newline);
  EXPECT_FALSE(capped.accept(digit('0')).ok());
}

TEST_F(CotConstraintTest, DurationFollowsTheTierLimit) {
  for (int limit : {240, 480, 600}) {
    CotConstraintOptions options = given_but({"duration"});
    options.max_duration_s = limit;
    const CotConstraint base = make(options);
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
      CotConstraint fsm = base;
      drive(fsm, random_scores(seed * 31 + static_cast<std::uint64_t>(limit)));
      ASSERT_TRUE(fsm.values().duration_s.has_value());
      EXPECT_GE(*fsm.values().duration_s, 10);
      EXPECT_LE(*fsm.values().duration_s, limit);
    }
    for (int duration : {10, limit}) {
      CotConstraint fsm = base;
      drive(fsm, steer("<think>\nbpm: 120\ncaption: A calm piano piece.\nduration: " +
                       std::to_string(duration) + "\n"));
      EXPECT_EQ(fsm.values().duration_s, duration) << "limit " << limit;
    }
    for (int duration : {limit + 1, 9, 601}) {
      CotConstraint fsm = base;
      drive(fsm, steer("<think>\nbpm: 120\ncaption: A calm piano piece.\nduration: " +
                       std::to_string(duration) + "\n"));
      ASSERT_TRUE(fsm.values().duration_s.has_value());
      EXPECT_NE(*fsm.values().duration_s, duration) << "limit " << limit;
      EXPECT_LE(*fsm.values().duration_s, limit);
    }
  }
  // A user duration above the limit is refused, naming the field.
  CotConstraintOptions options = given_but({});
  options.max_duration_s = 240;
  options.user.duration_s = 241;
  const auto made = CotConstraint::create(*tokenizer_, options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("duration"), std::string::npos);
}

TEST_F(CotConstraintTest, EveryKeyscaleIsReachableAndNothingElse) {
  const CotConstraint base = make(given_but({"keyscale"}));
  int count = 0;
  for (std::string note : {"A", "B", "C", "D", "E", "F", "G"}) {
    for (std::string accidental : {"", "#", "b", "\u266F", "\u266D"}) {
      for (std::string mode : {"major", "minor"}) {
        const std::string key = note + accidental + " " + mode;
        CotConstraint fsm = base;
        drive(fsm, steer("<think>\nbpm: 120\ncaption: A calm piano piece.\nduration: 180\n"
                         "keyscale: " +
                         key + "\n"));
        EXPECT_EQ(fsm.values().keyscale, key);
        ++count;
      }
    }
  }
  EXPECT_EQ(count, 70);
  const std::set<std::string> notes = {"A", "B", "C", "D", "E", "F", "G"};
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    CotConstraint fsm = base;
    drive(fsm, random_scores(seed * 104729));
    ASSERT_TRUE(fsm.values().keyscale.has_value());
    const std::string key = *fsm.values().keyscale;
    EXPECT_TRUE(normalize_keyscale(key).ok()) << key;
    EXPECT_EQ(normalize_keyscale(key).ok() ? *normalize_keyscale(key) : "", key);
  }
  // Off the tree: "H" and a lower-case mode are refused.
  CotConstraint fsm = base;
  skip_forced(fsm);
  EXPECT_FALSE(fsm.accept(id_of(" H")).ok());
  ASSERT_TRUE(fsm.accept(id_of(" G")).ok());
  EXPECT_FALSE(fsm.accept(id_of(" Major")).ok());
  EXPECT_FALSE(fsm.accept(id_of("\n")).ok());
}

TEST_F(CotConstraintTest, EveryLanguageIsReachableAndTheFirstTokenIsTheBest) {
  const CotConstraint base = make(given_but({"language"}));
  const std::vector<std::string> languages = {
      "ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en",  "es", "fa",     "fi",
      "fr", "he", "hi", "hr", "ht", "hu", "id", "is", "it", "ja",  "ko", "la",     "lt",
      "ms", "ne", "nl", "no", "pa", "pl", "pt", "ro", "ru", "sa",  "sk", "sr",     "sv",
      "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yue", "zh", "unknown"};
  for (const std::string& language : languages) {
    CotConstraint fsm = base;
    drive(fsm, steer("<think>\nbpm: 120\ncaption: A calm piano piece.\nduration: 180\n"
                     "keyscale: G major\nlanguage: " +
                     language + "\n"));
    EXPECT_EQ(fsm.values().language, language);
  }
  const std::set<std::string> valid(languages.begin(), languages.end());
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CotConstraint fsm = base;
    drive(fsm, random_scores(seed * 613));
    ASSERT_TRUE(fsm.values().language.has_value());
    EXPECT_TRUE(valid.count(*fsm.values().language)) << *fsm.values().language;
  }
  // The first token: only the best-scored valid one survives.
  CotConstraint fsm = base;
  skip_forced(fsm);
  std::vector<float> logits(static_cast<std::size_t>(fsm.token_limit()), 0.0f);
  logits[static_cast<std::size_t>(id_of(" en"))] = 2.0f;
  logits[static_cast<std::size_t>(id_of(" ja"))] = 3.0f;
  logits[static_cast<std::size_t>(id_of(" hello"))] = 9.0f;
  EXPECT_EQ(allowed(fsm, logits), std::vector<std::int32_t>{id_of(" ja")});
  EXPECT_FALSE(fsm.accept(id_of(" hello")).ok());
  EXPECT_TRUE(fsm.accept(id_of(" en")).ok());  // the grammar allows any valid one
  EXPECT_EQ(fsm.forced_token(), id_of("\n"));
}

TEST_F(CotConstraintTest, TimeSignatureIsTwoThreeFourOrSix) {
  const CotConstraint base = make(given_but({"timesignature"}));
  for (std::string value : {"2", "3", "4", "6"}) {
    CotConstraint fsm = base;
    drive(fsm, steer("<think>\nbpm: 120\ncaption: A calm piano piece.\nduration: 180\n"
                     "keyscale: G major\nlanguage: en\ntimesignature: " +
                     value + "\n"));
    EXPECT_EQ(fsm.values().time_signature, value);
    EXPECT_TRUE(fsm.finished());
  }
  CotConstraint fsm = base;
  skip_forced(fsm);  // "timesignature: "
  std::vector<float> zeros(static_cast<std::size_t>(fsm.token_limit()), 0.0f);
  std::vector<std::int32_t> expected = {id_of("2"), id_of("3"), id_of("4"), id_of("6")};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(allowed(fsm, zeros), expected);
  EXPECT_FALSE(fsm.accept(id_of("5")).ok());
  ASSERT_TRUE(fsm.accept(id_of("6")).ok());
  EXPECT_EQ(fsm.forced_token(), id_of("\n"));
  ASSERT_TRUE(fsm.accept(id_of("\n")).ok());
  EXPECT_TRUE(fsm.done());
}

TEST_F(CotConstraintTest, CaptionBlocksCodeFencesSpecialTokensAndEarlyNewlines) {
  CotConstraint fsm = make(given_but({"caption"}));
  EXPECT_EQ(skip_forced(fsm), "<think>\nbpm: 120\ncaption:");
  std::vector<float> zeros(static_cast<std::size_t>(kLmVocabSize), 0.0f);
  const auto first = allowed(fsm, zeros);
  const std::set<std::int32_t> open(first.begin(), first.end());
  EXPECT_TRUE(open.count(id_of(" A")));
  EXPECT_FALSE(open.count(id_of("A")));  // the value starts after "caption: "
  for (std::string_view blocked : {"\n", ".\n", "`", "```", " `", " ```"}) {
    EXPECT_FALSE(open.count(id_of(blocked))) << blocked;
    EXPECT_FALSE(fsm.accept(id_of(blocked)).ok()) << blocked;
  }
  for (std::int32_t special : {kPadTokenId, kImEndTokenId, kThinkTokenId, kEndThinkTokenId,
                               kFirstAudioCodeTokenId, kFirstAudioCodeTokenId + 5}) {
    EXPECT_FALSE(open.count(special)) << special;
    EXPECT_FALSE(fsm.accept(special).ok()) << special;
  }
  EXPECT_LT(*open.rbegin(), kPadTokenId);
  ASSERT_TRUE(fsm.accept(id_of(" Soft")).ok());
  const auto later = allowed(fsm, zeros);
  const std::set<std::int32_t> open_later(later.begin(), later.end());
  EXPECT_TRUE(open_later.count(id_of("\n")));  // content first, then a line may end
  EXPECT_TRUE(open_later.count(id_of(".\n")));
  EXPECT_TRUE(open_later.count(id_of("ing")));
  EXPECT_FALSE(open_later.count(id_of("```")));
  EXPECT_FALSE(open_later.count(kImEndTokenId));
}

TEST_F(CotConstraintTest, CaptionEndsWhenTheBestTokenAfterALineIsNotIndented) {
  const std::int32_t duration_name = id_of("duration");
  CotConstraint fsm = make(given_but({"caption"}));
  skip_forced(fsm);
  ASSERT_TRUE(fsm.accept(id_of(" Soft")).ok());
  ASSERT_TRUE(fsm.accept(id_of(" piano")).ok());
  ASSERT_TRUE(fsm.accept(id_of(".\n")).ok());
  std::vector<float> logits(static_cast<std::size_t>(fsm.token_limit()), 0.0f);
  // The best token is indented: the caption goes on, indented tokens only.
  logits[static_cast<std::size_t>(id_of(" With"))] = 5.0f;
  logits[static_cast<std::size_t>(duration_name)] = 4.0f;
  auto open = allowed(fsm, logits);
  EXPECT_TRUE(std::count(open.begin(), open.end(), id_of(" With")));
  EXPECT_TRUE(std::count(open.begin(), open.end(), id_of("  ")));
  EXPECT_FALSE(std::count(open.begin(), open.end(), duration_name));
  EXPECT_FALSE(std::count(open.begin(), open.end(), id_of("With")));
  // The best token is not indented: the caption ends with the next name.
  logits[static_cast<std::size_t>(id_of(" With"))] = 0.0f;
  logits[static_cast<std::size_t>(id_of("With"))] = 6.0f;
  EXPECT_EQ(allowed(fsm, logits), std::vector<std::int32_t>{duration_name});
  logits[static_cast<std::size_t>(id_of("With"))] = 0.0f;
  logits[static_cast<std::size_t>(kImEndTokenId)] = 6.0f;  // EOS counts as not indented
  EXPECT_EQ(allowed(fsm, logits), std::vector<std::int32_t>{duration_name});

  // A continuation line, then the end.
  CotConstraint cont = fsm;
  ASSERT_TRUE(cont.accept(id_of(" Warm")).ok());
  ASSERT_TRUE(cont.accept(id_of(" strings")).ok());
  ASSERT_TRUE(cont.accept(id_of(".\n")).ok());
  EXPECT_FALSE(cont.accept(id_of("Warm")).ok());  // an unindented line
  ASSERT_TRUE(cont.accept(duration_name).ok());
  EXPECT_EQ(cont.values().caption, "Soft piano. Warm strings.");
  EXPECT_TRUE(starts_with(skip_forced(cont), ": 180\nkeyscale: G major\n"));
  ASSERT_TRUE(fsm.accept(duration_name).ok());
  EXPECT_EQ(fsm.values().caption, "Soft piano.");
}

TEST_F(CotConstraintTest, CaptionStopsAt512Tokens) {
  CotConstraintOptions options = given_but({"caption"});
  ASSERT_EQ(options.max_caption_tokens, 512);
  CotConstraint fsm = make(options);
  skip_forced(fsm);
  const std::int32_t word = id_of(" la");
  for (int i = 0; i < 512; ++i) {
    ASSERT_FALSE(fsm.forced_token().has_value()) << i;
    ASSERT_TRUE(fsm.accept(word).ok()) << i;
  }
  const std::int32_t newline = id_of("\n");
  EXPECT_EQ(fsm.forced_token(), newline);
  EXPECT_FALSE(fsm.accept(word).ok());
  std::vector<float> logits(static_cast<std::size_t>(fsm.token_limit()), 0.0f);
  logits[static_cast<std::size_t>(word)] = 10.0f;
  EXPECT_EQ(allowed(fsm, logits), std::vector<std::int32_t>{newline});
  ASSERT_TRUE(fsm.accept(newline).ok());
  EXPECT_EQ(fsm.forced_token(), id_of("duration"));
  EXPECT_FALSE(fsm.accept(word).ok());
  EXPECT_TRUE(starts_with(skip_forced(fsm), "duration: 180\n"));
  ASSERT_TRUE(fsm.values().caption.has_value());
  EXPECT_EQ(fsm.values().caption->size(), 512u * 3 - 1);
}

TEST_F(CotConstraintTest, UserFieldsAreForcedVerbatim) {
  CotConstraintOptions options;
  options.user.bpm = 96;
  options.user.caption = "A calm\n  piano piece.";
  options.user.duration_s = 200;
  options.user.keyscale = "f# MINOR";
  options.user.language = "JA";
  options.user.time_signature = "3/4";
  CotConstraint fsm = make(options);
  const std::string text = skip_forced(fsm);
  EXPECT_EQ(text,
            "<think>\nbpm: 96\ncaption: A calm piano piece.\nduration: 200\n"
            "keyscale: F# minor\nlanguage: ja\ntimesignature: 3\n");
  EXPECT_TRUE(fsm.done());
  const CotFields values = fsm.values();
  EXPECT_EQ(values.bpm, 96);
  EXPECT_EQ(values.caption, "A calm piano piece.");
  EXPECT_EQ(values.duration_s, 200);
  EXPECT_EQ(values.keyscale, "F# minor");
  EXPECT_EQ(values.language, "ja");
  EXPECT_EQ(values.time_signature, "3");

  // A user value inside a generated CoT: only that field is forced.
  CotConstraintOptions some;
  some.max_caption_tokens = 6;
  some.user.keyscale = "B\u266D major";
  some.user.time_signature = "4/4";
  CotConstraint mixed = make(some);
  const auto ids = drive(mixed, random_scores(99));
  const std::string mixed_text = decode(std::vector<std::int32_t>(ids.begin(), ids.end() - 1));
  EXPECT_NE(mixed_text.find("\nkeyscale: B\u266D major\nlanguage: "), std::string::npos)
      << mixed_text;
  EXPECT_TRUE(mixed_text.ends_with("\ntimesignature: 4\n")) << mixed_text;
}

TEST_F(CotConstraintTest, BadUserFieldsAreRefusedNamingTheField) {
  const auto refused = [&](CotConstraintOptions options, std::string_view field) {
    const auto made = CotConstraint::create(*tokenizer_, options);
    ASSERT_FALSE(made.ok()) << field;
    EXPECT_EQ(made.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(made.status().message().find(field), std::string::npos) << made.status().message();
  };
  CotConstraintOptions options;
  options.user.bpm = 301;
  refused(options, "bpm");
  options = {};
  options.user.bpm = 29;
  refused(options, "bpm");
  options = {};
  options.user.keyscale = "H major";
  refused(options, "keyscale");
  options.user.keyscale = "Am";
  refused(options, "keyscale");
  options = {};
  options.user.language = "english";
  refused(options, "language");
  options = {};
  options.user.time_signature = "5/4";
  refused(options, "timesignature");
  options.user.time_signature = "4/3";
  refused(options, "timesignature");
  options = {};
  options.user.duration_s = 5;
  refused(options, "duration");
  options = {};
  options.user.caption = " \n ";
  refused(options, "caption");
  options = {};
  options.max_duration_s = 700;
  refused(options, "duration");
  options = {};
  options.max_caption_tokens = 0;
  refused(options, "max_caption_tokens");
  EXPECT_EQ(cot_keyscales().size(), 70u);
  EXPECT_EQ(cot_language_codes().size(), 51u);
  EXPECT_EQ(cot_time_signatures().size(), 4u);
  EXPECT_EQ(*normalize_keyscale("  c   major "), "C major");
  EXPECT_EQ(*normalize_keyscale("Eb Minor"), "Eb minor");
  EXPECT_EQ(*normalize_language(" Unknown"), "unknown");
  EXPECT_EQ(*normalize_time_signature("6/8"), "6");
  EXPECT_EQ(*normalize_time_signature("2"), "2");
}

TEST_F(CotConstraintTest, SkippedFieldsAndGenres) {
  CotConstraintOptions options = given_but({});
  options.use_cot_caption = false;
  options.use_cot_language = false;
  CotConstraint fsm = make(options);
  EXPECT_EQ(skip_forced(fsm),
            "<think>\nbpm: 120\nduration: 180\nkeyscale: G major\ntimesignature: 4\n");
  EXPECT_FALSE(fsm.values().caption.has_value());  // the user caption is not the CoT's
  EXPECT_FALSE(fsm.values().language.has_value());

  CotConstraintOptions generated;
  generated.use_cot_caption = false;
  generated.use_cot_language = false;
  CotConstraint plain = make(generated);
  const auto ids = drive(plain, random_scores(5));
  const auto lines = split_lines(decode(std::vector<std::int32_t>(ids.begin(), ids.end() - 1)));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(starts_with(lines[1], "bpm: "));
  EXPECT_TRUE(starts_with(lines[2], "duration: "));
  EXPECT_TRUE(starts_with(lines[3], "keyscale: "));
  EXPECT_TRUE(starts_with(lines[4], "timesignature: "));

  // Genres: one free line between duration and keyscale.
  CotConstraintOptions with_genres = given_but({});
  with_genres.include_genres = true;
  CotConstraint genres = make(with_genres);
  drive(genres, steer("<think>\nbpm: 120\ncaption: A calm piano piece.\nduration: 180\n"
                      "genres: jazz, lounge\nkeyscale: G major\n"));
  EXPECT_EQ(genres.values().genres, "jazz, lounge");
  EXPECT_EQ(genres.values().keyscale, "G major");
  with_genres.user.genres = "pop";
  CotConstraint given = make(with_genres);
  EXPECT_NE(skip_forced(given).find("\nduration: 180\ngenres: pop\nkeyscale: G major\n"),
            std::string::npos);
}

}  // namespace
}  // namespace acefit::models::lm
