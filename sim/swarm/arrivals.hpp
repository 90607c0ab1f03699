#pragma once
// When each session (or pipeline request) of a workload arrives.
#include <vector>

#include "sim/rng.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// Arrival times (s) of the workload's sessions: all at start, a fixed interval, Poisson gaps
/// drawn from a stream split off `rng`, or the trace's times.
inline std::vector<double> draw_arrivals(const WorkloadSpec& w, Rng& rng) {
  Rng gaps = rng.split(0xA771u);
  std::vector<double> arrivals(static_cast<std::size_t>(w.sessions));
  double t = w.start_s;
  for (int k = 0; k < w.sessions; ++k) {
    switch (w.arrival) {
      case ArrivalProcess::AllAtStart: t = w.start_s; break;
      case ArrivalProcess::Fixed: t = w.start_s + k * w.interval_s; break;
      case ArrivalProcess::Poisson:
        if (k > 0) t += gaps.exponential(w.rate_per_s);
        break;
      case ArrivalProcess::Trace: t = w.trace[static_cast<std::size_t>(k)].at_s; break;
    }
    arrivals[static_cast<std::size_t>(k)] = t;
  }
  return arrivals;
}

}  // namespace swarmsim::sim
