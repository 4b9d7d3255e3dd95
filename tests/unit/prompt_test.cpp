// DiT prompts and instructions against the literal formats of
// acestep-model.md 6, and their tokenization with the real Qwen3 tokenizer.
#include "pipeline/prompt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tokenizer_test_support.h"

namespace acefit {
namespace {

TEST(Prompt, CaptionPromptExactText) {
  PromptMetas metas;
  metas.bpm = 120;
  metas.time_signature = "4";
  metas.keyscale = "G major";
  metas.duration_s = 180.9;
  auto prompt = caption_prompt(kText2MusicInstruction, "upbeat pop, female vocals", metas);
  ASSERT_TRUE(prompt.ok()) << prompt.status().to_string();
  EXPECT_EQ(*prompt,
            "# Instruction\n"
            "Fill the audio semantic mask based on the given conditions:\n"
            "\n"
            "# Caption\n"
            "upbeat pop, female vocals\n"
            "\n"
            "# Metas\n"
            "- bpm: 120\n"
            "- timesignature: 4\n"
            "- keyscale: G major\n"
            "- duration: 180 seconds\n"
            "<|endoftext|>\n");
}

TEST(Prompt, MissingMetasAreNA) {
  auto prompt = caption_prompt("Repaint the mask area based on the given conditions", "jazz", {});
  ASSERT_TRUE(prompt.ok());
  EXPECT_EQ(*prompt,
            "# Instruction\n"
            "Repaint the mask area based on the given conditions:\n"
            "\n"
            "# Caption\n"
            "jazz\n"
            "\n"
            "# Metas\n"
            "- bpm: N/A\n"
            "- timesignature: N/A\n"
            "- keyscale: N/A\n"
            "- duration: 30 seconds\n"
            "<|endoftext|>\n");
}

TEST(Prompt, MetasValidation) {
  PromptMetas metas;
  metas.bpm = 29;
  EXPECT_NE(metas_block(metas).status().message().find("bpm"), std::string::npos);
  metas.bpm = 301;
  EXPECT_FALSE(metas_block(metas).ok());
  metas.bpm = 300;
  EXPECT_TRUE(metas_block(metas).ok());
  metas.time_signature = "5";
  EXPECT_FALSE(metas_block(metas).ok());
  metas.time_signature = "6/5";
  EXPECT_FALSE(metas_block(metas).ok());
  metas.time_signature = "6";
  metas.keyscale = "H major";
  EXPECT_FALSE(metas_block(metas).ok());
  metas.keyscale = "B\u266D minor";
  metas.duration_s = -1;
  EXPECT_FALSE(metas_block(metas).ok());
  metas.duration_s = 59.99;
  auto block = metas_block(metas);
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(*block,
            "- bpm: 300\n- timesignature: 6\n- keyscale: B\u266D minor\n- duration: 59 seconds\n");
}

TEST(Prompt, TimeSignatureIsWrittenAsGiven) {
  // 18.2: the user's text, not the numerator ("3/4" stays "3/4").
  PromptMetas metas;
  for (const auto& [given, written] : std::vector<std::pair<std::string, std::string>>{
           {"3/4", "3/4"}, {"6/8", "6/8"}, {"4", "4"}, {" 2/4 ", "2/4"}, {"4/4", "4/4"}}) {
    metas.time_signature = given;
    auto block = metas_block(metas);
    ASSERT_TRUE(block.ok()) << given;
    EXPECT_NE(block->find("\n- timesignature: " + written + "\n"), std::string::npos) << *block;
  }
  metas.time_signature = "7/8";
  const auto bad = metas_block(metas);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"7/8\""), std::string::npos);
}

TEST(Prompt, LyricPromptExactText) {
  auto prompt = lyric_prompt("en", "[Verse]\nHello there");
  ASSERT_TRUE(prompt.ok());
  EXPECT_EQ(*prompt, "# Languages\nen\n\n# Lyric\n[Verse]\nHello there<|endoftext|>");
  // 18.2: empty lyrics stay empty; "[Instrumental]" only when asked for.
  auto empty = lyric_prompt(kDefaultLanguage, "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "# Languages\nunknown\n\n# Lyric\n<|endoftext|>");
  auto instrumental = lyric_prompt(kDefaultLanguage, kInstrumentalLyrics);
  ASSERT_TRUE(instrumental.ok());
  EXPECT_EQ(*instrumental, "# Languages\nunknown\n\n# Lyric\n[Instrumental]<|endoftext|>");
  auto bad = lyric_prompt("english", "la");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown language \"english\""), std::string::npos);
}

