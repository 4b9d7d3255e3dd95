// Reading the committed PyTorch goldens (tests/data/golden, docs/GOLDENS.md)
// and comparing C++ results with them, plus the tiny synthetic checkpoint
// they were computed from (written once per test binary).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "device/device.h"
#include "models/dit/condition_encoder.h"
#include "pipeline/generator.h"

namespace acefit::testing {

struct GoldenArray {
  std::vector<std::int64_t> shape;
  std::vector<float> f32;         // F32 tensors
  std::vector<std::int64_t> i64;  // I64 tensors
};

class GoldenFile {
 public:
  explicit GoldenFile(const std::string& name);  // e.g. "dit_step"
  const GoldenArray& operator[](const std::string& tensor) const;
  bool has(const std::string& tensor) const;
  // An F32 golden uploaded as a tensor of its shape.
  Tensor upload(Device& device, const std::string& tensor) const;

 private:
  std::string path_;
  std::vector<std::pair<std::string, GoldenArray>> arrays_;
};

// Cosine similarity >= min_cosine and max |a - e| <= max_abs_ratio * max |e|.
void expect_matches_golden(const std::vector<float>& actual, const GoldenArray& expected,
                           const std::string& what, double min_cosine = 0.99999,
                           double max_abs_ratio = 1e-4);
void expect_matches_golden(const Tensor& actual, const GoldenArray& expected,
                           const std::string& what, double min_cosine = 0.99999,
                           double max_abs_ratio = 1e-4);

// The number of leading ones of each row of an I64 [B, L] mask.
std::vector<std::int64_t> mask_lengths(const GoldenArray& mask);

// The condition encoder inputs of a golden that has them
// (condition_encoder, xl_tiny): text_hidden_states, text_mask,
// lyric_embeddings, lyric_mask and timbre_latents, uploaded to `device`.
models::ConditionInputs golden_condition_inputs(const GoldenFile& golden, Device& device);

// A generator over golden_checkpoints() computing on ctx.device, with f32
// projection matrices on the "cpu" device parameter and bf16 on others.
Generator golden_generator(const ops::OpContext& ctx, const std::string& device_param);

// Samples `plan` from the golden's "noise" [1, T, 64] and `states`, checks
// the state after each step against PREFIX0 .. PREFIX{n-1} and returns the
// final latents.
std::vector<float> sample_and_check_steps(const Generator& generator,
                                          const models::EncoderStates& states,
                                          const GoldenFile& golden, Generator::SamplingPlan plan,
                                          const std::string& prefix);

// The synthetic checkpoints folder (seed 1, no LM) the goldens were made
// from, written on first use under the build folder.
const std::string& golden_checkpoints();

// The same with the XL turbo DiT (preset xl-tiny, seed 1, no LM): the
// checkpoint of the xl_tiny golden.
const std::string& xl_golden_checkpoints();

// The same with the 5 Hz LM (preset tiny, seed 1, no text encoder, no
// tokenizer files): the checkpoint of the lm golden (its
// acestep-5Hz-lm-0.6B folder).
const std::string& lm_golden_checkpoints();

// Synthetic checkpoints (seed 1, no LM) with the real Qwen3 tokenizer files,
// for tests that call generate() with text prompts; written on first use
// under the build folder and removed at exit.
const std::string& tokenized_checkpoints();
// The same with the tiny 5 Hz LM (acestep-5Hz-lm-0.6B, its tokenizer with
// the audio-code tokens); made once.
const std::string& lm_checkpoints();

}  // namespace acefit::testing
