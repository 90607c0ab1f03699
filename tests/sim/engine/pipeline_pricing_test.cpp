// A graph pipeline's ops priced by the scenario's cost model (sim/pricing.hpp): the roofline with
// each class's efficiency and a launch per kernel, or a measured profile, as a swarm's blocks are.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gpu/device_catalog.hpp"
#include "gpu/op_profile.hpp"
#include "sim/engine/isolated_run.hpp"
#include "sim/partition/node_slicing.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;
using swarmsim::gpu::OpClass;
using swarmsim::partition::ModelGraph;
using swarmsim::partition::Op;

namespace {

/// The chain3 graph (three 84.7 GFLOP matmuls after an input) on one server of each of `devices`
/// (three of `device` by default), priced as `pricing` says, `rpc` a message.
Scenario chain3_on(const std::string& device, const std::string& pricing, const std::string& rpc = "0ms",
                   std::vector<std::string> devices = {}) {
  if (devices.empty()) devices.assign(3, device);
  std::string nodes;
  for (std::size_t i = 0; i < devices.size(); ++i)
    nodes += std::string(i ? "," : "") + R"({"name": "s)" + std::to_string(i) + R"(", "gpu": ")" + devices[i] +
             R"(", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"})";
  const std::string text = R"({
    "name": "chain3-pricing",
    "model": {"graph": {"file": "chain3.json"}},
    "nodes": [)" + nodes + R"(],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"}],
    "network": {"model": "exact"},
    "overheads": {"rpc": ")" + rpc + R"(", "serialization_bandwidth": "1TBps", "message_header": "0B"},
    "workload": {"sessions": 20, "max_in_flight": 4},
    "simulation": {"pricing": ")" + pricing + R"("},
    "policy": {"partitioner": {"method": "slicegraph"}}
  })";
  return load_scenario_text(text, std::string(SWARMSIM_SOURCE_DIR) + "/tests/data/graphs/pipeline_test.json");
}

double total_compute_s(const PipelinePlan& plan) {
  double s = 0;
  for (const PipelineStage& st : plan.stages) s += st.compute_s;
  return s;
}

}  // namespace

TEST(GraphPricing, KindsRunOnTheirUnits) {
  for (const char* kind : {"matmul", "linear", "gemm", "conv", "resnet", "transformer", "mlp"}) EXPECT_EQ(graph_op_class(kind), OpClass::Gemm) << kind;
  EXPECT_EQ(graph_op_class("attention"), OpClass::Attention);
  for (const char* kind : {"add", "norm", "add_layernorm", "pool", "embedding", "input", "op", "random", "Matmul"})
    EXPECT_EQ(graph_op_class(kind), OpClass::Vector) << kind;
}

// Hand-worked on an A100 (312 TFLOP/s, 2039 GB/s, 5 us a launch): a matmul at 70% of peak, an
// attention and an add at 30%, each memory-bound op at 80% of the bandwidth, each plus one launch;
// the graph input runs no kernel.
TEST(GraphPricing, TheRooflineAddsALaunchPerKernelAndEachClassItsEfficiency) {
  const std::vector<Op> ops{{"x", "input", 0, 4e6, 0, 4e6},
                            {"mm", "matmul", 1e12, 1e8, 5e7, 4e6},
                            {"att", "attention", 1e11, 1e7, 0, 4e6},
                            {"add", "add", 1e6, 1.2e7, 0, 4e6},
                            {"late_input", "input", 0, 4e6, 0, 4e6}};  // has a predecessor: runs as a kernel
  const ModelGraph g("g", ops, {{0, 1}, {1, 2}, {2, 3}, {3, 4}});
  const swarmsim::gpu::DeviceSpec& a100 = *swarmsim::gpu::find_device("A100-80GB");
  const std::vector<double> t = graph_op_seconds(swarmsim::gpu::RooflineCostModel(), a100, g);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0], 0.0);
  EXPECT_TRUE(is_graph_input(g, 0));
  EXPECT_FALSE(is_graph_input(g, 4));
  EXPECT_NEAR(t[1], 1e12 / (312e12 * 0.70) + 5e-6, 1e-12);
  EXPECT_NEAR(t[2], 1e11 / (312e12 * 0.30) + 5e-6, 1e-12);
  EXPECT_NEAR(t[3], 1.2e7 / (2039e9 * 0.80) + 5e-6, 1e-12);
  EXPECT_NEAR(t[4], 4e6 / (2039e9 * 0.80) + 5e-6, 1e-12);
}

