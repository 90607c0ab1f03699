// What `swarmsim compare` and `swarmsim tune` compute without running anything: policy specs
// (parsing, grouping, errors, tune files), the statistics over seeds with known answers, ranks
// and throughput ratios, CSV escaping, and the tuning score.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "sim/experiment/comparison.hpp"
#include "sim/experiment/policy_spec.hpp"
#include "tests/sim/run_records.hpp"
#include "sim/experiment/tuning_score.hpp"

using namespace swarmsim::experiment;
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// The message of the PolicySpecError `spec` throws ("" when it parses).
std::string spec_error(const std::string& spec) {
  try {
    (void)parse_policy_list(spec);
  } catch (const PolicySpecError& e) {
    return e.what();
  }
  return "";
}

/// A file in a fresh temporary folder, removed with it.
struct TempFile {
  fs::path dir = fs::temp_directory_path() / ("swarmsim-policy-test-" + std::to_string(::getpid()));
  fs::path path;
  TempFile(const std::string& name, const std::string& text) : path(dir / name) {
    fs::create_directories(dir);
    std::ofstream(path) << text;
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

using swarmsim::test::record;

std::vector<PolicyVariant> two_policies() { return parse_policy_list("eq18,random"); }

}  // namespace

// ---- policy specs ----

TEST(PolicySpec, PlainRouterNamesSetTheRouter) {
  for (const char* name : {"eq18", "shortest_path", "random"}) {
    const PolicyVariant v = parse_policy_spec(name);
    EXPECT_EQ(v.label, name);
    EXPECT_EQ(v.spec, name);
    ASSERT_EQ(v.overrides.size(), 1u);
    EXPECT_EQ(v.overrides[0].path, "policy.router");
    EXPECT_EQ(v.overrides[0].value, name);
  }
}

TEST(PolicySpec, NameWithKeysBecomesPolicyOverrides) {
  const PolicyVariant v = parse_policy_spec("tuned:router=eq18,gamma=1.4,beta=-0.6,policy.alpha=-2,context=1,faults.retries=5");
  EXPECT_EQ(v.label, "tuned");
  ASSERT_EQ(v.overrides.size(), 6u);
  EXPECT_EQ(v.overrides[0].path, "policy.router");
  EXPECT_EQ(v.overrides[1].path, "policy.gamma");
  EXPECT_EQ(v.overrides[1].value, "1.4");
  EXPECT_EQ(v.overrides[2].value, "-0.6");
  EXPECT_EQ(v.overrides[3].path, "policy.alpha");  // a leading "policy." is accepted
  EXPECT_EQ(v.overrides[4].path, "policy.context");
  EXPECT_EQ(v.overrides[5].path, "policy.faults.retries");
}

TEST(PolicySpec, AFisherTreesRulesAreItsPolicyKeys) {
  const PolicyVariant v = parse_policy_spec("eager:model.tree.balance_period=500ms,model.tree.split.load_ratio=1.1,gamma=2");
  ASSERT_EQ(v.overrides.size(), 3u);
  EXPECT_EQ(v.overrides[0].path, "model.tree.balance_period");
  EXPECT_EQ(v.overrides[0].value, "500ms");
  EXPECT_EQ(v.overrides[1].path, "model.tree.split.load_ratio");
  EXPECT_EQ(v.overrides[2].path, "policy.gamma");
  EXPECT_NE(spec_error("x:model.name=Llama-3-8B").find("model.tree.* keys"), std::string::npos) << "only the tree's keys";
}

TEST(PolicySpec, ListGroupsKeyValuePiecesWithThePreviousNamedSpec) {
  const std::vector<PolicyVariant> list = parse_policy_list("eq18, tuned:router=eq18,gamma=1.5,alpha=-2,shortest_path,random");
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].label, "eq18");
  EXPECT_EQ(list[1].label, "tuned");
  EXPECT_EQ(list[1].spec, "tuned:router=eq18,gamma=1.5,alpha=-2");
  EXPECT_EQ(list[1].overrides.size(), 3u);
  EXPECT_EQ(list[2].label, "shortest_path");
  EXPECT_EQ(list[3].label, "random");
}

TEST(PolicySpec, ErrorsNameTheSpecAndWhatWasExpected) {
  EXPECT_NE(spec_error("eq18,fastest").find("unknown policy \"fastest\""), std::string::npos) << spec_error("eq18,fastest");
  EXPECT_NE(spec_error("eq81").find("(did you mean \"eq18\"?)"), std::string::npos) << spec_error("eq81");
  EXPECT_NE(spec_error("x:gama=2").find("unknown policy key \"gama\" (did you mean \"gamma\"?)"), std::string::npos)
      << spec_error("x:gama=2");
  EXPECT_NE(spec_error("x:router=dijkstra").find("unknown router \"dijkstra\""), std::string::npos);
  EXPECT_NE(spec_error("x:gamma").find("is not key=value"), std::string::npos) << spec_error("x:gamma");
  EXPECT_NE(spec_error("x:gamma=").find("\"gamma\" has no value"), std::string::npos) << spec_error("x:gamma=");
  EXPECT_NE(spec_error("x:").find("nothing after ':'"), std::string::npos);
  EXPECT_NE(spec_error("gamma=2,eq18").find("has no policy to belong to"), std::string::npos) << spec_error("gamma=2,eq18");
  EXPECT_NE(spec_error("eq18,gamma=2").find("has no policy to belong to"), std::string::npos);
  EXPECT_NE(spec_error("eq18,,random").find("empty policy spec"), std::string::npos) << spec_error("eq18,,random");
  EXPECT_NE(spec_error("").find("empty policy spec"), std::string::npos);
  EXPECT_NE(spec_error("eq18,eq18").find("the label \"eq18\" appears twice"), std::string::npos);
  EXPECT_NE(spec_error("my policy:gamma=2").find("is not a usable name"), std::string::npos);
  EXPECT_NE(spec_error("@/nonexistent/tuned.json").find("cannot read /nonexistent/tuned.json"), std::string::npos);
  // A key set twice in one policy was silently the last one; a list written with ';' hid two policies that way.
  EXPECT_NE(spec_error("x:gamma=2,gamma=3").find("sets policy.gamma twice (\"2\", then \"3\")"), std::string::npos)
      << spec_error("x:gamma=2,gamma=3");
  const std::string semi = spec_error("a:gamma=2;b:gamma=3,gamma=1");
  EXPECT_NE(semi.find("sets policy.gamma twice"), std::string::npos) << semi;
  EXPECT_NE(semi.find("separate policies with commas, not ';'"), std::string::npos) << semi;
}

