// Loading tokenizer files (TX-08): a tiny valid byte-level tokenizer.json
// loads and encodes as expected; every kind of corruption is a load error
// naming the file and the entry; the post_processor section (18.1) too.
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

// ---- post_processor (acestep-model.md 18.1) ----
// A TemplateProcessing template, alone or inside a Sequence, puts its
// special tokens' ids around the text's when special tokens are on (the
// default); ByteLevel and null add nothing; anything the loader cannot apply
// exactly is a load error naming the file and the entry. The real Qwen3
// files with Qwen3-Embedding's post_processor are checked against
// @lenml/tokenizers in tokenizer_test.cpp (corpus cases "embedding_*").

using PpIds = std::vector<std::int32_t>;

// The tiny tokenizer (bytes, "hello" = 259, <|endoftext|> = 300) plus <s> = 301.
json pp_tiny_with(const json& post_processor) {
  json document = tiny_tokenizer_json();
  document["added_tokens"].push_back({{"id", 301},
                                      {"content", "<s>"},
                                      {"single_word", false},
                                      {"lstrip", false},
                                      {"rstrip", false},
                                      {"normalized", false},
                                      {"special", true}});
  document["post_processor"] = post_processor;
  return document;
}

json pp_special(const std::string& name, const PpIds& ids, const std::vector<std::string>& tokens) {
  return {{"id", name}, {"ids", ids}, {"tokens", tokens}};
}

json pp_piece_a() {
  return {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
}
json pp_piece_b() {
  return {{"Sequence", {{"id", "B"}, {"type_id", 1}}}};
}
json pp_piece(const std::string& id) {
  return {{"SpecialToken", {{"id", id}, {"type_id", 0}}}};
}

// "<s> $A <|endoftext|>" with a pair template using both sequences.
json pp_template() {
  return {{"type", "TemplateProcessing"},
          {"single", {pp_piece("<s>"), pp_piece_a(), pp_piece("<|endoftext|>")}},
          {"pair",
           {pp_piece("<s>"), pp_piece_a(), pp_piece("<|endoftext|>"), pp_piece_b(),
            pp_piece("<|endoftext|>")}},
          {"special_tokens",
           {{"<s>", pp_special("<s>", {301}, {"<s>"})},
            {"<|endoftext|>", pp_special("<|endoftext|>", {300}, {"<|endoftext|>"})}}}};
}

json pp_byte_level() {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", false},
          {"use_regex", false}};
}

Tokenizer pp_load_ok(const json& document) {
  auto loaded = Tokenizer::from_json(document.dump(), "tiny/tokenizer.json");
  EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
  if (!loaded.ok()) std::abort();
  return std::move(loaded).value();
}

PpIds pp_encode(const Tokenizer& tokenizer, std::string_view text, bool special_tokens = true) {
  auto ids = tokenizer.encode(text, special_tokens);
  EXPECT_TRUE(ids.ok()) << ids.status().to_string();
  return ids.ok() ? ids.value() : PpIds{};
}

TEST(TokenizerPostProcessor, TemplateAddsItsIdsAroundTheText) {
  const Tokenizer tokenizer = pp_load_ok(pp_tiny_with(pp_template()));
  EXPECT_EQ(pp_encode(tokenizer, "hello"), (PpIds{301, 259, 300}));
  EXPECT_EQ(pp_encode(tokenizer, ""), (PpIds{301, 300}));
  EXPECT_EQ(pp_encode(tokenizer, "hello", false), (PpIds{259}));
  EXPECT_EQ(pp_encode(tokenizer, "", false), PpIds{});
  EXPECT_EQ(tokenizer.special_prefix().size(), 1u);
  EXPECT_EQ(tokenizer.special_suffix().size(), 1u);
  EXPECT_EQ(tokenizer.special_token_count(), 2u);
  // Special tokens written in the text stay where they are.
  EXPECT_EQ(pp_encode(tokenizer, "<|endoftext|>"), (PpIds{301, 300, 300}));
}

TEST(TokenizerPostProcessor, InsideASequenceWithByteLevel) {
  // Qwen3-Embedding's form: ByteLevel, then the template.
  json processor = pp_template();
  processor["single"] = {pp_piece_a(), pp_piece("<|endoftext|>")};
  const Tokenizer tokenizer = pp_load_ok(
      pp_tiny_with({{"type", "Sequence"}, {"processors", {pp_byte_level(), processor}}}));
  EXPECT_EQ(pp_encode(tokenizer, "hello"), (PpIds{259, 300}));
  EXPECT_EQ(tokenizer.special_token_count(), 1u);
}

TEST(TokenizerPostProcessor, LaterTemplatesWrapEarlierOnes) {
  json inner = pp_template();
  inner["single"] = {pp_piece_a(), pp_piece("<|endoftext|>")};
  json outer = pp_template();
  outer["single"] = {pp_piece("<s>"), pp_piece_a(), pp_piece("<s>")};
  const Tokenizer tokenizer = pp_load_ok(
      pp_tiny_with({{"type", "Sequence"}, {"processors", {inner, pp_byte_level(), outer}}}));
  EXPECT_EQ(pp_encode(tokenizer, "hello"), (PpIds{301, 259, 300, 301}));
}

