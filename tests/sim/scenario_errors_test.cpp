// Malformed scenarios: every file in tests/data/bad_scenarios has one defect and must be rejected
// with a ScenarioError naming the file, the JSON path and what was expected; never a crash, never
// another exception. Also malformed --set overrides.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "sim/scenario/scenario_loader.hpp"

namespace {

namespace fs = std::filesystem;
namespace sim = swarmsim::sim;

const fs::path kSourceDir = SWARMSIM_SOURCE_DIR;
const fs::path kBadScenarioDir = kSourceDir / "tests" / "data" / "bad_scenarios";
const std::string kTwoNodePath = (kSourceDir / "scenarios" / "sanity" / "two_node.json").string();

/// One malformed file and the diagnostic it must produce.
struct BadScenario {
  std::string file;     ///< name inside tests/data/bad_scenarios
  std::string path;     ///< expected Diagnostic::path
  std::string message;  ///< substring expected in that diagnostic's message
};

/// Printed by gtest (and in ctest names) instead of the struct's bytes.
void PrintTo(const BadScenario& bad, std::ostream* os) { *os << bad.file; }

const std::vector<BadScenario>& bad_scenarios() {
  static const std::vector<BadScenario> table{
      {"01_json_syntax_missing_comma.json", "line 6, column 9", "JSON syntax error: syntax error while parsing object"},
      {"02_json_syntax_truncated.json", "line 9, column 6", "unexpected end of input"},
      {"03_duplicate_key.json", "nodes[0].uplink", "duplicate key \"uplink\" in the same object"},
      {"04_unknown_top_level_key_typo.json", "polcy", "unknown key \"polcy\" (did you mean \"policy\"?)"},
      {"05_unknown_node_key.json", "nodes[0].memory", "unknown key \"memory\"; node keys are \"name\", \"count\""},
      {"06_wrong_type_batch_size_string.json", "workload.batch_size",
       "expected an integer in [1, 65536], got the string \"32\""},
      {"07_bandwidth_without_unit.json", "nodes[0].uplink",
       "got the number 100 (units go inside the string, e.g. \"100Mbps\")"},
      {"08_unknown_bandwidth_unit.json", "nodes[0].uplink",
       "unknown unit \"Mbits\" in \"100Mbits\"; expected a bandwidth"},
      {"09_negative_bandwidth.json", "nodes[0].downlink", "must be positive, got \"-5Mbps\""},
      {"10_unknown_gpu.json", "nodes[0].gpu",
       "unknown device \"RTX-9090\" (did you mean \"RTX-3090\"?); known devices are \"GTX-1650\", \"T4\", \"L4\""},
      {"11_unknown_model.json", "model.name", "unknown model \"GPT-5\"; known models are \"Llama-3-8B\""},
      {"12_block_range_beyond_model.json", "nodes[0].blocks", "range 0..40 exceeds the 32 blocks of Llama-3-8B"},
      {"13_blocks_exceed_device_memory.json", "nodes[0].blocks",
       "32 blocks of Llama-3-8B need 13.00 GiB of weights but GTX-1650 has 3.50 GiB usable"},
      {"14_chain_gap.json", "nodes", "blocks 16-19 of Llama-3-8B (32 blocks) are served by no node"},
      {"15_duplicate_node_name.json", "nodes[1].name", "duplicate name \"server\" (also at nodes[0].name)"},
      {"16_event_unknown_node.json", "events[0].node", "unknown node \"sever\"; expected a node or client name"},
      {"17_node_down_on_training_client.json", "events[0].node",
       "\"client\" is a client; a client's node_down/node_up applies to sessions that generate tokens, not to fine-tuning sessions"},
      {"18_matrix_latency_without_rtt_matrix.json", "network.rtt_matrix", "missing; \"latency\": \"matrix\" needs"},
      {"19_rtt_matrix_asymmetric.json", "network.rtt_matrix.rtt[0][1]",
       "RTT matrix is not symmetric: [0][1] = 10 ms but [1][0] = 12 ms"},
      {"20_uptime_out_of_range.json", "nodes[0].uptime", "expected a number in [0, 1] (fraction of time up), got 1.5"},
      {"21_empty_nodes.json", "nodes", "expected a non-empty array of server nodes"},
      {"22_geo_node_missing_location.json", "nodes[0].location", "missing; \"network.latency\": \"geo\" needs"},
      {"23_blocks_start_after_end.json", "nodes[0].blocks", "expected start < end (end is exclusive), got start 20"},
      {"24_unknown_router_typo.json", "policy.router", "unknown value \"eq81\" (did you mean \"eq18\"?)"},
      {"25_missing_workload.json", "workload", "missing; expected an object with sessions"},
      {"26_root_not_object.json", "(root)", "expected an object, got an array"},
      {"27_latitude_out_of_range.json", "clients[0].location.lat", "expected a number in [-90, 90] (degrees), got 150"},
      {"28_graph_unknown_generator.json", "model.graph.generator", "unknown generator \"resnet5\" (did you mean \"resnet50\"?)"},
      {"29_graph_file_and_generator.json", "model.graph", "expected exactly one of \"file\" (a model graph JSON file) or \"generator\""},
      {"31_partitioner_unknown_method.json", "policy.partitioner.method", "unknown method \"brgka\" (did you mean \"brkga\"?)"},
      {"32_graph_file_with_cycle.json", "model.graph.file", "01_cycle.json: ops: cycle: conv1 -> conv2 -> conv3 -> conv1"},
      {"33_graph_stages_exceed_nodes.json", "policy.partitioner.stages", "3 stages need as many server nodes, the scenario has 2"},
      {"34_tcp_bandwidth_raise.json", "events[1].bandwidth", "raises s's bandwidth to 100 Mbit/s, which SimGrid 3.32's \"tcp\" (LV08) model cannot replay"},
      {"36_unknown_engine.json", "simulation.engine", "unknown value \"flwo\" (did you mean \"flow\"?)"},
      {"37_event_empty_node.json", "events[0].node", "must not be empty; expected a node or client name"},
      {"38_name_with_path.json", "name", "\"../../outside\" cannot name the run directory runs/<name>/; expected a non-empty name"},
      {"39_power_idle_above_busy.json", "nodes[0].power.idle",
       "the idle draw (400 W) exceeds the busy draw (350 W, the rest from the RTX-3090's catalog entry); expected idle <= busy"},
      {"40_graph_node_join_at.json", "nodes[1].join_at",
       "sets when a server starts loading its blocks, which only swarms of blocks read; in graph pipelines every server is up "
       "from the start and holds no block range: remove \"join_at\""},
      {"41_node_rent_without_unit.json", "nodes[0].costs.rent",
       "\"1.20\" has no unit; expected a price per time such as \"1.20/h\", \"0.02/min\" or \"0.0003/s\" (in the scenario's currency)"},
      {"42_migrate_without_period.json", "policy.partitioner.migrate.period",
       "missing; expected a duration such as \"250us\", \"5ms\", \"1.5s\", \"2min\" or \"1h\""},
      {"43_unknown_handover.json", "policy.partitioner.handover", "unknown value \"pause\"; expected one of \"drain\", \"forward\", \"resend\""},
      {"44_unknown_plan_goal.json", "policy.partitioner.objective.minimize",
       "unknown value \"speed\"; expected one of \"bottleneck\", \"cost\", \"energy\", \"latency\""},
      {"45_throughput_bound_without_unit.json", "policy.partitioner.objective.min_throughput",
       "expected a rate such as"},
      {"46_cost_objective_without_prices.json", "policy.partitioner.objective.minimize",
       "\"cost\" needs prices: give the scenario \"costs\""},
      {"47_arrival_phases_all_quiet.json", "workload.arrival.phases",
       "every phase has rate 0, so no session would ever arrive; give one phase a positive rate"},
      {"48_arrival_phases_with_rate.json", "workload.arrival.rate",
       "only applies to \"process\": \"poisson\" (with \"phases\", each phase has its own)"},
  };
  return table;
}

/// Loads `path` and returns the diagnostics of the ScenarioError it must throw; fails the test otherwise.
std::vector<sim::Diagnostic> load_errors(const std::string& path, const std::vector<sim::Override>& overrides = {}) {
  try {
    sim::load_scenario_file(path, overrides);
  } catch (const sim::ScenarioError& e) {
    return e.diagnostics();
  } catch (const std::exception& e) {
    ADD_FAILURE() << path << ": threw a non-ScenarioError exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << path << ": loaded without error";
  return {};
}

std::string describe(const std::vector<sim::Diagnostic>& diagnostics) {
  std::string s;
  for (const sim::Diagnostic& d : diagnostics) s += "\n  " + d.str();
  return s.empty() ? "\n  (no diagnostics)" : s;
}

class ScenarioErrors : public testing::TestWithParam<BadScenario> {};

TEST_P(ScenarioErrors, NamesFilePathAndExpectation) {
  const BadScenario& bad = GetParam();
  const std::string file = (kBadScenarioDir / bad.file).string();
  ASSERT_TRUE(fs::is_regular_file(file)) << file;
  const std::vector<sim::Diagnostic> diagnostics = load_errors(file);
  // One defect per file: exactly one diagnostic, so a defect does not cascade into noise.
  EXPECT_EQ(diagnostics.size(), 1u) << describe(diagnostics);
  const bool found = std::any_of(diagnostics.begin(), diagnostics.end(), [&](const sim::Diagnostic& d) {
    return d.path == bad.path && d.message.find(bad.message) != std::string::npos;
  });
  EXPECT_TRUE(found) << "expected " << bad.path << ": ..." << bad.message << "...; got" << describe(diagnostics);
  for (const sim::Diagnostic& d : diagnostics) {
    EXPECT_EQ(d.file, file);
    EXPECT_EQ(d.str().rfind(file + ": " + d.path + ": ", 0), 0u) << d.str();
  }
}

/// "01_json_syntax_missing_comma.json" -> "01_json_syntax_missing_comma" (gtest names allow [A-Za-z0-9_]).
std::string test_name(const testing::TestParamInfo<BadScenario>& info) {
  std::string name = fs::path(info.param.file).stem().string();
  std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(BadFiles, ScenarioErrors, testing::ValuesIn(bad_scenarios()), test_name);

TEST(ScenarioErrorsTable, CoversEveryBadFile) {
  std::set<std::string> in_table;
  for (const BadScenario& bad : bad_scenarios()) EXPECT_TRUE(in_table.insert(bad.file).second) << "twice: " << bad.file;
  std::set<std::string> on_disk;
  for (const fs::directory_entry& entry : fs::directory_iterator(kBadScenarioDir))
    on_disk.insert(entry.path().filename().string());
  for (const std::string& file : on_disk) EXPECT_TRUE(in_table.count(file)) << file << " is not in the table";
  for (const std::string& file : in_table) EXPECT_TRUE(on_disk.count(file)) << file << " is not on disk";
  EXPECT_GE(in_table.size(), 16u);
}

TEST(ScenarioErrorsTable, MissingFileIsAScenarioError) {
  const std::string missing = (kBadScenarioDir / "does_not_exist.json").string();
  const std::vector<sim::Diagnostic> diagnostics = load_errors(missing);
  ASSERT_EQ(diagnostics.size(), 1u) << describe(diagnostics);
  EXPECT_EQ(diagnostics[0].file, missing);
  EXPECT_NE(diagnostics[0].message.find("cannot open"), std::string::npos) << diagnostics[0].message;
}

TEST(ScenarioErrorsTable, TwoNodeBaseIsValid) {
  // The bad files are two_node.json with one defect; the base itself must load.
  EXPECT_NO_THROW(sim::load_scenario_file(kTwoNodePath));
}

// The cross-field checks run on the nodes after "count" expansion; their errors must still name
// the entry's path in the file (nodes[1], not nodes[2]).
TEST(ScenarioErrorsTable, PathsAfterCountExpansionAreFilePaths) {
  const std::string text = R"({
    "name": "count", "model": {"name": "Llama-3-8B"},
    "nodes": [
      {"name": "pool", "count": 2, "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps",
       "downlink": "1Gbps", "blocks": "auto"},
      {"name": "small", "gpu": "GTX-1650", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps",
       "downlink": "1Gbps", "blocks": {"start": 0, "end": 32}}
    ],
    "clients": [{"name": "client", "device": "cpu-generic", "location": {"lat": 50, "lon": 8},
                 "uplink": "100Mbps", "downlink": "100Mbps"}],
    "workload": {"sessions": 1, "prompt_tokens": 8, "new_tokens": 8}
  })";
  try {
    sim::load_scenario_text(text, "count.json");
    FAIL() << "32 blocks on a GTX-1650 loaded";
  } catch (const sim::ScenarioError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u) << describe(e.diagnostics());
    EXPECT_EQ(e.diagnostics()[0].path, "nodes[1].blocks") << e.diagnostics()[0].str();
  }
}