TEST(PolicySpec, FileSpecReadsTheTuneOutputAndIsLabelledByTheFileStem) {
  const TempFile f("tuned-eq18.json", R"({"kind": "swarmsim-tune", "policy": "tuned:router=eq18,gamma=1.25,beta=-0.5,alpha=-2"})");
  const std::vector<PolicyVariant> list = parse_policy_list("eq18,@" + f.path.string());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].label, "tuned-eq18");
  EXPECT_EQ(list[1].spec, "@" + f.path.string());
  ASSERT_EQ(list[1].overrides.size(), 4u);
  EXPECT_EQ(list[1].overrides[1].path, "policy.gamma");
  EXPECT_EQ(list[1].overrides[1].value, "1.25");
}

TEST(PolicySpec, FileSpecErrorsNameTheFile) {
  const TempFile no_policy("a.json", R"({"theta": [1, -1, -1]})");
  const std::string e1 = spec_error("@" + no_policy.path.string());
  EXPECT_NE(e1.find(no_policy.path.string() + ": policy: missing"), std::string::npos) << e1;
  const TempFile syntax("b.json", "{\"policy\": ");
  EXPECT_NE(spec_error("@" + syntax.path.string()).find("JSON syntax error"), std::string::npos);
  const TempFile bad_key("c.json", R"({"policy": "t:gamma=1,colour=2"})");
  const std::string e3 = spec_error("@" + bad_key.path.string());
  EXPECT_NE(e3.find(bad_key.path.string() + ": policy: "), std::string::npos) << e3;
  EXPECT_NE(e3.find("unknown policy key \"colour\""), std::string::npos) << e3;
}

TEST(PolicySpec, Eq18SpecWritesNumbersThatReadBackExactly) {
  const double g = 1.0 / 3.0, b = -0.1 - 0.2, a = 2.0;
  const std::string spec = eq18_policy_spec("tuned", g, b, a);
  EXPECT_EQ(spec.rfind("tuned:router=eq18,gamma=", 0), 0u) << spec;
  const PolicyVariant v = parse_policy_spec(spec);
  ASSERT_EQ(v.overrides.size(), 4u);
  EXPECT_EQ(std::stod(v.overrides[1].value), g);
  EXPECT_EQ(std::stod(v.overrides[2].value), b);
  EXPECT_EQ(v.overrides[3].value, "2");
}

// ---- statistics over seeds ----

TEST(Comparison, SummarizeGivesMeanAndSampleStandardDeviation) {
  const std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};  // mean 5, squared deviations sum to 32
  const Stats s = summarize(v);
  EXPECT_EQ(s.n, 8);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(32.0 / 7.0));  // n − 1 denominator

  const std::vector<double> one{3.5};
  EXPECT_DOUBLE_EQ(summarize(one).mean, 3.5);
  EXPECT_DOUBLE_EQ(summarize(one).sd, 0.0);

  const std::vector<double> with_nan{1, kNaN, 3};  // NaN (no data) is left out, not counted as 0
  EXPECT_EQ(summarize(with_nan).n, 2);
  EXPECT_DOUBLE_EQ(summarize(with_nan).mean, 2.0);
  EXPECT_DOUBLE_EQ(summarize(with_nan).sd, std::sqrt(2.0));

  const std::vector<double> none{kNaN};
  EXPECT_EQ(summarize(none).n, 0);
  EXPECT_TRUE(std::isnan(summarize(none).mean));
}

TEST(Comparison, ExtractMetricsLeavesOutPercentilesOverNoSamples) {
  const nlohmann::json m = nlohmann::json::parse(R"({
    "throughput": {"tokens_per_s": 12.5},
    "latency_s": {"per_token": {"count": 0, "p50": 0, "p99": 0},
                  "time_to_first_token": {"count": 3, "p50": 0.25},
                  "session": {"count": 3, "p50": 9.5, "p99": 40.0}},
    "sessions": {"failed": 2},
    "network": {"bytes_moved": 1048576},
    "verification": {"corrupted_tokens": 54, "check_device_seconds": 3.5, "honest_servers_banned": 1}
  })");
  const std::vector<double> v = extract_metrics(m);
  ASSERT_EQ(v.size(), compared_metrics().size());
  EXPECT_DOUBLE_EQ(v[metric_index("tokens_per_s")], 12.5);
  EXPECT_DOUBLE_EQ(v[metric_index("corrupted_tokens")], 54);
  EXPECT_DOUBLE_EQ(v[metric_index("check_device_s")], 3.5);
  EXPECT_DOUBLE_EQ(v[metric_index("honest_servers_banned")], 1);
  EXPECT_DOUBLE_EQ(v[metric_index("session_p50_s")], 9.5);
  EXPECT_DOUBLE_EQ(v[metric_index("session_p99_s")], 40.0);
  EXPECT_TRUE(std::isnan(v[metric_index("poisoned_steps")]));  // not a fine-tuning run
  EXPECT_TRUE(std::isnan(v[metric_index("per_token_p50_s")]));
  EXPECT_TRUE(std::isnan(v[metric_index("per_token_p99_s")]));
  EXPECT_DOUBLE_EQ(v[metric_index("ttft_p50_s")], 0.25);
  EXPECT_DOUBLE_EQ(v[metric_index("sessions_failed")], 2);
  EXPECT_DOUBLE_EQ(v[metric_index("bytes_moved")], 1048576);
  EXPECT_TRUE(std::isnan(v[metric_index("recoveries")]));  // absent
  EXPECT_TRUE(std::isnan(v[metric_index("token_software_s")]));  // no breakdown
}

// A Fisher B-tree's or a pipeline's metrics: requests/s, request latency over the completed
// requests, requests failed, accuracy; the token columns stay empty.
TEST(Comparison, ExtractMetricsReadsRequestBasedRuns) {
  nlohmann::json m = nlohmann::json::parse(R"({
    "kind": "tree",
    "throughput": {"requests_per_s": 150.5},
    "latency_s": {"p50": 0.05, "p90": 0.07, "p99": 0.12, "max": 0.3},
    "requests": {"completed": 600, "failed": 2},
    "answers": {"accuracy": 0.625},
    "network": {"bytes_moved": 2048}
  })");
  std::vector<double> v = extract_metrics(m);
  EXPECT_DOUBLE_EQ(v[metric_index("requests_per_s")], 150.5);
  EXPECT_DOUBLE_EQ(v[metric_index("request_p50_s")], 0.05);
  EXPECT_DOUBLE_EQ(v[metric_index("request_p99_s")], 0.12);
  EXPECT_DOUBLE_EQ(v[metric_index("requests_failed")], 2);
  EXPECT_DOUBLE_EQ(v[metric_index("accuracy")], 0.625);
  EXPECT_TRUE(std::isnan(v[metric_index("tokens_per_s")]));
  EXPECT_TRUE(std::isnan(v[metric_index("per_token_p50_s")]));
  EXPECT_TRUE(std::isnan(v[metric_index("decoded_share")])) << "a tree decodes nothing: no column, not 0%";
  m["requests"]["completed"] = 0;  // nothing answered: no latency or accuracy, not 0
  v = extract_metrics(m);
  EXPECT_TRUE(std::isnan(v[metric_index("request_p50_s")]));
  EXPECT_TRUE(std::isnan(v[metric_index("accuracy")]));
}

