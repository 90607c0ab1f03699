#pragma once
// Loading and validating scenario files. Every problem is reported as a Diagnostic naming the
// file, the JSON path ("nodes[3].gpu") and what was expected; nothing is half-loaded.
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// One problem found in a scenario: where it is and what was expected.
struct Diagnostic {
  std::string file;     ///< the scenario file, or "--set" for a malformed override
  std::string path;     ///< JSON path such as "nodes[3].gpu"; "line L, column C" for syntax errors
  std::string message;  ///< what is wrong and what was expected
  /// "file: path: message"
  std::string str() const;
};

/// Thrown when a scenario cannot be loaded; holds every problem found (section by section).
class ScenarioError : public std::runtime_error {
 public:
  explicit ScenarioError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

/// A "--set path=value" override applied to the JSON document before validation; "path=null"
/// removes the key.
struct Override {
  std::string path;   ///< JSON path, e.g. "workload.batch_size" or "nodes[2].uplink"
  std::string value;  ///< parsed as JSON when it is valid JSON, else taken as a string
};

/// Parses "path=value" as given on the command line; throws ScenarioError when malformed.
Override parse_override(std::string_view text);

/// Reads, overrides and validates the scenario file at `path`. Throws ScenarioError.
Scenario load_scenario_file(const std::string& path, const std::vector<Override>& overrides = {});

/// Validates scenario JSON text; `file` is used in messages only. Throws ScenarioError.
Scenario load_scenario_text(const std::string& text, const std::string& file,
                            const std::vector<Override>& overrides = {});

/// Validates an already-parsed scenario document. Throws ScenarioError.
Scenario load_scenario_json(const nlohmann::json& doc, const std::string& file);

/// The keys each object of the format accepts, by object name ("scenario", "node", ...).
/// The loader rejects any other key; docs/scenario.schema.json must list the same ones.
const std::map<std::string, std::vector<std::string>>& scenario_object_keys();

}  // namespace swarmsim::sim
