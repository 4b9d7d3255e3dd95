// The safetensors reader against shared/spec/reliability.md: one test per
// checklist case CK-01..CK-21 (CK-22 is in safetensors_index_test.cpp),
// valid files, reads, the S21 check, and error-path completeness.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <thread>

#include "io/json/strict_json.h"
#include "io/safetensors/safetensors.h"
#include "safetensors_test_util.h"

namespace acefit {
namespace {

using testing::st_bytes;
using testing::st_bytes_with_n;
using testing::st_code;
using testing::st_entry;
using testing::TempDir;

std::string floats(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), 4);
  return out;
}

// A valid file: "a" F32 [2] then "b" U8 [3].
std::string valid_file() {
  return st_bytes(
      "{" + st_entry("a", "F32", "[2]", 0, 8) + "," + st_entry("b", "U8", "[3]", 8, 11) + "}",
      floats({1.5f, -2.0f}) + "xyz");
}

TEST(Safetensors, ValidFileReadsBack) {
  TempDir dir;
  const std::string header = R"({"__metadata__":{"format":"pt","note":"\u00e9"},)" +
                             st_entry("a", "F32", "[2]", 0, 8) + "," +
                             st_entry("b", "U8", "[3]", 8, 11) + "}";
  const std::string path =
      dir.write("v.safetensors", st_bytes(header, floats({1.5f, -2.0f}) + "xyz"));
  auto file = open_safetensors(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  ASSERT_EQ(file->tensors().size(), 2u);
  const SafetensorsTensorInfo& a = file->tensors()[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.dtype, SafetensorsDtype::f32);
  EXPECT_EQ(a.shape, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(a.byte_size, 8u);
  EXPECT_EQ(a.file_offset, 8 + header.size());
  EXPECT_EQ(file->metadata().size(), 2u);
  EXPECT_EQ(file->metadata()[1].second, "\xC3\xA9");
  EXPECT_EQ(file->layout().total_tensor_bytes, 11u);
  auto buffer = file->read_tensor("a");
  ASSERT_TRUE(buffer.ok()) << buffer.status().to_string();
  ASSERT_EQ(buffer->as_f32().size(), 2u);
  EXPECT_EQ(buffer->as_f32()[0], 1.5f);
  EXPECT_EQ(buffer->as_f32()[1], -2.0f);
  EXPECT_TRUE(buffer->as_f16_bits().empty());
  std::string b(3, '\0');
  ASSERT_TRUE(file->read_tensor_bytes("b", std::as_writable_bytes(std::span(b))).ok());
  EXPECT_EQ(b, "xyz");
  // Wrong destination size and unknown names are argument errors.
  std::string small(2, '\0');
  EXPECT_EQ(file->read_tensor_bytes("b", std::as_writable_bytes(std::span(small))).code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(file->read_tensor("nope").status().code(), ErrorCode::not_found);
  EXPECT_TRUE(file->check_all_finite().ok());
}

TEST(Safetensors, UnalignedDataOffsetIsValidAndCopiedForTypedAccess) {
  TempDir dir;
  // Header of odd length: the data section starts at an odd file offset.
  std::string header = "{" + st_entry("w", "BF16", "[3]", 0, 6) + "}";
  if ((8 + header.size()) % 2 == 0) header += " ";
  const std::string data = {'\x80', '\x3f', '\x00', '\xc0', '\x80', '\x7f'};  // 1, -2, +inf
  const std::string path = dir.write("u.safetensors", st_bytes(header, data));
  auto file = open_safetensors(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_EQ(file->tensors()[0].file_offset % 2, 1u);
  auto buffer = file->read_tensor(0);
  ASSERT_TRUE(buffer.ok());
  const auto bits = buffer->as_f16_bits();
  ASSERT_EQ(bits.size(), 3u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bits.data()) % 64, 0u);
  EXPECT_EQ(bf16_to_f32(bits[0]), 1.0f);
  EXPECT_EQ(bf16_to_f32(bits[1]), -2.0f);
  EXPECT_TRUE(std::isinf(bf16_to_f32(bits[2])));
}

TEST(Safetensors, NonFiniteCheckIsOptInAndNamesTheElement) {  // S21
  TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::string header = "{" + st_entry("ok", "F32", "[2]", 0, 8) + "," +
                             st_entry("bad", "F32", "[4]", 8, 24) + "," +
                             st_entry("h", "F16", "[1]", 24, 26) + "}";
  const std::string data = floats({1, 2}) + floats({0, 1, nan, 3}) + std::string("\x00\xfc", 2);
  auto file = open_safetensors(dir.write("n.safetensors", st_bytes(header, data)));
  ASSERT_TRUE(file.ok()) << file.status().to_string();  // NaN is legal in the format
  EXPECT_TRUE(file->check_finite(0).ok());
  const Status bad = file->check_finite(1);
  EXPECT_EQ(safetensors_error_code(bad), "non_finite");
  EXPECT_NE(bad.message().find("tensor 'bad': element 2 is NaN"), std::string::npos)
      << bad.message();
  const Status half = file->check_finite(2);
  EXPECT_NE(half.message().find("element 0 is -Inf"), std::string::npos) << half.message();
  EXPECT_EQ(safetensors_error_code(file->check_all_finite()), "non_finite");
}

TEST(Safetensors, CK01_FileTooSmall) {
  TempDir dir;
  for (std::size_t size = 0; size < 8; ++size) {
    EXPECT_EQ(st_code(dir, std::string(size, '\0')), "header_too_small") << size;
  }
}

TEST(Safetensors, CK02_HeaderOutOfBounds) {
  TempDir dir;
  std::string file = st_bytes_with_n(1000, std::string(92, ' '));
  ASSERT_EQ(file.size(), 100u);
  EXPECT_EQ(st_code(dir, file), "header_out_of_bounds");
  // The largest allowed N in a tiny file: still refused before any read.
  EXPECT_EQ(st_code(dir, st_bytes_with_n(100'000'000, "{}")), "header_out_of_bounds");
}

TEST(Safetensors, CK03_HeaderTooLarge) {
  TempDir dir;
  EXPECT_EQ(st_code(dir, st_bytes_with_n(100'000'001, "{}")), "header_too_large");
  EXPECT_EQ(st_code(dir, st_bytes_with_n(~0ull, "{}")), "header_too_large");
  EXPECT_EQ(st_code(dir, st_bytes_with_n((1ull << 32) + 8, "{}")), "header_too_large");
  // Checked before bounds: a sparse file big enough to hold N still fails S2.
  const std::string path = dir.write("big.safetensors", st_bytes_with_n(100'000'001, "{"));
  ASSERT_EQ(::truncate(path.c_str(), 100'000'100), 0);
  const auto file = open_safetensors(path);
  EXPECT_EQ(safetensors_error_code(file.status()), "header_too_large");
}

TEST(Safetensors, CK04_HeaderNotUtf8) {
  TempDir dir;
  struct Case {
    std::string header;
    std::size_t offset;
  };
  const Case cases[] = {
      {"{\"a\xFF\":1}", 3},
      {"{\"__metadata__\":{\"k\":\"\xC0\xAF\"}}", 22},
      {"{\"\xED\xA0\x80\":1}", 2},
      {"{\"\xF4\x90\x80\x80\":1}", 2},
      {"{}\xFF", 2},
  };
  for (const Case& c : cases) {
    std::string message;
    EXPECT_EQ(st_code(dir, st_bytes(c.header), {}, &message), "header_not_utf8")
        << printable(c.header);
    EXPECT_NE(message.find("at byte " + std::to_string(c.offset)), std::string::npos) << message;
  }
}

TEST(Safetensors, CK05_MalformedJson) {
  TempDir dir;
  const std::pair<std::string, std::string> cases[] = {
      {"{", "header_syntax"},
      {"{}xx", "header_trailing_bytes"},
      {"[]", "header_syntax"},
      {"1", "header_syntax"},
      {"\"s\"", "header_syntax"},
      {"{}{}", "header_trailing_bytes"},
      {"", "header_syntax"},
      {"{\"a\":{\"dtype\":\"F32\",}}", "header_syntax"},
      {"{'a':1}", "header_syntax"},
      {"{\"a\":{\"shape\":[01]}}", "header_syntax"},
      {"{\"a\":{\"shape\":[NaN]}}", "header_syntax"},
      {"{\"a\":{\"shape\":[[1]]}}", "header_syntax"},  // depth 4
      {"{\"\\ud800\":1}", "header_syntax"},
      {"{\"a\tb\":1}", "header_syntax"},
      {"{/*c*/}", "header_syntax"},
  };
  for (const auto& [header, code] : cases) {
    std::string message;
    EXPECT_EQ(st_code(dir, st_bytes(header), {}, &message), code) << printable(header);
    EXPECT_NE(message.find("byte"), std::string::npos) << message;  // the JSON position
  }
}

TEST(Safetensors, CK06_WhitespaceOutsideTheObject) {
  TempDir dir;
  EXPECT_EQ(st_code(dir, st_bytes("\t{}")), "header_syntax");
  EXPECT_EQ(st_code(dir, st_bytes("\n{}")), "header_syntax");
  EXPECT_EQ(st_code(dir, st_bytes(" {}")), "header_syntax");
  EXPECT_EQ(st_code(dir, st_bytes("\xEF\xBB\xBF{}")), "header_syntax");
  EXPECT_EQ(st_code(dir, st_bytes("{}\t")), "header_trailing_bytes");
  EXPECT_EQ(st_code(dir, st_bytes("{}\n")), "header_trailing_bytes");
  EXPECT_EQ(st_code(dir, st_bytes(std::string("{}\0", 3))), "header_trailing_bytes");
  EXPECT_EQ(st_code(dir, st_bytes("{}      ")), "ok");
  EXPECT_EQ(st_code(dir, st_bytes("{" + st_entry("a", "U8", "[1]", 0, 1) + "}   ", "z")), "ok");
}

TEST(Safetensors, CK07_DuplicateTensorName) {
  TempDir dir;
  const std::string a = st_entry("a", "U8", "[1]", 0, 1);
  const std::string a2 = st_entry("a", "U8", "[1]", 1, 2);
  const std::string escaped = st_entry("\\u0061", "U8", "[1]", 1, 2);
  for (const std::string& second : {a, a2, escaped}) {
    std::string message;
    EXPECT_EQ(st_code(dir, st_bytes("{" + a + "," + second + "}", "xy"), {}, &message),
              "duplicate_key");
    EXPECT_NE(message.find("duplicate key 'a'"), std::string::npos) << message;
    EXPECT_NE(message.find("root object"), std::string::npos) << message;
  }
}

TEST(Safetensors, CK08_DuplicateFieldInsideAnEntry) {
  TempDir dir;
  std::string message;
  EXPECT_EQ(
      st_code(
          dir,
          st_bytes(R"({"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"),
          {}, &message),
      "duplicate_key");
  EXPECT_NE(message.find("'dtype'"), std::string::npos) << message;
  EXPECT_NE(message.find("object 'w'"), std::string::npos) << message;
  EXPECT_EQ(st_code(dir, st_bytes(R"({"__metadata__":{"k":"a","k":"b"}})")), "duplicate_key");
  EXPECT_EQ(st_code(dir, st_bytes(R"({"__metadata__":{},"__metadata__":{}})")), "duplicate_key");
}

TEST(Safetensors, CK09_UnknownDtype) {
  TempDir dir;
  for (const char* dtype : {"\"F128\"", "\"f32\"", "\"\"", "null", "32", "[]", "{}"}) {
    std::string message;
    const std::string header =
        std::string(R"({"t.w":{"dtype":)") + dtype + R"(,"shape":[1],"data_offsets":[0,4]}})";
    EXPECT_EQ(st_code(dir, st_bytes(header, "abcd"), {}, &message), "unknown_dtype") << dtype;
    EXPECT_NE(message.find("tensor 't.w'"), std::string::npos) << message;
  }
}

TEST(Safetensors, CK10_UnsupportedDtypeIsALaterSeparateError) {
  TempDir dir;
  const std::string header = "{" + st_entry("f6", "F6_E2M3", "[4]", 0, 3) + "," +
                             st_entry("u8", "U8", "[1]", 3, 4) + "," +
                             st_entry("f", "F32", "[1]", 4, 8) + "}";
  auto file = open_safetensors(dir.write("d.safetensors", st_bytes(header, "abcd" + floats({1}))));
  ASSERT_TRUE(file.ok()) << file.status().to_string();  // a valid reference dtype
  const Status f6 = check_computable(file->tensors()[0], file->path());
  EXPECT_EQ(f6.code(), ErrorCode::unsupported);
  EXPECT_EQ(safetensors_error_code(f6), "unsupported_dtype");
  EXPECT_NE(f6.message().find("tensor 'f6' has dtype F6_E2M3"), std::string::npos) << f6.message();
  EXPECT_EQ(safetensors_error_code(check_computable(file->tensors()[1])), "unsupported_dtype");
  EXPECT_TRUE(check_computable(file->tensors()[2]).ok());
  // U8 can still be read as raw bytes.
  auto raw = file->read_tensor("u8");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(static_cast<char>(raw->bytes()[0]), 'd');
  for (std::size_t i = 0; i < kSafetensorsDtypeCount; ++i) {
    const auto dtype = static_cast<SafetensorsDtype>(i);
    EXPECT_EQ(parse_safetensors_dtype(safetensors_dtype_name(dtype)), dtype);
  }
}

TEST(Safetensors, CK11_SizeOverflow) {
  TempDir dir;
  const char* shapes[] = {
      "[2,18446744073709551614]",
      "[2,9223372036854775807]",
      "[4294967296,4294967296]",
      "[4194305,4194305,211106198978564]",
      "[0,18446744073709551615,18446744073709551615]",
      "[18446744073709551615,18446744073709551615,0]",
  };
  for (const char* shape : shapes) {
    std::string message;
    EXPECT_EQ(st_code(dir, st_bytes("{" + st_entry("x", "F32", shape, 0, 0) + "}"), {}, &message),
              "size_overflow")
        << shape;
    EXPECT_NE(message.find("tensor 'x'"), std::string::npos) << message;
  }
}

TEST(Safetensors, CK12_InvalidShapeElements) {
  TempDir dir;
  std::string rank1000 = "[";
  for (int i = 0; i < 1000; ++i) rank1000 += i ? ",1" : "1";
  rank1000 += "]";
  for (const std::string& shape :
       {std::string("[-1]"), std::string("[2.0]"), std::string("[\"2\"]"), std::string("[1e400]"),
        std::string("[18446744073709551616]"), std::string("[null]"), std::string("[true]"),
        std::string("[1,1,1,1,1,1,1,1,1]"), std::string("7"), std::string("null"), rank1000}) {
    EXPECT_EQ(st_code(dir, st_bytes("{" + st_entry("x", "U8", shape, 0, 1) + "}", "z")),
              "invalid_shape")
        << shape.substr(0, 40);
  }
  // Rank 8 is the limit, not an error.
  EXPECT_EQ(st_code(dir, st_bytes("{" + st_entry("x", "U8", "[1,1,1,1,1,1,1,1]", 0, 1) + "}", "z")),
            "ok");
}

TEST(Safetensors, CK13_InvalidDataOffsets) {
  TempDir dir;
  const auto with_offsets = [](const std::string& offsets) {
    return st_bytes(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":)" + offsets + "}}", "z");
  };
  EXPECT_EQ(st_code(dir, with_offsets("[8,4]")), "invalid_offset");
  EXPECT_EQ(st_code(dir, with_offsets("[0]")), "invalid_offset");
  EXPECT_EQ(st_code(dir, with_offsets("[0,1,2]")), "invalid_offset");
  EXPECT_EQ(st_code(dir, with_offsets("[-1,0]")), "invalid_offset");
  EXPECT_EQ(st_code(dir, with_offsets("\"0,1\"")), "invalid_offset");
  EXPECT_EQ(st_code(dir, with_offsets("[0,1]")), "ok");
}

TEST(Safetensors, CK14_OverlapsAndTensorCountLimit) {
  TempDir dir;
  std::string message;
  EXPECT_EQ(st_code(dir,
                    st_bytes("{" + st_entry("a", "U8", "[4]", 0, 4) + "," +
                                 st_entry("b", "U8", "[4]", 2, 6) + "}",
                             "abcdef"),
                    {}, &message),
            "invalid_offset");
  EXPECT_NE(message.find("overlap"), std::string::npos) << message;
  std::string ten = "{";
  for (int i = 0; i < 10; ++i)
    ten += (i ? "," : "") + st_entry("t" + std::to_string(i), "U8", "[4]", 0, 4);
  EXPECT_EQ(st_code(dir, st_bytes(ten + "}", "abcd")), "invalid_offset");
  // Enforced while parsing: the 11th entry fails before the broken tail is seen.
  SafetensorsOptions small;
  small.max_tensors = 10;
  std::string eleven = ten + "," + st_entry("t10", "U8", "[4]", 0, 4) + ",@@@";
  EXPECT_EQ(st_code(dir, st_bytes(eleven, "abcd"), small), "too_many_tensors");
  // 10 million entries on one span need ~570 MB of header: over S2's limit,
  // refused from the first 8 bytes (the file is sparse, nothing is read).
  const std::string path = dir.write("dos.safetensors", st_bytes_with_n(570'000'000, "{"));
  ASSERT_EQ(::truncate(path.c_str(), 570'000'008), 0);
  EXPECT_EQ(safetensors_error_code(open_safetensors(path).status()), "header_too_large");
  // The default limit (100,000): 100,001 entries on one span fail on the count, fast.
  std::string many = "{";
  many.reserve(6'000'000);
  for (int i = 0; i <= 100'000; ++i) {
    many += (i ? "," : "") + st_entry(std::to_string(i), "U8", "[0]", 0, 0);
  }
  many += "}";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(st_code(dir, st_bytes(many)), "too_many_tensors");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(Safetensors, CK15_SpanDiffersFromShapeTimesDtype) {
  TempDir dir;
  std::string message;
  EXPECT_EQ(
      st_code(dir,
              st_bytes("{" + st_entry("a.weight", "F32", "[3]", 0, 16) + "}", std::string(16, 'x')),
              {}, &message),
      "size_mismatch");
  EXPECT_NE(message.find("tensor 'a.weight': span [0, 16) is 16 bytes, shape [3] of F32 needs 12"),
            std::string::npos)
      << message;
  EXPECT_EQ(
      st_code(dir, st_bytes("{" + st_entry("a", "F32", "[3]", 0, 10) + "}", std::string(10, 'x'))),
      "size_mismatch");
  EXPECT_EQ(st_code(dir, st_bytes("{" + st_entry("a", "F4", "[3]", 0, 2) + "}", "xx")),
            "misaligned_sub_byte");
  EXPECT_EQ(st_code(dir, st_bytes("{" + st_entry("a", "F4", "[4]", 0, 2) + "}", "xx")), "ok");
}

TEST(Safetensors, CK16_BytesAfterTheLastTensor) {
  TempDir dir;
  std::string message;
  EXPECT_EQ(st_code(dir, valid_file() + "PK\x03\x04 a zip", {}, &message), "file_size_mismatch");
  EXPECT_NE(message.find("after the last tensor"), std::string::npos) << message;
  EXPECT_EQ(st_code(dir, valid_file()), "ok");
}

TEST(Safetensors, CK17_FileCutShort) {
  TempDir dir;
  const std::string file = valid_file();
  EXPECT_EQ(st_code(dir, file.substr(0, file.size() - 1)), "file_size_mismatch");
  EXPECT_EQ(st_code(dir, file.substr(0, file.size() - 3)), "file_size_mismatch");   // all of "b"
  EXPECT_EQ(st_code(dir, file.substr(0, file.size() - 11)), "file_size_mismatch");  // all data
}

TEST(Safetensors, CK18_ZeroSizeAndScalarTensors) {
  TempDir dir;
  const std::string header =
      "{" + st_entry("scalar", "I32", "[]", 0, 4) + "," + st_entry("empty", "F32", "[2,0]", 4, 4) +
      "," + st_entry("next", "U8", "[2]", 4, 6) + "," + st_entry("tail", "F16", "[0]", 6, 6) + "}";
  std::string data(4, '\0');
  const std::int32_t seven = 7;
  std::memcpy(data.data(), &seven, 4);
  data += "hi";
  auto file = open_safetensors(dir.write("z.safetensors", st_bytes(header, data)));
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_EQ(file->find("scalar")->element_count, 1u);
  EXPECT_EQ(file->find("empty")->element_count, 0u);
  auto scalar = file->read_tensor("scalar");
  ASSERT_TRUE(scalar.ok());
  std::int32_t value = 0;
  std::memcpy(&value, scalar->bytes().data(), 4);
  EXPECT_EQ(value, 7);
  auto empty = file->read_tensor("empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->bytes().size(), 0u);
  EXPECT_TRUE(file->read_tensor("tail").ok());
  EXPECT_EQ(st_code(dir, st_bytes("{}")), "ok");  // no tensors at all
}

TEST(Safetensors, CK19_UnknownFieldInEntry) {
  TempDir dir;
  std::string message;
  EXPECT_EQ(
      st_code(dir,
              st_bytes(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1}})", "x"),
              {}, &message),
      "unknown_field");
  EXPECT_NE(message.find("tensor 'w': unknown key 'extra'"), std::string::npos) << message;
  EXPECT_EQ(st_code(dir, st_bytes(R"({"w":{"dtype":"U8","shape":[1]}})", "x"), {}, &message),
            "missing_field");
  EXPECT_NE(message.find("'data_offsets'"), std::string::npos) << message;
  EXPECT_EQ(st_code(dir, st_bytes(R"({"w":[1]})")), "missing_field");
  EXPECT_EQ(st_code(dir, st_bytes(R"({"__metadata__":null})")), "invalid_metadata");
  EXPECT_EQ(st_code(dir, st_bytes(R"({"__metadata__":{"k":1}})")), "invalid_metadata");
  EXPECT_EQ(st_code(dir, st_bytes(R"({"__metadata__":{"k":["a"]}})")), "invalid_metadata");
}

TEST(Safetensors, CK20_TensorNames) {
  TempDir dir;
  const auto named = [](const std::string& name) {
    return st_bytes("{" + st_entry(name, "U8", "[1]", 0, 1) + "}", "x");
  };
  EXPECT_EQ(st_code(dir, named("")), "invalid_name");
  EXPECT_EQ(st_code(dir, named("a\\u0000b")), "invalid_name");
  EXPECT_EQ(st_code(dir, named(std::string(300, 'n'))), "ok");
  EXPECT_EQ(st_code(dir, named(std::string(1024, 'n'))), "ok");
  EXPECT_EQ(st_code(dir, named(std::string(1025, 'n'))), "invalid_name");
  EXPECT_EQ(st_code(dir, named(std::string(2000, 'n'))), "invalid_name");
}

TEST(Safetensors, CK21_FileChangesWhileOpen) {
  TempDir dir;
  const std::string bytes = valid_file();
  const std::string path = dir.write("live.safetensors", bytes);
  {  // Truncated after validation: io_error, not SIGBUS.
    auto file = open_safetensors(path);
    ASSERT_TRUE(file.ok());
    ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(bytes.size() - 5)), 0);
    const auto read = file->read_tensor("a");
    EXPECT_EQ(read.status().code(), ErrorCode::io);
    EXPECT_EQ(safetensors_error_code(read.status()), "io_error");
    EXPECT_EQ(safetensors_error_code(file->check_finite(0)), "io_error");
  }
  {  // Grown after validation.
    dir.write("live.safetensors", bytes);
    auto file = open_safetensors(path);
    ASSERT_TRUE(file.ok());
    dir.write("live.safetensors", bytes + "more");
    EXPECT_EQ(safetensors_error_code(file->read_tensor("b").status()), "io_error");
  }
  {  // Rewritten in place by another thread while reads run: each read is
     // io_error or one consistent content, never a crash.
    dir.write("live.safetensors", bytes);
    auto file = open_safetensors(path);
    ASSERT_TRUE(file.ok());
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      for (int i = 0; i < 200 && !stop; ++i) {
        const int fd = ::open(path.c_str(), O_WRONLY);
        if (fd < 0) continue;
        if (i % 2) {
          (void)::ftruncate(fd, 10);
        } else {
          (void)::pwrite(fd, bytes.data(), bytes.size(), 0);
        }
        ::close(fd);
      }
    });
    int ok = 0, failed = 0;
    for (int i = 0; i < 500; ++i) {
      const auto read = file->read_tensor("b");
      if (read.ok()) {
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(read->bytes().data()), 3), "xyz");
        ++ok;
      } else {
        EXPECT_EQ(read.status().code(), ErrorCode::io);
        ++failed;
      }
    }
    stop = true;
    writer.join();
    EXPECT_EQ(ok + failed, 500);
  }
}

