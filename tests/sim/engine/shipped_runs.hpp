#pragma once
// What the engine tests share: shipped scenarios with overrides, and runs without a progress line.
#include <string>
#include <vector>

#include "sim/run_options.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::test {

/// scenarios/<rel> with `overrides` applied.
inline sim::Scenario shipped_scenario(const std::string& rel, const std::vector<sim::Override>& overrides = {}) {
  return sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + rel, overrides);
}

/// Run options without a progress line; `real` executes the kernels (--execute real).
inline sim::RunOptions quiet_options(bool real = false) {
  sim::RunOptions o;
  o.progress = sim::RunOptions::Progress::Never;
  o.execute_real = real;
  return o;
}

}  // namespace swarmsim::test
