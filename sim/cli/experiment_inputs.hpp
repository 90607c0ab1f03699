#pragma once
// What `swarmsim compare` and `swarmsim tune` share: reading the scenario files and the --set
// overrides every run starts from, with errors that name the command, the file and the problem.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/experiment/run_limit.hpp"
#include "sim/experiment/scenario_variant.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::cli {

/// Bad input to an experiment command (exit code 2); the message is ready to print.
class ExperimentInputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses "path=value" texts; throws ExperimentInputError naming `command` and the --set.
inline std::vector<sim::Override> parse_overrides(const std::string& command, const std::vector<std::string>& texts) {
  std::vector<sim::Override> out;
  for (const std::string& t : texts) {
    try {
      out.push_back(sim::parse_override(t));
    } catch (const sim::ScenarioError& e) {
      throw ExperimentInputError("swarmsim " + command + ": " + e.what());
    }
  }
  return out;
}

/// Parses the --limit texts ("METRIC=BOUND"); throws ExperimentInputError naming `command`.
inline std::vector<experiment::RunLimit> parse_limits(const std::string& command, const std::vector<std::string>& texts) {
  std::vector<experiment::RunLimit> out;
  for (const std::string& t : texts) {
    try {
      out.push_back(experiment::parse_run_limit(t));
    } catch (const std::invalid_argument& e) {
      throw ExperimentInputError("swarmsim " + command + ": --limit " + e.what());
    }
  }
  return out;
}

/// The variants --variant and --vary ask for, combined (experiment::combine_variants); one
/// unlabelled variant without overrides when there are none. Throws ExperimentInputError naming
/// `command`.
inline std::vector<experiment::ScenarioVariant> parse_variants(const std::string& command, const std::vector<std::string>& variants,
                                                              const std::vector<std::string>& sweeps) {
  std::vector<experiment::ScenarioVariant> out;
  try {
    std::vector<std::vector<experiment::ScenarioVariant>> lists;
    if (!variants.empty()) {
      lists.emplace_back();
      for (const std::string& v : variants) lists.back().push_back(experiment::parse_variant_spec(v));
    }
    for (const std::string& v : sweeps) lists.push_back(experiment::parse_sweep(v));
    out = experiment::combine_variants(lists);
  } catch (const experiment::VariantSpecError& e) {
    throw ExperimentInputError("swarmsim " + command + ": " + e.what());
  }
  if (out.empty()) out.push_back({});  // every scenario as given
  return out;
}

/// Loads `file` with `overrides`. `context` says what the overrides are for, e.g. "policy tuned"
/// (may be empty). Throws ExperimentInputError holding every diagnostic.
inline sim::Scenario load_experiment_scenario(const std::string& file, const std::vector<sim::Override>& overrides,
                                              const std::string& context = "") {
  sim::Scenario sc;
  try {
    sc = sim::load_scenario_file(file, overrides);
  } catch (const sim::ScenarioError& e) {
    throw ExperimentInputError(std::string(e.what()) + "\n" + file + ": " + std::to_string(e.diagnostics().size()) +
                               (e.diagnostics().size() == 1 ? " problem" : " problems") +
                               (context.empty() ? "" : " with " + context));
  }
  return sc;
}

/// load_experiment_scenario, checking that routing policies apply to it (a transformer, not a
/// graph model, a Fisher B-tree or erasure-coded inference).
inline sim::Scenario load_routed_scenario(const std::string& command, const std::string& file,
                                          const std::vector<sim::Override>& overrides, const std::string& context = "") {
  sim::Scenario sc = load_experiment_scenario(file, overrides, context);
  if (sc.tree)
    throw ExperimentInputError("swarmsim " + command + ": " + file +
                               " serves a Fisher B-tree, which routes by its own rules (model.tree); expected a transformer "
                               "scenario (model.name)");
  if (sc.coded)
    throw ExperimentInputError("swarmsim " + command + ": " + file +
                               " serves erasure-coded inference (model.coded), which sends every request to every model and has no "
                               "routing policy; expected a transformer scenario (model.name)");
  if (sc.graph)
    throw ExperimentInputError("swarmsim " + command + ": " + file +
                               " serves a graph model as a pipeline, which has no routing policy; expected a transformer "
                               "scenario (model.name)");
  return sc;
}

}  // namespace swarmsim::cli
