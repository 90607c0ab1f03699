#pragma once
// Dotted JSON paths ("nodes[2].uplink"): the syntax of error messages, --set overrides and --metric.
#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace swarmsim::sim {

/// One step of a path: an object key or an array index.
using JsonPathStep = std::variant<std::string, std::size_t>;

/// Splits "a.b[2].c" into steps; on a malformed path returns {} and sets `error`.
std::vector<JsonPathStep> parse_json_path(const std::string& path, std::string& error);

/// The value at `path` in `doc`, or nullptr when the path is malformed or leads nowhere.
const nlohmann::json* find_json_path(const nlohmann::json& doc, const std::string& path);

}  // namespace swarmsim::sim
