// Generator::generate and DCW (acestep-model.md 18.4): on by default for
// turbo models, off for base/SFT models, recorded in the result; turning it
// off changes the audio.
// Also the turbo step count of 18.3: more than 8 runs 8 with a warning.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "golden_support.h"
#include "pipeline/generator.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

namespace fs = std::filesystem;

GenerationRequest short_request() {
  GenerationRequest r;
  r.caption = "slow strings";
  r.duration_s = 5.0;  // 128 latent frames, the shortest
  r.seed = 11;
  return r;
}

// The tokenized demo checkpoints with the turbo DiT turned into a base one
// (folder acestep-v15-base, is_turbo false); made once, removed at exit.
const std::string& base_checkpoints() {
  static struct Folder {
    std::string path =
        std::string(ACEFIT_BINARY_DIR) + "/dcw-base-checkpoints-" + std::to_string(::getpid());
    ~Folder() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } folder;
  static std::once_flag once;
  std::call_once(once, [] {
    fs::remove_all(folder.path);
    fs::copy(tokenized_checkpoints(), folder.path, fs::copy_options::recursive);
    const std::string dit = folder.path + "/acestep-v15-base";
    fs::rename(folder.path + "/acestep-v15-turbo", dit);
    nlohmann::json config;
    std::ifstream(dit + "/config.json") >> config;
    config["is_turbo"] = false;
    config["model_version"] = "base";
    std::ofstream(dit + "/config.json") << config.dump(2);
  });
  return folder.path;
}

class DcwGenerateTest : public ::testing::Test {
 protected:
  Generator load(const std::string& checkpoints) {
    GeneratorOptions options;
    options.checkpoints = checkpoints;
    return unwrap(Generator::load(options, ops::OpContext{*device_, test_pool()}));
  }
  std::shared_ptr<Device> device_ = make_test_device("cpu");
};

TEST_F(DcwGenerateTest, TurboRunsWithDcwByDefault) {
  const Generator generator = load(tokenized_checkpoints());
  ASSERT_TRUE(generator.turbo());
  const GenerationResult on = unwrap(generator.generate(short_request()));
  EXPECT_TRUE(on.dcw.enabled);
  EXPECT_EQ(on.dcw.mode, DcwMode::both);
  EXPECT_EQ(on.dcw.scaler, 0.05);
  EXPECT_EQ(on.dcw.high_scaler, 0.02);
  EXPECT_EQ(on.steps, 8);
  EXPECT_EQ(on.shift, 3.0);

  GenerationRequest off_request = short_request();
  off_request.dcw_enabled = false;
  const GenerationResult off = unwrap(generator.generate(off_request));
  EXPECT_FALSE(off.dcw.enabled);
  EXPECT_NE(on.audio.data, off.audio.data);
  // (Zero strengths giving the audio of --dcw off: tests/cli/sampler_flags_test.sh.)
}

TEST_F(DcwGenerateTest, BaseRunsWithoutDcwByDefault) {
  const Generator generator = load(base_checkpoints());
  ASSERT_FALSE(generator.turbo());
  GenerationRequest request = short_request();
  request.steps = 3;
  const GenerationResult plain = unwrap(generator.generate(request));
  EXPECT_FALSE(plain.dcw.enabled);
  EXPECT_EQ(plain.steps, 3);

  request.dcw_enabled = true;
  const GenerationResult on = unwrap(generator.generate(request));
  EXPECT_TRUE(on.dcw.enabled);
  EXPECT_NE(on.audio.data, plain.audio.data);
}

TEST_F(DcwGenerateTest, TurboStepsAboveEightRunEightWithAWarning) {
  const Generator generator = load(tokenized_checkpoints());
  GenerationRequest request = short_request();
  request.dcw_enabled = false;
  request.steps = 20;
  request.shift = 2.5;
  const GenerationResult result = unwrap(generator.generate(request));
  EXPECT_EQ(result.steps, 8);
  EXPECT_EQ(result.record.timings.dit_steps_s.size(), 8u);
  EXPECT_EQ(result.shift, 2.5);  // not snapped
  ASSERT_EQ(result.warnings.size(), 1u);
  EXPECT_EQ(result.warnings[0], "turbo models take at most 8 steps; --steps 20 runs 8");

  request.steps = 2;
  EXPECT_EQ(unwrap(generator.generate(request)).record.timings.dit_steps_s.size(), 2u);
  request.steps = 0;
  EXPECT_EQ(generator.generate(request).status().code(), ErrorCode::invalid_argument);
  // Bad DCW options are refused before any work.
  request.steps = 8;
  request.dcw_enabled = true;
  request.dcw.scaler = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(generator.generate(request).status().code(), ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace acefit::testing
