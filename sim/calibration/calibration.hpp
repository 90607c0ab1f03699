#pragma once
// Calibration against measurements of a real swarm: find the values of a few scenario parameters
// (per-message overheads, extra round trips, ...) whose simulated metrics best match what was
// measured on real hardware. A measurement file (docs/calibration.md) names the parameters with
// their bounds, and the measurements: a scenario, --set style overrides, a metrics.json path and
// the measured value. No SimGrid here: simulations come in through a callback.
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/calibration/nelder_mead.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::calibration {

/// A scenario value the calibration may change, within [min, max] (in `unit`).
struct Parameter {
  std::string path;          ///< JSON path in the scenario, e.g. "overheads.rpc"
  std::string unit;          ///< appended to the number in the override ("ms", "GBps"); "" for plain numbers
  double min = 0, max = 1;   ///< bounds, in `unit`
  double start = 0.5;        ///< where the search starts, in `unit`
};

/// One figure measured on real hardware, and how to simulate it.
struct Measurement {
  std::string label;                   ///< for tables, e.g. "llama3-8b-1gbps-rtt5ms b32 s1024"
  std::string scenario;                ///< scenario file (resolved against the measurement file's folder)
  std::vector<sim::Override> set;      ///< overrides for this measurement
  std::string metric;                  ///< metrics.json path, e.g. "throughput.generation_steps_per_s"
  double value = 0;                    ///< the measured value (> 0)
  bool fit = true;                     ///< false: held out, only checked ("role": "check")
};

/// A measurement file.
struct CalibrationSpec {
  std::string file;                    ///< where it was read from
  std::string name, source;
  std::vector<sim::Override> set;      ///< overrides for every measurement, before its own
  std::vector<Parameter> parameters;
  std::vector<Measurement> measurements;
  int grid_levels = 3;                 ///< coarse grid per parameter before Nelder-Mead (1: none)
  int max_evaluations = 120;           ///< parameter vectors simulated at most, grid included
  int seeds = 1;                       ///< runs per measurement, seeds scenario seed + 0 .. seeds - 1, averaged
};

/// A malformed measurement file; what() holds one "file: JSON path: message" line per problem.
class CalibrationSpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads and validates a measurement file. Throws CalibrationSpecError.
CalibrationSpec load_calibration_spec(const std::string& file);

/// The override text of `value` for `p`: the number, then the unit ("12.5ms", "3.2").
std::string override_text(const Parameter& p, double value);

/// The overrides of one run of measurement `measurement`: the file's, the measurement's, then
/// each parameter at `values` (in its unit). Empty `values`: the scenario's own parameter values.
std::vector<sim::Override> run_overrides(const CalibrationSpec& spec, std::size_t measurement, std::span<const double> values = {});

/// One simulation the calibration needs: measurement `measurement` with these overrides (the
/// file's, the measurement's, then the parameters').
struct SimulationRequest {
  std::size_t measurement = 0;
  std::vector<sim::Override> overrides;
  int seed_offset = 0;  ///< added to the scenario's seed (spec.seeds runs per measurement)
};

/// Runs simulations and returns each one's metric value, or nullopt when the run failed (bad
/// parameter value, failed sessions, missing metric). Called with every run of a batch at once.
using Simulate = std::function<std::vector<std::optional<double>>(const std::vector<SimulationRequest>& runs)>;

/// How far simulated values are from measured ones.
struct FitStats {
  int count = 0;                       ///< measurements compared (0: none)
  double rms_log_error = 0;            ///< sqrt(mean(ln(sim / measured)^2)): the objective
  double mean_abs_relative_error = 0;  ///< mean |sim / measured - 1|
  double max_abs_relative_error = 0;   ///< max |sim / measured - 1|
  bool all_ok = true;                  ///< every run gave a value
};

/// FitStats of the measurements of `spec` selected by `fit` (true: the fitted ones; false: the
/// held-out ones), from per-measurement simulated values.
FitStats fit_stats(const CalibrationSpec& spec, const std::vector<std::optional<double>>& simulated, bool fit);

/// Progress of a calibration: parameter vectors simulated so far, the best objective so far.
using CalibrationProgress = std::function<void(int evaluated, int budget, double best_rms_log_error)>;

/// The outcome of a calibration.
struct CalibrationResult {
  std::vector<double> start_values, values;               ///< per parameter, in its unit
  std::vector<std::optional<double>> start_simulated, simulated;  ///< per measurement
  FitStats start_fit, fit, check;                         ///< fit: fitted measurements; check: held out
  int evaluations = 0;                                    ///< parameter vectors simulated
  bool converged = false;
};

/// Searches the parameters (coarse grid, then Nelder-Mead from the best point) to minimize the
/// RMS log error over the fitted measurements. Deterministic for a deterministic `simulate`.
CalibrationResult calibrate(const CalibrationSpec& spec, const Simulate& simulate, const CalibrationProgress& progress = {});

}  // namespace swarmsim::calibration
