#include "io/checkpoint/checkpoint_layout.h"

#include <algorithm>
#include <filesystem>

namespace acefit {

namespace fs = std::filesystem;

namespace {

bool is_dir(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// "xl" as a dash-separated token: acestep-v15-xl-turbo, not "...-xlarge".
bool has_xl_token(const std::string& name) {
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find('-', start), name.size());
    if (name.compare(start, end - start, "xl") == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

std::string lm_size_class(const std::string& folder_name) {
  for (const char* size : {"0.6B", "1.7B", "4B"}) {
    if (folder_name.find(size) != std::string::npos) return size;
  }
  return "0.6B";
}

Expected<std::string> find_weight_file(const std::string& model_dir) {
  for (const char* name : {"model.safetensors", "model.safetensors.index.json",
                           "diffusion_pytorch_model.safetensors"}) {
    const fs::path candidate = fs::path(model_dir) / name;
    if (is_file(candidate)) return candidate.string();
  }
  return Status(ErrorCode::not_found,
                model_dir +
                    ": no weights (looked for model.safetensors, "
                    "model.safetensors.index.json, diffusion_pytorch_model.safetensors)");
}

Expected<CheckpointLayout> discover_checkpoints(const std::string& root) {
  if (!is_dir(root)) return Status(ErrorCode::not_found, root + ": not a folder");
  CheckpointLayout layout;
  layout.root = root;
  std::error_code error;
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    if (entries.size() >= 10000) break;  // a checkpoints folder holds a handful
    entries.push_back(entry.path());
  }
  if (error) return Status(ErrorCode::io, root + ": cannot list: " + error.message());
  std::sort(entries.begin(), entries.end());
  for (const fs::path& path : entries) {
    if (!is_dir(path)) continue;
    const std::string name = path.filename().string();
    if (starts_with(name, "acestep-v15")) {
      layout.dits.push_back(
          {name, path.string(), name.find("turbo") != std::string::npos, has_xl_token(name)});
    } else if (starts_with(name, "acestep-5Hz-lm-")) {
      layout.lms.push_back({name, path.string(), lm_size_class(name)});
    } else if (name == "vae") {
      layout.vae = path.string();
    } else if (name == "Qwen3-Embedding-0.6B") {
      layout.text_encoder = path.string();
    }
  }
  return layout;
}

}  // namespace acefit
