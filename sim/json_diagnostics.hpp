#pragma once
// The small texts every validating loader needs (scenario files, model graph files): "did you
// mean" suggestions, quoted lists, JSON type names, JSON paths and line/column of a byte offset.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace swarmsim::sim {

/// Case-insensitive Levenshtein distance.
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The candidate close enough to `word` to be a typo of it (distance <= max(2, |word|/3)), or "".
std::string closest_candidate(std::string_view word, const std::vector<std::string>& candidates);
/// " (did you mean "x"?)" when a candidate is close to `word`, else "".
std::string suggestion(std::string_view word, const std::vector<std::string>& candidates);
/// "a", "b", "c" (each quoted).
std::string quoted_list(const std::vector<std::string>& items);
/// "an object", "the number 5", "the string "x"", ... for messages.
std::string type_name(const nlohmann::json& j);
/// "path.key" (or "key" at the root).
std::string child(const std::string& path, std::string_view key);
/// "path[i]".
std::string at_index(const std::string& path, std::size_t i);
/// 1-based line and column of byte `byte` of `text`.
std::pair<int, int> line_column(const std::string& text, std::size_t byte);

/// One problem found while parsing JSON text: where ("nodes[2].uplink", or "line L, column C"
/// for a syntax error) and what.
struct JsonProblem {
  std::string path;
  std::string message;
};

/// Parses `text`, reporting duplicate keys (which plain parsing silently overwrites) at their
/// JSON path, and a syntax error at its line and column. Returns the document unless there was a
/// syntax error; `problems` gets every problem found.
std::optional<nlohmann::json> parse_json_strict(const std::string& text, std::vector<JsonProblem>& problems);

}  // namespace swarmsim::sim
