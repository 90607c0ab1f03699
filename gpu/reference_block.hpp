#pragma once
// A Llama-style decoder block's forward and backward pass in double precision on the host: the
// reference for what block_backward_ops prices (seed 002 section 2.4's backward pass with frozen
// weights). The backward gives the gradient of the block's input from that of its output, and
// counts the multiply-adds of its matrix products, so a test can hold the priced FLOPs to them.
#include <cstdint>
#include <vector>

#include "gpu/block_adapters.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/transformer_block.hpp"

namespace swarmsim::gpu {

class ReferenceBlock {
 public:
  /// The block of `model` (Llama-style: RMSNorm, RoPE, grouped-query attention, SiLU-gated MLP)
  /// with the weights `w` (the layout of BlockWeightsHost).
  ReferenceBlock(const TransformerSpec& model, const BlockWeightsHost& w);

  /// y = block(x): `batch` sequences of `tokens` tokens each at positions 0..tokens-1, causal
  /// attention, rows sequence-major, x and y [batch * tokens x hidden]. With `adapters`, the block
  /// computes with them (LoRA beside its projections, or a bottleneck adapter after it).
  std::vector<double> forward(const std::vector<double>& x, int batch, int tokens, const BlockAdapters* adapters = nullptr) const;

  /// dL/dx from dL/dy with the weights frozen, recomputing the forward from x (activation
  /// checkpointing at the block's boundary, as a server does). With `adapters`, also adds the
  /// gradients of their parameters to theirs.
  std::vector<double> backward(const std::vector<double>& x, const std::vector<double>& dy, int batch, int tokens,
                               BlockAdapters* adapters = nullptr);

  /// Multiply-adds of the backward's products with the (frozen) weight matrices, the last call.
  std::uint64_t weight_product_madds() const { return weight_madds_; }
  /// Multiply-adds of the backward's attention products (scores recomputed, dP, dV, dQ, dK), the last call.
  std::uint64_t attention_madds() const { return attention_madds_; }

 private:
  struct Activations;
  Activations run(const std::vector<double>& x, int batch, int tokens, const BlockAdapters* ad) const;
  TransformerSpec m_;
  std::vector<double> attn_norm_, mlp_norm_, w_qkv_, w_o_, w_gate_up_, w_down_;
  std::uint64_t weight_madds_ = 0, attention_madds_ = 0;
};

}  // namespace swarmsim::gpu
