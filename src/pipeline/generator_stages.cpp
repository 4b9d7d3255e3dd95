// The Generator's stages: text encoding, condition encoding, DiT sampling and
// the VAE decode, each measured (StageMeter) and each bringing the weight
// group it needs onto the compute device for its duration.
#include <algorithm>
#include <cmath>

#include "adapt/vae_chunk.h"
#include "core/timer.h"
#include "io/checkpoint/checkpoint_check.h"
#include "models/host_tensor.h"
#include "ops/layout.h"
#include "pipeline/generator.h"
#include "pipeline/stage_support.h"

namespace acefit {

using stage::bad_request;
using stage::check_cancelled;
using stage::report;

namespace {

constexpr std::uint64_t kLevelOneFreeBytes = 24ull << 30;  // gpu-adaptation.md 9.2 item 5

}  // namespace

std::vector<float> Generator::silence_frames(std::int64_t count, std::int64_t batch) const {
  const std::int64_t channels = dit_config_.audio_acoustic_hidden_dim;
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(count * channels * batch));
  for (std::int64_t b = 0; b < batch; ++b)
    out.insert(out.end(), silence_.begin(), silence_.begin() + count * channels);
  return out;
}

Expected<models::EncoderStates> Generator::encode_ids(std::span<const std::int64_t> caption_ids,
                                                      std::span<const std::int64_t> lyric_ids,
                                                      std::int64_t batch, RunRecord* record) const {
  if (caption_ids.empty() || lyric_ids.empty())
    return bad_request("the caption and lyric prompts must have at least one token");
  if (batch < 1) return bad_request("batch must be >= 1");
  RunRecord scratch;
  RunRecord& rec = record != nullptr ? *record : scratch;
  const ops::OpContext c = ctx();
  const auto lt = static_cast<std::int64_t>(caption_ids.size());
  const auto ll = static_cast<std::int64_t>(lyric_ids.size());
  const auto copies = static_cast<std::size_t>(batch);
  Tensor text, lyric;
  {
    StageMeter meter("text_encoder", *device_, *host_);
    Stopwatch watch;
    {
      ACEFIT_ASSIGN(const auto encoder, stage::OnDevice<models::TextEncoder>::acquire(
                                            *text_encoder_, home(text_vae_offloaded()), *device_));
      {
        ACEFIT_ASSIGN(Tensor ids,
                      models::tensor_from_host(*device_, Shape{1, lt}, caption_ids, MemoryTag::io));
        ACEFIT_ASSIGN(Tensor one, encoder->encode(c, ids));
        ACEFIT_ASSIGN(text, ops::concat(c, std::vector<Tensor>(copies, one), 0));
      }
      {
        ACEFIT_ASSIGN(Tensor ids,
                      models::tensor_from_host(*device_, Shape{1, ll}, lyric_ids, MemoryTag::io));
        ACEFIT_ASSIGN(Tensor one, encoder->embed(c, ids));
        ACEFIT_ASSIGN(lyric, ops::concat(c, std::vector<Tensor>(copies, one), 0));
      }
    }
    rec.timings.text_encoding_s = watch.elapsed_s();
    meter.finish(rec);
  }
  StageMeter meter("condition_encoder", *device_, *host_);
  Stopwatch watch;
  models::ConditionInputs inputs;
  inputs.text_hidden = std::move(text);
  inputs.text_lengths.assign(copies, lt);
  inputs.lyric_embeddings = std::move(lyric);
  inputs.lyric_lengths.assign(copies, ll);
  const std::int64_t timbre_frames = dit_config_.timbre_fix_frame;
  if (timbre_frames < 1 || timbre_frames > kSilenceLatentFrames)
    return Status(ErrorCode::corrupt,
                  "timbre_fix_frame " + std::to_string(timbre_frames) + " is outside [1, 15000]");
  ACEFIT_ASSIGN(
      inputs.timbre_latents,
      models::tensor_from_host(*device_, Shape{batch, timbre_frames, dit_config_.timbre_hidden_dim},
                               silence_frames(timbre_frames, batch), MemoryTag::io));
  ACEFIT_ASSIGN(const auto encoder, stage::OnDevice<models::ConditionEncoder>::acquire(
                                        *condition_encoder_, home(dit_offloaded()), *device_));
  ACEFIT_ASSIGN(models::EncoderStates states, encoder->encode(c, inputs));
  inputs = {};
  rec.timings.condition_encoding_s = watch.elapsed_s();
  meter.finish(rec);
  return states;
}

