#pragma once
// The operations of one transformer block (and of the client's embedding and LM head) for one
// inference step, each with its FLOPs and the bytes it moves through device memory.
#include <array>
#include <cstddef>

#include "gpu/model_catalog.hpp"

namespace swarmsim::gpu {

/// Shape of one inference step through a block.
struct BlockWork {
  int batch = 1;       ///< sequences processed together
  int new_tokens = 1;  ///< tokens per sequence in this step (prompt length at prefill, 1 at decode)
  int kv_len = 0;      ///< tokens per sequence already in the KV cache before this step
};

/// How an op uses the device: GEMMs run on matrix units, the rest on vector units.
enum class OpClass { Gemm, Attention, Vector };

/// Work of one op: FLOPs and bytes read + written in device memory.
struct OpCost {
  const char* name = "";
  OpClass cls = OpClass::Vector;
  double flops = 0.0;  ///< floating-point operations (FLOP)
  double bytes = 0.0;  ///< device-memory traffic (bytes)

  /// FLOP per byte; compared with a device's ridge point to decide bound-ness.
  double intensity() const { return bytes > 0 ? flops / bytes : 0.0; }
};

/// A short fixed-capacity list of ops (no allocation on the simulator's hot path).
struct OpList {
  std::array<OpCost, 16> ops{};
  std::size_t size = 0;
  void push(const OpCost& op) { ops[size++] = op; }
  const OpCost* begin() const { return ops.data(); }
  const OpCost* end() const { return ops.data() + size; }
  /// FLOPs of the ops of class `cls`.
  double flops(OpClass cls) const {
    double s = 0.0;
    for (const OpCost& op : *this)
      if (op.cls == cls) s += op.flops;
    return s;
  }
};

/// Ops of one decoder block for `work`: norms, QKV projection, RoPE, attention over the KV cache,
/// output projection, residual adds and the (gated or MoE) MLP.
OpList block_ops(const TransformerSpec& model, const BlockWork& work);

/// Ops the client runs before the first block: the embedding lookup of `tokens` per sequence.
OpList embed_ops(const TransformerSpec& model, int batch, int tokens);

/// Ops the client runs after the last block: final norm, LM head and sampling for the last
/// position of each sequence.
OpList head_ops(const TransformerSpec& model, int batch);

/// Expected number of distinct experts that `routed_tokens` top-k routings touch out of E:
/// E * (1 - (1 - k/E)^tokens), assuming uniform routing.
double expected_experts_touched(int n_experts, int top_k, double routed_tokens);

}  // namespace swarmsim::gpu
