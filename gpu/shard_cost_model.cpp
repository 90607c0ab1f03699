#include "gpu/shard_cost_model.hpp"

#include <algorithm>

namespace swarmsim::gpu {

double RooflineCostModel::op_seconds(const DeviceSpec& d, const OpCost& op) const {
  const double compute_eff = op.cls == OpClass::Gemm ? eff_.gemm_compute : eff_.vector_compute;
  const double t_compute = op.flops / (d.peak_flops * compute_eff);
  const double t_memory = op.bytes / (d.memory_bandwidth * eff_.memory);
  return std::max(t_compute, t_memory) + d.launch_overhead_s;
}

bool RooflineCostModel::compute_bound(const DeviceSpec& d, const OpCost& op) const {
  const double compute_eff = op.cls == OpClass::Gemm ? eff_.gemm_compute : eff_.vector_compute;
  return op.intensity() > (d.peak_flops * compute_eff) / (d.memory_bandwidth * eff_.memory);
}

double RooflineCostModel::ops_seconds(const DeviceSpec& d, const OpList& ops) const {
  double s = 0.0;
  for (const OpCost& op : ops) s += op_seconds(d, op);
  return s;
}

double RooflineCostModel::blocks_seconds(const DeviceSpec& d, const TransformerSpec& m, const BlockWork& w,
                                         int n_blocks) const {
  return n_blocks * ops_seconds(d, block_ops(m, w));  // blocks of a model are identical
}

double RooflineCostModel::embed_seconds(const DeviceSpec& d, const TransformerSpec& m, int batch, int tokens) const {
  return ops_seconds(d, embed_ops(m, batch, tokens));
}

double RooflineCostModel::head_seconds(const DeviceSpec& d, const TransformerSpec& m, int batch) const {
  return ops_seconds(d, head_ops(m, batch));
}

}  // namespace swarmsim::gpu
