// Arrival traces (workload.arrival.process "trace"): a CSV file of arrivals. Good rows load with
// units and defaults; each kind of bad row is one diagnostic naming the scenario's JSON path, the
// CSV file, its line and column.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario/scenario_loader.hpp"
#include "tests/sim/two_cities.hpp"

using namespace swarmsim::sim;

namespace {

/// Loads the two-city scenario with its arrivals from a CSV of `text`; returns the scenario or
/// the diagnostics' "path: message" lines.
struct Loaded {
  std::optional<Scenario> scenario;
  std::vector<std::string> problems;
};

Loaded load_with_trace(const std::string& text) {
  const std::filesystem::path csv = std::filesystem::temp_directory_path() / "swarmsim_arrival_trace_test.csv";
  std::ofstream(csv) << text;
  const Override arrival = parse_override(R"(workload={"arrival": {"process": "trace", "file": ")" + csv.string() +
                                          R"("}, "prompt_tokens": 8, "new_tokens": 4})");
  Loaded out;
  try {
    out.scenario = load_scenario_text(swarmsim::test::kTwoCities, "trace.json", {arrival});
  } catch (const ScenarioError& e) {
    for (const Diagnostic& d : e.diagnostics()) out.problems.push_back(d.path + ": " + d.message);
  }
  std::filesystem::remove(csv);
  return out;
}

}  // namespace

TEST(ArrivalTrace, RowsLoadWithUnitsAndDefaults) {
  const Loaded l = load_with_trace("# a comment\nat,prompt_tokens,new_tokens,priority\n1.5s,16,0,2\n2500ms,0,3,0\n4,0,0,1\n");
  ASSERT_TRUE(l.scenario) << (l.problems.empty() ? "" : l.problems[0]);
  const auto& t = l.scenario->workload.trace;
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(l.scenario->workload.sessions, 3);
  EXPECT_DOUBLE_EQ(t[0].at_s, 1.5);
  EXPECT_EQ(t[0].prompt_tokens, 16);
  EXPECT_EQ(t[0].new_tokens, 0);  // 0: the workload's new_tokens
  EXPECT_EQ(t[0].priority, 2);
  EXPECT_DOUBLE_EQ(t[1].at_s, 2.5);
  EXPECT_DOUBLE_EQ(t[2].at_s, 4.0);  // a bare number is seconds
}

TEST(ArrivalTrace, EachBadRowIsOneDiagnosticWithLineAndColumn) {
  const struct {
    const char* csv;
    const char* expected;  // a piece of the one message
  } cases[] = {
      {"at,prompt,new_tokens\n1s,2,3\n", "line 1: unknown column \"prompt\"; expected at, prompt_tokens, new_tokens, priority"},
      {"prompt_tokens,new_tokens\n2,3\n", "line 1: the header must name an \"at\" column"},
      {"at,prompt_tokens\n1s,2,3\n", "line 2: expected 2 comma-separated values, got 3"},
      {"at,prompt_tokens\ninf,2\n", "line 2, column at: expected a time such as \"1.5s\" or a finite number of seconds >= 0, got \"inf\""},
      {"at,prompt_tokens\n1e400,2\n", "line 2, column at: expected a time"},
      {"at,prompt_tokens\n-1s,2\n", "line 2, column at: expected a time"},
      {"at,prompt_tokens\n1s,-2\n", "line 2, column prompt_tokens: expected an integer >= 0, got \"-2\""},
      {"at,new_tokens\n1s,99999999\n", "line 2, column new_tokens: expected an integer >= 0, got \"99999999\""},
      {"at\n2s\n1s\n", "line 3: arrivals must be in time order"},
      {"at\n", "the trace has no arrivals"},
  };
  for (const auto& c : cases) {
    const Loaded l = load_with_trace(c.csv);
    ASSERT_FALSE(l.scenario) << c.csv;
    ASSERT_EQ(l.problems.size(), 1u) << c.csv;
    EXPECT_EQ(l.problems[0].rfind("workload.arrival.file: ", 0), 0u) << l.problems[0];
    EXPECT_NE(l.problems[0].find("swarmsim_arrival_trace_test.csv"), std::string::npos) << l.problems[0];
    EXPECT_NE(l.problems[0].find(c.expected), std::string::npos) << c.csv << " gave " << l.problems[0];
  }
}
