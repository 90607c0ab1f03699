#pragma once
// Math the CPU kernels call once per element, written so that GCC vectorizes the loops around
// them (`#pragma omp simd`) at the baseline x86-64 instruction set: no library call, no branch.
// std::exp is a call per element, which kept silu_mul and softmax at a fifth of memory speed.
#include <bit>
#include <cmath>
#include <cstdint>

/// Compiles a kernel's inner function for AVX-512, AVX2 and the x86-64 baseline; the loader
/// picks the best the CPU has (GCC function multiversioning), so one binary runs everywhere and
/// uses 16 lanes where it can. OpenMP outlines a parallel region into a function of its own that
/// would not be cloned, so the cloned function is the work one thread does (a row, a head, a
/// range of blocks), called from inside the parallel loop.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define SWARMSIM_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SWARMSIM_VECTOR_CLONES
#endif

namespace swarmsim::gpu::cpu {

/// Rounds `x` to the nearest integer, ties to even (as std::nearbyint in the default rounding
/// mode), for |x| < 2^22: adding and subtracting 1.5 x 2^23 leaves no fraction bits.
inline float round_to_nearest(float x) { return (x + 12582912.0f) - 12582912.0f; }

/// e^x in FP32 within 2 ulp for x in [-87.33, 88.72] (tested against FP64 exp): Cephes' expf,
/// x = n ln 2 + r with |r| <= ln 2 / 2, a degree-6 polynomial in r, then 2^n as two exponent
/// factors so that n = 128 does not overflow. Below -87.33 (where e^x is subnormal) it returns
/// 0, above 88.72 infinity, and NaN stays NaN.
inline float exp_approx(float x) {
  constexpr float kMin = -87.3365447f, kMax = 88.7228391f;
  const float xs = x == x ? x : 0.0f;  // NaN computes as 0 (no undefined conversion), returns NaN
  const float lo = xs < kMin ? kMin : xs, xc = lo > kMax ? kMax : lo;
  const float n = round_to_nearest(xc * 1.44269504088896341f);
  float r = xc - n * 0.693359375f;  // ln 2 in two parts: the first exact in a few bits
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const auto k = static_cast<std::int32_t>(n);  // in [-126, 128]
  const std::int32_t half = k / 2;
  const float s1 = std::bit_cast<float>((half + 127) << 23), s2 = std::bit_cast<float>((k - half + 127) << 23);
  float y = p * s1 * s2;
  y = x < kMin ? 0.0f : y;
  y = x > kMax ? INFINITY : y;
  return x == x ? y : x;
}

/// Softmax of one row of `n` values: the max, then e^(x - max) summed in FP64, then the division.
/// `y` may be `x` (in place). Inline, so each caller's instruction-set clone vectorizes it.
inline void softmax_row(float* y, const float* x, int n) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int j = 0; j < n; ++j) mx = x[j] > mx ? x[j] : mx;
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < n; ++j) {
    y[j] = exp_approx(x[j] - mx);
    sum += y[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
#pragma omp simd
  for (int j = 0; j < n; ++j) y[j] *= inv;
}

}  // namespace swarmsim::gpu::cpu
