// Validating the model folders of an ACE-Step 1.5 `checkpoints/` folder
// without loading any weight: each folder's config.json is read into its
// typed config, the weight file's (or shards') tensor table is checked
// against every tensor that config implies, and a DiT folder's
// silence_latent.pt is read and its shape checked. All problems of a folder
// are reported together. `acefit inspect` is the command-line face of this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "io/checkpoint/checkpoint_tensors.h"

namespace acefit {

enum class ModelPartKind { dit, vae, text_encoder, lm };

std::string_view model_part_kind_name(ModelPartKind kind);  // "dit", "vae", ...

// The tensors of one weight file or sharded index, as their headers state.
struct TensorTableRow {
  FoundTensor tensor;
  std::uint64_t bytes = 0;
  std::string shard;  // file name of the shard; empty for a single file
};

struct TensorTable {
  std::string weights_path;
  bool sharded = false;
  std::vector<TensorTableRow> rows;  // in header (or weight_map) order
  std::uint64_t total_bytes = 0;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<std::string> warnings;
};

// Opens and validates a .safetensors file or a *.safetensors.index.json and
// its shards (every rule of the reliability spec); reads no tensor data.
Expected<TensorTable> read_tensor_table(const std::string& weights_path);

// The kind a folder name stands for in a checkpoints/ folder, if any:
// acestep-v15-* (dit), vae, Qwen3-Embedding-* (text_encoder),
// acestep-5Hz-lm-* (lm).
bool model_part_kind_from_folder_name(std::string_view name, ModelPartKind& kind);

// The silence latent is [1, audio_acoustic_hidden_dim, 15000] f32.
inline constexpr std::int64_t kSilenceLatentFrames = 15000;

struct ModelPartCheck {
  ModelPartKind kind = ModelPartKind::dit;
  std::string name;  // the folder name
  std::string path;
  TensorTable table;                  // empty when the weights could not be read
  std::vector<std::string> problems;  // one-line messages; empty when valid
  bool valid() const { return problems.empty(); }
};

// The checks beyond the headers, which read more than headers (both off by
// default; `acefit inspect` turns both on).
struct PartCheckOptions {
  // Read every floating tensor and report the first NaN or infinity (S21),
  // naming the file and the tensor.
  bool scan_values = false;
  // Load a text encoder folder's tokenizer files as `generate` does: none
  // there, an empty, truncated or corrupt file, a folder or a FIFO in a
  // file's place are problems.
  bool check_tokenizer = false;
};

// Checks one model folder of the given kind.
ModelPartCheck check_model_part(ModelPartKind kind, const std::string& folder,
                                const PartCheckOptions& options = {});

// Checks every part discover_checkpoints() finds under root, in the order
// DiTs, vae, text encoder, LMs. not_found when root is not a folder or
// holds none of them.
Expected<std::vector<ModelPartCheck>> check_checkpoints(const std::string& root,
                                                        const PartCheckOptions& options = {});

// S21 over a .safetensors file or every shard of an index: non_finite
// naming the file, the tensor and the element of the first NaN or infinity.
Status scan_non_finite(const std::string& weights_path);

// The tokenizer of a text encoder folder loads (see check_tokenizer).
Status check_tokenizer_files(const std::string& folder);

}  // namespace acefit
