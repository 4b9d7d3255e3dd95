#include "io/checkpoint/checkpoint_tensors.h"

#include <algorithm>
#include <map>
#include <set>

#include "io/json/strict_json.h"

namespace acefit {

namespace {

using Shape64 = std::vector<std::int64_t>;

constexpr std::int64_t kTimestepFrequencies = 256;  // sinusoidal embedding width
constexpr std::int64_t kVaeKernel = 7;

void add(std::vector<TensorSpec>& out, const std::string& name, Shape64 shape) {
  out.push_back({name, std::move(shape)});
}

// The 11 tensors of a pre-norm Qwen3 block (attention with q/k norms, SwiGLU).
void add_qwen3_block(std::vector<TensorSpec>& out, const std::string& p, std::int64_t hidden,
                     std::int64_t heads, std::int64_t kv_heads, std::int64_t head_dim,
                     std::int64_t intermediate) {
  add(out, p + "input_layernorm.weight", {hidden});
  add(out, p + "post_attention_layernorm.weight", {hidden});
  add(out, p + "self_attn.q_proj.weight", {heads * head_dim, hidden});
  add(out, p + "self_attn.k_proj.weight", {kv_heads * head_dim, hidden});
  add(out, p + "self_attn.v_proj.weight", {kv_heads * head_dim, hidden});
  add(out, p + "self_attn.o_proj.weight", {hidden, heads * head_dim});
  add(out, p + "self_attn.q_norm.weight", {head_dim});
  add(out, p + "self_attn.k_norm.weight", {head_dim});
  add(out, p + "mlp.gate_proj.weight", {intermediate, hidden});
  add(out, p + "mlp.up_proj.weight", {intermediate, hidden});
  add(out, p + "mlp.down_proj.weight", {hidden, intermediate});
}

void add_encoder_stack(std::vector<TensorSpec>& out, const std::string& p, std::int64_t layers,
                       const DitConfig& c) {
  for (std::int64_t i = 0; i < layers; ++i) {
    add_qwen3_block(out, p + "layers." + std::to_string(i) + ".", c.hidden_size,
                    c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.intermediate_size);
  }
  add(out, p + "norm.weight", {c.hidden_size});
}

void add_attention(std::vector<TensorSpec>& out, const std::string& p, const DitConfig& c) {
  const std::int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim,
                     kv = c.num_key_value_heads * c.head_dim;
  add(out, p + "q_proj.weight", {q, h});
  add(out, p + "k_proj.weight", {kv, h});
  add(out, p + "v_proj.weight", {kv, h});
  add(out, p + "o_proj.weight", {h, q});
  add(out, p + "q_norm.weight", {c.head_dim});
  add(out, p + "k_norm.weight", {c.head_dim});
}

void add_time_embedding(std::vector<TensorSpec>& out, const std::string& p, std::int64_t h) {
  add(out, p + "linear_1.weight", {h, kTimestepFrequencies});
  add(out, p + "linear_1.bias", {h});
  add(out, p + "linear_2.weight", {h, h});
  add(out, p + "linear_2.bias", {h});
  add(out, p + "time_proj.weight", {6 * h, h});
  add(out, p + "time_proj.bias", {6 * h});
}

// A weight-normalised conv: weight_v, weight_g (one norm per dim-0 slice), bias.
void add_wn_conv(std::vector<TensorSpec>& out, const std::string& p, Shape64 v_shape, bool bias,
                 std::int64_t bias_size) {
  const std::int64_t rows = v_shape[0];
  add(out, p + "weight_v", std::move(v_shape));
  add(out, p + "weight_g", {rows, 1, 1});
  if (bias) add(out, p + "bias", {bias_size});
}

void add_snake(std::vector<TensorSpec>& out, const std::string& p, std::int64_t channels) {
  add(out, p + "alpha", {1, channels, 1});
  add(out, p + "beta", {1, channels, 1});
}

void add_res_unit(std::vector<TensorSpec>& out, const std::string& p, std::int64_t c) {
  add_snake(out, p + "snake1.", c);
  add_wn_conv(out, p + "conv1.", {c, c, kVaeKernel}, true, c);
  add_snake(out, p + "snake2.", c);
  add_wn_conv(out, p + "conv2.", {c, c, 1}, true, c);
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string shape_text(const Shape64& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

std::vector<TensorSpec> expected_dit_tensors(const DitConfig& c) {
  std::vector<TensorSpec> out;
  const std::int64_t h = c.hidden_size;
  // The condition encoder, FSQ tokenizer and detokenizer have the encoder
  // dims (the decoder's unless the config gives encoder_*: the XL models).
  const DitConfig e = c.encoder_config();
  const std::int64_t eh = e.hidden_size;
  // Decoder.
  add_time_embedding(out, "decoder.time_embed.", h);
  add_time_embedding(out, "decoder.time_embed_r.", h);
  add(out, "decoder.proj_in.1.weight", {h, c.in_channels, c.patch_size});
  add(out, "decoder.proj_in.1.bias", {h});
  add(out, "decoder.condition_embedder.weight", {h, eh});
  add(out, "decoder.condition_embedder.bias", {h});
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "decoder.layers." + std::to_string(i) + ".";
    add(out, p + "self_attn_norm.weight", {h});
    add_attention(out, p + "self_attn.", c);
    add(out, p + "cross_attn_norm.weight", {h});
    add_attention(out, p + "cross_attn.", c);
    add(out, p + "mlp_norm.weight", {h});
    add(out, p + "mlp.gate_proj.weight", {c.intermediate_size, h});
    add(out, p + "mlp.up_proj.weight", {c.intermediate_size, h});
    add(out, p + "mlp.down_proj.weight", {h, c.intermediate_size});
    add(out, p + "scale_shift_table", {1, 6, h});
  }
  add(out, "decoder.norm_out.weight", {h});
  add(out, "decoder.scale_shift_table", {1, 2, h});
  add(out, "decoder.proj_out.1.weight", {h, c.audio_acoustic_hidden_dim, c.patch_size});
  add(out, "decoder.proj_out.1.bias", {c.audio_acoustic_hidden_dim});
  // Condition encoder.
  add(out, "encoder.text_projector.weight", {eh, e.text_hidden_dim});
  add(out, "encoder.lyric_encoder.embed_tokens.weight", {eh, e.text_hidden_dim});
  add(out, "encoder.lyric_encoder.embed_tokens.bias", {eh});
  add_encoder_stack(out, "encoder.lyric_encoder.", e.num_lyric_encoder_hidden_layers, e);
  add(out, "encoder.timbre_encoder.embed_tokens.weight", {eh, e.timbre_hidden_dim});
  add(out, "encoder.timbre_encoder.embed_tokens.bias", {eh});
  add(out, "encoder.timbre_encoder.special_token", {1, 1, eh});
  add_encoder_stack(out, "encoder.timbre_encoder.", e.num_timbre_encoder_hidden_layers, e);
  // FSQ tokenizer.
  const auto levels = static_cast<std::int64_t>(e.fsq_input_levels.size());
  add(out, "tokenizer.audio_acoustic_proj.weight", {eh, e.audio_acoustic_hidden_dim});
  add(out, "tokenizer.audio_acoustic_proj.bias", {eh});
  add(out, "tokenizer.attention_pooler.embed_tokens.weight", {eh, eh});
  add(out, "tokenizer.attention_pooler.embed_tokens.bias", {eh});
  add(out, "tokenizer.attention_pooler.special_token", {1, 1, eh});
  add_encoder_stack(out, "tokenizer.attention_pooler.", e.num_attention_pooler_hidden_layers, e);
  add(out, "tokenizer.quantizer.project_in.weight", {levels, e.fsq_dim});
  add(out, "tokenizer.quantizer.project_in.bias", {levels});
  add(out, "tokenizer.quantizer.project_out.weight", {e.fsq_dim, levels});
  add(out, "tokenizer.quantizer.project_out.bias", {e.fsq_dim});
  // Detokenizer and the null condition (which stands in for encoder states).
  add(out, "detokenizer.embed_tokens.weight", {eh, eh});
  add(out, "detokenizer.embed_tokens.bias", {eh});
  add(out, "detokenizer.special_tokens", {1, e.pool_window_size, eh});
  add_encoder_stack(out, "detokenizer.", e.num_attention_pooler_hidden_layers, e);
  add(out, "detokenizer.proj_out.weight", {e.audio_acoustic_hidden_dim, eh});
  add(out, "detokenizer.proj_out.bias", {e.audio_acoustic_hidden_dim});
  add(out, "null_condition_emb", {1, 1, eh});
  return out;
}

std::vector<TensorSpec> expected_vae_tensors(const VaeConfig& c) {
  std::vector<TensorSpec> out;
  // Channel multiples with a leading 1, as the Oobleck blocks use them.
  std::vector<std::int64_t> mult = {1};
  mult.insert(mult.end(), c.channel_multiples.begin(), c.channel_multiples.end());
  const auto n = static_cast<std::int64_t>(c.downsampling_ratios.size());
  auto at = [](const std::vector<std::int64_t>& v, std::int64_t i) {
    return v[static_cast<std::size_t>(i)];
  };

  const std::int64_t dc = c.decoder_channels;
  add_wn_conv(out, "decoder.conv1.", {dc * at(mult, n), c.decoder_input_channels, kVaeKernel}, true,
              dc * at(mult, n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string p = "decoder.block." + std::to_string(i) + ".";
    const std::int64_t c_in = dc * at(mult, n - i), c_out = dc * at(mult, n - i - 1);
    const std::int64_t stride = at(c.downsampling_ratios, n - 1 - i);
    add_snake(out, p + "snake1.", c_in);
    add_wn_conv(out, p + "conv_t1.", {c_in, c_out, 2 * stride}, true, c_out);
    for (int r = 1; r <= 3; ++r) add_res_unit(out, p + "res_unit" + std::to_string(r) + ".", c_out);
  }
  add_snake(out, "decoder.snake1.", dc);
  add_wn_conv(out, "decoder.conv2.", {c.audio_channels, dc, kVaeKernel}, false, 0);

  const std::int64_t ec = c.encoder_hidden_size;
  add_wn_conv(out, "encoder.conv1.", {ec, c.audio_channels, kVaeKernel}, true, ec);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string p = "encoder.block." + std::to_string(i) + ".";
    const std::int64_t c_in = ec * at(mult, i), c_out = ec * at(mult, i + 1);
    const std::int64_t stride = at(c.downsampling_ratios, i);
    for (int r = 1; r <= 3; ++r) add_res_unit(out, p + "res_unit" + std::to_string(r) + ".", c_in);
    add_snake(out, p + "snake1.", c_in);
    add_wn_conv(out, p + "conv1.", {c_out, c_in, 2 * stride}, true, c_out);
  }
  const std::int64_t top = ec * at(mult, n);
  add_snake(out, "encoder.snake1.", top);
  add_wn_conv(out, "encoder.conv2.", {2 * c.decoder_input_channels, top, 3}, true,
              2 * c.decoder_input_channels);
  return out;
}

std::vector<TensorSpec> expected_qwen3_tensors(const Qwen3Config& c, const std::string& prefix) {
  std::vector<TensorSpec> out;
  add(out, prefix + "embed_tokens.weight", {c.vocab_size, c.hidden_size});
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    add_qwen3_block(out, prefix + "layers." + std::to_string(i) + ".", c.hidden_size,
                    c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.intermediate_size);
  }
  add(out, prefix + "norm.weight", {c.hidden_size});
  return out;
}

std::vector<std::string> tensor_problems(const std::vector<TensorSpec>& expected,
                                         const std::vector<FoundTensor>& found,
                                         const TensorCheckOptions& options) {
  std::map<std::string, const FoundTensor*> by_name;
  for (const FoundTensor& t : found) by_name[t.name] = &t;
  const std::set<std::string> optional(options.optional_names.begin(),
                                       options.optional_names.end());
  std::vector<std::string> problems;
  std::set<std::string> seen;
  for (const TensorSpec& spec : expected) {
    seen.insert(spec.name);
    auto it = by_name.find(spec.name);
    if (it == by_name.end()) {
      problems.push_back("missing tensor '" + spec.name + "' " + shape_text(spec.shape));
      continue;
    }
    const FoundTensor& t = *it->second;
    bool same = t.shape.size() == spec.shape.size();
    for (std::size_t i = 0; same && i < t.shape.size(); ++i) {
      same = t.shape[i] == static_cast<std::uint64_t>(spec.shape[i]);
    }
    if (!same) {
      problems.push_back("tensor '" + spec.name + "' has shape " + shape_text(t.shape) +
                         ", the config implies " + shape_text(spec.shape));
    }
    if (std::find(options.allowed_dtypes.begin(), options.allowed_dtypes.end(), t.dtype) ==
        options.allowed_dtypes.end()) {
      problems.push_back("tensor '" + spec.name + "' has dtype " + t.dtype +
                         ", which acefit cannot use here");
    }
  }
  for (const FoundTensor& t : found) {
    if (seen.count(t.name) == 0 && optional.count(t.name) == 0) {
      problems.push_back("unexpected tensor '" + printable(t.name, 200) + "' " +
                         shape_text(t.shape));
    }
  }
  return problems;
}

Status check_tensors(const std::string& origin, const std::vector<TensorSpec>& expected,
                     const std::vector<FoundTensor>& found, const TensorCheckOptions& options) {
  const std::vector<std::string> problems = tensor_problems(expected, found, options);
  if (problems.empty()) return {};
  constexpr std::size_t kShown = 40;
  std::string message = origin + ": " + std::to_string(problems.size()) + " tensor problem" +
                        (problems.size() == 1 ? "" : "s") + " against config.json:";
  for (std::size_t i = 0; i < problems.size() && i < kShown; ++i) message += "\n  " + problems[i];
  if (problems.size() > kShown)
    message += "\n  ... and " + std::to_string(problems.size() - kShown) + " more";
  return Status(ErrorCode::corrupt, message);
}

}  // namespace acefit
