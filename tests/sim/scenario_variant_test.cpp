// compare --variant and --vary: what the command line says becomes labelled scenario overrides,
// combined into every combination, and the comparison's grid, CSV and JSON show them.
#include <gtest/gtest.h>

#include <limits>

#include "sim/experiment/comparison.hpp"
#include "sim/experiment/scenario_variant.hpp"
#include "tests/sim/run_records.hpp"

using namespace swarmsim::experiment;
using swarmsim::sim::Override;

namespace {

std::vector<std::pair<std::string, std::string>> pairs(const std::vector<Override>& o) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Override& x : o) out.emplace_back(x.path, x.value);
  return out;
}

}  // namespace

TEST(ScenarioVariant, SplitsAtCommasOutsideBracketsAndQuotes) {
  EXPECT_EQ(split_top_level("a=1, b=2", ','), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(split_top_level(R"(x={"process": "fixed", "interval": "2s"},y=[1, 2],z="a,\"b,c")", ','),
            (std::vector<std::string>{R"(x={"process": "fixed", "interval": "2s"})", "y=[1, 2]", R"(z="a,\"b,c")"}));
  EXPECT_EQ(split_top_level("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(split_top_level("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
}

TEST(ScenarioVariant, AVariantIsANameAndAnyScenarioOverrides) {
  const ScenarioVariant plain = parse_variant_spec("shipped");
  EXPECT_EQ(plain.label, "shipped");
  EXPECT_TRUE(plain.overrides.empty());
  const ScenarioVariant slow =
      parse_variant_spec(R"(slow: nodes[0].uplink=100Mbps, workload.arrival={"process": "fixed", "interval": "2s"})");
  EXPECT_EQ(slow.label, "slow");
  EXPECT_EQ(pairs(slow.overrides), (std::vector<std::pair<std::string, std::string>>{
                                       {"nodes[0].uplink", "100Mbps"}, {"workload.arrival", R"({"process": "fixed", "interval": "2s"})"}}));
  for (const char* bad : {"", "no name:a=1", ":a=1", "x:", "x:a", "x:=1", "x:a=", "x:a=1,,b=2", "x:a=1,a=2"})
    EXPECT_THROW(parse_variant_spec(bad), VariantSpecError) << bad;
  try {
    parse_variant_spec("x:a=1,a=2");
  } catch (const VariantSpecError& e) {
    EXPECT_NE(std::string(e.what()).find("\"a\" is set twice"), std::string::npos) << e.what();
  }
}

TEST(ScenarioVariant, ASweepIsAVariantPerValue) {
  const std::vector<ScenarioVariant> sweep = parse_sweep("workload.batch_size=1, 32,64");
  ASSERT_EQ(sweep.size(), 3u);
  EXPECT_EQ(sweep[1].label, "workload.batch_size=32");
  EXPECT_EQ(pairs(sweep[2].overrides), (std::vector<std::pair<std::string, std::string>>{{"workload.batch_size", "64"}}));
  const std::vector<ScenarioVariant> json = parse_sweep(R"(churn={"mtbf": "1h"},null)");
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0].overrides[0].value, R"({"mtbf": "1h"})");
  for (const char* bad : {"workload.batch_size", "=1,2", "workload.batch_size=1", "workload.batch_size=1,,2", "workload.batch_size=1,1"})
    EXPECT_THROW(parse_sweep(bad), VariantSpecError) << bad;
}

TEST(ScenarioVariant, ListsCombineIntoEveryCombinationFirstListSlowest) {
  const std::vector<ScenarioVariant> v =
      combine_variants({{parse_variant_spec("a:x=1"), parse_variant_spec("b")}, parse_sweep("y=1,2,3")});
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0].label, "a, y=1");
  EXPECT_EQ(v[2].label, "a, y=3");
  EXPECT_EQ(v[3].label, "b, y=1");
  EXPECT_EQ(pairs(v[1].overrides), (std::vector<std::pair<std::string, std::string>>{{"x", "1"}, {"y", "2"}}));
  EXPECT_EQ(pairs(v[4].overrides), (std::vector<std::pair<std::string, std::string>>{{"y", "2"}}));
  EXPECT_TRUE(combine_variants({}).empty());
  // Two sweeps of one path, or two variants of one name, cannot be told apart.
  EXPECT_THROW(combine_variants({parse_sweep("y=1,2"), parse_sweep("y=3,4")}), VariantSpecError);
  EXPECT_THROW(combine_variants({{parse_variant_spec("a"), parse_variant_spec("a:x=1")}}), VariantSpecError);
}

// A comparison with variants prints a grid of the ranked metric per scenario (variants by
// policies), and its CSV and JSON say which variant each row is.
TEST(ScenarioVariant, TheComparisonShowsAGridAndWritesTheVariants) {
  auto run = [](const std::string& scenario, const std::string& policy, double tps, double p99) {
    RunRecord r = swarmsim::test::record(scenario, policy, tps);
    r.values[metric_index("session_p99_s")] = p99;
    return r;
  };
  const std::vector<std::string> names{"s [bw=1Gbps]", "s [bw=10Mbps]"};
  Comparison c = aggregate(names, {"s.json", "s.json"}, parse_policy_list("eq18,random"), 1,
                           {run(names[0], "eq18", 12.5, 10), run(names[0], "random", 10, 10), run(names[1], "eq18", 3.25, 50),
                            run(names[1], "random", 2, 20)},
                           {}, {parse_run_limit("session_p99_s=30s")});
  c.origins = {{"s", "bw=1Gbps", {{"network.bandwidth", "1Gbps"}}}, {"s", "bw=10Mbps", {{"network.bandwidth", "10Mbps"}}}};
  const std::string tables = format_tables(c);
  const std::size_t grid = tables.find("variants of s: mean tokens/s over 1 seed");
  ASSERT_NE(grid, std::string::npos) << tables;
  const std::string after = tables.substr(grid);
  // Rows in the variants' order, values per policy; eq18 broke the limit at 10 Mbit/s.
  EXPECT_NE(after.find("bw=1Gbps"), std::string::npos);
  EXPECT_LT(after.find("bw=1Gbps"), after.find("bw=10Mbps"));
  EXPECT_NE(after.find("12.500"), std::string::npos) << after;
  EXPECT_NE(after.find("3.250 *"), std::string::npos) << after;
  EXPECT_EQ(after.find("2.000 *"), std::string::npos) << after;
  EXPECT_NE(after.find("some of the cell's runs broke a limit"), std::string::npos);

  const std::string csv = to_csv(c);
  EXPECT_NE(csv.find(",runs_over_limits,variant,set:network.bandwidth\n"), std::string::npos) << csv.substr(0, 200);
  EXPECT_NE(csv.find(",1,bw=10Mbps,10Mbps\n"), std::string::npos) << csv;  // eq18 at 10 Mbit/s: 1 run over
  const nlohmann::ordered_json j = to_json(c);
  EXPECT_EQ(j["scenarios"][1]["base"], "s");
  EXPECT_EQ(j["scenarios"][1]["variant"], "bw=10Mbps");
  EXPECT_EQ(j["scenarios"][1]["overrides"]["network.bandwidth"], "10Mbps");

  // Without variants: no grid, empty variant column, no set: columns.
  c.origins.clear();
  EXPECT_EQ(format_tables(c).find("variants of"), std::string::npos);
  EXPECT_NE(to_csv(c).find(",runs_over_limits,variant\n"), std::string::npos);
  EXPECT_FALSE(to_json(c)["scenarios"][0].contains("variant"));
}
