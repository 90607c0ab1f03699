// Model graphs: validation on construction, Kahn orders, the JSON format and its diagnostics
// (every file in tests/data/bad_graphs has one defect), and the built-in generators against
// published totals and closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpu/model_catalog.hpp"
#include "sim/partition/model_graph.hpp"
#include "sim/partition/model_graph_io.hpp"

using namespace swarmsim::partition;

namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = SWARMSIM_SOURCE_DIR;
const fs::path kBadGraphDir = kSourceDir / "tests" / "data" / "bad_graphs";
const std::string kDiamondPath = (kSourceDir / "tests" / "data" / "graphs" / "diamond.json").string();

Op make_op(const std::string& name, double flops = 1.0, double param = 0.0, double out = 1.0) {
  Op o;
  o.name = name;
  o.kind = "op";
  o.flops = flops;
  o.param_bytes = param;
  o.out_bytes = out;
  o.mem_bytes = param + out;
  return o;
}

std::vector<Op> make_ops(std::initializer_list<const char*> names) {
  std::vector<Op> ops;
  for (const char* n : names) ops.push_back(make_op(n));
  return ops;
}

/// The message of the GraphError that building the graph must throw; fails the test otherwise.
std::string graph_error(std::vector<Op> ops, const std::vector<std::pair<int, int>>& edges) {
  try {
    ModelGraph g("bad", std::move(ops), edges);
    ADD_FAILURE() << "built a graph of " << g.size() << " ops without error";
  } catch (const GraphError& e) {
    return e.what();
  }
  return "";
}

/// The lines of the GraphFileError that loading `text` must throw.
std::vector<std::string> file_errors(const std::string& text, const std::string& file = "g.json") {
  try {
    load_model_graph_text(text, file);
    ADD_FAILURE() << "loaded without error: " << text;
  } catch (const GraphFileError& e) {
    return e.lines();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-GraphFileError exception: " << e.what();
  }
  return {};
}

std::string describe(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += "\n  " + l;
  return s.empty() ? "\n  (no lines)" : s;
}

bool has_line(const std::vector<std::string>& lines, const std::string& fragment) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(fragment) != std::string::npos; });
}

std::vector<int> as_vector(std::span<const int> s) { return {s.begin(), s.end()}; }

int id_of(const ModelGraph& g, const std::string& name) {
  for (int v = 0; v < g.size(); ++v)
    if (g.op(v).name == name) return v;
  ADD_FAILURE() << "no op named " << name << " in " << g.name();
  return -1;
}

/// Parameters (elements) of a generated graph.
double param_elements(const ModelGraph& g, const GeneratorOptions& o) {
  return g.total_param_bytes() / o.bytes_per_element;
}

// ---- Construction and validation ----

TEST(ModelGraph, BuildsSortedCsrAndTheBoostView) {
  // 0 -> 2, 1 -> 2, 0 -> 3, 2 -> 3, given out of order.
  const ModelGraph g("g", make_ops({"a", "b", "c", "d"}), {{2, 3}, {1, 2}, {0, 3}, {0, 2}});
  EXPECT_EQ(g.size(), 4);
  EXPECT_EQ(g.edge_count(), 4);
  EXPECT_EQ(as_vector(g.preds(2)), (std::vector<int>{0, 1}));
  EXPECT_EQ(as_vector(g.preds(3)), (std::vector<int>{0, 2}));
  EXPECT_EQ(as_vector(g.succs(0)), (std::vector<int>{2, 3}));
  EXPECT_TRUE(g.preds(0).empty());
  EXPECT_TRUE(g.succs(3).empty());
  EXPECT_EQ(boost::num_vertices(g.graph()), 4u);
  EXPECT_EQ(boost::num_edges(g.graph()), 4u);
  EXPECT_EQ(g.graph()[2].name, "c");
  EXPECT_TRUE(boost::edge(1, 2, g.graph()).second);
  EXPECT_FALSE(boost::edge(2, 1, g.graph()).second);
  EXPECT_EQ(boost::in_degree(3, g.graph()), 2u);
}

TEST(ModelGraph, EmptyGraphIsValid) {
  const ModelGraph g("empty", {}, {});
  EXPECT_EQ(g.size(), 0);
  EXPECT_TRUE(g.kahn_order().empty());
  EXPECT_TRUE(g.is_topological(std::vector<int>{}));
}