// A chain of 100 tiny ops (1 kFLOP, 1 kB each) is launch-bound: 100 x 5 us on L4s, where the
// bare roofline priced it at under half a microsecond.
TEST(GraphPricing, ManyTinyOpsCostTheirLaunches) {
  Scenario sc = chain3_on("L4", "roofline");
  std::vector<Op> ops{{"x", "input", 0, 1e3, 0, 1e3}};
  std::vector<std::pair<int, int>> edges;
  for (int i = 1; i <= 100; ++i) {
    ops.push_back({"op" + std::to_string(i), "add", 1e3, 1e3, 0, 1e3});
    edges.emplace_back(i - 1, i);
  }
  sc.graph = std::make_shared<const ModelGraph>("tiny", ops, edges);
  const PipelinePlan plan = plan_pipeline(sc);
  EXPECT_NEAR(total_compute_s(plan), 100 * (5e-6 + 1e3 / (300e9 * 0.80)), 1e-12);
  EXPECT_EQ(plan.op_prices.pricing, "roofline");
}

// With "auto" pricing a CPU server is priced from the committed CPU profile, as a swarm's blocks
// are: each stage's compute is the profile model's price of its ops, and differs from the roofline's.
TEST(GraphPricing, CpuServersArePricedFromTheirProfileUnlessTheScenarioAsksForTheRoofline) {
  const auto profiles = swarmsim::gpu::load_profiles(swarmsim::gpu::default_profile_dir());
  const swarmsim::gpu::ProfileCostModel model(profiles);
  const swarmsim::gpu::DeviceSpec& cpu = *swarmsim::gpu::find_device("cpu-generic");
  ASSERT_NE(model.profile_for(cpu), nullptr) << "gpu/profiles/ has a CPU profile";

  const Scenario measured = chain3_on("cpu-generic", "auto"), roofline = chain3_on("cpu-generic", "roofline");
  const PipelinePlan by_profile = plan_pipeline(measured), by_roofline = plan_pipeline(roofline);
  const ModelGraph& g = *measured.graph;
  double expected = 0;
  for (int v = 1; v < g.size(); ++v)
    expected += model.op_seconds(cpu, {g.op(v).kind.c_str(), OpClass::Gemm, g.op(v).flops, g.op(v).mem_bytes});
  EXPECT_NEAR(total_compute_s(by_profile), expected, 1e-9 * expected);
  // The roofline: 84.7 GFLOP at 70% of 1.536 TFLOP/s plus a 2 us launch, three times.
  EXPECT_NEAR(total_compute_s(by_roofline), 3 * (84.7e9 / (1.536e12 * 0.70) + 2e-6), 1e-9);
  EXPECT_GT(std::abs(total_compute_s(by_profile) / total_compute_s(by_roofline) - 1), 0.05);
  EXPECT_NE(by_profile.op_prices.pricing.find("profile for CPU devices"), std::string::npos) << by_profile.op_prices.pricing;

  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  const nlohmann::json m = run_isolated(measured, opts).metrics;
  EXPECT_EQ(m["pricing"], by_profile.op_prices.pricing);
  EXPECT_EQ(run_isolated(roofline, opts).metrics["pricing"], "roofline");
}

// Nodes with the same rates but ops priced differently (a profiled device beside a roofline one)
// are not interchangeable to the recut.
TEST(GraphPricing, NodesWithDifferentOpPricesAreDifferentClasses) {
  std::vector<swarmsim::partition::PlacementNode> nodes(3);
  const auto a = std::make_shared<const std::vector<double>>(std::vector<double>{1.0});
  const auto b = std::make_shared<const std::vector<double>>(std::vector<double>{2.0});
  nodes[0].rates.op_seconds = a;
  nodes[1].rates.op_seconds = b;
  nodes[2].rates.op_seconds = a;
  const std::vector<int> classes = swarmsim::partition::interchangeable_classes(nodes);
  EXPECT_EQ(classes, (std::vector<int>{0, 1, 0}));
}

