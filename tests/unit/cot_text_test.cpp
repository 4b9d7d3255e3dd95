// The 5 Hz LM's CoT text: the phase-2 YAML against PyYAML's own output and
// the parsing of generated CoT field by field.
#include <gtest/gtest.h>

#include <string>

#include "lm_text_test_support.h"
#include "models/lm/cot_text.h"

namespace acefit::models::lm {
namespace {

// Every case of tests/data/lm/cot_yaml_expected.json: the expected text is
// what PyYAML 6.0 (Debian python3-yaml, pure-Python Dumper) writes with
// upstream's yaml.dump(items, allow_unicode=True, sort_keys=True).strip()
// (tests/reference/lm_text_expected.py).
TEST(CotYaml, MatchesPyYamlDump) {
  const nlohmann::json reference = testing::load_lm_reference("cot_yaml_expected.json");
  ASSERT_GE(reference["cases"].size(), 30u);
  for (const auto& c : reference["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_EQ(cot_yaml(testing::lm_cot_fields_from_json(c["fields"])),
              c["yaml"].get<std::string>());
  }
}

// Three of those cases written out (PyYAML's output, copied).
TEST(CotYaml, WrapsQuotesAndColons) {
  CotFields wrap;
  wrap.caption =
      "An emotional ballad that opens with a solo piano and a soft female voice, then grows into a "
      "full band with strings, drums and a soaring chorus before fading back to the piano for a "
      "quiet, reflective ending.";
  EXPECT_EQ(cot_yaml(wrap),
            "caption: An emotional ballad that opens with a solo piano and a soft female voice,\n"
            "  then grows into a full band with strings, drums and a soaring chorus before fading\n"
            "  back to the piano for a quiet, reflective ending.");
  CotFields colon;
  colon.caption = "Genre: synthwave, mood: nostalgic";
  colon.bpm = 100;
  EXPECT_EQ(cot_yaml(colon), "bpm: 100\ncaption: 'Genre: synthwave, mood: nostalgic'");
  CotFields quote;
  quote.caption = "'Quoted' start, it's fine";
  quote.language = "no";
  EXPECT_EQ(cot_yaml(quote), "caption: '''Quoted'' start, it''s fine'\nlanguage: 'no'");
}

TEST(CotYaml, FieldOrderAndThinkBlock) {
  CotFields fields;
  fields.time_signature = "4/4";
  fields.language = "en";
  fields.keyscale = "G major";
  fields.duration_s = 180;
  fields.caption = "calm piano";
  fields.bpm = 120;
  fields.genres = "ambient";  // never written, as upstream
  EXPECT_EQ(cot_think_block(fields),
            "<think>\nbpm: 120\ncaption: calm piano\nduration: 180\nkeyscale: G major\n"
            "language: en\ntimesignature: 4\n</think>");
  EXPECT_EQ(cot_yaml(CotFields{}), "");
  EXPECT_EQ(cot_think_block(CotFields{}), "<think>\n\n</think>");
}

TEST(CotYaml, InvalidUtf8IsReadAsReplacementCharacters) {
  CotFields fields;
  fields.caption = std::string("ab\xff") + "cd";
  EXPECT_EQ(cot_yaml(fields),
            "caption: ab\xEF\xBF\xBD"
            "cd");
}

TEST(ParseCot, ReadsEveryField) {
  const CotFields fields = parse_cot(
      "<think>\nbpm: 73\ncaption: A calm piano melody\nduration: 273\ngenres: Chinese folk\n"
      "keyscale: F# minor\nlanguage: zh\ntimesignature: 3\n</think>\n\n<|audio_code_5|>");
  EXPECT_EQ(fields.bpm, 73);
  EXPECT_EQ(fields.caption, "A calm piano melody");
  EXPECT_EQ(fields.duration_s, 273);
  EXPECT_EQ(fields.genres, "Chinese folk");
  EXPECT_EQ(fields.keyscale, "F# minor");
  EXPECT_EQ(fields.language, "zh");
  EXPECT_EQ(fields.time_signature, "3");
}

TEST(ParseCot, MissingCloseTagEndsAtTheFirstAudioCode) {
  const CotFields fields =
      parse_cot("<think>\nbpm: 90\nkeyscale: C major<|audio_code_12|>language: en\n");
  EXPECT_EQ(fields.bpm, 90);
  EXPECT_EQ(fields.keyscale, "C major");
  EXPECT_FALSE(fields.language.has_value());
  // EOS forced in place of </think>, decoded with the text.
  const CotFields eos = parse_cot("<think>\nbpm: 90\ntimesignature: 4<|im_end|>");
  EXPECT_EQ(eos.bpm, 90);
  EXPECT_EQ(eos.time_signature, "4");
  // Neither tag: the fields at the start of the text.
  EXPECT_EQ(parse_cot("duration: 60\n").duration_s, 60);
}

TEST(ParseCot, EmptyThinkBlockFallsBackToTheWholeText) {
  // upstream: an empty match counts as no match.
  const CotFields fields = parse_cot("<think>\n\n</think>\nbpm: 100\n");
  EXPECT_EQ(fields.bpm, 100);
}

TEST(ParseCot, ContinuationLinesAreRejoined) {
  const CotFields fields = parse_cot(
      "<think>\nbpm: 72\ncaption: An emotional ballad that opens with a solo piano,\n"
      "  then grows into a full band\n\t with strings.\nduration: 240\n</think>");
  EXPECT_EQ(fields.caption,
            "An emotional ballad that opens with a solo piano, then grows into a full band with "
            "strings.");
  EXPECT_EQ(fields.duration_s, 240);
  // A value that starts on the next line.
  EXPECT_EQ(parse_cot("<think>\ncaption:\n  late start\n</think>").caption, "late start");
  // A keyscale split over lines keeps its newline (as upstream).
  EXPECT_EQ(parse_cot("<think>\nkeyscale: G\n  major\n</think>").keyscale, "G\n  major");
}

TEST(ParseCot, JunkLinesAreSkipped) {
  const CotFields fields = parse_cot(
      "<think>\n  indented before any key\nno colon here\n<tag>: 5\n  <also: skipped\n"
      "BPM: 128\nunknown: x\n  continues unknown\nCaption : Loud\n  <i>tag line</i>\n  and more\n"
      ": empty key\n"
      "   \n</think>");
  EXPECT_EQ(fields.bpm, 128);
  EXPECT_EQ(fields.caption, "Loud and more");
  EXPECT_FALSE(fields.duration_s.has_value());
  EXPECT_FALSE(fields.keyscale.has_value());
}

TEST(ParseCot, BadNumbersAreDropped) {
  for (const char* bad : {"120bpm", "abc", "1.5", "99999999999", "--3", "+-3", "1 2", "", "  "}) {
    SCOPED_TRACE(bad);
    const CotFields fields = parse_cot(std::string("<think>\nbpm: ") + bad + "\nduration: " + bad +
                                       "\nkeyscale: A minor\n</think>");
    EXPECT_FALSE(fields.bpm.has_value());
    EXPECT_FALSE(fields.duration_s.has_value());
    EXPECT_EQ(fields.keyscale, "A minor");
  }
  const CotFields fields = parse_cot("<think>\nbpm:  +96 \r\nduration: -5\n</think>");
  EXPECT_EQ(fields.bpm, 96);
  EXPECT_EQ(fields.duration_s, -5);  // range checks are the caller's
}

TEST(ParseCot, LaterRepeatWinsAndEmptyValuesStayUnset) {
  const CotFields fields =
      parse_cot("<think>\nbpm: 90\nbpm: 91\nlanguage:   \ncaption:\n   \n</think>");
  EXPECT_EQ(fields.bpm, 91);
  EXPECT_FALSE(fields.language.has_value());
  EXPECT_FALSE(fields.caption.has_value());
}

// What cot_yaml writes, parse_cot reads back (plain captions without tags;
// quotes are kept as written, as upstream does).
TEST(ParseCot, ReadsBackCotYaml) {
  const nlohmann::json reference = testing::load_lm_reference("cot_yaml_expected.json");
  int checked = 0;
  for (const auto& c : reference["cases"]) {
    const CotFields fields = testing::lm_cot_fields_from_json(c["fields"]);
    const std::string yaml = cot_yaml(fields);
    if (yaml.find_first_of("'\"<") != std::string::npos) continue;
    if (fields.caption && fields.caption->find_first_not_of("0123456789") == std::string::npos) {
      continue;  // written as an integer
    }
    SCOPED_TRACE(c["name"].get<std::string>());
    const CotFields parsed = parse_cot("<think>\n" + yaml + "\n</think>");
    EXPECT_EQ(parsed.bpm, fields.bpm);
    EXPECT_EQ(parsed.caption, fields.caption);
    EXPECT_EQ(parsed.duration_s, fields.duration_s);
    EXPECT_EQ(parsed.keyscale, fields.keyscale);
    EXPECT_EQ(parsed.language, fields.language);
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace acefit::models::lm
