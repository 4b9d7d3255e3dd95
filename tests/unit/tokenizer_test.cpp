// The Qwen3 tokenizer against an independent implementation: every case of
// tests/data/tokenizer/corpus.json must give exactly the ids that
// @lenml/tokenizers computed (tests/data/tokenizer/expected_ids.json, from
// tests/reference/tokenizer_expected.mjs), decode(encode(text)) must give the
// NFC text, vocab.json + merges.txt must give the same ids as tokenizer.json,
// and the reliability rules TX-01, TX-05, TX-07 and TX-09 hold.
#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/text/utf8.h"
#include "io/tokenizer/pretokenizer.h"
#include "io/tokenizer/tokenizer.h"
#include "tokenizer_test_support.h"

namespace acefit {
namespace {

using testing::qwen3_audio_code_tokenizer;
using testing::qwen3_tokenizer;

struct CorpusCase {
  std::string name;
  std::string tokenizer;
  std::string text;
  std::string nfc;
  std::vector<std::int32_t> ids;
};

const std::vector<CorpusCase>& corpus() {
  static const std::vector<CorpusCase> cases = [] {
    const std::string dir = std::string(ACEFIT_TEST_DATA_DIR) + "/tokenizer/";
    const auto texts = nlohmann::json::parse(testing::read_text_file(dir + "corpus.json"));
    const auto expected = nlohmann::json::parse(testing::read_text_file(dir + "expected_ids.json"));
    std::vector<CorpusCase> out;
    for (const auto& entry : texts["cases"]) {
      CorpusCase c{entry["name"], entry["tokenizer"], entry["text"], "", {}};
      for (const auto& e : expected["cases"]) {
        if (e["name"] == c.name) {
          c.ids = e["ids"].get<std::vector<std::int32_t>>();
          c.nfc = e["nfc"];
        }
      }
      out.push_back(std::move(c));
    }
    return out;
  }();
  return cases;
}

const Tokenizer* tokenizer_for(const CorpusCase& c) {
  if (c.tokenizer == "qwen3_embedding") return testing::qwen3_embedding_tokenizer();
  return c.tokenizer == "qwen3_audio_codes" ? qwen3_audio_code_tokenizer() : qwen3_tokenizer();
}

std::vector<std::int32_t> encode_ok(const Tokenizer& tokenizer, std::string_view text,
                                    bool add_special_tokens = true) {
  auto ids = tokenizer.encode(text, add_special_tokens);
  EXPECT_TRUE(ids.ok()) << ids.status().to_string();
  return ids.ok() ? ids.value() : std::vector<std::int32_t>{};
}

TEST(Qwen3Tokenizer, FilesArePresent) {
  ASSERT_TRUE(std::filesystem::exists(testing::qwen3_tokenizer_dir() + "/tokenizer.json"))
      << testing::qwen3_install_hint();
  const Tokenizer* tokenizer = qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 151669);
  EXPECT_EQ(tokenizer->merge_count(), 151387u);
  EXPECT_EQ(tokenizer->token_id("<|endoftext|>"), 151643);
  EXPECT_EQ(tokenizer->token_id("<|im_start|>"), 151644);
  EXPECT_EQ(tokenizer->token_id("<|im_end|>"), 151645);
  EXPECT_EQ(tokenizer->token_id("<think>"), 151667);
  EXPECT_EQ(tokenizer->token_id("</think>"), 151668);
}

TEST(Qwen3Tokenizer, CorpusMatchesReferenceIds) {
  ASSERT_GE(corpus().size(), 40u);
  for (const CorpusCase& c : corpus()) {
    const Tokenizer* tokenizer = tokenizer_for(c);
    ASSERT_NE(tokenizer, nullptr);
    EXPECT_EQ(encode_ok(*tokenizer, c.text), c.ids) << "case " << c.name;
  }
}

TEST(Qwen3Tokenizer, DecodeOfEncodeIsTheNfcText) {
  for (const CorpusCase& c : corpus()) {
    const Tokenizer* tokenizer = tokenizer_for(c);
    ASSERT_NE(tokenizer, nullptr);
    const auto ids = encode_ok(*tokenizer, c.text, /*add_special_tokens=*/false);
    const auto text = tokenizer->decode(ids);
    ASSERT_TRUE(text.ok()) << text.status().to_string();
    EXPECT_EQ(text.value(), c.nfc) << "case " << c.name;
    // The reference's NFC and utf8proc's agree on the corpus.
    EXPECT_EQ(nfc_normalize(c.text).value(), c.nfc) << "case " << c.name;
  }
}

TEST(Qwen3Tokenizer, AudioCodeIds) {
  EXPECT_EQ(audio_code_token_id(0).value(), 151669);
  EXPECT_EQ(audio_code_token_id(63999).value(), 151669 + 63999);
  EXPECT_FALSE(audio_code_token_id(64000).ok());
  EXPECT_FALSE(audio_code_token_id(-1).ok());
  EXPECT_TRUE(is_audio_code(151669));
  EXPECT_TRUE(is_audio_code(215668));
  EXPECT_FALSE(is_audio_code(151668));
  EXPECT_FALSE(is_audio_code(215669));
  EXPECT_EQ(audio_code_of_token(151669 + 4242).value(), 4242);
  EXPECT_FALSE(audio_code_of_token(5).ok());
  EXPECT_EQ(audio_code_token_text(17), "<|audio_code_17|>");

  const Tokenizer* lm = qwen3_audio_code_tokenizer();
  ASSERT_NE(lm, nullptr);
  EXPECT_TRUE(lm->check_audio_code_tokens().ok());
  for (const int code : {0, 1, 999, 12345, 63999}) {
    EXPECT_EQ(encode_ok(*lm, audio_code_token_text(code)),
              std::vector<std::int32_t>{audio_code_token_id(code).value()});
  }
  EXPECT_EQ(lm->decode(std::vector<std::int32_t>{151669 + 7, 151669 + 8}).value(),
            "<|audio_code_7|><|audio_code_8|>");
  // The plain Qwen3 tokenizer has no audio codes: checked, and the text is ordinary text.
  const Tokenizer* plain = qwen3_tokenizer();
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->check_audio_code_tokens().ok());
  EXPECT_GT(encode_ok(*plain, audio_code_token_text(3)).size(), 1u);
}

