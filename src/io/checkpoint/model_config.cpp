#include "io/checkpoint/model_config.h"

#include "io/json/config_json.h"

namespace acefit {

namespace {

// Limits that no real or plausible checkpoint reaches, so a corrupt or
// hostile config is refused before it can size an allocation.
constexpr std::int64_t kMaxLayers = 1024;
constexpr std::int64_t kMaxHeads = 1024;
constexpr std::int64_t kMaxWidth = 1 << 16;  // hidden, head dims
constexpr std::int64_t kMaxIntermediate = 1 << 18;
constexpr std::int64_t kMaxVocab = 1 << 22;
constexpr std::int64_t kMaxPositions = 1 << 24;

#define ACEFIT_READ(field, expr) ACEFIT_ASSIGN(config.field, expr)

Status check_heads(const ConfigJson& json, std::int64_t heads, std::int64_t kv_heads) {
  if (heads % kv_heads != 0) {
    return Status(ErrorCode::corrupt, json.origin() + ": num_attention_heads (" +
                                          std::to_string(heads) +
                                          ") is not a multiple of num_key_value_heads (" +
                                          std::to_string(kv_heads) + ")");
  }
  return {};
}

Expected<DitConfig> read_dit(ConfigJson& json) {
  DitConfig config;
  const DitConfig d;
  ACEFIT_READ(hidden_size, json.integer("hidden_size", 1, kMaxWidth, std::nullopt));
  ACEFIT_READ(intermediate_size,
              json.integer("intermediate_size", 1, kMaxIntermediate, d.intermediate_size));
  ACEFIT_READ(num_hidden_layers, json.integer("num_hidden_layers", 1, kMaxLayers, std::nullopt));
  ACEFIT_READ(num_attention_heads,
              json.integer("num_attention_heads", 1, kMaxHeads, d.num_attention_heads));
  ACEFIT_READ(num_key_value_heads,
              json.integer("num_key_value_heads", 1, kMaxHeads, d.num_key_value_heads));
  ACEFIT_READ(head_dim, json.integer("head_dim", 2, kMaxWidth, d.head_dim));
  ACEFIT_READ(rms_norm_eps, json.number("rms_norm_eps", 0.0, 1.0, d.rms_norm_eps));
  ACEFIT_READ(rope_theta, json.number("rope_theta", 1.0, 1e12, d.rope_theta));
  ACEFIT_READ(use_sliding_window, json.boolean("use_sliding_window", d.use_sliding_window));
  ACEFIT_READ(sliding_window, json.integer("sliding_window", 0, kMaxPositions, d.sliding_window));
  ACEFIT_READ(num_lyric_encoder_hidden_layers,
              json.integer("num_lyric_encoder_hidden_layers", 1, kMaxLayers,
                           d.num_lyric_encoder_hidden_layers));
  ACEFIT_READ(num_timbre_encoder_hidden_layers,
              json.integer("num_timbre_encoder_hidden_layers", 1, kMaxLayers,
                           d.num_timbre_encoder_hidden_layers));
  ACEFIT_READ(num_attention_pooler_hidden_layers,
              json.integer("num_attention_pooler_hidden_layers", 1, kMaxLayers,
                           d.num_attention_pooler_hidden_layers));
  ACEFIT_READ(audio_acoustic_hidden_dim,
              json.integer("audio_acoustic_hidden_dim", 1, kMaxWidth, d.audio_acoustic_hidden_dim));
  ACEFIT_READ(timbre_hidden_dim,
              json.integer("timbre_hidden_dim", 1, kMaxWidth, d.timbre_hidden_dim));
  ACEFIT_READ(text_hidden_dim, json.integer("text_hidden_dim", 1, kMaxWidth, d.text_hidden_dim));
  ACEFIT_READ(in_channels, json.integer("in_channels", 1, kMaxWidth, d.in_channels));
  ACEFIT_READ(patch_size, json.integer("patch_size", 1, 64, d.patch_size));
  ACEFIT_READ(pool_window_size, json.integer("pool_window_size", 1, 64, d.pool_window_size));
  ACEFIT_READ(fsq_dim, json.integer("fsq_dim", 1, kMaxWidth, d.fsq_dim));
  ACEFIT_READ(fsq_input_levels,
              json.integer_list("fsq_input_levels", 2, 1 << 10, 16, d.fsq_input_levels));
  ACEFIT_READ(timbre_fix_frame,
              json.integer("timbre_fix_frame", 1, kMaxPositions, d.timbre_fix_frame));
  ACEFIT_READ(model_version, json.string("model_version", d.model_version));
  ACEFIT_READ(is_turbo,
              json.boolean("is_turbo", config.model_version.find("turbo") != std::string::npos));
  ACEFIT_TRY(check_heads(json, config.num_attention_heads, config.num_key_value_heads));
  // The encoder side (XL): absent fields follow the decoder.
  ACEFIT_READ(encoder_hidden_size, json.optional_integer("encoder_hidden_size", 1, kMaxWidth));
  ACEFIT_READ(encoder_intermediate_size,
              json.optional_integer("encoder_intermediate_size", 1, kMaxIntermediate));
  ACEFIT_READ(encoder_num_attention_heads,
              json.optional_integer("encoder_num_attention_heads", 1, kMaxHeads));
  ACEFIT_READ(encoder_num_key_value_heads,
              json.optional_integer("encoder_num_key_value_heads", 1, kMaxHeads));
  const DitConfig encoder = config.encoder_config();
  if (encoder.num_attention_heads % encoder.num_key_value_heads != 0) {
    return Status(ErrorCode::corrupt, json.origin() + ": encoder_num_attention_heads (" +
                                          std::to_string(encoder.num_attention_heads) +
                                          ") is not a multiple of encoder_num_key_value_heads (" +
                                          std::to_string(encoder.num_key_value_heads) + ")");
  }
  // Stacks index layer_types with their own layer index; the longest stack
  // bounds how many entries are needed.
  ACEFIT_READ(layer_types,
              json.string_list("layer_types", static_cast<std::size_t>(kMaxLayers), {}));
  for (const std::string& type : config.layer_types) {
    if (type != "sliding_attention" && type != "full_attention") {
      return Status(ErrorCode::corrupt, json.origin() + ": key \"layer_types\" holds \"" +
                                            type.substr(0, 40) +
                                            "\", expected sliding_attention or full_attention");
    }
  }
  if (config.layer_types.empty())
    config.layer_types = default_layer_types(config.num_hidden_layers);
  if (static_cast<std::int64_t>(config.layer_types.size()) < config.num_hidden_layers) {
    return Status(ErrorCode::corrupt, json.origin() + ": key \"layer_types\" has " +
                                          std::to_string(config.layer_types.size()) +
                                          " entries for " +
                                          std::to_string(config.num_hidden_layers) + " layers");
  }
  return config;
}

Expected<VaeConfig> read_vae(ConfigJson& json) {
  VaeConfig config;
  const VaeConfig d;
  ACEFIT_READ(encoder_hidden_size,
              json.integer("encoder_hidden_size", 1, kMaxWidth, d.encoder_hidden_size));
  ACEFIT_READ(downsampling_ratios,
              json.integer_list("downsampling_ratios", 1, 64, 16, d.downsampling_ratios));
  ACEFIT_READ(channel_multiples,
              json.integer_list("channel_multiples", 1, 1024, 17, d.channel_multiples));
  ACEFIT_READ(decoder_channels, json.integer("decoder_channels", 1, kMaxWidth, d.decoder_channels));
  ACEFIT_READ(decoder_input_channels,
              json.integer("decoder_input_channels", 1, kMaxWidth, d.decoder_input_channels));
  ACEFIT_READ(audio_channels, json.integer("audio_channels", 1, 16, d.audio_channels));
  ACEFIT_READ(sampling_rate, json.integer("sampling_rate", 1000, 384000, d.sampling_rate));
  if (config.channel_multiples.size() != config.downsampling_ratios.size()) {
    return Status(ErrorCode::corrupt, json.origin() + ": channel_multiples has " +
                                          std::to_string(config.channel_multiples.size()) +
                                          " entries, downsampling_ratios " +
                                          std::to_string(config.downsampling_ratios.size()));
  }
  for (std::int64_t m : config.channel_multiples) {
    if (m * config.decoder_channels > kMaxWidth || m * config.encoder_hidden_size > kMaxWidth) {
      return Status(ErrorCode::corrupt, json.origin() +
                                            ": channel_multiples make a layer wider than " +
                                            std::to_string(kMaxWidth) + " channels");
    }
  }
  return config;
}

Expected<Qwen3Config> read_qwen3(ConfigJson& json) {
  Qwen3Config config;
  const Qwen3Config d;
  ACEFIT_READ(hidden_size, json.integer("hidden_size", 1, kMaxWidth, std::nullopt));
  ACEFIT_READ(intermediate_size,
              json.integer("intermediate_size", 1, kMaxIntermediate, std::nullopt));
  ACEFIT_READ(num_hidden_layers, json.integer("num_hidden_layers", 1, kMaxLayers, std::nullopt));
  ACEFIT_READ(num_attention_heads, json.integer("num_attention_heads", 1, kMaxHeads, std::nullopt));
  ACEFIT_READ(num_key_value_heads,
              json.integer("num_key_value_heads", 1, kMaxHeads, config.num_attention_heads));
  if (!json.has("head_dim") && config.hidden_size % config.num_attention_heads != 0) {
    return Status(ErrorCode::corrupt,
                  json.origin() + ": hidden_size (" + std::to_string(config.hidden_size) +
                      ") is not divisible by num_attention_heads (" +
                      std::to_string(config.num_attention_heads) + ") and head_dim is absent");
  }
  ACEFIT_READ(head_dim, json.integer("head_dim", 2, kMaxWidth,
                                     config.hidden_size / config.num_attention_heads));
  ACEFIT_READ(rms_norm_eps, json.number("rms_norm_eps", 0.0, 1.0, d.rms_norm_eps));
  ACEFIT_READ(rope_theta, json.number("rope_theta", 1.0, 1e12, d.rope_theta));
  ACEFIT_READ(vocab_size, json.integer("vocab_size", 1, kMaxVocab, std::nullopt));
  ACEFIT_READ(tie_word_embeddings, json.boolean("tie_word_embeddings", d.tie_word_embeddings));
  ACEFIT_READ(max_position_embeddings,
              json.integer("max_position_embeddings", 1, kMaxPositions, d.max_position_embeddings));
  ACEFIT_TRY(check_heads(json, config.num_attention_heads, config.num_key_value_heads));
  return config;
}

#undef ACEFIT_READ

template <typename Config>
Expected<Config> load_with(const std::string& dir, std::vector<std::string>* unknown_keys,
                           Expected<Config> (*read)(ConfigJson&)) {
  ACEFIT_ASSIGN(ConfigJson json, ConfigJson::load(dir + "/config.json"));
  ACEFIT_ASSIGN(Config config, read(json));
  if (unknown_keys != nullptr) *unknown_keys = json.unread_keys();
  return config;
}

template <typename Config>
Expected<Config> parse_with(const std::string& text, const std::string& origin,
                            Expected<Config> (*read)(ConfigJson&)) {
  ACEFIT_ASSIGN(ConfigJson json, ConfigJson::parse(text, origin));
  return read(json);
}

}  // namespace

bool DitConfig::sliding_layer(std::int64_t i) const {
  if (!use_sliding_window) return false;
  if (i >= 0 && i < static_cast<std::int64_t>(layer_types.size())) {
    return layer_types[static_cast<std::size_t>(i)] == "sliding_attention";
  }
  return i % 2 == 0;
}

DitConfig DitConfig::encoder_config() const {
  DitConfig encoder = *this;
  encoder.hidden_size = encoder_hidden_size.value_or(hidden_size);
  encoder.intermediate_size = encoder_intermediate_size.value_or(intermediate_size);
  encoder.num_attention_heads = encoder_num_attention_heads.value_or(num_attention_heads);
  encoder.num_key_value_heads = encoder_num_key_value_heads.value_or(num_key_value_heads);
  return encoder;
}

std::vector<std::string> default_layer_types(std::int64_t count) {
  std::vector<std::string> types;
  for (std::int64_t i = 0; i < count; ++i)
    types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  return types;
}

std::int64_t VaeConfig::hop_samples() const {
  std::int64_t hop = 1;
  for (std::int64_t r : downsampling_ratios) hop *= r;
  return hop;
}

Expected<DitConfig> load_dit_config(const std::string& dir,
                                    std::vector<std::string>* unknown_keys) {
  return load_with<DitConfig>(dir, unknown_keys, read_dit);
}
Expected<VaeConfig> load_vae_config(const std::string& dir,
                                    std::vector<std::string>* unknown_keys) {
  return load_with<VaeConfig>(dir, unknown_keys, read_vae);
}
Expected<Qwen3Config> load_qwen3_config(const std::string& dir,
                                        std::vector<std::string>* unknown_keys) {
  return load_with<Qwen3Config>(dir, unknown_keys, read_qwen3);
}
Expected<DitConfig> parse_dit_config(const std::string& text, const std::string& origin) {
  return parse_with<DitConfig>(text, origin, read_dit);
}
Expected<VaeConfig> parse_vae_config(const std::string& text, const std::string& origin) {
  return parse_with<VaeConfig>(text, origin, read_vae);
}
Expected<Qwen3Config> parse_qwen3_config(const std::string& text, const std::string& origin) {
  return parse_with<Qwen3Config>(text, origin, read_qwen3);
}

}  // namespace acefit
