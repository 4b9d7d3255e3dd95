// Loading tokenizer files (TX-08): a tiny valid byte-level tokenizer.json
// loads and encodes as expected; every kind of corruption is a load error
// naming the file and the entry.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "io/tokenizer/tokenizer.h"
#include "tokenizer_test_support.h"

namespace acefit {
namespace {

using nlohmann::json;
using testing::tiny_tokenizer_json;

Status load_error(const std::string& text, const TokenizerOptions& options = {}) {
  auto loaded = Tokenizer::from_json(text, "bad/tokenizer.json", options);
  return loaded.status();
}

// Fails unless loading fails with `code` and a message naming the file and `entry`.
void expect_load_error(const json& document, ErrorCode code, const std::string& entry,
                       const TokenizerOptions& options = {}) {
  const Status status = load_error(document.dump(), options);
  ASSERT_FALSE(status.ok()) << "loaded, but should have failed naming " << entry;
  EXPECT_EQ(status.code(), code) << status.to_string();
  EXPECT_NE(status.message().find("bad/tokenizer.json"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(entry), std::string::npos) << status.message();
}

TEST(TokenizerLoad, TinyTokenizerEncodes) {
  auto tokenizer = Tokenizer::from_json(tiny_tokenizer_json().dump(), "tiny/tokenizer.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().to_string();
  // "hello" merges fully (id 259), " world" -> "Ġwo" (261) r l d, then the special token.
  const auto ids = tokenizer->encode("hello world<|endoftext|>");
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  EXPECT_EQ(ids.value(), (std::vector<std::int32_t>{259, 261, 'r', 'l', 'd', 300}));
  EXPECT_EQ(tokenizer->decode(ids.value()).value(), "hello world<|endoftext|>");
  EXPECT_EQ(tokenizer->vocab_size(), 301);
}

TEST(TokenizerLoad, MergesInArrayFormAreTheSame) {
  json document = tiny_tokenizer_json();
  json arrays = json::array();
  for (const auto& merge : document["model"]["merges"]) {
    const std::string text = merge;
    arrays.push_back({text.substr(0, text.find(' ')), text.substr(text.find(' ') + 1)});
  }
  document["model"]["merges"] = arrays;
  auto tokenizer = Tokenizer::from_json(document.dump(), "tiny/tokenizer.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().to_string();
  EXPECT_EQ(tokenizer->encode("hello").value(), std::vector<std::int32_t>{259});
}

TEST(TokenizerLoad, AddedTokensWithStripFlags) {
  json document = tiny_tokenizer_json();
  document["added_tokens"].push_back(
      {{"id", 301}, {"content", "<sep>"}, {"lstrip", true}, {"rstrip", true}, {"special", true}});
  auto tokenizer = Tokenizer::from_json(document.dump(), "tiny/tokenizer.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().to_string();
  EXPECT_EQ(tokenizer->encode("a  <sep>  b").value(), (std::vector<std::int32_t>{'a', 301, 'b'}));
}

TEST(TokenizerLoad, InvalidJson) {
  const Status status = load_error("{\"model\": {\"vocab\": {\"a\": 1,}}");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::corrupt);
  EXPECT_NE(status.message().find("bad/tokenizer.json: invalid JSON"), std::string::npos)
      << status.message();
  EXPECT_FALSE(load_error("").ok());
  EXPECT_FALSE(load_error("[]").ok());
  EXPECT_FALSE(load_error(std::string(100000, '[')).ok());  // nesting, no deep recursion
}

TEST(TokenizerLoad, LoneSurrogateEscapeInAToken) {
  std::string text = tiny_tokenizer_json().dump();
  text.replace(text.find("\"<|endoftext|>\""), 15, "\"<|\\ud800|>\"");
  const Status status = load_error(text);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::corrupt);
}

TEST(TokenizerLoad, MergeNamingAnUnknownToken) {
  json document = tiny_tokenizer_json();
  document["model"]["merges"].push_back("zz q");
  expect_load_error(document, ErrorCode::corrupt, "model.merges[6]: unknown token \"zz\"");
}

TEST(TokenizerLoad, MergeWhoseResultIsNotInTheVocabulary) {
  json document = tiny_tokenizer_json();
  document["model"]["merges"].push_back("a b");
  expect_load_error(document, ErrorCode::corrupt, "model.merges[6]: the merged token \"ab\"");
}

TEST(TokenizerLoad, MalformedMerges) {
  json document = tiny_tokenizer_json();
  document["model"]["merges"].push_back("abc");
  expect_load_error(document, ErrorCode::corrupt, "model.merges[6]");
  document = tiny_tokenizer_json();
  document["model"]["merges"].push_back(json::array({"a"}));
  expect_load_error(document, ErrorCode::corrupt, "model.merges[6]");
  document = tiny_tokenizer_json();
  document["model"]["merges"].push_back("h e");
  expect_load_error(document, ErrorCode::corrupt, "duplicate merge");
}

TEST(TokenizerLoad, DuplicateTokenStrings) {
  std::string text = tiny_tokenizer_json().dump();
  // Repeat the first vocabulary key with another id.
  const std::size_t vocab = text.find("\"vocab\":{") + 9;
  text.insert(vocab, "\"hello\":5,");
  const Status status = load_error(text);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("duplicate key \"hello\""), std::string::npos)
      << status.message();
}

TEST(TokenizerLoad, DuplicateIds) {
  json document = tiny_tokenizer_json();
  document["model"]["vocab"]["zz"] = 256;
  expect_load_error(document, ErrorCode::corrupt, "model.vocab entry \"zz\": id 256 is already");
  document = tiny_tokenizer_json();
  document["added_tokens"].push_back({{"id", 300}, {"content", "<x>"}});
  expect_load_error(document, ErrorCode::corrupt, "added_tokens[1] \"<x>\": id 300 is already");
  document = tiny_tokenizer_json();
  document["added_tokens"].push_back({{"id", 258}, {"content", "<x>"}});
  expect_load_error(document, ErrorCode::corrupt, "id 258 is already the vocabulary token");
  document = tiny_tokenizer_json();
  document["added_tokens"].push_back({{"id", 301}, {"content", "<|endoftext|>"}});
  expect_load_error(document, ErrorCode::corrupt, "duplicate added token");
}

TEST(TokenizerLoad, IdsOutOfRange) {
  json document = tiny_tokenizer_json();
  document["model"]["vocab"]["zz"] = -1;
  expect_load_error(document, ErrorCode::corrupt, "model.vocab entry \"zz\": id -1");
  document = tiny_tokenizer_json();
  document["model"]["vocab"]["zz"] = 4000000000LL;
  expect_load_error(document, ErrorCode::corrupt, "model.vocab entry \"zz\": id 4000000000");
  document = tiny_tokenizer_json();
  document["model"]["vocab"]["zz"] = 1000000;  // one token far away: tables would be huge
  expect_load_error(document, ErrorCode::corrupt, "the ids are too sparse");
  document = tiny_tokenizer_json();
  document["model"]["vocab"]["zz"] = 1.5;
  expect_load_error(document, ErrorCode::corrupt, "model.vocab entry \"zz\": the id is not");
  document = tiny_tokenizer_json();
  document["added_tokens"][0]["id"] = "300";
  expect_load_error(document, ErrorCode::corrupt, "added_tokens[0].id");
}

TEST(TokenizerLoad, AddedTokenIdAtOrAboveTheEmbeddingRows) {
  TokenizerOptions options;
  options.embedding_rows = 300;
  expect_load_error(tiny_tokenizer_json(), ErrorCode::corrupt,
                    "added token \"<|endoftext|>\" has id 300, not below the 300 embedding rows",
                    options);
  options.embedding_rows = 301;
  EXPECT_TRUE(Tokenizer::from_json(tiny_tokenizer_json().dump(), "tiny", options).ok());
}

TEST(TokenizerLoad, MissingRequiredSpecialToken) {
  json document = tiny_tokenizer_json();
  document["added_tokens"] = json::array();
  expect_load_error(document, ErrorCode::corrupt, "the required token \"<|endoftext|>\"");
  TokenizerOptions options;
  options.required_tokens = {"<|im_end|>"};
  expect_load_error(tiny_tokenizer_json(), ErrorCode::corrupt, "\"<|im_end|>\" is missing",
                    options);
}

TEST(TokenizerLoad, VocabularyProblems) {
  json document = tiny_tokenizer_json();
  document["model"]["vocab"].erase("Ġ");  // the space byte
  document["model"]["merges"] = json::array();
  expect_load_error(document, ErrorCode::corrupt, "no token for byte 0x20");
  document = tiny_tokenizer_json();
  document["model"]["vocab"]["tab\there"] = 400;
  expect_load_error(document, ErrorCode::corrupt, "byte-level alphabet");
  document = tiny_tokenizer_json();
  document["model"].erase("vocab");
  expect_load_error(document, ErrorCode::corrupt, "model.vocab is missing");
  document = tiny_tokenizer_json();
  document["model"]["merges"] = "h e";
  expect_load_error(document, ErrorCode::corrupt, "model.merges is missing or not an array");
}

TEST(TokenizerLoad, UnsupportedConfigurations) {
  json document = tiny_tokenizer_json();
  document["model"]["byte_fallback"] = true;
  expect_load_error(document, ErrorCode::unsupported, "model.byte_fallback");
  document = tiny_tokenizer_json();
  document["model"]["type"] = "Unigram";
  expect_load_error(document, ErrorCode::unsupported, "model.type");
  document = tiny_tokenizer_json();
  document["normalizer"] = {{"type", "Lowercase"}};
  expect_load_error(document, ErrorCode::unsupported, "normalizer");
  document = tiny_tokenizer_json();
  document["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  expect_load_error(document, ErrorCode::unsupported, "pretokenizers[0].pattern");
  document = tiny_tokenizer_json();
  document["added_tokens"][0]["single_word"] = true;
  expect_load_error(document, ErrorCode::unsupported, "single_word");
}

TEST(TokenizerLoad, VocabMergesFilesNameTheLine) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("acefit-tokenizer-load-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const json document = tiny_tokenizer_json();
  std::ofstream(dir / "vocab.json") << document["model"]["vocab"].dump();
  std::ofstream(dir / "merges.txt") << "#version: 0.2\nh e\nhe l\nno_space\n";
  auto loaded = Tokenizer::load_vocab_merges((dir / "vocab.json").string(),
                                             (dir / "merges.txt").string(), "", {{}, {}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("merges.txt: line 4"), std::string::npos)
      << loaded.status().message();
  std::ofstream(dir / "merges.txt") << "h e\r\nhe l\r\n";
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"added_tokens_decoder": {"300": {"content": "<|endoftext|>", "special": true}}})";
  auto tokenizer = Tokenizer::load(dir.string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().to_string();
  EXPECT_EQ(tokenizer->encode("hel<|endoftext|>").value(), (std::vector<std::int32_t>{257, 300}));
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"added_tokens_decoder": {"-3": {"content": "<x>"}}})";
  loaded = Tokenizer::load(dir.string());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("added_tokens_decoder[\"-3\"]"), std::string::npos)
      << loaded.status().message();
  std::filesystem::remove_all(dir);
  EXPECT_EQ(Tokenizer::load(dir.string()).status().code(), ErrorCode::not_found);
}

}  // namespace
}  // namespace acefit
