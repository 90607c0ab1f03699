#pragma once
// Random mutations of JSON documents for the fuzz tests (tests/sim/scenario_fuzz_test.cpp,
// tests/sim/input_fuzz_test.cpp, tests/gui/replay_fuzz_test.cpp): a value deleted, retyped,
// pushed to an extreme, scaled, given a wrong unit, or an array element duplicated. Deterministic
// for a given Rng.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/rng.hpp"

namespace swarmsim::testing {

/// Every value of `doc` with the JSON pointer that reaches it (the root excluded).
inline void collect_pointers(nlohmann::json& doc, const nlohmann::json::json_pointer& at,
                             std::vector<nlohmann::json::json_pointer>& out) {
  if (doc.is_object())
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      out.push_back(at / it.key());
      collect_pointers(it.value(), at / it.key(), out);
    }
  else if (doc.is_array())
    for (std::size_t i = 0; i < doc.size(); ++i) {
      out.push_back(at / i);
      collect_pointers(doc[i], at / i, out);
    }
}

/// Replacement values that test types, signs, extremes and units.
inline const std::vector<nlohmann::json>& mutation_values() {
  using nlohmann::json;
  static const std::vector<json> values{
      nullptr, true, "", "abc", 0, -1, 1e308, -1e308, 0.5, 1e-300, 9007199254740993LL, json::array(), json::object(),
      "5ms", "-3s", "0s", "100Mbps", "0Mbps", "1e400Mbps", "1e-30Mbps", "nanMbps", "inf", "1GiB", 65536, 100000000,
      2147483648LL, json::array({0, 1}), json::array({"x"}), json::object({{"start", 5}, {"end", 2}}),
  };
  return values;
}

/// Applies one random mutation to `doc` (an object or array with at least one value) and
/// describes it ("set /nodes/0/gpu = 0").
inline std::string mutate_json(nlohmann::json& doc, sim::Rng& rng) {
  using nlohmann::json;
  std::vector<json::json_pointer> paths;
  collect_pointers(doc, json::json_pointer(), paths);
  if (paths.empty()) return "keep (empty)";
  const json::json_pointer& p = paths[rng.below(paths.size())];
  const double u = rng.uniform();
  if (u < 0.2) {  // delete it
    json& parent = doc[p.parent_pointer()];
    if (parent.is_object())
      parent.erase(p.back());
    else
      parent.erase(static_cast<std::size_t>(std::stoul(p.back())));
    return "delete " + p.to_string();
  }
  if (u < 0.5 && (doc[p].is_number() || doc[p].is_string())) {  // a valid-looking value, scaled
    static const double factors[] = {0.0, 1e-3, 0.5, 2.0, 10.0, 1e3};
    const double f = factors[rng.below(6)];
    if (doc[p].is_number_integer()) {
      doc[p] = static_cast<long long>(static_cast<double>(doc[p].get<long long>()) * f);
    } else if (doc[p].is_number()) {
      doc[p] = doc[p].get<double>() * f;
    } else {  // "5ms" -> "0.005ms": scale the leading number, keep the unit
      const std::string v = doc[p].get<std::string>();
      std::size_t digits = 0;
      while (digits < v.size() && (std::isdigit(static_cast<unsigned char>(v[digits])) || v[digits] == '.')) ++digits;
      if (digits == 0 || digits == v.size() || !std::isdigit(static_cast<unsigned char>(v[0]))) return "keep " + p.to_string();
      doc[p] = std::to_string(std::stod(v.substr(0, digits)) * f) + v.substr(digits);
    }
    return "scale " + p.to_string() + " by " + std::to_string(f) + " to " + doc[p].dump();
  }
  if (u < 0.6 && doc[p].is_string()) {  // a wrong unit on a quantity
    doc[p] = doc[p].get<std::string>() + "x";
    return "append x to " + p.to_string();
  }
  if (u < 0.7 && doc[p.parent_pointer()].is_array()) {  // duplicate an element
    json& parent = doc[p.parent_pointer()];
    parent.push_back(parent[static_cast<std::size_t>(std::stoul(p.back()))]);
    return "duplicate " + p.to_string();
  }
  const json& v = mutation_values()[rng.below(mutation_values().size())];
  doc[p] = v;
  return "set " + p.to_string() + " = " + v.dump();
}

/// The fuzz tests' random stream: `by_default`, or mixed with SWARMSIM_FUZZ_SEED to hunt elsewhere.
inline sim::Rng fuzz_rng(std::uint64_t by_default) {
  const char* seed = std::getenv("SWARMSIM_FUZZ_SEED");
  return sim::Rng(seed ? std::strtoull(seed, nullptr, 10) * 0x9E3779B97F4A7C15ULL ^ by_default : by_default);
}

/// Mutants per input: `by_default` in CI, SWARMSIM_FUZZ_MUTANTS to hunt longer.
inline int fuzz_mutants(int by_default) {
  const char* n = std::getenv("SWARMSIM_FUZZ_MUTANTS");
  return n ? std::atoi(n) : by_default;
}

/// One mutation, and a second with probability 0.3: what the fuzz tests apply per mutant.
inline std::string mutate_json_once_or_twice(nlohmann::json& doc, sim::Rng& rng) {
  std::string what = mutate_json(doc, rng);
  if (rng.uniform() < 0.3) what += "; " + mutate_json(doc, rng);
  return what;
}

}  // namespace swarmsim::testing
