// swarmsim_golden: runs a shipped scenario and compares its metrics.json with the golden copy.
//   swarmsim_golden check SCENARIO GOLDEN   exit 0 when equal (wall_clock ignored), 1 otherwise
//   swarmsim_golden update SCENARIO GOLDEN  writes GOLDEN (review the diff before committing)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "gpu/shard_cost_model.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/golden/json_compare.hpp"

int main(int argc, char** argv) {
  if (argc != 4 || (std::string(argv[1]) != "check" && std::string(argv[1]) != "update")) {
    std::fprintf(stderr, "usage: swarmsim_golden check|update SCENARIO GOLDEN\n");
    return 2;
  }
  const std::string mode = argv[1], scenario_path = argv[2], golden_path = argv[3];
  nlohmann::json metrics;
  try {
    swarmsim::sim::Scenario sc = swarmsim::sim::load_scenario_file(scenario_path);
    swarmsim::sim::SwarmSimulation sim(sc, swarmsim::sim::make_cost_model(sc));
    swarmsim::sim::RunOptions opts;
    opts.progress = swarmsim::sim::RunOptions::Progress::Never;
    metrics = sim.run(opts).metrics;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", scenario_path.c_str(), e.what());
    return 1;
  }
  metrics.erase("wall_clock");
  if (mode == "update") {
    std::filesystem::create_directories(std::filesystem::path(golden_path).parent_path());
    swarmsim::sim::write_file_atomically(golden_path, metrics.dump(2) + "\n");
    std::printf("wrote %s\n", golden_path.c_str());
    return 0;
  }
  std::ifstream in(golden_path);
  if (!in) {
    std::fprintf(stderr, "%s: no golden file; create it with scripts/update_golden.sh and review it\n",
                 golden_path.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const nlohmann::json golden = nlohmann::json::parse(ss.str());
  std::vector<std::string> diffs;
  swarmsim::testing::json_diff(golden, metrics, "", 1e-9, {"wall_clock"}, diffs);
  if (diffs.empty()) {
    std::printf("%s matches %s\n", scenario_path.c_str(), golden_path.c_str());
    return 0;
  }
  std::fprintf(stderr, "%s differs from %s in %zu places:\n", scenario_path.c_str(), golden_path.c_str(), diffs.size());
  for (std::size_t i = 0; i < diffs.size() && i < 40; ++i) std::fprintf(stderr, "  %s\n", diffs[i].c_str());
  return 1;
}
