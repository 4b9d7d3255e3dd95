// Reading the committed PyTorch goldens (tests/data/golden, docs/GOLDENS.md)
// and comparing C++ results with them, plus the tiny synthetic checkpoint
// they were computed from (written once per test binary).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "device/device.h"

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

// The synthetic checkpoints folder (seed 1, no LM) the goldens were made
// from, written on first use under the build folder.
const std::string& golden_checkpoints();

// The same with the XL turbo DiT (preset xl-tiny, seed 1, no LM): the
// checkpoint of the xl_tiny golden.
const std::string& xl_golden_checkpoints();

// Synthetic checkpoints (seed 1, no LM) with the real Qwen3 tokenizer files,
// for tests that call generate() with text prompts; written on first use
// under the build folder and removed at exit.
const std::string& tokenized_checkpoints();

}  // namespace acefit::testing
