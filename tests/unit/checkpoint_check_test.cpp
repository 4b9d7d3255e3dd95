// Checkpoint folders end to end: the synthetic checkpoints (written with the
// safetensors and .pt writers) validate; every kind of damage to a model
// folder is reported, all problems at once, naming the file and tensor; the
// writers round-trip through the hardened readers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/checkpoint/checkpoint_check.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "io/checkpoint/checkpoint_tensors.h"
#include "io/safetensors/safetensors.h"
#include "io/safetensors/safetensors_writer.h"
#include "io/torch/pt_writer.h"
#include "io/torch/torch_zip.h"
#include "safetensors_test_util.h"

namespace acefit {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// Writes zero-valued bf16 weights for `specs` to `path`.
void write_zero_weights(const std::string& path, const std::vector<TensorSpec>& specs) {
  std::vector<std::vector<std::uint16_t>> buffers;
  std::vector<SafetensorsEntry> entries;
  buffers.reserve(specs.size());
  for (const TensorSpec& spec : specs) {
    std::vector<std::uint64_t> shape(spec.shape.begin(), spec.shape.end());
    std::uint64_t count = 1;
    for (const auto dim : shape) count *= dim;
    auto& values = buffers.emplace_back(count, 0);
    entries.push_back({spec.name, SafetensorsDtype::bf16, shape,
                       std::as_bytes(std::span<const std::uint16_t>(values))});
  }
  ASSERT_TRUE(write_safetensors(path, entries).ok());
}

bool mentions(const std::vector<std::string>& problems, const std::string& fragment) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(fragment) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += p + "\n";
  return out;
}

SyntheticCheckpointOptions dit_and_vae_only() {
  SyntheticCheckpointOptions options;
  options.with_lm = false;
  options.with_text_encoder = false;
  return options;
}

TEST(CheckpointCheck, SyntheticCheckpointsAreValid) {
  TempDir dir;
  ASSERT_TRUE(write_synthetic_checkpoints(dir.path()).ok());
  auto checks = check_checkpoints(dir.path());
  ASSERT_TRUE(checks.ok()) << checks.status().to_string();
  ASSERT_EQ(checks->size(), 4u);
  const ModelPartKind kinds[] = {ModelPartKind::dit, ModelPartKind::vae,
                                 ModelPartKind::text_encoder, ModelPartKind::lm};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*checks)[i].kind, kinds[i]);
    EXPECT_TRUE((*checks)[i].valid()) << joined((*checks)[i].problems);
  }
  EXPECT_EQ((*checks)[0].name, "acestep-v15-turbo");
  EXPECT_EQ((*checks)[0].table.rows.size(), expected_dit_tensors(synthetic_dit_config()).size());
  EXPECT_EQ((*checks)[1].table.rows.size(), 365u);  // the VAE keeps the shipped structure
  EXPECT_EQ((*checks)[3].table.rows.front().tensor.name, "model.embed_tokens.weight");
  EXPECT_EQ((*checks)[3].table.rows.front().tensor.shape, (std::vector<std::uint64_t>{217204, 32}));
  // The silence latent reads back with the real shape.
  const std::int64_t shape[] = {1, 64, kSilenceLatentFrames};
  auto latent = read_pt_float_tensor(dir.path() + "/acestep-v15-turbo/silence_latent.pt", shape);
  ASSERT_TRUE(latent.ok()) << latent.status().to_string();
  EXPECT_EQ(latent->values.size(), 64u * 15000);
}

TEST(CheckpointCheck, EveryTensorProblemIsReportedAtOnce) {  // CK-26
  TempDir dir;
  ASSERT_TRUE(write_synthetic_checkpoints(dir.path(), dit_and_vae_only()).ok());
  std::vector<TensorSpec> specs = expected_dit_tensors(synthetic_dit_config());
  const std::string dropped = specs[3].name;
  const std::string reshaped = specs[10].name;
  specs.erase(specs.begin() + 3);
  specs[9].shape.push_back(2);  // was specs[10]
  specs.push_back({"decoder.surprise.weight", {4}});
  const std::string folder = dir.path() + "/acestep-v15-turbo";
  write_zero_weights(folder + "/model.safetensors", specs);

  const ModelPartCheck check = check_model_part(ModelPartKind::dit, folder);
  ASSERT_EQ(check.problems.size(), 3u) << joined(check.problems);
  EXPECT_TRUE(mentions(check.problems, "missing tensor '" + dropped + "'"));
  EXPECT_TRUE(mentions(check.problems, "tensor '" + reshaped + "' has shape"));
  EXPECT_TRUE(mentions(check.problems, "unexpected tensor 'decoder.surprise.weight'"));
  for (const auto& problem : check.problems) {
    EXPECT_EQ(problem.rfind(folder + "/model.safetensors: ", 0), 0u) << problem;
    EXPECT_EQ(problem.find('\n'), std::string::npos);
  }
}

