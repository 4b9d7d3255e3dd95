#include "pipeline/lm_stage.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/rng.h"
#include "core/timer.h"
#include "io/text/utf8.h"
#include "models/host_tensor.h"
#include "models/lm/codes_constraint.h"
#include "models/lm/cot_constraint.h"
#include "models/lm/cot_text.h"
#include "models/lm/lm_prompt.h"
#include "models/lm/lm_tokens.h"
#include "ops/layout.h"
#include "pipeline/prompt.h"

namespace acefit {

namespace lm = models::lm;

namespace {

// Far above any bound: max_new_tokens caps at context - 64, and acefit
// sizes the context to the request instead (14.7).
constexpr std::int64_t kUncappedContext = std::int64_t{1} << 40;
// Planning without a tokenizer: the chat frame around caption and lyrics.
constexpr std::int64_t kPlannedChatFrameTokens = 64;
// The phase-2 CoT's fields other than the caption, at most (YAML keys,
// values, newlines), and the caption's growth when YAML folds it.
constexpr std::int64_t kCotFieldTokens = 64;
constexpr std::int64_t kCaptionFoldFactor = 2;
// Phase 1's sampling stream (phase 2 item b: seed + b).
constexpr std::uint64_t kCotSeedSalt = 0x636f74;

Status lm_error(const std::string& what) {
  return Status(ErrorCode::invalid_argument, "LM: " + what);
}

int clamp_duration(double seconds, int max_s) {
  const double clamped = std::clamp(seconds, 10.0, static_cast<double>(std::min(max_s, 600)));
  return static_cast<int>(clamped);
}

// The fields the user gave, as the CoT writes them.
Expected<lm::CotFields> user_fields(const LmInputs& in, const LmRequest& request) {
  lm::CotFields user;
  user.bpm = in.bpm;
  if (request.duration_given)
    user.duration_s = clamp_duration(in.duration_s, request.max_duration_s);
  if (in.keyscale) {
    ACEFIT_ASSIGN(user.keyscale, lm::normalize_keyscale(*in.keyscale));
  }
  if (in.time_signature) {
    ACEFIT_ASSIGN(user.time_signature, lm::normalize_time_signature(*in.time_signature));
  }
  if (in.language != "unknown") {
    ACEFIT_ASSIGN(user.language, lm::normalize_language(in.language));
  }
  return user;
}

bool all_four_given(const LmInputs& in, const LmRequest& request) {
  return in.bpm && in.keyscale && in.time_signature && request.duration_given;
}

lm::LmPromptInput prompt_input(const LmInputs& in, const LmRequest& request) {
  lm::LmPromptInput input;
  input.caption = in.caption;
  input.lyrics = in.lyrics;
  input.negative_prompt = request.negative_prompt;
  return input;
}

// The CoT phase 2 is prompted with when phase 1 did not run: the user's
// fields and caption.
lm::CotFields given_cot(const lm::CotFields& user, const LmInputs& in) {
  lm::CotFields cot = user;
  cot.caption = in.caption;
  return cot;
}

std::int64_t planned_prompt_tokens() {
  return static_cast<std::int64_t>(kCaptionMaxTokens + kLyricMaxTokens) + kPlannedChatFrameTokens;
}

// The cache's length after `count` more tokens of every listed sequence,
// reserved as a run reserves them: a step's room for every sequence, then
// the step's commit (a plan writes no values).
Status advance_planned(lm::KvCache& cache, const std::vector<int>& seqs, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) {
    for (const int seq : seqs) ACEFIT_TRY(cache.ensure_room(seq, 1));
    for (const int seq : seqs) ACEFIT_TRY(cache.commit(seq, 1));
  }
  return Status();
}

// The scores of vocabulary rows [begin, end) for each row of hidden, on the host.
Expected<std::vector<float>> host_logits(const lm::CausalLm& model, const ops::OpContext& ctx,
                                         const Tensor& hidden, std::int64_t begin,
                                         std::int64_t end) {
  ACEFIT_ASSIGN(const Tensor logits, model.logits(ctx, hidden, begin, end));
  if (ctx.device.planning()) return std::vector<float>();
  return models::tensor_to_host(logits);
}

struct StageState {
  const lm::CausalLm& model;
  const Tokenizer* tokenizer;
  LmBackend backend;
  const ops::OpContext& ctx;
  const LmInputs& in;
  const LmRequest& request;
  const LmBounds& bounds;
  LmReport& report;
  const LmProgressFn& progress;
  std::uint64_t kv_peak = 0;
};

void note_kv(StageState& s, const lm::KvCache& cache) {
  s.kv_peak = std::max(s.kv_peak, cache.reserved_bytes());
}

Expected<lm::KvCache> phase_cache(StageState& s, std::optional<lm::KvCache>& pool, int sequences,
                                  std::int64_t tokens) {
  if (pool) {
    for (int seq = 0; seq < pool->sequences(); ++seq) pool->clear(seq);
    return std::move(*pool);
  }
  lm::KvCacheOptions options;
  options.kind = lm::KvCacheKind::grown;
  options.sequences = sequences;
  options.tokens_per_sequence = tokens;
  return lm::KvCache::create(s.ctx.device, s.model.config(), options);
}

// Phase 1: the CoT, one sequence, no CFG.
Expected<lm::CotFields> run_cot(StageState& s, std::optional<lm::KvCache>& pool,
                                const lm::CotFields& user, std::string& cot_text) {
  const bool planning = s.ctx.device.planning();
  Stopwatch watch;
  LmPhaseReport phase;
  phase.name = "cot";
  phase.sequences = 1;
  std::vector<std::int32_t> prompt;
  if (s.tokenizer != nullptr) {
    ACEFIT_ASSIGN(prompt, lm::cot_prompt_ids(*s.tokenizer, prompt_input(s.in, s.request), true));
  } else {
    prompt.assign(static_cast<std::size_t>(s.bounds.prompt1_tokens), lm::kPadTokenId);
  }
  phase.prompt_tokens = static_cast<std::int64_t>(prompt.size());
  const std::int64_t limit = s.bounds.new1_tokens;
  ACEFIT_ASSIGN(lm::KvCache cache,
                phase_cache(s, pool, 1, phase.prompt_tokens + std::max<std::int64_t>(limit, 1)));
  const std::vector<int> seqs = {0};
  lm::CotFields values;
  if (planning) {
    {
      ACEFIT_ASSIGN(const Tensor hidden, s.model.prefill(s.ctx, cache, 0, prompt));
      ACEFIT_TRY(host_logits(s.model, s.ctx, hidden, 0, lm::kFirstAudioCodeTokenId).status());
    }
    note_kv(s, cache);
    if (limit >= 2) {
      ACEFIT_TRY(advance_planned(cache, seqs, limit - 2));
      const std::int32_t token = lm::kPadTokenId;
      ACEFIT_ASSIGN(const Tensor hidden, s.model.decode(s.ctx, cache, seqs, {&token, 1}));
      ACEFIT_TRY(host_logits(s.model, s.ctx, hidden, 0, lm::kFirstAudioCodeTokenId).status());
      note_kv(s, cache);
    }
    phase.new_tokens = limit;
  } else {
    lm::CotConstraintOptions options;
    options.user = user;
    options.use_cot_caption = s.request.use_cot_caption;
    options.use_cot_language = s.request.use_cot_language;
    options.max_duration_s = std::min(s.request.max_duration_s, lm::kCotDurationMax);
    ACEFIT_ASSIGN(lm::CotConstraint fsm, lm::CotConstraint::create(*s.tokenizer, options));
    lm::SamplerOptions sampling = s.request.sampling;
    sampling.cfg_scale = 1.0f;  // CFG off in phase 1, as upstream
    Rng rng(s.in.seed ^ kCotSeedSalt);
    std::vector<std::int32_t> seen = prompt;
    std::vector<std::int32_t> generated;
    Tensor hidden;
    ACEFIT_ASSIGN(hidden, s.model.prefill(s.ctx, cache, 0, prompt));
    note_kv(s, cache);
    const std::int32_t head_rows = fsm.token_limit();
    for (std::int64_t step = 0; step < limit; ++step) {
      std::int32_t token = 0;
      if (const auto forced = fsm.forced_token()) {
        token = *forced;
      } else {
        ACEFIT_ASSIGN(std::vector<float> logits, host_logits(s.model, s.ctx, hidden, 0, head_rows));
        lm::SampleStep sample;
        sample.logits = logits;
        sample.first_id = 0;
        sample.seen_ids = seen;
        sample.mask = [&fsm](std::span<float> l) {
          fsm.apply(l);
          return Status();
        };
        ACEFIT_ASSIGN(token, lm::sample_next(sample, sampling, rng));
      }
      ACEFIT_TRY(fsm.accept(token));
      generated.push_back(token);
      seen.push_back(token);
      if (s.progress) s.progress("lm_cot", step + 1, limit);
      if (fsm.finished() || step + 1 == limit) break;
      hidden = Tensor();
      ACEFIT_ASSIGN(hidden, s.model.decode(s.ctx, cache, seqs, {&token, 1}));
      note_kv(s, cache);
    }
    phase.new_tokens = static_cast<std::int64_t>(generated.size());
    values = fsm.values();
    // Sampled byte-level tokens need not form UTF-8.
    for (std::optional<std::string>* field : {&values.caption, &values.genres, &values.keyscale,
                                              &values.language, &values.time_signature}) {
      if (*field) **field = sanitize_utf8(**field);
    }
    auto text = s.tokenizer->decode(generated);
    if (text.ok()) cot_text = *text;
  }
  phase.seconds = watch.elapsed_s();
  s.report.phases.push_back(phase);
  if (s.progress) s.progress("lm_cot", limit, limit);
  if (pool) pool.emplace(std::move(cache));
  return values;
}

// Phase 2: exactly `codes` audio codes per item, CFG as paired sequences.
Expected<std::vector<std::vector<std::int64_t>>> run_codes(StageState& s,
                                                           std::optional<lm::KvCache>& pool,
                                                           const lm::CotFields& cot, bool cot_exact,
                                                           std::int64_t codes) {
  const bool planning = s.ctx.device.planning();
  Stopwatch watch;
  const bool cfg = s.request.sampling.cfg_scale > 1.0f;
  const int per_item = cfg ? 2 : 1;
  const int items = s.in.batch;
  const int n = items * per_item;
  LmPhaseReport phase;
  phase.name = "codes";
  phase.sequences = n;
  std::vector<std::int32_t> cond, uncond;
  const lm::LmPromptInput input = prompt_input(s.in, s.request);
  if (s.tokenizer != nullptr) {
    ACEFIT_ASSIGN(cond, lm::codes_prompt_ids(*s.tokenizer, input, cot, true));
    if (cfg) {
      ACEFIT_ASSIGN(uncond, lm::codes_prompt_ids(*s.tokenizer, input, {}, false));
    }
  } else {
    cond.assign(static_cast<std::size_t>(s.bounds.prompt2_tokens), lm::kPadTokenId);
    if (cfg) uncond = cond;
  }
  // A plan that could not know the CoT prompts with the longest one.
  if (planning && !cot_exact)
    cond.resize(static_cast<std::size_t>(s.bounds.prompt2_tokens), lm::kPadTokenId);
  if (static_cast<std::int64_t>(cond.size()) > s.bounds.prompt2_tokens)
    return Status(ErrorCode::internal, "LM: the phase-2 prompt has " + std::to_string(cond.size()) +
                                           " tokens, more than the " +
                                           std::to_string(s.bounds.prompt2_tokens) + " planned");
  phase.prompt_tokens = static_cast<std::int64_t>(cond.size());
  const std::int64_t longest_prompt =
      std::max(static_cast<std::int64_t>(cond.size()), static_cast<std::int64_t>(uncond.size()));
  ACEFIT_ASSIGN(lm::KvCache cache, phase_cache(s, pool, n, longest_prompt + codes));
  std::vector<int> seqs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) seqs[static_cast<std::size_t>(i)] = i;
  const auto prompt_of = [&](int seq) -> const std::vector<std::int32_t>& {
    return seq % per_item == 0 ? cond : uncond;
  };
  Tensor hidden;
  {
    std::vector<Tensor> rows;
    for (const int seq : seqs) {
      ACEFIT_ASSIGN(Tensor row, s.model.prefill(s.ctx, cache, seq, prompt_of(seq)));
      rows.push_back(std::move(row));
    }
    ACEFIT_ASSIGN(hidden, n == 1 ? std::move(rows.front()) : ops::concat(s.ctx, rows, 0));
  }
  note_kv(s, cache);
  const std::int32_t first = lm::kFirstAudioCodeTokenId;
  const std::int32_t rows_end = first + lm::kAudioCodeValues;
  std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(items));
  if (planning) {
    ACEFIT_TRY(host_logits(s.model, s.ctx, hidden, first, rows_end).status());
    hidden = Tensor();
    if (codes >= 2) {
      ACEFIT_TRY(advance_planned(cache, seqs, codes - 2));
      const std::vector<std::int32_t> tokens(static_cast<std::size_t>(n), first);
      ACEFIT_ASSIGN(hidden, s.model.decode(s.ctx, cache, seqs, tokens));
      ACEFIT_TRY(host_logits(s.model, s.ctx, hidden, first, rows_end).status());
      note_kv(s, cache);
    }
    phase.new_tokens = codes + 1;
    // Placeholders of the right length: the stages after plan with them.
    for (auto& item : out) item.assign(static_cast<std::size_t>(codes), 0);
  } else {
    std::vector<lm::CodesConstraint> fsms(static_cast<std::size_t>(items),
                                          lm::CodesConstraint(codes));
    std::vector<Rng> rngs;
    std::vector<std::vector<std::int32_t>> seen;
    for (int b = 0; b < items; ++b) {
      rngs.emplace_back(s.in.seed + static_cast<std::uint64_t>(b));
      seen.push_back(cond);
    }
    const std::size_t width = static_cast<std::size_t>(lm::kAudioCodeValues);
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(n));
    for (std::int64_t step = 0; step < codes; ++step) {
      ACEFIT_ASSIGN(std::vector<float> logits,
                    host_logits(s.model, s.ctx, hidden, first, rows_end));
      hidden = Tensor();
      for (int b = 0; b < items; ++b) {
        const std::size_t row = static_cast<std::size_t>(b * per_item) * width;
        lm::SampleStep sample;
        sample.logits = std::span<float>(logits.data() + row, width);
        if (cfg) sample.uncond_logits = std::span<const float>(logits.data() + row + width, width);
        sample.first_id = first;
        sample.seen_ids = seen[static_cast<std::size_t>(b)];
        lm::CodesConstraint& fsm = fsms[static_cast<std::size_t>(b)];
        sample.mask = [&fsm, first](std::span<float> l) {
          fsm.apply(l, first);
          return Status();
        };
        ACEFIT_ASSIGN(const std::int32_t token, lm::sample_next(sample, s.request.sampling,
                                                                rngs[static_cast<std::size_t>(b)]));
        ACEFIT_TRY(fsm.accept(token));
        seen[static_cast<std::size_t>(b)].push_back(token);
        out[static_cast<std::size_t>(b)].push_back(token - first);
        for (int k = 0; k < per_item; ++k)
          tokens[static_cast<std::size_t>(b * per_item + k)] = token;
      }
      if (s.progress) s.progress("lm_codes", step + 1, codes);
      if (step + 1 == codes) break;  // EOS is all that is left (forced): no step needed
      ACEFIT_ASSIGN(hidden, s.model.decode(s.ctx, cache, seqs, tokens));
      note_kv(s, cache);
    }
    for (lm::CodesConstraint& fsm : fsms) ACEFIT_TRY(fsm.accept(lm::kImEndTokenId));
    phase.new_tokens = codes + 1;  // the codes and EOS
  }
  phase.seconds = watch.elapsed_s();
  s.report.phases.push_back(phase);
  if (pool) pool.emplace(std::move(cache));
  return out;
}

}  // namespace

