// Strict RFC 8259 JSON for untrusted input (safetensors headers, shard
// indexes): a pull reader that never recurses on input depth, checks UTF-8
// as it goes, rejects duplicate keys (compared after unescaping) and reports
// every error with its byte offset; and a small DOM built on the reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace acefit {

enum class JsonErrorKind {
  not_utf8,       // malformed UTF-8 (overlong, surrogate, > U+10FFFF, cut short)
  syntax,         // anything RFC 8259 forbids, including nesting too deep
  trailing,       // bytes after the root value that the trailing policy forbids
  duplicate_key,  // a key repeated within one object, after unescaping
  out_of_memory,
};

struct JsonError {
  JsonErrorKind kind = JsonErrorKind::syntax;
  std::size_t offset = 0;  // byte offset into the parsed text
  std::string message;     // names the offset, the offending bytes and the rule
};

enum class JsonTrailing {
  whitespace,   // RFC 8259: space, tab, CR, LF
  spaces_only,  // safetensors (S6): only 0x20 padding
};

struct JsonReaderOptions {
  std::size_t max_depth = 64;  // containers open at once; root object = 1
  bool allow_leading_whitespace = true;
  bool require_object_root = false;  // the first byte must be '{' (with no leading whitespace
                                     // this is S5)
  JsonTrailing trailing = JsonTrailing::whitespace;
};

enum class JsonEventType {
  object_begin,
  object_end,
  array_begin,
  array_end,
  key,      // text holds the unescaped key
  string,   // text holds the unescaped value
  integer,  // a literal with no sign, fraction or exponent that fits u64: `integer`
  number,   // any other number: `text` holds the literal, `number` its value
  boolean,
  null,
  end,  // the root value and the trailing bytes were consumed
};

struct JsonEvent {
  JsonEventType type = JsonEventType::end;
  std::size_t offset = 0;  // byte offset of the token
  std::size_t depth = 0;   // containers open after this event (a key: its object's depth)
  std::string text;
  std::uint64_t integer = 0;
  double number = 0.0;
  bool boolean = false;
};

// The keys of one object, for duplicate detection: a linear scan while there
// are few, then an open-addressing hash table (one allocation per growth,
// none per key), so an object with 150,000 keys costs one probe per key.
class JsonKeySet {
 public:
  // Adds `key` (which must outlive the set); false when it is already there.
  bool insert(std::string_view key);

 private:
  static constexpr std::size_t kLinearKeys = 8;
  void rebuild(std::size_t slot_count);

  std::vector<std::string_view> keys_;
  std::vector<std::size_t> hashes_;   // of keys_, once the table is in use
  std::vector<std::uint32_t> slots_;  // index into keys_ + 1; 0 = empty
};

// Pulls one event at a time. After an error every call returns false again.
class JsonReader {
 public:
  JsonReader(std::string_view text, JsonReaderOptions options);

  // Fills `event` and returns true, or returns false and sets error().
  bool next(JsonEvent& event);
  const JsonError& error() const { return error_; }

  // Consumes the rest of the value whose *_begin event was just returned.
  bool skip_container(JsonEvent& scratch);

  // A key of the innermost open object, for messages ("" at the root).
  std::string_view current_object_key() const;

 private:
  enum class State { object_start, object_key, object_value, array_start, array_value, after_item };
  struct Frame {
    bool is_object = false;
    State state = State::object_start;
    std::string key;  // the key this container was opened under
    // The keys seen so far, unescaped: views into the text for keys without
    // escapes, else into owned_keys (one allocation per escaped key only).
    JsonKeySet keys;
    std::vector<std::unique_ptr<std::string>> owned_keys;
  };

