#include "sim/output/request_report.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "sim/output/atomic_file.hpp"

namespace swarmsim::sim {

nlohmann::json latency_percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) {
    if (v.empty()) return 0.0;
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));  // nearest rank
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  return {{"p50", at(0.50)}, {"p90", at(0.90)}, {"p99", at(0.99)}, {"max", v.empty() ? 0.0 : v.back()}};
}

nlohmann::json request_phases_json(const WorkloadSpec& w, const std::vector<double>& arrival, const std::vector<double>& sent,
                                   const std::vector<double>& done) {
  std::vector<std::vector<double>> latency(w.phases.size()), response(w.phases.size());
  std::vector<int> arrived(w.phases.size(), 0);
  const PhaseClock clock(w);
  for (std::size_t r = 0; r < arrival.size(); ++r) {
    const int p = clock.phase_at(arrival[r]);
    if (p < 0) continue;
    const auto i = static_cast<std::size_t>(p);
    ++arrived[i];
    if (done[r] < 0) continue;
    latency[i].push_back(done[r] - sent[r]);
    response[i].push_back(done[r] - arrival[r]);
  }
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < w.phases.size(); ++i)
    out.push_back({{"phase", i},
                   {"rate_per_s", w.phases[i].rate_per_s},
                   {"duration_s", w.phases[i].duration_s},
                   {"requests_arrived", arrived[i]},
                   {"requests_completed", latency[i].size()},
                   {"latency_s", latency_percentiles(latency[i])},
                   {"response_s", latency_percentiles(response[i])}});
  return out;
}

double steady_rate(const std::vector<double>& completions) {
  if (completions.size() < 10) return 0;
  const std::size_t a = completions.size() / 10, b = completions.size() - 1 - completions.size() / 10;
  return completions[b] > completions[a] ? static_cast<double>(b - a) / (completions[b] - completions[a]) : 0.0;
}

RunWriters open_run_writers(const Scenario& sc, const RunOptions& options, SimSignals& signals, const nlohmann::json& run_start) {
  RunWriters w;
  if (options.out_dir.empty() || !(sc.outputs.trace || sc.outputs.events)) return w;
  std::filesystem::create_directories(options.out_dir);
  if (sc.outputs.trace) {
    w.trace = std::make_unique<ChromeTraceWriter>(sc, options.out_dir / "trace.json");
    w.trace->connect(signals);
  }
  if (sc.outputs.events) {
    w.log = std::make_unique<EventLogWriter>(sc, options.out_dir / "events.jsonl", run_start);
    w.log->connect(signals);
  }
  return w;
}

void finish_run_report(RunReport& report, double sim_time, double wall, std::uint64_t hops, ChromeTraceWriter* trace, EventLogWriter* log,
                       const Scenario& sc, const RunOptions& options) {
  report.simulated_time = sim_time;
  report.wall_seconds = wall;
  report.hops = hops;
  if (trace) {
    if (trace->dropped() > 0) report.metrics["trace_dropped_events"] = trace->dropped();
    trace->finish();
  }
  if (log) log->finish(sim_time);
  if (!options.out_dir.empty() && sc.outputs.metrics) {
    std::filesystem::create_directories(options.out_dir);
    write_file_atomically(options.out_dir / "metrics.json", report.metrics.dump(2) + "\n");
  }
}

}  // namespace swarmsim::sim
