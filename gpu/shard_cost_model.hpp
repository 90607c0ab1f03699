#pragma once
// Prices a shard's work (blocks, embedding, LM head) on a simulated device, in seconds.
#include <string>

#include "gpu/block_ops.hpp"
#include "gpu/device_catalog.hpp"

namespace swarmsim::gpu {

/// Turns an inference step's work into time on a device. The simulator only sees this interface:
/// the roofline model prices ops from spec figures; measured op profiles (issue 2) plug in here.
class ShardCostModel {
 public:
  virtual ~ShardCostModel() = default;
  /// Seconds for `n_blocks` consecutive blocks doing `work` on `device`.
  virtual double blocks_seconds(const DeviceSpec& device, const TransformerSpec& model, const BlockWork& work,
                                int n_blocks) const = 0;
  /// Seconds for the client's embedding of `tokens` tokens per sequence.
  virtual double embed_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch,
                               int tokens) const = 0;
  /// Seconds for the client's final norm, LM head and sampling of one position per sequence.
  virtual double head_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch) const = 0;
  /// Seconds for any list of ops on `device` (the training ops of adapter.hpp).
  virtual double ops_seconds(const DeviceSpec& device, const OpList& ops) const = 0;
  /// Name of the pricing, reported in metrics ("roofline", ...).
  virtual std::string pricing() const = 0;
};

/// Fractions of a device's peaks that real kernels reach; documented defaults in docs/cost-model.md.
struct RooflineEfficiency {
  double gemm_compute = 0.70;    ///< fraction of peak FLOP/s a large GEMM reaches
  double vector_compute = 0.30;  ///< fraction of peak FLOP/s of attention and elementwise ops
  double memory = 0.80;          ///< fraction of peak bandwidth a streaming kernel reaches
};

/// Roofline pricing: each op takes max(FLOPs / (peak * eff), bytes / (bandwidth * eff)) plus the
/// device's launch overhead; an op is compute-bound when its intensity exceeds the ridge point.
class RooflineCostModel final : public ShardCostModel {
 public:
  explicit RooflineCostModel(RooflineEfficiency eff = {}) : eff_(eff) {}

  /// Seconds of one op on `device`.
  double op_seconds(const DeviceSpec& device, const OpCost& op) const;
  /// Whether `op` is compute-bound on `device` (intensity above the ridge point, scaled by efficiencies).
  bool compute_bound(const DeviceSpec& device, const OpCost& op) const;

  double blocks_seconds(const DeviceSpec& device, const TransformerSpec& model, const BlockWork& work,
                        int n_blocks) const override;
  double embed_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch, int tokens) const override;
  double head_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch) const override;
  double ops_seconds(const DeviceSpec& device, const OpList& ops) const override;
  std::string pricing() const override { return "roofline"; }

  const RooflineEfficiency& efficiency() const { return eff_; }

 private:
  RooflineEfficiency eff_;
};

}  // namespace swarmsim::gpu