TEST(ModelGraph, RejectsACycleNamingItsOps) {
  // in -> a -> b -> c -> a, and c -> out: the cycle is reported, not the ops behind it.
  const std::string msg = graph_error(make_ops({"in", "a", "b", "c", "out"}), {{0, 1}, {1, 2}, {2, 3}, {3, 1}, {3, 4}});
  EXPECT_EQ(msg, "cycle: a -> b -> c -> a");
  // A two-op cycle listed against id order still starts at the smallest id.
  EXPECT_EQ(graph_error(make_ops({"x", "y"}), {{1, 0}, {0, 1}}), "cycle: x -> y -> x");
}

TEST(ModelGraph, RejectsSelfLoop) {
  const std::string msg = graph_error(make_ops({"a", "b"}), {{0, 1}, {1, 1}});
  EXPECT_NE(msg.find("self-loop on op \"b\" (id 1)"), std::string::npos) << msg;
}

TEST(ModelGraph, RejectsDuplicateEdge) {
  const std::string msg = graph_error(make_ops({"a", "b", "c"}), {{0, 1}, {1, 2}, {0, 1}});
  EXPECT_NE(msg.find("duplicate edge \"a\" (id 0) -> \"b\" (id 1)"), std::string::npos) << msg;
}

TEST(ModelGraph, RejectsEdgeOutOfRange) {
  const std::string msg = graph_error(make_ops({"a", "b", "c"}), {{0, 7}});
  EXPECT_NE(msg.find("edge \"a\" (id 0) -> 7: op id out of range [0, 3)"), std::string::npos) << msg;
  const std::string neg = graph_error(make_ops({"a", "b", "c"}), {{-1, 2}});
  EXPECT_NE(neg.find("edge -1 -> \"c\" (id 2)"), std::string::npos) << neg;
}

TEST(ModelGraph, RejectsNegativeAndNonFiniteSizes) {
  std::vector<Op> ops = make_ops({"a", "b"});
  ops[1].param_bytes = -5;
  std::string msg = graph_error(ops, {{0, 1}});
  EXPECT_NE(msg.find("op \"b\" (id 1): param_bytes must be a finite number >= 0, got -5"), std::string::npos) << msg;

  ops = make_ops({"a", "b"});
  ops[0].flops = std::numeric_limits<double>::quiet_NaN();
  msg = graph_error(ops, {});
  EXPECT_NE(msg.find("op \"a\" (id 0): flops must be"), std::string::npos) << msg;

  ops = make_ops({"a", "b"});
  ops[1].out_bytes = std::numeric_limits<double>::infinity();
  msg = graph_error(ops, {});
  EXPECT_NE(msg.find("op \"b\" (id 1): out_bytes must be"), std::string::npos) << msg;

  ops = make_ops({"a", "b"});
  ops[1].mem_bytes = -1;
  msg = graph_error(ops, {});
  EXPECT_NE(msg.find("op \"b\" (id 1): mem_bytes must be"), std::string::npos) << msg;
}

TEST(ModelGraph, RejectsDuplicateAndEmptyNames) {
  std::string msg = graph_error(make_ops({"a", "b", "a"}), {});
  EXPECT_NE(msg.find("duplicate op name \"a\" (ids 0 and 2)"), std::string::npos) << msg;
  msg = graph_error(make_ops({"a", ""}), {});
  EXPECT_NE(msg.find("op with id 1 has an empty name"), std::string::npos) << msg;
}

// ---- Orders ----

TEST(ModelGraph, KahnOrderTakesTheSmallestReadyId) {
  // 3 -> 0, 2 -> 1, 1 -> 0: ready at first {2, 3}; 2 frees 1; then 1 < 3.
  const ModelGraph g("g", make_ops({"a", "b", "c", "d"}), {{3, 0}, {2, 1}, {1, 0}});
  const std::vector<int> order = g.kahn_order();
  EXPECT_EQ(order, (std::vector<int>{2, 1, 3, 0}));
  EXPECT_TRUE(g.is_topological(order));
}

TEST(ModelGraph, KahnOrderWithKeysTakesTheSmallestReadyKey) {
  // A diamond 0 -> {1, 2} -> 3 plus an isolated op 4.
  const ModelGraph g("g", make_ops({"s", "l", "r", "t", "iso"}), {{0, 1}, {0, 2}, {1, 3}, {2, 3}});
  // Keys prefer iso first, then r before l; t waits for both branches.
  const std::vector<double> keys{0.5, 0.9, 0.2, 0.0, 0.1};
  EXPECT_EQ(g.kahn_order(keys), (std::vector<int>{4, 0, 2, 1, 3}));
  // Ties are broken by id.
  const std::vector<double> ties(5, 0.3);
  EXPECT_EQ(g.kahn_order(ties), g.kahn_order());
  // A key never lets an op jump its predecessors: t has the smallest key but comes last.
  const std::vector<double> eager{0.9, 0.8, 0.7, -1.0, 0.95};
  EXPECT_EQ(g.kahn_order(eager), (std::vector<int>{0, 2, 1, 3, 4}));
}

