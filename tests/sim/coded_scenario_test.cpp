// model.coded in scenario files: what the loader reads, and the clear errors for what coded
// inference cannot do or does not mean.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "sim/scenario/scenario_advice.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;
using nlohmann::json;

namespace {

json coded_doc() {
  return json::parse(R"({
    "name": "coded",
    "model": {"coded": {"models": 3, "beta": [0.5, 0.25, 0.25], "method": "average", "decode_wait": "5ms",
                        "straggle": {"probability": 0.1, "slowdown": 4}, "node_work": "61GFLOP", "node_params": "600MB",
                        "input": "147KiB", "output": "1KB"}},
    "nodes": [{"name": "s", "count": 4, "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "workload": {"sessions": 10}
  })");
}

/// The loader's diagnostics for `doc` (empty when it loads).
std::string errors_of(const json& doc) {
  try {
    load_scenario_json(doc, "coded.json");
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

TEST(CodedScenario, ReadsTheCodingWithUnitsInsideTheValues) {
  const Scenario sc = load_scenario_json(coded_doc(), "coded.json");
  ASSERT_TRUE(sc.coded.has_value());
  EXPECT_EQ(sc.coded->models, 3);
  EXPECT_EQ(sc.coded->parity, 1);
  EXPECT_EQ(sc.coded->method, "average");
  EXPECT_EQ(sc.coded->beta, (std::vector<std::vector<double>>{{0.5, 0.25, 0.25}}));
  EXPECT_DOUBLE_EQ(sc.coded->decode_wait_s, 0.005);
  EXPECT_DOUBLE_EQ(sc.coded->straggle_probability, 0.1);
  EXPECT_DOUBLE_EQ(sc.coded->straggle_slowdown, 4);
  EXPECT_DOUBLE_EQ(sc.coded->node_flops, 61e9);
  EXPECT_DOUBLE_EQ(sc.coded->node_param_bytes, 600e6);
  EXPECT_DOUBLE_EQ(sc.coded->input_bytes, 147 * 1024.0);
  EXPECT_DOUBLE_EQ(sc.coded->output_bytes, 1000);
  EXPECT_EQ(sc.workload.prompt_tokens, 1) << "a coded run's requests carry no tokens";
  json full = coded_doc();
  full["model"]["coded"]["method"] = "coin_full";
  full["model"]["coded"]["fisher_damping"] = 0.5;
  full["model"]["coded"]["hidden"] = 60;  // 60·9 + 3·61 = 723 parameters: a full Fisher of 4 MiB
  const Scenario f = load_scenario_json(full, "coded.json");
  EXPECT_EQ(f.coded->method, "coin_full");
  EXPECT_DOUBLE_EQ(f.coded->fisher_damping, 0.5);
  // Two coded models: one row of weights each; five servers (three models, two coded).
  json two = coded_doc();
  two["model"]["coded"]["parity"] = 2;
  two["model"]["coded"]["beta"] = {{0.5, 0.25, 0.25}, {0.2, 0.3, 0.5}};
  two["nodes"][0]["count"] = 5;
  const Scenario t = load_scenario_json(two, "coded.json");
  EXPECT_EQ(t.coded->parity, 2);
  EXPECT_EQ(t.coded->beta, (std::vector<std::vector<double>>{{0.5, 0.25, 0.25}, {0.2, 0.3, 0.5}}));
  // Rows beyond the parity are not used, so parity=0 (the uncoded baseline) runs the same file.
  two["model"]["coded"]["parity"] = 0;
  EXPECT_TRUE(load_scenario_json(two, "coded.json").coded->beta.empty());
}

TEST(CodedScenario, WhatCodedInferenceCannotDoIsRefusedWithItsPath) {
  struct Case {
    const char* what;
    void (*mutate)(json&);
    const char* path;
    const char* message;
  };
  const Case cases[] = {
      {"weights not summing to 1", [](json& d) { d["model"]["coded"]["beta"] = {0.5, 0.5, 0.5}; }, "model.coded.beta",
       "expected weights that sum to 1"},
      {"one weight per model", [](json& d) { d["model"]["coded"]["beta"] = {0.5, 0.5}; }, "model.coded.beta",
       "expected an array of 3 positive numbers"},
      {"a zero weight", [](json& d) { d["model"]["coded"]["beta"] = {1.0, 0.0, 0.0}; }, "model.coded.beta[1]", "expected a positive number"},
      {"one model", [](json& d) { d["model"]["coded"]["models"] = 1; }, "model.coded.models", "expected an integer in [2, 16]"},
      {"unknown method", [](json& d) { d["model"]["coded"]["method"] = "ensemble"; }, "model.coded.method",
       "expected one of \"coin\", \"coin_full\", \"coin_block\", \"average\""},
      {"a full Fisher too large to hold",
       [](json& d) {
         d["model"]["coded"]["method"] = "coin_full";
         d["model"]["coded"]["hidden"] = 64;
         d["model"]["coded"]["dim"] = 32;
       },
       "model.coded.method", "expected at most 2048 parameters (hidden·(dim + 1) + classes·(hidden + 1)), got 2307"},
      {"more parity than models", [](json& d) { d["model"]["coded"]["parity"] = 4; }, "model.coded.parity", "expected an integer in [0, 3]"},
      {"one row for two coded models",
       [](json& d) {
         d["model"]["coded"]["parity"] = 2;
         d["nodes"][0]["count"] = 5;
       },
       "model.coded.beta", "expected 2 rows (one per coded model) of 3 positive numbers, got 3 values"},
      {"a row that does not sum to 1",
       [](json& d) {
         d["model"]["coded"]["parity"] = 2;
         d["model"]["coded"]["beta"] = {{0.5, 0.25, 0.25}, {0.5, 0.5, 0.5}};
         d["nodes"][0]["count"] = 5;
       },
       "model.coded.beta[1]", "expected weights that sum to 1"},
      {"coded models that cannot tell two models apart",
       [](json& d) {  // both rows weigh models 0 and 1 alike: with both missing, their outputs cannot be separated
         d["model"]["coded"]["parity"] = 2;
         d["model"]["coded"]["beta"] = {{0.25, 0.25, 0.5}, {0.3, 0.3, 0.4}};
         d["nodes"][0]["count"] = 5;
       },
       "model.coded.beta", "the weights of coded models 0, 1 on models 0, 1 form a singular matrix"},
      {"too few servers for two coded models", [](json& d) {
         d["model"]["coded"]["parity"] = 2;
         d["model"]["coded"].erase("beta");
       },
       "nodes", "need 5 server nodes"},
      {"per-unit blocks too large to hold",
       [](json& d) {
         d["model"]["coded"]["method"] = "coin_block";
         d["model"]["coded"]["hidden"] = 1024;
         d["model"]["coded"]["dim"] = 64;
       },
       "model.coded.method", "coin_block holds a Fisher block per unit; expected at most 4194304 block entries"},
      {"no damping", [](json& d) { d["model"]["coded"]["fisher_damping"] = 0; }, "model.coded.fisher_damping",
       "expected a number in [1e-12, 1e6]"},
      {"too few servers", [](json& d) { d["nodes"][0]["count"] = 3; }, "nodes", "need 4 server nodes, one each in order (later ones are spares); the scenario has 3"},
      {"a slowdown below 1", [](json& d) { d["model"]["coded"]["straggle"]["slowdown"] = 0.5; }, "model.coded.straggle.slowdown",
       "expected a number in [1, 1e6]"},
      {"a rate for work", [](json& d) { d["model"]["coded"]["node_work"] = "20GFLOPS"; }, "model.coded.node_work",
       "an amount of work such as \"20GFLOP\""},
      {"model name too", [](json& d) { d["model"]["name"] = "Llama-3-8B"; }, "model.name", "does not apply to erasure-coded inference"},
      {"typo", [](json& d) { d["model"]["coded"]["parrity"] = 1; }, "model.coded.parrity", "did you mean \"parity\"?"},
      {"fixed blocks", [](json& d) { d["nodes"][0]["blocks"] = {{"start", 0}, {"end", 1}}; }, "nodes[0].blocks",
       "does not apply to erasure-coded inference"},
      {"model too big", [](json& d) { d["model"]["coded"]["node_params"] = "30GB"; }, "nodes[0].gpu",
       "a model's 27.94 GiB of parameters (model.coded.node_params) do not fit in L4's"},
      {"message overheads of chains", [](json& d) { d["overheads"] = {{"round_trips", 2}}; }, "overheads.round_trips",
       "not to erasure-coded inference"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    json doc = coded_doc();
    c.mutate(doc);
    const std::string e = errors_of(doc);
    EXPECT_NE(e.find(std::string("coded.json: ") + c.path + ":"), std::string::npos) << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << e;
  }
}

TEST(CodedScenario, SwarmPoliciesAreAdvisedAgainstButSparesAreNot) {
  json doc = coded_doc();
  doc["nodes"][0]["count"] = 5;  // one spare beyond the 4 members: a failed member moves there
  EXPECT_TRUE(scenario_advisories(load_scenario_json(doc, "coded.json")).empty());
  doc["policy"] = {{"rebalance", {{"period", "5s"}}}};
  const auto advice = scenario_advisories(load_scenario_json(doc, "coded.json"));
  ASSERT_EQ(advice.size(), 1u);
  EXPECT_EQ(advice[0].path, "policy");
  EXPECT_NE(advice[0].message.find("coded-inference.md"), std::string::npos);
}

TEST(CodedScenario, SettingsTheCodingDefeatsAreAdvisedAgainst) {
  json doc = coded_doc();  // method "average", a 5 ms decode wait
  doc["model"]["coded"]["fisher_damping"] = 0.5;
  doc["model"]["coded"]["cancel"] = true;
  auto paths = [](const json& d) {
    std::vector<std::string> out;
    for (const Advisory& a : scenario_advisories(load_scenario_json(d, "coded.json"))) out.push_back(a.path);
    return out;
  };
  EXPECT_EQ(paths(doc), std::vector<std::string>{"model.coded.fisher_damping"}) << "the average damps nothing";
  doc["model"]["coded"]["method"] = "coin_block";
  EXPECT_TRUE(paths(doc).empty()) << "blocks use the damping; a coded model decodes and cancels";
  doc["model"]["coded"]["parity"] = 0;  // uncoded: nothing decoded, nothing left to cancel
  EXPECT_EQ(paths(doc), (std::vector<std::string>{"model.coded.decode_wait", "model.coded.cancel"}));
}

}  // namespace