TEST(TokenizerPostProcessor, SpecialTokenWithSeveralIds) {
  json processor = pp_template();
  processor["special_tokens"]["<s>"] = pp_special("<s>", {301, 259}, {"<s>", "hello"});
  const Tokenizer tokenizer = pp_load_ok(pp_tiny_with(processor));
  EXPECT_EQ(pp_encode(tokenizer, "h"), (PpIds{301, 259, 'h', 300}));
}

TEST(TokenizerPostProcessor, ByteLevelNullAndAbsentAddNothing) {
  for (const json& processor : {pp_byte_level(), json(nullptr)}) {
    const Tokenizer tokenizer = pp_load_ok(pp_tiny_with(processor));
    EXPECT_EQ(pp_encode(tokenizer, "hello"), PpIds{259}) << processor.dump();
    EXPECT_EQ(tokenizer.special_token_count(), 0u);
  }
  json document = pp_tiny_with(nullptr);
  document.erase("post_processor");
  EXPECT_EQ(pp_encode(pp_load_ok(document), "hello"), PpIds{259});
}

TEST(TokenizerPostProcessor, UnknownTypesAreLoadErrorsNamingTheType) {
  expect_load_error(
      pp_tiny_with(
          {{"type", "BertProcessing"}, {"sep", {"<|endoftext|>", 300}}, {"cls", {"<s>", 301}}}),
      ErrorCode::unsupported, "\"BertProcessing\"");
  expect_load_error(pp_tiny_with({{"type", "Sequence"},
                                  {"processors", {pp_byte_level(), {{"type", "Roberta"}}}}}),
                    ErrorCode::unsupported,
                    "post_processor.processors[1]: post-processor type \"Roberta\"");
}

TEST(TokenizerPostProcessor, HostileTemplatesAreLoadErrors) {
  const auto with = [](const char* key, const json& value) {
    json processor = pp_template();
    processor[key] = value;
    return pp_tiny_with(processor);
  };
  // A special token that is not in the map (single or pair template).
  expect_load_error(with("single", {pp_piece_a(), pp_piece("</s>")}), ErrorCode::corrupt,
                    "post_processor.single[1] names special token \"</s>\"");
  expect_load_error(with("pair", {pp_piece_a(), pp_piece_b(), pp_piece("[SEP]")}),
                    ErrorCode::corrupt, "\"[SEP]\"");
  // PpIds out of range, negative, not integers, or not in the vocabulary.
  for (const json& id : {json(1 << 24), json(-1), json(3.5), json("300")}) {
    json processor = pp_template();
    processor["special_tokens"]["<s>"]["ids"] = json::array({id});
    expect_load_error(pp_tiny_with(processor), ErrorCode::corrupt,
                      "special_tokens[\"<s>\"].ids[0] = ");
  }
  {
    json processor = pp_template();
    processor["special_tokens"]["<s>"] = pp_special("<s>", {302}, {"<s>"});
    expect_load_error(pp_tiny_with(processor), ErrorCode::corrupt,
                      "ids[0]: id 302 is not in the vocabulary");
  }
  // An id that is another token than the template says.
  {
    json processor = pp_template();
    processor["special_tokens"]["<s>"] = pp_special("<s>", {300}, {"<s>"});
    expect_load_error(pp_tiny_with(processor), ErrorCode::corrupt,
                      "but the template's tokens list says \"<s>\"");
  }
  // ids and tokens of different lengths.
  {
    json processor = pp_template();
    processor["special_tokens"]["<s>"] = pp_special("<s>", {301, 300}, {"<s>"});
    expect_load_error(pp_tiny_with(processor), ErrorCode::corrupt, "2 ids but 1 tokens");
  }
  // Huge templates and huge special tokens.
  {
    json pieces = json::array({pp_piece_a()});
    for (int i = 0; i < 100; ++i) pieces.push_back(pp_piece("<s>"));
    expect_load_error(with("single", pieces), ErrorCode::corrupt, "101 pieces (at most 64)");
    json processor = pp_template();
    processor["special_tokens"]["<s>"] =
        pp_special("<s>", PpIds(65, 301), std::vector<std::string>(65, "<s>"));
    expect_load_error(pp_tiny_with(processor), ErrorCode::corrupt, "65 ids (at most 64)");
    processor["special_tokens"]["<s>"] =
        pp_special("<s>", PpIds(60, 301), std::vector<std::string>(60, "<s>"));
    json long_template = json::array({pp_piece_a()});
    for (int i = 0; i < 5; ++i) long_template.push_back(pp_piece("<s>"));
    processor["single"] = long_template;
    expect_load_error(pp_tiny_with(processor), ErrorCode::corrupt, "adds more than 256 tokens");
  }
  // Wrong JSON types.
  expect_load_error(pp_tiny_with("TemplateProcessing"), ErrorCode::corrupt,
                    "post_processor must be an object or null, not string");
  expect_load_error(pp_tiny_with({{"type", 7}}), ErrorCode::corrupt, "string \"type\"");
  expect_load_error(pp_tiny_with({{"type", "Sequence"}, {"processors", {{"type", "ByteLevel"}}}}),
                    ErrorCode::corrupt, "post_processor.processors must be an array");
  expect_load_error(with("single", "$A <|endoftext|>"), ErrorCode::corrupt,
                    "post_processor.single must be an array of template pieces");
  expect_load_error(with("single", {pp_piece_a(), {{"SpecialToken", "<s>"}}}), ErrorCode::corrupt,
                    "post_processor.single[1] must be");
  expect_load_error(with("single", {pp_piece_a(), {{"Token", {{"id", "<s>"}}}}}),
                    ErrorCode::corrupt, "unknown template piece \"Token\"");
  expect_load_error(with("single", json::array({{{"Sequence", {{"id", "A"}, {"type_id", -1}}}}})),
                    ErrorCode::corrupt, "type_id must be a non-negative integer");
  expect_load_error(with("special_tokens", json::array()), ErrorCode::corrupt,
                    "special_tokens must be an object, not array");
  {
    json processor = pp_template();
    processor["special_tokens"]["<s>"]["tokens"] = json::array({7});
    expect_load_error(pp_tiny_with(processor), ErrorCode::corrupt, "tokens[0] must be a string");
    processor = pp_template();
    processor["special_tokens"]["<s>"]["id"] = "</s>";
    expect_load_error(pp_tiny_with(processor), ErrorCode::corrupt,
                      ".id must be the string \"<s>\"");
  }
  // Sequences the loader cannot apply to one text.
  expect_load_error(with("single", json::array({pp_piece_b()})), ErrorCode::corrupt,
                    "names sequence B");
  expect_load_error(with("single", json::array({pp_piece("<s>")})), ErrorCode::unsupported,
                    "has no sequence A");
  expect_load_error(with("single", {pp_piece_a(), pp_piece_a()}), ErrorCode::unsupported,
                    "names sequence A twice");
  expect_load_error(with("single", json::array({{{"Sequence", {{"id", "C"}, {"type_id", 0}}}}})),
                    ErrorCode::corrupt, "sequence id \"C\"");
  expect_load_error(with("pair", json::array({pp_piece_a()})), ErrorCode::corrupt,
                    "must use both sequences");
  // Nesting.
  json nested = pp_template();
  for (int i = 0; i < 10; ++i)
    nested = {{"type", "Sequence"}, {"processors", json::array({nested})}};
  expect_load_error(pp_tiny_with(nested), ErrorCode::corrupt, "nested more than 8 deep");
}

