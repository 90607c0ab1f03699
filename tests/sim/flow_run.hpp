#pragma once
// A scenario played on the flow engine in-process (no SimGrid, so a test may run several), with no
// progress line and no trace or event log: what the unit tests that need a whole run share.
#include "sim/flow/flow_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::test {

/// Runs `sc` on the flow engine; `signals` may carry the test's own observers.
inline sim::RunReport flow_run(sim::Scenario sc, sim::SimSignals& signals) {
  sc.engine = sim::EngineKind::Flow;
  sc.outputs.trace = sc.outputs.events = false;
  sim::RunOptions quiet;
  quiet.progress = sim::RunOptions::Progress::Never;
  return sim::flow::run_flow_engine(sc, sim::make_cost_model(sc), signals, quiet);
}

/// The same without observers.
inline sim::RunReport flow_run(const sim::Scenario& sc) {
  sim::SimSignals signals;
  return flow_run(sc, signals);
}

}  // namespace swarmsim::test