  bool fail(JsonErrorKind kind, std::size_t offset, std::string message);
  bool fail_unexpected(std::size_t offset, std::string_view expected);
  void skip_whitespace();
  bool read_string(std::string& out);  // sets raw_string_ (see below)
  bool read_number(JsonEvent& event);
  bool read_literal(std::string_view word);
  bool read_value(JsonEvent& event);
  bool step(JsonEvent& event);
  bool close_container(JsonEvent& event);
  bool finish(JsonEvent& event);

  std::string_view text_;
  JsonReaderOptions options_;
  std::size_t pos_ = 0;
  std::vector<Frame> stack_;
  std::string pending_key_;  // the last key read, for the container it opens
  // The last string's bytes between its quotes, when it had no escapes
  // (then they are its value); empty otherwise.
  std::string_view raw_string_;
  bool raw_string_valid_ = false;
  bool started_ = false;
  bool done_ = false;
  bool failed_ = false;
  JsonError error_;
};

// ---- DOM ----

enum class JsonKind { null, boolean, integer, number, string, array, object };

struct JsonMember;

struct JsonValue {
  JsonKind kind = JsonKind::null;
  std::size_t offset = 0;
  bool boolean = false;
  std::uint64_t integer = 0;
  double number = 0.0;
  std::string text;  // string value, or a number's literal
  std::vector<JsonValue> items;
  std::vector<JsonMember> members;  // in input order, keys unique

  // The member named `key`, or nullptr.
  const JsonValue* find(std::string_view key) const;
};

struct JsonMember {
  std::string key;
  std::size_t key_offset = 0;
  JsonValue value;
};

// The DOM's depth limit, whatever options.max_depth says (destroying a DOM
// recurses once per level).
inline constexpr std::size_t kJsonDomMaxDepth = 512;

// Builds the value that starts with `event` (a scalar, or the *_begin that
// `reader` just returned) into `out`, pulling the rest of it from `reader`.
// Nesting deeper than kJsonDomMaxDepth is an error whatever the reader
// allows. Returns false with `error` set on failure.
// More than `max_values` values and keys in all is an error too (a DOM
// value takes about 150 bytes, so this bounds the memory a small but dense
// document such as 16 MiB of `{},` can take).
bool read_json_value(JsonReader& reader, JsonEvent& event, JsonValue& out, JsonError& error,
                     std::size_t max_values = SIZE_MAX);

// Parses a whole document. Returns false with `error` set on failure.
bool parse_json(std::string_view text, const JsonReaderOptions& options, JsonValue& out,
                JsonError& error, std::size_t max_values = SIZE_MAX);

// The same, with failure as Status(corrupt, "<origin>: offset N: ...") or out_of_memory.
Expected<JsonValue> parse_json(std::string_view text, const JsonReaderOptions& options,
                               std::string_view origin);

std::string_view json_error_kind_name(JsonErrorKind kind);

// ---- helpers shared by the format readers ----

// Length of the well-formed UTF-8 sequence starting at text[pos], or 0 when
// the bytes there are not one (overlong, surrogate, above U+10FFFF, cut short).
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos);

// Offset of the first byte that is not well-formed UTF-8, or npos.
std::size_t find_invalid_utf8(std::string_view text);

// Untrusted text made safe for a one-line message: control characters,
// backslashes and bytes that are not UTF-8 escaped, cut at `max_bytes`
// with "..." appended.
std::string printable(std::string_view text, std::size_t max_bytes = 80);

// What a JSON value event looks like, for messages: "the string \"x\"",
// "the number 2", "true", "null", "an object", "an array", or "no value".
std::string describe_json_value(const JsonEvent& event);

// A value as compact JSON text for messages ([1,"a",{"k":null}]), cut at
// `max_bytes` with "..." appended; strings through printable(). Walks
// nested values with an explicit stack and stops once it has enough text,
// so the value's depth and size do not matter.
std::string json_value_preview(const JsonValue& value, std::size_t max_bytes = 40);

// "null", "boolean", "integer", "number", "string", "array", "object".
std::string_view json_kind_name(JsonKind kind);

}  // namespace acefit