// vocab.json + merges.txt (+ tokenizer_config.json) written from tokenizer.json.
TEST(Qwen3Tokenizer, VocabAndMergesGiveTheSameIds) {
  const nlohmann::json* tokenizer_json = testing::qwen3_tokenizer_json();
  ASSERT_NE(tokenizer_json, nullptr) << testing::qwen3_install_hint();
  const auto dir =
      std::filesystem::temp_directory_path() / ("acefit-tokenizer-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream vocab(dir / "vocab.json", std::ios::binary);
    vocab << (*tokenizer_json)["model"]["vocab"].dump();
    std::ofstream merges(dir / "merges.txt", std::ios::binary);
    merges << "#version: 0.2\n";
    for (const auto& merge : (*tokenizer_json)["model"]["merges"]) {
      if (merge.is_array()) {
        merges << merge[0].get<std::string>() << ' ' << merge[1].get<std::string>() << '\n';
      } else {
        merges << merge.get<std::string>() << '\n';
      }
    }
    nlohmann::json config;
    for (const auto& token : (*tokenizer_json)["added_tokens"]) {
      nlohmann::json entry = token;
      entry.erase("id");
      config["added_tokens_decoder"][std::to_string(token["id"].get<int>())] = entry;
    }
    std::ofstream(dir / "tokenizer_config.json", std::ios::binary) << config.dump(1);
  }
  auto loaded =
      Tokenizer::load_vocab_merges((dir / "vocab.json").string(), (dir / "merges.txt").string(),
                                   (dir / "tokenizer_config.json").string());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->vocab_size(), 151669);
  for (const CorpusCase& c : corpus()) {
    if (c.tokenizer != "qwen3") continue;
    EXPECT_EQ(encode_ok(*loaded, c.text), c.ids) << "case " << c.name;
  }
}

// TX-01: invalid UTF-8 is an error naming the byte offset, never replaced.
TEST(Qwen3Tokenizer, InvalidUtf8IsRejectedWithTheOffset) {
  const Tokenizer* tokenizer = qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("ab\x80", 3), "offset 2"},            // stray continuation
      {std::string("abc\xC0\xAF", 5), "offset 3"},       // overlong '/'
      {std::string("a\xED\xA0\x80", 4), "offset 1"},     // encoded surrogate U+D800
      {std::string("\xF4\x90\x80\x80", 4), "offset 0"},  // U+110000
      {std::string("hello \xE2\x82", 8), "offset 6"},    // cut short
  };
  for (const auto& [text, offset] : cases) {
    const auto ids = tokenizer->encode(text);
    ASSERT_FALSE(ids.ok());
    EXPECT_EQ(ids.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(ids.status().message().find(offset), std::string::npos) << ids.status().message();
  }
}

// TX-05: pathological text finishes in linear time.
TEST(Qwen3Tokenizer, PathologicalTextIsLinear) {
  const Tokenizer* tokenizer = qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  constexpr double kSecondsPer100Kb = 1.0;  // generous: ~50x what a Release build needs
  std::string zwj_chain;
  for (int i = 0; i < 20000; ++i) zwj_chain += "\xF0\x9F\x91\xA8\xE2\x80\x8D";  // 👨 + ZWJ
  std::string marks = "a";
  for (int i = 0; i < 10000; ++i) marks += "\xCC\x81";  // U+0301
  std::string mixed_marks = "a";                        // classes 230 and 220 alternating
  for (int i = 0; i < 50000; ++i) mixed_marks += "\xCC\x81\xCC\x96";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1 MB of one letter", std::string(1 << 20, 'a')},
      {"1 MB of spaces", std::string(1 << 20, ' ')},
      {"1 MB of spaces then a letter", std::string(1 << 20, ' ') + "x"},
      {"1 MB of newlines", std::string(1 << 20, '\n')},
      {"1 MB of digits", std::string(1 << 20, '7')},
      {"1 MB of punctuation", std::string(1 << 20, '!')},
      {"1 MB of apostrophes", std::string(1 << 20, '\'')},
      {"ZWJ chain", zwj_chain},
      {"10,000 combining marks", marks},
      {"100,000 mixed combining marks", mixed_marks},
  };
  for (const auto& [name, text] : cases) {
    const auto start = std::chrono::steady_clock::now();
    const auto ids = tokenizer->encode(text);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(ids.ok()) << name << ": " << ids.status().to_string();
    EXPECT_LT(seconds, kSecondsPer100Kb * (static_cast<double>(text.size()) / 1e5 + 1))
        << name << " took " << seconds << " s";
    EXPECT_EQ(tokenizer->decode(ids.value()).value(), nfc_normalize(text).value()) << name;
  }
}

