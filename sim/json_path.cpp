#include "sim/json_path.hpp"

#include <nlohmann/json.hpp>

namespace swarmsim::sim {

std::vector<JsonPathStep> parse_json_path(const std::string& path, std::string& error) {
  std::vector<JsonPathStep> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      const std::size_t close = path.find(']', i);
      if (close == std::string::npos) {
        error = "unclosed '[' in \"" + path + "\"";
        return {};
      }
      const std::string num = path.substr(i + 1, close - i - 1);
      if (num.size() > 9) {
        error = "array index [" + num + "] in \"" + path + "\" is too large";
        return {};
      }
      if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) {
        error = "expected an array index in \"" + path + "\", got \"[" + num + "]\"";
        return {};
      }
      out.emplace_back(static_cast<std::size_t>(std::stoul(num)));
      i = close + 1;
      continue;
    }
    const std::size_t end = path.find_first_of(".[", i);
    out.emplace_back(path.substr(i, end == std::string::npos ? std::string::npos : end - i));
    i = end == std::string::npos ? path.size() : end;
  }
  if (out.empty()) error = "empty path";
  return out;
}

const nlohmann::json* find_json_path(const nlohmann::json& doc, const std::string& path) {
  std::string error;
  const std::vector<JsonPathStep> steps = parse_json_path(path, error);
  if (!error.empty()) return nullptr;
  const nlohmann::json* cur = &doc;
  for (const JsonPathStep& step : steps) {
    if (const auto* key = std::get_if<std::string>(&step)) {
      if (!cur->is_object() || !cur->contains(*key)) return nullptr;
      cur = &(*cur)[*key];
    } else {
      const std::size_t i = std::get<std::size_t>(step);
      if (!cur->is_array() || i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    }
  }
  return cur;
}

}  // namespace swarmsim::sim
