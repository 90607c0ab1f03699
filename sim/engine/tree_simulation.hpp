#pragma once
// Plays a Fisher B-tree network (seed 000, model.tree) out on SimGrid: clients send each
// request's input to the root; every tree node, an actor on its server, looks at the input,
// answers the client when confident (or when it is a leaf) and otherwise forwards the hidden
// state to the child its router picks; every balance period the tree splits and merges nodes,
// and a split's new nodes serve once their servers have loaded their parameters.
// SwarmSimulation::run calls this for scenarios whose model is a tree.
#include "sim/engine/swarm_simulation.hpp"

namespace swarmsim::sim {

/// Runs the tree of `sc` (sc.tree must be set). One SimGrid engine per process. The flow engine's
/// twin is flow::run_flow_tree (sim/flow/flow_tree.hpp).
RunReport run_tree(const Scenario& sc, const RunOptions& options, SimSignals& signals);

}  // namespace swarmsim::sim