// Every stable code is produced by at least one case (spec 4.1).
TEST(Safetensors, ErrorPathCompleteness) {
  TempDir dir;
  std::set<std::string> seen;
  const std::string u8x = R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  const std::string cases[] = {
      std::string(3, '\0'),
      st_bytes_with_n(100'000'001, "{}"),
      st_bytes_with_n(50, "{}"),
      st_bytes("{\"\xFF\":1}"),
      st_bytes("[]"),
      st_bytes("{}\n"),
      st_bytes(R"({"__metadata__":{"a":"1","a":"1"}})"),
      st_bytes(R"({"__metadata__":[]})"),
      st_bytes(R"({"":1})"),
      st_bytes(R"({"w":{"shape":[],"data_offsets":[0,0]}})"),
      st_bytes(R"({"w":{"dtype":"U8","shape":[],"data_offsets":[0,1],"x":0}})"),
      st_bytes(R"({"w":{"dtype":"X","shape":[],"data_offsets":[0,1]}})"),
      st_bytes(R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})"),
      st_bytes(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}})"),
      st_bytes(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})"),
      st_bytes(R"({"w":{"dtype":"F4","shape":[1],"data_offsets":[0,1]}})", "x"),
      st_bytes(R"({"w":{"dtype":"U8","shape":[2],"data_offsets":[0,1]}})", "x"),
      st_bytes(u8x, "xy"),
  };
  for (const std::string& bytes : cases) seen.insert(st_code(dir, bytes));
  SafetensorsOptions one;
  one.max_tensors = 0;
  seen.insert(st_code(dir, st_bytes(u8x, "x"), one));
  // The three codes outside the validator.
  const std::string path =
      dir.write("c.safetensors", st_bytes(R"({"w":{"dtype":"F6_E3M2","shape":[4],)"
                                          R"("data_offsets":[0,3]},"f":{"dtype":"F32",)"
                                          R"("shape":[1],"data_offsets":[3,7]}})",
                                          std::string("abc") + floats({INFINITY})));
  auto file = open_safetensors(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  seen.insert(std::string(safetensors_error_code(check_computable(file->tensors()[0]))));
  seen.insert(std::string(safetensors_error_code(file->check_finite(1))));
  ASSERT_EQ(::truncate(path.c_str(), 1), 0);
  seen.insert(std::string(safetensors_error_code(file->read_tensor(0).status())));
  for (std::size_t i = 0; i < kSafetensorsErrorCount; ++i) {
    const auto name = std::string(safetensors_error_name(static_cast<SafetensorsError>(i)));
    if (name == "out_of_memory") continue;  // needs a failing allocator
    EXPECT_TRUE(seen.count(name)) << "no case produces " << name;
  }
}

