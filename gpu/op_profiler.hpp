#pragma once
// Measures op profiles: runs each op of a block on a backend at the shapes a scenario needs,
// repeating until the timing is stable, and measures the CPU's own peaks to compare against.
#include <functional>
#include <vector>

#include "gpu/backend.hpp"
#include "gpu/op_profile.hpp"

namespace swarmsim::gpu {

/// The shapes a profile covers: prefill of each prompt length and decode at each KV length,
/// for each batch size; plus the client's embedding and head.
struct ProfileShapes {
  std::vector<int> batches{1, 8};
  std::vector<int> prompts{64};
  std::vector<int> kv_lens{64, 512};
};

/// When a measurement is stable enough.
struct MeasureOptions {
  int min_runs = 3;
  int max_runs = 30;
  double budget_s = 2.0;         ///< stop repeating an op after this much wall time
  double target_spread = 0.05;   ///< stop once (p75 - p25) / median is below this
};

/// Peak FP32 FLOP/s (FMA loop on every thread, widest vector unit available) and sustained memory
/// bandwidth (STREAM triad on every thread, best of 5) of this CPU.
ProfiledDevice measure_cpu_peaks();

/// Times one op (a block_ops/embed_ops/head_ops entry of `model` for `work`) on `backend`.
/// `model` must use the backend's storage dtype for weights and activations.
ProfileEntry measure_op(Backend& backend, const TransformerSpec& model, const OpCost& op, const BlockWork& work,
                        const MeasureOptions& options);

/// Profiles every op of `model` at `shapes` on `backend`; `on_entry` is called after each op.
/// `device` describes the backend's device and its peaks.
OpProfile profile_model(Backend& backend, const ProfiledDevice& device, const TransformerSpec& model,
                        const ProfileShapes& shapes, const MeasureOptions& options,
                        const std::function<void(const ProfileEntry&)>& on_entry = {});

}  // namespace swarmsim::gpu
