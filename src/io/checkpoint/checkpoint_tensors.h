// The tensors each ACE-Step 1.5 checkpoint must hold, with the shapes its
// config implies (spec: acestep-model.md section 15), and the check of a
// checkpoint's tensor table against them that reports every mismatch at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/checkpoint/model_config.h"

namespace acefit {

struct TensorSpec {
  std::string name;
  std::vector<std::int64_t> shape;
};

// What a checkpoint file actually holds (from its safetensors header).
struct FoundTensor {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::string dtype;  // safetensors dtype name, e.g. "BF16"
};

// DiT folder: decoder, condition encoder, FSQ tokenizer, detokenizer and
// null_condition_emb (677 tensors at the shipped dims).
std::vector<TensorSpec> expected_dit_tensors(const DitConfig& config);
// VAE folder: decoder and encoder (365 tensors at the shipped dims).
std::vector<TensorSpec> expected_vae_tensors(const VaeConfig& config);
// A Qwen3 stack with its name prefix ("" for Qwen3-Embedding, "model." for
// the 5 Hz LM): embedding, layers and final norm (310 for the text encoder).
std::vector<TensorSpec> expected_qwen3_tensors(const Qwen3Config& config,
                                               const std::string& prefix);

struct TensorCheckOptions {
  std::vector<std::string> allowed_dtypes = {"BF16", "F16", "F32"};
  // Names that may be present beyond the expected set (e.g. a tied
  // "lm_head.weight" in an LM checkpoint).
  std::vector<std::string> optional_names;
};

// One line per missing tensor, unexpected tensor, wrong shape and unusable
// dtype, in expected order then found order; empty when all match.
std::vector<std::string> tensor_problems(const std::vector<TensorSpec>& expected,
                                         const std::vector<FoundTensor>& found,
                                         const TensorCheckOptions& options = {});

// corrupt naming every missing tensor, unexpected tensor, wrong shape and
// unusable dtype (the first 40, then a count), or ok.
Status check_tensors(const std::string& origin, const std::vector<TensorSpec>& expected,
                     const std::vector<FoundTensor>& found, const TensorCheckOptions& options = {});

}  // namespace acefit