TEST(TokenizerPostProcessor, ReplaceKeepsEveryOtherByte) {
  const std::string text =
      "{\"version\": \"1.0\",\n  \"post_processor\" : {\"type\": \"ByteLevel\", \"x\": [1, {}]} ,\n"
      "  \"model\": {\"post_processor\": 1}}";
  auto replaced = replace_post_processor(text, "null", "t.json");
  ASSERT_TRUE(replaced.ok()) << replaced.status().to_string();
  EXPECT_EQ(*replaced,
            "{\"version\": \"1.0\",\n  \"post_processor\" : null ,\n"
            "  \"model\": {\"post_processor\": 1}}");
  // Last member, and absent.
  EXPECT_EQ(*replace_post_processor("{\"a\":1,\"post_processor\":{} }", "2", "t.json"),
            "{\"a\":1,\"post_processor\":2 }");
  EXPECT_EQ(*replace_post_processor(" {\"a\": 1}", "{}", "t.json"),
            " {\"post_processor\":{},\"a\": 1}");
  EXPECT_EQ(*replace_post_processor("{}", "{}", "t.json"), "{\"post_processor\":{}}");
  EXPECT_FALSE(replace_post_processor("[1]", "{}", "t.json").ok());
  const auto bad = replace_post_processor("{\"a\": }", "{}", "t.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.json: invalid JSON"), std::string::npos);
  // The real form loads and applies.
  auto edited =
      replace_post_processor(pp_tiny_with(nullptr).dump(), kQwen3EmbeddingPostProcessorJson, "t");
  ASSERT_TRUE(edited.ok());
  // The tiny vocabulary has no id 151643: a clear load error, not a wrong id.
  auto loaded = Tokenizer::from_json(*edited, "tiny/tokenizer.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("id 151643 is not in the vocabulary"), std::string::npos)
      << loaded.status().to_string();
}

// In the Qwen3Tokenizer suite, whose cases share one load of the real files.
TEST(Qwen3Tokenizer, EmbeddingPostProcessorAppendsEndOfText) {
  const Tokenizer* tokenizer = testing::qwen3_embedding_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(pp_encode(*tokenizer, "Hello world"), (PpIds{9707, 1879, 151643}));
  EXPECT_EQ(pp_encode(*tokenizer, "Hello world", false), (PpIds{9707, 1879}));
  EXPECT_EQ(tokenizer->special_token_count(), 1u);
  // The plain Qwen3 files (ByteLevel post-processor) add nothing.
  const Tokenizer* plain = testing::qwen3_tokenizer();
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(pp_encode(*plain, "Hello world"), (PpIds{9707, 1879}));
}

}  // namespace
}  // namespace acefit