std::string_view lm_backend_name(LmBackend backend) {
  return backend == LmBackend::vllm ? "vllm" : "pt";
}

std::optional<LmBackend> parse_lm_backend(std::string_view name) {
  if (name == "vllm") return LmBackend::vllm;
  if (name == "pt" || name == "mlx") return LmBackend::pt;
  return std::nullopt;
}

Expected<LmBounds> lm_bounds(const Tokenizer* tokenizer, const LmInputs& in,
                             const LmRequest& request) {
  LmBounds b;
  if (!request.active()) return b;
  if (in.batch < 1) return lm_error("batch must be >= 1");
  if (request.max_duration_s < 10) return lm_error("the tier's LM duration limit is below 10 s");
  ACEFIT_TRY(lm::validate_sampler_options(request.sampling));
  ACEFIT_ASSIGN(const lm::CotFields user, user_fields(in, request));
  b.phase1 = !all_four_given(in, request);
  b.phase2 = request.thinking;
  const lm::LmPromptInput input = prompt_input(in, request);
  const int tier_max = request.max_duration_s;
  const double longest = static_cast<double>(std::min(tier_max, 600));
  if (b.phase1) {
    if (tokenizer != nullptr) {
      ACEFIT_ASSIGN(const auto ids, lm::cot_prompt_ids(*tokenizer, input, true));
      b.prompt1_tokens = static_cast<std::int64_t>(ids.size());
    } else {
      b.prompt1_tokens = planned_prompt_tokens();
    }
    // Without the user's duration the CoT may pick the tier's longest.
    b.new1_tokens = lm::max_new_tokens_cot(request.duration_given ? in.duration_s : longest,
                                           tier_max, kUncappedContext);
  }
  if (b.phase2) {
    const bool cfg = request.sampling.cfg_scale > 1.0f;
    b.sequences2 = in.batch * (cfg ? 2 : 1);
    b.codes = lm::clamped_target_codes(request.duration_given ? in.duration_s : longest, tier_max);
    if (tokenizer != nullptr) {
      if (!b.phase1) {
        ACEFIT_ASSIGN(const auto ids,
                      lm::codes_prompt_ids(*tokenizer, input, given_cot(user, in), true));
        b.prompt2_tokens = static_cast<std::int64_t>(ids.size());
      } else {
        // The CoT is not known yet: its longest (the caption at its token
        // limit, folded by YAML, and every other field).
        lm::CotFields bare = user;
        bare.caption.reset();
        ACEFIT_ASSIGN(const auto ids, lm::codes_prompt_ids(*tokenizer, input, bare, true));
        b.prompt2_tokens = static_cast<std::int64_t>(ids.size()) + kCotFieldTokens +
                           kCaptionFoldFactor * lm::kCotCaptionTokensDefault;
      }
      if (cfg) {
        ACEFIT_ASSIGN(const auto ids, lm::codes_prompt_ids(*tokenizer, input, {}, false));
        b.prompt2_tokens = std::max(b.prompt2_tokens, static_cast<std::int64_t>(ids.size()));
      }
    } else {
      b.prompt2_tokens = planned_prompt_tokens() + kCotFieldTokens +
                         kCaptionFoldFactor * lm::kCotCaptionTokensDefault;
    }
  }
  // The vllm pool: every sequence the stage uses, each for the longest phase.
  b.kv_sequences = std::max(b.phase1 ? 1 : 0, b.sequences2);
  b.kv_tokens_per_sequence = std::max(b.phase1 ? b.prompt1_tokens + b.new1_tokens : 0,
                                      b.phase2 ? b.prompt2_tokens + b.codes : 0);
  return b;
}

