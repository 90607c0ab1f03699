#pragma once
// What the reports of request-based runs (graph pipelines, Fisher B-trees) share: latency
// percentiles, the steady request rate, and finishing a run's output files.
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// {"p50", "p90", "p99", "max"} of `latency_s` by nearest rank (all 0 when empty) (s).
nlohmann::json latency_percentiles(std::vector<double> latency_s);

/// Requests per second between the 10th and 90th percentile of the completion times (no fill
/// or drain); 0 with fewer than 10 completions. `completions` sorted (s).
double steady_rate(const std::vector<double>& completions);

/// Ends a run's report: records its times and hops, finishes trace.json (noting dropped spans
/// in the metrics) and events.jsonl, and writes metrics.json under options.out_dir.
void finish_run_report(RunReport& report, double sim_time_s, double wall_s, std::uint64_t hops, ChromeTraceWriter* trace,
                       EventLogWriter* log, const Scenario& sc, const RunOptions& options);

}  // namespace swarmsim::sim