TEST(CheckpointCheck, UnusableDtypeNamesTheTensor) {  // CK-26 (dtype)
  TempDir dir;
  ASSERT_TRUE(write_synthetic_checkpoints(dir.path(), dit_and_vae_only()).ok());
  const std::vector<TensorSpec> specs = expected_vae_tensors(synthetic_vae_config());
  std::vector<std::vector<std::int32_t>> buffers;
  std::vector<SafetensorsEntry> entries;
  buffers.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::uint64_t count = 1;
    for (const auto d : specs[i].shape) count *= static_cast<std::uint64_t>(d);
    auto& values = buffers.emplace_back(count, 0);
    // The first tensor is stored as I32, which no weight may be.
    const auto dtype = i == 0 ? SafetensorsDtype::i32 : SafetensorsDtype::f32;
    entries.push_back({specs[i].name, dtype,
                       std::vector<std::uint64_t>(specs[i].shape.begin(), specs[i].shape.end()),
                       std::as_bytes(std::span<const std::int32_t>(values))});
  }
  ASSERT_TRUE(
      write_safetensors(dir.path() + "/vae/diffusion_pytorch_model.safetensors", entries).ok());
  const ModelPartCheck check = check_model_part(ModelPartKind::vae, dir.path() + "/vae");
  ASSERT_EQ(check.problems.size(), 1u) << joined(check.problems);
  EXPECT_TRUE(mentions(check.problems, "'" + specs[0].name + "' has dtype I32"));
}

TEST(CheckpointCheck, BrokenConfigNamesTheFileLineAndColumn) {  // CK-23
  TempDir dir;
  ASSERT_TRUE(write_synthetic_checkpoints(dir.path(), dit_and_vae_only()).ok());
  const std::string folder = dir.path() + "/vae";
  dir.write("vae/config.json", "{\n  \"decoder_channels\": 8,\n  oops\n}\n");
  const ModelPartCheck check = check_model_part(ModelPartKind::vae, folder);
  ASSERT_EQ(check.problems.size(), 1u) << joined(check.problems);
  EXPECT_TRUE(mentions(check.problems, folder + "/config.json"));
  EXPECT_TRUE(mentions(check.problems, "line 3")) << joined(check.problems);
  // The tensor table is still listed.
  EXPECT_EQ(check.table.rows.size(), 365u);
}

TEST(CheckpointCheck, MissingOrWrongSilenceLatent) {
  TempDir dir;
  ASSERT_TRUE(write_synthetic_checkpoints(dir.path(), dit_and_vae_only()).ok());
  const std::string folder = dir.path() + "/acestep-v15-turbo";
  fs::remove(folder + "/silence_latent.pt");
  ModelPartCheck check = check_model_part(ModelPartKind::dit, folder);
  ASSERT_EQ(check.problems.size(), 1u) << joined(check.problems);
  EXPECT_TRUE(mentions(check.problems, "silence_latent.pt"));

  const std::int64_t short_shape[] = {1, 64, 100};
  std::vector<float> values(64 * 100, 0.5f);
  ASSERT_TRUE(
      write_pt_float_tensor(folder + "/silence_latent.pt", short_shape, values, "silence_latent")
          .ok());
  check = check_model_part(ModelPartKind::dit, folder);
  ASSERT_EQ(check.problems.size(), 1u) << joined(check.problems);
  EXPECT_TRUE(mentions(check.problems, "silence_latent.pt"));
  EXPECT_TRUE(mentions(check.problems, "15000")) << joined(check.problems);
}

TEST(CheckpointCheck, MissingWeightsAndCorruptWeights) {
  TempDir dir;
  ASSERT_TRUE(write_synthetic_checkpoints(dir.path(), dit_and_vae_only()).ok());
  const std::string folder = dir.path() + "/vae";
  fs::remove(folder + "/diffusion_pytorch_model.safetensors");
  ModelPartCheck check = check_model_part(ModelPartKind::vae, folder);
  ASSERT_EQ(check.problems.size(), 1u) << joined(check.problems);
  EXPECT_TRUE(mentions(check.problems, "no weights"));

  dir.write("vae/diffusion_pytorch_model.safetensors", testing::st_bytes("{}", "xx"));
  check = check_model_part(ModelPartKind::vae, folder);
  ASSERT_EQ(check.problems.size(), 1u) << joined(check.problems);
  EXPECT_TRUE(mentions(check.problems, "file_size_mismatch")) << joined(check.problems);
}