// A coded run's table adds the share of requests completed by decoding; a tree's does not.
TEST(Comparison, CodedRunsShowTheirDecodedShare) {
  const nlohmann::json coded = nlohmann::json::parse(R"({
    "kind": "coded",
    "throughput": {"requests_per_s": 40.0},
    "latency_s": {"p50": 0.036, "p90": 0.05, "p99": 0.096, "max": 0.15},
    "requests": {"completed": 4000, "failed": 0},
    "answers": {"accuracy": 0.79, "decoded_share": 0.304},
    "network": {"bytes_moved": 1e9}
  })");
  RunRecord r;
  r.scenario = "coded";
  r.policy = "coin";
  r.ok = true;
  r.values = extract_metrics(coded);
  EXPECT_DOUBLE_EQ(r.values[metric_index("decoded_share")], 0.304);
  const Comparison c = aggregate({"coded"}, {"coded.json"}, parse_policy_list("coin:model.coded.method=coin"), 1, {r});
  const std::string table = format_tables(c);
  EXPECT_NE(table.find("decoded"), std::string::npos) << table;
  EXPECT_NE(table.find("30.40%"), std::string::npos) << table;
}

// Scenarios without tokens rank and compare by requests/s, and their tables show the request
// columns, not the token ones.
TEST(Comparison, RequestBasedScenariosRankByRequestsPerSecond) {
  const auto tree_run = [](const std::string& policy, double rps, double accuracy) {
    RunRecord r;
    r.scenario = "tree";
    r.policy = policy;
    r.ok = true;
    r.values.assign(compared_metrics().size(), kNaN);
    r.values[metric_index("requests_per_s")] = rps;
    r.values[metric_index("request_p50_s")] = 0.05;
    r.values[metric_index("requests_failed")] = 1;
    r.values[metric_index("accuracy")] = accuracy;
    return r;
  };
  const Comparison c = aggregate({"tree"}, {"tree.json"}, parse_policy_list("static:model.tree.balance_period=0s,balanced:gamma=1"), 1,
                                 {tree_run("static", 100, 0.6), tree_run("balanced", 150, 0.5)});
  EXPECT_DOUBLE_EQ(c.summary[0].mean_rank, 2.0);
  EXPECT_DOUBLE_EQ(c.summary[1].mean_rank, 1.0);
  EXPECT_DOUBLE_EQ(c.summary[1].ratio, 1.5);
  EXPECT_DOUBLE_EQ(c.summary[1].sessions_failed, 1.0) << "requests failed count as failures";
  const std::string table = format_tables(c);
  EXPECT_NE(table.find("requests/s"), std::string::npos) << table;
  EXPECT_NE(table.find("150.000 ± 0.000"), std::string::npos) << table;
  EXPECT_NE(table.find("60.00%"), std::string::npos) << table;
  const std::string head = table.substr(0, table.find("summary"));  // the scenario's own table
  EXPECT_EQ(head.find("token p50"), std::string::npos) << table;
  EXPECT_EQ(head.find("tokens/s"), std::string::npos) << table;
}

// An open-loop workload's tokens/s is bounded by its arrivals, so a user may rank by a latency
// instead: lower is better there, and the summary's ratio is of that metric.
TEST(Comparison, RanksByAChosenMetricInItsDirection) {
  const auto with = [](RunRecord r, double session_p99, double recoveries) {
    r.values[metric_index("session_p99_s")] = session_p99;
    r.values[metric_index("recoveries")] = recoveries;
    return r;
  };
  // s1: eq18 has the higher tokens/s and the shorter tail; s2: random has both.
  const std::vector<RunRecord> runs{with(record("s1", "eq18", 30), 12.0, 0), with(record("s1", "random", 28), 48.0, 15),
                                    with(record("s2", "eq18", 20), 10.0, 2), with(record("s2", "random", 10), 90.0, 4)};
  const Comparison by_tail = aggregate({"s1", "s2"}, {"s1.json", "s2.json"}, two_policies(), 1, runs, "session_p99_s");
  EXPECT_EQ(by_tail.rank_by, "session_p99_s");
  EXPECT_DOUBLE_EQ(by_tail.summary[0].mean_rank, 1.0);
  EXPECT_DOUBLE_EQ(by_tail.summary[1].mean_rank, 2.0);
  EXPECT_NEAR(by_tail.summary[1].ratio, std::sqrt(4.0 * 9.0), 1e-12);  // geometric mean of 48/12 and 90/10
  const Comparison by_throughput = aggregate({"s1", "s2"}, {"s1.json", "s2.json"}, two_policies(), 1, runs);
  EXPECT_DOUBLE_EQ(by_throughput.summary[1].mean_rank, 2.0);
  EXPECT_NEAR(by_throughput.summary[1].ratio, std::sqrt(28.0 / 30.0 * 0.5), 1e-12);
  // The ranks follow the chosen metric alone: with eq18's tail now the longer one on s1 (its
  // tokens/s still the higher), each policy wins one scenario.
  std::vector<RunRecord> mixed = runs;
  mixed[0] = with(record("s1", "eq18", 30), 50.0, 0);
  const Comparison split = aggregate({"s1", "s2"}, {"s1.json", "s2.json"}, two_policies(), 1, mixed, "session_p99_s");
  EXPECT_DOUBLE_EQ(split.summary[0].mean_rank, 1.5);
  EXPECT_DOUBLE_EQ(split.summary[1].mean_rank, 1.5);

  const std::string table = format_tables(by_tail);
  EXPECT_NE(table.find("session_p99_s vs eq18"), std::string::npos) << table;
  EXPECT_NE(table.find("lower is better"), std::string::npos) << table;
  const std::string head = table.substr(0, table.find("summary"));
  EXPECT_NE(head.find("session_p99_s"), std::string::npos) << "the ranked metric is shown in each scenario's table:\n" << table;
  EXPECT_NE(head.find("48.000 s"), std::string::npos) << table;
  EXPECT_EQ(format_tables(by_throughput).substr(0, table.find("summary")).find("session_p99_s"), std::string::npos);
  EXPECT_EQ(to_json(by_tail)["rank_by"], "session_p99_s");
  EXPECT_EQ(to_json(by_throughput)["rank_by"], "throughput");
  EXPECT_NEAR(to_json(by_tail)["summary"][1]["ratio"].get<double>(), 6.0, 1e-12);

  EXPECT_THROW(aggregate({"s1"}, {"s1.json"}, two_policies(), 1, runs, "decoded_share"), std::invalid_argument);
  try {
    aggregate({"s1"}, {"s1.json"}, two_policies(), 1, runs, "session_p90_s");
    ADD_FAILURE() << "an unknown key was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cannot rank by \"session_p90_s\"; expected one of \"tokens_per_s\""), std::string::npos) << e.what();
  }
  EXPECT_EQ(better_direction(compared_metrics()[metric_index("accuracy")]), Better::Higher);
  EXPECT_EQ(better_direction(compared_metrics()[metric_index("requests_per_s")]), Better::Higher);
  EXPECT_EQ(better_direction(compared_metrics()[metric_index("final_loss")]), Better::Lower);
}

