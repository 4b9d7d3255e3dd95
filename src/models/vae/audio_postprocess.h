// Output post-processing of decoded audio (acestep-model.md 13.6), on host
// float samples: a finiteness check, clipping protection (an item whose
// peak exceeds 1 is divided by its peak) and optional peak normalisation to
// a target level in dBFS.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/status.h"
#include "models/vae/host_audio.h"

namespace acefit::models {

struct AudioPostprocessOptions {
  bool normalize = true;      // peak normalisation (the reference's default)
  double target_dbfs = -1.0;  // peak level after normalisation, <= 0
};

// ok, or internal naming `what`, how many samples are NaN or infinite and
// where the first one is (index into `samples`).
Status check_finite_audio(std::span<const float> samples, std::string_view what);

// One item's samples (all channels): the check above, then
// peak = max |x|; peak > 1: x /= peak; then, when normalising and
// peak >= 1e-6, x *= 10^(target_dbfs / 20) / peak (peak measured after the
// clipping step). invalid_argument for a target that is not finite or
// above 0 dBFS.
Status postprocess_audio_item(std::span<float> samples,
                              const AudioPostprocessOptions& options = {});

// Every item of `audio`, each on its own peak. Errors name the item.
Status postprocess_audio(HostAudio& audio, const AudioPostprocessOptions& options = {});

}  // namespace acefit::models
