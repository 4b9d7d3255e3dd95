// Finiteness check, clipping protection and peak normalisation of decoded
// audio on the host.
#include "models/vae/audio_postprocess.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace acefit::models {

namespace {

constexpr double kSilencePeak = 1e-6;

double peak_of(std::span<const float> samples) {
  float peak = 0.0f;
  for (const float value : samples) peak = std::max(peak, std::fabs(value));
  return peak;
}

void scale_by(std::span<float> samples, double factor) {
  const auto f = static_cast<float>(factor);
  for (float& value : samples) value *= f;
}

}  // namespace

Status check_finite_audio(std::span<const float> samples, std::string_view what) {
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(samples[i])) {
      if (bad == 0) first = i;
      ++bad;
    }
  }
  if (bad == 0) return {};
  return internal_error(std::string(what) + ": " + std::to_string(bad) + " of " +
                        std::to_string(samples.size()) +
                        " samples are NaN or infinite (first at index " + std::to_string(first) +
                        "); the decode produced invalid audio");
}

Status postprocess_audio_item(std::span<float> samples, const AudioPostprocessOptions& options) {
  if (!std::isfinite(options.target_dbfs) || options.target_dbfs > 0.0) {
    return invalid_argument("audio post-processing: target level " +
                            std::to_string(options.target_dbfs) +
                            " dBFS should be a finite number <= 0");
  }
  ACEFIT_TRY(check_finite_audio(samples, "decoded audio"));
  double peak = peak_of(samples);
  if (peak > 1.0) {
    scale_by(samples, 1.0 / peak);
    peak = peak_of(samples);
  }
  if (options.normalize && peak >= kSilencePeak) {
    scale_by(samples, std::pow(10.0, options.target_dbfs / 20.0) / peak);
  }
  return {};
}

Status postprocess_audio(HostAudio& audio, const AudioPostprocessOptions& options) {
  if (audio.data.size() != static_cast<std::size_t>(audio.batch) * audio.item_size()) {
    return invalid_argument("audio post-processing: buffer holds " +
                            std::to_string(audio.data.size()) + " samples, not " +
                            std::to_string(audio.batch) + " x " + std::to_string(audio.channels) +
                            " x " + std::to_string(audio.samples));
  }
  for (std::int64_t b = 0; b < audio.batch; ++b) {
    const Status status = postprocess_audio_item(audio.item(b), options);
    if (!status.ok()) return status.with_context("item " + std::to_string(b));
  }
  return {};
}

}  // namespace acefit::models
