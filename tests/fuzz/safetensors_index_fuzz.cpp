// Fuzz target: index JSON bytes through the sharded-checkpoint opener (I1-I6),
// resolved against a fixed fake folder tree that this file creates once under
// /tmp: /tmp/acefit-fuzz-index/m/ace holds two valid shards, a symlink into
// the sibling m/ace_evil, an in-folder alias, a dangling link and a directory
// named like a shard. An accepted checkpoint must never hold a file from
// outside m/ace.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "io/safetensors/safetensors_index.h"

namespace {

constexpr const char* kBase = "/tmp/acefit-fuzz-index";

void put(const std::string& path, std::string_view header, std::string_view data) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  bytes.append(header);
  bytes.append(data);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!::write(fd, bytes.data(), bytes.size());
  ::close(fd);
}

bool make_tree() {
  const std::string m = std::string(kBase) + "/m";
  ::mkdir(kBase, 0755);
  ::mkdir(m.c_str(), 0755);
  ::mkdir((m + "/ace").c_str(), 0755);
  ::mkdir((m + "/ace_evil").c_str(), 0755);
  ::mkdir((m + "/ace/dir.safetensors").c_str(), 0755);
  put(m + "/ace/model-1.safetensors", R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
      "aa");
  put(m + "/ace/model-2.safetensors",
      R"({"b":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
      R"("c":{"dtype":"U8","shape":[1],"data_offsets":[3,4]}})",
      "bbbc");
  put(m + "/ace_evil/x.safetensors", R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
      "ev");
  (void)::symlink("../ace_evil/x.safetensors", (m + "/ace/evil.safetensors").c_str());
  (void)::symlink("model-1.safetensors", (m + "/ace/alias.safetensors").c_str());
  (void)::symlink("nowhere.safetensors", (m + "/ace/dangling.safetensors").c_str());
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = make_tree();
  (void)ready;
  acefit::ShardedOptions options;
  options.max_shards = 64;
  const std::string folder = std::string(kBase) + "/m/ace";
  const auto result =
      acefit::open_sharded_bytes(std::string_view(reinterpret_cast<const char*>(data), size),
                                 folder, "fuzz-index.json", options);
  if (!result.ok()) {
    if (acefit::sharded_error_code(result.status()).empty()) __builtin_trap();
    return 0;
  }
  // Nothing from ace_evil (or anywhere else outside m/ace) is ever accepted:
  // its only file holds "ev", which no file inside the folder does.
  for (const auto& shard : result->shards) {
    for (std::size_t i = 0; i < shard.tensors().size(); ++i) {
      const auto bytes = shard.read_tensor(i);
      if (bytes.ok() && bytes->bytes().size() == 2 &&
          std::memcmp(bytes->bytes().data(), "ev", 2) == 0) {
        __builtin_trap();
      }
    }
  }
  for (const auto& tensor : result->tensors) {
    if (tensor.shard >= result->shards.size()) __builtin_trap();
    if (result->info(tensor).name != tensor.name) __builtin_trap();
  }
  return 0;
}
