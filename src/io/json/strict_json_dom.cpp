// The JSON DOM, built from JsonReader events with an explicit stack.
#include <algorithm>
#include <new>

#include "io/json/strict_json.h"

namespace acefit {

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const auto& member : members) {
    if (member.key == key) return &member.value;
  }
  return nullptr;
}

bool read_json_value(JsonReader& reader, JsonEvent& event, JsonValue& out, JsonError& error,
                     std::size_t max_values) {
  try {
    std::vector<JsonValue*> stack;
    out = JsonValue{};
    bool have_root = false;
    // Places a new value under the innermost container (or as the root).
    const auto attach = [&](JsonValue&& value) -> JsonValue* {
      if (stack.empty()) {
        out = std::move(value);
        have_root = true;
        return &out;
      }
      JsonValue* parent = stack.back();
      if (parent->kind == JsonKind::array) {
        parent->items.push_back(std::move(value));
        return &parent->items.back();
      }
      parent->members.back().value = std::move(value);
      return &parent->members.back().value;
    };
    bool first = true;
    std::size_t values = 0;
    while (true) {
      if (!first && !reader.next(event)) {
        error = reader.error();
        return false;
      }
      first = false;
      if (event.type != JsonEventType::object_end && event.type != JsonEventType::array_end &&
          ++values > max_values) {
        error = {JsonErrorKind::syntax, event.offset,
                 "more than " + std::to_string(max_values) +
                     " values and keys (the limit for this document) at byte " +
                     std::to_string(event.offset)};
        return false;
      }
      JsonValue value;
      value.offset = event.offset;
      switch (event.type) {
        case JsonEventType::end:
          error = {JsonErrorKind::syntax, event.offset, "no JSON value"};
          return false;
        case JsonEventType::object_begin:
        case JsonEventType::array_begin:
          // Destroying a DOM recurses once per level, so its depth stays small.
          if (stack.size() + 1 > kJsonDomMaxDepth) {
            error = {JsonErrorKind::syntax, event.offset,
                     "a value at byte " + std::to_string(event.offset) +
                         " nests deeper than the limit of " + std::to_string(kJsonDomMaxDepth)};
            return false;
          }
          value.kind =
              event.type == JsonEventType::object_begin ? JsonKind::object : JsonKind::array;
          stack.push_back(attach(std::move(value)));
          continue;
        case JsonEventType::object_end:
        case JsonEventType::array_end:
          stack.pop_back();
          if (stack.empty()) return true;
          continue;
        case JsonEventType::key:
          stack.back()->members.push_back(JsonMember{event.text, event.offset, JsonValue{}});
          continue;
        case JsonEventType::string:
          value.kind = JsonKind::string;
          value.text = event.text;
          break;
        case JsonEventType::integer:
          value.kind = JsonKind::integer;
          value.integer = event.integer;
          value.number = event.number;
          value.text = event.text;
          break;
        case JsonEventType::number:
          value.kind = JsonKind::number;
          value.number = event.number;
          value.text = event.text;
          break;
        case JsonEventType::boolean:
          value.kind = JsonKind::boolean;
          value.boolean = event.boolean;
          break;
        case JsonEventType::null:
          value.kind = JsonKind::null;
          break;
      }
      attach(std::move(value));
      if (stack.empty()) return have_root;
    }
  } catch (const std::bad_alloc&) {
    error = {JsonErrorKind::out_of_memory, 0, "out of memory while building the JSON document"};
    return false;
  }
}

bool parse_json(std::string_view text, const JsonReaderOptions& options, JsonValue& out,
                JsonError& error, std::size_t max_values) {
  JsonReaderOptions dom_options = options;
  dom_options.max_depth = std::min<std::size_t>(options.max_depth, kJsonDomMaxDepth);
  JsonReader reader(text, dom_options);
  JsonEvent event;
  if (!reader.next(event)) {
    error = reader.error();
    return false;
  }
  if (!read_json_value(reader, event, out, error, max_values)) return false;
  // The trailing bytes.
  if (!reader.next(event)) {
    error = reader.error();
    return false;
  }
  return true;
}

Expected<JsonValue> parse_json(std::string_view text, const JsonReaderOptions& options,
                               std::string_view origin) {
  JsonValue value;
  JsonError error;
  if (parse_json(text, options, value, error)) return value;
  const ErrorCode code =
      error.kind == JsonErrorKind::out_of_memory ? ErrorCode::out_of_memory : ErrorCode::corrupt;
  return Status(code, std::string(origin) + ": " + std::string(json_error_kind_name(error.kind)) +
                          ": " + error.message);
}

std::string_view json_kind_name(JsonKind kind) {
  switch (kind) {
    case JsonKind::null:
      return "null";
    case JsonKind::boolean:
      return "boolean";
    case JsonKind::integer:
      return "integer";
    case JsonKind::number:
      return "number";
    case JsonKind::string:
      return "string";
    case JsonKind::array:
      return "array";
    case JsonKind::object:
      return "object";
  }
  return "unknown";
}

namespace {

void append_scalar(std::string& out, const JsonValue& value, std::size_t max_bytes) {
  switch (value.kind) {
    case JsonKind::null:
      out += "null";
      break;
    case JsonKind::boolean:
      out += value.boolean ? "true" : "false";
      break;
    case JsonKind::integer:
    case JsonKind::number:
      out += printable(value.text, max_bytes);
      break;
    case JsonKind::string:
      out += '"';
      out += printable(value.text, max_bytes);
      out += '"';
      break;
    case JsonKind::array:
    case JsonKind::object:
      break;
  }
}

}  // namespace

std::string json_value_preview(const JsonValue& root, std::size_t max_bytes) {
  std::string out;
  struct Open {
    const JsonValue* value;
    std::size_t next;
  };
  std::vector<Open> stack;
  const auto enter = [&](const JsonValue& value) {
    if (value.kind == JsonKind::array || value.kind == JsonKind::object) {
      out += value.kind == JsonKind::array ? '[' : '{';
      stack.push_back({&value, 0});
    } else {
      append_scalar(out, value, max_bytes);
    }
  };
  enter(root);
  while (!stack.empty() && out.size() <= max_bytes) {
    Open& top = stack.back();
    const bool is_array = top.value->kind == JsonKind::array;
    const std::size_t count = is_array ? top.value->items.size() : top.value->members.size();
    if (top.next == count) {
      out += is_array ? ']' : '}';
      stack.pop_back();
      continue;
    }
    if (top.next > 0) out += ',';
    const std::size_t index = top.next++;
    if (is_array) {
      enter(top.value->items[index]);
    } else {
      const JsonMember& member = top.value->members[index];
      out += '"';
      out += printable(member.key, max_bytes);
      out += "\":";
      enter(member.value);
    }
  }
  if (out.size() > max_bytes) {
    out.resize(max_bytes > 3 ? max_bytes - 3 : 0);
    out += "...";
  }
  return out;
}

}  // namespace acefit
