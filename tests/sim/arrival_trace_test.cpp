// Arrival traces (workload.arrival.process "trace"): a CSV file of arrivals. Good rows load with
// units and defaults; each kind of bad row is one diagnostic naming the scenario's JSON path, the
// CSV file, its line and column.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "sim/flow/flow_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/json_mutation.hpp"
#include "tests/sim/two_cities.hpp"
#include "tests/temp_path.hpp"
#include "tests/sim/flow_run.hpp"

using namespace swarmsim::sim;

namespace {

/// Loads the two-city scenario with its arrivals from a CSV of `text`; returns the scenario or
/// the diagnostics' "path: message" lines.
struct Loaded {
  std::optional<Scenario> scenario;
  std::vector<std::string> problems;
};

Loaded load_with_trace(const std::string& text) {
  const std::filesystem::path csv = swarmsim::test::temp_path("swarmsim_arrival_trace_test.csv");
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

// Random edits of a good trace (a cell replaced by an odd token, a cell or a line dropped or
// doubled, a stray quote, tab or NUL): the file loads, and then every arrival is a finite time in
// order and the run accounts for each one, or it is one diagnostic naming the file and a line.
TEST(ArrivalTrace, MutatedTracesLoadAndRunOrNameTheLine) {
  const std::vector<std::string> good{"# arrivals", "at,prompt_tokens,new_tokens,priority", "0.5s,16,4,0", "1s,8,0,1",
                                      "1500ms,0,2,0",  "2,4,4,3"};
  static const char* tokens[] = {"", "-1", "1e400", "nan", "inf", "0x10", "1s5", "5 s", "\"3\"", "2147483648", "1e-320",
                                 "99999999999999999999", "priority", "at", "ms", "  7  ", "1.5.2", "+3", "\t"};
  swarmsim::sim::Rng rng = swarmsim::testing::fuzz_rng(53);
  int loaded = 0, rejected = 0;
  const int n = swarmsim::testing::fuzz_mutants(400);
  for (int k = 0; k < n; ++k) {
    std::vector<std::string> lines = good;
    std::string what;
    for (int edits = 1 + static_cast<int>(rng.below(2)); edits > 0; --edits) {
      const std::size_t i = rng.below(lines.size());
      std::vector<std::string> cells;
      for (std::size_t at = 0;;) {
        const std::size_t comma = lines[i].find(',', at);
        cells.push_back(lines[i].substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (comma == std::string::npos) break;
        at = comma + 1;
      }
      const std::size_t c = rng.below(cells.size());
      switch (rng.below(6)) {
        case 0: cells[c] = tokens[rng.below(std::size(tokens))]; break;
        case 1: cells.erase(cells.begin() + static_cast<long>(c)); break;
        case 2: cells.insert(cells.begin() + static_cast<long>(c), cells[c]); break;
        case 3: lines.erase(lines.begin() + static_cast<long>(i)); break;
        case 4: lines.insert(lines.begin() + static_cast<long>(i), lines[i]); break;
        default: cells[c].insert(rng.below(cells[c].size() + 1), 1, "\"'\t;\0"[rng.below(5)]); break;
      }
      if (i < lines.size() && lines[i].find(',') != std::string::npos) {
        std::string joined;
        for (std::size_t m = 0; m < cells.size(); ++m) joined += (m ? "," : "") + cells[m];
        lines[i] = joined;
      }
      what += "edit of line " + std::to_string(i + 1) + "; ";
    }
    std::string text;
    for (const std::string& l : lines) text += l + "\n";
    const Loaded l = load_with_trace(text);
    if (!l.scenario) {
      ++rejected;
      ASSERT_FALSE(l.problems.empty()) << what;
      EXPECT_EQ(l.problems[0].rfind("workload.arrival.file: ", 0), 0u) << what << l.problems[0];
      EXPECT_NE(l.problems[0].find("swarmsim_arrival_trace_test.csv"), std::string::npos) << what << l.problems[0];
      continue;
    }
    ++loaded;
    const auto& t = l.scenario->workload.trace;
    ASSERT_EQ(static_cast<int>(t.size()), l.scenario->workload.sessions) << what << text;
    for (std::size_t i = 0; i < t.size(); ++i) {
      EXPECT_TRUE(std::isfinite(t[i].at_s) && t[i].at_s >= 0) << what << text;
      if (i > 0) {
        EXPECT_LE(t[i - 1].at_s, t[i].at_s) << what << text;
      }
    }
    const Scenario& sc = *l.scenario;
    const RunReport r = swarmsim::test::flow_run(sc);
    const auto& s = r.metrics.at("sessions");
    EXPECT_EQ(s.at("completed").get<int>() + s.at("failed").get<int>(), sc.workload.sessions) << what << r.metrics.dump();
  }
  std::printf("%d mutated traces loaded and ran, %d rejected\n", loaded, rejected);
  if (n >= 400) {
    EXPECT_GT(loaded, 40);
    EXPECT_GT(rejected, 100);
  }
}
