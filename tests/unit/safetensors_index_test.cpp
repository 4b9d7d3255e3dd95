// Sharded checkpoints (rules I1-I6) and checklist case CK-22: shard names
// that escape the folder, symlinks out of it (including into a sibling whose
// name extends the folder's), and weight_map consistency both ways.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "io/safetensors/safetensors_index.h"
#include "safetensors_test_util.h"

namespace acefit {
namespace {

using testing::st_bytes;
using testing::st_entry;
using testing::TempDir;

// /tmp/x/m/ace: two valid shards; /tmp/x/m/ace_evil/x.safetensors: a valid
// file holding a tensor named like the folder's, so that only containment
// (not a parse error) can reject it.
class ShardedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ace_ = dir_.path() + "/m/ace";
    dir_.write("m/ace/model-1.safetensors",
               st_bytes("{" + st_entry("a", "U8", "[2]", 0, 2) + "}", "aa"));
    dir_.write("m/ace/model-2.safetensors", st_bytes("{" + st_entry("b", "U8", "[3]", 0, 3) + "," +
                                                         st_entry("c", "U8", "[1]", 3, 4) + "}",
                                                     "bbbc"));
    dir_.write("m/ace_evil/x.safetensors",
               st_bytes("{" + st_entry("a", "U8", "[2]", 0, 2) + "}", "ev"));
  }

  Expected<ShardedCheckpoint> open_index(const std::string& json,
                                         const ShardedOptions& options = {}) {
    return open_sharded(dir_.write("m/ace/model.safetensors.index.json", json), options);
  }

  static std::string code(const Expected<ShardedCheckpoint>& result) {
    return result.ok() ? "ok" : std::string(sharded_error_code(result.status()));
  }

  static std::string index_json(const std::string& a_shard) {
    return R"({"metadata":{"total_size":6},"weight_map":{"a":")" + a_shard +
           R"(","b":"model-2.safetensors","c":"model-2.safetensors"}})";
  }

  TempDir dir_;
  std::string ace_;
};

TEST_F(ShardedTest, ValidIndexOpensEveryShardOnce) {
  auto result = open_index(index_json("model-1.safetensors"));
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->shards.size(), 2u);
  ASSERT_EQ(result->tensors.size(), 3u);
  EXPECT_EQ(result->tensors[0].name, "a");
  EXPECT_EQ(result->shard_names[result->tensors[2].shard], "model-2.safetensors");
  EXPECT_EQ(result->info(result->tensors[2]).byte_size, 1u);
  EXPECT_EQ(result->total_bytes, 6u);
  EXPECT_TRUE(result->warnings.empty());
  auto bytes = result->shards[1].read_tensor("c");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(static_cast<char>(bytes->bytes()[0]), 'c');
}

TEST_F(ShardedTest, WarningsForTotalSizeAndUnknownKeys) {
  auto result = open_index(
      R"({"extra":[1,{"k":2}],"metadata":{"total_size":99,"format":"pt"},"weight_map":{"a":"model-1.safetensors","b":"model-2.safetensors","c":"model-2.safetensors"}})");
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  ASSERT_EQ(result->warnings.size(), 2u);
  EXPECT_NE(result->warnings[0].find("'extra'"), std::string::npos);
  EXPECT_NE(result->warnings[1].find("total_size is 99"), std::string::npos);
}

TEST_F(ShardedTest, CK22_ShardNamesThatLeaveTheFolder) {
  for (const char* name :
       {"../x.safetensors", "/etc/passwd", "nested/../../x.safetensors", "sub/a.safetensors",
        "..\\\\x.safetensors", "C:x.safetensors", "..", ".", "", "a.bin", "a\\u0000.safetensors",
        "a\\n.safetensors", "../ace_evil/x.safetensors"}) {
    const auto result = open_index(index_json(name));
    EXPECT_EQ(code(result), "invalid_shard_name") << name;
  }
  EXPECT_EQ(code(open_index(index_json(std::string(256, 'n') + ".safetensors"))),
            "invalid_shard_name");
  // Percent-encoding is not decoded: the literal name simply does not exist.
  EXPECT_EQ(code(open_index(index_json("%2e%2e%2fx.safetensors"))), "shard_not_found");
}

