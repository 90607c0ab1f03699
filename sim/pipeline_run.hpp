#pragma once
// What a graph model's pipeline run records, and the report made from it, for either engine: the
// engines (sim/engine/pipeline_simulation.cpp on SimGrid, sim/flow/flow_pipeline.cpp) only decide
// when things happen. Pure: no SimGrid.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/pipeline_plan.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// Per-stage tallies of a run.
struct StageRun {
  double busy_s = 0;
  int requests = 0;
  double bytes_in = 0, bytes_out = 0;
  double max_queue_wait_s = 0;  ///< longest wait from a request's first input to its start (s)
};

/// The state of a pipeline run: the plan, the requests' times and the tallies.
struct PipelineRun {
  const Scenario& sc;
  PipelinePlan plan;
  double plan_wall_s = 0;     ///< wall time the partitioner and placement took
  int requests = 0;
  int outputs_expected = 0;   ///< stages that return graph outputs to the client
  std::vector<double> arrival, sent, done;  ///< per request (s); -1 until it happens
  std::vector<StageRun> stage;
  double bytes_moved = 0;
  std::uint64_t messages = 0;
  std::vector<std::string> event_lines;
  bool keep_events = false;

  /// Plans the pipeline of `sc` (sc.graph must be set) and draws the arrivals.
  PipelineRun(const Scenario& sc, const RunOptions& options);

  /// Time the sending or receiving end spends on one message: the RPC cost and (de)serialization (s).
  double endpoint_s(double bytes) const { return sc.overheads.rpc_s + bytes / sc.overheads.serialization_Bps; }
  /// Bytes one request brings to stage s: from the client and from earlier stages.
  double in_bytes_per_request(int s) const;
  /// Whether the client sends stage s an input (a graph input, or a source stage with none).
  bool has_source(int s) const;
  /// Whether stage s returns something to the client (graph outputs, or it is a sink).
  bool returns_to_client(int s) const;
  /// Records an event of the events log at time t.
  void event(double t, const char* type, int stage_index, int request);
};

/// metrics.json of a finished run (wall: the simulation's wall time), written under options.out_dir.
RunReport pipeline_report(const PipelineRun& run, double wall_s, const RunOptions& options);

}  // namespace swarmsim::sim