// ---- --set overrides ----

/// The diagnostics of the ScenarioError that parse_override(text) must throw.
std::vector<sim::Diagnostic> override_errors(const std::string& text) {
  try {
    const sim::Override o = sim::parse_override(text);
    ADD_FAILURE() << "\"" << text << "\" parsed as path \"" << o.path << "\", value \"" << o.value << "\"";
  } catch (const sim::ScenarioError& e) {
    return e.diagnostics();
  }
  return {};
}

TEST(ScenarioOverrides, ParseSplitsAtFirstEquals) {
  const sim::Override o = sim::parse_override("nodes[2].uplink=a=b");
  EXPECT_EQ(o.path, "nodes[2].uplink");
  EXPECT_EQ(o.value, "a=b");
}

TEST(ScenarioOverrides, ParseRejectsMissingEquals) {
  const auto diagnostics = override_errors("workload.batch_size");
  ASSERT_EQ(diagnostics.size(), 1u) << describe(diagnostics);
  EXPECT_EQ(diagnostics[0].file, "--set");
  EXPECT_EQ(diagnostics[0].path, "workload.batch_size");
  EXPECT_NE(diagnostics[0].message.find("expected path=value"), std::string::npos) << diagnostics[0].message;
}

TEST(ScenarioOverrides, ParseRejectsEmptyPath) {
  const auto diagnostics = override_errors("=32");
  ASSERT_EQ(diagnostics.size(), 1u) << describe(diagnostics);
  EXPECT_NE(diagnostics[0].message.find("expected path=value"), std::string::npos) << diagnostics[0].message;
}