TEST(ModelGraph, KahnOrderRejectsBadKeys) {
  const ModelGraph g("g", make_ops({"a", "b"}), {{0, 1}});
  EXPECT_THROW(g.kahn_order(std::vector<double>{0.1}), std::invalid_argument);
  EXPECT_THROW(g.kahn_order(std::vector<double>{0.1, std::nan("")}), std::invalid_argument);
}

TEST(ModelGraph, KahnOrdersOfAGeneratedGraphAreTopological) {
  const ModelGraph g = generate_model_graph("unet-sd");
  EXPECT_TRUE(g.is_topological(g.kahn_order()));
  std::vector<double> keys(static_cast<std::size_t>(g.size()));
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = std::fmod(static_cast<double>(i) * 0.618034, 1.0);
  EXPECT_TRUE(g.is_topological(g.kahn_order(keys)));
}

TEST(ModelGraph, IsTopologicalRejectsBadOrders) {
  const ModelGraph g("g", make_ops({"a", "b", "c"}), {{0, 1}, {1, 2}});
  EXPECT_TRUE(g.is_topological(std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(g.is_topological(std::vector<int>{1, 0, 2}));     // edge 0 -> 1 backwards
  EXPECT_FALSE(g.is_topological(std::vector<int>{0, 1}));        // too short
  EXPECT_FALSE(g.is_topological(std::vector<int>{0, 1, 1}));     // not a permutation
  EXPECT_FALSE(g.is_topological(std::vector<int>{0, 1, 3}));     // out of range
  EXPECT_FALSE(g.is_topological(std::vector<int>{0, 1, 2, 2}));  // too long
}

TEST(ModelGraph, Totals) {
  std::vector<Op> ops{make_op("a", 10, 100, 1), make_op("b", 20, 200, 1), make_op("c", 30, 0, 1)};
  const ModelGraph g("g", ops, {{0, 1}});
  EXPECT_DOUBLE_EQ(g.total_flops(), 60);
  EXPECT_DOUBLE_EQ(g.total_param_bytes(), 300);
}

TEST(ModelGraph, WorkIsTheRoofline) {
  Op op = make_op("a", 2e12, 0, 0);
  op.mem_bytes = 1e9;
  EXPECT_DOUBLE_EQ((DeviceRates{1e12, 0.0, {}}.work_s(0, op)), 2.0);    // memory free
  EXPECT_DOUBLE_EQ((DeviceRates{1e12, 1e12, {}}.work_s(0, op)), 2.0);   // compute-bound
  EXPECT_DOUBLE_EQ((DeviceRates{1e15, 1e8, {}}.work_s(0, op)), 10.0);   // memory-bound
}

TEST(ModelGraph, WorkFromPricedOpsReplacesTheRoofline) {
  Op op = make_op("a", 2e12, 0, 0);
  DeviceRates rates{1e12, 1e12, std::make_shared<const std::vector<double>>(std::vector<double>{7.0, 3.5})};
  EXPECT_DOUBLE_EQ(rates.work_s(0, op), 7.0);  // op 0's priced time, not its 2 s roofline
  EXPECT_DOUBLE_EQ(rates.work_s(1, op), 3.5);
}

// ---- The JSON format ----

TEST(ModelGraphIo, LoadsTheDiamondExampleWithUnits) {
  const ModelGraph g = load_model_graph_file(kDiamondPath);
  EXPECT_EQ(g.name(), "diamond");
  ASSERT_EQ(g.size(), 8);
  EXPECT_EQ(g.edge_count(), 9);
  EXPECT_EQ(g.op(0).kind, "input");
  EXPECT_DOUBLE_EQ(g.op(0).flops, 0.0);                  // default
  EXPECT_DOUBLE_EQ(g.op(0).out_bytes, 602e3);            // "602KB", decimal
  EXPECT_DOUBLE_EQ(g.op(1).flops, 236e6);                // "236MFLOP"
  EXPECT_DOUBLE_EQ(g.op(2).flops, 0.93e9);               // "0.93GFLOP"
  EXPECT_DOUBLE_EQ(g.op(2).param_bytes, 72.0 * 1024);    // "72KiB", binary
  const int merge = id_of(g, "merge");
  EXPECT_EQ(as_vector(g.preds(merge)), (std::vector<int>{1, 3, 4}));  // the skip from the stem
  EXPECT_DOUBLE_EQ(g.op(merge).flops, 401408);           // a plain number
  // mem_bytes defaults to params + output + the inputs' outputs ...
  EXPECT_DOUBLE_EQ(g.op(merge).mem_bytes, 401e3 * 4);
  EXPECT_DOUBLE_EQ(g.op(id_of(g, "pool")).out_bytes, 128);
  // ... unless given.
  EXPECT_DOUBLE_EQ(g.op(id_of(g, "fc")).mem_bytes, 130e3);
}

TEST(ModelGraphIo, InputsMayReferToLaterOps) {
  const ModelGraph g = load_model_graph_text(R"({"ops": [
      {"name": "b", "flops": "1KFLOP", "out_bytes": 10, "inputs": ["a"]},
      {"name": "a", "out_bytes": 30}]})", "later.json");
  EXPECT_EQ(g.name(), "later");  // the file's stem when "name" is absent
  EXPECT_EQ(g.op(0).kind, "op");
  EXPECT_EQ(as_vector(g.preds(0)), (std::vector<int>{1}));
  EXPECT_DOUBLE_EQ(g.op(0).mem_bytes, 40);
  EXPECT_EQ(g.kahn_order(), (std::vector<int>{1, 0}));
}

