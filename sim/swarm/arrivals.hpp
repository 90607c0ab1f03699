#pragma once
// When each session (or pipeline request) of a workload arrives.
#include <vector>

#include "sim/rng.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// The first arrival after t of Poisson arrivals whose rate changes with the phases (piecewise
/// constant): a gap drawn at the phase's rate that crosses the phase's end is dropped and drawing
/// starts again at the end, at the next phase's rate (the exponential forgets its past, so this
/// is the non-homogeneous Poisson process exactly). `phase` and `phase_end` carry the phase in
/// effect and its end from one call to the next; phase = -1 before the first call.
inline double next_phased_arrival(const WorkloadSpec& w, double t, Rng& gaps, int& phase, double& phase_end) {
  const int n = static_cast<int>(w.phases.size());
  if (phase < 0) {
    phase = 0;
    phase_end = w.start_s + w.phases[0].duration_s;
  }
  for (;;) {
    const double rate = w.phases[static_cast<std::size_t>(phase)].rate_per_s;
    if (rate > 0) {
      const double next = t + gaps.exponential(rate);
      if (next < phase_end) return next;
    }
    t = phase_end;
    phase = (phase + 1) % n;
    phase_end = t + w.phases[static_cast<std::size_t>(phase)].duration_s;
  }
}

/// Arrival times (s) of the workload's sessions: all at start, a fixed interval, Poisson gaps
/// drawn from a stream split off `rng`, the trace's times, or Poisson arrivals through the phases.
inline std::vector<double> draw_arrivals(const WorkloadSpec& w, Rng& rng) {
  Rng gaps = rng.split(0xA771u);
  std::vector<double> arrivals(static_cast<std::size_t>(w.sessions));
  double t = w.start_s;
  int phase = -1;
  double phase_end = 0.0;
  for (int k = 0; k < w.sessions; ++k) {
    switch (w.arrival) {
      case ArrivalProcess::AllAtStart: t = w.start_s; break;
      case ArrivalProcess::Fixed: t = w.start_s + k * w.interval_s; break;
      case ArrivalProcess::Poisson:
        if (k > 0) t += gaps.exponential(w.rate_per_s);
        break;
      case ArrivalProcess::Trace: t = w.trace[static_cast<std::size_t>(k)].at_s; break;
      case ArrivalProcess::Phases: t = next_phased_arrival(w, k == 0 ? w.start_s : t, gaps, phase, phase_end); break;
    }
    arrivals[static_cast<std::size_t>(k)] = t;
  }
  return arrivals;
}

}  // namespace swarmsim::sim
