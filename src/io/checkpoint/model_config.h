// Typed configs of the ACE-Step 1.5 checkpoint folders (spec: acestep-model.md
// sections 3.2-3.4), read from their config.json with the shipped values as
// defaults. Keys without which the architecture is unknowable are required;
// every value is range-checked before anything is allocated from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace acefit {

// The DiT checkpoint (acestep-v15-*): decoder, condition encoder, FSQ
// tokenizer and detokenizer. The XL models (acestep-v15-xl-*, 4B) give the
// condition encoder, FSQ tokenizer and detokenizer their own width with four
// encoder_* fields (spec 18.5); without them those parts use the decoder's.
struct DitConfig {
  std::int64_t hidden_size = 2048;
  std::int64_t intermediate_size = 6144;
  std::int64_t num_hidden_layers = 24;
  std::int64_t num_attention_heads = 16;
  std::int64_t num_key_value_heads = 8;
  std::int64_t head_dim = 128;
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;
  bool use_sliding_window = true;
  std::int64_t sliding_window = 128;
  std::vector<std::string> layer_types;  // derived when absent: even = sliding, odd = full
  std::int64_t num_lyric_encoder_hidden_layers = 8;
  std::int64_t num_timbre_encoder_hidden_layers = 4;
  std::int64_t num_attention_pooler_hidden_layers = 2;
  std::int64_t audio_acoustic_hidden_dim = 64;
  std::int64_t timbre_hidden_dim = 64;
  std::int64_t text_hidden_dim = 1024;
  std::int64_t in_channels = 192;
  std::int64_t patch_size = 2;
  std::int64_t pool_window_size = 5;
  std::int64_t fsq_dim = 2048;
  std::vector<std::int64_t> fsq_input_levels = {8, 8, 8, 5, 5, 5};
  std::int64_t timbre_fix_frame = 750;
  std::string model_version = "turbo";
  bool is_turbo = true;
  // The encoder side's dims, as config.json gives them (the XL models);
  // absent: the decoder's (the 2B models).
  std::optional<std::int64_t> encoder_hidden_size;
  std::optional<std::int64_t> encoder_intermediate_size;
  std::optional<std::int64_t> encoder_num_attention_heads;
  std::optional<std::int64_t> encoder_num_key_value_heads;

  // Whether layer i of a stack uses the sliding window (layer_types[i]).
  bool sliding_layer(std::int64_t i) const;
  // The config the condition encoder, FSQ tokenizer and detokenizer are
  // built with: this one with hidden, intermediate and head counts replaced
  // by the encoder_* values given (upstream builds the same copy).
  DitConfig encoder_config() const;
  // The width of the encoder states (condition_embedder input, null
  // condition): encoder_hidden_size when given, else hidden_size.
  std::int64_t encoder_width() const { return encoder_hidden_size.value_or(hidden_size); }
  // The XL layout: any encoder_* field given. Its timbre encoder prepends
  // its special token (spec 18.5).
  bool xl_layout() const {
    return encoder_hidden_size || encoder_intermediate_size || encoder_num_attention_heads ||
           encoder_num_key_value_heads;
  }
};

// The Oobleck VAE (vae/, diffusers AutoencoderOobleck).
struct VaeConfig {
  std::int64_t encoder_hidden_size = 128;
  std::vector<std::int64_t> downsampling_ratios = {2, 4, 4, 6, 10};
  std::vector<std::int64_t> channel_multiples = {1, 2, 4, 8, 16};
  std::int64_t decoder_channels = 128;
  std::int64_t decoder_input_channels = 64;
  std::int64_t audio_channels = 2;
  std::int64_t sampling_rate = 48000;

  std::int64_t hop_samples() const;  // product of downsampling_ratios (1920)
};

// A Qwen3 stack: the text encoder (Qwen3-Embedding-0.6B) or a 5 Hz LM.
struct Qwen3Config {
  std::int64_t hidden_size = 1024;
  std::int64_t intermediate_size = 3072;
  std::int64_t num_hidden_layers = 28;
  std::int64_t num_attention_heads = 16;
  std::int64_t num_key_value_heads = 8;
  std::int64_t head_dim = 128;
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;
  std::int64_t vocab_size = 151669;
  bool tie_word_embeddings = true;
  std::int64_t max_position_embeddings = 32768;
};

// The layer types config.json implies when it has none: even layers
// sliding_attention, odd layers full_attention.
std::vector<std::string> default_layer_types(std::int64_t count);

// Each reads `dir`/config.json. Unknown keys are returned in `unknown_keys`
// (for a debug log), never an error.
Expected<DitConfig> load_dit_config(const std::string& dir,
                                    std::vector<std::string>* unknown_keys = nullptr);
Expected<VaeConfig> load_vae_config(const std::string& dir,
                                    std::vector<std::string>* unknown_keys = nullptr);
Expected<Qwen3Config> load_qwen3_config(const std::string& dir,
                                        std::vector<std::string>* unknown_keys = nullptr);

// From already-read text (tests, fuzzing); `origin` names it in errors.
Expected<DitConfig> parse_dit_config(const std::string& text, const std::string& origin);
Expected<VaeConfig> parse_vae_config(const std::string& text, const std::string& origin);
Expected<Qwen3Config> parse_qwen3_config(const std::string& text, const std::string& origin);

}  // namespace acefit
