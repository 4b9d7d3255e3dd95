// f32 math with accuracy that does not depend on the driver: Vulkan lets
// exp/sin/cos/tanh be loose (exp: 3 + 2|x| ulp; sin/cos: 2^-11 absolute
// in [-pi, pi], nothing outside), so the kernels use these instead.
// `precise` keeps the compiler from fusing or re-associating the
// error-free steps; they use Dekker's splitting, not fma(), which some
// drivers (lavapipe) evaluate unfused.

// a * b = hi + lo exactly (Dekker; |a|, |b| < 2^100).
vec2 two_product(float a, float b) {
  precise float hi = a * b;
  precise float ca = 4097.0 * a;
  precise float a_hi = ca - (ca - a);
  precise float a_lo = a - a_hi;
  precise float cb = 4097.0 * b;
  precise float b_hi = cb - (cb - b);
  precise float b_lo = b - b_hi;
  precise float lo = ((a_hi * b_hi - hi) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
  return vec2(hi, lo);
}

// a + b = hi + lo exactly (Knuth).
vec2 two_sum(float a, float b) {
  precise float s = a + b;
  precise float bb = s - a;
  precise float err = (a - (s - bb)) + (b - bb);
  return vec2(s, err);
}

// Double-float arithmetic (a value is hi + lo, ~48 bits): sum and product.
vec2 df_normalize(float hi, float lo) {
  precise float s = hi + lo;
  precise float err = lo - (s - hi);
  return vec2(s, err);
}

vec2 df_add(vec2 a, vec2 b) {
  const vec2 s = two_sum(a.x, b.x);
  precise float lo = s.y + (a.y + b.y);
  return df_normalize(s.x, lo);
}

vec2 df_mul(vec2 a, vec2 b) {
  const vec2 p = two_product(a.x, b.x);
  precise float lo = p.y + (a.x * b.y + a.y * b.x);
  return df_normalize(p.x, lo);
}

// 2^f for a double-float |f| <= 0.5, rounded to f32 from ~2^-44 relative
// accuracy, so it is the correctly rounded value but for the rarest ties:
// exp(f ln 2) by its Taylor series to y^11/11! (|y| <= 0.35: truncation
// below 2^-47) in double-float Horner form.
float exp2_correctly_rounded(vec2 f) {
  const float inverse_factorial_hi[12] = float[](
      1.0, 1.0, 0.5, 1.666666716e-01, 4.166666791e-02, 8.333333768e-03, 1.388888923e-03,
      1.984127011e-04, 2.480158764e-05, 2.755731884e-06, 2.755731998e-07, 2.505210794e-08);
  const float inverse_factorial_lo[12] = float[](
      0.0, 0.0, 0.0, -4.967053879e-09, -1.241763470e-09, -4.346172033e-10, -3.363109444e-11,
      -2.725596875e-12, -3.406996094e-13, 3.793571224e-14, -7.575112209e-15, 4.417623045e-16);
  const vec2 y = df_mul(df_normalize(f.x, f.y), vec2(6.931471825e-01, -1.904654212e-09));
  vec2 sum = vec2(inverse_factorial_hi[11], inverse_factorial_lo[11]);
  for (int k = 10; k >= 0; --k) {
    sum = df_add(df_mul(sum, y), vec2(inverse_factorial_hi[k], inverse_factorial_lo[k]));
  }
  return sum.x + sum.y;
}

// exp(a + b) for a moderate b (|b| < ~4): Cody-Waite range reduction
// (n = round((a + b) / ln 2), ln 2 in two parts) with b added to the reduced
// argument, so a large a (up to -104) loses nothing to the sum; then the
// Cephes degree-6 polynomial on |r| <= ln2/2 (relative error < 2e-7).
float exp_sum(float a, float b) {
  if (isnan(a + b)) return a + b;
  precise float s = clamp(a + b, -104.0, 88.7);
  const float n = round(s * 1.44269504088896341);
  if (s != a + b) a = s, b = 0.0;  // clamped (or NaN): no split to keep
  precise float r = a - n * 0.693359375;  // exact: ln2_hi has 9 bits, |n| <= 150
  r = r - n * -2.12194440e-4;
  r = r + b;
  float p = 1.9875691500e-4;
  p = fma(p, r, 1.3981999507e-3);
  p = fma(p, r, 8.3334519073e-3);
  p = fma(p, r, 4.1665795894e-2);
  p = fma(p, r, 1.6666665459e-1);
  p = fma(p, r, 5.0000001201e-1);
  p = fma(p, r * r, r + 1.0);
  return ldexp(p, int(n));
}

float exp_f32(float a) { return exp_sum(a, 0.0); }

// 0.5 * erfc(-x / sqrt(2)) = 0.5 * (1 + erf(x / sqrt(2))), the normal CDF,
// without cancellation for negative x. erfc(z), z >= 0, is Numerical
// Recipes' Chebyshev fit (relative error < 1.2e-7):
//   erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2),
// with -z^2 = -x^2/2 carried as an exact hi + lo pair, so neither the
// rounding of x / sqrt(2) nor that of z^2 is amplified for large |x|.
float normal_cdf(float x) {
  if (x > 10.0) return 1.0;   // 1 - 2e-24
  if (x < -14.0) return 0.0;  // below 2e-44
  const float z = abs(x) * 0.70710678118654752;
  const float t = 1.0 / (1.0 + 0.5 * z);
  float q = 0.17087277;
  q = fma(q, t, -0.82215223);
  q = fma(q, t, 1.48851587);
  q = fma(q, t, -1.13520398);
  q = fma(q, t, 0.27886807);
  q = fma(q, t, -0.18628806);
  q = fma(q, t, 0.09678418);
  q = fma(q, t, 0.37409196);
  q = fma(q, t, 1.00002368);
  q = fma(q, t, -1.26551223);
  const vec2 xx = two_product(x, x);
  const float half_erfc = 0.5 * t * exp_sum(-0.5 * xx.x, q - 0.5 * xx.y);
  return x < 0.0 ? half_erfc : 1.0 - half_erfc;
}

// (sin x, cos x) for f32 angles up to ~1e5 rad: n = round(x / (pi/2)) and
// r = x - n pi/2 with pi/2 in three parts (Cephes' DP1..DP3 doubled; the
// first product is exact, the second kept exact as a pair), then the Cephes
// sinf/cosf polynomials on |r| <= pi/4 and the quadrant swap.
vec2 sin_cos(float x) {
  const float n = round(x * 0.63661977236758134);
  precise float r = x - n * 1.5703125;  // exact: 8 bits times |n| < 2^16
  const vec2 m = two_product(n, 4.837512969970703125e-4);
  r = (r - m.x) - m.y;
  r = r - n * 7.54978995489188216e-8;
  const float r2 = r * r;
  float s = -1.9515295891e-4;
  s = fma(s, r2, 8.3321608736e-3);
  s = fma(s, r2, -1.6666654611e-1);
  s = fma(s * r2, r, r);
  float c = 2.443315711809948e-5;
  c = fma(c, r2, -1.388731625493765e-3);
  c = fma(c, r2, 4.166664568298827e-2);
  c = fma(c * r2, r2, fma(-0.5, r2, 1.0));
  const int quadrant = int(n) & 3;
  vec2 sc = (quadrant & 1) == 0 ? vec2(s, c) : vec2(c, -s);
  if (quadrant >= 2) sc = -sc;
  return sc;
}
