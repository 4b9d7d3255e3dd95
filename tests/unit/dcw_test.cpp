// DCW (acestep-model.md 18.4) against a naive one-level Haar DWT written as a
// filter bank: analysis by convolving the zero-padded signal with the Haar
// low and high filters and keeping every second output, band scaling of
// x_next's bands against the denoised sample's, synthesis by upsampling and
// convolving with the synthesis filters, then the trim to T. Every mode,
// even and odd T, several timesteps; plus the options, the last step and
// the error cases.
#include "pipeline/dcw.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "test_support.h"

namespace acefit {
namespace {

using Signal = std::vector<double>;

const double kHaarRoot = 1.0 / std::sqrt(2.0);
// Orthonormal Haar analysis filters h (low) and g (high), applied as
// out[k] = sum_j filter[j] * padded[2k + j], and the synthesis filters,
// applied as y[n] += band[k] * synthesis[n - 2k].
const std::array<double, 2> kAnalysisLow = {kHaarRoot, kHaarRoot};
const std::array<double, 2> kAnalysisHigh = {kHaarRoot, -kHaarRoot};
const std::array<double, 2> kSynthesisLow = {kHaarRoot, kHaarRoot};
const std::array<double, 2> kSynthesisHigh = {kHaarRoot, -kHaarRoot};

struct Bands {
  Signal low, high;
};

Bands analysis(const Signal& x) {
  Signal padded = x;
  if (padded.size() % 2 == 1) padded.push_back(0.0);  // zero padding on the right
  Bands bands;
  for (std::size_t k = 0; 2 * k < padded.size(); ++k) {
    double low = 0, high = 0;
    for (std::size_t j = 0; j < 2; ++j) {
      low += kAnalysisLow[j] * padded[2 * k + j];
      high += kAnalysisHigh[j] * padded[2 * k + j];
    }
    bands.low.push_back(low);
    bands.high.push_back(high);
  }
  return bands;
}

Signal synthesis(const Bands& bands, std::size_t length) {
  Signal y(2 * bands.low.size(), 0.0);
  for (std::size_t k = 0; k < bands.low.size(); ++k) {
    for (std::size_t j = 0; j < 2; ++j) {
      y[2 * k + j] += bands.low[k] * kSynthesisLow[j] + bands.high[k] * kSynthesisHigh[j];
    }
  }
  y.resize(length);  // the trim
  return y;
}

// The reference's recipe, per (item, channel) time series: xl, xh = DWT(x_next);
// yl, yh = DWT(denoised); xl += s_low (xl - yl); xh += s_high (xh - yh);
// x_next = IDWT(xl, xh); pix: x_next += scaler (x_next - denoised).
std::vector<float> naive_dcw(DcwMode mode, double scaler, double high_scaler, double t,
                             LatentShape shape, const std::vector<float>& x_next,
                             const std::vector<float>& x, const std::vector<float>& v) {
  double s_low = 0, s_high = 0;
  if (mode == DcwMode::low) s_low = t * scaler;
  if (mode == DcwMode::high) s_high = (1 - t) * scaler;
  if (mode == DcwMode::both) {
    s_low = t * scaler;
    s_high = (1 - t) * high_scaler;
  }
  std::vector<float> out = x_next;
  const auto frames = static_cast<std::size_t>(shape.frames);
  const auto channels = static_cast<std::size_t>(shape.channels);
  for (std::size_t b = 0; b < static_cast<std::size_t>(shape.batch); ++b) {
    for (std::size_t c = 0; c < channels; ++c) {
      Signal xs(frames), ys(frames);
      for (std::size_t f = 0; f < frames; ++f) {
        const std::size_t i = (b * frames + f) * channels + c;
        xs[f] = x_next[i];
        ys[f] = static_cast<float>(static_cast<double>(x[i]) - static_cast<double>(v[i]) * t);
      }
      Signal corrected(frames);
      if (mode == DcwMode::pix) {
        for (std::size_t f = 0; f < frames; ++f) corrected[f] = xs[f] + scaler * (xs[f] - ys[f]);
      } else {
        Bands xb = analysis(xs);
        const Bands yb = analysis(ys);
        for (std::size_t k = 0; k < xb.low.size(); ++k) {
          xb.low[k] += s_low * (xb.low[k] - yb.low[k]);
          xb.high[k] += s_high * (xb.high[k] - yb.high[k]);
        }
        corrected = synthesis(xb, frames);
      }
      for (std::size_t f = 0; f < frames; ++f)
        out[(b * frames + f) * channels + c] = static_cast<float>(corrected[f]);
    }
  }
  return out;
}

std::vector<float> dcw_floats(std::size_t n, std::uint64_t seed) {
  return testing::random_floats(n, seed);
}

TEST(Dcw, NaiveFilterBankReconstructsItsInput) {
  for (std::size_t length : {1u, 2u, 5u, 6u, 7u}) {
    Signal x;
    for (std::size_t i = 0; i < length; ++i) x.push_back(0.3 * static_cast<double>(i) - 1.1);
    const Signal y = synthesis(analysis(x), length);
    ASSERT_EQ(y.size(), length);
    for (std::size_t i = 0; i < length; ++i) EXPECT_NEAR(y[i], x[i], 1e-12) << length;
  }
}

TEST(Dcw, MatchesTheNaiveHaarFilterBankForEveryModeAndEvenAndOddT) {
  for (const std::int64_t frames : {6, 7, 1, 60, 75}) {
    const LatentShape shape{2, frames, 3};
    const auto count = static_cast<std::size_t>(shape.element_count());
    const std::vector<float> x = dcw_floats(count, 11 + static_cast<std::uint64_t>(frames));
    const std::vector<float> v = dcw_floats(count, 23 + static_cast<std::uint64_t>(frames));
    for (const DcwMode mode : {DcwMode::low, DcwMode::high, DcwMode::both, DcwMode::pix}) {
      for (const double t : {1.0, 0.9545454545454546, 0.5, 0.3, 0.125}) {
        // An ODE step to t / 2, as the sampler makes it.
        std::vector<float> x_next = x;
        ASSERT_TRUE(euler_step(x_next, v, t, t / 2).ok());
        // Strong strengths, so the bands' scaling shows well above rounding.
        const DcwOptions options{true, mode, 0.4, 0.7};
        const std::vector<float> expected = naive_dcw(mode, 0.4, 0.7, t, shape, x_next, x, v);
        std::vector<float> actual = x_next;
        ASSERT_TRUE(apply_dcw(options, shape, actual, x, v, t).ok());
        double changed = 0;
        for (std::size_t i = 0; i < count; ++i) {
          EXPECT_NEAR(actual[i], expected[i], 2e-6 * (1 + std::fabs(expected[i])))
              << dcw_mode_name(mode) << " T " << frames << " t " << t << " at " << i;
          changed = std::max(changed, std::fabs(static_cast<double>(actual[i]) - x_next[i]));
        }
        // Every mode moves x_next unless its strength vanishes at this t.
        const DcwStrengths s = dcw_strengths(options, t);
        if (s.low != 0 || s.high != 0) {
          EXPECT_GT(changed, 1e-3) << dcw_mode_name(mode) << " t " << t;
        }
      }
    }
  }
}

TEST(Dcw, OddTCorrectsTheLastFrameAgainstAZeroPartner) {
  // One channel, T = 3: the last frame pairs with the zero padding frame.
  const LatentShape shape{1, 3, 1};
  const std::vector<float> x = {1.0f, 2.0f, 4.0f};
  const std::vector<float> v = {0.0f, 0.0f, 0.0f};  // denoised = x
  std::vector<float> x_next = {2.0f, 2.0f, 6.0f};   // d = 1, 0, 2
  const DcwOptions options{true, DcwMode::low, 0.5, 0.0};
  ASSERT_TRUE(apply_dcw(options, shape, x_next, x, v, 1.0).ok());
  // s_low = 0.5: pair (1, 0) has mean 0.5, the last frame's pair (2, 0) mean 1.
  EXPECT_FLOAT_EQ(x_next[0], 2.25f);
  EXPECT_FLOAT_EQ(x_next[1], 2.25f);
  EXPECT_FLOAT_EQ(x_next[2], 6.5f);
}

TEST(Dcw, StrengthsPerMode) {
  const double t = 0.75;
  const auto strengths = [&](DcwMode mode) {
    return dcw_strengths(DcwOptions{true, mode, 0.05, 0.02}, t);
  };
  EXPECT_DOUBLE_EQ(strengths(DcwMode::low).low, 0.75 * 0.05);
  EXPECT_EQ(strengths(DcwMode::low).high, 0.0);
  EXPECT_EQ(strengths(DcwMode::high).low, 0.0);
  EXPECT_DOUBLE_EQ(strengths(DcwMode::high).high, 0.25 * 0.05);
  EXPECT_DOUBLE_EQ(strengths(DcwMode::both).low, 0.75 * 0.05);
  EXPECT_DOUBLE_EQ(strengths(DcwMode::both).high, 0.25 * 0.02);
  EXPECT_DOUBLE_EQ(strengths(DcwMode::pix).low, 0.05);
  EXPECT_DOUBLE_EQ(strengths(DcwMode::pix).high, 0.05);
  const DcwOptions defaults;
  EXPECT_FALSE(defaults.enabled);
  EXPECT_EQ(defaults.mode, DcwMode::both);
  EXPECT_EQ(defaults.scaler, 0.05);
  EXPECT_EQ(defaults.high_scaler, 0.02);
}

TEST(Dcw, DisabledAndLastStepLeaveXUntouched) {
  const LatentShape shape{1, 9, 4};
  const auto count = static_cast<std::size_t>(shape.element_count());
  const std::vector<float> x = dcw_floats(count, 3), v = dcw_floats(count, 4);
  std::vector<float> x_next = x;
  ASSERT_TRUE(euler_step(x_next, v, 0.5, 0.25).ok());
  const std::vector<float> before = x_next;
  ASSERT_TRUE(apply_dcw(DcwOptions{}, shape, x_next, x, v, 0.5).ok());
  EXPECT_EQ(x_next, before);
  // The last step lands on denoised itself: d = 0, nothing to correct.
  std::vector<float> x0 = x;
  ASSERT_TRUE(jump_to_x0(x0, v, 0.3).ok());
  const std::vector<float> jumped = x0;
  for (const DcwMode mode : {DcwMode::low, DcwMode::high, DcwMode::both, DcwMode::pix}) {
    ASSERT_TRUE(apply_dcw(DcwOptions{true, mode, 0.9, 0.9}, shape, x0, x, v, 0.3).ok());
    EXPECT_EQ(x0, jumped) << dcw_mode_name(mode);
  }
}

TEST(Dcw, ModeNamesAndErrors) {
  for (const DcwMode mode : {DcwMode::low, DcwMode::high, DcwMode::both, DcwMode::pix})
    EXPECT_EQ(parse_dcw_mode(dcw_mode_name(mode)), mode);
  EXPECT_EQ(dcw_mode_name(DcwMode::both), "double");
  for (const char* bad : {"", "Double", "both", "haar", "low "})
    EXPECT_FALSE(parse_dcw_mode(bad).has_value()) << bad;

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const double bad : {nan, std::numeric_limits<double>::infinity(), 1.5, -2.0}) {
    EXPECT_FALSE(validate_dcw_options(DcwOptions{true, DcwMode::both, bad, 0.02}).ok());
    EXPECT_FALSE(validate_dcw_options(DcwOptions{true, DcwMode::both, 0.05, bad}).ok());
  }
  EXPECT_TRUE(validate_dcw_options(DcwOptions{true, DcwMode::pix, -1.0, 1.0}).ok());

  const LatentShape shape{1, 4, 2};
  std::vector<float> x_next(8, 1.0f), x(8, 0.5f), v(8, 0.25f), short_v(7, 0.0f);
  const DcwOptions on{true, DcwMode::both, 0.05, 0.02};
  EXPECT_EQ(apply_dcw(on, shape, x_next, x, short_v, 0.5).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(apply_dcw(on, shape, x_next, x, v, nan).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(apply_dcw(on, LatentShape{1, 0, 2}, x_next, x, v, 0.5).code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(apply_dcw(DcwOptions{true, DcwMode::low, nan, 0.0}, shape, x_next, x, v, 0.5).code(),
            ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace acefit
