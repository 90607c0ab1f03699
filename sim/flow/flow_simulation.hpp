#pragma once
// The flow engine: plays a swarm without SimGrid (replayed failures, network changes,
// rebalancing, topology monitoring and the DHT included; graph models: flow_pipeline.hpp). Messages are flows on a FairShareNetwork
// with SimGrid's CM02/LV08 sharing, device work runs on ProcessorSharing hosts like SimGrid's CPU
// model, and servers and sessions are C++20 coroutines on one event queue, over the SwarmState
// and session plan both engines share. It emits the same signals and writes the same outputs as
// SwarmSimulation, which hands it scenarios with "simulation.engine": "flow" (checked by the loader).
#include <memory>

#include "gpu/shard_cost_model.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim::flow {

/// Runs `sc` (a transformer scenario) to its end or its
/// time limit, emitting `signals` and writing the outputs `options` asks for. Real execution is
/// not available on this engine (std::invalid_argument).
RunReport run_flow_engine(const Scenario& sc, std::shared_ptr<const gpu::ShardCostModel> cost, SimSignals& signals,
                          const RunOptions& options);

}  // namespace swarmsim::sim::flow
