#pragma once
// A graph model's pipeline on the flow engine: the same stages, client and messages as the
// SimGrid engine's run_pipeline (sim/engine/pipeline_simulation.cpp), with every message a flow
// on the FairShareNetwork and every actor a coroutine on one event queue. No SimGrid.
#include "sim/run_options.hpp"
#include "sim/swarm/swarm_events.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim::flow {

/// Runs the pipeline of `sc` (sc.graph must be set) to its end or its time limit.
RunReport run_flow_pipeline(const Scenario& sc, const RunOptions& options);
/// The same, reporting to `signals` as it runs (see PipelineRun::signals).
RunReport run_flow_pipeline(const Scenario& sc, const RunOptions& options, SimSignals& signals);

}  // namespace swarmsim::sim::flow
