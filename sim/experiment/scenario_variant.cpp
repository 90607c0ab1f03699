#include "sim/experiment/scenario_variant.hpp"

#include <algorithm>
#include <set>

#include "sim/experiment/spec_text.hpp"

namespace swarmsim::experiment {
namespace {

/// "path=value" as an override; `what` names the --variant or --vary for the message.
sim::Override variant_override(const std::string& what, std::string_view item) {
  const std::size_t eq = item.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw VariantSpecError(what + ": " + in_quotes(item) + " is not path=value; expected e.g. nodes[0].uplink=100Mbps");
  const std::string path(trim_blanks(item.substr(0, eq))), value(trim_blanks(item.substr(eq + 1)));
  if (path.empty()) throw VariantSpecError(what + ": " + in_quotes(item) + " has no path before '='");
  if (value.empty()) throw VariantSpecError(what + ": " + in_quotes(path) + " has no value");
  return sim::Override{path, value};
}

}  // namespace

std::vector<std::string> split_top_level(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::string piece;
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '\\' && i + 1 < text.size()) {
        piece += c;
        piece += text[++i];  // an escaped character, a quote included
        continue;
      }
      if (c == '"') quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == sep && depth == 0) {
      out.emplace_back(trim_blanks(piece));
      piece.clear();
      continue;
    }
    piece += c;
  }
  out.emplace_back(trim_blanks(piece));
  return out;
}

ScenarioVariant parse_variant_spec(std::string_view spec) {
  spec = trim_blanks(spec);
  const std::string what = "--variant " + in_quotes(spec);
  const std::size_t colon = spec.find(':');
  const std::string_view name = trim_blanks(spec.substr(0, colon));
  if (!valid_label(name))
    throw VariantSpecError(what + ": " + in_quotes(name) +
                           " is not a usable name; expected NAME or NAME:path=value,... with a NAME of letters, digits, '_', '-', '.' "
                           "or '+'");
  ScenarioVariant v;
  v.label = std::string(name);
  if (colon == std::string_view::npos) return v;  // the scenario as given
  std::set<std::string> paths;
  for (const std::string& item : split_top_level(spec.substr(colon + 1), ',')) {
    if (item.empty()) throw VariantSpecError(what + ": an empty path=value; expected NAME:path=value,path=value");
    v.overrides.push_back(variant_override(what, item));
    if (!paths.insert(v.overrides.back().path).second)
      throw VariantSpecError(what + ": " + in_quotes(v.overrides.back().path) + " is set twice");
  }
  return v;
}

std::vector<ScenarioVariant> parse_sweep(std::string_view text) {
  text = trim_blanks(text);
  const std::string what = "--vary " + in_quotes(text);
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw VariantSpecError(what + ": expected PATH=V1,V2,..., e.g. nodes[0].uplink=1Gbps,100Mbps,10Mbps");
  const std::string path(trim_blanks(text.substr(0, eq)));
  const std::vector<std::string> values = split_top_level(text.substr(eq + 1), ',');
  if (values.size() < 2) throw VariantSpecError(what + ": one value; expected at least two, comma-separated (a single value is a --set)");
  std::vector<ScenarioVariant> out;
  std::set<std::string> seen;
  for (const std::string& value : values) {
    if (value.empty()) throw VariantSpecError(what + ": an empty value; expected PATH=V1,V2,...");
    if (!seen.insert(value).second) throw VariantSpecError(what + ": " + in_quotes(value) + " is listed twice");
    out.push_back({path + "=" + value, {sim::Override{path, value}}});
  }
  return out;
}

std::vector<ScenarioVariant> combine_variants(const std::vector<std::vector<ScenarioVariant>>& lists) {
  if (lists.empty()) return {};
  std::vector<ScenarioVariant> out{ScenarioVariant{}};
  for (const std::vector<ScenarioVariant>& list : lists) {
    std::vector<ScenarioVariant> next;
    for (const ScenarioVariant& a : out)
      for (const ScenarioVariant& b : list) {
        ScenarioVariant c = a;
        c.label += (c.label.empty() ? "" : ", ") + b.label;
        for (const sim::Override& o : b.overrides) {
          const bool twice = std::any_of(c.overrides.begin(), c.overrides.end(), [&](const sim::Override& x) { return x.path == o.path; });
          if (twice) throw VariantSpecError("variant " + in_quotes(c.label) + " sets " + in_quotes(o.path) + " twice; expected each path in one --vary or --variant list");
          c.overrides.push_back(o);
        }
        next.push_back(std::move(c));
      }
    out = std::move(next);
  }
  std::set<std::string> labels;
  for (const ScenarioVariant& v : out)
    if (!labels.insert(v.label).second) throw VariantSpecError("two variants are labelled " + in_quotes(v.label) + "; expected distinct names");
  return out;
}

}  // namespace swarmsim::experiment
