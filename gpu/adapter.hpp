#pragma once
// Adapters for parameter-efficient fine-tuning (seed 002, section 2.4): what they are, how many
// parameters they add to a block, and the ops of a training step (forward with adapters, the
// backward pass through frozen weights, the adapters' gradients, the optimizer update), each
// with its FLOPs and device-memory bytes, priced like the inference ops of block_ops.hpp.
#include "gpu/block_ops.hpp"
#include "gpu/model_catalog.hpp"

namespace swarmsim::gpu {

/// Which adapter a fine-tuning session trains.
enum class AdapterKind {
  Lora,        ///< W' = W + B A on the targeted matrices (seed 002, eq. 6)
  Bottleneck,  ///< h' = LayerNorm(h + W2 phi(W1 h)) after each block (seed 002, eq. 5)
};

/// Matrices of a block a LoRA adapter targets (bit flags; the fused projections of a Llama block).
enum LoraTarget : unsigned {
  kLoraQkv = 1u,     ///< the fused Q, K, V projection [q + 2 kv x hidden]
  kLoraO = 2u,       ///< the output projection [hidden x q]
  kLoraGateUp = 4u,  ///< the fused gate|up projection [2 ffn x hidden] (up only for GELU MLPs)
  kLoraDown = 8u,    ///< the down projection [hidden x ffn]
};

/// How an adapter's parameters are updated from their gradients (seed 002, eq. 7).
enum class Optimizer {
  Sgd,   ///< theta -= eta * grad, exactly eq. 7
  Adam,  ///< eq. 7 with Adam's moment estimates in place of the raw gradient
};

/// One adapter configuration, the same on every block a session trains.
struct AdapterSpec {
  AdapterKind kind = AdapterKind::Lora;
  int rank = 8;                          ///< r: the inner width of B A (LoRA) or of W1, W2 (bottleneck)
  unsigned targets = kLoraQkv | kLoraO;  ///< LoRA only: the matrices it adapts
};

/// Trainable parameters an adapter adds to one block of `model`.
double adapter_params_per_block(const TransformerSpec& model, const AdapterSpec& adapter);

/// Bytes a server holds per trainable parameter while training: FP32 master weights and gradient,
/// plus Adam's two FP32 moments.
double training_bytes_per_param(Optimizer optimizer);

/// Ops of the adapters of one block in the forward pass of `work` (added to block_ops').
OpList adapter_forward_ops(const TransformerSpec& model, const AdapterSpec& adapter, const BlockWork& work);

/// Ops of one block's backward pass with frozen weights: the gradient of its input from the
/// gradient of its output, through the MLP, the norms, attention (recomputing the scores, as
/// FlashAttention's backward does) and RoPE. No weight gradients: the base model is frozen.
OpList block_backward_ops(const TransformerSpec& model, const BlockWork& work);

/// Ops of the adapters' backward pass in one block: their weight gradients and their share of the
/// input gradient.
OpList adapter_backward_ops(const TransformerSpec& model, const AdapterSpec& adapter, const BlockWork& work);

/// Ops of one optimizer update of `params` FP32 parameters (memory-bound: parameters, gradients and
/// moments are read and written once).
OpList optimizer_ops(double params, Optimizer optimizer);

/// Ops of the client's end of a training step over `batch` x `tokens` positions: final norm,
/// LM head and the softmax cross-entropy of every position, then the gradient of the last hidden
/// states back through them (the LM head is frozen).
OpList head_train_ops(const TransformerSpec& model, int batch, int tokens);

}  // namespace swarmsim::gpu
