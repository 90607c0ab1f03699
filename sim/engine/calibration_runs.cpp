#include "sim/engine/calibration_runs.hpp"

#include "sim/engine/parallel_runs.hpp"
#include "sim/json_path.hpp"

namespace swarmsim::sim {

calibration::Simulate parallel_simulator(const calibration::CalibrationSpec& spec, int max_parallel) {
  return [&spec, max_parallel](const std::vector<calibration::SimulationRequest>& requests) {
    std::vector<std::optional<double>> out(requests.size());
    std::vector<RunJob> jobs;
    std::vector<std::size_t> job_of;  // request index of each job
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const calibration::Measurement& m = spec.measurements[requests[i].measurement];
      try {
        RunJob job{load_scenario_file(m.scenario, requests[i].overrides), {}};
        if (requests[i].seed_offset != 0) {  // through the loader, so that what derives from the seed follows
          std::vector<Override> o = requests[i].overrides;
          o.push_back({"seed", std::to_string(job.scenario.seed + static_cast<std::uint64_t>(requests[i].seed_offset))});
          job.scenario = load_scenario_file(m.scenario, o);
        }
        job.options.progress = RunOptions::Progress::Never;
        jobs.push_back(std::move(job));
        job_of.push_back(i);
      } catch (const ScenarioError&) {
        // A parameter value the scenario format refuses: no value, the search moves away.
      }
    }
    const std::vector<RunOutcome> outcomes = run_parallel(jobs, max_parallel);
    for (std::size_t j = 0; j < outcomes.size(); ++j) {
      if (!outcomes[j].ok) continue;
      const std::size_t i = job_of[j];
      const nlohmann::json* v = find_json_path(outcomes[j].report.metrics, spec.measurements[requests[i].measurement].metric);
      if (v && v->is_number()) out[i] = v->get<double>();
    }
    return out;
  };
}

}  // namespace swarmsim::sim