/// One override on two_node.json that must be rejected, and what the error must say.
struct BadOverride {
  std::string name;     ///< test name
  std::string path;     ///< override path
  std::string value;    ///< override value
  std::string message;  ///< substring expected in some diagnostic's message
};

void PrintTo(const BadOverride& bad, std::ostream* os) { *os << bad.path << "=" << bad.value; }

class ScenarioOverrideErrors : public testing::TestWithParam<BadOverride> {};

TEST_P(ScenarioOverrideErrors, ThrowsScenarioError) {
  const BadOverride& bad = GetParam();
  const std::vector<sim::Diagnostic> diagnostics = load_errors(kTwoNodePath, {{bad.path, bad.value}});
  const bool found = std::any_of(diagnostics.begin(), diagnostics.end(), [&](const sim::Diagnostic& d) {
    return d.message.find(bad.message) != std::string::npos;
  });
  EXPECT_TRUE(found) << "expected ..." << bad.message << "...; got" << describe(diagnostics);
}

INSTANTIATE_TEST_SUITE_P(
    BadPaths, ScenarioOverrideErrors,
    testing::Values(
        BadOverride{"IndexOutOfRange", "nodes[5].uplink", "1Gbps", "nodes has 1 entry; index 5 is out of range"},
        BadOverride{"IndexNotANumber", "nodes[x].uplink", "1Gbps", "expected an array index in \"nodes[x].uplink\""},
        BadOverride{"UnclosedBracket", "nodes[0.uplink", "1Gbps", "unclosed '[' in \"nodes[0.uplink\""},
        BadOverride{"IndexIntoObject", "workload[0]", "1", "workload is not an array"},
        BadOverride{"KeyUnderString", "name.first", "x",
                    "cannot set key \"first\": the value before it is not an object"},
        BadOverride{"EmptyPath", ".", "1", "empty path"},
        // A valid path with a bad value is reported against the file, like a bad value in it.
        BadOverride{"ValueOfWrongType", "workload.batch_size", "abc",
                    "expected an integer in [1, 65536], got the string \"abc\""},
        BadOverride{"NewUnknownKey", "workload.batchsize", "32",
                    "unknown key \"batchsize\" (did you mean \"batch_size\"?)"}),
    [](const testing::TestParamInfo<BadOverride>& info) { return info.param.name; });

