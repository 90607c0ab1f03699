#pragma once
// How a run is asked for and what it gives back, whichever engine plays the scenario.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

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
  double wall_seconds = 0.0;     ///< wall-clock seconds of the simulation itself
  std::uint64_t hops = 0;        ///< hidden-state messages simulated
};

}  // namespace swarmsim::sim
