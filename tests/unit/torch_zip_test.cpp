// Tests for the .pt (PyTorch zip) float tensor reader: real torch.save files
// made by tests/data/pt/make_silence_latent.py, and corrupt variants made
// here by patching those bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "io/torch/torch_pickle.h"
#include "io/torch/torch_zip.h"

namespace acefit {
namespace {

using Bytes = std::vector<std::uint8_t>;
const std::vector<std::int64_t> kSmallShape = {1, 4, 10};

std::string pt_path(const std::string& name) {
  return std::string(ACEFIT_TEST_DATA_DIR) + "/pt/" + name;
}

Bytes load(const std::string& name) {
  std::ifstream in(pt_path(name), std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::uint32_t get32(const Bytes& b, std::size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) |
         (static_cast<std::uint32_t>(b[at + 3]) << 24);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put64(Bytes& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Offset of the last occurrence of a 4-byte signature followed (after `skip`
// bytes) by nothing in particular; with `name`, the central entry of that name.
std::size_t find_central(const Bytes& b, const std::string& name_suffix) {
  for (std::size_t i = 0; i + 46 <= b.size(); ++i) {
    if (get32(b, i) != 0x02014b50) continue;
    const std::size_t n = b[i + 28] | (b[i + 29] << 8);
    const std::string name(reinterpret_cast<const char*>(b.data() + i + 46), n);
    if (name.size() >= name_suffix.size() &&
        name.compare(name.size() - name_suffix.size(), name_suffix.size(), name_suffix) == 0) {
      return i;
    }
  }
  ADD_FAILURE() << "no central entry " << name_suffix;
  return 0;
}

std::size_t find_last(const Bytes& b, std::uint32_t signature) {
  for (std::size_t i = b.size() - 4; i-- > 0;) {
    if (get32(b, i) == signature) return i;
  }
  ADD_FAILURE() << "signature not found";
  return 0;
}

Status parse(const Bytes& b, const std::vector<std::int64_t>& shape = kSmallShape) {
  return parse_pt_float_tensor(b, shape, "test.pt").status();
}

void expect_error(const Status& status, const std::string& fragment) {
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(fragment), std::string::npos) << status.to_string();
}

TEST(TorchZip, ReadsSmallTensorExactly) {
  auto tensor = read_pt_float_tensor(pt_path("small_1x4x10.pt"), kSmallShape);
  ASSERT_TRUE(tensor.ok()) << tensor.status().to_string();
  EXPECT_EQ(tensor->shape, kSmallShape);
  ASSERT_EQ(tensor->values.size(), 40u);
  for (int c = 0; c < 4; ++c) {
    for (int t = 0; t < 10; ++t) {
      EXPECT_EQ(tensor->values[c * 10 + t], (c * 10 + t) * 0.25f - 3.0f) << c << "," << t;
    }
  }
}

TEST(TorchZip, ReadsRandomTensorMatchingRawReference) {
  const std::vector<std::int64_t> shape = {1, 8, 32};
  auto tensor = read_pt_float_tensor(pt_path("random_1x8x32.pt"), shape);
  ASSERT_TRUE(tensor.ok()) << tensor.status().to_string();
  const Bytes raw = load("random_1x8x32.f32");
  ASSERT_EQ(raw.size(), 8u * 32 * 4);
  ASSERT_EQ(tensor->values.size(), 256u);
  EXPECT_EQ(std::memcmp(raw.data(), tensor->values.data(), raw.size()), 0);
}

TEST(TorchZip, DirectoryListsTorchEntries) {
  const Bytes b = load("small_1x4x10.pt");
  auto entries = parse_zip_directory(b, "small");
  ASSERT_TRUE(entries.ok()) << entries.status().to_string();
  bool pickle = false, data = false;
  for (const ZipEntry& e : *entries) {
    pickle |= e.name == "small_1x4x10/data.pkl";
    data |= e.name == "small_1x4x10/data/0" && e.uncompressed_size == 160 && e.method == 0;
  }
  EXPECT_TRUE(pickle);
  EXPECT_TRUE(data);
}

TEST(TorchZip, PickleDescribesTheTensor) {
  const Bytes b = load("small_1x4x10.pt");
  auto entries = parse_zip_directory(b, "small");
  ASSERT_TRUE(entries.ok());
  for (const ZipEntry& e : *entries) {
    if (e.name != "small_1x4x10/data.pkl") continue;
    auto bytes = zip_stored_entry(b, e, "small");
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    auto info = parse_tensor_pickle(*bytes, "small");
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(info->storage_type, "FloatStorage");
    EXPECT_EQ(info->storage_key, "0");
    EXPECT_EQ(info->storage_numel, 40);
    EXPECT_EQ(info->storage_offset, 0);
    EXPECT_EQ(info->shape, kSmallShape);
    EXPECT_EQ(info->stride, (std::vector<std::int64_t>{40, 10, 1}));
  }
}

TEST(TorchZip, Crc32KnownValue) {
  const std::string text = "123456789";
  EXPECT_EQ(crc32_ieee({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}),
            0xCBF43926u);
}

TEST(TorchZip, PlainEocdWithoutZip64Records) {
  // torch writes ZIP64 records always; drop them to test the plain EOCD path.
  Bytes b = load("small_1x4x10.pt");
  const std::size_t record = find_last(b, 0x06064b50);
  const std::size_t eocd = find_last(b, 0x06054b50);
  b.erase(b.begin() + static_cast<std::ptrdiff_t>(record),
          b.begin() + static_cast<std::ptrdiff_t>(eocd));
  EXPECT_TRUE(parse(b).ok()) << parse(b).to_string();
}

TEST(TorchZip, WrongExpectedShapeIsRejected) {
  const Bytes b = load("small_1x4x10.pt");
  expect_error(parse(b, {1, 4, 11}), "expected [1, 4, 11]");
  expect_error(parse(b, {1, 64, 15000}), "shape is [1, 4, 10]");
  expect_error(parse(b, {1, 0, 10}), "invalid dimension");
}

TEST(TorchZip, TruncatedFileIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  b.resize(b.size() - 10);
  expect_error(parse(b), "end-of-central-directory");
  b.resize(10);
  expect_error(parse(b), "too small");
  expect_error(parse(Bytes{}), "too small");
}

TEST(TorchZip, TrailingGarbageIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  b.insert(b.end(), {'j', 'u', 'n', 'k', '!'});
  expect_error(parse(b), "trailing bytes");
}

TEST(TorchZip, CompressedEntryIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  const std::size_t central = find_central(b, "/data/0");
  b[central + 10] = 8;  // deflate
  expect_error(parse(b), "compressed (method 8)");
}

TEST(TorchZip, WrongDataSizeIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  const std::size_t central = find_central(b, "/data/0");
  put32(b, central + 20, 156);
  put32(b, central + 24, 156);
  expect_error(parse(b), "is 156 bytes, expected 160");
}

TEST(TorchZip, MissingDataEntryIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  const std::size_t central = find_central(b, "/data/0");
  const std::size_t n = b[central + 28];
  b[central + 46 + n - 1] = '9';  // ".../data/9"
  expect_error(parse(b), "no entry ends in '/data/0'");
}

TEST(TorchZip, MissingPickleIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  const std::size_t central = find_central(b, "/data.pkl");
  const std::size_t n = b[central + 28];
  b[central + 46 + n - 1] = 'x';
  expect_error(parse(b), "data.pkl' entry");
}

TEST(TorchZip, CorruptDataFailsCrc) {
  Bytes b = load("small_1x4x10.pt");
  const std::size_t central = find_central(b, "/data/0");
  const std::size_t local = get32(b, central + 42);
  const std::size_t data =
      local + 30 + (b[local + 26] | (b[local + 27] << 8)) + (b[local + 28] | (b[local + 29] << 8));
  b[data + 3] ^= 0x40;
  expect_error(parse(b), "CRC-32");
}

TEST(TorchZip, DirectoryPastEndIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  const std::size_t record = find_last(b, 0x06064b50);
  put64(b, record + 48, 1ull << 40);  // central directory offset
  expect_error(parse(b), "lies past");
  b = load("small_1x4x10.pt");
  put64(b, record + 40, 1ull << 62);  // central directory size
  expect_error(parse(b), "lies past");
  b = load("small_1x4x10.pt");
  const std::size_t locator = find_last(b, 0x07064b50);
  put64(b, locator + 8, b.size() + 100);  // ZIP64 record offset
  expect_error(parse(b), "ZIP64 end-of-central-directory record missing");
}

TEST(TorchZip, EntryCountPastLimitIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  const std::size_t record = find_last(b, 0x06064b50);
  put64(b, record + 24, 1ull << 32);
  put64(b, record + 32, 1ull << 32);
  expect_error(parse(b), "more than the limit");
  b = load("small_1x4x10.pt");
  put64(b, record + 24, 1000);
  put64(b, record + 32, 1000);
  expect_error(parse(b), "cannot fit");
}

TEST(TorchZip, LocalHeaderPastDirectoryIsRejected) {
  Bytes b = load("small_1x4x10.pt");
  const std::size_t central = find_central(b, "/data/0");
  put32(b, central + 42, static_cast<std::uint32_t>(b.size() - 30));
  expect_error(parse(b), "local header past");
}

TEST(TorchZip, RejectsOtherTorchFiles) {
  expect_error(parse(load("bf16_1x4x10.pt")), "BFloat16Storage");
  expect_error(parse(load("transposed_1x10x4.pt"), {1, 10, 4}), "not contiguous");
  expect_error(parse(load("offset_1x4x9.pt"), {1, 4, 9}), "at offset 4");
  expect_error(parse(load("legacy_1x4x10.pt")), "not a zip archive");
  auto missing = read_pt_float_tensor(pt_path("no_such.pt"), kSmallShape);
  EXPECT_EQ(missing.status().code(), ErrorCode::not_found);
}

TEST(TorchZip, PickleRejectsMalformedStreams) {
  auto check = [](const Bytes& pickle, const std::string& fragment) {
    expect_error(parse_tensor_pickle(pickle, "p").status(), fragment);
  };
  check({0x80, 0x02, 'N', '.'}, "does not hold a single tensor");
  check({0x80, 0x02, 'N'}, "no STOP");
  check({0x80, 0x02, 't', '.'}, "no MARK");
  check({0x80, 0x02, 'h', 7, '.'}, "memo index 7");
  check({0x80, 0x02, 'N', 'N', '.'}, "STOP with a stack of 2");
  check({0x80, 0x02, 'N', '.', 'N'}, "trailing bytes");
  check({0x80, 0x02, 'X', 0xff, 0xff, 0xff, 0x7f, 'a', '.'}, "past the end");
  check({0x80, 0x02, 'i', '.'}, "unsupported pickle opcode 0x69");
  Bytes deep = {0x80, 0x02, 'N'};
  for (int i = 0; i < 100; ++i) deep.push_back(0x85);  // TUPLE1, nested 100 deep
  deep.push_back('.');
  check(deep, "nesting deeper than 64");
}

}  // namespace
}  // namespace acefit
