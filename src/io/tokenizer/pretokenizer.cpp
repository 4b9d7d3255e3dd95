#define PCRE2_CODE_UNIT_WIDTH 8
#include "io/tokenizer/pretokenizer.h"

#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <new>

#include "io/text/utf8.h"

namespace acefit {

namespace {

// Unicode White_Space, spelled for the inside of a PCRE2 character class.
constexpr std::string_view kWhiteSpaceClassBody =
    R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

constexpr std::uint32_t kMinMatchLimit = 10'000'000;
constexpr std::uint32_t kHeapLimitKib = 64 * 1024;  // interpreter backtracking memory
constexpr std::size_t kJitStackMaxBytes = 1u << 20;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) {
    return "PCRE2 error " + std::to_string(code);
  }
  return reinterpret_cast<const char*>(buffer);
}

std::int32_t combining_class(char32_t c) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

}  // namespace

Expected<std::string> nfc_normalize(std::string_view text) {
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    return std::string(text);
  }
  try {
    // 1. Canonical decomposition, one code point at a time.
    std::vector<utf8proc_int32_t> buffer;
    buffer.reserve(text.size() + 16);
    const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    for (std::size_t offset = 0; offset < text.size();) {
      const Utf8Char decoded = decode_utf8_at(text, offset);
      if (decoded.length == 0) {
        return validate_utf8(text, "text");  // the caller should have validated
      }
      offset += decoded.length;
      utf8proc_int32_t parts[8];
      int boundclass = UTF8PROC_BOUNDCLASS_START;
      const utf8proc_ssize_t count = utf8proc_decompose_char(
          static_cast<utf8proc_int32_t>(decoded.code_point), parts, 8, options, &boundclass);
      if (count < 0 || count > 8) {
        return internal_error("NFC: cannot decompose a code point at byte offset " +
                              std::to_string(offset - decoded.length));
      }
      buffer.insert(buffer.end(), parts, parts + count);
    }
    // 2. Canonical ordering: a stable sort of every run of non-starters by
    //    combining class (utf8proc's own pass is quadratic on long runs).
    for (std::size_t i = 0; i < buffer.size();) {
      if (combining_class(buffer[i]) == 0) {
        ++i;
        continue;
      }
      std::size_t end = i + 1;
      while (end < buffer.size() && combining_class(buffer[end]) != 0) ++end;
      if (end - i > 1) {
        std::stable_sort(buffer.begin() + i, buffer.begin() + end,
                         [](utf8proc_int32_t a, utf8proc_int32_t b) {
                           return combining_class(a) < combining_class(b);
                         });
      }
      i = end;
    }
    // 3. Canonical composition.
    const utf8proc_ssize_t length = utf8proc_normalize_utf32(
        buffer.data(), static_cast<utf8proc_ssize_t>(buffer.size()),
        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (length < 0) {
      return internal_error(std::string("NFC: ") + utf8proc_errmsg(length));
    }
    std::string out;
    out.reserve(text.size());
    for (utf8proc_ssize_t i = 0; i < length; ++i) {
      append_utf8(out, static_cast<char32_t>(buffer[i]));
    }
    return out;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory,
                  "NFC: out of memory normalising " + std::to_string(text.size()) + " bytes");
  }
}

Expected<std::string> rewrite_white_space_classes(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  std::size_t class_start = 0;  // offset just after '[' or '[^'
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        if (in_class) {
          out += kWhiteSpaceClassBody;
        } else {
          out += '[';
          out += kWhiteSpaceClassBody;
          out += ']';
        }
      } else if (next == 'S') {
        if (in_class) {
          return unsupported("split pattern: \\S inside a character class (offset " +
                             std::to_string(i - 1) + ")");
        }
        out += "[^";
        out += kWhiteSpaceClassBody;
        out += ']';
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      class_start = i + 1;
      continue;
    }
    if (in_class && c == ']' && i != class_start) in_class = false;
    out += c;
  }
  if (in_class) return invalid_argument("split pattern: unterminated character class");
  return out;
}

struct RegexSplitter::Compiled {
  std::string pattern;
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

Expected<RegexSplitter> RegexSplitter::compile(std::string_view pattern, std::string_view origin) {
  auto rewritten = rewrite_white_space_classes(pattern);
  if (!rewritten.ok()) return rewritten.status().with_context(origin);
  try {
    auto compiled = std::make_shared<Compiled>();
    compiled->pattern = std::string(pattern);
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    compiled->code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten->data()), rewritten->size(),
                      PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
    if (compiled->code == nullptr) {
      return Status(ErrorCode::unsupported,
                    std::string(origin) + ": cannot compile the split pattern (" +
                        pcre2_message(error) + " at offset " + std::to_string(error_offset) +
                        " of the rewritten pattern)");
    }
    compiled->jit = pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE) == 0;
    RegexSplitter splitter;
    splitter.compiled_ = std::move(compiled);
    return splitter;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, std::string(origin) + ": out of memory");
  }
}

bool RegexSplitter::jit() const {
  return compiled_->jit;
}
const std::string& RegexSplitter::pattern() const {
  return compiled_->pattern;
}

Status RegexSplitter::split(std::string_view text,
                            std::vector<std::pair<std::size_t, std::size_t>>& out) const {
  if (text.empty()) return {};
  struct Resources {
    pcre2_match_context* context = nullptr;
    pcre2_jit_stack* stack = nullptr;
    pcre2_match_data* data = nullptr;
    ~Resources() {
      pcre2_match_data_free(data);
      pcre2_jit_stack_free(stack);
      pcre2_match_context_free(context);
    }
  } r;
  r.context = pcre2_match_context_create(nullptr);
  r.data = pcre2_match_data_create_from_pattern(compiled_->code, nullptr);
  if (r.context == nullptr || r.data == nullptr) {
    return Status(ErrorCode::out_of_memory, "pre-tokenizer: cannot allocate PCRE2 match state");
  }
  // Generous, but finite: a well-behaved pattern needs a few steps per byte.
  const std::uint64_t limit = std::max<std::uint64_t>(kMinMatchLimit, 64ull * text.size());
  pcre2_set_match_limit(r.context,
                        static_cast<std::uint32_t>(std::min<std::uint64_t>(limit, 0xFFFFFFFFu)));
  pcre2_set_heap_limit(r.context, kHeapLimitKib);
  if (compiled_->jit) {
    r.stack = pcre2_jit_stack_create(32 * 1024, kJitStackMaxBytes, nullptr);
    if (r.stack != nullptr) pcre2_jit_stack_assign(r.context, nullptr, r.stack);
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t position = 0;  // where the next search starts
  std::size_t emitted = 0;   // end of the last piece
  while (position < text.size()) {
    const int rc = pcre2_match(compiled_->code, subject, text.size(), position, PCRE2_NO_UTF_CHECK,
                               r.data, r.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      return invalid_argument("pre-tokenizer: the split pattern gave up at byte offset " +
                              std::to_string(position) + " (" + pcre2_message(rc) + ")");
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(r.data);
    const std::size_t begin = ovector[0];
    const std::size_t end = ovector[1];
    if (begin > emitted) out.emplace_back(emitted, begin);
    if (end > begin) {
      out.emplace_back(begin, end);
      emitted = end;
      position = end;
    } else {
      // An empty match: step over one character so the search moves on.
      emitted = std::max(emitted, begin);
      const Utf8Char next = decode_utf8_at(text, begin);
      position = begin + std::max<std::size_t>(1, next.length);
    }
  }
  if (emitted < text.size()) out.emplace_back(emitted, text.size());
  return {};
}

}  // namespace acefit
