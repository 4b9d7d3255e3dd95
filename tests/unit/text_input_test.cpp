// User text and output names (reliability spec TX-01..TX-04, TX-06, TX-09,
// OUT-13): what is refused, with which rule and offset, and that what is
// accepted reaches the tokenizer unchanged.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "io/file/atomic_file.h"
#include "io/json/strict_json.h"
#include "io/text/text_input.h"
#include "tokenizer_test_support.h"

namespace acefit {
namespace {

std::string error_of(std::string_view text, std::size_t max_bytes = 1000) {
  const Status status = check_text_field("lyrics", text, max_bytes);
  return status.ok() ? "ok" : status.message();
}

bool has(const std::string& message, const std::string& fragment) {
  return message.find(fragment) != std::string::npos;
}

TEST(TextInput, TX01_InvalidUtf8NamesFieldAndOffset) {
  const std::string cases[] = {
      std::string("ab\x80"),              // stray continuation byte
      std::string("ab\xC0\xAF"),          // overlong
      std::string("ab\xED\xA0\x80"),      // encoded surrogate
      std::string("ab\xF4\x90\x80\x80"),  // above U+10FFFF
      std::string("ab\xE6\x88"),          // cut short at the end
  };
  for (const std::string& text : cases) {
    const std::string message = error_of(text);
    EXPECT_TRUE(has(message, "lyrics: invalid_utf8: at byte offset 2")) << message;
  }
}

TEST(TextInput, TX02_LoneSurrogateEscapeInJsonIsRejected) {
  // A request body is parsed by the strict JSON reader before any field is
  // looked at; "\ud800" without its pair is a syntax error at its offset.
  auto document = parse_json(R"({"lyrics":"la \ud800 la"})", {}, "request");
  ASSERT_FALSE(document.ok());
  EXPECT_TRUE(has(document.status().message(), "lone high surrogate \\u escape at byte 14"))
      << document.status().message();
}

TEST(TextInput, TX03_ControlCharactersAreRejectedNotStripped) {
  const std::string cases[] = {
      std::string("la\0la", 5),  // NUL: never truncated at
      "la\x01la",
      "la\x1b[31mred",  // ANSI escape sequence
      "la\x7fla",       // DEL
      "la\xC2\x85la",   // C1 (NEL)
  };
  for (const std::string& text : cases) {
    const std::string message = error_of(text);
    EXPECT_TRUE(has(message, "control_character")) << message;
    EXPECT_TRUE(has(message, "at byte offset 2")) << message;
  }
  EXPECT_EQ(error_of("tab\there\r\nand LF\n"), "ok");
}

TEST(TextInput, TX04_TooLongIsCheckedFirst) {
  const std::string text(5 * 1024 * 1024, 'a');
  const std::string message = error_of(text + "\xff", kMaxLyricsBytes);
  EXPECT_TRUE(has(message, "too_long: 5242881 bytes, the maximum is 262144 bytes")) << message;
  EXPECT_EQ(error_of(std::string(kMaxLyricsBytes, 'a'), kMaxLyricsBytes), "ok");
}

TEST(TextInput, TX05_CheckIsLinear) {
  // 1 MB of combining marks on one letter: a single pass, well under a second.
  std::string text = "a";
  while (text.size() < 1'000'000) text += "\xCC\x81";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of(text, 2'000'000), "ok");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(TextInput, TX06_EmptyTextIsValidAndHasNoTokens) {
  EXPECT_EQ(error_of(""), "ok");
  const Tokenizer* tokenizer = testing::qwen3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  auto ids = tokenizer->encode("");
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->empty());
}

TEST(TextInput, TX09_BomCrlfAndTagsPassUnchanged) {
  // Accepted as written; the tokenizer gives them their reference ids (the
  // corpus in tokenizer_test.cpp pins those, BOM and CRLF cases included).
  EXPECT_EQ(error_of("\xEF\xBB\xBF[Verse]\r\nla la\r\n[Chorus]"), "ok");
  std::string tags;
  for (int i = 0; i < 10000; ++i) tags += "[Verse]";
  EXPECT_EQ(error_of(tags, 100000), "ok");
}

TEST(TextInput, OUT13_OutputNames) {
  EXPECT_TRUE(check_output_name("song.flac").ok());
  EXPECT_TRUE(check_output_name("ünïcode ♪.wav").ok());
  const std::string bad[] = {
      "",
      std::string("a\0b.wav", 7),
      "two\nlines.wav",
      "dir/song.wav",
      "..",
      std::string(256, 'a'),
      std::string(kAtomicTempPrefix) + "x.wav",
      "bad\xff.wav",
  };
  for (const std::string& name : bad) {
    EXPECT_EQ(check_output_name(name).code(), ErrorCode::invalid_argument) << printable(name);
  }
  EXPECT_TRUE(check_output_name(std::string(255, 'a')).ok());
}

}  // namespace
}  // namespace acefit
