// Synthetic ACE-Step 1.5 checkpoints: a complete `checkpoints/` folder in the
// real layout (folder names, config.json keys, tensor names, silence_latent.pt)
// with small dimensions and seeded random bf16 weights. The model weights
// cannot be downloaded where acefit is tested, so the tests and the demo run
// the real loading code on these. Shapes come from the same config -> tensor
// rules (checkpoint_tensors.h) that validate real checkpoints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "io/checkpoint/model_config.h"

namespace acefit {

// Small configs with the shipped structure (all layer kinds, GQA, the real
// vocabularies, the real VAE hop of 1920 samples).
DitConfig synthetic_dit_config();
VaeConfig synthetic_vae_config();
Qwen3Config synthetic_text_encoder_config();
Qwen3Config synthetic_lm_config();

// tiny: the small configs above (tests, the demo, golden references).
// full: the shipped dims of the 2B turbo DiT, the VAE, Qwen3-Embedding-0.6B
// and the 0.6B LM (about 7 GB on disk), for planning and benchmarks.
// xl_tiny / xl_full: the same with the XL turbo DiT (acestep-v15-xl-turbo,
// spec 18.5) in place of the 2B one: its own small dims (an encoder side
// narrower than the decoder, attention wider than the decoder's hidden
// size, as in the real XL) or the real XL dims (about 10 GB for the DiT).
enum class SyntheticPreset { tiny, full, xl_tiny, xl_full };

// "tiny", "full", "xl-tiny", "xl-full".
std::string_view preset_name(SyntheticPreset preset);
// The preset of a name above; nullopt for anything else.
std::optional<SyntheticPreset> parse_synthetic_preset(std::string_view name);
// Whether the VAE, text encoder and LM have the shipped dims (full, xl-full).
bool preset_full_size(SyntheticPreset preset);
// The DiT folder a preset writes: acestep-v15-turbo or acestep-v15-xl-turbo.
std::string_view preset_dit_folder(SyntheticPreset preset);
// The shipped XL turbo DiT config (hidden 2560, 32 layers, encoder 2048).
DitConfig xl_dit_config();

// The configs of a preset (the DiT, the VAE, the text encoder), for writing
// checkpoints and for planning memory without any checkpoint.
DitConfig preset_dit_config(SyntheticPreset preset);
VaeConfig preset_vae_config(SyntheticPreset preset);
Qwen3Config preset_text_encoder_config(SyntheticPreset preset);
// The 5 Hz LM of a size class ("0.6B", "1.7B", "4B"; acestep-model.md 14.1):
// the shipped dims in the full presets, the small LM in the tiny ones.
Qwen3Config preset_lm_config(SyntheticPreset preset, const std::string& size_class);

struct SyntheticCheckpointOptions {
  SyntheticPreset preset = SyntheticPreset::tiny;
  // A folder holding the Qwen3 tokenizer files (tokenizer.json,
  // tokenizer_config.json, vocab.json, merges.txt: those present are
  // copied into the text encoder and LM folders). Empty: none written.
  std::string tokenizer_dir;
  std::uint64_t seed = 1;
  bool with_text_encoder = true;
  bool with_lm = true;
};

// Checks that `tokenizer_dir` holds a readable tokenizer.json (what
// write_synthetic_checkpoints copies), so a caller can refuse a bad folder
// before writing anything.
Status check_tokenizer_dir(const std::string& tokenizer_dir);

// Writes <root>/<preset_dit_folder>, vae, Qwen3-Embedding-0.6B and
// acestep-5Hz-lm-0.6B (each file atomically). root is created if missing;
// existing files of the same names are replaced.
Status write_synthetic_checkpoints(const std::string& root,
                                   const SyntheticCheckpointOptions& options = {});

}  // namespace acefit
