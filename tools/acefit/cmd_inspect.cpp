// acefit inspect PATH [--json] [--summary]: validate and list the tensors of
// a safetensors file, a sharded *.safetensors.index.json, one model folder,
// or a whole checkpoints/ folder. ACE-Step model folders (acestep-v15-*,
// vae, Qwen3-Embedding-*, acestep-5Hz-lm-*) are also checked against their
// config.json, and a DiT's silence_latent.pt is read. Exit 0 when everything
// is valid; 2 with one line per problem on stderr otherwise.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "io/checkpoint/checkpoint_check.h"
#include "io/checkpoint/checkpoint_layout.h"
#include "io/json/strict_json.h"
#include "io/safetensors/safetensors.h"
#include "request_cli.h"

namespace acefit::cli {

namespace {

namespace fs = std::filesystem;

// What was inspected: one weight file, or one model folder (kind set) with
// its problems.
struct Part {
  std::string label;  // folder name or file path
  std::string kind;   // "dit", "vae", "text_encoder", "lm", or "weights"
  std::string path;
  TensorTable table;
  std::vector<std::string> problems;
};

bool is_regular(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Part weights_part(const std::string& weights_path, const PartCheckOptions& options) {
  Part part{weights_path, "weights", weights_path, {}, {}};
  auto table = read_tensor_table(weights_path);
  if (table.ok()) {
    part.table = std::move(table).value();
    if (options.scan_values) {
      if (const Status status = scan_non_finite(weights_path); !status.ok())
        part.problems.push_back(status.message());
    }
  } else {
    part.problems.push_back(table.status().message());
  }
  return part;
}

Part model_part(const ModelPartCheck& check) {
  return {check.name, std::string(model_part_kind_name(check.kind)), check.path, check.table,
          check.problems};
}

std::string folder_name(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

// The parts PATH stands for, or a failure naming it.
Expected<std::vector<Part>> inspect(const std::string& path, const PartCheckOptions& options) {
  if (is_regular(path)) return std::vector<Part>{weights_part(path, options)};
  if (!is_directory(path)) {
    return Status(ErrorCode::not_found, printable(path) + ": not_found: no such file or folder");
  }
  // One ACE-Step model folder.
  ModelPartKind kind{};
  if (model_part_kind_from_folder_name(folder_name(path), kind)) {
    return std::vector<Part>{model_part(check_model_part(kind, path, options))};
  }
  // A checkpoints/ folder.
  if (auto checks = check_checkpoints(path, options); checks.ok()) {
    std::vector<Part> parts;
    for (const ModelPartCheck& check : checks.value()) parts.push_back(model_part(check));
    return parts;
  }
  // Any other model folder, or a folder of them: tensors only.
  if (auto own = find_weight_file(path); own.ok()) {
    return std::vector<Part>{weights_part(own.value(), options)};
  }
  std::error_code error;
  std::vector<std::string> children;
  for (const auto& entry : fs::directory_iterator(path, error)) {
    if (children.size() >= 10000) break;
    children.push_back(entry.path().string());
  }
  if (error) {
    return Status(ErrorCode::io, printable(path) + ": io_error: cannot list: " + error.message());
  }
  std::sort(children.begin(), children.end());
  std::vector<Part> parts;
  for (const std::string& child : children) {
    if (!is_directory(child)) continue;
    if (auto weights = find_weight_file(child); weights.ok()) {
      parts.push_back(weights_part(weights.value(), options));
    }
  }
  if (parts.empty()) {
    return Status(ErrorCode::not_found,
                  printable(path) +
                      ": not_found: no model.safetensors, model.safetensors.index.json or "
                      "diffusion_pytorch_model.safetensors here or in a subfolder");
  }
  return parts;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

void print_text(const Part& part, bool summary) {
  const TensorTable& table = part.table;
  if (part.kind == "weights") {
    std::printf("%s", printable(part.path, 4096).c_str());
  } else {
    std::printf("%s (%s) %s", printable(part.label).c_str(), part.kind.c_str(),
                printable(part.path, 4096).c_str());
  }
  std::printf(": %s\n", part.problems.empty() ? "valid" : "INVALID");
  if (!table.weights_path.empty()) {
    std::printf("  %s (%s): %zu tensors, %llu bytes\n", printable(table.weights_path, 4096).c_str(),
                table.sharded ? "sharded" : "file", table.rows.size(),
                static_cast<unsigned long long>(table.total_bytes));
  }
  for (const auto& [key, value] : table.metadata) {
    std::printf("  metadata %s = %s\n", printable(key).c_str(), printable(value).c_str());
  }
  if (!summary) {
    for (const TensorTableRow& row : table.rows) {
      std::printf("  %-60s %-11s %-24s %14llu%s%s\n", printable(row.tensor.name, 200).c_str(),
                  row.tensor.dtype.c_str(), shape_text(row.tensor.shape).c_str(),
                  static_cast<unsigned long long>(row.bytes), row.shard.empty() ? "" : "  ",
                  printable(row.shard).c_str());
    }
  }
  for (const auto& warning : table.warnings) {
    std::printf("  warning: %s\n", printable(warning, 4096).c_str());
  }
  for (const auto& problem : part.problems) {
    std::printf("  problem: %s\n", problem.c_str());
  }
}

nlohmann::json part_json(const Part& part, bool summary) {
  const TensorTable& table = part.table;
  nlohmann::json out;
  out["name"] = part.label;
  out["kind"] = part.kind;
  out["path"] = part.path;
  out["valid"] = part.problems.empty();
  out["problems"] = part.problems;
  out["weights"] = table.weights_path;
  out["sharded"] = table.sharded;
  out["tensor_count"] = table.rows.size();
  out["total_bytes"] = table.total_bytes;
  out["metadata"] = nlohmann::json::object();
  for (const auto& [key, value] : table.metadata) out["metadata"][key] = value;
  out["warnings"] = table.warnings;
  if (!summary) {
    out["tensors"] = nlohmann::json::array();
    for (const TensorTableRow& row : table.rows) {
      nlohmann::json tensor = {{"name", row.tensor.name},
                               {"dtype", row.tensor.dtype},
                               {"shape", row.tensor.shape},
                               {"bytes", row.bytes}};
      if (!row.shard.empty()) tensor["shard"] = row.shard;
      out["tensors"].push_back(std::move(tensor));
    }
  }
  return out;
}

int run_inspect(const std::string& path, bool json, bool summary, bool no_scan) {
  PartCheckOptions options;
  options.check_tokenizer = true;
  options.scan_values = !no_scan;
  auto parts = inspect(path, options);
  if (!parts.ok()) {
    return report_error("inspect", parts.status().message(), kExitBadInput);
  }
  bool valid = true;
  nlohmann::json out = {{"path", path}, {"parts", nlohmann::json::array()}};
  for (const Part& part : *parts) {
    // Messages are one line each: every untrusted part went through printable().
    for (const std::string& problem : part.problems) {
      report_error("inspect", problem);
    }
    valid = valid && part.problems.empty();
    if (json) {
      out["parts"].push_back(part_json(part, summary));
    } else {
      print_text(part, summary);
    }
  }
  if (json) {
    out["valid"] = valid;
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  return valid ? 0 : 2;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "inspect",
      "List and validate the tensors of a safetensors file, an index, a model folder or a "
      "checkpoints/ folder");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto summary = std::make_shared<bool>(false);
  auto no_scan = std::make_shared<bool>(false);
  keep_text(command->add_option(
                "path", *path,
                "a .safetensors file, a *.safetensors.index.json, a model folder or a folder "
                "of model folders (such as checkpoints/)"))
      ->required();
  command->add_flag("--json", *json, "Print JSON");
  command->add_flag("--summary", *summary, "Leave out the per-tensor rows");
  command->add_flag("--no-scan", *no_scan,
                    "Check headers, configs and tokenizer only: do not read every weight for "
                    "NaN and infinity (the scan reads the whole checkpoint)");
  command->callback([path, json, summary, no_scan, &exit_code] {
    exit_code = run_inspect(*path, *json, *summary, *no_scan);
  });
}

}  // namespace acefit::cli
