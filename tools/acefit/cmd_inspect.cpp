// acefit inspect PATH [--json]: validate and list the tensors of a
// safetensors file, a sharded *.safetensors.index.json, a model folder, or a
// folder of model folders (such as checkpoints/). Exit 0 when everything is
// valid, 2 with one line per failure on stderr otherwise.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "io/safetensors.h"
#include "io/safetensors_index.h"
#include "io/strict_json.h"

namespace acefit::cli {

namespace {

namespace fs = std::filesystem;

// The weight files of a model folder, in the order acestep.cpp looks.
constexpr const char* kWeightFiles[] = {"model.safetensors", "model.safetensors.index.json",
                                        "diffusion_pytorch_model.safetensors"};

struct Row {
  std::string name;
  SafetensorsDtype dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t bytes;
  std::string shard;  // empty for a single file
};

struct Report {
  std::string path;
  std::string kind;  // "file" or "sharded"
  std::vector<Row> rows;
  std::uint64_t total_bytes = 0;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<std::string> warnings;
};

bool is_regular(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The weight file of a model folder, or "".
std::string weight_file_in(const std::string& folder) {
  for (const char* name : kWeightFiles) {
    const std::string candidate = folder + "/" + name;
    if (is_regular(candidate)) return candidate;
  }
  return {};
}

Expected<Report> inspect_file(const std::string& path) {
  Report report;
  report.path = path;
  if (ends_with(path, ".safetensors.index.json")) {
    ACEFIT_ASSIGN(ShardedCheckpoint checkpoint, open_sharded(path));
    report.kind = "sharded";
    for (const auto& tensor : checkpoint.tensors) {
      const SafetensorsTensorInfo& info = checkpoint.info(tensor);
      report.rows.push_back({info.name, info.dtype, info.shape, info.byte_size,
                             checkpoint.shard_names[tensor.shard]});
    }
    report.total_bytes = checkpoint.total_bytes;
    report.warnings = std::move(checkpoint.warnings);
    return report;
  }
  ACEFIT_ASSIGN(SafetensorsFile file, open_safetensors(path));
  report.kind = "file";
  for (const auto& info : file.tensors()) {
    report.rows.push_back({info.name, info.dtype, info.shape, info.byte_size, {}});
  }
  report.total_bytes = file.layout().total_tensor_bytes;
  report.metadata = file.metadata();
  return report;
}

// The files PATH stands for, or a failure naming it.
Expected<std::vector<std::string>> discover(const std::string& path) {
  if (is_regular(path)) return std::vector<std::string>{path};
  if (!is_directory(path)) {
    return Status(ErrorCode::not_found, printable(path) + ": not_found: no such file or folder");
  }
  const std::string own = weight_file_in(path);
  if (!own.empty()) return std::vector<std::string>{own};
  std::vector<std::string> found;
  std::error_code error;
  std::vector<std::string> children;
  for (const auto& entry : fs::directory_iterator(path, error)) {
    children.push_back(entry.path().string());
  }
  std::sort(children.begin(), children.end());
  for (const std::string& child : children) {
    if (!is_directory(child)) continue;
    const std::string weights = weight_file_in(child);
    if (!weights.empty()) found.push_back(weights);
  }
  if (error) {
    return Status(ErrorCode::io, printable(path) + ": io_error: cannot list: " + error.message());
  }
  if (found.empty()) {
    return Status(ErrorCode::not_found,
                  printable(path) +
                      ": not_found: no model.safetensors, model.safetensors.index.json or "
                      "diffusion_pytorch_model.safetensors here or in a subfolder");
  }
  return found;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

void print_text(const Report& report) {
  std::printf("%s (%s): %zu tensors, %llu bytes\n", printable(report.path, 4096).c_str(),
              report.kind.c_str(), report.rows.size(),
              static_cast<unsigned long long>(report.total_bytes));
  for (const auto& [key, value] : report.metadata) {
    std::printf("  metadata %s = %s\n", printable(key).c_str(), printable(value).c_str());
  }
  for (const Row& row : report.rows) {
    std::printf("  %-60s %-11s %-24s %14llu%s%s\n", printable(row.name, 200).c_str(),
                std::string(safetensors_dtype_name(row.dtype)).c_str(),
                shape_text(row.shape).c_str(), static_cast<unsigned long long>(row.bytes),
                row.shard.empty() ? "" : "  ", printable(row.shard).c_str());
  }
  for (const auto& warning : report.warnings) {
    std::printf("  warning: %s\n", printable(warning, 4096).c_str());
  }
}

nlohmann::json report_json(const Report& report) {
  nlohmann::json out;
  out["path"] = report.path;
  out["kind"] = report.kind;
  out["tensor_count"] = report.rows.size();
  out["total_bytes"] = report.total_bytes;
  out["metadata"] = nlohmann::json::object();
  for (const auto& [key, value] : report.metadata) out["metadata"][key] = value;
  out["warnings"] = report.warnings;
  out["tensors"] = nlohmann::json::array();
  for (const Row& row : report.rows) {
    nlohmann::json tensor = {{"name", row.name},
                             {"dtype", std::string(safetensors_dtype_name(row.dtype))},
                             {"shape", row.shape},
                             {"bytes", row.bytes}};
    if (!row.shard.empty()) tensor["shard"] = row.shard;
    out["tensors"].push_back(std::move(tensor));
  }
  return out;
}

int run_inspect(const std::string& path, bool json) {
  auto files = discover(path);
  if (!files.ok()) {
    std::fprintf(stderr, "acefit inspect: %s\n", files.status().message().c_str());
    return 2;
  }
  int exit_code = 0;
  nlohmann::json out = {{"checkpoints", nlohmann::json::array()},
                        {"errors", nlohmann::json::array()}};
  for (const std::string& file : *files) {
    auto report = inspect_file(file);
    if (!report.ok()) {
      // Messages are one line: every untrusted part went through printable().
      std::fprintf(stderr, "acefit inspect: %s\n", report.status().message().c_str());
      out["errors"].push_back(report.status().message());
      exit_code = 2;
      continue;
    }
    if (json) {
      out["checkpoints"].push_back(report_json(*report));
    } else {
      print_text(*report);
    }
  }
  if (json) {
    out["valid"] = exit_code == 0;
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  return exit_code;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "inspect", "List and validate the tensors of a safetensors file, index or folder");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  command
      ->add_option("path", *path,
                   "a .safetensors file, a *.safetensors.index.json, a model folder or a folder "
                   "of model folders")
      ->required();
  command->add_flag("--json", *json, "Print JSON");
  command->callback([path, json, &exit_code] { exit_code = run_inspect(*path, *json); });
}

}  // namespace acefit::cli