TEST(Prompt, TaskInstructions) {
  EXPECT_EQ(*task_instruction(Task::text2music),
            "Fill the audio semantic mask based on the given conditions:");
  EXPECT_EQ(*task_instruction(Task::repaint),
            "Repaint the mask area based on the given conditions:");
  EXPECT_EQ(*task_instruction(Task::cover),
            "Generate audio semantic tokens based on the given conditions:");
  const std::vector<std::string> vocals = {"vocals"};
  const std::vector<std::string> two = {"drums", "backing_vocals"};
  EXPECT_EQ(*task_instruction(Task::extract, vocals), "Extract the VOCALS track from the audio:");
  EXPECT_EQ(*task_instruction(Task::extract), "Extract the track from the audio:");
  EXPECT_EQ(*task_instruction(Task::lego, vocals),
            "Generate the VOCALS track based on the audio context:");
  EXPECT_EQ(*task_instruction(Task::lego), "Generate the track based on the audio context:");
  EXPECT_EQ(*task_instruction(Task::complete, two),
            "Complete the input track with DRUMS | BACKING_VOCALS:");
  EXPECT_EQ(*task_instruction(Task::complete), "Complete the input track:");

  const std::vector<std::string> unknown = {"kazoo"};
  auto bad = task_instruction(Task::extract, unknown);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown track \"kazoo\""), std::string::npos);
  EXPECT_FALSE(task_instruction(Task::extract, two).ok());
  EXPECT_FALSE(task_instruction(Task::cover, vocals).ok());

  EXPECT_EQ(kTrackNames.size(), 12u);
  EXPECT_FALSE(is_track_name(""));
  for (const char* name : {"text2music", "repaint", "cover", "extract", "lego", "complete"}) {
    auto task = parse_task(name);
    ASSERT_TRUE(task.ok()) << name;
    EXPECT_EQ(task_name(*task), name);
  }
  EXPECT_FALSE(parse_task("remix").ok());

  EXPECT_TRUE(is_cover_instruction(kCoverInstruction));
  EXPECT_TRUE(is_cover_instruction("GENERATE audio semantic tokens BASED ON the given conditions"));
  EXPECT_FALSE(is_cover_instruction(kText2MusicInstruction));
  EXPECT_TRUE(is_cover_instruction(kText2MusicInstruction, true));
}

TEST(Prompt, TimeSignatures) {
  EXPECT_EQ(*parse_time_signature("4"), 4);
  EXPECT_EQ(*parse_time_signature("4/4"), 4);
  EXPECT_EQ(*parse_time_signature("3/4"), 3);
  EXPECT_EQ(*parse_time_signature("6/8"), 6);
  EXPECT_EQ(*parse_time_signature("2/4"), 2);
  EXPECT_EQ(*parse_time_signature(" 3 "), 3);
  for (const char* bad : {"", "5", "5/4", "4/5", "4/", "/4", "x", "12/8", "-4"}) {
    auto parsed = parse_time_signature(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), ErrorCode::invalid_argument);
  }
}

TEST(Prompt, KeyscalesAndLanguages) {
  int valid = 0;
  for (char note = 'A'; note <= 'G'; ++note) {
    for (const char* accidental : {"", "#", "b", "\u266F", "\u266D"}) {
      for (const char* mode : {"major", "minor"}) {
        const std::string keyscale = std::string(1, note) + accidental + " " + mode;
        EXPECT_TRUE(validate_keyscale(keyscale).ok()) << keyscale;
        ++valid;
      }
    }
  }
  EXPECT_EQ(valid, 70);
  for (const char* bad : {"", "C", "C major ", "c major", "C  major", "C## major", "C Major",
                          "Cmajor", "H minor", "C# dorian"}) {
    EXPECT_FALSE(validate_keyscale(bad).ok()) << bad;
  }
  EXPECT_EQ(language_codes().size(), 51u);
  for (const char* code : {"en", "zh", "yue", "ja", "unknown"}) {
    EXPECT_TRUE(validate_language(code).ok()) << code;
  }
  EXPECT_FALSE(validate_language("EN").ok());
  EXPECT_FALSE(validate_language("").ok());
}

TEST(Prompt, TokenizedPromptsEndWithEndOfText) {
  const Tokenizer* tokenizer = testing::qwen3_tokenizer();
  if (!tokenizer) GTEST_SKIP() << testing::qwen3_install_hint();
  auto caption = caption_prompt(kText2MusicInstruction, "dreamy synthwave", {});
  ASSERT_TRUE(caption.ok());
  auto caption_tokens = tokenize_prompt(*tokenizer, *caption, kCaptionMaxTokens);
  ASSERT_TRUE(caption_tokens.ok()) << caption_tokens.status().to_string();
  EXPECT_FALSE(caption_tokens->truncated);
  const auto& ids = caption_tokens->ids;
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 151643), 1);
  EXPECT_EQ(ids[ids.size() - 2], 151643);
  EXPECT_EQ(ids.back(), *tokenizer->token_id("\n"));
  EXPECT_EQ(*tokenizer->decode(ids), *caption);

  auto lyric = lyric_prompt("en", "");
  ASSERT_TRUE(lyric.ok());
  auto lyric_tokens = tokenize_prompt(*tokenizer, *lyric, kLyricMaxTokens);
  ASSERT_TRUE(lyric_tokens.ok());
  EXPECT_EQ(lyric_tokens->ids.back(), 151643);
  EXPECT_EQ(lyric_tokens->full_length, lyric_tokens->ids.size());
}

