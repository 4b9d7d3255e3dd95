// A tiny 5 Hz LM for the model and KV cache tests: seeded weights kept on
// the host (so a naive reference can read them) and written as a checkpoint
// folder in the real layout (config.json, model.safetensors with or
// without the "model." prefix, optionally a tied lm_head.weight).
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/rng.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "io/checkpoint/model_config.h"
#include "io/safetensors/safetensors_writer.h"

namespace acefit::testing {

// 1 or 2 layers, vocab 300, hidden 32, 4 query / 2 key-value heads of 8,
// RoPE theta 1e4 (positions matter at a few tokens).
inline Qwen3Config tiny_lm_config(std::int64_t layers = 2) {
  Qwen3Config c;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 1e4;
  c.vocab_size = 300;
  c.max_position_embeddings = 4096;
  return c;
}

struct TinyLmWeights {
  Qwen3Config config;
  // By name without prefix; values are bf16-exact, so f32 and bf16 loads
  // hold the same numbers.
  std::map<std::string, std::vector<float>> values;
  std::map<std::string, std::vector<std::int64_t>> shapes;
  const std::vector<float>& at(const std::string& name) const { return values.at(name); }
};

inline TinyLmWeights make_tiny_lm_weights(const Qwen3Config& config, std::uint64_t seed) {
  TinyLmWeights w;
  w.config = config;
  Rng rng(seed);
  for (const TensorSpec& spec : expected_qwen3_tensors(config, "")) {
    std::int64_t count = 1;
    for (const std::int64_t d : spec.shape) count *= d;
    const bool norm =
        spec.name.size() >= 11 && spec.name.compare(spec.name.size() - 11, 11, "norm.weight") == 0;
    const bool table = spec.name == "embed_tokens.weight";
    const float fan_in = spec.shape.size() > 1 ? static_cast<float>(spec.shape[1]) : 1.0f;
    std::vector<float> values(static_cast<std::size_t>(count));
    for (float& v : values) {
      const float raw = norm    ? 1.0f + 0.1f * rng.normal()
                        : table ? rng.normal()
                                : rng.normal() / std::sqrt(fan_in);
      v = bf16_to_f32(f32_to_bf16(raw));
    }
    w.values[spec.name] = std::move(values);
    w.shapes[spec.name] = spec.shape;
  }
  return w;
}

// Writes <dir>/config.json and <dir>/model.safetensors (F32). With
// lm_head, an extra "lm_head.weight" of other values (it must be ignored).
inline void write_tiny_lm(const std::string& dir, const TinyLmWeights& w, const std::string& prefix,
                          bool lm_head) {
  const Qwen3Config& c = w.config;
  const nlohmann::ordered_json json = {{"architectures", {"Qwen3ForCausalLM"}},
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
                                       {"tie_word_embeddings", true},
                                       {"max_position_embeddings", c.max_position_embeddings}};
  std::ofstream(dir + "/config.json") << json.dump(2) << "\n";
  std::vector<SafetensorsEntry> entries;
  const auto entry = [&](const std::string& name, const std::vector<float>& values,
                         const std::vector<std::int64_t>& shape) {
    std::vector<std::uint64_t> dims(shape.begin(), shape.end());
    entries.push_back({name, SafetensorsDtype::f32, dims,
                       std::as_bytes(std::span<const float>(values.data(), values.size()))});
  };
  for (const auto& [name, values] : w.values) entry(prefix + name, values, w.shapes.at(name));
  std::vector<float> head(w.at("embed_tokens.weight").size(), 7.0f);
  if (lm_head) entry("lm_head.weight", head, w.shapes.at("embed_tokens.weight"));
  const Status status = write_safetensors(dir + "/model.safetensors", entries);
  if (!status.ok()) throw std::runtime_error(status.to_string());
}

}  // namespace acefit::testing
