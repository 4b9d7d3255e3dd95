#include "io/checkpoint/checkpoint_check.h"

#include <filesystem>

#include "io/checkpoint/checkpoint_layout.h"
#include "io/checkpoint/model_config.h"
#include "io/json/strict_json.h"
#include "io/safetensors/safetensors.h"
#include "io/safetensors/safetensors_index.h"
#include "io/tokenizer/tokenizer.h"
#include "io/torch/torch_zip.h"

namespace acefit {

namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

TensorTableRow row_of(const SafetensorsTensorInfo& info, std::string shard) {
  return {{info.name, info.shape, std::string(safetensors_dtype_name(info.dtype))},
          info.byte_size,
          std::move(shard)};
}

std::vector<FoundTensor> found_tensors(const TensorTable& table) {
  std::vector<FoundTensor> found;
  found.reserve(table.rows.size());
  for (const TensorTableRow& row : table.rows) found.push_back(row.tensor);
  return found;
}

// Expected tensors of a folder from its config; the LM's prefix is "model."
// unless no stored name carries it (some upstream checkpoints omit it).
Expected<std::vector<TensorSpec>> expected_tensors(ModelPartKind kind, const std::string& folder,
                                                   const TensorTable& table,
                                                   TensorCheckOptions& options) {
  switch (kind) {
    case ModelPartKind::dit: {
      ACEFIT_ASSIGN(const DitConfig config, load_dit_config(folder));
      return expected_dit_tensors(config);
    }
    case ModelPartKind::vae: {
      ACEFIT_ASSIGN(const VaeConfig config, load_vae_config(folder));
      return expected_vae_tensors(config);
    }
    case ModelPartKind::text_encoder: {
      ACEFIT_ASSIGN(const Qwen3Config config, load_qwen3_config(folder));
      return expected_qwen3_tensors(config, "");
    }
    case ModelPartKind::lm: {
      ACEFIT_ASSIGN(const Qwen3Config config, load_qwen3_config(folder));
      bool prefixed = false;
      for (const TensorTableRow& row : table.rows) {
        prefixed = prefixed || starts_with(row.tensor.name, "model.");
      }
      options.optional_names.push_back("lm_head.weight");  // tied to the embedding
      return expected_qwen3_tensors(config, prefixed || table.rows.empty() ? "model." : "");
    }
  }
  return Status(ErrorCode::internal, "unknown model part kind");
}

}  // namespace

std::string_view model_part_kind_name(ModelPartKind kind) {
  switch (kind) {
    case ModelPartKind::dit:
      return "dit";
    case ModelPartKind::vae:
      return "vae";
    case ModelPartKind::text_encoder:
      return "text_encoder";
    case ModelPartKind::lm:
      return "lm";
  }
  return "unknown";
}

bool model_part_kind_from_folder_name(std::string_view name, ModelPartKind& kind) {
  if (starts_with(name, "acestep-v15")) {
    kind = ModelPartKind::dit;
  } else if (name == "vae") {
    kind = ModelPartKind::vae;
  } else if (starts_with(name, "Qwen3-Embedding")) {
    kind = ModelPartKind::text_encoder;
  } else if (starts_with(name, "acestep-5Hz-lm-")) {
    kind = ModelPartKind::lm;
  } else {
    return false;
  }
  return true;
}

Expected<TensorTable> read_tensor_table(const std::string& weights_path) {
  TensorTable table;
  table.weights_path = weights_path;
  if (ends_with(weights_path, ".safetensors.index.json")) {
    ACEFIT_ASSIGN(ShardedCheckpoint checkpoint, open_sharded(weights_path));
    table.sharded = true;
    for (const ShardedTensor& tensor : checkpoint.tensors) {
      table.rows.push_back(row_of(checkpoint.info(tensor), checkpoint.shard_names[tensor.shard]));
    }
    table.total_bytes = checkpoint.total_bytes;
    table.warnings = std::move(checkpoint.warnings);
    return table;
  }
  ACEFIT_ASSIGN(const SafetensorsFile file, open_safetensors(weights_path));
  for (const SafetensorsTensorInfo& info : file.tensors()) table.rows.push_back(row_of(info, {}));
  table.total_bytes = file.layout().total_tensor_bytes;
  table.metadata = file.metadata();
  return table;
}

