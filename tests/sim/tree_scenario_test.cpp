// model.tree in scenario files: what the loader reads, and the clear errors for what a Fisher
// B-tree cannot do or does not mean.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/scenario/scenario_advice.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;
using nlohmann::json;

namespace {

json tree_doc() {
  return json::parse(R"({
    "name": "tree",
    "model": {"tree": {"classes": 8, "order": 3, "initial_children": 2, "node_work": "1.5TFLOP", "node_params": "1GB",
                       "hidden_state": "8KB", "balance_period": "250ms", "split": {"fisher": 12, "load_ratio": 1.4},
                       "merge": {"fisher": 3}}},
    "nodes": [{"name": "s", "count": 4, "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "workload": {"sessions": 10}
  })");
}

/// The loader's diagnostics for `doc` (empty when it loads).
std::string errors_of(const json& doc) {
  try {
    load_scenario_json(doc, "tree.json");
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

TEST(TreeScenario, ReadsTheTreeWithUnitsInsideTheValues) {
  const Scenario sc = load_scenario_json(tree_doc(), "tree.json");
  ASSERT_TRUE(sc.tree.has_value());
  EXPECT_EQ(sc.tree->classes, 8);
  EXPECT_EQ(sc.tree->order, 3);
  EXPECT_DOUBLE_EQ(sc.tree->node_flops, 1.5e12);
  EXPECT_DOUBLE_EQ(sc.tree->node_param_bytes, 1e9);
  EXPECT_DOUBLE_EQ(sc.tree->hidden_bytes, 8000);
  EXPECT_DOUBLE_EQ(sc.tree->balance_period_s, 0.25);
  EXPECT_DOUBLE_EQ(sc.tree->split_fisher, 12);
  EXPECT_DOUBLE_EQ(sc.tree->split_load, 1.4);
  EXPECT_DOUBLE_EQ(sc.tree->merge_fisher, 3);
  EXPECT_EQ(sc.workload.prompt_tokens, 1) << "a tree's requests carry no tokens";
}

TEST(TreeScenario, WhatATreeCannotDoIsRefusedWithItsPath) {
  struct Case {
    const char* what;
    void (*mutate)(json&);
    const char* path;
    const char* message;
  };
  const Case cases[] = {
      {"too many leaves", [](json& d) { d["model"]["tree"]["initial_children"] = 4; }, "model.tree.initial_children",
       "4 children exceed the tree's order 3"},
      {"merge above split", [](json& d) { d["model"]["tree"]["merge"]["fisher"] = 20; }, "model.tree.merge.fisher",
       "expected below split.fisher"},
      {"order 2", [](json& d) { d["model"]["tree"]["order"] = 2; }, "model.tree.order", "expected an integer in [3, 64]"},
      {"too few servers", [](json& d) { d["nodes"][0]["count"] = 2; }, "nodes", "need 3 server nodes, the scenario has 2"},
      {"a rate for work", [](json& d) { d["model"]["tree"]["node_work"] = "20GFLOPS"; }, "model.tree.node_work",
       "an amount of work such as \"20GFLOP\""},
      {"model name too", [](json& d) { d["model"]["name"] = "Llama-3-8B"; }, "model.name", "does not apply to a Fisher B-tree"},
      {"typo", [](json& d) { d["model"]["tree"]["clases"] = 8; }, "model.tree.clases", "did you mean \"classes\"?"},
      {"fixed blocks", [](json& d) { d["nodes"][0]["blocks"] = {{"start", 0}, {"end", 1}}; }, "nodes[0].blocks",
       "does not apply to a Fisher B-tree"},
      {"node too big", [](json& d) { d["model"]["tree"]["node_params"] = "30GB"; }, "nodes[0].gpu",
       "a tree node's 27.94 GiB of parameters (model.tree.node_params) do not fit in L4's"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    json doc = tree_doc();
    c.mutate(doc);
    const std::string e = errors_of(doc);
    EXPECT_NE(e.find(std::string("tree.json: ") + c.path + ":"), std::string::npos) << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << e;
  }
}

TEST(TreeScenario, PolicySettingsForSwarmsAreAdvisedAgainst) {
  EXPECT_TRUE(scenario_advisories(load_scenario_json(tree_doc(), "tree.json")).empty());
  json doc = tree_doc();
  doc["policy"] = {{"rebalance", {{"period", "5s"}}}};
  const auto advice = scenario_advisories(load_scenario_json(doc, "tree.json"));
  ASSERT_EQ(advice.size(), 1u);
  EXPECT_EQ(advice[0].path, "policy");
  EXPECT_NE(advice[0].message.find("model.tree"), std::string::npos);
}

}  // namespace
