// Finding the parts of an ACE-Step 1.5 `checkpoints/` folder as users
// download it (spec: acestep-model.md section 3.1): DiT folders
// (acestep-v15-*), vae/, Qwen3-Embedding-0.6B/ and the 5 Hz LMs
// (acestep-5Hz-lm-*), and the weight file(s) of each.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace acefit {

struct DitFolder {
  std::string name;  // e.g. "acestep-v15-turbo"
  std::string path;
  bool turbo = false;  // the name contains "turbo"
  bool xl = false;     // the name has an "xl" token
};

struct LmFolder {
  std::string name;  // e.g. "acestep-5Hz-lm-1.7B"
  std::string path;
  std::string size_class;  // "0.6B", "1.7B" or "4B"
};

struct CheckpointLayout {
  std::string root;
  std::vector<DitFolder> dits;  // sorted by name
  std::optional<std::string> vae;
  std::optional<std::string> text_encoder;
  std::vector<LmFolder> lms;  // sorted by name
};

// Lists the parts found under root. not_found when root is not a folder;
// missing parts are simply absent (callers decide what they need).
Expected<CheckpointLayout> discover_checkpoints(const std::string& root);

// The weights of one model folder, in discovery order: model.safetensors,
// else model.safetensors.index.json, else diffusion_pytorch_model.safetensors.
// not_found names the folder and the three names tried.
Expected<std::string> find_weight_file(const std::string& model_dir);

// LM size class by substring, tested in the order 0.6B, 1.7B, 4B (default 0.6B).
std::string lm_size_class(const std::string& folder_name);

}  // namespace acefit