Status scan_non_finite(const std::string& weights_path) {
  if (ends_with(weights_path, ".safetensors.index.json")) {
    ACEFIT_ASSIGN(const ShardedCheckpoint checkpoint, open_sharded(weights_path));
    for (const SafetensorsFile& shard : checkpoint.shards) ACEFIT_TRY(shard.check_all_finite());
    return Status();
  }
  ACEFIT_ASSIGN(const SafetensorsFile file, open_safetensors(weights_path));
  return file.check_all_finite();
}

Status check_tokenizer_files(const std::string& folder) {
  // The rule generate follows: tokenizer.json, else vocab.json + merges.txt.
  const std::filesystem::path dir(folder);
  std::error_code error;
  const bool any = std::filesystem::exists(dir / "tokenizer.json", error) ||
                   std::filesystem::exists(dir / "vocab.json", error);
  if (!any) {
    return Status(ErrorCode::not_found,
                  printable(folder, 4096) +
                      ": no tokenizer files (tokenizer.json, or vocab.json + merges.txt); "
                      "generate needs them");
  }
  auto tokenizer = Tokenizer::load(folder);
  if (!tokenizer.ok()) return tokenizer.status();
  return Status();
}

ModelPartCheck check_model_part(ModelPartKind kind, const std::string& folder,
                                const PartCheckOptions& part_options) {
  ModelPartCheck check;
  check.kind = kind;
  check.path = folder;
  check.name = std::filesystem::path(folder).filename().string();
  if (check.name.empty()) check.name = std::filesystem::path(folder).parent_path().filename();

  auto weights = find_weight_file(folder);
  if (!weights.ok()) {
    check.problems.push_back(weights.status().message());
  } else {
    auto table = read_tensor_table(weights.value());
    if (table.ok()) {
      check.table = std::move(table).value();
    } else {
      check.problems.push_back(table.status().message());
    }
  }

  TensorCheckOptions options;
  auto expected = expected_tensors(kind, folder, check.table, options);
  if (!expected.ok()) {
    check.problems.push_back(expected.status().message());
  } else if (weights.ok() && !check.table.rows.empty()) {
    for (const std::string& problem :
         tensor_problems(expected.value(), found_tensors(check.table), options)) {
      check.problems.push_back(check.table.weights_path + ": " + problem);
    }
  }

  if (kind == ModelPartKind::dit) {
    std::int64_t channels = DitConfig{}.audio_acoustic_hidden_dim;
    if (auto config = load_dit_config(folder); config.ok()) {
      channels = config->audio_acoustic_hidden_dim;
    }
    const std::int64_t shape[] = {1, channels, kSilenceLatentFrames};
    const std::string path = (std::filesystem::path(folder) / "silence_latent.pt").string();
    if (auto latent = read_pt_float_tensor(path, shape); !latent.ok()) {
      check.problems.push_back(latent.status().message());
    }
  }
  if (part_options.check_tokenizer && kind == ModelPartKind::text_encoder) {
    if (const Status status = check_tokenizer_files(folder); !status.ok())
      check.problems.push_back(status.message());
  }
  // Values only of a table that read cleanly (a damaged header is reported already).
  if (part_options.scan_values && weights.ok() && !check.table.rows.empty()) {
    if (const Status status = scan_non_finite(check.table.weights_path); !status.ok())
      check.problems.push_back(status.message());
  }
  return check;
}

Expected<std::vector<ModelPartCheck>> check_checkpoints(const std::string& root,
                                                        const PartCheckOptions& options) {
  ACEFIT_ASSIGN(const CheckpointLayout layout, discover_checkpoints(root));
  std::vector<ModelPartCheck> checks;
  for (const DitFolder& dit : layout.dits) {
    checks.push_back(check_model_part(ModelPartKind::dit, dit.path, options));
  }
  if (layout.vae) checks.push_back(check_model_part(ModelPartKind::vae, *layout.vae, options));
  if (layout.text_encoder) {
    checks.push_back(check_model_part(ModelPartKind::text_encoder, *layout.text_encoder, options));
  }
  for (const LmFolder& lm : layout.lms)
    checks.push_back(check_model_part(ModelPartKind::lm, lm.path, options));
  if (checks.empty()) {
    return Status(ErrorCode::not_found,
                  root +
                      ": no acestep-v15-*, vae, Qwen3-Embedding-0.6B or acestep-5Hz-lm-* "
                      "folder here");
  }
  return checks;
}

}  // namespace acefit
