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

bool parse_json(std::string_view text, const JsonReaderOptions& options, JsonValue& out,
                JsonError& error) {
  try {
    // Destroying a DOM recurses once per level, so its depth stays small.
    JsonReaderOptions dom_options = options;
    dom_options.max_depth = std::min<std::size_t>(options.max_depth, kJsonDomMaxDepth);
    JsonReader reader(text, dom_options);
    JsonEvent event;
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
    while (true) {
      if (!reader.next(event)) {
        error = reader.error();
        return false;
      }
      JsonValue value;
      value.offset = event.offset;
      switch (event.type) {
        case JsonEventType::end:
          if (!have_root) {
            error = {JsonErrorKind::syntax, 0, "no JSON value"};
            return false;
          }
          return true;
        case JsonEventType::object_begin:
        case JsonEventType::array_begin:
          value.kind =
              event.type == JsonEventType::object_begin ? JsonKind::object : JsonKind::array;
          stack.push_back(attach(std::move(value)));
          continue;
        case JsonEventType::object_end:
        case JsonEventType::array_end:
          stack.pop_back();
          continue;
        case JsonEventType::key:
          stack.back()->members.push_back(JsonMember{event.text, event.offset, JsonValue{}});
          continue;
        case JsonEventType::string:
          value.kind = JsonKind::string;
          value.text = std::move(event.text);
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
    }
  } catch (const std::bad_alloc&) {
    error = {JsonErrorKind::out_of_memory, 0, "out of memory while building the JSON document"};
    return false;
  }
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

}  // namespace acefit
