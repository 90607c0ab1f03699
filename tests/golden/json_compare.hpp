#pragma once
// Compares two JSON documents for golden tests: numbers within a relative tolerance (libm and
// compiler versions may move the last bits), everything else exactly, wall-clock keys ignored.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace swarmsim::testing {

/// Differences between `expected` and `actual`, one line each ("path: expected X, got Y").
/// Keys named in `ignored_keys` are skipped at any depth.
inline void json_diff(const nlohmann::json& expected, const nlohmann::json& actual, const std::string& path,
                      double rel_tol, const std::vector<std::string>& ignored_keys, std::vector<std::string>& out) {
  const auto where = path.empty() ? std::string("(root)") : path;
  if (expected.is_number() && actual.is_number()) {
    const double e = expected.get<double>(), a = actual.get<double>();
    const double scale = std::max({std::abs(e), std::abs(a), 1e-300});
    if (std::abs(e - a) > rel_tol * scale && std::abs(e - a) > 1e-12)
      out.push_back(where + ": expected " + expected.dump() + ", got " + actual.dump());
    return;
  }
  if (expected.type() != actual.type()) {
    out.push_back(where + ": expected " + expected.dump() + ", got " + actual.dump());
    return;
  }
  if (expected.is_object()) {
    for (const auto& [k, v] : expected.items()) {
      if (std::find(ignored_keys.begin(), ignored_keys.end(), k) != ignored_keys.end()) continue;
      if (!actual.contains(k))
        out.push_back(path + "." + k + ": missing in actual");
      else
        json_diff(v, actual[k], path.empty() ? k : path + "." + k, rel_tol, ignored_keys, out);
    }
    for (const auto& [k, v] : actual.items())
      if (!expected.contains(k) && std::find(ignored_keys.begin(), ignored_keys.end(), k) == ignored_keys.end())
        out.push_back((path.empty() ? k : path + "." + k) + ": not in expected (got " + v.dump() + ")");
    return;
  }
  if (expected.is_array()) {
    if (expected.size() != actual.size()) {
      out.push_back(where + ": expected " + std::to_string(expected.size()) + " entries, got " +
                    std::to_string(actual.size()));
      return;
    }
    for (std::size_t i = 0; i < expected.size(); ++i)
      json_diff(expected[i], actual[i], path + "[" + std::to_string(i) + "]", rel_tol, ignored_keys, out);
    return;
  }
  if (expected != actual) out.push_back(where + ": expected " + expected.dump() + ", got " + actual.dump());
}

}  // namespace swarmsim::testing