// TX-07: ids outside the vocabulary are errors naming the id and position.
TEST(Qwen3Tokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
  const Tokenizer* tokenizer = qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  for (const std::int32_t bad : {-1, 151669, 2147483647}) {
    const std::vector<std::int32_t> ids = {9707, bad};
    const auto text = tokenizer->decode(ids);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.status().code(), ErrorCode::invalid_argument);
    EXPECT_NE(text.status().message().find(std::to_string(bad)), std::string::npos);
    EXPECT_NE(text.status().message().find("position 1"), std::string::npos);
  }
  EXPECT_FALSE(tokenizer->token_text(-5).ok());
  EXPECT_EQ(tokenizer->token_text(9707).value(), "Hello");
}

// TX-09: BOM, CRLF, NFC versus NFD and bracketed tags are deterministic.
TEST(Qwen3Tokenizer, TextFormsAreDeterministic) {
  const Tokenizer* tokenizer = qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  // NFD and NFC spellings give the same ids.
  EXPECT_EQ(encode_ok(*tokenizer, "Cafe\xCC\x81 re\xCC\x81sume\xCC\x81"),
            encode_ok(*tokenizer, "Caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9"));
  // The BOM is kept as text (its own token), never dropped.
  const auto bom = encode_ok(*tokenizer, "\xEF\xBB\xBFHello");
  ASSERT_EQ(bom.size(), 2u);
  EXPECT_EQ(tokenizer->decode(bom).value(), "\xEF\xBB\xBFHello");
  // CRLF is kept: "\r\n" and "\n" differ.
  EXPECT_NE(encode_ok(*tokenizer, "a\r\nb"), encode_ok(*tokenizer, "a\nb"));
  // 10,000 section tags: the ids of one tag, repeated.
  const auto one = encode_ok(*tokenizer, "[Verse]\n");
  std::string many;
  std::vector<std::int32_t> expected;
  for (int i = 0; i < 10000; ++i) {
    many += "[Verse]\n";
    expected.insert(expected.end(), one.begin(), one.end());
  }
  EXPECT_EQ(encode_ok(*tokenizer, many), expected);
  // 10,000 unmatched brackets: one run, round-trips.
  const std::string brackets(10000, '[');
  EXPECT_EQ(tokenizer->decode(encode_ok(*tokenizer, brackets)).value(), brackets);
  // NUL and other controls are tokens like any byte; nothing is cut at NUL.
  const std::string with_nul("a\0b\x1B[0m", 8);
  const auto ids = encode_ok(*tokenizer, with_nul);
  EXPECT_EQ(tokenizer->decode(ids).value(), with_nul);
}

TEST(Qwen3Tokenizer, DecodeReplacesBrokenUtf8LikeHuggingFace) {
  const Tokenizer* tokenizer = qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  // "é" is one token in Qwen3? Take the bytes of "世" one token at a time instead.
  const auto world = encode_ok(*tokenizer, "\xE4\xB8\x96");  // 世
  const auto first_byte = tokenizer->token_id("\xE4");
  ASSERT_TRUE(first_byte.has_value());
  const std::vector<std::int32_t> cut = {*first_byte};
  EXPECT_EQ(tokenizer->decode(cut).value(), "\xEF\xBF\xBD");
  EXPECT_EQ(tokenizer->decode_bytes(cut).value(), "\xE4");
  EXPECT_EQ(tokenizer->decode(world).value(), "\xE4\xB8\x96");
}

TEST(Qwen3Tokenizer, SkipSpecialTokensOnDecode) {
  const Tokenizer* tokenizer = qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  const auto ids = encode_ok(*tokenizer, "<|im_start|>hi<|im_end|><think>");
  EXPECT_EQ(tokenizer->decode(ids, /*skip_special_tokens=*/true).value(), "hi<think>");
}

TEST(Qwen3Tokenizer, ConcurrentEncodingGivesTheSameIds) {
  const Tokenizer* tokenizer = qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  std::vector<std::vector<std::int32_t>> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (const CorpusCase& c : corpus()) {
        if (c.tokenizer != "qwen3") continue;
        auto ids = tokenizer->encode(c.text);
        if (ids.ok()) results[t].insert(results[t].end(), ids->begin(), ids->end());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 1; t < 4; ++t) EXPECT_EQ(results[t], results[0]);
  EXPECT_FALSE(results[0].empty());
}

}  // namespace
}  // namespace acefit
