#include "sim/pricing.hpp"

#include <array>

#include "gpu/op_profile.hpp"

namespace swarmsim::sim {

std::shared_ptr<const gpu::ShardCostModel> make_cost_model(Pricing pricing) {
  if (pricing == Pricing::Roofline) return std::make_shared<gpu::RooflineCostModel>();
  return std::make_shared<gpu::ProfileCostModel>(gpu::load_profiles(gpu::default_profile_dir()));
}

std::shared_ptr<const gpu::ShardCostModel> make_cost_model(const Scenario& sc) { return make_cost_model(sc.pricing); }

gpu::OpClass graph_op_class(std::string_view kind) {
  static constexpr std::array<std::string_view, 7> kMatrix{"matmul", "linear", "gemm", "conv", "resnet", "transformer", "mlp"};
  for (std::string_view k : kMatrix)
    if (kind == k) return gpu::OpClass::Gemm;
  return kind == "attention" ? gpu::OpClass::Attention : gpu::OpClass::Vector;
}

bool is_graph_input(const partition::ModelGraph& g, int v) { return g.preds(v).empty() && g.op(v).flops == 0.0; }

std::vector<double> graph_op_seconds(const gpu::ShardCostModel& model, const gpu::DeviceSpec& device,
                                     const partition::ModelGraph& g) {
  std::vector<double> seconds(static_cast<std::size_t>(g.size()), 0.0);
  gpu::OpList one;
  one.size = 1;
  for (int v = 0; v < g.size(); ++v) {
    if (is_graph_input(g, v)) continue;
    const partition::Op& op = g.op(v);
    one.ops[0] = gpu::OpCost{op.kind.c_str(), graph_op_class(op.kind), op.flops, op.mem_bytes};
    seconds[static_cast<std::size_t>(v)] = model.ops_seconds(device, one);
  }
  return seconds;
}

}  // namespace swarmsim::sim
