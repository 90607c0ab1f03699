// A load that changes over time (workload.arrival "phases"): Poisson arrivals at each phase's
// rate, the phases repeating until every session arrived; the loader's checks; which phase a
// time falls in.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/arrivals.hpp"

using namespace swarmsim::sim;

namespace {

/// The two-node sanity scenario with `arrival` (a JSON object) and `sessions` sessions.
std::string two_node(const std::string& arrival, int sessions) {
  return R"({
    "name": "phases",
    "model": {"name": "Llama-3-8B"},
    "nodes": [{"name": "server", "gpu": "L4", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps",
               "access_latency": "2ms", "blocks": {"start": 0, "end": 32}}],
    "clients": [{"name": "client", "device": "cpu-generic", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "100Mbps",
                 "downlink": "100Mbps", "access_latency": "3ms"}],
    "workload": {"sessions": )" + std::to_string(sessions) + R"(, "start": "5s", "arrival": )" + arrival + R"(,
                 "prompt_tokens": 8, "new_tokens": 2}
  })";
}

const std::string kThreePhases =
    R"({"process": "phases", "phases": [{"rate": "10/s", "duration": "100s"}, {"rate": "0/s", "duration": "50s"},
                                          {"rate": "40/s", "duration": "50s"}]})";

/// The diagnostics ("path: message") of loading `text`, empty when it loads.
std::vector<std::string> errors_of(const std::string& text) {
  try {
    load_scenario_text(text, "phases.json");
  } catch (const ScenarioError& e) {
    std::vector<std::string> out;
    for (const Diagnostic& d : e.diagnostics()) out.push_back(d.path + ": " + d.message);
    return out;
  }
  return {};
}

