// The public engine (include/acefit/engine.h) on the tiny checkpoints: a
// generation writes its files, a second one keeps the models loaded, a
// cancelled run writes nothing and leaves the engine usable, a request that
// cannot fit is refused with the numbers before any load, and bad input is
// invalid_argument naming the field.
#include "acefit/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>

#include "golden_support.h"
#include "io/audio/audio_file.h"

namespace acefit {
namespace {

namespace fs = std::filesystem;

EnvLookup engine_env(std::map<std::string, std::string> values) {
  return [values](std::string_view name) -> std::optional<std::string> {
    const auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

std::unique_ptr<Engine> open_engine(std::map<std::string, std::string> env = {},
                                    const std::string& device = "cpu") {
  EngineConfig config;
  config.checkpoints = testing::tokenized_checkpoints();
  config.environment = engine_env(std::move(env));
  config.dotenv_dir = "";
  config.settings["device"] = device;
  auto engine = Engine::open(config);
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? std::move(*engine) : nullptr;
}

SongRequest short_song() {
  SongRequest song;
  song.caption = "warm piano";
  song.settings["duration_s"] = "10";
  song.steps = 2;
  return song;
}

struct EngineFolder {
  fs::path path = fs::temp_directory_path() / ("acefit-engine-" + std::to_string(::getpid()));
  EngineFolder() { fs::create_directories(path); }
  ~EngineFolder() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

TEST(EngineApi, GeneratesFilesAndKeepsTheModelsLoaded) {
  auto engine = open_engine();
  ASSERT_NE(engine, nullptr);
  EXPECT_FALSE(engine->info().dit_models.empty());
  EXPECT_EQ(engine->info().dit_models.front(), "acestep-v15-turbo");
  EngineFolder folder;
  OutputTarget target;
  target.path = (folder.path / "song.wav").string();
  target.numbered = true;
  std::vector<std::string> stages;
  RunCallbacks callbacks;
  callbacks.progress = [&](std::string_view stage, std::int64_t, std::int64_t) {
    if (stages.empty() || stages.back() != stage) stages.emplace_back(stage);
  };
  auto first = engine->generate(short_song(), target, callbacks);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_EQ(first->outputs.size(), 1u);
  EXPECT_EQ(first->outputs[0], (folder.path / "song-1.wav").string());
  auto audio = read_audio_file(first->outputs[0]);
  ASSERT_TRUE(audio.ok()) << audio.status().to_string();
  EXPECT_EQ(audio->frames(), 480000u);
  EXPECT_GT(first->load_s, 0.0);
  EXPECT_NE(std::find(stages.begin(), stages.end(), "diffusion"), stages.end());
  EXPECT_EQ(stages.back(), "write");
  EXPECT_TRUE(first->prepared.fits);
  EXPECT_GT(first->prepared.plan.peak_device_bytes, 0u);

  target.path = (folder.path / "again.wav").string();
  auto second = engine->generate(short_song(), target);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(second->load_s, 0.0);  // the same models: still loaded
}

TEST(EngineApi, WarmUpLoadsTheModelsTheNextRunUses) {
  auto engine = open_engine();
  ASSERT_NE(engine, nullptr);
  const Status warmed = engine->warm_up(short_song());
  ASSERT_TRUE(warmed.ok()) << warmed.to_string();
  EngineFolder folder;
  OutputTarget target;
  target.path = (folder.path / "warm.wav").string();
  auto run = engine->generate(short_song(), target);
  ASSERT_TRUE(run.ok()) << run.status().to_string();
  EXPECT_EQ(run->load_s, 0.0);
}

TEST(EngineApi, ACancelledRunWritesNothingAndTheNextRunSucceeds) {
  auto engine = open_engine();
  ASSERT_NE(engine, nullptr);
  EngineFolder folder;
  OutputTarget target;
  target.path = (folder.path / "cancelled.wav").string();
  std::atomic<bool> stop{false};
  RunCallbacks callbacks;
  callbacks.progress = [&](std::string_view stage, std::int64_t done, std::int64_t) {
    if (stage == "diffusion" && done == 1) stop = true;
  };
  callbacks.cancelled = [&] { return stop.load(); };
  auto cancelled = engine->generate(short_song(), target, callbacks);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.status().code(), ErrorCode::cancelled);
  EXPECT_TRUE(fs::is_empty(folder.path));
  auto next = engine->generate(short_song(), target);
  ASSERT_TRUE(next.ok()) << next.status().to_string();
  EXPECT_TRUE(fs::exists(target.path));
}

TEST(EngineApi, ARequestThatCannotFitIsRefusedBeforeAnyLoad) {
  // A 2 MB simulated device: not even one item of the tiny model fits.
  auto engine = open_engine({{"ACEFIT_SIM_VRAM_GB", "0.002"}}, "sim");
  ASSERT_NE(engine, nullptr);
  const SongRequest song = short_song();
  auto prepared = engine->prepare(song);
  ASSERT_TRUE(prepared.ok()) << prepared.status().to_string();
  EXPECT_FALSE(prepared->fits);
  EXPECT_NE(prepared->refusal, "");
  EXPECT_GT(prepared->plan.peak_device_bytes, prepared->budget_bytes);
  EngineFolder folder;
  OutputTarget target;
  target.path = (folder.path / "big.wav").string();
  auto run = engine->generate(song, target);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), ErrorCode::out_of_memory);
  EXPECT_TRUE(fs::is_empty(folder.path));
}

TEST(EngineApi, BadInputNamesTheField) {
  auto engine = open_engine();
  ASSERT_NE(engine, nullptr);
  SongRequest song = short_song();
  song.caption = std::string("bad\x01text");
  auto prepared = engine->prepare(song);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().code(), ErrorCode::invalid_argument);
  EXPECT_NE(prepared.status().message().find("--caption"), std::string::npos);
  song = short_song();
  song.settings["duration_s"] = "nonsense";
  prepared = engine->prepare(song);
  ASSERT_FALSE(prepared.ok());
  EXPECT_NE(prepared.status().message().find("--duration"), std::string::npos)
      << prepared.status().message();
  song = short_song();
  song.settings["durration"] = "10";
  prepared = engine->prepare(song);
  ASSERT_FALSE(prepared.ok());
  EXPECT_NE(prepared.status().message().find("unknown setting 'durration'"), std::string::npos)
      << prepared.status().message();
  song = short_song();
  song.seed = 1ull << 40;
  prepared = engine->prepare(song);
  ASSERT_FALSE(prepared.ok());
  EXPECT_NE(prepared.status().message().find("--seed"), std::string::npos);
}

}  // namespace
}  // namespace acefit
