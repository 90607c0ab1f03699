#pragma once
// Plays a scenario out on SimGrid: servers join and load their blocks, clients route sessions
// through chains of servers, hidden states cross the simulated network, blocks execute on the
// simulated devices, and replayed events change the network and take nodes down and up.
//
// SimGrid keeps global state: one SwarmSimulation may run per process (see isolated_run.hpp to
// run several).
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "gpu/shard_cost_model.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

class SwarmSimulation {
 public:
  /// `scenario` is copied; `cost` prices the shard work.
  SwarmSimulation(Scenario scenario, std::shared_ptr<const gpu::ShardCostModel> cost);
  ~SwarmSimulation();
  SwarmSimulation(const SwarmSimulation&) = delete;
  SwarmSimulation& operator=(const SwarmSimulation&) = delete;

  /// Observer signals; connect before run(). Slots run on the simulation thread, in simulated-time order.
  SimSignals& signals();
  /// Runs the scenario to its end (or its time limit). Blocks in wall time. Call once.
  RunReport run(const RunOptions& options);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace swarmsim::sim
