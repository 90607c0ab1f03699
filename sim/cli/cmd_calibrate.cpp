// swarmsim calibrate: fit scenario parameters to measurements of a real swarm (docs/calibration.md).
#include <algorithm>
#include <chrono>
#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/calibration/calibration.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/calibration_runs.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::cli {
namespace {

using calibration::CalibrationResult;
using calibration::CalibrationSpec;
using calibration::FitStats;

nlohmann::ordered_json number_or_null(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json stats_json(const FitStats& s) {
  return {{"measurements", s.count},
          {"all_runs_ok", s.all_ok},
          {"rms_log_error", number_or_null(s.rms_log_error)},
          {"mean_abs_relative_error", number_or_null(s.mean_abs_relative_error)},
          {"max_abs_relative_error", number_or_null(s.max_abs_relative_error)}};
}

nlohmann::ordered_json result_json(const CalibrationSpec& spec, const CalibrationResult& r, double wall_s) {
  nlohmann::ordered_json params = nlohmann::ordered_json::array(), set = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < spec.parameters.size(); ++i) {
    const calibration::Parameter& p = spec.parameters[i];
    params.push_back({{"path", p.path}, {"unit", p.unit}, {"min", p.min}, {"max", p.max}, {"start", r.start_values[i]},
                      {"value", r.values[i]}, {"override", p.path + "=" + calibration::override_text(p, r.values[i])}});
    set[p.path] = calibration::override_text(p, r.values[i]);
  }
  nlohmann::ordered_json ms = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < spec.measurements.size(); ++i) {
    const calibration::Measurement& m = spec.measurements[i];
    const auto rel = [&](const std::optional<double>& v) {
      return v ? nlohmann::ordered_json(*v / m.value - 1) : nlohmann::ordered_json(nullptr);
    };
    ms.push_back({{"label", m.label}, {"role", m.fit ? "fit" : "check"}, {"metric", m.metric}, {"measured", m.value},
                  {"simulated_at_start", number_or_null(r.start_simulated[i])}, {"simulated", number_or_null(r.simulated[i])},
                  {"relative_error", rel(r.simulated[i])}});
  }
  return {{"calibration", spec.name},      {"source", spec.source},          {"measurement_file", spec.file},
          {"parameters", params},          {"set", set},                     {"fit_at_start", stats_json(r.start_fit)},
          {"fit", stats_json(r.fit)},      {"check", stats_json(r.check)},   {"evaluations", r.evaluations},
          {"converged", r.converged},      {"wall_seconds", wall_s},         {"measurements", ms}};
}

std::string percent(const std::optional<double>& sim, double measured) {
  if (!sim) return "   failed";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+8.2f%%", 100.0 * (*sim / measured - 1));
  return buf;
}

