// Fuzz target: bytes as tokenizer.json -> Tokenizer::from_json. A file that
// loads must encode and decode a fixed text without failing on the text;
// any file must fail cleanly (a Status), never crash or allocate beyond a
// bound set by its size. The post_processor section is covered too (seeds
// *post_processor*.json): its ids must surround the text's exactly.
#include <cstdint>
#include <string_view>
#include <vector>

#include "io/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  acefit::TokenizerOptions options;
  options.required_tokens.clear();
  auto tokenizer = acefit::Tokenizer::from_json(text, "fuzz/tokenizer.json", options);
  if (!tokenizer.ok()) return 0;
  const auto ids = tokenizer->encode("Hello world! 123 <|endoftext|> caf\xC3\xA9 \xE4\xB8\x96\n");
  if (!ids.ok()) return 0;  // e.g. a hostile split pattern hitting its match limit
  const auto decoded = tokenizer->decode(ids.value());
  if (!decoded.ok()) __builtin_trap();  // ids from encode are always in the vocabulary
  // The post-processor's ids (a tokenizer.json post_processor template) go
  // around the text's, and nowhere else.
  const auto bare = tokenizer->encode("Hello world! 123 <|endoftext|> caf\xC3\xA9 \xE4\xB8\x96\n",
                                      /*add_special_tokens=*/false);
  if (!bare.ok()) __builtin_trap();  // the same text encoded a moment ago
  std::vector<std::int32_t> expected(tokenizer->special_prefix().begin(),
                                     tokenizer->special_prefix().end());
  expected.insert(expected.end(), bare->begin(), bare->end());
  expected.insert(expected.end(), tokenizer->special_suffix().begin(),
                  tokenizer->special_suffix().end());
  if (expected != ids.value()) __builtin_trap();
  return 0;
}
