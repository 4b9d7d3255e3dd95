// The 5 Hz LM's prompts against tests/data/lm/prompt_expected.json: the chat
// text rendered by jinja2 from the Qwen3 chat template the way transformers'
// apply_chat_template does, for the messages ACE-Step 1.5's LLMHandler
// builds (tests/reference/lm_text_expected.py), and its token ids from
// @lenml/tokenizers (tests/reference/lm_prompt_ids.mjs).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "lm_text_test_support.h"
#include "models/lm/lm_prompt.h"
#include "models/lm/lm_tokens.h"
#include "tokenizer_test_support.h"

namespace acefit::models::lm {
namespace {

struct LmPromptCase {
  std::string name;
  bool codes_phase = false;
  bool conditional = true;
  LmPromptInput input;
  CotFields cot;
  std::string text;
  std::vector<std::int32_t> ids;
};

std::vector<LmPromptCase> load_lm_prompt_cases() {
  const nlohmann::json cots = testing::load_lm_reference("cot_yaml_expected.json");
  std::map<std::string, CotFields> cot_by_name;
  for (const auto& c : cots["cases"]) {
    cot_by_name[c["name"].get<std::string>()] = testing::lm_cot_fields_from_json(c["fields"]);
  }
  std::vector<LmPromptCase> cases;
  const nlohmann::json prompts = testing::load_lm_reference("prompt_expected.json");
  for (const auto& c : prompts["cases"]) {
    LmPromptCase out;
    out.name = c["name"].get<std::string>();
    out.codes_phase = c["phase"].get<std::string>() == "codes";
    out.conditional = c["conditional"].get<bool>();
    out.input.caption = c["caption"].get<std::string>();
    out.input.lyrics = c["lyrics"].get<std::string>();
    out.input.negative_prompt = c["negative_prompt"].get<std::string>();
    out.cot = cot_by_name.at(c["cot"].get<std::string>());
    out.text = c["text"].get<std::string>();
    out.ids = c["ids"].get<std::vector<std::int32_t>>();
    cases.push_back(std::move(out));
  }
  return cases;
}

TEST(LmPromptText, MatchesTheChatTemplate) {
  const std::vector<LmPromptCase> cases = load_lm_prompt_cases();
  ASSERT_GE(cases.size(), 28u);
  for (const LmPromptCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string text = c.codes_phase ? codes_prompt_text(c.input, c.cot, c.conditional)
                                           : cot_prompt_text(c.input, c.conditional);
    EXPECT_EQ(text, c.text);
  }
}

TEST(LmPromptText, PhaseOneForms) {
  LmPromptInput input{"calm piano", "la la\n", "NO USER INPUT"};
  const std::string head =
      "<|im_start|>system\n# Instruction\nGenerate audio semantic tokens based on the given "
      "conditions:\n\n<|im_end|>\n<|im_start|>user\n";
  EXPECT_EQ(
      cot_prompt_text(input, true),
      head + "# Caption\ncalm piano\n\n# Lyric\nla la\n\n<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(cot_prompt_text(input, false),
            head + "# Lyric\nla la\n\n<|im_end|>\n<|im_start|>assistant\n");
  input.negative_prompt = "harsh noise";
  EXPECT_EQ(
      cot_prompt_text(input, false),
      head + "# Caption\nharsh noise\n\n# Lyric\nla la\n\n<|im_end|>\n<|im_start|>assistant\n");
}

TEST(LmPromptText, PhaseTwoUnconditionalHasAnEmptyCot) {
  CotFields cot;
  cot.bpm = 120;
  const LmPromptInput input{"calm piano", "", "NO USER INPUT"};
  const std::string cond = codes_prompt_text(input, cot, true);
  const std::string uncond = codes_prompt_text(input, cot, false);
  EXPECT_TRUE(cond.ends_with("<|im_start|>assistant\n<think>\nbpm: 120\n</think>\n\n<|im_end|>\n"));
  EXPECT_TRUE(uncond.ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n<|im_end|>\n"));
  EXPECT_NE(uncond.find("# Caption\ncalm piano\n"), std::string::npos);
}

TEST(LmPromptText, MeaningfulNegativePrompt) {
  EXPECT_FALSE(has_meaningful_negative_prompt(""));
  EXPECT_FALSE(has_meaningful_negative_prompt(" \t\n"));
  EXPECT_FALSE(has_meaningful_negative_prompt("NO USER INPUT"));
  EXPECT_FALSE(has_meaningful_negative_prompt("  NO USER INPUT \n"));
  EXPECT_TRUE(has_meaningful_negative_prompt("no user input"));
  EXPECT_TRUE(has_meaningful_negative_prompt("noise"));
}

// All cases in one test: one load of the Qwen3 tokenizer. The reference ids
// were made with the 5 Hz LM's audio-code tokens added; no prompt text holds
// one, and the base tokenizer loads in a fraction of the time.
TEST(LmPromptIds, MatchTheNodeTokenizer) {
  const Tokenizer* tokenizer = testing::qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<LmPromptCase> cases = load_lm_prompt_cases();
  ASSERT_GE(cases.size(), 28u);
  for (const LmPromptCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto ids = c.codes_phase ? codes_prompt_ids(*tokenizer, c.input, c.cot, c.conditional)
                             : cot_prompt_ids(*tokenizer, c.input, c.conditional);
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    EXPECT_EQ(*ids, c.ids);
    ASSERT_FALSE(ids->empty());
    EXPECT_EQ(ids->front(), kImStartTokenId);
    if (c.codes_phase) {
      EXPECT_EQ((*ids)[ids->size() - 2], kImEndTokenId);
    }
  }
  // Text that is not UTF-8 is the tokenizer's error, passed through.
  const auto bad = cot_prompt_ids(*tokenizer, LmPromptInput{"a\xff", "", "NO USER INPUT"}, true);
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace acefit::models::lm
