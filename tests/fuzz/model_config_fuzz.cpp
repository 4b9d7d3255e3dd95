// Fuzz target: bytes as a config.json for each of the three model configs,
// and, when one parses, the expected tensor set it implies (which must stay
// small: the range checks bound every dimension before anything is sized).
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/checkpoint/checkpoint_tensors.h"
#include "io/checkpoint/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto dit = acefit::parse_dit_config(text, "fuzz/config.json"); dit.ok()) {
    // Layer counts are bounded at 1024, so the names stay bounded too.
    if (dit->num_hidden_layers <= 64) (void)acefit::expected_dit_tensors(*dit);
  }
  if (auto vae = acefit::parse_vae_config(text, "fuzz/config.json"); vae.ok()) {
    (void)acefit::expected_vae_tensors(*vae);
  }
  if (auto qwen = acefit::parse_qwen3_config(text, "fuzz/config.json"); qwen.ok()) {
    if (qwen->num_hidden_layers <= 64) (void)acefit::expected_qwen3_tensors(*qwen, "model.");
  }
  return 0;
}
