// Helpers for the safetensors tests: assemble files from a header string and
// data bytes, write them into a per-test temporary folder, and open them both
// from disk and from memory, checking that the two paths agree.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "io/safetensors/safetensors.h"

namespace acefit::testing {

// 8-byte little-endian header length + header + data.
inline std::string st_bytes_with_n(std::uint64_t n, std::string_view header,
                                   std::string_view data = {}) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  out.append(header);
  out.append(data);
  return out;
}

inline std::string st_bytes(std::string_view header, std::string_view data = {}) {
  return st_bytes_with_n(header.size(), header, data);
}

// One tensor entry: "name":{"dtype":...,"shape":[...],"data_offsets":[b,e]}.
inline std::string st_entry(std::string_view name, std::string_view dtype, std::string_view shape,
                            std::uint64_t begin, std::uint64_t end) {
  return "\"" + std::string(name) + "\":{\"dtype\":\"" + std::string(dtype) +
         "\",\"shape\":" + std::string(shape) + ",\"data_offsets\":[" + std::to_string(begin) +
         "," + std::to_string(end) + "]}";
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "acefit-st-XXXXXX").string();
    if (::mkdtemp(pattern.data())) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, std::string_view bytes) const {
    const std::string full = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return full;
  }

 private:
  std::string path_;
};

// The stable code of opening `bytes` ("ok" when valid). The file reader and
// the in-memory validator must give the same answer.
inline std::string st_code(const TempDir& dir, std::string_view bytes,
                           const SafetensorsOptions& options = {}, std::string* message = nullptr) {
  const std::string path = dir.write("case.safetensors", bytes);
  const auto file = open_safetensors(path, options);
  const auto memory = validate_safetensors_bytes(
      {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, path, options);
  const std::string file_code =
      file.ok() ? "ok" : std::string(safetensors_error_code(file.status()));
  const std::string memory_code =
      memory.ok() ? "ok" : std::string(safetensors_error_code(memory.status()));
  EXPECT_EQ(file_code, memory_code) << (file.ok() ? "" : file.status().message());
  if (!file.ok()) {
    EXPECT_FALSE(file_code.empty()) << "no stable code in: " << file.status().message();
    EXPECT_EQ(file.status().message().rfind(path + ": " + file_code + ": ", 0), 0u)
        << file.status().message();
    EXPECT_EQ(file.status().message().find('\n'), std::string::npos);
    if (message) *message = file.status().message();
  }
  return file_code;
}

}  // namespace acefit::testing
