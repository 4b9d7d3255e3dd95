// UTF-8 validation and conversion, checked against utf8proc's own decoder
// and encoder over every Unicode scalar value, plus the malformed forms of
// TX-01 with their byte offsets.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include "io/text/utf8.h"

namespace acefit {
namespace {

TEST(Utf8, EveryScalarValueRoundTripsLikeUtf8proc) {
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string mine;
    ASSERT_TRUE(append_utf8(mine, c));
    utf8proc_uint8_t theirs[4];
    const auto length = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), theirs);
    ASSERT_EQ(mine, std::string(reinterpret_cast<char*>(theirs), length))
        << std::hex << static_cast<std::uint32_t>(c);
    const Utf8Char decoded = decode_utf8_at(mine, 0);
    ASSERT_EQ(decoded.code_point, c);
    ASSERT_EQ(decoded.length, mine.size());
  }
}

TEST(Utf8, EveryTwoAndThreeByteSequenceAgreesWithUtf8proc) {
  // All 2-byte and 3-byte patterns with lead >= 0x80: valid exactly when utf8proc says so.
  for (unsigned a = 0x80; a < 0x100; ++a) {
    for (unsigned b = 0; b < 0x100; ++b) {
      for (unsigned c = 0; c < 0x100; c += (a >= 0xE0 && a < 0xF0) ? 1 : 0x100) {
        std::string text{static_cast<char>(a), static_cast<char>(b)};
        if (a >= 0xE0 && a < 0xF0) text += static_cast<char>(c);
        utf8proc_int32_t code_point = 0;
        const auto theirs =
            utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                             static_cast<utf8proc_ssize_t>(text.size()), &code_point);
        const Utf8Char mine = decode_utf8_at(text, 0);
        const bool theirs_ok = theirs > 0;
        ASSERT_EQ(mine.length > 0, theirs_ok) << std::hex << a << " " << b << " " << c;
        if (theirs_ok) {
          ASSERT_EQ(static_cast<utf8proc_int32_t>(mine.code_point), code_point);
          ASSERT_EQ(static_cast<utf8proc_ssize_t>(mine.length), theirs);
        }
      }
    }
  }
}

TEST(Utf8, MalformedFormsNameTheirOffset) {
  struct Case {
    std::string text;
    std::size_t offset;
    Utf8Problem problem;
  };
  const std::vector<Case> cases = {
      {"abc\x80", 3, Utf8Problem::stray_continuation},
      {"\xC0\xAF", 0, Utf8Problem::overlong},
      {"x\xE0\x80\xAF", 1, Utf8Problem::overlong},
      {"xy\xF0\x80\x80\xAF", 2, Utf8Problem::overlong},
      {"\xED\xA0\x80", 0, Utf8Problem::surrogate},
      {"\xED\xBF\xBF", 0, Utf8Problem::surrogate},
      {"\xF4\x90\x80\x80", 0, Utf8Problem::above_max},
      {"\xF5\x80\x80\x80", 0, Utf8Problem::above_max},
      {"\xFF", 0, Utf8Problem::invalid_lead},
      {"abcdefgh\xE2\x82", 8, Utf8Problem::truncated},
      {"\xE2\x28\xA1", 0, Utf8Problem::bad_continuation},
      {std::string("ok\0ok\xC3", 6), 5, Utf8Problem::truncated},
  };
  for (const Case& c : cases) {
    const Utf8Check check = check_utf8(c.text);
    EXPECT_EQ(check.offset, c.offset) << utf8_problem_name(c.problem);
    EXPECT_EQ(check.problem, c.problem) << "offset " << c.offset;
    const Status status = validate_utf8(c.text, "lyrics");
    ASSERT_FALSE(status.ok());
    EXPECT_NE(
        status.message().find("lyrics: invalid UTF-8 at byte offset " + std::to_string(c.offset)),
        std::string::npos)
        << status.message();
  }
  EXPECT_TRUE(check_utf8("").ok());
  EXPECT_TRUE(check_utf8(std::string("nul \0 inside", 12)).ok());
  EXPECT_TRUE(check_utf8("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9").ok());
}

TEST(Utf8, DecodeAndEncodeHelpers) {
  EXPECT_EQ(decode_utf8("a\xC3\xA9\xE4\xB8\x96\xF0\x9F\x8E\xB5", "t").value(),
            (std::u32string{U'a', 0xE9, 0x4E16, 0x1F3B5}));
  EXPECT_FALSE(decode_utf8("\xC3", "t").ok());
  EXPECT_EQ(encode_utf8(U"a\u00e9").value(), "a\xC3\xA9");
  EXPECT_FALSE(encode_utf8(std::u32string{0xD800}).ok());
  EXPECT_FALSE(encode_utf8(std::u32string{0x110000}).ok());
  EXPECT_TRUE(is_unicode_white_space(0x85));
  EXPECT_TRUE(is_unicode_white_space(0x3000));
  EXPECT_FALSE(is_unicode_white_space(0xFEFF));
  EXPECT_FALSE(is_unicode_white_space(0x200B));
}

}  // namespace
}  // namespace acefit
