#pragma once
// Dishonest servers in fine-tuning (seed 002, section 6.1: "adversarial participants may return
// random results or even malicious results"): which training steps went through a wrong forward
// output. Follows the forward legs each session's servers run; a step trains on the last leg that
// produced each range's output (a retried step re-runs the legs from the failed hop on), and a leg
// on a dishonest server is wrong when output_of draws it so at the leg's start. Pure: both engines
// signal the same legs.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "gpu/fine_tuning_proxy.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

class WrongForwards {
 public:
  /// `sc` is borrowed for the tracker's lifetime.
  explicit WrongForwards(const Scenario& sc) : sc_(sc) {}
  /// Follows the forward legs on `signals`.
  void connect(SimSignals& signals);
  /// One forward leg (ComputeSpan of what "forward"); others are ignored.
  void leg(const ComputeSpan& c);
  /// The wrong outputs session `session`'s step `step` trained on, in block order, each as the
  /// proxy's perturbation after the leg's last block (magnitude from the server's dishonest spec).
  std::vector<gpu::ActivationPerturbation> wrong(int session, int step) const;

 private:
  struct Leg {
    int host = 0;
    BlockRange blocks;
    double start = 0.0;
  };
  struct StepLegs {
    int step = -1;
    std::vector<Leg> legs;  ///< in the order they ran
  };
  const Scenario& sc_;
  std::unordered_map<int, StepLegs> sessions_;  ///< per session: its latest step's legs
};

}  // namespace swarmsim::sim
