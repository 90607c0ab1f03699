// The calibration's pure parts: bounded Nelder-Mead, the grid, fit statistics, and the measurement
// file's loader on good and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "sim/calibration/calibration.hpp"
#include "sim/calibration/nelder_mead.hpp"
#include "tests/temp_path.hpp"

using namespace swarmsim::calibration;

namespace {

/// Applies a scalar function to each point of a batch, counting evaluations.
BatchObjective batch_of(std::function<double(const UnitPoint&)> f, int* calls = nullptr) {
  return [f, calls](const std::vector<UnitPoint>& pts) {
    std::vector<double> v;
    for (const UnitPoint& p : pts) v.push_back(f(p));
    if (calls) *calls += static_cast<int>(pts.size());
    return v;
  };
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::filesystem::path p = swarmsim::test::temp_path("swarmsim-calibration-" + name + ".json");
  std::ofstream(p) << text;
  return p.string();
}

const std::string kTwoNode = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json";

/// The load error of `text`, or "" when it loads.
std::string load_error(const std::string& name, const std::string& text) {
  try {
    load_calibration_spec(write_temp(name, text));
  } catch (const CalibrationSpecError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// An interior minimum of a shifted quadratic, found from a corner.
TEST(NelderMead, FindsAnInteriorMinimum) {
  int calls = 0;
  const auto r = nelder_mead(batch_of([](const UnitPoint& p) { return std::pow(p[0] - 0.3, 2) + 4 * std::pow(p[1] - 0.7, 2); }, &calls),
                             {0.0, 0.0});
  EXPECT_TRUE(r.converged);
  EXPECT_NEAR(r.best[0], 0.3, 1e-3);
  EXPECT_NEAR(r.best[1], 0.7, 1e-3);
  EXPECT_EQ(r.evaluations, calls);
  EXPECT_LE(r.evaluations, NelderMeadOptions{}.max_evaluations + 2);  // a shrink may finish its batch
}

// Rosenbrock's curved valley, f = 100 (v - u^2)^2 + (1 - u)^2, whose minimum (1, 1) is a corner of
// the cube.
TEST(NelderMead, FollowsACurvedValleyToACorner) {
  NelderMeadOptions o;
  o.max_evaluations = 2000;
  const auto r = nelder_mead(batch_of([](const UnitPoint& p) { return 100 * std::pow(p[1] - p[0] * p[0], 2) + std::pow(1 - p[0], 2); }),
                             {0.1, 0.8}, o);
  EXPECT_NEAR(r.best[0], 1.0, 1e-2);
  EXPECT_NEAR(r.best[1], 1.0, 2e-2);
  EXPECT_LT(r.best_value, 1e-3);
}

// A minimum outside the cube ends on the face that is closest to it; points are never outside.
TEST(NelderMead, StaysInsideTheCubeAndStopsOnABound) {
  bool outside = false;
  const auto r = nelder_mead(batch_of([&](const UnitPoint& p) {
                               for (double x : p) outside |= x < 0 || x > 1;
                               return std::pow(p[0] - 1.7, 2) + std::pow(p[1] - 0.25, 2);
                             }),
                             {0.5, 0.5});
  EXPECT_FALSE(outside);
  EXPECT_NEAR(r.best[0], 1.0, 1e-3);
  EXPECT_NEAR(r.best[1], 0.25, 1e-3);
}

// A failure (NaN or +inf) is never preferred, and the search is deterministic.
TEST(NelderMead, AvoidsFailedPointsAndIsDeterministic) {
  const auto f = batch_of([](const UnitPoint& p) { return p[0] > 0.8 ? std::nan("") : std::pow(p[0] - 0.6, 2); });
  const auto a = nelder_mead(f, {0.1}), b = nelder_mead(f, {0.1});
  EXPECT_NEAR(a.best[0], 0.6, 1e-3);
  EXPECT_EQ(a.best, b.best);
  EXPECT_EQ(a.evaluations, b.evaluations);
}

TEST(UnitGrid, EnumeratesEveryPointInOrder) {
  const auto g = unit_grid(2, 3);
  ASSERT_EQ(g.size(), 9u);
  EXPECT_EQ(g.front(), (UnitPoint{0.0, 0.0}));
  EXPECT_EQ(g[1], (UnitPoint{0.0, 0.5}));
  EXPECT_EQ(g.back(), (UnitPoint{1.0, 1.0}));
  EXPECT_THROW(unit_grid(2, 1), std::invalid_argument);
}

// Known answer: measured 2 and 4, simulated 2.2 and 3: errors +10% and -25%,
// rms log error sqrt((ln 1.1^2 + ln 0.75^2) / 2) = 0.2090.
TEST(FitStats, KnownAnswer) {
  CalibrationSpec spec;
  spec.measurements.resize(3);
  spec.measurements[0].value = 2;
  spec.measurements[1].value = 4;
  spec.measurements[2].value = 1;
  spec.measurements[2].fit = false;
  const FitStats s = fit_stats(spec, {2.2, 3.0, 1.5}, true);
  EXPECT_EQ(s.count, 2);
  EXPECT_TRUE(s.all_ok);
  EXPECT_NEAR(s.mean_abs_relative_error, 0.175, 1e-12);
  EXPECT_NEAR(s.max_abs_relative_error, 0.25, 1e-12);
  EXPECT_NEAR(s.rms_log_error, std::sqrt((std::pow(std::log(1.1), 2) + std::pow(std::log(0.75), 2)) / 2), 1e-12);
  const FitStats held = fit_stats(spec, {2.2, 3.0, 1.5}, false);
  EXPECT_EQ(held.count, 1);
  EXPECT_NEAR(held.max_abs_relative_error, 0.5, 1e-12);
  const FitStats failed = fit_stats(spec, {2.2, std::nullopt, 1.5}, true);
  EXPECT_FALSE(failed.all_ok);
  EXPECT_TRUE(std::isinf(failed.rms_log_error));
}

// The calibration loop on a known model (no simulator): value = measured exactly when rpc = 7 and
// round trips = 2, so the search must find them.
TEST(Calibrate, RecoversKnownParametersOfAnAnalyticModel) {
  CalibrationSpec spec;
  spec.parameters = {{"overheads.rpc", "ms", 0, 20, 0.5}, {"overheads.round_trips", "", 0, 8, 0}};
  spec.grid_levels = 4;
  spec.max_evaluations = 200;
  // steps/s of a 7-hop chain over latencies 2 ms and 5 ms: 1 / (7 (rpc + 2 rt lat) + 0.1).
  const double lat[] = {0.002, 0.005};
  const auto model = [&](double rpc_ms, double rt, int net) { return 1.0 / (7 * (rpc_ms / 1e3 + 2 * rt * lat[net]) + 0.1); };
  for (int net = 0; net < 2; ++net) {
    Measurement m;
    m.value = model(7, 2, net);
    m.set = {{"net", std::to_string(net)}};
    spec.measurements.push_back(m);
  }
  const Simulate simulate = [&](const std::vector<SimulationRequest>& runs) {
    std::vector<std::optional<double>> out;
    for (const SimulationRequest& r : runs) {
      double rpc = 0, rt = 0;
      int net = 0;
      for (const auto& o : r.overrides) {
        if (o.path == "overheads.rpc") rpc = std::stod(o.value);  // "7.25ms": stod stops at the unit
        if (o.path == "overheads.round_trips") rt = std::stod(o.value);
        if (o.path == "net") net = std::stoi(o.value);
      }
      out.push_back(model(rpc, rt, net));
    }
    return out;
  };
  const CalibrationResult r = calibrate(spec, simulate);
  EXPECT_NEAR(r.values[0], 7.0, 0.05);
  EXPECT_NEAR(r.values[1], 2.0, 0.02);
  EXPECT_LT(r.fit.max_abs_relative_error, 1e-3);
  EXPECT_GT(r.start_fit.max_abs_relative_error, 0.3);
  EXPECT_LE(r.evaluations, spec.max_evaluations + 2);
}

// Several seeds per measurement: the search sees the mean over seeds. Here each seed adds noise
// of -10%, +10% and 0 to an analytic model, so only the mean recovers the truth (rpc = 4 ms).
TEST(Calibrate, AveragesEachMeasurementOverItsSeeds) {
  CalibrationSpec spec;
  spec.parameters = {{"overheads.rpc", "ms", 0, 10, 1}};
  spec.grid_levels = 5;
  spec.max_evaluations = 80;
  spec.seeds = 3;
  const auto model = [](double rpc_ms) { return 1.0 / (0.01 + rpc_ms / 1e3); };
  Measurement m;
  m.value = model(4);
  spec.measurements.push_back(m);
  std::vector<int> offsets_seen;
  const Simulate simulate = [&](const std::vector<SimulationRequest>& runs) {
    std::vector<std::optional<double>> out;
    for (const SimulationRequest& r : runs) {
      offsets_seen.push_back(r.seed_offset);
      const double noise[] = {-0.1, 0.1, 0.0};
      out.push_back(model(std::stod(r.overrides.back().value)) * (1 + noise[r.seed_offset]));
    }
    return out;
  };
  const CalibrationResult r = calibrate(spec, simulate);
  EXPECT_NEAR(r.values[0], 4.0, 0.01);
  EXPECT_LT(r.fit.max_abs_relative_error, 1e-3);
  ASSERT_EQ(offsets_seen.size() % 3, 0u);
  for (std::size_t i = 0; i < offsets_seen.size(); ++i) EXPECT_EQ(offsets_seen[i], static_cast<int>(i % 3));
}

TEST(CalibrationSpec, LoadsAGoodFileWithDefaultsAndRelativePaths) {
  const std::string file = write_temp("good", R"({
    "name": "t", "metric": "throughput.tokens_per_s", "set": {"workload.batch_size": 4},
    "parameters": [{"path": "overheads.rpc", "unit": "ms", "min": 0, "max": 10}],
    "measurements": [
      {"scenario": ")" + kTwoNode + R"(", "value": 3.5},
      {"scenario": ")" + kTwoNode + R"(", "value": 2, "role": "check", "metric": "throughput.generation_steps_per_s",
       "set": {"workload.arrival": {"process": "all_at_start"}}, "label": "held"}]})");
  const CalibrationSpec s = load_calibration_spec(file);
  ASSERT_EQ(s.parameters.size(), 1u);
  EXPECT_DOUBLE_EQ(s.parameters[0].start, 5.0);  // the middle of [min, max] by default
  EXPECT_EQ(override_text(s.parameters[0], 12.5), "12.5ms");
  ASSERT_EQ(s.measurements.size(), 2u);
  EXPECT_EQ(s.measurements[0].metric, "throughput.tokens_per_s");
  EXPECT_TRUE(s.measurements[0].fit);
  EXPECT_FALSE(s.measurements[1].fit);
  EXPECT_EQ(s.measurements[1].label, "held");
  ASSERT_EQ(s.set.size(), 1u);
  EXPECT_EQ(s.set[0].value, "4");
  ASSERT_EQ(s.measurements[1].set.size(), 1u);
  EXPECT_EQ(s.measurements[1].set[0].value, R"({"process":"all_at_start"})");
}

// Every problem is reported with the file, the JSON path and what was expected.
TEST(CalibrationSpec, BadFilesNameThePathAndTheExpectation) {
  const std::string m = R"("measurements": [{"scenario": ")" + kTwoNode + R"(", "value": 1}])";
  const std::string p = R"("parameters": [{"path": "overheads.rpc", "unit": "ms", "min": 0, "max": 10}])";
  struct Case {
    const char* name;
    std::string text, path, message;
  };
  const Case cases[] = {
      {"syntax", "{\"name\": \"t\",", "line 1", "syntax"},
      {"no-params", R"({"name": "t", "metric": "m", )" + m + "}", "parameters", "missing; expected a non-empty array"},
      {"typo", R"({"name": "t", "metric": "m", "paramters": [], )" + p + ", " + m + "}", "paramters", "did you mean \"parameters\"?"},
      {"bad-unit", R"({"name": "t", "metric": "m", "parameters": [{"path": "overheads.rpc", "unit": "msec", "min": 0, "max": 1}], )" + m + "}",
       "parameters[0].unit", "unknown unit \"msec\""},
      {"min-max", R"({"name": "t", "metric": "m", "parameters": [{"path": "overheads.rpc", "min": 3, "max": 1}], )" + m + "}",
       "parameters[0]", "expected min < max"},
      {"start", R"({"name": "t", "metric": "m", "parameters": [{"path": "overheads.rpc", "min": 0, "max": 1, "start": 4}], )" + m + "}",
       "parameters[0].start", "within [min, max]"},
      {"no-file", R"({"name": "t", "metric": "m", )" + p + R"(, "measurements": [{"scenario": "nope.json", "value": 1}]})",
       "measurements[0].scenario", "no such file"},
      {"value", R"({"name": "t", "metric": "m", )" + p + R"(, "measurements": [{"scenario": ")" + kTwoNode + R"(", "value": -2}]})",
       "measurements[0].value", "expected a measured value > 0"},
      {"role", R"({"name": "t", "metric": "m", )" + p + R"(, "measurements": [{"scenario": ")" + kTwoNode + R"(", "value": 1, "role": "test"}]})",
       "measurements[0].role", "expected \"fit\""},
      {"no-metric", R"({"name": "t", )" + p + ", " + m + "}", "measurements[0].metric", "missing"},
      {"seeds", R"({"name": "t", "metric": "m", "search": {"seeds": 0}, )" + p + ", " + m + "}", "search.seeds",
       "expected an integer in [1, 1000]"},
      {"all-held", R"({"name": "t", "metric": "m", )" + p + R"(, "measurements": [{"scenario": ")" + kTwoNode + R"(", "value": 1, "role": "check"}]})",
       "measurements", "at least one must be fitted"},
  };
  for (const Case& c : cases) {
    const std::string e = load_error(c.name, c.text);
    EXPECT_NE(e.find("swarmsim-calibration-" + std::string(c.name) + ".json: "), std::string::npos) << c.name << ": " << e;
    EXPECT_NE(e.find(c.path), std::string::npos) << c.name << ": " << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << c.name << ": " << e;
  }
}