TEST(ModelGraphIo, ReportsEveryProblemWithFileAndPath) {
  const auto lines = file_errors(R"({"name": "x", "ops": [
      {"name": "a", "flops": "5GFLOPS", "out_bytes": "1Mb"},
      {"name": "b", "flop": 3, "inputs": ["a", "a", "b", 7]},
      {"kind": "conv"},
      {"name": "a", "param_bytes": true}]})");
  EXPECT_EQ(lines.size(), 9u) << describe(lines);
  EXPECT_TRUE(has_line(lines, "g.json: ops[0].flops: expected a FLOP count such as \"1.2GFLOP\""));
  EXPECT_TRUE(has_line(lines, "(unknown unit \"GFLOPS\" in \"5GFLOPS\")"));
  EXPECT_TRUE(has_line(lines, "g.json: ops[0].out_bytes: unknown unit \"Mb\" in \"1Mb\""));
  EXPECT_TRUE(has_line(lines, "g.json: ops[1].flop: unknown key \"flop\" (did you mean \"flops\"?)"));
  EXPECT_TRUE(has_line(lines, "g.json: ops[1].inputs[1]: \"a\" is listed twice (also at ops[1].inputs[0])"));
  EXPECT_TRUE(has_line(lines, "g.json: ops[1].inputs[2]: \"b\" is this op itself"));
  EXPECT_TRUE(has_line(lines, "g.json: ops[1].inputs[3]: expected an op name (a string), got the number 7"));
  EXPECT_TRUE(has_line(lines, "g.json: ops[2].name: missing"));
  EXPECT_TRUE(has_line(lines, "g.json: ops[3].name: duplicate name \"a\" (also at ops[0].name)"));
  EXPECT_TRUE(has_line(lines, "g.json: ops[3].param_bytes: expected a size such as \"36KB\" or a number of bytes in [0, 1e18], "
                              "got the boolean true"));
}

TEST(ModelGraphIo, WhatJoinsTheLines) {
  try {
    load_model_graph_text(R"({"ops": [{"name": "a", "flops": -1, "out_bytes": -2}]})", "w.json");
    FAIL() << "loaded";
  } catch (const GraphFileError& e) {
    ASSERT_EQ(e.lines().size(), 2u) << describe(e.lines());
    EXPECT_EQ(std::string(e.what()), e.lines()[0] + "\n" + e.lines()[1]);
    EXPECT_EQ(e.lines()[1],
              "w.json: ops[0].out_bytes: expected a size such as \"36KB\" or a number of bytes in [0, 1e18], got -2");
  }
}

TEST(ModelGraphIo, SyntaxErrorsGiveLineAndColumn) {
  const auto lines = file_errors("{\"ops\": [\n  {\"name\": \"a\"}\n  {\"name\": \"b\"}\n]}");
  ASSERT_EQ(lines.size(), 1u) << describe(lines);
  EXPECT_EQ(lines[0].rfind("g.json: line 3, column 3: JSON syntax error: ", 0), 0u) << lines[0];
}

TEST(ModelGraphIo, DuplicateKeysAreErrors) {
  const auto lines = file_errors(R"({"ops": [{"name": "a", "out_bytes": 1, "out_bytes": 2}]})");
  ASSERT_EQ(lines.size(), 1u) << describe(lines);
  EXPECT_EQ(lines[0], "g.json: ops[0].out_bytes: duplicate key \"out_bytes\" in the same object");
}