TEST(Comparison, AParetoFrontKeepsThePointsNoOtherDominates) {
  // (tokens/s, J/token): B dominates C (as fast, cheaper); A and D are equal, so neither
  // dominates the other; F is the fastest and the dearest; E lacks an objective.
  const std::vector<std::vector<double>> points{{10, 5}, {8, 3}, {8, 4}, {10, 5}, {kNaN, 1}, {12, 9}, {7, 3}};
  const std::vector<bool> front = pareto_front(points, {Better::Higher, Better::Lower});
  EXPECT_EQ(front, (std::vector<bool>{true, true, false, true, false, true, false}));  // G: as cheap as B, slower
  // Lower in both (per-token p99 and J/token): only the points least in one coordinate and not beaten in the other.
  EXPECT_EQ(pareto_front({{1, 9}, {2, 2}, {9, 1}, {3, 3}}, {Better::Lower, Better::Lower}), (std::vector<bool>{true, true, true, false}));
}

// Cells of one base scenario compete across its variants; another scenario has its own front.
TEST(Comparison, ParetoFrontsAreDrawnPerBaseScenarioOverItsVariantsAndPolicies) {
  const auto with = [](RunRecord r, double joules) {
    r.values[metric_index("joules_per_token")] = joules;
    return r;
  };
  const std::vector<RunRecord> runs{with(record("s [a]", "eq18", 30), 50), with(record("s [a]", "random", 20), 40),
                                    with(record("s [b]", "eq18", 31), 60), with(record("s [b]", "random", 19), 45),
                                    with(record("t", "eq18", 5), 10),      with(record("t", "random", 4), 12)};
  Comparison c = aggregate({"s [a]", "s [b]", "t"}, {"s.json", "s.json", "t.json"}, two_policies(), 1, runs);
  c.origins = {{"s", "a", {}}, {"s", "b", {}}, {"t", "base", {}}};
  mark_pareto_front(c, {"tokens_per_s", "joules_per_token"});
  // s: a/eq18 (30, 50), a/random (20, 40), b/eq18 (31, 60) on the front; b/random (19, 45) is beaten by a/random.
  // t: eq18 is faster and cheaper than random.
  EXPECT_EQ(c.on_front, (std::vector<char>{1, 1, 1, 0, 1, 0}));
  const std::string table = format_tables(c);
  EXPECT_NE(table.find("Pareto front over tokens/s (higher), J/token (lower)"), std::string::npos) << table;
  EXPECT_NE(table.find("    a / random  (20.000, 40 J)\n"), std::string::npos) << table;
  EXPECT_NE(table.find("    dominated: b / random\n"), std::string::npos) << table;
  EXPECT_NE(table.find("    dominated: base / random\n"), std::string::npos) << table;
  const auto j = to_json(c);
  EXPECT_EQ(j["pareto"]["objectives"][1], "joules_per_token");
  EXPECT_EQ(j["pareto"]["front"].size(), 4u);
  EXPECT_EQ(j["pareto"]["front"][3]["scenario"], "t");
  EXPECT_EQ(j["pareto"]["front"][3]["policy"], "eq18");

  EXPECT_THROW(mark_pareto_front(c, {"tokens_per_s"}), std::invalid_argument);
  EXPECT_THROW(mark_pareto_front(c, {"tokens_per_s", "tokens_per_s"}), std::invalid_argument);
  EXPECT_THROW(mark_pareto_front(c, {"tokens_per_s", "decoded_share"}), std::invalid_argument);  // no direction
}

// Where the best policy delivers about what the arrivals offer, tokens/s cannot tell the policies
// apart and the table says so; not below 90% of the offer, nor when ranked by another metric.
TEST(Comparison, NotesWhenTheArrivalsBoundTokensPerSecond) {
  const std::vector<RunRecord> runs{record("s1", "eq18", 31.5), record("s1", "random", 27.4), record("s2", "eq18", 14.9),
                                    record("s2", "random", 14.5)};
  Comparison c = aggregate({"s1", "s2"}, {"s1.json", "s2.json"}, two_policies(), 1, runs);
  c.offered_tokens_per_s = {32.0, 25.6};
  std::string table = format_tables(c);
  const std::size_t s2 = table.find("scenario s2");
  ASSERT_NE(s2, std::string::npos) << table;
  const std::size_t note = table.find("note: the arrivals offer 32.000 tokens/s, and the best policy delivers 98.4% of it");
  EXPECT_LT(note, s2) << table;  // under s1's table
  EXPECT_EQ(table.find("note:", s2), std::string::npos) << "s2's best is 58% of its offer:\n" << table;
  c.offered_tokens_per_s = {40.0, std::nan("")};  // 79%: the policies may be slower than the arrivals
  EXPECT_EQ(format_tables(c).find("note:"), std::string::npos) << format_tables(c);
  Comparison ranked = aggregate({"s1", "s2"}, {"s1.json", "s2.json"}, two_policies(), 1, runs, "per_token_p50_s");
  ranked.offered_tokens_per_s = {32.0, 25.6};
  EXPECT_EQ(format_tables(ranked).find("note:"), std::string::npos);
}

