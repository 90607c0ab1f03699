#pragma once
// How a scenario's shard work is priced: measured op profiles where they exist (gpu/profiles/),
// the roofline model otherwise or when the scenario asks for it. The same cost model prices a
// swarm's transformer blocks and a graph pipeline's ops.
#include <memory>
#include <string_view>
#include <vector>

#include "gpu/shard_cost_model.hpp"
#include "sim/partition/model_graph.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// The cost model `pricing` names. Profiles are read from gpu::default_profile_dir(); throws
/// std::runtime_error when a profile file there is malformed.
std::shared_ptr<const gpu::ShardCostModel> make_cost_model(Pricing pricing);
/// The cost model `scenario.pricing` names (make_cost_model(scenario.pricing)).
std::shared_ptr<const gpu::ShardCostModel> make_cost_model(const Scenario& scenario);

/// How a graph op of kind `kind` runs on a device: "matmul", "linear", "gemm", "conv" and the
/// fused layers of the generators ("resnet", "transformer", "mlp") on matrix units; "attention"
/// as attention; every other kind (norms, adds, pools, embedding gathers, ...) on vector units.
gpu::OpClass graph_op_class(std::string_view kind);

/// Whether op v of g is a graph input: no predecessors and no FLOPs (a tensor the client sends,
/// which arrives over the network and runs no kernel).
bool is_graph_input(const partition::ModelGraph& g, int v);

/// Seconds of each op of g on `device` as `model` prices it (indexed by op id): an op is one
/// kernel of its class with its FLOPs and memory bytes, so the roofline model adds the device's
/// launch overhead to each and a profile its measured efficiency; graph inputs take 0 s.
std::vector<double> graph_op_seconds(const gpu::ShardCostModel& model, const gpu::DeviceSpec& device,
                                     const partition::ModelGraph& g);

}  // namespace swarmsim::sim