TEST(ScenarioOverrides, ValueErrorNamesTheFileAndPath) {
  const auto diagnostics = load_errors(kTwoNodePath, {{"nodes[0].uplink", "-5Mbps"}});
  ASSERT_EQ(diagnostics.size(), 1u) << describe(diagnostics);
  EXPECT_EQ(diagnostics[0].file, kTwoNodePath);
  EXPECT_EQ(diagnostics[0].path, "nodes[0].uplink");
  EXPECT_NE(diagnostics[0].message.find("must be positive"), std::string::npos) << diagnostics[0].message;
}

// An index too large for std::size_t is a ScenarioError, never an escaping std::out_of_range.
TEST(ScenarioOverrides, IndexTooLargeIsAScenarioError) {
  const auto diagnostics = load_errors(kTwoNodePath, {{"nodes[99999999999999999999].uplink", "1Gbps"}});
  ASSERT_EQ(diagnostics.size(), 1u) << describe(diagnostics);
  EXPECT_EQ(diagnostics[0].file, "--set");
}

TEST(ScenarioOverrides, PathErrorNamesTheOverride) {
  const auto diagnostics = load_errors(kTwoNodePath, {{"nodes[5].uplink", "1Gbps"}});
  ASSERT_EQ(diagnostics.size(), 1u) << describe(diagnostics);
  EXPECT_EQ(diagnostics[0].file, "--set");
  EXPECT_EQ(diagnostics[0].path, "nodes[5].uplink=1Gbps");
}