TEST(ModelGraphIo, RootAndOpsShape) {
  EXPECT_EQ(file_errors("[1, 2]"), (std::vector<std::string>{"g.json: (root): expected a graph object, got an array"}));
  EXPECT_EQ(file_errors(R"({"name": "x"})"),
            (std::vector<std::string>{"g.json: ops: missing; expected a non-empty array of ops"}));
  EXPECT_EQ(file_errors(R"({"ops": []})"),
            (std::vector<std::string>{"g.json: ops: expected a non-empty array of ops, got an empty array"}));
  EXPECT_EQ(file_errors(R"({"ops": {}})"),
            (std::vector<std::string>{"g.json: ops: expected a non-empty array of ops, got an object"}));
  const auto lines = file_errors(R"({"nmae": "x", "ops": [3]})");
  EXPECT_TRUE(has_line(lines, "g.json: nmae: unknown key \"nmae\" (did you mean \"name\"?)")) << describe(lines);
  EXPECT_TRUE(has_line(lines, "g.json: ops[0]: expected an op object, got the number 3")) << describe(lines);
}

TEST(ModelGraphIo, MissingFile) {
  const std::string missing = (kBadGraphDir / "does_not_exist.json").string();
  try {
    load_model_graph_file(missing);
    FAIL() << "loaded a missing file";
  } catch (const GraphFileError& e) {
    ASSERT_EQ(e.lines().size(), 1u);
    EXPECT_EQ(e.lines()[0], missing + ": cannot open the file for reading");
  }
}

TEST(ModelGraphIo, ToJsonWritesNumbersAndInputsByName) {
  const ModelGraph g = load_model_graph_file(kDiamondPath);
  const nlohmann::json j = to_json(g);
  EXPECT_EQ(j.at("name"), "diamond");
  const nlohmann::json& merge = j.at("ops").at(5);
  EXPECT_EQ(merge.at("name"), "merge");
  EXPECT_EQ(merge.at("inputs"), (nlohmann::json{"stem", "left2", "right"}));
  EXPECT_TRUE(merge.at("out_bytes").is_number_integer()) << merge.dump();
  EXPECT_EQ(merge.at("out_bytes").get<double>(), 401e3);
}

void expect_same_graph(const ModelGraph& a, const ModelGraph& b) {
  EXPECT_EQ(a.name(), b.name());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.edge_count(), b.edge_count());
  for (int v = 0; v < a.size(); ++v) {
    EXPECT_EQ(a.op(v), b.op(v)) << "op " << v << " " << a.op(v).name;
    EXPECT_EQ(as_vector(a.preds(v)), as_vector(b.preds(v))) << "op " << v;
    EXPECT_EQ(as_vector(a.succs(v)), as_vector(b.succs(v))) << "op " << v;
  }
}

class ModelGraphRoundTrip : public testing::TestWithParam<std::string> {};

TEST_P(ModelGraphRoundTrip, LoadOfToJsonIsTheSameGraph) {
  GeneratorOptions o;
  o.layers = GetParam() == "llama-chain" ? 4 : 0;
  const ModelGraph g = generate_model_graph(GetParam(), o);
  expect_same_graph(g, load_model_graph_text(to_json(g).dump(2), "roundtrip.json"));
}

