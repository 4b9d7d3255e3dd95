#include "io/checkpoint/checkpoint_synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/dtype.h"
#include "core/rng.h"
#include "io/checkpoint/checkpoint_check.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "io/file/atomic_file.h"
#include "io/safetensors/safetensors_writer.h"
#include "io/tokenizer/tokenizer.h"
#include "io/torch/pt_writer.h"

namespace acefit {

namespace {

namespace fs = std::filesystem;

bool name_ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Values chosen so that every part of the network visibly shapes its
// output (the PyTorch goldens are only as sensitive as these weights): norm
// scales and weight-norm magnitudes near 1, matrices with a standard
// deviation of 1/sqrt(fan-in) so activations keep their scale through the
// layers, and modulation tables, learned tokens and biases large enough
// that gates, shifts and position tokens matter.
struct ValueRule {
  float mean = 0.0f;
  float stddev = 0.0f;
};

ValueRule value_rule(const TensorSpec& spec) {
  const std::string& name = spec.name;
  if (name_ends_with(name, "norm.weight") || name_ends_with(name, "weight_g")) return {1.0f, 0.1f};
  if (name_ends_with(name, "alpha") || name_ends_with(name, "beta")) return {0.0f, 0.3f};
  if (name_ends_with(name, "scale_shift_table") || name_ends_with(name, "special_token") ||
      name_ends_with(name, "special_tokens") || name_ends_with(name, "null_condition_emb"))
    return {0.0f, 0.5f};
  if (name_ends_with(name, ".bias")) return {0.0f, 0.1f};
  std::int64_t fan_in = 1;
  for (std::size_t i = 1; i < spec.shape.size(); ++i) fan_in *= spec.shape[i];
  return {0.0f, 1.0f / std::sqrt(static_cast<float>(std::max<std::int64_t>(fan_in, 1)))};
}

Status write_weights(const std::string& path, const std::vector<TensorSpec>& specs,
                     std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::vector<std::uint16_t>> buffers;
  buffers.reserve(specs.size());
  std::vector<SafetensorsEntry> entries;
  entries.reserve(specs.size());
  for (const TensorSpec& spec : specs) {
    std::uint64_t count = 1;
    std::vector<std::uint64_t> shape;
    for (const std::int64_t dim : spec.shape) {
      shape.push_back(static_cast<std::uint64_t>(dim));
      count *= static_cast<std::uint64_t>(dim);
    }
    std::vector<std::uint16_t>& values = buffers.emplace_back(count);
    const ValueRule rule = value_rule(spec);
    for (std::uint16_t& value : values) value = f32_to_bf16(rule.mean + rule.stddev * rng.normal());
    entries.push_back({spec.name, SafetensorsDtype::bf16, std::move(shape),
                       std::as_bytes(std::span<const std::uint16_t>(values))});
  }
  return write_safetensors(path, entries, {{"format", "pt"}, {"generator", "acefit synthetic"}});
}

Status write_json(const std::string& path, const nlohmann::json& json) {
  const std::string text = json.dump(2) + "\n";
  return write_file_atomic(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

nlohmann::json dit_json(const DitConfig& c) {
  return {{"architectures", {"AceStepConditionGenerationModel"}},
          {"model_type", "acestep"},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_attention_heads", c.num_attention_heads},
          {"num_key_value_heads", c.num_key_value_heads},
          {"head_dim", c.head_dim},
          {"rms_norm_eps", c.rms_norm_eps},
          {"rope_theta", c.rope_theta},
          {"use_sliding_window", c.use_sliding_window},
          {"sliding_window", c.sliding_window},
          {"layer_types", c.layer_types},
          {"num_lyric_encoder_hidden_layers", c.num_lyric_encoder_hidden_layers},
          {"num_timbre_encoder_hidden_layers", c.num_timbre_encoder_hidden_layers},
          {"num_attention_pooler_hidden_layers", c.num_attention_pooler_hidden_layers},
          {"audio_acoustic_hidden_dim", c.audio_acoustic_hidden_dim},
          {"timbre_hidden_dim", c.timbre_hidden_dim},
          {"text_hidden_dim", c.text_hidden_dim},
          {"in_channels", c.in_channels},
          {"patch_size", c.patch_size},
          {"pool_window_size", c.pool_window_size},
          {"fsq_dim", c.fsq_dim},
          {"fsq_input_levels", c.fsq_input_levels},
          {"timbre_fix_frame", c.timbre_fix_frame},
          {"model_version", c.model_version},
          {"is_turbo", c.is_turbo}};
}

// The XL fields (config.json has them only for the XL models).
nlohmann::json dit_json_with_encoder(const DitConfig& c) {
  nlohmann::json json = dit_json(c);
  const auto put = [&json](const char* key, const std::optional<std::int64_t>& value) {
    if (value) json[key] = *value;
  };
  put("encoder_hidden_size", c.encoder_hidden_size);
  put("encoder_intermediate_size", c.encoder_intermediate_size);
  put("encoder_num_attention_heads", c.encoder_num_attention_heads);
  put("encoder_num_key_value_heads", c.encoder_num_key_value_heads);
  return json;
}

nlohmann::json vae_json(const VaeConfig& c) {
  return {{"_class_name", "AutoencoderOobleck"},
          {"encoder_hidden_size", c.encoder_hidden_size},
          {"downsampling_ratios", c.downsampling_ratios},
          {"channel_multiples", c.channel_multiples},
          {"decoder_channels", c.decoder_channels},
          {"decoder_input_channels", c.decoder_input_channels},
          {"audio_channels", c.audio_channels},
          {"sampling_rate", c.sampling_rate}};
}

nlohmann::json qwen3_json(const Qwen3Config& c) {
  return {{"architectures", {"Qwen3ForCausalLM"}},
          {"model_type", "qwen3"},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_attention_heads", c.num_attention_heads},
          {"num_key_value_heads", c.num_key_value_heads},
          {"head_dim", c.head_dim},
          {"rms_norm_eps", c.rms_norm_eps},
          {"rope_theta", c.rope_theta},
          {"vocab_size", c.vocab_size},
          {"tie_word_embeddings", c.tie_word_embeddings},
          {"max_position_embeddings", c.max_position_embeddings}};
}

Status make_folder(const std::string& path) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) return Status(ErrorCode::io, path + ": cannot create folder: " + error.message());
  return Status();
}

Qwen3Config small_qwen3(std::int64_t vocab) {
  Qwen3Config c;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.vocab_size = vocab;
  c.max_position_embeddings = 4096;
  return c;
}

}  // namespace

DitConfig synthetic_dit_config() {
  DitConfig c;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.sliding_window = 16;
  c.layer_types = {"sliding_attention", "full_attention", "sliding_attention", "full_attention"};
  c.num_lyric_encoder_hidden_layers = 2;
  c.num_timbre_encoder_hidden_layers = 2;
  c.num_attention_pooler_hidden_layers = 2;
  c.text_hidden_dim = synthetic_text_encoder_config().hidden_size;
  c.fsq_dim = c.hidden_size;
  return c;
}

VaeConfig synthetic_vae_config() {
  VaeConfig c;
  c.encoder_hidden_size = 8;
  c.decoder_channels = 8;
  return c;
}

Qwen3Config synthetic_text_encoder_config() {
  return small_qwen3(151669);
}

Qwen3Config synthetic_lm_config() {
  return small_qwen3(217204);
}

namespace {

// The tiny XL: decoder 96 wide with 8 x 16 attention (128: wider than the
// decoder, as the real XL's 32 x 128 = 4096 is wider than its 2560), the
// encoder side 64 wide (the tiny 2B's dims).
DitConfig synthetic_xl_dit_config() {
  DitConfig c = synthetic_dit_config();
  c.hidden_size = 96;
  c.intermediate_size = 160;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.encoder_hidden_size = 64;
  c.encoder_intermediate_size = 128;
  c.encoder_num_attention_heads = 4;
  c.encoder_num_key_value_heads = 2;
  c.fsq_dim = 64;
  c.model_version = "xl_turbo";
  return c;
}

}  // namespace

DitConfig xl_dit_config() {
  DitConfig c;  // the 2B defaults, then the XL turbo's decoder
  c.hidden_size = 2560;
  c.intermediate_size = 9728;
  c.num_hidden_layers = 32;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  c.layer_types = default_layer_types(c.num_hidden_layers);
  c.encoder_hidden_size = 2048;
  c.encoder_intermediate_size = 6144;
  c.encoder_num_attention_heads = 16;
  c.encoder_num_key_value_heads = 8;
  c.fsq_dim = 2048;
  c.model_version = "xl_turbo";
  return c;
}

std::string_view preset_name(SyntheticPreset preset) {
  switch (preset) {
    case SyntheticPreset::tiny:
      return "tiny";
    case SyntheticPreset::full:
      return "full";
    case SyntheticPreset::xl_tiny:
      return "xl-tiny";
    case SyntheticPreset::xl_full:
      return "xl-full";
  }
  return "tiny";
}

std::optional<SyntheticPreset> parse_synthetic_preset(std::string_view name) {
  for (const SyntheticPreset preset : {SyntheticPreset::tiny, SyntheticPreset::full,
                                       SyntheticPreset::xl_tiny, SyntheticPreset::xl_full}) {
    if (preset_name(preset) == name) return preset;
  }
  return std::nullopt;
}

bool preset_full_size(SyntheticPreset preset) {
  return preset == SyntheticPreset::full || preset == SyntheticPreset::xl_full;
}

std::string_view preset_dit_folder(SyntheticPreset preset) {
  return preset == SyntheticPreset::xl_tiny || preset == SyntheticPreset::xl_full
             ? "acestep-v15-xl-turbo"
             : "acestep-v15-turbo";
}

DitConfig preset_dit_config(SyntheticPreset preset) {
  switch (preset) {
    case SyntheticPreset::tiny:
      return synthetic_dit_config();
    case SyntheticPreset::xl_tiny:
      return synthetic_xl_dit_config();
    case SyntheticPreset::xl_full:
      return xl_dit_config();
    case SyntheticPreset::full:
      break;
  }
  DitConfig c;  // the shipped defaults
  c.layer_types = default_layer_types(c.num_hidden_layers);
  return c;
}

VaeConfig preset_vae_config(SyntheticPreset preset) {
  return preset_full_size(preset) ? VaeConfig{} : synthetic_vae_config();
}

Qwen3Config preset_text_encoder_config(SyntheticPreset preset) {
  return preset_full_size(preset) ? Qwen3Config{} : synthetic_text_encoder_config();
}

namespace {

Qwen3Config full_lm_config() {
  Qwen3Config c;  // acestep-5Hz-lm-0.6B
  c.vocab_size = 217204;
  return c;
}

// acestep-5Hz-lm-1.7B and -4B: the Qwen3-1.7B / Qwen3-4B dims (14.1).
Qwen3Config full_lm_config_of(const std::string& size_class) {
  Qwen3Config c = full_lm_config();
  if (size_class == "1.7B") {
    c.hidden_size = 2048;
    c.intermediate_size = 6144;
  } else if (size_class == "4B") {
    c.hidden_size = 2560;
    c.intermediate_size = 9728;
    c.num_hidden_layers = 36;
    c.num_attention_heads = 32;
  }
  return c;
}

// The 5 Hz LM's tokenizer.json lists its 65535 <|audio_code_N|> slots as
// added tokens with ids 151669 + N (acestep-model.md 14.2): appended to a
// Qwen3 base tokenizer.json's added_tokens, every other byte's meaning kept.
Expected<std::string> with_audio_code_tokens(const std::string& text, const std::string& origin) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return Status(ErrorCode::corrupt, origin + ": invalid JSON");
  nlohmann::json& added = json["added_tokens"];
  if (!added.is_array()) added = nlohmann::json::array();
  for (std::int64_t code = 0; code < kAudioCodeSlotCount; ++code) {
    added.push_back({{"id", kAudioCodeFirstTokenId + code},
                     {"content", audio_code_token_text(code)},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", false}});
  }
  return json.dump();
}

// Copies the tokenizer files found in `from` into `to`, tokenizer.json with
// its post_processor set to `post_processor_json` (the text encoder's and
// the LM's differ: 18.1) and, for the LM, its audio-code tokens.
Status copy_tokenizer_files(const std::string& from, const std::string& to,
                            std::string_view post_processor_json, bool audio_codes) {
  int copied = 0;
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"}) {
    const fs::path source = fs::path(from) / name;
    std::error_code error;
    if (!fs::is_regular_file(source, error)) continue;
    std::ifstream in(source, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return Status(ErrorCode::io, source.string() + ": cannot read");
    if (std::string_view(name) == "tokenizer.json") {
      ACEFIT_ASSIGN(bytes, replace_post_processor(bytes, post_processor_json, source.string()));
      if (audio_codes) {
        ACEFIT_ASSIGN(bytes, with_audio_code_tokens(bytes, source.string()));
      }
    }
    ACEFIT_TRY(
        write_file_atomic((fs::path(to) / name).string(),
                          {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}));
    ++copied;
  }
  if (copied == 0 || !fs::exists(fs::path(from) / "tokenizer.json"))
    return Status(ErrorCode::not_found,
                  from + ": no tokenizer.json (the Qwen3 tokenizer files are needed)");
  return Status();
}

}  // namespace

Qwen3Config preset_lm_config(SyntheticPreset preset, const std::string& size_class) {
  return preset_full_size(preset) ? full_lm_config_of(size_class) : synthetic_lm_config();
}

Status check_tokenizer_dir(const std::string& tokenizer_dir) {
  const fs::path file = fs::path(tokenizer_dir) / "tokenizer.json";
  std::error_code error;
  if (!fs::is_regular_file(file, error)) {
    return Status(ErrorCode::not_found,
                  tokenizer_dir + ": no tokenizer.json (the Qwen3 tokenizer files are needed)");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in.is_open()) return Status(ErrorCode::io, file.string() + ": cannot read");
  return Status();
}

Status write_synthetic_checkpoints(const std::string& root,
                                   const SyntheticCheckpointOptions& options) {
  const fs::path base(root);
  const bool full = preset_full_size(options.preset);
  const DitConfig dit = preset_dit_config(options.preset);
  const std::string dit_dir = (base / std::string(preset_dit_folder(options.preset))).string();
  ACEFIT_TRY(make_folder(dit_dir));
  ACEFIT_TRY(write_json(dit_dir + "/config.json", dit_json_with_encoder(dit)));
  ACEFIT_TRY(
      write_weights(dit_dir + "/model.safetensors", expected_dit_tensors(dit), options.seed));
  {
    Rng rng(options.seed ^ 0x5113ce);
    std::vector<float> latent(static_cast<std::size_t>(dit.audio_acoustic_hidden_dim) *
                              kSilenceLatentFrames);
    for (float& value : latent) value = 0.1f * rng.normal();
    const std::int64_t shape[] = {1, dit.audio_acoustic_hidden_dim, kSilenceLatentFrames};
    ACEFIT_TRY(
        write_pt_float_tensor(dit_dir + "/silence_latent.pt", shape, latent, "silence_latent"));
  }

  const VaeConfig vae = full ? VaeConfig{} : synthetic_vae_config();
  const std::string vae_dir = (base / "vae").string();
  ACEFIT_TRY(make_folder(vae_dir));
  ACEFIT_TRY(write_json(vae_dir + "/config.json", vae_json(vae)));
  ACEFIT_TRY(write_weights(vae_dir + "/diffusion_pytorch_model.safetensors",
                           expected_vae_tensors(vae), options.seed + 1));

  if (options.with_text_encoder) {
    const Qwen3Config text = full ? Qwen3Config{} : synthetic_text_encoder_config();
    const std::string text_dir = (base / "Qwen3-Embedding-0.6B").string();
    ACEFIT_TRY(make_folder(text_dir));
    ACEFIT_TRY(write_json(text_dir + "/config.json", qwen3_json(text)));
    ACEFIT_TRY(write_weights(text_dir + "/model.safetensors", expected_qwen3_tensors(text, ""),
                             options.seed + 2));
    if (!options.tokenizer_dir.empty())
      ACEFIT_TRY(copy_tokenizer_files(options.tokenizer_dir, text_dir,
                                      kQwen3EmbeddingPostProcessorJson, false));
  }
  if (options.with_lm) {
    const Qwen3Config lm = full ? full_lm_config() : synthetic_lm_config();
    const std::string lm_dir = (base / "acestep-5Hz-lm-0.6B").string();
    ACEFIT_TRY(make_folder(lm_dir));
    ACEFIT_TRY(write_json(lm_dir + "/config.json", qwen3_json(lm)));
    ACEFIT_TRY(write_weights(lm_dir + "/model.safetensors", expected_qwen3_tensors(lm, "model."),
                             options.seed + 3));
    if (!options.tokenizer_dir.empty())
      ACEFIT_TRY(
          copy_tokenizer_files(options.tokenizer_dir, lm_dir, kByteLevelPostProcessorJson, true));
  }
  return Status();
}

}  // namespace acefit
