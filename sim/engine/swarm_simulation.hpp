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
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

/// How a run reports progress and where it writes its outputs.
struct RunOptions {
  std::filesystem::path out_dir;  ///< metrics.json, trace.json, events.jsonl go here; empty = write nothing
  enum class Progress { Auto, Always, Never } progress = Progress::Auto;  ///< the stderr progress line
  int verbosity = 0;              ///< 1: log swarm events, 2: also every step, to stderr
  bool execute_real = false;      ///< run the real kernels on real hidden states (see real_execution.hpp)
  std::string backend = "cpu";    ///< backend of the real kernels
};

/// What a run produced.
struct RunReport {
  nlohmann::json metrics;        ///< the metrics.json document
  double simulated_time = 0.0;   ///< seconds of simulated time
  double wall_seconds = 0.0;     ///< wall-clock seconds of the SimGrid run
  std::uint64_t hops = 0;        ///< hidden-state messages simulated
};

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