TEST(CheckpointCheck, LmWithoutModelPrefixAndAStoredHead) {
  TempDir dir;
  SyntheticCheckpointOptions options;
  options.with_text_encoder = false;
  ASSERT_TRUE(write_synthetic_checkpoints(dir.path(), options).ok());
  std::vector<TensorSpec> specs = expected_qwen3_tensors(synthetic_lm_config(), "");
  specs.push_back({"lm_head.weight", specs.front().shape});
  const std::string folder = dir.path() + "/acestep-5Hz-lm-0.6B";
  write_zero_weights(folder + "/model.safetensors", specs);
  const ModelPartCheck check = check_model_part(ModelPartKind::lm, folder);
  EXPECT_TRUE(check.valid()) << joined(check.problems);
}

TEST(CheckpointCheck, ShardedWeightsAreChecked) {
  TempDir dir;
  ASSERT_TRUE(write_synthetic_checkpoints(dir.path(), dit_and_vae_only()).ok());
  const std::string folder = dir.path() + "/acestep-v15-turbo";
  const std::vector<TensorSpec> specs = expected_dit_tensors(synthetic_dit_config());
  const std::size_t half = specs.size() / 2;
  write_zero_weights(folder + "/model-00001-of-00002.safetensors",
                     {specs.begin(), specs.begin() + static_cast<std::ptrdiff_t>(half)});
  write_zero_weights(folder + "/model-00002-of-00002.safetensors",
                     {specs.begin() + static_cast<std::ptrdiff_t>(half), specs.end()});
  nlohmann::json index = {{"metadata", nlohmann::json::object()},
                          {"weight_map", nlohmann::json::object()}};
  for (std::size_t i = 0; i < specs.size(); ++i) {
    index["weight_map"][specs[i].name] =
        i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  fs::remove(folder + "/model.safetensors");
  dir.write("acestep-v15-turbo/model.safetensors.index.json", index.dump());
  const ModelPartCheck check = check_model_part(ModelPartKind::dit, folder);
  EXPECT_TRUE(check.valid()) << joined(check.problems);
  EXPECT_TRUE(check.table.sharded);
  EXPECT_EQ(check.table.rows.size(), specs.size());
}

TEST(CheckpointCheck, FolderWithoutModelParts) {
  TempDir dir;
  auto checks = check_checkpoints(dir.path());
  ASSERT_FALSE(checks.ok());
  EXPECT_EQ(checks.status().code(), ErrorCode::not_found);
  EXPECT_FALSE(check_checkpoints(dir.path() + "/nowhere").ok());
}

TEST(CheckpointCheck, FolderNamesMapToKinds) {
  ModelPartKind kind{};
  ASSERT_TRUE(model_part_kind_from_folder_name("acestep-v15-xl-sft", kind));
  EXPECT_EQ(kind, ModelPartKind::dit);
  ASSERT_TRUE(model_part_kind_from_folder_name("acestep-5Hz-lm-1.7B", kind));
  EXPECT_EQ(kind, ModelPartKind::lm);
  ASSERT_TRUE(model_part_kind_from_folder_name("Qwen3-Embedding-0.6B", kind));
  EXPECT_EQ(kind, ModelPartKind::text_encoder);
  ASSERT_TRUE(model_part_kind_from_folder_name("vae", kind));
  EXPECT_EQ(kind, ModelPartKind::vae);
  EXPECT_FALSE(model_part_kind_from_folder_name("vae2", kind));
  EXPECT_FALSE(model_part_kind_from_folder_name("checkpoints", kind));
}

TEST(SafetensorsWriter, RoundTripsThroughTheReader) {
  TempDir dir;
  const float f32[] = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -8.5f};
  const std::uint16_t bf16[] = {0x3f80, 0xc000};
  const std::int32_t scalar[] = {42};
  const std::vector<SafetensorsEntry> entries = {
      {"a.weight", SafetensorsDtype::f32, {2, 3}, std::as_bytes(std::span(f32))},
      {"b", SafetensorsDtype::bf16, {2}, std::as_bytes(std::span(bf16))},
      {"empty", SafetensorsDtype::f32, {2, 0}, {}},
      {"count", SafetensorsDtype::i32, {}, std::as_bytes(std::span(scalar))},
  };
  const std::string path = dir.path() + "/w.safetensors";
  ASSERT_TRUE(write_safetensors(path, entries, {{"format", "pt"}}).ok());
  auto file = open_safetensors(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_EQ(file->layout().header_bytes % 8, 0u);
  ASSERT_EQ(file->tensors().size(), 4u);
  EXPECT_EQ(file->tensors()[0].name, "a.weight");
  EXPECT_EQ(file->tensors()[3].shape.size(), 0u);
  ASSERT_EQ(file->metadata().size(), 1u);
  EXPECT_EQ(file->metadata()[0].second, "pt");
  auto a = file->read_tensor("a.weight");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->as_f32().size(), 6u);
  EXPECT_EQ(std::memcmp(a->as_f32().data(), f32, sizeof(f32)), 0);
  auto b = file->read_tensor("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->as_f16_bits()[1], 0xc000);
}

TEST(SafetensorsWriter, RejectsBadEntriesAndLeavesNoFile) {
  TempDir dir;
  const float values[] = {1, 2, 3};
  const std::string path = dir.path() + "/w.safetensors";
  const std::vector<std::vector<SafetensorsEntry>> bad = {
      {{"", SafetensorsDtype::f32, {3}, std::as_bytes(std::span(values))}},
      {{"x", SafetensorsDtype::f32, {4}, std::as_bytes(std::span(values))}},
      {{"x", SafetensorsDtype::f32, {3}, std::as_bytes(std::span(values))},
       {"x", SafetensorsDtype::f32, {3}, std::as_bytes(std::span(values))}},
      {{"__metadata__", SafetensorsDtype::f32, {3}, std::as_bytes(std::span(values))}},
      {{std::string("\xff"), SafetensorsDtype::f32, {3}, std::as_bytes(std::span(values))}},
  };
  for (const auto& entries : bad) {
    const Status status = write_safetensors(path, entries);
    EXPECT_EQ(status.code(), ErrorCode::invalid_argument) << status.to_string();
    EXPECT_FALSE(fs::exists(path));
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 0);
}

TEST(PtWriter, MatchesWhatTorchSaveStored) {
  // tests/data/pt/small_1x4x10.pt was written by torch.save with
  // value(c, t) = (c * 10 + t) * 0.25 - 3; ours must read back the same.
  const std::vector<std::int64_t> shape = {1, 4, 10};
  std::vector<float> values(40);
  for (int i = 0; i < 40; ++i) values[i] = static_cast<float>(i) * 0.25f - 3.0f;
  TempDir dir;
  const std::string ours = dir.path() + "/ours.pt";
  ASSERT_TRUE(write_pt_float_tensor(ours, shape, values, "ours").ok());
  auto mine = read_pt_float_tensor(ours, shape);
  ASSERT_TRUE(mine.ok()) << mine.status().to_string();
  auto theirs =
      read_pt_float_tensor(std::string(ACEFIT_TEST_DATA_DIR) + "/pt/small_1x4x10.pt", shape);
  ASSERT_TRUE(theirs.ok()) << theirs.status().to_string();
  EXPECT_EQ(mine->values, theirs->values);
  // Data is 64-byte aligned inside the archive, as torch.save does it.
  auto bytes = pt_float_tensor_bytes(shape, values, "ours");
  ASSERT_TRUE(bytes.ok());
  auto entries = parse_zip_directory(*bytes, "ours.pt");
  ASSERT_TRUE(entries.ok()) << entries.status().to_string();
  bool found = false;
  for (const ZipEntry& entry : *entries) {
    if (entry.name != "ours/data/0") continue;
    auto data = zip_stored_entry(*bytes, entry, "ours.pt");
    ASSERT_TRUE(data.ok());
    EXPECT_EQ((data->data() - bytes->data()) % 64, 0);
    found = true;
  }
  EXPECT_TRUE(found);
}

TEST(PtWriter, RejectsMismatchedValues) {
  const std::vector<std::int64_t> shape = {1, 4, 10};
  std::vector<float> values(39);
  EXPECT_EQ(pt_float_tensor_bytes(shape, values, "x").status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(pt_float_tensor_bytes(shape, std::vector<float>(40), "a/b").status().code(),
            ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace acefit