// The parts of a mean decode step reach compare.csv and compare.json, not the printed table, and
// a run whose sessions all failed has none (NaN, left out of the means) rather than 0 s.
TEST(Comparison, DecodeStepPartsGoToCsvAndJsonOnly) {
  const nlohmann::json m = nlohmann::json::parse(R"({"throughput": {"tokens_per_s": 2},
    "latency_breakdown_s": {"per_token": {"steps": 30, "software": 0.5, "propagation": 0.25, "waiting": 0}}})");
  const std::vector<double> v = extract_metrics(m);
  EXPECT_DOUBLE_EQ(v[metric_index("token_software_s")], 0.5);
  EXPECT_DOUBLE_EQ(v[metric_index("token_propagation_s")], 0.25);
  EXPECT_DOUBLE_EQ(v[metric_index("token_waiting_s")], 0.0);
  nlohmann::json none = m;
  none["latency_breakdown_s"]["per_token"]["steps"] = 0;
  EXPECT_TRUE(std::isnan(extract_metrics(none)[metric_index("token_software_s")]));

  RunRecord r = record("s", "eq18", 2);
  r.values = v;
  const Comparison c = aggregate({"s"}, {"s.json"}, parse_policy_list("eq18"), 1, {r});
  EXPECT_NE(to_csv(c).find(",token_software_s_mean,token_software_s_sd,token_software_s_n"), std::string::npos);
  EXPECT_NE(to_csv(c).find(",0.5,0,1,"), std::string::npos) << to_csv(c);
  EXPECT_DOUBLE_EQ(to_json(c)["cells"][0]["metrics"]["token_software_s"]["mean"].get<double>(), 0.5);
  EXPECT_EQ(format_tables(c).find("software"), std::string::npos) << format_tables(c);
}

