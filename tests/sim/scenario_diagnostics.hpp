#pragma once
// What the loader says about a shipped scenario with overrides, as lines the tests search.
#include <string>
#include <vector>

#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::test {

/// "path: message" of every diagnostic the overrides cause on scenarios/<rel> (empty when it loads).
inline std::vector<std::string> scenario_errors(const std::string& rel, std::vector<sim::Override> overrides) {
  try {
    sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + rel, overrides);
  } catch (const sim::ScenarioError& e) {
    std::vector<std::string> out;
    for (const sim::Diagnostic& d : e.diagnostics()) out.push_back(d.path + ": " + d.message);
    return out;
  }
  return {};
}

/// Whether one of `errs` contains `needle`.
inline bool has_error(const std::vector<std::string>& errs, const std::string& needle) {
  for (const std::string& e : errs)
    if (e.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace swarmsim::test
