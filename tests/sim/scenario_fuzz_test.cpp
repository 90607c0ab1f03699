// Bad input never crashes the loader: every shipped scenario, mutated at random (a value deleted,
// retyped, pushed to an extreme, scaled, given a wrong unit, or an array element duplicated),
// either loads or fails with diagnostics that name the file, a JSON path and a message. Mutants
// that load and stay small are then run on the flow engine and must finish with metrics, or with
// a ScenarioError for what only planning can judge (a pipeline objective no plan meets), never
// another exception. It found events with "node": "" passing validation and failing the run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <typeinfo>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/flow/flow_coded.hpp"
#include "sim/flow/flow_pipeline.hpp"
#include "sim/flow/flow_tree.hpp"
#include "sim/partition/model_graph_io.hpp"
#include "sim/partition/strategies.hpp"
#include "sim/flow/flow_simulation.hpp"
#include "sim/swarm/swarm_events.hpp"
#include "sim/pricing.hpp"
#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/json_mutation.hpp"

using namespace swarmsim::sim;
using nlohmann::json;
using swarmsim::testing::mutate_json_once_or_twice;

namespace {

std::vector<std::filesystem::path> shipped_scenarios() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios"))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST(ScenarioFuzz, MutatedShippedScenariosLoadOrFailWithDiagnostics) {
  // SWARMSIM_FUZZ_SEED and SWARMSIM_FUZZ_MUTANTS (per scenario) hunt longer than CI does.
  const Rng base = swarmsim::testing::fuzz_rng(2026);
  const int per_scenario = swarmsim::testing::fuzz_mutants(300);
  int loaded = 0, rejected = 0, ran = 0;
  for (const std::filesystem::path& file : shipped_scenarios()) {
    // Each scenario's mutants come from its own stream (FNV-1a of its name), so that a new
    // scenario leaves the others' mutants as they were.
    std::uint64_t name_hash = 0xcbf29ce484222325ULL;
    for (const char ch : file.filename().string()) name_hash = (name_hash ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
    Rng rng = Rng(base).split(name_hash);
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    const json original = json::parse(text.str());
    for (int k = 0; k < per_scenario; ++k) {
      json doc = original;
      const std::string what = mutate_json_once_or_twice(doc, rng);
      const std::string where = file.filename().string() + ": " + what;
      Scenario sc;
      try {
        sc = load_scenario_text(doc.dump(), "fuzz.json");
      } catch (const ScenarioError& e) {
        ++rejected;
        ASSERT_FALSE(e.diagnostics().empty()) << where;
        for (const Diagnostic& d : e.diagnostics()) {
          EXPECT_EQ(d.file, "fuzz.json") << where;
          EXPECT_FALSE(d.path.empty()) << where << ": " << d.str();
          EXPECT_FALSE(d.message.empty()) << where << ": " << d.str();
        }
        continue;
      } catch (const std::exception& e) {
        FAIL() << where << ": threw " << typeid(e).name() << ": " << e.what();
      }
      ++loaded;
      // Small mutants that loaded run on the flow engine (fast, every feature). Graph pipelines,
      // trees and coded runs run their first 50 requests (their failures, clients and events included).
      long hosts = static_cast<long>(sc.nodes.size() + sc.clients.size());
      if (sc.graph) {  // and a short BRKGA: the plan is not what this test is about
        sc.workload.sessions = std::min(sc.workload.sessions, 50);
        sc.policy.partitioner.brkga.generations = std::min(sc.policy.partitioner.brkga.generations, 3);
        sc.policy.partitioner.brkga.population = std::min(sc.policy.partitioner.brkga.population, 64);
      }
      if (sc.tree || sc.coded) {  // trees and coded inference run their first 50 requests (and a short offline evaluation)
        sc.workload.sessions = std::min(sc.workload.sessions, 50);
        if (sc.coded) {  // a full Fisher costs P · parameters² to build
          sc.coded->test_samples = std::min(sc.coded->test_samples, 100);
          sc.coded->fisher_samples = std::min(sc.coded->fisher_samples, 200);
        }
      }
      if (auto& ft = sc.workload.fine_tuning; ft && ft->loss) {  // the loss proxy's arithmetic at its smallest (it takes seconds at the defaults)
        ft->loss->width = 8;
        ft->loss->sequences = 1;
        ft->loss->tokens = std::min(ft->loss->tokens, 4);
        ft->adapter.rank = std::min(ft->adapter.rank, 8);
      }
      if (hosts > 40 || sc.workload.sessions > 50 || sc.workload.new_tokens * static_cast<long>(sc.workload.sessions) > 5000)
        continue;
      sc.engine = EngineKind::Flow;
      sc.outputs.trace = sc.outputs.events = false;
      sc.time_limit_s = std::min(sc.time_limit_s, 3600.0);
      try {
        RunOptions quiet;
        quiet.progress = RunOptions::Progress::Never;
        SimSignals signals;
        const RunReport r = sc.graph   ? flow::run_flow_pipeline(sc, quiet)
                            : sc.tree  ? flow::run_flow_tree(sc, quiet, signals)
                            : sc.coded ? flow::run_flow_coded(sc, quiet, signals)
                                       : flow::run_flow_engine(sc, make_cost_model(sc), signals, quiet);
        EXPECT_TRUE(r.metrics.contains(sc.graph || sc.tree || sc.coded ? "requests" : "sessions")) << where;
        ++ran;
      } catch (const ScenarioError& e) {  // input only planning can judge (a pipeline objective no plan meets): still a diagnostic
        ASSERT_FALSE(e.diagnostics().empty()) << where;
        EXPECT_FALSE(e.diagnostics()[0].path.empty()) << where << ": " << e.what();
        EXPECT_EQ(e.diagnostics()[0].file, sc.source_file) << where;
        ++rejected;
      } catch (const std::exception& e) {
        ADD_FAILURE() << where << ": the run threw: " << e.what();
      }
    }
  }
  std::printf("%d mutants loaded (%d ran), %d rejected with diagnostics\n", loaded, ran, rejected);
  if (per_scenario >= 300) {  // the default hunt exercises both halves
    EXPECT_GT(rejected, 1000);
    EXPECT_GT(ran, 200);
  }
}

// Model graph files get the same treatment: the shipped test graphs and every generator's graph
// (written out as a file), mutated, either load or fail with "file: path: message" lines; those
// that load are cut into 4 blocks by slicegraph and BRKGA without an exception.
TEST(ScenarioFuzz, MutatedModelGraphsLoadOrFailWithDiagnostics) {
  namespace part = swarmsim::partition;
  std::vector<std::pair<std::string, json>> sources;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SWARMSIM_SOURCE_DIR) + "/tests/data/graphs")) {
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    sources.emplace_back(e.path().filename().string(), json::parse(text.str()));
  }
  std::sort(sources.begin(), sources.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const std::string& gen : part::generator_names()) {
    part::GeneratorOptions small;
    small.layers = 4;  // the Llama chain and random DAGs stay small
    sources.emplace_back("gen:" + gen, part::to_json(part::generate_model_graph(gen, small)));
  }
  const int per_graph = swarmsim::testing::fuzz_mutants(150);
  Rng rng = swarmsim::testing::fuzz_rng(77);
  int loaded = 0, rejected = 0;
  for (const auto& [name, original] : sources) {
    for (int k = 0; k < per_graph; ++k) {
      json doc = original;
      const std::string what = mutate_json_once_or_twice(doc, rng);
      const std::string where = name + ": " + what;
      try {
        const part::ModelGraph g = part::load_model_graph_text(doc.dump(), "fuzz-graph.json");
        ++loaded;
        part::MtppParams p;
        part::BrkgaParams quick;
        quick.population = 8;
        quick.generations = 3;
        for (const part::Method m : {part::Method::SliceGraph, part::Method::Brkga}) {
          const part::Partition cut = part::partition_graph(g, 4, m, p, quick);
          EXPECT_GE(cut.blocks, 1) << where;
          EXPECT_LE(cut.blocks, 4) << where;
        }
      } catch (const part::GraphFileError& e) {
        ++rejected;
        ASSERT_FALSE(e.lines().empty()) << where;
        for (const std::string& line : e.lines()) EXPECT_EQ(line.rfind("fuzz-graph.json: ", 0), 0u) << where << ": " << line;
      } catch (const std::exception& e) {
        ADD_FAILURE() << where << ": threw " << typeid(e).name() << ": " << e.what();
      }
    }
  }
  std::printf("%d graph mutants loaded, %d rejected with diagnostics\n", loaded, rejected);
  if (per_graph >= 150) {
    EXPECT_GT(loaded, 100);
    EXPECT_GT(rejected, 300);
  }
}