TEST(Comparison, AggregateComputesCellsRanksAndGeometricThroughputRatios) {
  std::vector<RunRecord> runs{record("s1", "eq18", 10), record("s1", "eq18", 14), record("s1", "random", 6, 1),
                              record("s1", "random", 6, 3), record("s2", "eq18", 4), record("s2", "random", 16)};
  RunRecord failed = record("s2", "random", 0);
  failed.ok = false;
  failed.error = "the simulation process died";
  runs.push_back(failed);
  const Comparison c = aggregate({"s1", "s2"}, {"s1.json", "s2.json"}, two_policies(), 2, runs);
  ASSERT_EQ(c.cells.size(), 4u);
  const std::size_t tp = metric_index("tokens_per_s"), fail = metric_index("sessions_failed");
  EXPECT_EQ(c.cells[0].policy, "eq18");
  EXPECT_DOUBLE_EQ(c.cells[0].metrics[tp].mean, 12.0);
  EXPECT_DOUBLE_EQ(c.cells[0].metrics[tp].sd, std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(c.cells[1].metrics[fail].mean, 2.0);
  EXPECT_EQ(c.cells[3].runs, 2);
  EXPECT_EQ(c.cells[3].failed_runs, 1);
  EXPECT_EQ(c.cells[3].metrics[tp].n, 1);

  ASSERT_EQ(c.summary.size(), 2u);
  // s1: eq18 12 > random 6; s2: random 16 > eq18 4.
  EXPECT_DOUBLE_EQ(c.summary[0].mean_rank, 1.5);
  EXPECT_DOUBLE_EQ(c.summary[1].mean_rank, 1.5);
  EXPECT_DOUBLE_EQ(c.summary[0].ratio, 1.0);
  EXPECT_NEAR(c.summary[1].ratio, std::sqrt(0.5 * 4.0), 1e-12);  // geometric mean of 6/12 and 16/4
  EXPECT_EQ(c.summary[1].ratio_scenarios, 2);
  EXPECT_DOUBLE_EQ(c.summary[1].sessions_failed, 2.0);
  EXPECT_EQ(c.summary[1].failed_runs, 1);

  const std::string table = format_tables(c);
  EXPECT_NE(table.find("scenario s1"), std::string::npos) << table;
  EXPECT_NE(table.find("12.000 ± 2.828"), std::string::npos) << table;
  EXPECT_NE(table.find("1/2"), std::string::npos) << table;
}

TEST(Comparison, TiedThroughputSharesTheMeanRank) {
  const Comparison c = aggregate({"s"}, {"s.json"}, parse_policy_list("eq18,random,shortest_path"), 1,
                                 {record("s", "eq18", 5), record("s", "random", 5), record("s", "shortest_path", 9)});
  EXPECT_DOUBLE_EQ(c.summary[0].mean_rank, 2.5);
  EXPECT_DOUBLE_EQ(c.summary[1].mean_rank, 2.5);
  EXPECT_DOUBLE_EQ(c.summary[2].mean_rank, 1.0);
}

TEST(Comparison, CsvFieldsAreQuotedOnlyWhenNeeded) {
  EXPECT_EQ(csv_field("eq18"), "eq18");
  EXPECT_EQ(csv_field("tuned:router=eq18,gamma=1.5"), "\"tuned:router=eq18,gamma=1.5\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
  EXPECT_EQ(csv_field(""), "");
}

TEST(Comparison, CsvHasOneRowPerCellWithExactNumbersAndEmptyNaN) {
  const Comparison c = aggregate({"s"}, {"s.json"}, parse_policy_list("eq18,t:router=eq18,gamma=2"), 1,
                                 {record("s", "eq18", 0.1), record("s", "t", 2)});
  const std::string csv = to_csv(c);
  EXPECT_EQ(csv.rfind("scenario,policy,spec,runs,failed_runs,tokens_per_s_mean,tokens_per_s_sd,tokens_per_s_n,", 0), 0u) << csv;
  EXPECT_NE(csv.find("\ns,eq18,eq18,1,0,0.1,0,1,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\ns,t,\"t:router=eq18,gamma=2\",1,0,2,0,1,"), std::string::npos) << csv;

  const Comparison empty = aggregate({"s"}, {"s.json"}, parse_policy_list("eq18"), 1, {});
  EXPECT_NE(to_csv(empty).find("\ns,eq18,eq18,0,0,,,0,"), std::string::npos) << to_csv(empty);
  const nlohmann::json j = to_json(empty);
  EXPECT_TRUE(j["cells"][0]["metrics"]["tokens_per_s"]["mean"].is_null());
  EXPECT_EQ(j["kind"], "swarmsim-compare");
}

// compare --limit: each cell counts its completed runs that break a limit; a run without the
// limited metric breaks it; failed runs are not counted; the tables, CSV and JSON carry the counts.
TEST(Comparison, CountsTheRunsThatBreakALimit) {
  auto with_p99 = [](const std::string& policy, double p99) {
    RunRecord r = record("s", policy, 10.0);
    r.values[metric_index("session_p99_s")] = p99;
    return r;
  };
  RunRecord crashed = record("s", "random", 0.0);
  crashed.ok = false;
  crashed.values.clear();
  const RunLimit limit = parse_run_limit("session_p99_s=30s");
  const Comparison c = aggregate({"s"}, {"s.json"}, two_policies(), 3,
                                 {with_p99("eq18", 12.0), with_p99("eq18", 31.0), with_p99("eq18", 30.0), with_p99("random", 90.0),
                                  with_p99("random", std::numeric_limits<double>::quiet_NaN()), crashed},
                                 {}, {limit});
  ASSERT_EQ(c.cells.size(), 2u);
  EXPECT_EQ(c.cells[0].runs_over, 1);  // 31 s; 30 s is within "at most 30 s"
  EXPECT_EQ(c.cells[1].runs_over, 2);  // 90 s, and the run without a p99
  EXPECT_EQ(c.summary[0].runs_over, 1);
  EXPECT_EQ(c.summary[0].runs_completed, 3);
  EXPECT_EQ(c.summary[1].runs_over, 2);
  EXPECT_EQ(c.summary[1].runs_completed, 2);  // the crashed run is a failed run, not one over
  EXPECT_NE(format_tables(c).find("over limits"), std::string::npos);
  EXPECT_NE(format_tables(c).find("2 of 2"), std::string::npos) << format_tables(c);
  const std::string csv = to_csv(c);
  EXPECT_NE(csv.find(",runs_over_limits,variant\n"), std::string::npos);
  EXPECT_NE(csv.find(",1,\ns,random,"), std::string::npos) << csv;  // eq18's row ends in its count and no variant
  const nlohmann::ordered_json j = to_json(c);
  EXPECT_EQ(j["limits"][0]["metric"], "session_p99_s");
  EXPECT_DOUBLE_EQ(j["limits"][0]["bound"].get<double>(), 30.0);
  EXPECT_EQ(j["limits"][0]["at_most"], true);
  EXPECT_EQ(j["cells"][1]["runs_over_limits"], 2);
  EXPECT_EQ(j["summary"][0]["runs_over_limits"], 1);
  // Without limits nothing is counted or printed.
  const Comparison plain = aggregate({"s"}, {"s.json"}, two_policies(), 1, {with_p99("eq18", 31.0)});
  EXPECT_EQ(plain.cells[0].runs_over, 0);
  EXPECT_EQ(format_tables(plain).find("over limits"), std::string::npos);
  EXPECT_FALSE(to_json(plain)["cells"][0].contains("runs_over_limits"));
}

// With limits, a policy that breaks them less often ranks first within a scenario, whatever its
// ranked metric; among policies with the same share over, the metric decides.
TEST(Comparison, RanksThePoliciesWithinTheLimitsFirst) {
  auto run = [](const std::string& scenario, const std::string& policy, double tps, double p99) {
    RunRecord r = record(scenario, policy, tps);
    r.values[metric_index("session_p99_s")] = p99;
    return r;
  };
  const RunLimit limit = parse_run_limit("session_p99_s=30s");
  const std::vector<PolicyVariant> three = parse_policy_list("eq18,random,shortest_path");
  // s1: random is fastest but one of its two runs breaks 30 s; eq18 and shortest_path keep it.
  // s2: everyone keeps it, random fastest; s3: random and eq18 each break it once, eq18 faster.
  const std::vector<RunRecord> runs{
      run("s1", "eq18", 10, 20), run("s1", "eq18", 10, 25), run("s1", "random", 30, 20), run("s1", "random", 30, 40),
      run("s1", "shortest_path", 20, 29), run("s1", "shortest_path", 20, 30),
      run("s2", "eq18", 10, 5), run("s2", "eq18", 10, 5), run("s2", "random", 30, 5), run("s2", "random", 30, 5),
      run("s2", "shortest_path", 20, 5), run("s2", "shortest_path", 20, 5),
      run("s3", "eq18", 25, 50), run("s3", "eq18", 25, 10), run("s3", "random", 15, 50), run("s3", "random", 15, 10),
      run("s3", "shortest_path", 5, 10), run("s3", "shortest_path", 5, 10)};
  const Comparison c = aggregate({"s1", "s2", "s3"}, {"s1.json", "s2.json", "s3.json"}, three, 2, runs, {}, {limit});
  ASSERT_EQ(c.summary.size(), 3u);
  // Ranks per scenario: eq18 2, 3, 2; random 3, 1, 3; shortest_path 1, 2, 1.
  EXPECT_DOUBLE_EQ(c.summary[0].mean_rank, (2.0 + 3.0 + 2.0) / 3.0);
  EXPECT_DOUBLE_EQ(c.summary[1].mean_rank, (3.0 + 1.0 + 3.0) / 3.0);
  EXPECT_DOUBLE_EQ(c.summary[2].mean_rank, (1.0 + 2.0 + 1.0) / 3.0);
  // The throughput ratios do not change: they compare the metric alone.
  EXPECT_NEAR(c.summary[1].ratio, std::cbrt(3.0 * 3.0 * 0.6), 1e-12);
  EXPECT_NE(format_tables(c).find("share of its runs over limits first"), std::string::npos) << format_tables(c);
  // Without the limit the metric alone ranks: random 1, 1, 2.
  const Comparison plain = aggregate({"s1", "s2", "s3"}, {"s1.json", "s2.json", "s3.json"}, three, 2, runs);
  EXPECT_DOUBLE_EQ(plain.summary[1].mean_rank, (1.0 + 1.0 + 2.0) / 3.0);
  EXPECT_EQ(format_tables(plain).find("over limits first"), std::string::npos);
}

TEST(RunLimit, ParsesTheBoundInTheMetricsUnitAndSide) {
  const RunLimit p99 = parse_run_limit("session_p99_s=1.5min");
  EXPECT_EQ(p99.metric, "session_p99_s");
  EXPECT_DOUBLE_EQ(p99.bound, 90.0);
  EXPECT_TRUE(p99.at_most);
  const RunLimit tps = parse_run_limit("tokens_per_s=12.5");
  EXPECT_FALSE(tps.at_most);  // higher is better: at least
  EXPECT_DOUBLE_EQ(tps.bound, 12.5);
  EXPECT_DOUBLE_EQ(parse_run_limit("bytes_moved=1GiB").bound, 1073741824.0);
  EXPECT_EQ(limit_text(p99), "session_p99_s <= 90.000 s");
  EXPECT_EQ(limit_text(tps), "tokens_per_s >= 12.500");
  for (const char* bad : {"session_p99_s", "=30s", "session_p99_s=", "session_p99_s=30", "session_p99_s=-3s", "decoded_share=0.5",
                          "tokens_per_s=fast", "tokens_per_s=0", "tokens_per_s=12x"})
    EXPECT_THROW(parse_run_limit(bad), std::invalid_argument) << bad;
}

// ---- the tuning score ----

TEST(TuningScore, StartingTupleScoresOneMinusItsFailures) {
  ScoredRuns base{{{true, 10, 0, 4}, {true, 20, 0, 4}}, {{true, 3, 1, 4}}};
  EXPECT_DOUBLE_EQ(tuning_score(base, base), 1.0 - (0.0 + 0.0 + 0.25) / 3.0);
}

TEST(TuningScore, GeometricMeanOfPairedRatiosMinusThePenalty) {
  const ScoredRuns base{{{true, 10, 0, 4}}, {{true, 8, 0, 4}}};
  const ScoredRuns theta{{{true, 20, 0, 4}}, {{true, 4, 2, 4}}};  // ratios 2 and 0.5; half the sessions failed once
  EXPECT_NEAR(tuning_score(theta, base), 1.0 - 0.25, 1e-12);
  EXPECT_NEAR(tuning_score(theta, base, 2.0), 1.0 - 0.5, 1e-12);
  EXPECT_NEAR(tuning_score(theta, base, 0.0), 1.0, 1e-12);

  const ScoredRuns zero{{{true, 0, 4, 4}}, {{true, 8, 0, 4}}};  // no throughput: ratio clamped at 1e-3
  EXPECT_NEAR(tuning_score(zero, base, 0.0), std::sqrt(1e-3 * 1.0), 1e-12);
}

// tune --objective session_p99_s: a latency, so the ratio is the starting tuple's over θ's, and a
// run without one (every session failed) counts as the worst ratio.
TEST(TuningScore, ALowerIsBetterObjectiveScoresTheInverseRatio) {
  const ScoredRuns base{{{true, 12.0, 0, 4}}, {{true, 40.0, 0, 4}}};
  const ScoredRuns theta{{{true, 6.0, 0, 4}}, {{true, 80.0, 0, 4}}};  // half the tail on one, twice on the other
  EXPECT_NEAR(tuning_score(theta, base, 1.0, false), 1.0, 1e-12);
  const ScoredRuns better{{{true, 6.0, 0, 4}}, {{true, 10.0, 0, 4}}};  // ratios 2 and 4
  EXPECT_NEAR(tuning_score(better, base, 1.0, false), std::sqrt(8.0), 1e-12);
  EXPECT_NEAR(tuning_score(better, base, 1.0, true), std::sqrt(0.5 * 0.25), 1e-12);  // read as a throughput: worse
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  const ScoredRuns none{{{true, kNaN, 4, 4}}, {{true, 40.0, 0, 4}}};
  EXPECT_NEAR(tuning_score(none, base, 0.0, false), std::sqrt(1e-3 * 1.0), 1e-12);
  EXPECT_TRUE(std::isnan(tuning_score(base, none, 0.0, false)));  // the baseline must have a value to normalize by
}

TEST(TuningScore, AFailedRunIsNaNAndShapesMustMatch) {
  const ScoredRuns base{{{true, 10, 0, 4}}};
  EXPECT_TRUE(std::isnan(tuning_score({{{false, 0, 0, 0}}}, base)));
  EXPECT_TRUE(std::isnan(tuning_score(base, {{{false, 0, 0, 0}}})));
  EXPECT_THROW(tuning_score({}, base), std::invalid_argument);
  EXPECT_THROW(tuning_score({{}}, base), std::invalid_argument);
}

// tune --limit: the score is divided by 1 + μ times how far the runs break the bounds, relative to
// the bounds, on average.
TEST(TuningScore, LimitsCostTheirRelativeExcess) {
  const RunLimit p99{"session_p99_s", 20.0, true};      // at most 20 s
  const RunLimit rate{"tokens_per_s", 10.0, false};     // at least 10 tokens/s
  EXPECT_DOUBLE_EQ(limit_excess(p99, 15.0), 0.0);
  EXPECT_DOUBLE_EQ(limit_excess(p99, 20.0), 0.0);
  EXPECT_NEAR(limit_excess(p99, 22.0), 0.1, 1e-12);
  EXPECT_NEAR(limit_excess(rate, 8.0), 0.25, 1e-12);
  EXPECT_DOUBLE_EQ(limit_excess(rate, 12.0), 0.0);
  EXPECT_DOUBLE_EQ(limit_excess(p99, std::numeric_limits<double>::quiet_NaN()), 1.0);  // no value: broken

  // Two runs, equal objectives: one 10% over the p99 bound, one within; μ = 10.
  ScoredRuns base{{{true, 10, 0, 4, {15.0}}, {true, 10, 0, 4, {22.0}}}};
  EXPECT_NEAR(tuning_score(base, base, 1.0, true, {p99}), 1.0 / (1.0 + 10.0 * (0.0 + 0.1) / 2.0), 1e-12);
  EXPECT_NEAR(tuning_score(base, base, 1.0, true, {p99}, 2.0), 1.0 / (1.0 + 2.0 * 0.1 / 2.0), 1e-12);
  // The failure penalty comes first, then the division: a quarter of the sessions failed.
  const ScoredRuns failing{{{true, 10, 1, 4, {15.0}}, {true, 10, 1, 4, {22.0}}}};
  EXPECT_NEAR(tuning_score(failing, base, 1.0, true, {p99}), (1.0 - 0.25) / (1.0 + 10.0 * 0.1 / 2.0), 1e-12);
  // A negative score (failures at a penalty of 8) falls further instead of rising toward 0.
  EXPECT_NEAR(tuning_score(failing, base, 8.0, true, {p99}), (1.0 - 2.0) * (1.0 + 10.0 * 0.1 / 2.0), 1e-12);
  EXPECT_LT(tuning_score(failing, base, 8.0, true, {p99}), tuning_score(failing, base, 8.0, true));
  EXPECT_NEAR(tuning_score(base, base, 1.0, true), 1.0, 1e-12);  // no limits: the values are not read
  EXPECT_EQ(runs_over_limits(base, {p99}), 1);
  // Both limits on one run add up.
  const ScoredRuns both{{{true, 10, 0, 4, {22.0, 8.0}}}};
  EXPECT_NEAR(tuning_score(both, both, 1.0, true, {p99, rate}), 1.0 / (1.0 + 10.0 * (0.1 + 0.25)), 1e-12);
  EXPECT_EQ(runs_over_limits(both, {p99, rate}), 1);
  // A run must carry one value per limit.
  EXPECT_THROW(tuning_score(base, base, 1.0, true, {p99, rate}), std::invalid_argument);
}

// A fine-tuning run generates no tokens: it ranks and compares by trained tokens/s, and its table
// shows the step times and the updates a failure lost.
TEST(Comparison, FineTuningRunsCompareByTrainedTokens) {
  const auto run = [](const std::string& policy, double trained, int lost) {
    nlohmann::json m = nlohmann::json::parse(R"({
      "throughput": {"tokens_per_s": 0, "tokens_generated": 0},
      "latency_s": {"per_token": {"count": 0, "p50": 0}, "time_to_first_token": {"count": 0, "p50": 0}},
      "sessions": {"failed": 0},
      "fine_tuning": {"trained_tokens_per_s": 0, "step_time_s": {"count": 120, "p50": 7.25, "p99": 15.5},
                      "checkpoints": {"updates_lost": 0}}
    })");
    m["fine_tuning"]["trained_tokens_per_s"] = trained;
    m["fine_tuning"]["checkpoints"]["updates_lost"] = lost;
    RunRecord r;
    r.scenario = "lora";
    r.policy = policy;
    r.ok = true;
    r.values = extract_metrics(m);
    return r;
  };
  const RunRecord never = run("eq18", 1014.0, 25), often = run("random", 978.0, 3);
  EXPECT_TRUE(std::isnan(never.values[metric_index("tokens_per_s")]));
  EXPECT_DOUBLE_EQ(never.values[metric_index("trained_tokens_per_s")], 1014.0);
  EXPECT_DOUBLE_EQ(never.values[metric_index("step_p50_s")], 7.25);
  EXPECT_DOUBLE_EQ(never.values[metric_index("updates_lost")], 25);
  const Comparison c = aggregate({"lora"}, {"lora.json"}, parse_policy_list("eq18,random"), 1, {never, often});
  ASSERT_EQ(c.summary.size(), 2u);
  EXPECT_DOUBLE_EQ(c.summary[0].mean_rank, 1.0);  // more trained tokens/s ranks first
  EXPECT_DOUBLE_EQ(c.summary[1].mean_rank, 2.0);
  EXPECT_NEAR(c.summary[1].ratio, 978.0 / 1014.0, 1e-12);
  const std::string table = format_tables(c);
  EXPECT_NE(table.find("trained tok/s"), std::string::npos) << table;
  EXPECT_NE(table.find("1014.000"), std::string::npos) << table;
  EXPECT_NE(table.find("lost"), std::string::npos) << table;
  EXPECT_NE(table.find("step p99"), std::string::npos) << table;
  EXPECT_EQ(table.find("token p50"), std::string::npos) << table;  // no token columns
  EXPECT_EQ(table.find(" loss"), std::string::npos) << table;       // no loss proxy, no loss column
  // With workload.fine_tuning.loss, the proxy's held-out loss is a column, and its penalty in CSV.
  RunRecord with_loss = never;
  nlohmann::json m = nlohmann::json::parse(R"({"fine_tuning": {"trained_tokens_per_s": 1014, "loss": {"final": 0.1228, "penalty": 0.0012}}})");
  with_loss.values = extract_metrics(m);
  EXPECT_DOUBLE_EQ(with_loss.values[metric_index("final_loss")], 0.1228);
  EXPECT_DOUBLE_EQ(with_loss.values[metric_index("loss_penalty")], 0.0012);
  const std::string t2 = format_tables(aggregate({"lora"}, {"lora.json"}, parse_policy_list("eq18"), 1, {with_loss}));
  EXPECT_NE(t2.find("0.1228"), std::string::npos) << t2;
  EXPECT_EQ(t2.find("synced"), std::string::npos) << t2;  // lone sessions synchronize nothing
  // What ZeRO trades: the state a server holds per block and session, and the bytes synchronized.
  RunRecord zero = never;
  m = nlohmann::json::parse(R"({"fine_tuning": {"trained_tokens_per_s": 976, "training_bytes_per_block": 19726336, "sync": {"bytes": 4.5e9}}})");
  zero.values = extract_metrics(m);
  EXPECT_DOUBLE_EQ(zero.values[metric_index("training_bytes_per_block")], 19726336);
  EXPECT_DOUBLE_EQ(zero.values[metric_index("sync_bytes")], 4.5e9);
  const std::string t3 = format_tables(aggregate({"lora"}, {"lora.json"}, parse_policy_list("eq18"), 1, {zero}));
  EXPECT_NE(t3.find("held/block"), std::string::npos) << t3;
  EXPECT_NE(t3.find("synced"), std::string::npos) << t3;
  EXPECT_EQ(t3.find("poisoned"), std::string::npos) << t3;  // no dishonest server, no column
  // A dishonest server's poisoned steps are a column of their own.
  RunRecord poisoned = never;
  poisoned.values = extract_metrics(nlohmann::json::parse(R"({"fine_tuning": {"trained_tokens_per_s": 1053, "poisoned_steps": 44}})"));
  const std::string t4 = format_tables(aggregate({"lora"}, {"lora.json"}, parse_policy_list("eq18"), 1, {poisoned}));
  EXPECT_NE(t4.find("poisoned"), std::string::npos) << t4;
  EXPECT_NE(t4.find(" 44 "), std::string::npos) << t4;
}

// A fine-tuning run's checkpoints and averaging are policies too, as a tree's rules are.
TEST(PolicySpec, FineTuningKeysAreItsPolicies) {
  const PolicyVariant v = parse_policy_spec("pairs:workload.fine_tuning.replicas=2,workload.fine_tuning.sync_every=5");
  ASSERT_EQ(v.overrides.size(), 2u);
  EXPECT_EQ(v.overrides[0].path, "workload.fine_tuning.replicas");
  EXPECT_EQ(v.overrides[1].value, "5");
  try {
    parse_policy_spec("x:workload.sessions=3");  // the workload itself is not a policy
    ADD_FAILURE() << "workload.sessions was accepted as a policy key";
  } catch (const PolicySpecError& e) {
    EXPECT_NE(std::string(e.what()).find("fine-tuning's workload.fine_tuning.* keys"), std::string::npos) << e.what();
  }
}