Expected<LmOutcome> run_lm_stage(const lm::CausalLm& model, const Tokenizer* tokenizer,
                                 LmBackend backend, const ops::OpContext& ctx, const LmInputs& in,
                                 const LmRequest& request, LmReport& report,
                                 const LmProgressFn& progress) {
  LmOutcome outcome;
  if (!request.active()) return outcome;
  const bool planning = ctx.device.planning();
  if (tokenizer == nullptr && !planning)
    return Status(ErrorCode::not_found, "LM: no tokenizer (the LM folder's tokenizer.json)");
  ACEFIT_ASSIGN(const LmBounds bounds, lm_bounds(tokenizer, in, request));
  ACEFIT_ASSIGN(const lm::CotFields user, user_fields(in, request));
  report.ran = true;
  report.backend = std::string(lm_backend_name(backend));
  StageState s{model, tokenizer, backend, ctx, in, request, bounds, report, progress};
  std::optional<lm::KvCache> pool;
  if (backend == LmBackend::vllm && bounds.kv_sequences > 0) {
    lm::KvCacheOptions options;
    options.kind = lm::KvCacheKind::preallocated;
    options.sequences = bounds.kv_sequences;
    options.tokens_per_sequence = bounds.kv_tokens_per_sequence;
    ACEFIT_ASSIGN(lm::KvCache cache, lm::KvCache::create(ctx.device, model.config(), options));
    pool.emplace(std::move(cache));
    note_kv(s, *pool);
  }
  lm::CotFields cot = given_cot(user, in);
  if (bounds.phase1) {
    ACEFIT_ASSIGN(lm::CotFields written, run_cot(s, pool, user, outcome.cot_text));
    outcome.cot_ran = true;
    outcome.cot = written;
    cot = written;
    if (!cot.caption || !request.use_cot_caption) cot.caption = in.caption;
  }
  if (bounds.phase2) {
    // The user's duration, else the CoT's (a plan: the longest the tier allows).
    std::int64_t codes = bounds.codes;
    if (!request.duration_given && !planning)
      codes = lm::clamped_target_codes(cot.duration_s ? *cot.duration_s : in.duration_s,
                                       request.max_duration_s);
    ACEFIT_ASSIGN(outcome.codes, run_codes(s, pool, cot, !bounds.phase1, codes));
    outcome.target_duration_s = static_cast<double>(codes) / 5.0;
  }
  outcome.kv_peak_bytes = s.kv_peak;
  report.kv_reserved_bytes = std::max(report.kv_reserved_bytes, s.kv_peak);
  return outcome;
}

}  // namespace acefit