void print_table(const CalibrationSpec& spec, const CalibrationResult& r) {
  std::printf("calibration   %s\n", spec.name.c_str());
  if (!spec.source.empty()) std::printf("source        %s\n", spec.source.c_str());
  int width = 11;  // the longest label
  for (const calibration::Measurement& m : spec.measurements) width = std::max(width, static_cast<int>(m.label.size()));
  std::printf("\n%-*s %-5s %11s %11s %9s %11s %9s\n", width, "measurement", "role", "measured", "at start", "error", "calibrated", "error");
  for (std::size_t i = 0; i < spec.measurements.size(); ++i) {
    const calibration::Measurement& m = spec.measurements[i];
    const auto num = [](const std::optional<double>& v) {
      char buf[32];
      if (v) std::snprintf(buf, sizeof buf, "%11.4g", *v); else std::snprintf(buf, sizeof buf, "%11s", "-");
      return std::string(buf);
    };
    std::printf("%-*s %-5s %11.4g %s %s %s %s\n", width, m.label.c_str(), m.fit ? "fit" : "check", m.value, num(r.start_simulated[i]).c_str(),
                percent(r.start_simulated[i], m.value).c_str(), num(r.simulated[i]).c_str(), percent(r.simulated[i], m.value).c_str());
  }
  std::printf("\n%-24s %12s %12s\n", "parameter", "start", "calibrated");
  for (std::size_t i = 0; i < spec.parameters.size(); ++i) {
    const calibration::Parameter& p = spec.parameters[i];
    std::printf("%-24s %12s %12s\n", p.path.c_str(), calibration::override_text(p, r.start_values[i]).c_str(),
                calibration::override_text(p, r.values[i]).c_str());
  }
  const auto line = [](const char* what, const FitStats& s) {
    if (s.count == 0) return;
    if (!s.all_ok) {
      std::printf("%-24s some runs failed\n", what);
      return;
    }
    std::printf("%-24s %2d measurements   mean |error| %6.2f%%   max |error| %6.2f%%   rms log error %.4f\n", what, s.count,
                100 * s.mean_abs_relative_error, 100 * s.max_abs_relative_error, s.rms_log_error);
  };
  std::printf("\n");
  line("fit at start", r.start_fit);
  line("fit calibrated", r.fit);
  line("held out (check)", r.check);
  std::printf("%d parameter vectors simulated%s\n", r.evaluations, r.converged ? ", converged" : ", evaluation budget reached");
  std::printf("to use:       ");
  for (std::size_t i = 0; i < spec.parameters.size(); ++i)
    std::printf(" --set %s=%s", spec.parameters[i].path.c_str(), calibration::override_text(spec.parameters[i], r.values[i]).c_str());
  std::printf("\n");
}

}  // namespace

int calibrate(const CalibrateArgs& args) {
  CalibrationSpec spec;
  try {
    spec = calibration::load_calibration_spec(args.file);
  } catch (const calibration::CalibrationSpecError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  if (!args.out.empty())
    if (const std::string problem = sim::output_file_problem(args.out); !problem.empty()) {
      std::fprintf(stderr, "swarmsim calibrate: --out %s: %s\n", args.out.c_str(), problem.c_str());
      return 2;
    }
  if (args.max_evaluations > 0) spec.max_evaluations = args.max_evaluations;
  // Every measurement must load with the starting parameters: a typo in a parameter's path or a
  // bad override would otherwise fail every run of the search.
  bool bad = false;
  for (std::size_t i = 0; i < spec.measurements.size(); ++i) {
    const calibration::Measurement& m = spec.measurements[i];
    std::vector<double> start;
    for (const calibration::Parameter& p : spec.parameters) start.push_back(p.start);
    const std::vector<sim::Override> o = calibration::run_overrides(spec, i, start);
    try {
      sim::load_scenario_file(m.scenario, o);
    } catch (const sim::ScenarioError& e) {
      std::fprintf(stderr, "%s: measurements[%zu] (%s) does not load with the starting parameters:\n%s\n", spec.file.c_str(), i,
                   m.label.c_str(), e.what());
      bad = true;
    }
  }
  if (bad) return 2;
  const auto t0 = std::chrono::steady_clock::now();
  const bool tty = isatty(fileno(stderr));
  CalibrationResult r;
  try {
    r = calibration::calibrate(spec, sim::parallel_simulator(spec, args.jobs), [&](int done, int budget, double best) {
      if (tty)
        std::fprintf(stderr, "\r  %d/%d parameter vectors, best rms log error %.4f ", done, budget, best);
      else
        std::fprintf(stderr, "  %d/%d parameter vectors, best rms log error %.4f\n", done, budget, best);
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nswarmsim calibrate: %s\n", e.what());
    return 1;
  }
  if (tty) std::fprintf(stderr, "\n");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const nlohmann::ordered_json out = result_json(spec, r, wall);
  if (!args.out.empty()) {
    try {
      sim::write_file_atomically(args.out, out.dump(2) + "\n");  // its directory was made before the search
    } catch (const std::exception& e) {
      std::fprintf(stderr, "swarmsim calibrate: --out: %s\n", e.what());
      return 1;
    }
  }
  if (args.json)
    std::printf("%s\n", out.dump(2).c_str());
  else
    print_table(spec, r);
  return r.fit.all_ok ? 0 : 1;
}

}  // namespace swarmsim::cli
