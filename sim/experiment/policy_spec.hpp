#pragma once
// The policies `swarmsim compare` runs side by side, written on the command line as specs:
//   NAME                          eq18, shortest_path or random: sets policy.router
//   NAME:key=value,key=value      a label and policy overrides, e.g.
//                                 tuned:router=eq18,gamma=1.4,beta=-0.6,alpha=-2,context=1
//   @FILE.json                    the policy a `swarmsim tune --out FILE.json` run found
// A key is a path inside the scenario's `policy` object ("gamma", "faults.retries"; a leading
// "policy." is accepted); its value is parsed like a `--set` value. Pure: no SimGrid, no runs.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::experiment {

/// A malformed policy spec; the message names the spec and what was expected.
class PolicySpecError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// One policy of a comparison: a label for tables and the scenario overrides that select it.
struct PolicyVariant {
  std::string label;                        ///< row name in tables, CSV and JSON
  std::string spec;                         ///< the spec as given ("@FILE.json" stays as written)
  std::vector<sim::Override> overrides;     ///< applied to every scenario, paths under "policy."
};

/// Parses one spec (NAME, NAME:key=value,..., or @FILE.json). Throws PolicySpecError.
PolicyVariant parse_policy_spec(std::string_view spec);

/// Parses a comma-separated list of specs, as `--policies` takes them: a piece "key=value" with
/// no ':' before its '=' continues the previous NAME:... spec, any other piece starts a new one.
/// Labels must be unique. Throws PolicySpecError.
std::vector<PolicyVariant> parse_policy_list(std::string_view list);

/// The spec string of eq. 18 with exponents (gamma, beta, alpha) under `label`, numbers written
/// so that they read back exactly: "LABEL:router=eq18,gamma=G,beta=B,alpha=A".
std::string eq18_policy_spec(std::string_view label, double gamma, double beta, double alpha);

/// Shortest decimal text of `x` that parses back to the same double (std::to_chars).
std::string exact_number(double x);

}  // namespace swarmsim::experiment
