// The Generator's code-hints stage (acestep-model.md 8.1-8.3, 9): audio codes
// -> FSQ values -> project_out -> detokenizer -> 25 Hz hints, the DiT
// context's source latents for a cover item. The detokenizer (about 200 MiB
// at the shipped dims) is read from the DiT checkpoint onto the compute
// device for this stage only: runs without codes never hold it.
#include <string>

#include "core/timer.h"
#include "models/fsq/detokenizer.h"
#include "models/host_tensor.h"
#include "ops/layout.h"
#include "pipeline/generator.h"
#include "pipeline/stage_support.h"

namespace acefit {

Expected<std::vector<float>> Generator::code_hints(
    const std::vector<std::vector<std::int64_t>>& codes, std::int64_t frames,
    RunRecord* record) const {
  if (codes.empty() || codes.front().empty()) return stage::bad_request("no audio codes");
  const std::size_t count = codes.front().size();
  for (std::size_t b = 0; b < codes.size(); ++b) {
    if (codes[b].size() != count)
      return stage::bad_request("every batch item needs the same number of audio codes (item " +
                                std::to_string(b) + " has " + std::to_string(codes[b].size()) +
                                ", item 0 has " + std::to_string(count) + ")");
  }
  const auto batch = static_cast<std::int64_t>(codes.size());
  const std::int64_t channels = dit_config_.audio_acoustic_hidden_dim;
  RunRecord scratch;
  RunRecord& rec = record != nullptr ? *record : scratch;
  StageMeter meter("detokenizer", *device_, *host_);
  Stopwatch watch;
  const ops::OpContext c = ctx();
  const bool planning = device_->planning();
  std::vector<float> hints;
  {
    ACEFIT_ASSIGN(const models::Detokenizer detokenizer,
                  models::Detokenizer::load(*dit_loader_, c, dit_config_, matrix_dtype_));
    std::vector<Tensor> quantized;
    for (const std::vector<std::int64_t>& item : codes) {
      // A plan reserves what a run does; its codes are placeholders.
      const std::vector<std::int64_t> placeholder(count, 0);
      ACEFIT_ASSIGN(Tensor q, detokenizer.dequantize(c, planning ? placeholder : item));
      quantized.push_back(std::move(q));
    }
    ACEFIT_ASSIGN(const Tensor all, ops::concat(c, quantized, 0));
    quantized.clear();
    ACEFIT_ASSIGN(const Tensor detokenized, detokenizer.detokenize(c, all));  // [B, 5N, 64]
    if (!planning) {
      ACEFIT_ASSIGN(hints, models::tensor_to_host(detokenized));
    }
  }
  if (planning) {
    meter.finish(rec);
    return std::vector<float>();
  }
  // Crop to `frames` or pad with silence frames (8.3).
  const std::int64_t produced = static_cast<std::int64_t>(hints.size()) / (batch * channels);
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(batch * frames * channels));
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* item = hints.data() + b * produced * channels;
    const std::int64_t kept = std::min(frames, produced);
    out.insert(out.end(), item, item + kept * channels);
    out.insert(out.end(), silence_.begin() + kept * channels, silence_.begin() + frames * channels);
  }
  rec.timings.detokenizer_s = watch.elapsed_s();
  meter.finish(rec);
  return out;
}

}  // namespace acefit
