#include "io/safetensors/safetensors_index.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <unordered_map>

#include "io/json/strict_json.h"

namespace acefit {

namespace {

constexpr std::size_t kMaxWarnings = 16;

Status index_status(std::string_view code, std::string_view origin, const std::string& detail) {
  ErrorCode error = ErrorCode::corrupt;
  if (code == "io_error") error = ErrorCode::io;
  if (code == "out_of_memory") error = ErrorCode::out_of_memory;
  if (code == "shard_not_found") error = ErrorCode::not_found;
  std::string message;
  if (!origin.empty()) message = printable(origin, 4096) + ": ";
  message += code;
  message += ": ";
  message += detail;
  return Status(error, std::move(message));
}

std::string quoted(std::string_view text) {
  return "'" + printable(text) + "'";
}

// realpath as a std::string, or the errno.
bool canonical_path(const std::string& path, std::string& out, int& error) {
  std::unique_ptr<char, decltype(&::free)> resolved(::realpath(path.c_str(), nullptr), &::free);
  if (!resolved) {
    error = errno;
    return false;
  }
  out = resolved.get();
  return true;
}

// Whole-component containment: "/m/ace" contains "/m/ace/x" but not "/m/ace_evil/x".
bool contains(const std::string& root, const std::string& path) {
  if (root == "/") return !path.empty() && path[0] == '/';
  if (path.size() <= root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path[root.size()] == '/';
}

class IndexParser {
 public:
  IndexParser(std::string_view bytes, std::string_view origin, const ShardedOptions& options)
      : reader_(bytes, reader_options()), origin_(origin), options_(options) {}

  Status run(ShardIndex& index) {
    if (!next()) return json_failure();
    if (event_.type != JsonEventType::object_begin) {
      return fail("invalid_index", "the index is " + describe_json_value(event_) +
                                       ", not an object with a weight_map");
    }
    bool have_weight_map = false;
    while (true) {
      if (!next()) return json_failure();
      if (event_.type == JsonEventType::object_end) break;
      const std::string key = event_.text;
      if (key == "weight_map") {
        ACEFIT_TRY(parse_weight_map(index));
        have_weight_map = true;
      } else if (key == "metadata") {
        ACEFIT_TRY(parse_metadata(index));
      } else {
        warn(index, "ignoring the unknown top-level key " + quoted(key));
        if (!next() || !skip_value()) return json_failure();
      }
    }
    if (!next()) return json_failure();  // trailing bytes
    if (!have_weight_map) return fail("invalid_index", "the index has no weight_map");
    if (index.weight_map.empty()) warn(index, "the weight_map is empty");
    return Status::ok_status();
  }

 private:
  static JsonReaderOptions reader_options() {
    JsonReaderOptions options;
    options.max_depth = 3;
    return options;
  }

  bool next() { return reader_.next(event_); }

  // After a value's first event: consume the rest if it is a container.
  bool skip_value() {
    if (event_.type == JsonEventType::object_begin || event_.type == JsonEventType::array_begin) {
      return reader_.skip_container(event_);
    }
    return true;
  }

  Status fail(std::string_view code, const std::string& detail) {
    return index_status(code, origin_, detail);
  }

  Status json_failure() {
    const JsonError& error = reader_.error();
    std::string_view code = "index_syntax";
    if (error.kind == JsonErrorKind::not_utf8) code = "index_not_utf8";
    if (error.kind == JsonErrorKind::duplicate_key) code = "duplicate_key";
    if (error.kind == JsonErrorKind::out_of_memory) code = "out_of_memory";
    return fail(code, error.message);
  }

  void warn(ShardIndex& index, std::string warning) {
    ++warning_count_;
    if (index.warnings.size() < kMaxWarnings) {
      index.warnings.push_back(std::move(warning));
    } else if (warning_count_ == kMaxWarnings + 1) {
      index.warnings.push_back("(further warnings about this index are not shown)");
    }
  }

  Status parse_weight_map(ShardIndex& index) {
    if (!next()) return json_failure();
    if (event_.type != JsonEventType::object_begin) {
      return fail("invalid_index", "weight_map at byte " + std::to_string(event_.offset) + " is " +
                                       describe_json_value(event_) + ", not an object");
    }
    std::unordered_map<std::string, std::size_t> shard_ids;
    while (true) {
      if (!next()) return json_failure();
      if (event_.type == JsonEventType::object_end) return Status::ok_status();
      std::string tensor = event_.text;
      const std::size_t tensor_offset = event_.offset;
      if (tensor.empty() || tensor.size() > kSafetensorsMaxNameBytes ||
          tensor.find('\0') != std::string::npos) {
        return fail("invalid_name", "weight_map key " + quoted(tensor) + " at byte " +
                                        std::to_string(tensor_offset) +
                                        " is not a tensor name (1 to 1024 bytes, no U+0000)");
      }
      if (!next()) return json_failure();
      if (event_.type != JsonEventType::string) {
        return fail("invalid_index", "weight_map[" + quoted(tensor) + "] at byte " +
                                         std::to_string(event_.offset) + " is " +
                                         describe_json_value(event_) + ", not a shard file name");
      }
      ACEFIT_TRY(check_shard_name(event_.text, origin_));
      auto it = shard_ids.find(event_.text);
      if (it == shard_ids.end()) {
        if (index.shard_names.size() >= options_.max_shards) {
          return fail("too_many_shards",
                      "the weight_map names more than " + std::to_string(options_.max_shards) +
                          " distinct shard files (at byte " + std::to_string(event_.offset) + ")");
        }
        it = shard_ids.emplace(event_.text, index.shard_names.size()).first;
        index.shard_names.push_back(event_.text);
      }
      index.weight_map.emplace_back(std::move(tensor), it->second);
    }
  }

  Status parse_metadata(ShardIndex& index) {
    if (!next()) return json_failure();
    if (event_.type != JsonEventType::object_begin) {
      return fail("invalid_index", "metadata at byte " + std::to_string(event_.offset) + " is " +
                                       describe_json_value(event_) + ", not an object");
    }
    while (true) {
      if (!next()) return json_failure();
      if (event_.type == JsonEventType::object_end) return Status::ok_status();
      const bool is_total = event_.text == "total_size";
      if (!next()) return json_failure();
      if (is_total) {
        if (event_.type == JsonEventType::integer) {
          index.declared_total_size = event_.integer;
        } else {
          warn(index, "metadata.total_size is " + describe_json_value(event_) +
                          ", not a non-negative integer; ignored");
        }
      }
      if (!skip_value()) return json_failure();
    }
  }

  JsonReader reader_;
  JsonEvent event_;
  std::string_view origin_;
  const ShardedOptions& options_;
  std::size_t warning_count_ = 0;
};

// I3 and I4 for one shard: returns an open descriptor on the checked file.
Expected<int> open_shard(const std::string& folder_canonical, const std::string& root,
                         const std::string& name, const std::string& display,
                         std::string_view origin) {
  const std::string joined = folder_canonical + "/" + name;
  std::string resolved;
  int error = 0;
  if (!canonical_path(joined, resolved, error)) {
    if (error == ENOENT) {
      return index_status("shard_not_found", origin,
                          "shard " + quoted(name) + " (" + printable(display) +
                              ") does not exist or is a dangling symlink");
    }
    return index_status("io_error", origin,
                        "cannot resolve shard " + quoted(name) + ": " + std::strerror(error));
  }
  if (!contains(root, resolved)) {
    return index_status(
        "shard_outside_folder", origin,
        "shard " + quoted(name) + " resolves to " + quoted(resolved) + ", outside " + quoted(root));
  }
  struct stat checked {};
  if (::stat(resolved.c_str(), &checked) != 0) {
    return index_status("io_error", origin,
                        "cannot stat shard " + quoted(name) + ": " + std::strerror(errno));
  }
  if (!S_ISREG(checked.st_mode)) {
    return index_status(
        "shard_not_regular_file", origin,
        "shard " + quoted(name) + " (" + quoted(resolved) + ") is not a regular file");
  }
  // O_NOFOLLOW and O_NONBLOCK: a path swapped for a symlink or a FIFO after
  // the check neither redirects nor blocks the open.
  const int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    return index_status("io_error", origin,
                        "cannot open shard " + quoted(name) + ": " + std::strerror(errno));
  }
  struct stat opened {};
  if (::fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_dev != checked.st_dev ||
      opened.st_ino != checked.st_ino) {
    ::close(fd);
    return index_status(
        "shard_changed", origin,
        "shard " + quoted(name) + " changed between the check and the open (not the file checked)");
  }
  return fd;
}

}  // namespace

Status check_shard_name(std::string_view name, std::string_view origin) {
  const auto bad = [&](const std::string& why) {
    return index_status("invalid_shard_name", origin,
                        "shard name " + quoted(name) + " " + why +
                            " (a shard must be a plain file name in the checkpoint folder)");
  };
  if (name.empty() || name.size() > kShardNameMaxBytes) {
    return bad("is " + std::to_string(name.size()) + " bytes, not 1 to 255");
  }
  if (find_invalid_utf8(name) != std::string_view::npos) return bad("is not UTF-8");
  if (name == "." || name == "..") return bad("is a directory reference");
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c == '/' || c == '\\') return bad("contains a path separator");
    if (c < 0x20 || c == 0x7F) return bad("contains a control character");
    if (c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) < 0xA0) {
      return bad("contains a control character");
    }
  }
  const auto c0 = static_cast<unsigned char>(name[0]);
  if (name.size() >= 2 && name[1] == ':' &&
      ((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z'))) {
    return bad("starts with a drive prefix");
  }
  constexpr std::string_view suffix = ".safetensors";
  if (name.size() < suffix.size() || name.substr(name.size() - suffix.size()) != suffix) {
    return bad("does not end in .safetensors");
  }
  return Status::ok_status();
}

Expected<ShardIndex> parse_shard_index(std::string_view bytes, std::string_view origin,
                                       const ShardedOptions& options) {
  try {
    if (bytes.size() > kShardIndexMaxBytes) {
      return index_status("index_too_large", origin,
                          "the index is " + std::to_string(bytes.size()) +
                              " bytes, above the limit of " + std::to_string(kShardIndexMaxBytes));
    }
    ShardIndex index;
    IndexParser parser(bytes, origin, options);
    ACEFIT_TRY(parser.run(index));
    return index;
  } catch (const std::bad_alloc&) {
    return index_status("out_of_memory", origin, "out of memory while parsing the index");
  }
}

Expected<ShardedCheckpoint> open_sharded_bytes(std::string_view index_bytes,
                                               const std::string& folder, std::string origin,
                                               const ShardedOptions& options) {
  try {
    ACEFIT_ASSIGN(ShardIndex index, parse_shard_index(index_bytes, origin, options));
    ShardedCheckpoint result;
    result.index_path = origin;
    result.warnings = std::move(index.warnings);
    result.declared_total_size = index.declared_total_size;
    int error = 0;
    if (!canonical_path(folder.empty() ? std::string(".") : folder, result.folder, error)) {
      return index_status(
          "io_error", origin,
          "cannot resolve the checkpoint folder " + quoted(folder) + ": " + std::strerror(error));
    }
    std::string root = result.folder;
    if (!options.allowed_root.empty()) {
      if (!canonical_path(options.allowed_root, root, error)) {
        return index_status("io_error", origin,
                            "cannot resolve the allowed root " + quoted(options.allowed_root) +
                                ": " + std::strerror(error));
      }
    }
    // Open every shard once (I3, I4, I6), rejecting two names for one file.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> identities;
    for (const std::string& name : index.shard_names) {
      const std::string display = (folder.empty() ? std::string(".") : folder) + "/" + name;
      ACEFIT_ASSIGN(const int fd, open_shard(result.folder, root, name, display, origin));
      struct stat st {};
      const bool stat_ok = ::fstat(fd, &st) == 0;
      const std::pair<std::uint64_t, std::uint64_t> identity{st.st_dev, st.st_ino};
      for (std::size_t i = 0; stat_ok && i < identities.size(); ++i) {
        if (identities[i] == identity) {
          ::close(fd);
          return index_status("duplicate_shard", origin,
                              "shard names " + quoted(result.shard_names[i]) + " and " +
                                  quoted(name) + " resolve to the same file");
        }
      }
      ACEFIT_ASSIGN(SafetensorsFile shard, open_safetensors_fd(fd, display, options.shard_options));
      identities.push_back(identity);
      result.shard_names.push_back(name);
      result.shards.push_back(std::move(shard));
    }
    // I5: no tensor in two shards; the weight_map and the shards agree both ways.
    std::unordered_map<std::string_view, std::size_t> holder;
    for (std::size_t s = 0; s < result.shards.size(); ++s) {
      for (const auto& tensor : result.shards[s].tensors()) {
        const auto [it, inserted] = holder.emplace(tensor.name, s);
        if (!inserted) {
          return index_status("tensor_in_two_shards", origin,
                              "tensor " + quoted(tensor.name) + " is in both " +
                                  quoted(result.shard_names[it->second]) + " and " +
                                  quoted(result.shard_names[s]));
        }
      }
    }
    std::unordered_map<std::string_view, std::size_t> mapped;
    for (const auto& [tensor, shard] : index.weight_map) {
      mapped.emplace(tensor, shard);
      const auto it = holder.find(tensor);
      if (it == holder.end() || it->second != shard) {
        std::string detail = "the weight_map maps tensor " + quoted(tensor) + " to " +
                             quoted(result.shard_names[shard]) + ", which does not hold it";
        if (it != holder.end())
          detail += " (it is in " + quoted(result.shard_names[it->second]) + ")";
        return index_status("tensor_missing_from_shard", origin, detail);
      }
      const auto position = result.shards[shard].layout().index_of(tensor);
      result.tensors.push_back(ShardedTensor{tensor, shard, position.value_or(0)});
    }
    for (std::size_t s = 0; s < result.shards.size(); ++s) {
      for (const auto& tensor : result.shards[s].tensors()) {
        if (!mapped.count(tensor.name)) {
          return index_status("tensor_not_in_index", origin,
                              "shard " + quoted(result.shard_names[s]) + " holds tensor " +
                                  quoted(tensor.name) + ", which the weight_map does not list");
        }
      }
      if (__builtin_add_overflow(result.total_bytes, result.shards[s].layout().total_tensor_bytes,
                                 &result.total_bytes)) {
        return index_status("io_error", origin, "total tensor bytes overflow 2^64");
      }
    }
    if (result.declared_total_size && *result.declared_total_size != result.total_bytes) {
      result.warnings.push_back(
          "metadata.total_size is " + std::to_string(*result.declared_total_size) +
          " but the shards hold " + std::to_string(result.total_bytes) + " bytes of tensors");
    }
    return result;
  } catch (const std::bad_alloc&) {
    return index_status("out_of_memory", origin, "out of memory while opening the checkpoint");
  }
}

Expected<ShardedCheckpoint> open_sharded(const std::string& index_path,
                                         const ShardedOptions& options) {
  const int fd = ::open(index_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    Status status =
        index_status("io_error", index_path, "cannot open: " + std::string(std::strerror(error)));
    if (error == ENOENT) return Status(ErrorCode::not_found, status.message());
    return status;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return index_status("io_error", index_path, "not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kShardIndexMaxBytes) {
    return index_status("index_too_large", index_path,
                        "the index is " + std::to_string(st.st_size) +
                            " bytes, above the limit of " + std::to_string(kShardIndexMaxBytes));
  }
  std::string bytes;
  try {
    bytes.resize(static_cast<std::size_t>(st.st_size));
  } catch (const std::bad_alloc&) {
    return index_status("out_of_memory", index_path, "cannot allocate the index buffer");
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got =
        ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return index_status("io_error", index_path,
                          got == 0 ? std::string("the file shrank while it was read")
                                   : "read failed: " + std::string(std::strerror(errno)));
    }
    done += static_cast<std::size_t>(got);
  }
  const std::size_t slash = index_path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? std::string(".")
                             : slash == 0               ? std::string("/")
                                                        : index_path.substr(0, slash);
  return open_sharded_bytes(bytes, folder, index_path, options);
}

std::string_view sharded_error_code(const Status& status) {
  std::vector<std::string_view> codes(std::begin(kShardIndexErrorCodes),
                                      std::end(kShardIndexErrorCodes));
  for (std::size_t i = 0; i < kSafetensorsErrorCount; ++i) {
    codes.push_back(safetensors_error_name(static_cast<SafetensorsError>(i)));
  }
  return find_stable_code(status.message(), codes);
}

}  // namespace acefit
