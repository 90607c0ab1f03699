#pragma once
// Runs a scenario in a forked child process. SimGrid keeps global state (its clock and models
// survive an Engine's destruction), so a process that needs several runs, such as a test suite,
// a comparison of policies or a parameter search, runs each one in its own child.
#include "sim/engine/swarm_simulation.hpp"

namespace swarmsim::sim {

/// Runs `scenario` with the roofline cost model in a child process and returns its report.
/// Throws std::runtime_error with the child's message if the run failed.
RunReport run_isolated(const Scenario& scenario, const RunOptions& options);

}  // namespace swarmsim::sim
