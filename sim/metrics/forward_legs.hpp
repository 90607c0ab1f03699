#pragma once
// The forward legs of each fine-tuning session's latest training step, as the engines signal them,
// and what the loss proxy must do to the step's hidden states because of them:
// - dishonest servers (seed 002, section 6.1: "adversarial participants may return random results
//   or even malicious results"): a step trains on the last leg that produced each range's output (a
//   retried step re-runs the legs from the failed hop on), and a leg on a dishonest server is wrong
//   when output_of draws it so at the leg's start;
// - compression (seed 002, section 4): the hidden states enter each used leg, and the client's
//   loss, through the wire's 8-bit quantizer.
// Pure: both engines signal the same legs.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "gpu/fine_tuning_proxy.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

class ForwardLegs {
 public:
  /// `sc` is borrowed for the tracker's lifetime.
  explicit ForwardLegs(const Scenario& sc) : sc_(sc) {}
  /// Follows the forward legs on `signals`.
  void connect(SimSignals& signals);
  /// One forward leg (ComputeSpan of what "forward"); others are ignored.
  void leg(const ComputeSpan& c);
  /// The wrong outputs session `session`'s step `step` trained on, in block order, each as the
  /// proxy's perturbation after the leg's last block (magnitude from the server's dishonest spec).
  std::vector<gpu::ActivationPerturbation> wrong(int session, int step) const;
  /// The blocks whose input reached session `session`'s step `step` as a message (the first block
  /// of each leg whose output the step used), then the model's depth (the last leg's output, sent
  /// to the client's loss), ascending; empty if the step ran no forward leg.
  std::vector<int> arrivals(int session, int step) const;

 private:
  struct Leg {
    int host = 0;
    BlockRange blocks;
    double start = 0.0;
  };
  /// The legs of session's step `step` whose output the step used, in block order.
  std::vector<Leg> used(int session, int step) const;
  struct StepLegs {
    int step = -1;
    std::vector<Leg> legs;  ///< in the order they ran
  };
  const Scenario& sc_;
  std::unordered_map<int, StepLegs> sessions_;  ///< per session: its latest step's legs
};

}  // namespace swarmsim::sim