// The planner prices each message a stage receives and sends at the scenario's RPC cost (a
// deviation from eq. 10): in chain3 every stage receives one message and sends one.
TEST(GraphPricing, EachStagesCostHoldsTheRpcOfItsMessages) {
  const PipelinePlan with = plan_pipeline(chain3_on("L4", "roofline", "0.5ms")), without = plan_pipeline(chain3_on("L4", "roofline"));
  ASSERT_EQ(with.stages.size(), 3u);
  ASSERT_EQ(without.stages.size(), 3u);
  for (std::size_t b = 0; b < 3; ++b) {
    EXPECT_EQ(with.stages[b].node, without.stages[b].node);
    EXPECT_NEAR(with.stages[b].predicted_cost_s - without.stages[b].predicted_cost_s, 2 * 0.5e-3, 1e-12) << "stage " << b;
  }
}

// A big op X fed by the client's tensor and by a small op e of a second client tensor, on an
// A100 and an RTX 4090: taking e off the A100 saves it a launch (5 us) in eq. 10, but if the
// client then sends X's tensor straight to the A100, the A100 receives two messages a request
// instead of one, 0.5 ms more of RPC. With RPCs priced, the A100's stage receives one message.
TEST(GraphPricing, APlanDoesNotBuyALaunchWithAnRpc) {
  Scenario sc = chain3_on("", "roofline", "0.5ms", {"A100-80GB", "RTX-4090"});
  const std::vector<Op> ops{{"in1", "input", 0, 1e5, 0, 1e5},
                            {"in2", "input", 0, 1e3, 0, 1e3},
                            {"e", "matmul", 1e6, 1e4, 1e3, 1e3},
                            {"X", "matmul", 3e12, 1e8, 1e7, 1e5}};
  sc.graph = std::make_shared<const ModelGraph>("fed", ops, std::vector<std::pair<int, int>>{{1, 2}, {0, 3}, {2, 3}});
  const PipelinePlan plan = plan_pipeline(sc);
  const PipelineStage* big = nullptr;
  for (const PipelineStage& st : plan.stages)
    if (!big || st.compute_s > big->compute_s) big = &st;
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(sc.nodes[static_cast<std::size_t>(big->node)].device->name, "A100-80GB");
  EXPECT_EQ(big->inputs_expected, 1) << "the A100 receives one message a request";
  EXPECT_NEAR(plan.predicted_bottleneck_s, big->predicted_cost_s, 1e-15);
  EXPECT_GE(big->predicted_cost_s, big->compute_s + 2 * 0.5e-3);
}

// What `swarmsim validate` prints for a graph: chain3's three 84.7 GFLOP matmuls on each kind of
// server, each with its launch; the input runs no kernel.
TEST(GraphPricing, TheGraphsWorkPerDeviceKind) {
  const Scenario sc = chain3_on("", "roofline", "0ms", {"L4", "A100-80GB", "L4"});
  int kernels = 0;
  const std::vector<GraphWork> work = graph_work_per_device(sc, price_graph_ops(sc), kernels);
  EXPECT_EQ(kernels, 3);
  ASSERT_EQ(work.size(), 2u);
  EXPECT_EQ(work[0].device, "L4");
  EXPECT_EQ(work[0].servers, 2);
  EXPECT_NEAR(work[0].seconds, 3 * (84.7e9 / (121e12 * 0.70) + 5e-6), 1e-12);
  EXPECT_EQ(work[1].device, "A100-80GB");
  EXPECT_EQ(work[1].servers, 1);
  EXPECT_NEAR(work[1].seconds, 3 * (84.7e9 / (312e12 * 0.70) + 5e-6), 1e-12);
}
