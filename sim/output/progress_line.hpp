#pragma once
// The stderr progress line of a long run: simulated time, sessions done, hops.
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <unistd.h>

#include "sim/run_options.hpp"
#include "sim/units.hpp"

namespace swarmsim::sim {

/// Prints "simulated time, sessions done, hops" to stderr at most twice a second once a run has
/// lasted a second; a terminal gets one updating line, a pipe a line every five seconds.
class ProgressLine {
 public:
  /// `what` names the units of work: "sessions", or "requests" for a graph pipeline.
  ProgressLine(RunOptions::Progress mode, int sessions, const char* what = "sessions")
      : enabled_(mode != RunOptions::Progress::Never),
        tty_(::isatty(2) != 0),
        sessions_(sessions),
        what_(what),
        start_(std::chrono::steady_clock::now()) {}

  /// Call often (every event); it looks at the wall clock once every 1024 calls.
  void tick(double sim_time, int done, std::uint64_t hops) {
    if (!enabled_ || (++calls_ & 1023) != 0) return;
    const auto t = std::chrono::steady_clock::now();
    const double wall = std::chrono::duration<double>(t - start_).count();
    const double every = tty_ ? 0.5 : 5.0;
    if (wall < 1.0 || wall - last_ < every) return;
    last_ = wall;
    shown_ = true;
    std::fprintf(stderr, "%s[swarmsim] simulated %s | %s %d/%d done | %llu hops | %.1f s wall%s",
                 tty_ ? "\r" : "", format_duration(sim_time).c_str(), what_, done, sessions_,
                 static_cast<unsigned long long>(hops), wall, tty_ ? "   " : "\n");
  }
  /// Shows `what()` in place of the usual line (a phase before the simulation, such as
  /// partitioning), with the same pacing; `what` is only called when a line is due.
  template <class Text>
  void status(Text what) {
    if (!enabled_) return;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (wall < 1.0 || wall - last_ < (tty_ ? 0.5 : 5.0)) return;
    last_ = wall;
    shown_ = true;
    std::fprintf(stderr, "%s[swarmsim] %s | %.1f s wall%s", tty_ ? "\r" : "", what().c_str(), wall, tty_ ? "   " : "\n");
  }
  /// Ends the updating line.
  void finish() {
    if (shown_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_, tty_;
  int sessions_;
  const char* what_;
  std::chrono::steady_clock::time_point start_;
  std::uint64_t calls_ = 0;
  double last_ = 0.0;
  bool shown_ = false;
};

}  // namespace swarmsim::sim
