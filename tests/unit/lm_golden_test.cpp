// The 5 Hz LM (models/lm/causal_lm.h) against the PyTorch reference's
// golden lm.safetensors (tests/reference/acestep/lm.py, docs/GOLDENS.md) on
// every device: f32 weights on cpu, the checkpoint's bf16 values as bf16
// matrices elsewhere (the same numbers, so every device must match equally).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "golden_support.h"
#include "models/host_tensor.h"
#include "models/lm/causal_lm.h"
#include "models/lm/kv_cache.h"
#include "test_support.h"

namespace acefit::testing {
namespace {

using models::lm::CausalLm;
using models::lm::KvCache;
using models::lm::KvCacheKind;
using models::lm::KvCacheOptions;

std::vector<std::int32_t> lm_golden_ids(const std::vector<std::int64_t>& ids) {
  return std::vector<std::int32_t>(ids.begin(), ids.end());
}

// Rows [row_begin, row_end) of an F32 golden [rows, cols] as a golden of
// their own, [row_end - row_begin, cols] (or [1, cols] for one row).
GoldenArray golden_rows(const GoldenArray& array, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = array.shape.back();
  GoldenArray out;
  out.shape = {row_end - row_begin, cols};
  out.f32.assign(array.f32.begin() + row_begin * cols, array.f32.begin() + row_end * cols);
  return out;
}

// Columns [col_begin, col_end) of one row of an F32 golden [rows, cols].
GoldenArray golden_columns(const GoldenArray& array, std::int64_t row, std::int64_t col_begin,
                           std::int64_t col_end) {
  const std::int64_t cols = array.shape.back();
  GoldenArray out;
  out.shape = {1, col_end - col_begin};
  out.f32.assign(array.f32.begin() + row * cols + col_begin,
                 array.f32.begin() + row * cols + col_end);
  return out;
}

// The runs of consecutive ids in decode_logit_ids: [begin id, end id) and
// the column where each starts.
struct IdRun {
  std::int64_t first_id = 0;
  std::int64_t end_id = 0;
  std::int64_t column = 0;
};

std::vector<IdRun> id_runs(const std::vector<std::int64_t>& ids) {
  std::vector<IdRun> runs;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (runs.empty() || ids[i] != runs.back().end_id) {
      runs.push_back({ids[i], ids[i] + 1, static_cast<std::int64_t>(i)});
    } else {
      ++runs.back().end_id;
    }
  }
  return runs;
}

class LmGoldenTest : public DeviceTest {
 protected:
  DType matrix_dtype() const { return GetParam() == "cpu" ? DType::f32 : DType::bf16; }
  CausalLm load() const {
    return unwrap(
        CausalLm::load(lm_golden_checkpoints() + "/acestep-5Hz-lm-0.6B", *device_, matrix_dtype()));
  }
  KvCache cache(const CausalLm& lm, KvCacheKind kind) const {
    KvCacheOptions options;
    options.kind = kind;
    options.tokens_per_sequence = 64;
    return unwrap(KvCache::create(*device_, lm.config(), options));
  }
};

// Prefill the prompt, the full-vocabulary logits of its last position, then
// three cached decode steps: hidden states and the logits of the stored
// columns (id ranges), through CausalLm::logits over each range.
TEST_P(LmGoldenTest, PrefillThenCachedDecodeSteps) {
  const GoldenFile golden("lm");
  const CausalLm lm = load();
  const std::vector<std::int32_t> prompt = lm_golden_ids(golden["input_ids"].i64);
  const std::vector<std::int32_t> decode = lm_golden_ids(golden["decode_ids"].i64);
  const auto prompt_length = static_cast<std::int64_t>(prompt.size());
  KvCache kv = cache(lm, KvCacheKind::preallocated);

  const Tensor last = unwrap(lm.prefill(ctx(), kv, 0, prompt));
  const GoldenArray hidden = golden_rows(
      GoldenArray{{prompt_length, lm.config().hidden_size}, golden["hidden_states"].f32, {}},
      prompt_length - 1, prompt_length);
  expect_matches_golden(last, hidden, "last prefill hidden state");
  expect_matches_golden(unwrap(lm.logits(ctx(), last, 0, lm.vocab_size())), golden["logits"],
                        "last prefill logits");
  EXPECT_EQ(kv.length(0), prompt_length);

  const std::vector<IdRun> runs = id_runs(golden["decode_logit_ids"].i64);
  ASSERT_EQ(runs.size(), 2u) << "ids 0..4095, then the specials and the audio codes";
  const std::vector<int> seqs = {0};
  for (std::size_t step = 0; step < decode.size(); ++step) {
    const std::string what = "decode step " + std::to_string(step);
    const Tensor h = unwrap(lm.decode(ctx(), kv, seqs, std::span(&decode[step], 1)));
    expect_matches_golden(h, golden_rows(golden["decode_hidden_states"], step, step + 1),
                          what + " hidden state");
    for (const IdRun& run : runs) {
      const auto row = static_cast<std::int64_t>(step);
      expect_matches_golden(unwrap(lm.logits(ctx(), h, run.first_id, run.end_id)),
                            golden_columns(golden["decode_logits"], row, run.column,
                                           run.column + run.end_id - run.first_id),
                            what + " logits of ids " + std::to_string(run.first_id) + ".." +
                                std::to_string(run.end_id - 1));
    }
  }
  EXPECT_EQ(kv.length(0), prompt_length + static_cast<std::int64_t>(decode.size()));
}

// Every prefill position's hidden state: the prompt fed in pieces (7 ids,
// then one at a time) into a grown cache, each piece attending to the
// cached ones.
TEST_P(LmGoldenTest, PrefillInPiecesGivesEveryPosition) {
  const GoldenFile golden("lm");
  const CausalLm lm = load();
  const std::vector<std::int32_t> prompt = lm_golden_ids(golden["input_ids"].i64);
  const auto prompt_length = static_cast<std::int64_t>(prompt.size());
  const GoldenArray all{{prompt_length, lm.config().hidden_size}, golden["hidden_states"].f32, {}};
  KvCache kv = cache(lm, KvCacheKind::grown);
  constexpr std::int64_t kFirstPiece = 7;
  const Tensor first = unwrap(lm.prefill(ctx(), kv, 0, std::span(prompt.data(), kFirstPiece)));
  expect_matches_golden(first, golden_rows(all, kFirstPiece - 1, kFirstPiece),
                        "hidden state at position " + std::to_string(kFirstPiece - 1));
  for (std::int64_t p = kFirstPiece; p < prompt_length; ++p) {
    const Tensor h = unwrap(lm.prefill(ctx(), kv, 0, std::span(&prompt[p], 1)));
    expect_matches_golden(h, golden_rows(all, p, p + 1),
                          "hidden state at position " + std::to_string(p));
  }
}

ACEFIT_DEVICE_TEST_SUITE(LmGoldenTest);

}  // namespace
}  // namespace acefit::testing