// The committed fuzz seeds cover every validator code too.
TEST(Safetensors, CommittedCorpusCoversEveryValidatorCode) {
  const std::filesystem::path corpus =
      std::filesystem::path(ACEFIT_TEST_DATA_DIR) / ".." / "fuzz" / "corpus" / "safetensors";
  ASSERT_TRUE(std::filesystem::is_directory(corpus)) << corpus;
  std::set<std::string> seen;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_LE(bytes.size(), 4096u) << entry.path();
    SafetensorsOptions options;
    options.max_tensors = 64;  // as in tests/fuzz/safetensors_fuzz.cpp
    const auto result = validate_safetensors_bytes(
        {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, "seed", options);
    seen.insert(result.ok() ? "ok" : std::string(safetensors_error_code(result.status())));
  }
  for (std::size_t i = 0; i < kSafetensorsErrorCount; ++i) {
    const auto name = std::string(safetensors_error_name(static_cast<SafetensorsError>(i)));
    if (name == "out_of_memory" || name == "io_error" || name == "unsupported_dtype" ||
        name == "non_finite") {
      continue;  // not validator outcomes
    }
    EXPECT_TRUE(seen.count(name)) << "no committed seed produces " << name;
  }
  EXPECT_TRUE(seen.count("ok"));
}

}  // namespace
}  // namespace acefit
