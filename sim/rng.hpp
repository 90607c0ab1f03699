#pragma once
// Deterministic random numbers whose sequence is fixed by the seed on every platform.
// std::*_distribution is implementation-defined, so swarmsim draws its variates itself.
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace swarmsim::sim {

__extension__ using Uint128 = unsigned __int128;  // GCC/Clang extension, for the multiply-shift below

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit generator; also used to derive child seeds.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  /// Next raw 64-bit value.
  std::uint64_t next_u64() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  /// Uniform double in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n) (n > 0), by Lemire's multiply-shift (bias < 2^-64 * n).
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<Uint128>(next_u64()) * n) >> 64);
  }
  /// Exponential variate with the given rate (1/s), by inversion.
  double exponential(double rate) { return -std::log1p(-uniform()) / rate; }
  /// An independent generator for a named sub-stream (e.g. one per session).
  Rng split(std::uint64_t stream) { return Rng(next_u64() ^ (stream * 0xD1B54A32D192ED03ULL)); }

 private:
  std::uint64_t state_;
};

/// A pair of independent standard normal variates by Box-Muller, from two uniforms of `rng`.
inline void normal_pair(Rng& rng, double& a, double& b) {
  const double u = 1.0 - rng.uniform();  // (0, 1]
  const double v = rng.uniform();
  const double r = std::sqrt(-2.0 * std::log(u));
  a = r * std::cos(2.0 * M_PI * v);
  b = r * std::sin(2.0 * M_PI * v);
}

/// n standard normal variates into out, a Box-Muller pair at a time (the last pair's second
/// variate is dropped when n is odd).
inline void fill_normals(Rng& rng, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 2) {
    double a = 0, b = 0;
    normal_pair(rng, a, b);
    out[i] = a;
    if (i + 1 < n) out[i + 1] = b;
  }
}

}  // namespace swarmsim::sim
