#pragma once
// What the reports of request-based runs (graph pipelines, Fisher B-trees) share: latency
// percentiles, the steady request rate, and finishing a run's output files.
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// {"p50", "p90", "p99", "max"} of `latency_s` by nearest rank (all 0 when empty) (s).
nlohmann::json latency_percentiles(std::vector<double> latency_s);

/// workload.arrival "phases" of a request-based run: per phase (`phase`, `rate_per_s`,
/// `duration_s`), the requests that arrived in it over every cycle, those answered, their
/// `latency_s` from first sending (`sent`) and `response_s` from arrival (window waits included).
/// Per request times (s), -1 for a request not sent or not answered.
nlohmann::json request_phases_json(const WorkloadSpec& w, const std::vector<double>& arrival, const std::vector<double>& sent,
                                   const std::vector<double>& done);

/// Requests per second between the 10th and 90th percentile of the completion times (no fill
/// or drain); 0 with fewer than 10 completions. `completions` sorted (s).
double steady_rate(const std::vector<double>& completions);

/// A request-based run's trace.json and events.jsonl writers under options.out_dir, connected to
/// `signals`; each is null when the run writes no outputs or the scenario turns that file off.
struct RunWriters {
  std::unique_ptr<ChromeTraceWriter> trace;
  std::unique_ptr<EventLogWriter> log;  ///< opened with `run_start` as its first line
};
RunWriters open_run_writers(const Scenario& sc, const RunOptions& options, SimSignals& signals, const nlohmann::json& run_start);

/// Ends a run's report: records its times and hops, finishes trace.json (noting dropped spans
/// in the metrics) and events.jsonl, and writes metrics.json under options.out_dir.
void finish_run_report(RunReport& report, double sim_time_s, double wall_s, std::uint64_t hops, ChromeTraceWriter* trace,
                       EventLogWriter* log, const Scenario& sc, const RunOptions& options);

}  // namespace swarmsim::sim
