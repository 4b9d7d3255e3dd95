// The strict JSON reader and DOM: RFC 8259 strictness, UTF-8 checks with
// offsets, duplicate keys after unescaping, depth limits without recursion.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "io/json/strict_json.h"

namespace acefit {
namespace {

struct Parsed {
  bool ok = false;
  JsonValue value;
  JsonError error;
};

Parsed parse(std::string_view text, JsonReaderOptions options = {}) {
  Parsed out;
  out.ok = parse_json(text, options, out.value, out.error);
  return out;
}

void expect_error(std::string_view text, JsonErrorKind kind, std::size_t offset,
                  JsonReaderOptions options = {}) {
  const Parsed p = parse(text, options);
  ASSERT_FALSE(p.ok) << "accepted: " << printable(text);
  EXPECT_EQ(json_error_kind_name(p.error.kind), json_error_kind_name(kind))
      << printable(text) << ": " << p.error.message;
  EXPECT_EQ(p.error.offset, offset) << printable(text) << ": " << p.error.message;
  EXPECT_NE(p.error.message.find(std::to_string(offset)), std::string::npos) << p.error.message;
}

TEST(StrictJson, ParsesADocumentInOrder) {
  const Parsed p = parse(R"( {"b": [1, -2, 3.5, true, null, "x"], "a": {"k": "v"}, "n": 0} )");
  ASSERT_TRUE(p.ok) << p.error.message;
  ASSERT_EQ(p.value.kind, JsonKind::object);
  ASSERT_EQ(p.value.members.size(), 3u);
  EXPECT_EQ(p.value.members[0].key, "b");
  EXPECT_EQ(p.value.members[1].key, "a");
  const JsonValue* b = p.value.find("b");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->items.size(), 6u);
  EXPECT_EQ(b->items[0].kind, JsonKind::integer);
  EXPECT_EQ(b->items[0].integer, 1u);
  EXPECT_EQ(b->items[1].kind, JsonKind::number);
  EXPECT_EQ(b->items[1].number, -2.0);
  EXPECT_EQ(b->items[2].number, 3.5);
  EXPECT_EQ(b->items[3].kind, JsonKind::boolean);
  EXPECT_TRUE(b->items[3].boolean);
  EXPECT_EQ(b->items[4].kind, JsonKind::null);
  EXPECT_EQ(b->items[5].text, "x");
  EXPECT_EQ(p.value.find("a")->find("k")->text, "v");
  EXPECT_EQ(p.value.find("n")->integer, 0u);
  EXPECT_EQ(p.value.find("zzz"), nullptr);
}

TEST(StrictJson, IntegersKeepFullU64Precision) {
  const Parsed max = parse("[18446744073709551615, 9007199254740993]");
  ASSERT_TRUE(max.ok);
  EXPECT_EQ(max.value.items[0].kind, JsonKind::integer);
  EXPECT_EQ(max.value.items[0].integer, 18446744073709551615ull);
  EXPECT_EQ(max.value.items[1].integer, 9007199254740993ull);  // not representable as double
  const Parsed over = parse("[18446744073709551616, 1e400, -0, 2.0, 1E+2]");
  ASSERT_TRUE(over.ok);
  for (const auto& item : over.value.items) EXPECT_EQ(item.kind, JsonKind::number) << item.text;
  EXPECT_TRUE(std::isinf(over.value.items[1].number));
  EXPECT_EQ(over.value.items[4].number, 100.0);
  EXPECT_EQ(over.value.items[0].text, "18446744073709551616");
}

TEST(StrictJson, RejectsWhatRfc8259Forbids) {
  expect_error("[01]", JsonErrorKind::syntax, 1);
  expect_error("[-01]", JsonErrorKind::syntax, 1);
  expect_error("[NaN]", JsonErrorKind::syntax, 1);
  expect_error("[Infinity]", JsonErrorKind::syntax, 1);
  expect_error("[-Infinity]", JsonErrorKind::syntax, 2);
  expect_error("[1.]", JsonErrorKind::syntax, 3);
  expect_error("[.5]", JsonErrorKind::syntax, 1);
  expect_error("[1e]", JsonErrorKind::syntax, 3);
  expect_error("[+1]", JsonErrorKind::syntax, 1);
  expect_error("[1,]", JsonErrorKind::syntax, 3);
  expect_error(R"({"a":1,})", JsonErrorKind::syntax, 7);
  expect_error("{'a':1}", JsonErrorKind::syntax, 1);
  expect_error("[1]// c", JsonErrorKind::trailing, 3);
  expect_error("/* c */[1]", JsonErrorKind::syntax, 0);
  expect_error("[tru]", JsonErrorKind::syntax, 4);
  expect_error("[\"a\tb\"]", JsonErrorKind::syntax, 3);  // raw control character
  expect_error(R"(["\x"])", JsonErrorKind::syntax, 2);
  expect_error(R"(["\u12G4"])", JsonErrorKind::syntax, 2);
  expect_error(R"(["\ud800"])", JsonErrorKind::syntax, 2);        // lone high surrogate
  expect_error(R"(["\udc00"])", JsonErrorKind::syntax, 2);        // lone low surrogate
  expect_error(R"(["\ud800\u0041"])", JsonErrorKind::syntax, 2);  // high + non-low
  expect_error(R"({"a" 1})", JsonErrorKind::syntax, 5);
  expect_error(R"({1:2})", JsonErrorKind::syntax, 1);
  expect_error("[1 2]", JsonErrorKind::syntax, 3);
  expect_error("", JsonErrorKind::syntax, 0);
  expect_error("[", JsonErrorKind::syntax, 1);
  expect_error("\"abc", JsonErrorKind::syntax, 0);
  expect_error("[1] [2]", JsonErrorKind::trailing, 4);
}

TEST(StrictJson, DecodesEscapes) {
  const Parsed p = parse(R"(["\u0041\n\"\\\/\b\f\r\t", "\ud83c\udfb5", "\u00e9"])");
  ASSERT_TRUE(p.ok) << p.error.message;
  EXPECT_EQ(p.value.items[0].text, "A\n\"\\/\b\f\r\t");
  EXPECT_EQ(p.value.items[1].text, "\xF0\x9F\x8E\xB5");  // U+1F3B5
  EXPECT_EQ(p.value.items[2].text, "\xC3\xA9");
}