Expected<std::vector<float>> Generator::sample(const models::EncoderStates& states,
                                               std::vector<float> x, std::int64_t frames,
                                               const SamplingPlan& plan, const ProgressFn& progress,
                                               RunRecord* record, int stream_window) const {
  const ops::OpContext c = ctx();
  const std::int64_t batch = states.states.dim(0);
  const std::int64_t channels = dit_config_.audio_acoustic_hidden_dim;
  const LatentShape shape{batch, frames, channels};
  ACEFIT_TRY(shape.validate());
  if (frames > kSilenceLatentFrames)
    return bad_request(std::to_string(frames) + " latent frames exceed the 15000 (600 s) limit");
  // A plan moves no values: its noise, context and steps are device
  // reservations alone (the same ones a run makes), with no host math.
  const bool planning = device_->planning();
  if (!(planning && x.empty()) && static_cast<std::int64_t>(x.size()) != shape.element_count())
    return bad_request("noise has " + std::to_string(x.size()) + " values, expected " +
                       std::to_string(shape.element_count()));
  const int steps = plan.schedule.step_count();
  if (steps < 1) return bad_request("the schedule has no steps");
  if (stream_window < 0) return bad_request("the DiT stream window must be >= 0 layers");
  if (const Status status = validate_dcw_options(plan.dcw); !status.ok())
    return bad_request(status.message());
  if (stream_window > 0 && !dit_offloaded())
    return bad_request("DiT layer streaming needs the DiT to wait on the host (offload cpu+dit)");
  RunRecord scratch;
  RunRecord& rec = record != nullptr ? *record : scratch;
  StageMeter meter("dit", *device_, *host_);
  const bool cfg = plan.guidance.scale > 1.0;
  const std::int64_t runs = cfg ? 2 : 1;  // [cond; uncond] in one doubled batch

  std::optional<stage::OnDevice<models::DitDecoder>> dit;
  if (stream_window > 0) {
    ACEFIT_ASSIGN(models::DitDecoder copy, dit_->copy_to(*device_, false));
    copy.set_stream_window(stream_window);
    dit.emplace(stage::OnDevice<models::DitDecoder>::adopt(std::move(copy)));
    rec.dit_streamed = true;
    rec.dit_stream_window = stream_window;
  } else {
    ACEFIT_ASSIGN(auto whole, stage::OnDevice<models::DitDecoder>::acquire(
                                  *dit_, home(dit_offloaded()), *device_));
    dit.emplace(std::move(whole));
  }

  // Context: [source latents (silence, or code hints) | chunk mask of ones] per item.
  std::vector<float> context_values;
  if (!plan.context_src.empty() &&
      static_cast<std::int64_t>(plan.context_src.size()) != shape.element_count())
    return bad_request("the context has " + std::to_string(plan.context_src.size()) +
                       " values, expected " + std::to_string(shape.element_count()));
  if (!planning) {
    const std::vector<float> silence = silence_frames(frames, 1);
    context_values.reserve(static_cast<std::size_t>(runs * batch * frames * 2 * channels));
    for (std::int64_t b = 0; b < runs * batch; ++b) {
      // Source latents: the item's hints (the CFG twin's are its item's), else silence.
      const float* src = plan.context_src.empty()
                             ? silence.data()
                             : plan.context_src.data() + (b % batch) * frames * channels;
      for (std::int64_t t = 0; t < frames; ++t) {
        const auto* row = src + t * channels;
        context_values.insert(context_values.end(), row, row + channels);
        context_values.insert(context_values.end(), static_cast<std::size_t>(channels), 1.0f);
      }
    }
  }
  const Shape context_shape{runs * batch, frames, 2 * channels};
  ACEFIT_ASSIGN(
      const Tensor context,
      planning ? device_->empty(DType::f32, context_shape, MemoryTag::io)
               : models::tensor_from_host(*device_, context_shape, context_values, MemoryTag::io));
  context_values = {};
  models::DitCrossCache cache;
  if (cfg) {
    ACEFIT_ASSIGN(Tensor null_states, (*dit)->null_condition(c, batch, states.states.dim(1)));
    ACEFIT_ASSIGN(Tensor both, ops::concat(c, {states.states, null_states}, 0));
    ACEFIT_ASSIGN(cache, (*dit)->prepare(c, both));
  } else {
    ACEFIT_ASSIGN(cache, (*dit)->prepare(c, states.states));
  }
  std::optional<ApgState> apg;
  if (cfg && plan.guidance.method == GuidanceMethod::apg && !planning) {
    ACEFIT_ASSIGN(ApgState state, ApgState::create(shape));
    apg.emplace(std::move(state));
  }

  const auto count = static_cast<std::size_t>(shape.element_count());
  std::vector<float> v(planning ? 0 : count);
  report(progress, "diffusion", 0, steps);
  for (int i = 0; i < steps; ++i) {
    ACEFIT_TRY(check_cancelled(plan.cancelled));
    Stopwatch watch;
    const auto t = static_cast<float>(plan.schedule.t[static_cast<std::size_t>(i)]);
    const Shape x_shape{runs * batch, frames, channels};
    const std::vector<float> times(static_cast<std::size_t>(runs * batch), t);
    if (planning) {
      ACEFIT_ASSIGN(const Tensor x_t, device_->empty(DType::f32, x_shape, MemoryTag::io));
      ACEFIT_TRY((*dit)->forward(c, x_t, context, times, times, cache).status());
      rec.timings.dit_steps_s.push_back(watch.elapsed_s());
      report(progress, "diffusion", i + 1, steps);
      continue;
    }
    std::vector<float> input = x;
    if (cfg) input.insert(input.end(), x.begin(), x.end());
    ACEFIT_ASSIGN(const Tensor x_t,
                  models::tensor_from_host(*device_, x_shape, input, MemoryTag::io));
    ACEFIT_ASSIGN(const Tensor velocity, (*dit)->forward(c, x_t, context, times, times, cache));
    ACEFIT_ASSIGN(std::vector<float> all, models::tensor_to_host(velocity));
    if (cfg) {
      const std::span<const float> cond(all.data(), count), uncond(all.data() + count, count);
      ACEFIT_TRY(apply_guidance(plan.guidance, plan.schedule.t[static_cast<std::size_t>(i)],
                                apg ? &*apg : nullptr, cond, uncond, v)
                     .status());
    } else {
      v = std::move(all);
    }
    std::vector<float> step_noise;
    if (plan.method == InferMethod::sde && i + 1 < steps) {
      if (!plan.sde_noise) return bad_request("SDE sampling needs a noise source");
      ACEFIT_ASSIGN(step_noise, plan.sde_noise(i));
      if (step_noise.size() != count) return bad_request("SDE noise has the wrong size");
    }
    // DCW (18.4) needs the state before the step.
    std::vector<float> x_before;
    if (plan.dcw.enabled) x_before = x;
    ACEFIT_TRY(sampler_step(plan.schedule, i, plan.method, x, v, step_noise));
    ACEFIT_TRY(
        apply_dcw(plan.dcw, shape, x, x_before, v, plan.schedule.t[static_cast<std::size_t>(i)]));
    rec.timings.dit_steps_s.push_back(watch.elapsed_s());
    if (plan.on_step) plan.on_step(i, x);
    report(progress, "diffusion", i + 1, steps);
  }
  if (!planning) ACEFIT_TRY(check_sampled_latents(x, shape));
  cache = {};
  dit.reset();
  meter.finish(rec);
  return x;
}