INSTANTIATE_TEST_SUITE_P(ModelGraph, ModelGraphRoundTrip, testing::ValuesIn(generator_names()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(ModelGraphIo, DiamondRoundTrips) {
  const ModelGraph g = load_model_graph_file(kDiamondPath);
  expect_same_graph(g, load_model_graph_text(to_json(g).dump(), "diamond.json"));
}

// ---- Bad files: one defect each, one line naming file, JSON path and what was expected ----

struct BadGraph {
  std::string file;     ///< name inside tests/data/bad_graphs
  std::string path;     ///< expected JSON path of the line
  std::string message;  ///< substring expected in the line's message
};

void PrintTo(const BadGraph& bad, std::ostream* os) { *os << bad.file; }

const std::vector<BadGraph>& bad_graphs() {
  static const std::vector<BadGraph> table{
      {"01_cycle.json", "ops", "cycle: conv1 -> conv2 -> conv3 -> conv1"},
      {"02_unknown_input.json", "ops[3].inputs[1]", "unknown op \"conv9\"; did you mean \"conv1\"?"},
      {"03_negative_size.json", "ops[2].param_bytes",
       "expected a size such as \"36KB\" or a number of bytes in [0, 1e18], got -5"},
      {"04_wrong_type.json", "ops[1].inputs", "expected an array of op names, got the string \"input\""},
      {"05_size_too_large.json", "ops[1].out_bytes", "expected a size such as \"36KB\" or a number of bytes in [0, 1e18], got 1e+308"},
  };
  return table;
}

class ModelGraphBadFiles : public testing::TestWithParam<BadGraph> {};

TEST_P(ModelGraphBadFiles, NamesFilePathAndExpectation) {
  const BadGraph& bad = GetParam();
  const std::string file = (kBadGraphDir / bad.file).string();
  ASSERT_TRUE(fs::is_regular_file(file)) << file;
  std::vector<std::string> lines;
  try {
    load_model_graph_file(file);
    FAIL() << file << " loaded without error";
  } catch (const GraphFileError& e) {
    lines = e.lines();
  }
  ASSERT_EQ(lines.size(), 1u) << describe(lines);
  const std::string prefix = file + ": " + bad.path + ": ";
  EXPECT_EQ(lines[0].rfind(prefix, 0), 0u) << "expected " << prefix << "...; got" << describe(lines);
  EXPECT_NE(lines[0].find(bad.message), std::string::npos)
      << "expected ..." << bad.message << "...; got" << describe(lines);
}

INSTANTIATE_TEST_SUITE_P(ModelGraph, ModelGraphBadFiles, testing::ValuesIn(bad_graphs()),
                         [](const testing::TestParamInfo<BadGraph>& info) {
                           std::string name = fs::path(info.param.file).stem().string();
                           std::replace_if(name.begin(), name.end(),
                                           [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
                           return name;
                         });

TEST(ModelGraphBadFilesTable, CoversEveryBadFile) {
  std::set<std::string> in_table, on_disk;
  for (const BadGraph& bad : bad_graphs()) EXPECT_TRUE(in_table.insert(bad.file).second) << "twice: " << bad.file;
  for (const fs::directory_entry& entry : fs::directory_iterator(kBadGraphDir))
    on_disk.insert(entry.path().filename().string());
  EXPECT_EQ(in_table, on_disk);
}

// ---- Generators ----

TEST(ModelGraphGenerators, ResNet50KnownTotals) {
  const GeneratorOptions o;  // batch 1, 224 x 224
  const ModelGraph g = generate_model_graph("resnet50", o);
  // torchvision resnet50: 25,557,032 parameters; 4.09 GMACs = 8.2 GFLOP.
  EXPECT_NEAR(param_elements(g, o), 25.6e6, 0.03 * 25.6e6);
  EXPECT_NEAR(g.total_flops(), 8.2e9, 0.05 * 8.2e9);
  // 16 bottlenecks of 3 convs and an add, 4 projections, stem, pools, fc, input.
  EXPECT_EQ(g.size(), 16 * 4 + 4 + 5);
  // Each add joins the residual branch and the block input (or its projection).
  const int add = id_of(g, "layer3.2.add");
  EXPECT_EQ(as_vector(g.preds(add)), (std::vector<int>{id_of(g, "layer3.1.add"), id_of(g, "layer3.2.conv3")}));
  const int first = id_of(g, "layer2.0.add");
  EXPECT_EQ(as_vector(g.preds(first)), (std::vector<int>{id_of(g, "layer2.0.conv3"), id_of(g, "layer2.0.downsample")}));
  // Sizes scale with the batch and the element size; FLOPs with the batch.
  GeneratorOptions big = o;
  big.batch = 4;
  big.bytes_per_element = 4;
  const ModelGraph g4 = generate_model_graph("resnet50", big);
  EXPECT_NEAR(g4.total_flops(), 4 * g.total_flops(), 1e-9 * g4.total_flops());
  EXPECT_DOUBLE_EQ(g4.op(0).out_bytes, 4 * 3 * 224 * 224 * 4.0);
  EXPECT_DOUBLE_EQ(g4.total_param_bytes(), 2 * g.total_param_bytes());
}

TEST(ModelGraphGenerators, BertBaseKnownTotals) {
  const GeneratorOptions o;  // seq 128
  const ModelGraph g = generate_model_graph("bert-base", o);
  EXPECT_NEAR(param_elements(g, o), 110e6, 0.03 * 110e6);
  // Closed form: 2 FLOPs per weight of the encoder matrices per token, plus QK^T and AV.
  const double h = 768, s = 128, layers = 12;
  const double encoder_matrix_params = layers * (4 * h * h + 2 * h * 3072);
  const double closed = 2 * encoder_matrix_params * s + 2 * 2 * s * s * h * layers;
  EXPECT_NEAR(g.total_flops(), closed, 0.10 * closed);
  EXPECT_EQ(g.size(), 2 + 12 * 7 + 1);
  // The client sends int32 token ids, not embeddings: 4 bytes a token, whatever the element size.
  EXPECT_DOUBLE_EQ(g.op(id_of(g, "token_ids")).out_bytes, 128 * 4.0);
  EXPECT_EQ(as_vector(g.preds(id_of(g, "embeddings"))), (std::vector<int>{id_of(g, "token_ids")}));
  // Residual edges: each add+layernorm consumes its sub-layer and the sub-layer's input.
  EXPECT_EQ(as_vector(g.preds(id_of(g, "layer5.attn_norm"))),
            (std::vector<int>{id_of(g, "layer4.ffn_norm"), id_of(g, "layer5.attn_out")}));
  EXPECT_EQ(as_vector(g.preds(id_of(g, "layer5.ffn_norm"))),
            (std::vector<int>{id_of(g, "layer5.attn_norm"), id_of(g, "layer5.ffn2")}));
  GeneratorOptions too_long = o;
  too_long.seq_len = 513;
  EXPECT_THROW(generate_model_graph("bert-base", too_long), std::invalid_argument);
}

TEST(ModelGraphGenerators, UnetSdParamsAndSkipConnections) {
  GeneratorOptions o;
  o.image_size = 512;  // SD 1.5's native 64 x 64 latent
  const ModelGraph g = generate_model_graph("unet-sd", o);
  // runwayml/stable-diffusion-v1-5 unet: 859.5M parameters.
  EXPECT_NEAR(param_elements(g, o), 860e6, 0.15 * 860e6);
  EXPECT_DOUBLE_EQ(g.op(id_of(g, "latent")).out_bytes, 4 * 64 * 64 * 2.0);
  // Every decoder ResNet block consumes the previous op, one encoder output, and the time embedding.
  const int temb = id_of(g, "time_embed");
  std::set<int> encoder_outputs;
  for (int l = 0; l < 4; ++l)
    for (int j = 0; j < 3; ++j) {
      const int r = id_of(g, "up" + std::to_string(l) + ".res" + std::to_string(j));
      const auto preds = as_vector(g.preds(r));
      ASSERT_EQ(preds.size(), 3u) << g.op(r).name;
      EXPECT_NE(std::find(preds.begin(), preds.end(), temb), preds.end());
      int skips = 0;
      for (int p : preds) {
        const std::string& name = g.op(p).name;
        if (name == "conv_in" || name.rfind("down", 0) == 0) {
          ++skips;
          EXPECT_TRUE(encoder_outputs.insert(p).second) << name << " feeds two decoder blocks";
        }
      }
      EXPECT_EQ(skips, 1) << g.op(r).name;
    }
  EXPECT_EQ(encoder_outputs.size(), 12u);
  // The innermost skip pairs the last encoder block with the first decoder block.
  const auto first_up = as_vector(g.preds(id_of(g, "up0.res0")));
  EXPECT_NE(std::find(first_up.begin(), first_up.end(), id_of(g, "down3.res1")), first_up.end());
  const auto last_up = as_vector(g.preds(id_of(g, "up3.res2")));
  EXPECT_NE(std::find(last_up.begin(), last_up.end(), id_of(g, "conv_in")), last_up.end());
  // An odd latent (224 / 8 = 28 -> 14 -> 7 -> 4) still builds, with the same parameters.
  const ModelGraph small = generate_model_graph("unet-sd");
  EXPECT_DOUBLE_EQ(small.total_param_bytes(), g.total_param_bytes());
  EXPECT_LT(small.total_flops(), g.total_flops());
}

TEST(ModelGraphGenerators, LlamaChainBlocksMatchTheCatalog) {
  for (const swarmsim::gpu::TransformerSpec& m : swarmsim::gpu::model_catalog()) {
    SCOPED_TRACE(m.name);
    GeneratorOptions o;
    o.llm = m.name;
    o.layers = 2;
    const ModelGraph g = generate_model_graph("llama-chain", o);
    EXPECT_EQ(g.size(), 2 + 2 * 8 + 2);
    EXPECT_EQ(as_vector(g.preds(id_of(g, "embed"))), (std::vector<int>{id_of(g, "token_ids")}));
    // A gather reads one table row per token, its ids, and writes the hidden states.
    EXPECT_DOUBLE_EQ(g.op(id_of(g, "embed")).mem_bytes, 2 * 128 * m.hidden * o.bytes_per_element + 128 * 4.0);
    for (int block = 0; block < 2; ++block) {
      const std::string prefix = "block" + std::to_string(block) + ".";
      double params = 0;
      for (const Op& op : g.ops())
        if (op.name.rfind(prefix, 0) == 0) params += op.param_bytes / o.bytes_per_element;
      EXPECT_NEAR(params, m.block_params(), 0.01 * m.block_params());
    }
    // The residual adds consume their sub-layer and the residual stream.
    EXPECT_EQ(as_vector(g.preds(id_of(g, "block1.attn_residual"))),
              (std::vector<int>{id_of(g, "block0.mlp_residual"), id_of(g, "block1.o_proj")}));
  }
  // All blocks by default: the whole model's parameters.
  const swarmsim::gpu::TransformerSpec& llama = *swarmsim::gpu::find_model("Llama-3-8B");
  const GeneratorOptions o;
  const ModelGraph g = generate_model_graph("llama-chain", o);
  EXPECT_EQ(g.size(), 2 + llama.n_layers * 8 + 2);
  EXPECT_NEAR(param_elements(g, o), llama.total_params(), 0.01 * llama.total_params());
  // FLOPs: 2 per non-embedding weight per token, plus attention over the full S x S.
  const double tokens = 128;
  const double closed = 2 * (llama.total_params() - llama.embedding_params()) * tokens +
                        llama.n_layers * 4 * tokens * tokens * llama.q_dim();
  EXPECT_NEAR(g.total_flops(), closed, 0.02 * closed);

  GeneratorOptions unknown;
  unknown.llm = "GPT-5";
  EXPECT_THROW(generate_model_graph("llama-chain", unknown), std::invalid_argument);
  GeneratorOptions too_many;
  too_many.layers = llama.n_layers + 1;
  EXPECT_THROW(generate_model_graph("llama-chain", too_many), std::invalid_argument);
}

TEST(ModelGraphGenerators, RandomDagIsDeterministicLayeredAndInRange) {
  const ModelGraph a = random_layered_dag(200, 5, 42);
  const ModelGraph b = random_layered_dag(200, 5, 42);
  expect_same_graph(a, b);
  const ModelGraph c = random_layered_dag(200, 5, 43);
  ASSERT_EQ(c.size(), 200);
  bool differs = c.edge_count() != a.edge_count();
  for (int v = 0; v < a.size() && !differs; ++v)
    differs = !(a.op(v) == c.op(v)) || as_vector(a.preds(v)) != as_vector(c.preds(v));
  EXPECT_TRUE(differs);

  ASSERT_EQ(a.size(), 200);
  EXPECT_EQ(a.op(17).name, "r17");
  int sources = 0;
  for (int v = 0; v < a.size(); ++v) {
    const Op& op = a.op(v);
    EXPECT_GE(op.flops, 1e6);
    EXPECT_LE(op.flops, 1e9);
    EXPECT_GE(op.param_bytes, 0);
    EXPECT_LE(op.param_bytes, 1e8);
    EXPECT_GE(op.out_bytes, 1e3);
    EXPECT_LE(op.out_bytes, 1e7);
    const auto preds = a.preds(v);
    EXPECT_LE(preds.size(), 3u);
    for (int p : preds) EXPECT_LT(p, v) << "ids are a topological order";
    if (preds.empty()) {
      ++sources;
      EXPECT_LT(v, 5) << "only the first layer has no inputs";
    }
  }
  EXPECT_GE(sources, 1);
  std::vector<int> identity(200);
  for (int v = 0; v < 200; ++v) identity[static_cast<std::size_t>(v)] = v;
  EXPECT_TRUE(a.is_topological(identity));

  // The generator name uses options.layers as the op count (default 50).
  GeneratorOptions o;
  o.seed = 42;
  EXPECT_EQ(generate_model_graph("random-dag", o).size(), 50);
  o.layers = 200;
  o.width = 5;
  expect_same_graph(generate_model_graph("random-dag", o), a);
  EXPECT_THROW(random_layered_dag(0, 4, 1), std::invalid_argument);
  EXPECT_THROW(random_layered_dag(10, 0, 1), std::invalid_argument);
}

TEST(ModelGraphGenerators, UnknownGeneratorListsTheKnownNames) {
  try {
    generate_model_graph("resnet51");
    FAIL() << "generated an unknown graph";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown model graph generator \"resnet51\" (did you mean \"resnet50\"?)"), std::string::npos)
        << msg;
    for (const std::string& name : generator_names()) EXPECT_NE(msg.find("\"" + name + "\""), std::string::npos) << msg;
  }
  EXPECT_EQ(generator_names().size(), 5u);
}

}  // namespace
