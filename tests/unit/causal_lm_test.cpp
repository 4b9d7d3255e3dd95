// The 5 Hz LM (models/lm/causal_lm.h) on every device: a naive reference
// forward, decoding with the KV cache against recomputing the prefix,
// chunked prefill, the partial head, folder loading and errors.
#include "models/lm/causal_lm.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "io/checkpoint/checkpoint_synth.h"
#include "lm_test_support.h"
#include "models/lm/lm_tokens.h"
#include "safetensors_test_util.h"
#include "test_support.h"

namespace acefit::lm_model_tests {
namespace {

using models::lm::CausalLm;
using models::lm::KvCache;
using models::lm::KvCacheKind;
using models::lm::KvCacheOptions;

// Folders written once per process: a 1-layer model with the "model."
// prefix and a stored lm_head.weight (ignored), a 2-layer one without a
// prefix.
struct Folders {
  testing::TempDir root;
  testing::TinyLmWeights one_layer = testing::make_tiny_lm_weights(testing::tiny_lm_config(1), 7);
  testing::TinyLmWeights two_layers = testing::make_tiny_lm_weights(testing::tiny_lm_config(2), 8);
  std::string one_layer_dir, two_layer_dir;
  Folders() {
    one_layer_dir = root.path() + "/one";
    two_layer_dir = root.path() + "/two";
    std::filesystem::create_directories(one_layer_dir);
    std::filesystem::create_directories(two_layer_dir);
    testing::write_tiny_lm(one_layer_dir, one_layer, "model.", true);
    testing::write_tiny_lm(two_layer_dir, two_layers, "", false);
  }
};

const Folders& folders() {
  static const Folders f;  // removed at exit
  return f;
}

class CausalLmTest : public testing::DeviceTest {
 protected:
  CausalLm load(const std::string& dir, DType dtype = DType::f32) {
    return testing::unwrap(CausalLm::load(dir, *device_, dtype));
  }
  KvCache cache(const CausalLm& lm, int sequences, std::int64_t tokens,
                KvCacheKind kind = KvCacheKind::preallocated) {
    return testing::unwrap(KvCache::create(*device_, lm.config(), {kind, sequences, tokens}));
  }
  std::vector<float> full_logits(const CausalLm& lm, const Tensor& hidden) {
    return testing::download(testing::unwrap(lm.logits(ctx(), hidden, 0, lm.vocab_size())));
  }
  // Logits of the last token of `ids` from an empty cache.
  std::vector<float> recomputed(const CausalLm& lm, const std::vector<std::int32_t>& ids) {
    KvCache fresh = cache(lm, 1, static_cast<std::int64_t>(ids.size()), KvCacheKind::grown);
    return full_logits(lm, testing::unwrap(lm.prefill(ctx(), fresh, 0, ids)));
  }
};
ACEFIT_DEVICE_TEST_SUITE(CausalLmTest);

std::vector<double> widen(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// ---- the naive reference ----------------------------------------------------

using Vec = std::vector<double>;

Vec mat_vec(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, const Vec& x) {
  Vec y(static_cast<std::size_t>(rows), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (std::int64_t c = 0; c < cols; ++c)
      sum += static_cast<double>(w[static_cast<std::size_t>(r * cols + c)]) *
             x[static_cast<std::size_t>(c)];
    y[static_cast<std::size_t>(r)] = sum;
  }
  return y;
}

// RMSNorm of x[begin, begin + n) in place.
void rms_norm_span(Vec& x, std::size_t begin, std::size_t n, const std::vector<float>& w,
                   double eps) {
  double mean_square = 0.0;
  for (std::size_t i = 0; i < n; ++i) mean_square += x[begin + i] * x[begin + i];
  const double inv = 1.0 / std::sqrt(mean_square / static_cast<double>(n) + eps);
  for (std::size_t i = 0; i < n; ++i) x[begin + i] = x[begin + i] * inv * w[i];
}

// Rotate-half RoPE of one head vector at position p.
void rope_head(Vec& x, std::size_t begin, std::int64_t dim, std::int64_t p, double theta) {
  const std::int64_t half = dim / 2;
  for (std::int64_t i = 0; i < half; ++i) {
    const double angle =
        static_cast<double>(p) * std::pow(theta, -2.0 * static_cast<double>(i) / dim);
    const double a = x[begin + static_cast<std::size_t>(i)];
    const double b = x[begin + static_cast<std::size_t>(i + half)];
    x[begin + static_cast<std::size_t>(i)] = a * std::cos(angle) - b * std::sin(angle);
    x[begin + static_cast<std::size_t>(i + half)] = b * std::cos(angle) + a * std::sin(angle);
  }
}

// Logits of the last position of `ids`, in plain loops.
Vec naive_last_logits(const testing::TinyLmWeights& w, const std::vector<std::int32_t>& ids) {
  const Qwen3Config& c = w.config;
  const std::int64_t hidden = c.hidden_size, heads = c.num_attention_heads,
                     kv_heads = c.num_key_value_heads, dim = c.head_dim,
                     inter = c.intermediate_size;
  const auto& table = w.at("embed_tokens.weight");
  std::vector<Vec> x;
  for (const std::int32_t id : ids) {
    Vec row(static_cast<std::size_t>(hidden));
    for (std::int64_t h = 0; h < hidden; ++h)
      row[static_cast<std::size_t>(h)] = table[static_cast<std::size_t>(id * hidden + h)];
    x.push_back(row);
  }
  const std::size_t t_count = ids.size();
  for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    std::vector<Vec> q(t_count), k(t_count), v(t_count);
    for (std::size_t t = 0; t < t_count; ++t) {
      Vec n = x[t];
      rms_norm_span(n, 0, n.size(), w.at(p + "input_layernorm.weight"), c.rms_norm_eps);
      q[t] = mat_vec(w.at(p + "self_attn.q_proj.weight"), heads * dim, hidden, n);
      k[t] = mat_vec(w.at(p + "self_attn.k_proj.weight"), kv_heads * dim, hidden, n);
      v[t] = mat_vec(w.at(p + "self_attn.v_proj.weight"), kv_heads * dim, hidden, n);
      for (std::int64_t h = 0; h < heads; ++h) {
        const auto begin = static_cast<std::size_t>(h * dim);
        rms_norm_span(q[t], begin, static_cast<std::size_t>(dim),
                      w.at(p + "self_attn.q_norm.weight"), c.rms_norm_eps);
        rope_head(q[t], begin, dim, static_cast<std::int64_t>(t), c.rope_theta);
      }
      for (std::int64_t h = 0; h < kv_heads; ++h) {
        const auto begin = static_cast<std::size_t>(h * dim);
        rms_norm_span(k[t], begin, static_cast<std::size_t>(dim),
                      w.at(p + "self_attn.k_norm.weight"), c.rms_norm_eps);
        rope_head(k[t], begin, dim, static_cast<std::int64_t>(t), c.rope_theta);
      }
    }
    for (std::size_t t = 0; t < t_count; ++t) {
      Vec attended(static_cast<std::size_t>(heads * dim), 0.0);
      for (std::int64_t h = 0; h < heads; ++h) {
        const std::int64_t g = h / (heads / kv_heads);
        Vec scores;
        double top = -1e300;
        for (std::size_t j = 0; j <= t; ++j) {
          double s = 0.0;
          for (std::int64_t d = 0; d < dim; ++d)
            s += q[t][static_cast<std::size_t>(h * dim + d)] *
                 k[j][static_cast<std::size_t>(g * dim + d)];
          scores.push_back(s / std::sqrt(static_cast<double>(dim)));
          top = std::max(top, scores.back());
        }
        double total = 0.0;
        for (double& s : scores) total += (s = std::exp(s - top));
        for (std::size_t j = 0; j <= t; ++j) {
          for (std::int64_t d = 0; d < dim; ++d)
            attended[static_cast<std::size_t>(h * dim + d)] +=
                scores[j] / total * v[j][static_cast<std::size_t>(g * dim + d)];
        }
      }
      const Vec o = mat_vec(w.at(p + "self_attn.o_proj.weight"), hidden, heads * dim, attended);
      for (std::size_t i = 0; i < o.size(); ++i) x[t][i] += o[i];
    }
    for (std::size_t t = 0; t < t_count; ++t) {
      Vec n = x[t];
      rms_norm_span(n, 0, n.size(), w.at(p + "post_attention_layernorm.weight"), c.rms_norm_eps);
      const Vec gate = mat_vec(w.at(p + "mlp.gate_proj.weight"), inter, hidden, n);
      Vec up = mat_vec(w.at(p + "mlp.up_proj.weight"), inter, hidden, n);
      for (std::size_t i = 0; i < up.size(); ++i) up[i] *= gate[i] / (1.0 + std::exp(-gate[i]));
      const Vec down = mat_vec(w.at(p + "mlp.down_proj.weight"), hidden, inter, up);
      for (std::size_t i = 0; i < down.size(); ++i) x[t][i] += down[i];
    }
  }
  Vec last = x.back();
  rms_norm_span(last, 0, last.size(), w.at("norm.weight"), c.rms_norm_eps);
  return mat_vec(table, c.vocab_size, hidden, last);
}

// ---- tests ------------------------------------------------------------------

TEST_P(CausalLmTest, MatchesANaiveForwardOfOneLayer) {
  const Folders& f = folders();
  const std::vector<std::int32_t> ids{5, 17, 299, 0, 42, 8, 133, 17, 250};
  const Vec expected = naive_last_logits(f.one_layer, ids);
  for (const DType dtype : {DType::f32, DType::bf16}) {
    CausalLm lm = load(f.one_layer_dir, dtype);
    KvCache kv = cache(lm, 1, 64);
    const Tensor hidden = testing::unwrap(lm.prefill(ctx(), kv, 0, ids));
    EXPECT_EQ(hidden.shape(), (Shape{1, 32}));
    EXPECT_EQ(kv.length(0), 9);
    testing::expect_close(full_logits(lm, hidden), expected, 2e-3, 1e-3,
                          std::string("logits, ") + std::string(dtype_name(dtype)) + " weights");
  }
}

TEST_P(CausalLmTest, DecodingWithTheCacheEqualsRecomputingThePrefix) {
  CausalLm lm = load(folders().two_layer_dir);
  // Two sequences of different lengths decoded together.
  std::vector<std::vector<std::int32_t>> prefix{{3, 14, 15, 92, 65},
                                                {2, 71, 82, 81, 82, 84, 59, 4, 5}};
  KvCache kv = cache(lm, 2, 20);
  for (int s = 0; s < 2; ++s) {
    const Tensor hidden =
        testing::unwrap(lm.prefill(ctx(), kv, s, prefix[static_cast<std::size_t>(s)]));
    testing::expect_close(full_logits(lm, hidden),
                          widen(recomputed(lm, prefix[static_cast<std::size_t>(s)])), 1e-4, 1e-4,
                          "prefill of sequence " + std::to_string(s));
  }
  const int seqs[] = {1, 0};  // any order
  const std::int32_t steps[4][2] = {{7, 299}, {0, 1}, {123, 45}, {200, 200}};
  for (int step = 0; step < 4; ++step) {
    const Tensor hidden = testing::unwrap(lm.decode(ctx(), kv, seqs, steps[step]));
    ASSERT_EQ(hidden.shape(), (Shape{2, 32}));
    const std::vector<float> logits = full_logits(lm, hidden);
    for (int i = 0; i < 2; ++i) {
      std::vector<std::int32_t>& ids = prefix[static_cast<std::size_t>(seqs[i])];
      ids.push_back(steps[step][i]);
      const std::vector<float> row(logits.begin() + i * 300, logits.begin() + (i + 1) * 300);
      testing::expect_close(
          row, widen(recomputed(lm, ids)), 1e-4, 1e-4,
          "step " + std::to_string(step) + ", sequence " + std::to_string(seqs[i]));
    }
  }
  EXPECT_EQ(kv.length(0), 9);
  EXPECT_EQ(kv.length(1), 13);
}

TEST_P(CausalLmTest, DecodeAcrossABlockBoundaryOfAGrownCache) {
  CausalLm lm = load(folders().one_layer_dir, DType::bf16);
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 254; ++i) ids.push_back((i * 37 + 11) % 300);
  KvCache kv = cache(lm, 1, 1000, KvCacheKind::grown);
  testing::unwrap(lm.prefill(ctx(), kv, 0, ids));
  EXPECT_EQ(kv.capacity(0), 256);
  Tensor hidden;
  const int seq[] = {0};
  for (const std::int32_t token : {9, 99, 199}) {
    const std::int32_t tokens[] = {token};
    hidden = testing::unwrap(lm.decode(ctx(), kv, seq, tokens));
    ids.push_back(token);
  }
  EXPECT_EQ(kv.capacity(0), 512);
  EXPECT_EQ(kv.length(0), 257);
  testing::expect_close(full_logits(lm, hidden), widen(recomputed(lm, ids)), 1e-4, 1e-4,
                        "after growing past 256 tokens");
}

TEST_P(CausalLmTest, PrefillInTwoChunksEqualsOneChunk) {
  CausalLm lm = load(folders().two_layer_dir);
  const std::vector<std::int32_t> ids{1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144};
  KvCache one = cache(lm, 1, 12);
  const Tensor whole = testing::unwrap(lm.prefill(ctx(), one, 0, ids));
  KvCache two = cache(lm, 2, 12, KvCacheKind::grown);
  const std::span<const std::int32_t> all(ids);
  testing::unwrap(lm.prefill(ctx(), two, 1, all.first(7)));
  const Tensor chunked = testing::unwrap(lm.prefill(ctx(), two, 1, all.subspan(7)));
  EXPECT_EQ(two.length(1), 12);
  EXPECT_EQ(two.length(0), 0);
  testing::expect_close(testing::download(chunked), widen(testing::download(whole)), 1e-5, 1e-5,
                        "hidden state after 7 + 5 tokens");
}

TEST_P(CausalLmTest, PartialHeadEqualsRowsOfTheFullHead) {
  CausalLm lm = load(folders().two_layer_dir, DType::bf16);
  KvCache kv = cache(lm, 2, 8);
  testing::unwrap(lm.prefill(ctx(), kv, 0, std::vector<std::int32_t>{4, 5, 6}));
  testing::unwrap(lm.prefill(ctx(), kv, 1, std::vector<std::int32_t>{7}));
  const int seqs[] = {0, 1};
  const std::int32_t tokens[] = {10, 20};
  const Tensor hidden = testing::unwrap(lm.decode(ctx(), kv, seqs, tokens));
  const std::vector<float> full = full_logits(lm, hidden);
  const Tensor part = testing::unwrap(lm.logits(ctx(), hidden, 101, 257));
  ASSERT_EQ(part.shape(), (Shape{2, 156}));
  std::vector<double> expected;
  for (int r = 0; r < 2; ++r)
    for (int j = 101; j < 257; ++j) expected.push_back(full[static_cast<std::size_t>(r * 300 + j)]);
  testing::expect_close(testing::download(part), expected, 1e-5, 1e-5, "rows [101, 257)");
  EXPECT_EQ(lm.logits(ctx(), hidden, 5, 5).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(lm.logits(ctx(), hidden, 0, 301).status().code(), ErrorCode::invalid_argument);
  EXPECT_EQ(lm.logits(ctx(), hidden, -1, 3).status().code(), ErrorCode::invalid_argument);
}

TEST_P(CausalLmTest, TheDemoFolderLoadsAndItsAudioCodeHeadIsConsistent) {
  // The folder make-demo-checkpoints writes: the real vocabulary (217204),
  // the "model." prefix, bf16 tensors. (The full head over 217204 rows is
  // slow on lavapipe: PartialHeadEqualsRowsOfTheFullHead checks it on the
  // small vocabulary; here the audio-code head's first and last rows are
  // checked against heads over just those rows.)
  static const testing::TempDir root;  // removed at exit
  static const Status written = [] {
    SyntheticCheckpointOptions options;
    options.with_text_encoder = false;
    return write_synthetic_checkpoints(root.path(), options);
  }();
  ASSERT_TRUE(written.ok()) << written.to_string();
  CausalLm lm = load(root.path() + "/acestep-5Hz-lm-0.6B", DType::bf16);
  const std::int64_t vocab = models::lm::kLmVocabSize;
  EXPECT_EQ(lm.vocab_size(), vocab);
  KvCache kv = cache(lm, 1, 16);
  const std::vector<std::int32_t> ids{models::lm::kImStartTokenId, 872, 198,
                                      models::lm::kThinkTokenId};
  const Tensor hidden = testing::unwrap(lm.prefill(ctx(), kv, 0, ids));
  const std::int64_t begin = models::lm::kFirstAudioCodeTokenId;
  const std::vector<float> codes =
      testing::download(testing::unwrap(lm.logits(ctx(), hidden, begin, vocab)));
  ASSERT_EQ(static_cast<std::int64_t>(codes.size()), vocab - begin);
  const std::vector<float> first =
      testing::download(testing::unwrap(lm.logits(ctx(), hidden, begin, begin + 70)));
  const std::vector<float> last =
      testing::download(testing::unwrap(lm.logits(ctx(), hidden, vocab - 70, vocab)));
  testing::expect_close(first, widen({codes.begin(), codes.begin() + 70}), 1e-5, 1e-5,
                        "the first audio-code rows");
  testing::expect_close(last, widen({codes.end() - 70, codes.end()}), 1e-5, 1e-5,
                        "the last audio-code rows");
}

TEST_P(CausalLmTest, CopyToComputesTheSame) {
  std::shared_ptr<Device> host = testing::make_test_device("cpu");
  CausalLm on_host = testing::unwrap(CausalLm::load(folders().two_layer_dir, *host, DType::bf16));
  CausalLm copy = testing::unwrap(on_host.copy_to(*device_));
  EXPECT_EQ(&copy.device(), device_.get());
  EXPECT_EQ(&on_host.device(), host.get());
  const std::vector<std::int32_t> ids{9, 8, 7};
  KvCache kv = cache(copy, 1, 3);
  // The host copy cannot run on this device.
  if (host.get() != device_.get()) {
    EXPECT_EQ(on_host.prefill(ctx(), kv, 0, ids).status().code(), ErrorCode::invalid_argument);
  }
  const Tensor hidden = testing::unwrap(copy.prefill(ctx(), kv, 0, ids));
  CausalLm direct = load(folders().two_layer_dir, DType::bf16);
  testing::expect_close(full_logits(copy, hidden), widen(recomputed(direct, ids)), 1e-5, 1e-5,
                        "copied model");
}

TEST_P(CausalLmTest, BadIdsAndArgumentsAreErrorsThatAppendNothing) {
  CausalLm lm = load(folders().two_layer_dir);
  KvCache kv = cache(lm, 2, 8);
  const Status bad = lm.prefill(ctx(), kv, 0, std::vector<std::int32_t>{1, 300, 2}).status();
  EXPECT_EQ(bad.code(), ErrorCode::invalid_argument);
  EXPECT_NE(bad.message().find("300"), std::string::npos) << bad.message();
  EXPECT_EQ(lm.prefill(ctx(), kv, 0, std::vector<std::int32_t>{-1}).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(lm.prefill(ctx(), kv, 0, std::vector<std::int32_t>{}).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(lm.prefill(ctx(), kv, 2, std::vector<std::int32_t>{1}).status().code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(kv.length(0), 0);
  testing::unwrap(lm.prefill(ctx(), kv, 0, std::vector<std::int32_t>{1, 2}));
  testing::unwrap(lm.prefill(ctx(), kv, 1, std::vector<std::int32_t>{3}));
  const int twice[] = {0, 0};
  const int both[] = {0, 1};
  const std::int32_t two_tokens[] = {1, 2};
  const std::int32_t one_bad[] = {1, 100000};
  EXPECT_EQ(lm.decode(ctx(), kv, twice, two_tokens).status().code(), ErrorCode::invalid_argument);
  const Status bad_decode = lm.decode(ctx(), kv, both, one_bad).status();
  EXPECT_NE(bad_decode.message().find("100000"), std::string::npos) << bad_decode.message();
  EXPECT_EQ(
      lm.decode(ctx(), kv, both, std::span<const std::int32_t>(two_tokens, 1)).status().code(),
      ErrorCode::invalid_argument);
  EXPECT_EQ(kv.length(0), 2);
  EXPECT_EQ(kv.length(1), 1);
  // Past a preallocated capacity (8 tokens rounded up to 256).
  const std::vector<std::int32_t> long_ids(256, 4);
  const Status full = lm.prefill(ctx(), kv, 0, long_ids).status();
  EXPECT_EQ(full.code(), ErrorCode::invalid_argument);
  EXPECT_NE(full.message().find("sequence 0"), std::string::npos) << full.message();
  EXPECT_EQ(kv.length(0), 2);
  // A cache made for another model.
  KvCache other = testing::unwrap(
      KvCache::create(*device_, testing::tiny_lm_config(1), {KvCacheKind::preallocated, 1, 4}));
  EXPECT_EQ(lm.prefill(ctx(), other, 0, std::vector<std::int32_t>{1}).status().code(),
            ErrorCode::invalid_argument);
  // The LM is never quantized.
  EXPECT_EQ(CausalLm::load(folders().two_layer_dir, *device_, DType::i8).status().code(),
            ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace acefit::lm_model_tests
