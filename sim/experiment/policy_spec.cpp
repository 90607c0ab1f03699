#include "sim/experiment/policy_spec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/experiment/spec_text.hpp"
#include "sim/json_diagnostics.hpp"

namespace swarmsim::experiment {
namespace {

constexpr std::array<std::string_view, 3> kRouters{"eq18", "shortest_path", "random"};

/// " (did you mean "x"?)" when a candidate is close to `word` (sim/json_diagnostics.hpp), else "".
template <class Range>
std::string suggestion(std::string_view word, const Range& candidates) {
  return sim::suggestion(word, std::vector<std::string>(candidates.begin(), candidates.end()));
}

bool is_router(std::string_view name) { return std::find(kRouters.begin(), kRouters.end(), name) != kRouters.end(); }

/// "key=value" of a NAME:... spec as a scenario override under "policy.".
sim::Override policy_override(std::string_view spec, std::string_view item) {
  item = trim_blanks(item);
  const std::size_t eq = item.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw PolicySpecError("policy spec " + in_quotes(spec) + ": " + in_quotes(item) +
                          " is not key=value; expected e.g. gamma=1.5 or router=shortest_path");
  std::string key(trim_blanks(item.substr(0, eq)));
  if (key.rfind("policy.", 0) == 0) key.erase(0, 7);
  const std::string value(trim_blanks(item.substr(eq + 1)));
  if (value.empty()) throw PolicySpecError("policy spec " + in_quotes(spec) + ": " + in_quotes(key) + " has no value");
  // A Fisher B-tree's rules (split, merge, thresholds), a coded run's coding (parity, method) and a
  // fine-tuning run's adapters, checkpoints and averaging are their policies.
  if (key.rfind("model.tree.", 0) == 0 || key.rfind("model.coded.", 0) == 0 || key.rfind("workload.fine_tuning.", 0) == 0) {
    try {
      return sim::parse_override(key + "=" + value);
    } catch (const sim::ScenarioError& e) {
      throw PolicySpecError("policy spec " + in_quotes(spec) + ": " + e.what());
    }
  }
  const std::size_t end = key.find_first_of(".[");
  const std::string top = key.substr(0, end);
  const std::vector<std::string>& allowed = sim::scenario_object_keys().at("policy");
  if (std::find(allowed.begin(), allowed.end(), top) == allowed.end()) {
    std::string list;
    for (const std::string& k : allowed) list += (list.empty() ? "" : ", ") + in_quotes(k);
    throw PolicySpecError("policy spec " + in_quotes(spec) + ": unknown policy key " + in_quotes(top) + suggestion(top, allowed) +
                          "; policy keys are " + list +
                              ", a Fisher B-tree's model.tree.* keys, coded inference's model.coded.* keys, and fine-tuning's "
                              "workload.fine_tuning.* keys");
  }
  if (key == "router" && !is_router(value))
    throw PolicySpecError("policy spec " + in_quotes(spec) + ": unknown router " + in_quotes(value) + suggestion(value, kRouters) +
                          "; expected \"eq18\", \"shortest_path\" or \"random\"");
  try {
    return sim::parse_override("policy." + key + "=" + value);
  } catch (const sim::ScenarioError& e) {
    throw PolicySpecError("policy spec " + in_quotes(spec) + ": " + e.what());
  }
}

/// The policy a `swarmsim tune --out` file holds; its label is the file's stem.
PolicyVariant policy_from_file(std::string_view spec) {
  const std::filesystem::path path(std::string(spec.substr(1)));
  if (path.empty()) throw PolicySpecError("policy spec \"@\": expected @FILE.json, the output of swarmsim tune --out");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw PolicySpecError("policy spec " + in_quotes(spec) + ": cannot read " + path.string() +
                          "; expected the JSON file written by swarmsim tune --out");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw PolicySpecError(path.string() + ": JSON syntax error: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("policy") || !doc["policy"].is_string())
    throw PolicySpecError(path.string() +
                          ": policy: missing; expected a string such as \"tuned:router=eq18,gamma=1.4,beta=-0.6,alpha=-2\" "
                          "(the file swarmsim tune --out writes)");
  const std::string inner = doc["policy"].get<std::string>();
  if (!inner.empty() && inner.front() == '@')
    throw PolicySpecError(path.string() + ": policy: " + in_quotes(inner) + " refers to another file; expected NAME:key=value,...");
  PolicyVariant v;
  try {
    v = parse_policy_spec(inner);
  } catch (const PolicySpecError& e) {
    throw PolicySpecError(path.string() + ": policy: " + e.what());
  }
  v.label = path.stem().string();
  if (!valid_label(v.label))
    throw PolicySpecError("policy spec " + in_quotes(spec) + ": the file name " + in_quotes(v.label) +
                          " is not a usable label; expected letters, digits, '_', '-', '.' or '+'");
  v.spec = std::string(spec);
  return v;
}

}  // namespace

PolicyVariant parse_policy_spec(std::string_view spec) {
  spec = trim_blanks(spec);
  if (spec.empty())
    throw PolicySpecError("empty policy spec; expected eq18, shortest_path, random, NAME:key=value,... or @FILE.json");
  if (spec.front() == '@') return policy_from_file(spec);
  PolicyVariant v;
  v.spec = std::string(spec);
  const std::size_t colon = spec.find(':');
  const std::string_view name = trim_blanks(spec.substr(0, colon));
  if (!valid_label(name))
    throw PolicySpecError("policy spec " + in_quotes(spec) + ": " + in_quotes(name) +
                          " is not a usable name; expected letters, digits, '_', '-', '.' or '+'");
  v.label = std::string(name);
  if (colon == std::string_view::npos) {
    if (!is_router(name))
      throw PolicySpecError("unknown policy " + in_quotes(spec) + suggestion(name, kRouters) +
                            "; expected eq18, shortest_path, random, NAME:key=value,... (e.g. "
                            "tuned:router=eq18,gamma=1.4) or @FILE.json");
    v.overrides.push_back({"policy.router", std::string(name)});
    return v;
  }
  const std::string_view items = spec.substr(colon + 1);
  if (trim_blanks(items).empty())
    throw PolicySpecError("policy spec " + in_quotes(spec) + ": nothing after ':'; expected key=value,... such as gamma=1.5");
  std::size_t start = 0;
  while (start <= items.size()) {
    const std::size_t comma = items.find(',', start);
    const std::string_view item = items.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    sim::Override o = policy_override(spec, item);
    for (const sim::Override& earlier : v.overrides)
      if (earlier.path == o.path)
        throw PolicySpecError("policy spec " + in_quotes(spec) + ": sets " + o.path + " twice (" + in_quotes(earlier.value) + ", then " +
                              in_quotes(o.value) + "); each key once per policy" +
                              (spec.find(';') != std::string_view::npos ? "; separate policies with commas, not ';': NAME1:key=value,NAME2:key=value" : ""));
    v.overrides.push_back(std::move(o));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return v;
}

std::vector<PolicyVariant> parse_policy_list(std::string_view list) {
  // Group the comma-separated pieces into specs, then parse each.
  std::vector<std::string> specs;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = list.find(',', start);
    const std::string_view piece = trim_blanks(list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    const std::size_t eq = piece.find('=');
    const bool continues = eq != std::string_view::npos && piece.substr(0, eq).find(':') == std::string_view::npos &&
                           piece.front() != '@';
    if (continues) {
      if (specs.empty() || specs.back().empty() || specs.back().front() == '@' || specs.back().find(':') == std::string::npos)
        throw PolicySpecError("policy list " + in_quotes(list) + ": " + in_quotes(piece) +
                              " has no policy to belong to; write it after NAME:, e.g. tuned:router=eq18," + std::string(piece));
      specs.back() += "," + std::string(piece);
    } else {
      specs.emplace_back(piece);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::vector<PolicyVariant> out;
  std::set<std::string> labels;
  for (const std::string& s : specs) {
    out.push_back(parse_policy_spec(s));
    if (!labels.insert(out.back().label).second)
      throw PolicySpecError("policy list " + in_quotes(list) + ": the label " + in_quotes(out.back().label) +
                            " appears twice; give each policy its own NAME (e.g. NAME:router=eq18,...)");
  }
  return out;
}

std::string exact_number(double x) {
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), x);
  return std::string(buf.data(), res.ptr);
}

std::string eq18_policy_spec(std::string_view label, double gamma, double beta, double alpha) {
  return std::string(label) + ":router=eq18,gamma=" + exact_number(gamma) + ",beta=" + exact_number(beta) +
         ",alpha=" + exact_number(alpha);
}

}  // namespace swarmsim::experiment