bool has(const std::vector<std::string>& errs, const std::string& needle) {
  return std::any_of(errs.begin(), errs.end(), [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

}  // namespace

TEST(ArrivalPhases, LoadWithTheirRatesAndDurations) {
  const Scenario sc = load_scenario_text(two_node(kThreePhases, 10), "phases.json");
  ASSERT_EQ(sc.workload.arrival, ArrivalProcess::Phases);
  ASSERT_EQ(sc.workload.phases.size(), 3u);
  EXPECT_DOUBLE_EQ(sc.workload.phases[0].rate_per_s, 10.0);
  EXPECT_DOUBLE_EQ(sc.workload.phases[1].rate_per_s, 0.0);
  EXPECT_DOUBLE_EQ(sc.workload.phases[2].duration_s, 50.0);
  // (10 x 100 + 0 x 50 + 40 x 50) / 200 s
  EXPECT_DOUBLE_EQ(sc.workload.mean_phase_rate_per_s(), 15.0);
  EXPECT_DOUBLE_EQ(sc.workload.peak_phase_rate_per_s(), 40.0);
  EXPECT_STREQ(to_string(sc.workload.arrival), "phases");
}

// Known answers: start 5 s, phases of 100, 50 and 50 s, repeating every 200 s.
TEST(ArrivalPhases, PhaseAtKnownAnswers) {
  const Scenario sc = load_scenario_text(two_node(kThreePhases, 10), "phases.json");
  const WorkloadSpec& w = sc.workload;
  EXPECT_EQ(w.phase_at(4.9), -1);
  EXPECT_EQ(w.phase_at(5.0), 0);
  EXPECT_EQ(w.phase_at(104.9), 0);
  EXPECT_EQ(w.phase_at(105.0), 1);
  EXPECT_EQ(w.phase_at(155.0), 2);
  EXPECT_EQ(w.phase_at(204.9), 2);
  EXPECT_EQ(w.phase_at(205.0), 0);
  EXPECT_EQ(w.phase_at(310.0), 1);
  EXPECT_EQ(w.phase_at(360.0), 2);
  EXPECT_EQ(WorkloadSpec{}.phase_at(10.0), -1) << "no phases";

  // How long an interval spends in each phase: [0, 5] none (before the start); [5, 405] two
  // whole cycles, 200 s, 100 s, 100 s; [100, 160] 5 s of phase 0, all 50 of phase 1, 5 of phase 2.
  const PhaseClock clock(w);
  EXPECT_EQ(clock.phases(), 3);
  EXPECT_DOUBLE_EQ(clock.seconds_in_phase_until(0, 5.0), 0.0);
  EXPECT_DOUBLE_EQ(clock.seconds_in_phase_until(0, 405.0), 200.0);
  EXPECT_DOUBLE_EQ(clock.seconds_in_phase_until(1, 405.0), 100.0);
  EXPECT_DOUBLE_EQ(clock.seconds_in_phase_until(2, 305.0), 50.0);  // the first cycle's; the second is in phase 0 at 305 s
  std::vector<double> in(3, 0.0);
  clock.add_seconds_by_phase(100.0, 160.0, in);
  EXPECT_DOUBLE_EQ(in[0], 5.0);
  EXPECT_DOUBLE_EQ(in[1], 50.0);
  EXPECT_DOUBLE_EQ(in[2], 5.0);
  clock.add_seconds_by_phase(210.0, 211.5, in);  // within phase 0 of the second cycle
  EXPECT_DOUBLE_EQ(in[0], 6.5);
  for (double t : {4.0, 5.0, 99.0, 105.0, 170.0, 333.3, 1e6})
    EXPECT_EQ(clock.phase_at(t), w.phase_at(t)) << t;
}

// The counts in each phase's window are Poisson with mean rate x duration: within 4 standard
// deviations in every window of two cycles, none in the quiet phase; the times are sorted,
// after the start, and the same for the same seed.
TEST(ArrivalPhases, EachPhaseGetsItsRatesArrivalsAndThePhasesRepeat) {
  const Scenario sc = load_scenario_text(two_node(kThreePhases, 7000), "phases.json");
  Rng rng(7);
  const std::vector<double> t = draw_arrivals(sc.workload, rng);
  ASSERT_EQ(t.size(), 7000u);
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  EXPECT_GT(t.front(), 5.0);
  const auto count = [&](double from, double to) {
    return static_cast<double>(std::lower_bound(t.begin(), t.end(), to) - std::lower_bound(t.begin(), t.end(), from));
  };
  for (int cycle = 0; cycle < 2; ++cycle) {
    const double c0 = 5.0 + 200.0 * cycle;
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    EXPECT_NEAR(count(c0, c0 + 100), 1000.0, 4 * std::sqrt(1000.0));
    EXPECT_EQ(count(c0 + 100, c0 + 150), 0.0) << "the quiet phase";
    EXPECT_NEAR(count(c0 + 150, c0 + 200), 2000.0, 4 * std::sqrt(2000.0));
  }
  // The arrivals end in the third cycle: 7,000, with 3,000 a cycle.
  EXPECT_GT(t.back(), 405.0);
  EXPECT_LT(t.back(), 605.0);
  // Gaps within one phase are exponential: their mean is 1 / rate (4 standard errors).
  std::vector<double> gaps;
  for (std::size_t i = 1; i < t.size(); ++i)
    if (sc.workload.phase_at(t[i - 1]) == 2 && sc.workload.phase_at(t[i]) == 2 && t[i] - t[i - 1] < 50) gaps.push_back(t[i] - t[i - 1]);
  ASSERT_GT(gaps.size(), 3000u);
  double mean = 0;
  for (const double g : gaps) mean += g / static_cast<double>(gaps.size());
  EXPECT_NEAR(mean, 1.0 / 40, 4 * (1.0 / 40) / std::sqrt(static_cast<double>(gaps.size())));
  Rng again(7), other(8);
  EXPECT_EQ(draw_arrivals(sc.workload, again), t);
  EXPECT_NE(draw_arrivals(sc.workload, other), t);
}

TEST(ArrivalPhases, BadPhasesNameThePathAndWhatWasExpected) {
  const auto with = [](const std::string& arrival) { return errors_of(two_node(arrival, 4)); };
  EXPECT_TRUE(has(with(R"({"process": "phases"})"), "workload.arrival.phases: missing; expected a non-empty array of phases"));
  EXPECT_TRUE(has(with(R"({"process": "phases", "phases": []})"), "workload.arrival.phases: expected a non-empty array of phases"));
  EXPECT_TRUE(has(with(R"({"process": "phases", "phases": {"rate": "1/s"}})"), "workload.arrival.phases: expected a non-empty array"));
  EXPECT_TRUE(has(with(R"({"process": "phases", "phases": [{"rate": "1/s"}]})"), "workload.arrival.phases[0].duration: missing; expected a duration"));
  EXPECT_TRUE(has(with(R"({"process": "phases", "phases": [{"rate": "1/s", "duration": "0s"}]})"),
                  "workload.arrival.phases[0].duration: must be positive"));
  EXPECT_TRUE(has(with(R"({"process": "phases", "phases": [{"rate": "-1/s", "duration": "1s"}]})"), "workload.arrival.phases[0].rate"));
  EXPECT_TRUE(has(with(R"({"process": "phases", "phases": [{"rate": "1/s", "duration": "1s", "shape": "ramp"}]})"),
                  "workload.arrival.phases[0].shape: unknown key \"shape\"; arrival_phase keys are \"rate\", \"duration\""));
  EXPECT_TRUE(has(with(R"({"process": "phases", "phases": [{"rate": 3, "duration": "1s"}]})"), "units go inside the string"));
  EXPECT_TRUE(has(with(R"({"process": "poisson", "rate": "1/s", "phases": [{"rate": "1/s", "duration": "1s"}]})"),
                  "workload.arrival.phases: only applies to \"process\": \"phases\""));
  EXPECT_TRUE(with(R"({"process": "phases", "phases": [{"rate": "0/s", "duration": "1s"}, {"rate": "1/min", "duration": "1h"}]})").empty());
  std::string many = R"({"process": "phases", "phases": [)";
  for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + R"({"rate": "1/s", "duration": "1s"})";
  EXPECT_TRUE(has(with(many + "]}"), "workload.arrival.phases: at most 1000 phases (a day at 90 s a phase), got 1001"));
}