TEST(StrictJson, RejectsMalformedUtf8WithOffset) {
  expect_error("[\"a\xFF\"]", JsonErrorKind::not_utf8, 3);
  expect_error("[\"ab\xC0\xAF\"]", JsonErrorKind::not_utf8, 4);        // overlong '/'
  expect_error("[\"\xED\xA0\x80\"]", JsonErrorKind::not_utf8, 2);      // encoded surrogate
  expect_error("[\"\xF4\x90\x80\x80\"]", JsonErrorKind::not_utf8, 2);  // above U+10FFFF
  expect_error("[\"\xE0\x80\xAF\"]", JsonErrorKind::not_utf8, 2);      // overlong 3-byte
  expect_error("[\"\xF0\x80\x80\xAF\"]", JsonErrorKind::not_utf8, 2);  // overlong 4-byte
  expect_error("[\"\xE2\x82\"]", JsonErrorKind::not_utf8, 2);          // cut short
  expect_error("[\x80]", JsonErrorKind::not_utf8, 1);                  // outside a string
  expect_error("[1]\xFF", JsonErrorKind::not_utf8, 3);                 // in trailing bytes
  const Parsed ok = parse("[\"\xE2\x82\xAC\xF0\x9F\x8E\xB5\xF4\x8F\xBF\xBF\"]");
  EXPECT_TRUE(ok.ok) << ok.error.message;
  EXPECT_EQ(find_invalid_utf8("ok\xC3\xA9"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("ok\xC3"), 2u);
  EXPECT_EQ(find_invalid_utf8("\xF5\x80\x80\x80"), 0u);
}

TEST(StrictJson, DuplicateKeysAfterUnescaping) {
  const Parsed p = parse(R"({"A": 1, "\u0041": 2})");
  ASSERT_FALSE(p.ok);
  EXPECT_EQ(p.error.kind, JsonErrorKind::duplicate_key);
  EXPECT_EQ(p.error.offset, 9u);
  EXPECT_NE(p.error.message.find("'A'"), std::string::npos) << p.error.message;
  EXPECT_NE(p.error.message.find("root object"), std::string::npos) << p.error.message;
  const Parsed nested = parse(R"({"t": {"dtype": 1, "dtype": 2}})");
  ASSERT_FALSE(nested.ok);
  EXPECT_EQ(nested.error.kind, JsonErrorKind::duplicate_key);
  EXPECT_NE(nested.error.message.find("object 't'"), std::string::npos) << nested.error.message;
  // The same key in sibling objects is fine.
  EXPECT_TRUE(parse(R"({"a": {"k": 1}, "b": {"k": 2}})").ok);
}

TEST(StrictJson, DepthLimitIsEnforcedAtTheBracketWithoutRecursion) {
  JsonReaderOptions options;
  options.max_depth = 3;
  EXPECT_TRUE(parse("[[[1]]]", options).ok);
  expect_error("[[[[1]]]]", JsonErrorKind::syntax, 3, options);
  expect_error(R"({"a":{"b":{"c":{}}}})", JsonErrorKind::syntax, 15, options);
  // A million open brackets: rejected at the 65th, no stack overflow.
  const std::string deep(1'000'000, '[');
  expect_error(deep, JsonErrorKind::syntax, 64);
  // The reader alone, allowed deeper than the input: walked iteratively.
  options.max_depth = 200'000;
  const std::string less_deep(100'000, '[');
  JsonReader reader(less_deep, options);
  JsonEvent event;
  std::size_t events = 0;
  while (reader.next(event)) ++events;
  EXPECT_EQ(events, less_deep.size());
  EXPECT_EQ(reader.error().offset, less_deep.size());  // unterminated
  // The DOM caps its depth.
  const Parsed dom = parse(less_deep, options);
  EXPECT_FALSE(dom.ok);
  EXPECT_EQ(dom.error.offset, kJsonDomMaxDepth);
}

TEST(StrictJson, LeadingAndTrailingPolicies) {
  JsonReaderOptions strict;
  strict.allow_leading_whitespace = false;
  strict.require_object_root = true;
  strict.trailing = JsonTrailing::spaces_only;
  EXPECT_TRUE(parse("{}   ", strict).ok);
  expect_error(" {}", JsonErrorKind::syntax, 0, strict);
  expect_error("[]", JsonErrorKind::syntax, 0, strict);
  expect_error("{}\t", JsonErrorKind::trailing, 2, strict);
  expect_error("{}\n", JsonErrorKind::trailing, 2, strict);
  expect_error(std::string_view("{}\0", 3), JsonErrorKind::trailing, 2, strict);
  EXPECT_TRUE(parse(" \t\r\n{}\n ").ok);
}

TEST(StrictJson, ReaderEventsAndSkipping) {
  JsonReader reader(R"({"skip": [1, {"x": [2]}], "keep": "v"})", {});
  JsonEvent event;
  ASSERT_TRUE(reader.next(event));
  EXPECT_EQ(event.type, JsonEventType::object_begin);
  EXPECT_EQ(event.depth, 1u);
  ASSERT_TRUE(reader.next(event));
  EXPECT_EQ(event.type, JsonEventType::key);
  EXPECT_EQ(event.text, "skip");
  EXPECT_EQ(event.offset, 1u);
  ASSERT_TRUE(reader.next(event));
  EXPECT_EQ(event.type, JsonEventType::array_begin);
  ASSERT_TRUE(reader.skip_container(event));
  ASSERT_TRUE(reader.next(event));
  EXPECT_EQ(event.text, "keep");
  ASSERT_TRUE(reader.next(event));
  EXPECT_EQ(event.type, JsonEventType::string);
  EXPECT_EQ(event.text, "v");
  ASSERT_TRUE(reader.next(event));
  EXPECT_EQ(event.type, JsonEventType::object_end);
  ASSERT_TRUE(reader.next(event));
  EXPECT_EQ(event.type, JsonEventType::end);
}

TEST(StrictJson, StatusFormNamesOriginAndOffset) {
  const auto result = parse_json("[1,]", {}, "cfg.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::corrupt);
  EXPECT_EQ(result.status().message().rfind("cfg.json: syntax: ", 0), 0u)
      << result.status().message();
}

TEST(StrictJson, PrintableEscapesUntrustedText) {
  EXPECT_EQ(printable("a\nb"), "a\\x0ab");
  EXPECT_EQ(printable("a\\b"), "a\\\\b");
  EXPECT_EQ(printable("\xFF"), "\\xff");
  EXPECT_EQ(printable("\xC2\x85"), "\\xc2\\x85");  // C1 control NEL
  EXPECT_EQ(printable("\xC3\xA9"), "\xC3\xA9");
  EXPECT_EQ(printable(std::string(100, 'x'), 10), std::string(10, 'x') + "...");
}

}  // namespace
}  // namespace acefit
