#pragma once
// A Fisher B-tree on the flow engine: the same tree nodes, client, balancer and messages as the
// SimGrid engine's run_tree (sim/engine/tree_simulation.cpp), with every message a flow on the
// FairShareNetwork and every actor a coroutine on one event queue. No SimGrid.
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim::flow {

/// Runs the tree of `sc` (sc.tree must be set) to its end or its time limit, reporting to `signals`.
RunReport run_flow_tree(const Scenario& sc, const RunOptions& options, SimSignals& signals);

}  // namespace swarmsim::sim::flow
