#pragma once
// The variants of its scenarios that `swarmsim compare` runs besides its policies: what-if changes
// to the swarm, the network or the workload, written on the command line as
//   --variant NAME                         the scenario as given, labelled NAME
//   --variant NAME:path=value,path=value   a label and scenario overrides (any --set path), e.g.
//                                          slow:nodes[0].uplink=100Mbps,nodes[1].uplink=100Mbps
//   --vary PATH=V1,V2,...                  a sweep: one variant per value, labelled "PATH=V"
// Several --vary (and the --variant list) combine into every combination. A comma inside (), [],
// {} or a quoted string belongs to its value, so JSON values need no escaping. Pure: no runs.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::experiment {

/// A malformed --variant or --vary; the message names it and what was expected.
class VariantSpecError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// One variant of a comparison's scenarios.
struct ScenarioVariant {
  std::string label;                     ///< shown after the scenario's name: "table2 [slow]"
  std::vector<sim::Override> overrides;  ///< applied after --set and before the policy's overrides
};

/// Parses one --variant: NAME or NAME:path=value,... Throws VariantSpecError.
ScenarioVariant parse_variant_spec(std::string_view spec);

/// Parses one --vary, PATH=V1,V2,...: one variant per value (at least two), labelled "PATH=V".
/// Throws VariantSpecError.
std::vector<ScenarioVariant> parse_sweep(std::string_view text);

/// Every combination of one variant from each list, the first list varying slowest: labels joined
/// by ", ", overrides in list order. No lists: none. Throws VariantSpecError when two combinations
/// share a label, or when one sets the same path twice.
std::vector<ScenarioVariant> combine_variants(const std::vector<std::vector<ScenarioVariant>>& lists);

/// `text` cut at every `sep` that is not inside (), [], {} or a double-quoted string (with \"
/// escapes); pieces are trimmed of spaces.
std::vector<std::string> split_top_level(std::string_view text, char sep);

}  // namespace swarmsim::experiment
