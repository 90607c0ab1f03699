#pragma once
// Erasure-coded inference on the flow engine: the same members, clients, decode waits and
// recoveries as the SimGrid engine's run_coded (sim/engine/coded_simulation.cpp), with every
// message a flow on the FairShareNetwork and every actor a coroutine on one event queue. No SimGrid.
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim::flow {

/// Runs the coded inference of `sc` (sc.coded must be set) to its end or its time limit, reporting to `signals`.
RunReport run_flow_coded(const Scenario& sc, const RunOptions& options, SimSignals& signals);

}  // namespace swarmsim::sim::flow