// "path=null" removes the key, so its default applies again (or, for a required key, the loader
// says it is missing); a key that is not there stays absent.
TEST(ScenarioOverrides, NullRemovesTheKey) {
  const swarmsim::sim::Scenario sc = swarmsim::sim::load_scenario_file(kTwoNodePath, {{"workload.batch_size", "4"}, {"workload.batch_size", "null"}, {"policy.nonexistent", "null"}});
  EXPECT_EQ(sc.workload.batch_size, 1);
  const auto diagnostics = load_errors(kTwoNodePath, {{"workload.prompt_tokens", "null"}});
  ASSERT_EQ(diagnostics.size(), 1u) << describe(diagnostics);
  EXPECT_EQ(diagnostics[0].path, "workload.prompt_tokens");
  EXPECT_NE(diagnostics[0].message.find("missing"), std::string::npos) << diagnostics[0].message;
}

// ---- Regressions found while reviewing the loader ----

TEST(ScenarioRegressions, EmptyRttMatrixIsRejectedNotAccepted) {
  // Used to pass validation and then fail inside the run (unordered_map::at).
  const auto d = load_errors(kTwoNodePath, {{"network.latency", "matrix"},
                                            {"network.rtt_matrix", R"({"hosts": [], "rtt": []})"}});
  ASSERT_EQ(d.size(), 2u) << describe(d);  // both hosts are missing from the matrix
  for (const auto& x : d) {
    EXPECT_EQ(x.path, "network.rtt_matrix.hosts");
    EXPECT_NE(x.message.find("is missing from the RTT matrix"), std::string::npos) << x.message;
  }
}

