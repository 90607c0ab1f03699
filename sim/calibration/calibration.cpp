#include "sim/calibration/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/json_diagnostics.hpp"
#include "sim/json_path.hpp"
#include "sim/units.hpp"

namespace swarmsim::calibration {
namespace {

using nlohmann::json;
using sim::at_index;
using sim::child;
using sim::type_name;

/// Collects "file: path: message" lines.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void add(const std::string& path, const std::string& message) { lines_.push_back(file_ + ": " + path + ": " + message); }
  bool any() const { return !lines_.empty(); }
  [[noreturn]] void raise() const {
    std::string text;
    for (const std::string& l : lines_) text += (text.empty() ? "" : "\n") + l;
    throw CalibrationSpecError(text);
  }
  /// Reports keys of `obj` outside `allowed`, with a suggestion.
  void unknown_keys(const json& obj, const std::string& path, const std::vector<std::string>& allowed) {
    for (const auto& [key, value] : obj.items())
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        add(child(path, key), "unknown key \"" + key + "\"" + sim::suggestion(key, allowed) + "; expected one of " +
                                  sim::quoted_list(allowed));
  }

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

const json* member(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

/// Calls read(entry, "key[i]") for each object of the required non-empty array root[key]; any
/// other shape is reported, `fields` naming the keys an entry takes.
template <class Read>
void each_object(Problems& p, const json& root, const char* key, const std::string& fields, Read&& read) {
  const json* a = member(root, key);
  const std::string what = std::string("a non-empty array of ") + key;
  if (!a || !a->is_array() || a->empty()) {
    p.add(key, a ? "expected " + what + ", got " + type_name(*a) : "missing; expected " + what);
    return;
  }
  for (std::size_t i = 0; i < a->size(); ++i) {
    const json& e = (*a)[i];
    const std::string ep = at_index(key, i);
    if (!e.is_object()) {
      p.add(ep, "expected an object with " + fields + ", got " + type_name(e));
      continue;
    }
    read(e, ep);
  }
}

std::optional<std::string> string_at(Problems& p, const json& obj, const char* key, const std::string& path, bool required) {
  const json* v = member(obj, key);
  if (!v) {
    if (required) p.add(child(path, key), "missing; expected a string");
    return std::nullopt;
  }
  if (!v->is_string() || v->get<std::string>().empty()) {
    p.add(child(path, key), "expected a non-empty string, got " + type_name(*v));
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<double> number_at(Problems& p, const json& obj, const char* key, const std::string& path, bool required) {
  const json* v = member(obj, key);
  if (!v) {
    if (required) p.add(child(path, key), "missing; expected a number");
    return std::nullopt;
  }
  if (!v->is_number() || !std::isfinite(v->get<double>())) {
    p.add(child(path, key), "expected a number, got " + type_name(*v));
    return std::nullopt;
  }
  return v->get<double>();
}

/// An integer in [lo, hi] at obj[key], when present.
std::optional<int> integer_at(Problems& p, const json& obj, const char* key, const std::string& path, int lo, int hi) {
  const auto x = number_at(p, obj, key, path, false);
  if (!x) return std::nullopt;
  if (*x != std::floor(*x) || *x < lo || *x > hi) {
    p.add(child(path, key), "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + member(obj, key)->dump());
    return std::nullopt;
  }
  return static_cast<int>(*x);
}

/// An object of "path": value overrides; a string value is taken as is, others as JSON text.
std::vector<sim::Override> overrides_at(Problems& p, const json& obj, const std::string& path) {
  std::vector<sim::Override> out;
  const json* v = member(obj, "set");
  if (!v) return out;
  const std::string sp = child(path, "set");
  if (!v->is_object()) {
    p.add(sp, "expected an object of scenario paths to values, e.g. {\"workload.batch_size\": 32}, got " + type_name(*v));
    return out;
  }
  for (const auto& [key, value] : v->items()) {
    std::string error;
    if (sim::parse_json_path(key, error).empty()) {
      p.add(child(sp, key), "not a scenario path: " + error);
      continue;
    }
    out.push_back({key, value.is_string() ? value.get<std::string>() : value.dump()});
  }
  return out;
}

/// Whether `unit` is a unit of some quantity the scenario format knows.
bool known_unit(const std::string& unit) {
  for (sim::Quantity q : {sim::Quantity::Duration, sim::Quantity::Size, sim::Quantity::Bandwidth, sim::Quantity::Rate,
                          sim::Quantity::FlopRate, sim::Quantity::Work, sim::Quantity::Distance, sim::Quantity::Speed,
                          sim::Quantity::Power, sim::Quantity::Energy})
    if (sim::parse_quantity("1" + unit, q).value) return true;
  return false;
}

}  // namespace

std::string override_text(const Parameter& p, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", value);
  return buf + p.unit;
}

std::vector<sim::Override> run_overrides(const CalibrationSpec& spec, std::size_t measurement, std::span<const double> values) {
  std::vector<sim::Override> o = spec.set;
  const Measurement& m = spec.measurements[measurement];
  o.insert(o.end(), m.set.begin(), m.set.end());
  for (std::size_t i = 0; i < values.size() && i < spec.parameters.size(); ++i)
    o.push_back({spec.parameters[i].path, override_text(spec.parameters[i], values[i])});
  return o;
}

CalibrationSpec load_calibration_spec(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw CalibrationSpecError(file + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  Problems p(file);
  std::vector<sim::JsonProblem> json_problems;
  const std::optional<json> parsed = sim::parse_json_strict(ss.str(), json_problems);
  for (const sim::JsonProblem& jp : json_problems) p.add(jp.path, jp.message);
  if (!parsed || p.any()) p.raise();
  const json& root = *parsed;
  if (!root.is_object()) {
    p.add("(root)", "expected an object, got " + type_name(root));
    p.raise();
  }
  p.unknown_keys(root, "", {"$comment", "name", "source", "metric", "set", "parameters", "measurements", "search"});

  CalibrationSpec spec;
  spec.file = file;
  spec.name = string_at(p, root, "name", "", true).value_or("");
  spec.source = string_at(p, root, "source", "", false).value_or("");
  const std::optional<std::string> default_metric = string_at(p, root, "metric", "", false);
  spec.set = overrides_at(p, root, "");

  if (const json* s = member(root, "search")) {
    if (!s->is_object()) {
      p.add("search", "expected an object with grid_levels, max_evaluations and seeds, got " + type_name(*s));
    } else {
      p.unknown_keys(*s, "search", {"grid_levels", "max_evaluations", "seeds"});
      spec.seeds = integer_at(p, *s, "seeds", "search", 1, 1000).value_or(spec.seeds);
      spec.grid_levels = integer_at(p, *s, "grid_levels", "search", 1, 9).value_or(spec.grid_levels);
      spec.max_evaluations = integer_at(p, *s, "max_evaluations", "search", 1, 100000).value_or(spec.max_evaluations);
    }
  }

  each_object(p, root, "parameters", "path, min, max (and unit, start)", [&](const json& e, const std::string& ep) {
    p.unknown_keys(e, ep, {"path", "unit", "min", "max", "start"});
    Parameter par;
    par.path = string_at(p, e, "path", ep, true).value_or("");
    std::string error;
    if (!par.path.empty() && sim::parse_json_path(par.path, error).empty()) p.add(child(ep, "path"), "not a scenario path: " + error);
    if (!par.path.empty() && std::any_of(spec.parameters.begin(), spec.parameters.end(), [&](const Parameter& q) { return q.path == par.path; }))
      p.add(child(ep, "path"), "duplicate parameter \"" + par.path + "\"");
    if (const json* u = member(e, "unit")) {
      if (!u->is_string())
        p.add(child(ep, "unit"), "expected a unit string such as \"ms\" or \"GBps\", got " + type_name(*u));
      else if (!u->get<std::string>().empty() && !known_unit(u->get<std::string>()))
        p.add(child(ep, "unit"), "unknown unit \"" + u->get<std::string>() + "\"; expected a scenario unit such as \"ms\", \"MB\" or \"Gbps\"");
      else
        par.unit = u->get<std::string>();
    }
    const auto lo = number_at(p, e, "min", ep, true), hi = number_at(p, e, "max", ep, true);
    if (lo && hi) {
      if (!(*lo < *hi)) p.add(ep, "expected min < max, got min " + std::to_string(*lo) + " and max " + std::to_string(*hi));
      par.min = *lo;
      par.max = *hi;
      par.start = number_at(p, e, "start", ep, false).value_or(0.5 * (*lo + *hi));
      if (!(par.start >= *lo && par.start <= *hi)) p.add(child(ep, "start"), "expected a value within [min, max]");
    }
    spec.parameters.push_back(par);
  });

  const std::filesystem::path base = std::filesystem::path(file).parent_path();
  int fitted = 0;
  each_object(p, root, "measurements", "scenario, value (and set, metric, label, role)", [&](const json& e, const std::string& ep) {
    p.unknown_keys(e, ep, {"label", "scenario", "set", "metric", "value", "role"});
    Measurement m;
    const std::string scenario = string_at(p, e, "scenario", ep, true).value_or("");
    if (!scenario.empty()) {
      const std::filesystem::path resolved = std::filesystem::path(scenario).is_absolute() ? std::filesystem::path(scenario) : base / scenario;
      m.scenario = resolved.lexically_normal().string();
      if (!std::filesystem::is_regular_file(m.scenario))
        p.add(child(ep, "scenario"), "no such file \"" + m.scenario + "\" (paths are relative to the measurement file)");
    }
    m.set = overrides_at(p, e, ep);
    m.metric = string_at(p, e, "metric", ep, false).value_or(default_metric.value_or(""));
    if (m.metric.empty()) p.add(child(ep, "metric"), "missing; give it here or as the file's \"metric\"");
    if (auto v = number_at(p, e, "value", ep, true)) {
      if (!(*v > 0)) p.add(child(ep, "value"), "expected a measured value > 0, got " + member(e, "value")->dump());
      m.value = *v;
    }
    if (const json* role = member(e, "role")) {
      if (!role->is_string() || (role->get<std::string>() != "fit" && role->get<std::string>() != "check"))
        p.add(child(ep, "role"), "expected \"fit\" (used by the search) or \"check\" (held out), got " + role->dump());
      else
        m.fit = role->get<std::string>() == "fit";
    }
    m.label = string_at(p, e, "label", ep, false)
                  .value_or(std::filesystem::path(scenario).stem().string() + "#" + std::to_string(spec.measurements.size()));
    fitted += m.fit;
    spec.measurements.push_back(std::move(m));
  });
  if (!spec.measurements.empty() && fitted == 0)
    p.add("measurements", "every measurement is held out (\"role\": \"check\"); at least one must be fitted");
  if (p.any()) p.raise();
  return spec;
}

FitStats fit_stats(const CalibrationSpec& spec, const std::vector<std::optional<double>>& simulated, bool fit) {
  FitStats s;
  double sq = 0, abs_sum = 0;
  for (std::size_t i = 0; i < spec.measurements.size() && i < simulated.size(); ++i) {
    const Measurement& m = spec.measurements[i];
    if (m.fit != fit) continue;
    ++s.count;
    if (!simulated[i] || !(*simulated[i] > 0) || !std::isfinite(*simulated[i])) {
      s.all_ok = false;
      continue;
    }
    const double ratio = *simulated[i] / m.value;
    sq += std::log(ratio) * std::log(ratio);
    abs_sum += std::abs(ratio - 1);
    s.max_abs_relative_error = std::max(s.max_abs_relative_error, std::abs(ratio - 1));
  }
  if (s.count == 0) return s;
  if (!s.all_ok) {
    s.rms_log_error = s.mean_abs_relative_error = s.max_abs_relative_error = std::numeric_limits<double>::infinity();
    return s;
  }
  s.rms_log_error = std::sqrt(sq / s.count);
  s.mean_abs_relative_error = abs_sum / s.count;
  return s;
}

CalibrationResult calibrate(const CalibrationSpec& spec, const Simulate& simulate, const CalibrationProgress& progress) {
  const std::size_t d = spec.parameters.size();
  const auto values_of = [&](const UnitPoint& u) {
    std::vector<double> v(d);
    for (std::size_t i = 0; i < d; ++i) v[i] = spec.parameters[i].min + u[i] * (spec.parameters[i].max - spec.parameters[i].min);
    return v;
  };
  const auto unit_of = [&](const std::vector<double>& v) {
    UnitPoint u(d);
    for (std::size_t i = 0; i < d; ++i) u[i] = (v[i] - spec.parameters[i].min) / (spec.parameters[i].max - spec.parameters[i].min);
    return u;
  };

  // Every simulated value seen, by parameter vector: Nelder-Mead revisits clamped points.
  std::map<std::vector<double>, std::vector<std::optional<double>>> seen;
  int evaluated = 0;
  double best = std::numeric_limits<double>::infinity();
  const auto simulate_points = [&](const std::vector<UnitPoint>& points) {
    std::vector<SimulationRequest> runs;
    std::vector<std::vector<double>> fresh;
    for (const UnitPoint& u : points) {
      const std::vector<double> v = values_of(u);
      if (seen.count(v) || std::find(fresh.begin(), fresh.end(), v) != fresh.end()) continue;
      fresh.push_back(v);
      for (std::size_t m = 0; m < spec.measurements.size(); ++m)
        for (int seed = 0; seed < spec.seeds; ++seed) runs.push_back({m, run_overrides(spec, m, v), seed});
    }
    if (!runs.empty()) {
      const std::vector<std::optional<double>> out = simulate(runs);
      if (out.size() != runs.size()) throw std::logic_error("calibrate: the simulator returned a wrong number of values");
      // Each measurement's value is the mean over its seeds; a failed seed fails it.
      const std::size_t n = spec.measurements.size(), seeds = static_cast<std::size_t>(spec.seeds);
      for (std::size_t k = 0; k < fresh.size(); ++k) {
        std::vector<std::optional<double>> values(n);
        for (std::size_t m = 0; m < n; ++m) {
          double sum = 0;
          bool ok = true;
          for (std::size_t s = 0; s < seeds; ++s) {
            const std::optional<double>& x = out[(k * n + m) * seeds + s];
            ok = ok && x.has_value();
            if (x) sum += *x;
          }
          if (ok) values[m] = sum / static_cast<double>(seeds);
        }
        seen[fresh[k]] = std::move(values);
      }
      evaluated += static_cast<int>(fresh.size());
    }
    std::vector<double> f;
    for (const UnitPoint& u : points) {
      f.push_back(fit_stats(spec, seen.at(values_of(u)), true).rms_log_error);
      best = std::min(best, f.back());
    }
    if (progress) progress(evaluated, spec.max_evaluations, best);
    return f;
  };

  CalibrationResult r;
  std::vector<double> start(d);
  for (std::size_t i = 0; i < d; ++i) start[i] = spec.parameters[i].start;
  const UnitPoint start_u = unit_of(start);

  // A coarse grid (with the start point) in one batch, then Nelder-Mead from the best of them.
  std::vector<UnitPoint> first{start_u};
  if (spec.grid_levels >= 2) {
    const double grid_points = std::pow(spec.grid_levels, static_cast<double>(d));
    if (grid_points + 1 <= spec.max_evaluations) {
      std::vector<UnitPoint> grid = unit_grid(static_cast<int>(d), spec.grid_levels);
      first.insert(first.end(), grid.begin(), grid.end());
    }
  }
  const std::vector<double> f0 = simulate_points(first);
  const std::size_t best0 = static_cast<std::size_t>(std::min_element(f0.begin(), f0.end()) - f0.begin());

  NelderMeadOptions o;
  o.max_evaluations = std::max(0, spec.max_evaluations - evaluated);
  o.initial_step = spec.grid_levels >= 2 ? 0.5 / (spec.grid_levels - 1) : 0.15;
  NelderMeadResult nm;
  if (o.max_evaluations >= static_cast<int>(d) + 2) {
    nm = nelder_mead(simulate_points, first[best0], o);
  } else {
    nm.best = first[best0];
    nm.best_value = f0[best0];
  }

  r.start_values = start;
  r.start_simulated = seen.at(values_of(start_u));
  r.start_fit = fit_stats(spec, r.start_simulated, true);
  r.values = values_of(nm.best);
  r.simulated = seen.at(r.values);
  r.fit = fit_stats(spec, r.simulated, true);
  r.check = fit_stats(spec, r.simulated, false);
  r.evaluations = evaluated;
  r.converged = nm.converged;
  return r;
}

}  // namespace swarmsim::calibration
