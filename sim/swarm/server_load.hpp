#pragma once
// How busy a server has been lately, as routers see it (eq. 18's load term): device seconds of
// work per second, decayed exponentially with a 10 s time constant. Plain data, both engines.
#include <algorithm>
#include <cmath>

namespace swarmsim::sim {

struct ServerLoad {
  static constexpr double kWindow_s = 10.0;  ///< time constant of the decay (s)
  double rate = 0.0;  ///< decayed busy device-seconds per second, as of `time`
  double time = 0.0;  ///< when `rate` was last updated (s)

  /// Busy fraction at `now`, in [0, 1].
  double utilization(double now) const { return decayed(rate, now - time); }
  /// Busy fraction, in [0, 1], `age_s` seconds after the rate was `rate`.
  static double decayed(double rate, double age_s) { return std::clamp(rate * std::exp(-age_s / kWindow_s), 0.0, 1.0); }
  /// Counts `device_seconds` of work that ended at `now`.
  void add_busy(double now, double device_seconds) {
    rate = rate * std::exp(-(now - time) / kWindow_s) + device_seconds / kWindow_s;
    time = now;
  }
};

}  // namespace swarmsim::sim