Expected<models::HostAudio> Generator::decode(const std::vector<float>& latents, std::int64_t batch,
                                              std::int64_t frames, std::int64_t chunk_frames,
                                              std::int64_t overlap_frames,
                                              const ProgressFn& progress, RunRecord* record,
                                              bool vae_on_host, std::uint64_t budget_bytes) const {
  if (chunk_frames < 0) return bad_request("the VAE chunk must be >= 1 frame (0: auto)");
  RunRecord scratch;
  RunRecord& rec = record != nullptr ? *record : scratch;
  StageMeter meter("vae_decode", *device_, *host_);
  VaeDecodeReport& vae = rec.vae;
  vae = {};
  const std::uint64_t budget = decision_budget(budget_bytes);
  const std::uint64_t used = device_->budget().used_bytes();
  const std::uint64_t free = budget > used ? budget - used : 0;
  const bool offloaded = text_vae_offloaded();
  // gpu-adaptation.md 9.2: the device accumulates the audio only with plenty free.
  const VaeDecodeLevel start_level = free >= kLevelOneFreeBytes
                                         ? VaeDecodeLevel::device_tiled
                                         : VaeDecodeLevel::device_host_accumulate;
  std::int64_t chunk = chunk_frames;
  bool on_host = vae_on_host;
  if (vae_on_host) vae.reason = "ACESTEP_VAE_ON_CPU: host decode";
  if (chunk != 0 && !on_host) vae.reason = "chunk " + std::to_string(chunk) + " as set";
  if (!on_host && chunk == 0) {
    // The tier table's cap (max_vae_chunk_frames) leaves out the larger candidates.
    std::vector<std::int64_t> candidates;
    for (const std::int64_t candidate : kVaeChunkCandidates) {
      if (max_auto_vae_chunk_frames_ <= 0 || candidate <= max_auto_vae_chunk_frames_ ||
          candidates.empty())
        candidates.push_back(candidate);
    }
    ACEFIT_ASSIGN(const VaeDecodePeaks peaks,
                  plan_vae_decode_peaks(vae_config_, *device_, frames, overlap_frames, start_level,
                                        candidates));
    // The weights come too when the VAE waits on the host.
    const std::uint64_t weights = offloaded ? peaks.weight_bytes : 0;
    const std::uint64_t for_decode = free > weights ? free - weights : 0;
    ACEFIT_ASSIGN(const VaeChunkChoice choice, choose_vae_chunk(peaks.peaks, for_decode));
    vae.reason = choice.reason;
    chunk = choice.chunk;
    // No chunk fits: the host decode, except on the host itself, where a
    // small tiled decode is all there is.
    if (!choice.fits && device_ != host_.get()) on_host = true;
  }
  if (chunk == 0) chunk = kVaeChunkCandidates.front();
  VaeDecodeOptions options;
  options.chunk = chunk;
  options.overlap = overlap_frames;
  options.start_level = start_level;
  options.force_host = on_host;
  options.progress = [&](std::int64_t done, std::int64_t total) {
    report(progress, "decode", done, total);
  };
  VaeDecodeOutcome outcome;
  if (on_host) {
    // The VAE's home copy decodes on the host (no device copy at all).
    ACEFIT_ASSIGN(
        outcome, adaptive_vae_decode(*vae_, offloaded ? host_ctx() : ctx(), *host_, *pool_, latents,
                                     batch, frames, options, vae_memory_.get()));
  } else {
    ACEFIT_ASSIGN(const auto decoder, stage::OnDevice<models::OobleckDecoder>::acquire(
                                          *vae_, home(offloaded), *device_));
    ACEFIT_ASSIGN(outcome, adaptive_vae_decode(*decoder, ctx(), *host_, *pool_, latents, batch,
                                               frames, options, vae_memory_.get()));
  }
  vae.chunk = outcome.chunk;
  vae.overlap = outcome.overlap;
  vae.level = vae_decode_level_number(outcome.level);
  vae.retries = outcome.retries;
  vae.log = outcome.log;
  meter.finish(rec);
  return std::move(outcome.audio);
}

}  // namespace acefit