TEST(Prompt, TokenizationTruncates) {
  const Tokenizer* tokenizer = testing::qwen3_tokenizer();
  if (!tokenizer) GTEST_SKIP() << testing::qwen3_install_hint();
  std::string long_caption;
  for (int i = 0; i < 400; ++i) long_caption += "guitar ";
  auto caption = caption_prompt(kText2MusicInstruction, long_caption, {});
  ASSERT_TRUE(caption.ok());
  auto tokens = tokenize_prompt(*tokenizer, *caption, kCaptionMaxTokens);
  ASSERT_TRUE(tokens.ok());
  EXPECT_TRUE(tokens->truncated);
  EXPECT_EQ(tokens->ids.size(), kCaptionMaxTokens);
  EXPECT_GT(tokens->full_length, kCaptionMaxTokens);
  auto full = tokenizer->encode(*caption);
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(std::equal(tokens->ids.begin(), tokens->ids.end(), full->begin()));
  EXPECT_FALSE(tokenize_prompt(*tokenizer, "x", 0).ok());
}

// 18.1: with Qwen3-Embedding's post-processor both prompts end with one
// more 151643 after the ids of the prompt text.
TEST(Prompt, EmbeddingTokenizerAppendsEndOfText) {
  const Tokenizer* tokenizer = testing::qwen3_embedding_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  auto caption = caption_prompt(kText2MusicInstruction, "dreamy synthwave", {});
  ASSERT_TRUE(caption.ok());
  auto caption_tokens = tokenize_prompt(*tokenizer, *caption, kCaptionMaxTokens);
  ASSERT_TRUE(caption_tokens.ok()) << caption_tokens.status().to_string();
  const auto& ids = caption_tokens->ids;
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[ids.size() - 3], 151643);
  EXPECT_EQ(ids[ids.size() - 2], 198);
  EXPECT_EQ(ids.back(), 151643);
  EXPECT_EQ(ids, tokenizer->encode(*caption).value());
  EXPECT_EQ(caption_tokens->full_length, ids.size());
  EXPECT_FALSE(caption_tokens->truncated);

  auto lyric = lyric_prompt("en", "");
  ASSERT_TRUE(lyric.ok());
  auto lyric_tokens = tokenize_prompt(*tokenizer, *lyric, kLyricMaxTokens);
  ASSERT_TRUE(lyric_tokens.ok());
  const auto& lyric_ids = lyric_tokens->ids;
  ASSERT_GE(lyric_ids.size(), 2u);
  EXPECT_EQ(lyric_ids[lyric_ids.size() - 2], 151643);
  EXPECT_EQ(lyric_ids.back(), 151643);
  EXPECT_EQ(std::count(lyric_ids.begin(), lyric_ids.end(), 151643), 2);
}

// Hugging Face's truncation: the text is cut to max_length - 1, then the
// template's 151643 is added; full_length counts it.
TEST(Prompt, TruncationCountsTheAddedToken) {
  const Tokenizer* tokenizer = testing::qwen3_embedding_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  std::string long_caption;
  for (int i = 0; i < 400; ++i) long_caption += "guitar ";
  auto caption = caption_prompt(kText2MusicInstruction, long_caption, {});
  ASSERT_TRUE(caption.ok());
  auto tokens = tokenize_prompt(*tokenizer, *caption, kCaptionMaxTokens);
  ASSERT_TRUE(tokens.ok());
  const auto text_ids = tokenizer->encode(*caption, false).value();
  EXPECT_TRUE(tokens->truncated);
  EXPECT_EQ(tokens->full_length, text_ids.size() + 1);
  ASSERT_EQ(tokens->ids.size(), kCaptionMaxTokens);
  EXPECT_EQ(tokens->ids.back(), 151643);
  EXPECT_TRUE(std::equal(tokens->ids.begin(), tokens->ids.end() - 1, text_ids.begin()));

  // A text that fits exactly with the added token is not truncated.
  auto fits = tokenize_prompt(*tokenizer, "Hello world", 3);
  ASSERT_TRUE(fits.ok());
  EXPECT_FALSE(fits->truncated);
  EXPECT_EQ(fits->ids, (std::vector<std::int32_t>{9707, 1879, 151643}));
  auto cut = tokenize_prompt(*tokenizer, "Hello world", 2);
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->full_length, 3u);
  EXPECT_EQ(cut->ids, (std::vector<std::int32_t>{9707, 151643}));
  // No room for any text beside the added token.
  const auto no_room = tokenize_prompt(*tokenizer, "Hello", 1);
  ASSERT_FALSE(no_room.ok());
  EXPECT_NE(no_room.status().message().find("no room"), std::string::npos);
}

}  // namespace
}  // namespace acefit
