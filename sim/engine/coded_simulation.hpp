#pragma once
// Plays erasure-coded inference (seed 001, model.coded) out on SimGrid: each client sends every
// request's input to the N task models and the coded model, each an actor on its server that
// computes one request at a time and returns its output; a request completes once its client
// holds all N outputs, or N − 1 and the coded one (the missing output decoded). A server that
// goes down loses what it held; once back and loaded, it is sent again what is still unfinished.
// SwarmSimulation::run calls this for scenarios whose model is coded.
#include "sim/engine/swarm_simulation.hpp"

namespace swarmsim::sim {

/// Runs the coded inference of `sc` (sc.coded must be set). One SimGrid engine per process.
RunReport run_coded(const Scenario& sc, const RunOptions& options, SimSignals& signals);

}  // namespace swarmsim::sim
