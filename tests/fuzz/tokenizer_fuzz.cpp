// Fuzz target: bytes as text -> token ids, with the real Qwen3 tokenizer when
// ACEFIT_QWEN3_TOKENIZER_DIR names its folder, else a tiny built-in
// byte-level tokenizer.json (written to /tmp and loaded from there). Checks:
// encode never crashes; invalid UTF-8 is an error, valid UTF-8 encodes; and
// ids decode back to text that encodes to the same ids.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "io/text/utf8.h"
#include "io/tokenizer/bpe.h"
#include "io/tokenizer/tokenizer.h"

namespace {

// 256 byte tokens, a few merges, two added tokens.
std::string tiny_tokenizer_json() {
  std::string vocab, merges;
  auto key = [](const std::string& bytes) {
    std::string spelled = acefit::byte_level_encode(bytes), out = "\"";
    for (const char c : spelled) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  for (int byte = 0; byte < 256; ++byte) {
    vocab += key(std::string(1, static_cast<char>(byte))) + ":" + std::to_string(byte) + ",";
  }
  const char* pairs[][2] = {{"h", "e"}, {"he", "l"}, {"l", "a"}, {" ", "l"}, {"1", "2"}};
  int id = 256;
  for (const auto& pair : pairs) {
    vocab += key(std::string(pair[0]) + pair[1]) + ":" + std::to_string(id++) + ",";
    merges +=
        (merges.empty() ? "" : ",") + std::string("[") + key(pair[0]) + "," + key(pair[1]) + "]";
  }
  vocab.pop_back();
  return R"({"added_tokens":[{"id":300,"content":"<|endoftext|>","special":true},)"
         R"({"id":301,"content":"<|im_end|>","special":true}],"normalizer":{"type":"NFC"},)"
         R"("pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},)"
         R"("model":{"type":"BPE","vocab":{)" +
         vocab + "},\"merges\":[" + merges + "]}}";
}

std::unique_ptr<acefit::Tokenizer> load() {
  if (const char* dir = std::getenv("ACEFIT_QWEN3_TOKENIZER_DIR"); dir && *dir) {
    auto real = acefit::Tokenizer::load(dir);
    if (real.ok()) return std::make_unique<acefit::Tokenizer>(std::move(real).value());
  }
  const std::string path = "/tmp/acefit-tokenizer-fuzz-" + std::to_string(getpid()) + ".json";
  std::ofstream(path, std::ios::binary) << tiny_tokenizer_json();
  auto tiny = acefit::Tokenizer::load_json_file(path);
  std::remove(path.c_str());
  if (!tiny.ok()) __builtin_trap();  // the built-in file must load
  return std::make_unique<acefit::Tokenizer>(std::move(tiny).value());
}

// Loaded once before the first input, so the real tokenizer's load (seconds
// under the sanitizers) does not count against libFuzzer's per-input timeout.
const acefit::Tokenizer* shared_tokenizer() {
  static const std::unique_ptr<acefit::Tokenizer> tokenizer = load();
  return tokenizer.get();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  shared_tokenizer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const acefit::Tokenizer* tokenizer = shared_tokenizer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = acefit::check_utf8(text).ok();
  const auto ids = tokenizer->encode(text);
  if (!valid) {
    if (ids.ok()) __builtin_trap();  // invalid UTF-8 must be rejected
    return 0;
  }
  if (!ids.ok()) __builtin_trap();
  const auto decoded = tokenizer->decode(ids.value());
  if (!decoded.ok() || !acefit::check_utf8(decoded.value()).ok()) __builtin_trap();
  const auto again = tokenizer->encode(decoded.value());
  if (!again.ok() || again.value() != ids.value()) __builtin_trap();
  return 0;
}
