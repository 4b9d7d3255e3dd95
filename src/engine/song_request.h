// A SongRequest's checks and its translation, with the effective settings,
// into the pipeline's GenerationRequest and GeneratorOptions; and the
// tokenizer read on a thread of its own while the device opens.
#pragma once

#include <future>
#include <memory>
#include <string>

#include "acefit/request.h"

namespace acefit {

inline constexpr double kDefaultDurationS = 30.0;
// Seeds are 0 .. 2^32 - 1 (as the ACE-Step UI); item b uses seed + b,
// which never wraps in 64 bits.
inline constexpr std::uint64_t kMaxSeed = 4294967295ull;

// Text (length, UTF-8, control characters), metadata (key, time signature,
// language), the method and the seed's range; draws the seed when
// random_seed. invalid_argument naming the field by its CLI flag. Cheap:
// nothing is opened or loaded.
Status check_song_request(SongRequest& request);

// invalid_argument for bad values.
Expected<GenerationRequest> generation_request(const SongRequest& request,
                                               const EffectiveSettings& settings);

// The checkpoints folder, the DiT folder from config_path, the weight dtypes
// and the offload mode and INT8 from the settings. With the LM: the
// settings' model, or when the tier's recommended folder is missing, the
// largest LM folder present that the tier allows (`note` then says so).
GeneratorOptions generator_options_for(const SongRequest& request,
                                       const EffectiveSettings& settings,
                                       const std::string& checkpoints, std::string* note = nullptr);

// Reads the tokenizer a run will use on a thread of its own, started before
// the devices are probed and the settings resolved, so that the two overlap
// (reading tokenizer.json is most of a plan's time). The folder is the one
// Generator::load would read: `preset_dir` for a preset, else the text
// encoder folder of `checkpoints`. take() returns the tokenizer, or null
// when there is none or it failed to load; Generator::load then reads it
// itself and reports the error.
class TokenizerPreload {
 public:
  TokenizerPreload(const std::string& checkpoints, const std::string& preset_dir);
  ~TokenizerPreload();
  TokenizerPreload(const TokenizerPreload&) = delete;
  TokenizerPreload& operator=(const TokenizerPreload&) = delete;
  std::shared_ptr<const Tokenizer> take();
  double load_s() const { return load_s_; }  // reading it, after take()

 private:
  struct Loaded {
    std::shared_ptr<const Tokenizer> tokenizer;
    double seconds = 0;
  };
  std::future<Loaded> pending_;
  double load_s_ = 0;
};

}  // namespace acefit
