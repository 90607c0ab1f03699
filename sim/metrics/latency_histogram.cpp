#include "sim/metrics/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace swarmsim::sim {
namespace {
constexpr int kMinExponent = -30;     // 2^-30 s ~ 0.93 ns
constexpr int kMaxExponent = 24;      // 2^24 s ~ 194 days
constexpr int kOctaves = kMaxExponent - kMinExponent;
}  // namespace

LatencyHistogram::LatencyHistogram(int sub_buckets)
    : sub_buckets_(std::clamp(sub_buckets, 1, 1024)), buckets_(static_cast<std::size_t>(kOctaves * sub_buckets_), 0) {}

int LatencyHistogram::bucket_of(double s) const {
  if (!(s > 0)) return 0;
  int exp = 0;
  const double mant = std::frexp(s, &exp);  // s = mant * 2^exp, mant in [0.5, 1)
  const int octave = exp - 1 - kMinExponent;   // s in [2^(exp-1), 2^exp)
  if (octave < 0) return 0;
  if (octave >= kOctaves) return static_cast<int>(buckets_.size()) - 1;
  const int sub = std::min(sub_buckets_ - 1, static_cast<int>((mant * 2.0 - 1.0) * sub_buckets_));
  return octave * sub_buckets_ + sub;
}

double LatencyHistogram::bucket_mid(int b) const {
  const int octave = b / sub_buckets_, sub = b % sub_buckets_;
  const double lo = std::ldexp(1.0 + static_cast<double>(sub) / sub_buckets_, octave + kMinExponent);
  const double hi = std::ldexp(1.0 + static_cast<double>(sub + 1) / sub_buckets_, octave + kMinExponent);
  return std::sqrt(lo * hi);
}

void LatencyHistogram::record(double s) {
  s = std::max(0.0, s);
  ++buckets_[static_cast<std::size_t>(bucket_of(s))];
  if (count_ == 0 || s < min_) min_ = s;
  if (count_ == 0 || s > max_) max_ = s;
  ++count_;
  sum_ += s;
}

double LatencyHistogram::percentile(double p) const {
  if (count_ == 0) return 0.0;
  const double clamped = std::clamp(p, 0.0, 100.0);
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * count_)));
  std::uint64_t seen = 0;
  for (int b = 0; b < static_cast<int>(buckets_.size()); ++b) {
    seen += buckets_[static_cast<std::size_t>(b)];
    if (seen >= rank) return std::clamp(bucket_mid(b), min_, max_);
  }
  return max_;
}

}  // namespace swarmsim::sim