TEST(ScenarioRegressions, EmptyNamesAreRejected) {
  const auto d = load_errors(kTwoNodePath, {{"nodes[0].name", "\"\""}});
  ASSERT_EQ(d.size(), 1u) << describe(d);
  EXPECT_EQ(d[0].path, "nodes[0].name");
  EXPECT_EQ(d[0].message, "must not be empty");
}

TEST(ScenarioRegressions, PairLatencyNeedsTwoHosts) {
  const auto d = load_errors(kTwoNodePath, {{"events", R"([{"at": "1s", "action": "set_latency", "node": "server",
                                                            "peer": "server", "latency": "5ms"}])"}});
  ASSERT_EQ(d.size(), 1u) << describe(d);
  EXPECT_EQ(d[0].path, "events[0].peer");
}

TEST(ScenarioRegressions, OutOfRangeNumbersAreNamedAsSuch) {
  const auto d = load_errors(kTwoNodePath, {{"nodes[0].uplink", "1e400Mbps"}});
  ASSERT_EQ(d.size(), 1u) << describe(d);
  EXPECT_NE(d[0].message.find("is out of range"), std::string::npos) << d[0].message;
  const auto seed = load_errors(kTwoNodePath, {{"seed", "18446744073709551615"}});
  ASSERT_EQ(seed.size(), 1u) << describe(seed);
  EXPECT_NE(seed[0].message.find("got 18446744073709551615"), std::string::npos) << seed[0].message;
}

TEST(ScenarioRegressions, MaxBlocksZeroMeansNoCap) {
  EXPECT_NO_THROW(sim::load_scenario_file(kTwoNodePath, {{"nodes[0].blocks", "\"auto\""}, {"nodes[0].max_blocks", "0"}}));
}

}  // namespace

// Node keys that size or time a swarm's block ranges are refused where no block range exists,
// rather than ignored: each run kind, each key, and the file entry's own path.
TEST(ScenarioRegressions, BlockSwarmNodeKeysAreRefusedInOtherRunKinds) {
  const std::vector<std::pair<std::string, std::string>> kinds{
      {"tree/fisher-btree-merge.json", "Fisher B-trees"}, {"coded/coin-failover.json", "erasure-coded inference"},
      {"pipeline/unet-sd-6gpu.json", "graph pipelines"}};
  for (const auto& [file, kind] : kinds)
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"join_at", "\"20s\""}, {"max_blocks", "4"}, {"kv_cache_tokens", "2048"}}) {
      const std::string path = (kSourceDir / "scenarios" / file).string();
      const auto d = load_errors(path, {{"nodes[1]." + key, value}});
      ASSERT_EQ(d.size(), 1u) << file << " " << key << describe(d);
      EXPECT_EQ(d[0].path, "nodes[1]." + key);
      EXPECT_NE(d[0].message.find("in " + kind + " every server is up from the start"), std::string::npos) << d[0].message;
    }
  // The swarm of blocks reads them.
  const swarmsim::sim::Scenario sc = swarmsim::sim::load_scenario_file(kTwoNodePath, {{"nodes[0].join_at", "\"20s\""}, {"nodes[0].kv_cache_tokens", "2048"}});
  EXPECT_EQ(sc.nodes[0].join_at_s, 20.0);
  EXPECT_EQ(sc.nodes[0].kv_cache_tokens, 2048);
}
