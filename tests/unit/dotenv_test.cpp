#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "io/text/dotenv.h"
#include "test_support.h"

namespace acefit {
namespace {

TEST(DotEnv, ReadsTheUsualForms) {
  const DotEnv env = parse_dotenv(
      "# settings\n"
      "\n"
      "ACESTEP_LM_BACKEND=pt\n"
      "export ACESTEP_BATCH_SIZE = 4 \n"
      "MAX_CUDA_VRAM=8 # simulate an 8 GB card\n"
      "ACESTEP_CONFIG_PATH=\"acestep-v15-turbo # not a comment\"\n"
      "QUOTED='single #raw'\n"
      "ESCAPED=\"a\\nb\\\"c\"\n"
      "EMPTY=\n"
      "WINDOWS=crlf\r\n",
      "test.env");
  EXPECT_TRUE(env.warnings.empty());
  EXPECT_EQ(env.get("ACESTEP_LM_BACKEND"), "pt");
  EXPECT_EQ(env.get("ACESTEP_BATCH_SIZE"), "4");
  EXPECT_EQ(env.get("MAX_CUDA_VRAM"), "8");
  EXPECT_EQ(env.get("ACESTEP_CONFIG_PATH"), "acestep-v15-turbo # not a comment");
  EXPECT_EQ(env.get("QUOTED"), "single #raw");
  EXPECT_EQ(env.get("ESCAPED"), "a\nb\"c");
  EXPECT_EQ(env.get("EMPTY"), "");
  EXPECT_EQ(env.get("WINDOWS"), "crlf");
  EXPECT_EQ(env.get("ABSENT"), std::nullopt);
}

TEST(DotEnv, SkipsBadLinesWithAWarningNamingFileAndLine) {
  const DotEnv env = parse_dotenv(
      "GOOD=1\n"
      "no equals sign\n"
      "9BAD=1\n"
      "OPEN=\"unterminated\n"
      "TRAIL='x' y\n"
      "GOOD=2\n",
      "my.env");
  EXPECT_EQ(env.get("GOOD"), "2");  // the later duplicate wins
  EXPECT_EQ(env.get("OPEN"), std::nullopt);
  EXPECT_EQ(env.get("TRAIL"), std::nullopt);
  ASSERT_EQ(env.warnings.size(), 5u);
  EXPECT_NE(env.warnings[0].find("my.env:2"), std::string::npos);
  EXPECT_NE(env.warnings[1].find("my.env:3"), std::string::npos);
  EXPECT_NE(env.warnings[2].find("my.env:4: ignored: OPEN"), std::string::npos);
  EXPECT_NE(env.warnings[3].find("my.env:5: ignored: TRAIL"), std::string::npos);
  EXPECT_NE(env.warnings[4].find("my.env:6: GOOD set again"), std::string::npos);
}

TEST(DotEnv, LoadsDotEnvThenTheExampleAndRefusesOddFiles) {
  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / "acefit-dotenv-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  // No file: empty, not an error.
  DotEnv none = testing::unwrap(load_dotenv(dir));
  EXPECT_TRUE(none.path.empty());
  EXPECT_TRUE(none.values.empty());
  std::ofstream(dir + "/.env.example") << "ACESTEP_LM_BACKEND=vllm\n";
  EXPECT_EQ(testing::unwrap(load_dotenv(dir)).get("ACESTEP_LM_BACKEND"), "vllm");
  std::ofstream(dir + "/.env") << "ACESTEP_LM_BACKEND=pt\n";
  const DotEnv env = testing::unwrap(load_dotenv(dir));
  EXPECT_EQ(env.path, dir + "/.env");
  EXPECT_EQ(env.get("ACESTEP_LM_BACKEND"), "pt");
  // Too large: an error naming the file.
  std::ofstream(dir + "/.env") << std::string(2u << 20, '#');
  const auto big = load_dotenv(dir);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find(".env: larger than"), std::string::npos);
  // A folder named .env: an error too.
  fs::remove(dir + "/.env");
  fs::create_directory(dir + "/.env");
  EXPECT_FALSE(load_dotenv(dir).ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace acefit
