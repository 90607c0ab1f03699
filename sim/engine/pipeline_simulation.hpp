#pragma once
// Plays a graph model's pipeline out on SimGrid: the client sends each request's input tensors
// to the stages holding the graph's inputs, every stage waits for all its inputs, computes, and
// ships its outputs to the later stages that consume them (eq. 8 volumes) and the graph outputs
// back to the client; up to workload.max_in_flight requests are in the pipeline at once.
// SwarmSimulation::run calls this for scenarios whose model is a graph.
#include "sim/engine/swarm_simulation.hpp"

namespace swarmsim::sim {

/// Runs the pipeline of `sc` (sc.graph must be set). One SimGrid engine per process.
RunReport run_pipeline(const Scenario& sc, const RunOptions& options, SimSignals& signals);

}  // namespace swarmsim::sim