TEST_F(ShardedTest, CK22_SymlinksOutOfTheFolder) {
  // Into the sibling /m/ace_evil, whose path starts with /m/ace as a string.
  std::filesystem::create_symlink("../ace_evil/x.safetensors", ace_ + "/evil.safetensors");
  std::filesystem::create_symlink(dir_.path() + "/m/ace_evil/x.safetensors",
                                  ace_ + "/evil_abs.safetensors");
  std::filesystem::create_symlink("/etc/passwd", ace_ + "/passwd.safetensors");
  std::filesystem::create_symlink("../ace_evil", ace_ + "/dirlink");
  for (const char* name : {"evil.safetensors", "evil_abs.safetensors", "passwd.safetensors"}) {
    const auto result = open_index(index_json(name));
    EXPECT_EQ(code(result), "shard_outside_folder") << name;
    EXPECT_NE(result.status().message().find("outside"), std::string::npos);
  }
  // A symlink that stays inside is fine (but names the same file twice here).
  std::filesystem::create_symlink("model-1.safetensors", ace_ + "/alias.safetensors");
  EXPECT_EQ(code(open_index(index_json("alias.safetensors"))), "ok");
  EXPECT_EQ(
      code(open_index(
          R"({"weight_map":{"a":"model-1.safetensors","z":"alias.safetensors","b":"model-2.safetensors","c":"model-2.safetensors"}})")),
      "duplicate_shard");
  // Widening the root to /m (a configured model store) admits the sibling.
  ShardedOptions store;
  store.allowed_root = dir_.path() + "/m";
  EXPECT_EQ(code(open_index(index_json("evil.safetensors"), store)), "ok");
}

TEST_F(ShardedTest, MissingOrIrregularShards) {
  EXPECT_EQ(code(open_index(index_json("absent.safetensors"))), "shard_not_found");
  std::filesystem::create_symlink("nowhere.safetensors", ace_ + "/dangling.safetensors");
  EXPECT_EQ(code(open_index(index_json("dangling.safetensors"))), "shard_not_found");
  std::filesystem::create_directory(ace_ + "/dir.safetensors");
  EXPECT_EQ(code(open_index(index_json("dir.safetensors"))), "shard_not_regular_file");
  ASSERT_EQ(::mkfifo((ace_ + "/fifo.safetensors").c_str(), 0600), 0);
  EXPECT_EQ(code(open_index(index_json("fifo.safetensors"))), "shard_not_regular_file");
  // A corrupt shard reports its own code and names itself.
  dir_.write("m/ace/bad.safetensors", st_bytes("{}\t"));
  const auto bad = open_index(index_json("bad.safetensors"));
  EXPECT_EQ(code(bad), "header_trailing_bytes");
  EXPECT_NE(bad.status().message().find("bad.safetensors: header_trailing_bytes: "),
            std::string::npos);
}

TEST_F(ShardedTest, WeightMapMustAgreeWithTheShards) {
  // "a" mapped to a shard that does not hold it.
  EXPECT_EQ(
      code(open_index(
          R"({"weight_map":{"a":"model-2.safetensors","b":"model-2.safetensors","c":"model-2.safetensors"}})")),
      "tensor_missing_from_shard");
  // Shard 2 holds "c", which the index does not list.
  EXPECT_EQ(
      code(open_index(R"({"weight_map":{"a":"model-1.safetensors","b":"model-2.safetensors"}})")),
      "tensor_not_in_index");
  // A name in two shards.
  dir_.write("m/ace/model-3.safetensors",
             st_bytes("{" + st_entry("a", "U8", "[1]", 0, 1) + "}", "z"));
  EXPECT_EQ(
      code(open_index(
          R"({"weight_map":{"a":"model-1.safetensors","b":"model-2.safetensors","c":"model-2.safetensors","q":"model-3.safetensors"}})")),
      "tensor_in_two_shards");
}

TEST_F(ShardedTest, IndexSyntaxAndStructure) {
  EXPECT_EQ(code(open_index("[]")), "invalid_index");
  EXPECT_EQ(code(open_index(R"({"metadata":{}})")), "invalid_index");
  EXPECT_EQ(code(open_index(R"({"weight_map":[]})")), "invalid_index");
  EXPECT_EQ(code(open_index(R"({"weight_map":{"a":1}})")), "invalid_index");
  EXPECT_EQ(code(open_index(R"({"weight_map":{"":"model-1.safetensors"}})")), "invalid_name");
  EXPECT_EQ(code(open_index(R"({"weight_map":{"a":"model-1.safetensors",}})")), "index_syntax");
  EXPECT_EQ(code(open_index(R"({"metadata":{"x":{"y":[1]}},"weight_map":{}})")), "index_syntax");
  EXPECT_EQ(code(open_index("{\"weight_map\":{\"\xC0\xAF\":\"m.safetensors\"}}")),
            "index_not_utf8");
  EXPECT_EQ(
      code(open_index(R"({"weight_map":{"a":"model-1.safetensors","a":"model-1.safetensors"}})")),
      "duplicate_key");
  EXPECT_EQ(code(open_index(R"({"weight_map":{}} x)")), "index_syntax");
  // Leading/trailing JSON whitespace is fine in an index.
  EXPECT_EQ(code(open_index("\n " + index_json("model-1.safetensors") + "\n")), "ok");
  ShardedOptions two;
  two.max_shards = 1;
  EXPECT_EQ(code(open_index(index_json("model-1.safetensors"), two)), "too_many_shards");
  const std::string big(kShardIndexMaxBytes + 1, ' ');
  EXPECT_EQ(code(open_index(big)), "index_too_large");
}

}  // namespace
}  // namespace acefit
