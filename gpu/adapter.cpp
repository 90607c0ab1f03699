#include "gpu/adapter.hpp"

namespace swarmsim::gpu {
namespace {

/// A matrix a LoRA adapter targets: [n_out x n_in], applied to `rows` token rows, `copies` times
/// (one per MoE expert).
struct Target {
  double n_in, n_out, rows, copies;
};

/// The targeted matrices of a block for `rows` token rows (routed rows for the MLP of an MoE).
template <class F>
void for_each_target(const TransformerSpec& m, const AdapterSpec& a, double rows, F&& f) {
  const double h = m.hidden, q = m.q_dim(), kv = m.kv_dim(), ff = m.ffn;
  const double E = m.n_experts, routed = rows * m.experts_per_token;
  const double up = m.mlp == MlpKind::GatedSilu ? 2.0 * ff : ff;
  if (a.targets & kLoraQkv) f(Target{h, q + 2.0 * kv, rows, 1.0});
  if (a.targets & kLoraO) f(Target{q, h, rows, 1.0});
  if (a.targets & kLoraGateUp) f(Target{h, up, routed, E});
  if (a.targets & kLoraDown) f(Target{ff, h, routed, E});
}

}  // namespace

double adapter_params_per_block(const TransformerSpec& m, const AdapterSpec& a) {
  const double r = a.rank, h = m.hidden;
  if (a.kind == AdapterKind::Bottleneck) return 2.0 * r * h + 2.0 * h;  // W1 [r x h], W2 [h x r], LayerNorm gain and bias (eq. 5)
  double params = 0.0;
  for_each_target(m, a, 0.0, [&](const Target& t) { params += t.copies * r * (t.n_in + t.n_out); });  // A [r x n_in], B [n_out x r] (eq. 6)
  return params;
}

double training_bytes_per_param(Optimizer o) { return o == Optimizer::Adam ? 16.0 : 8.0; }

OpList adapter_forward_ops(const TransformerSpec& m, const AdapterSpec& a, const BlockWork& w) {
  OpList ops;
  const double act = dtype_bytes(m.activation_dtype);
  const double T = static_cast<double>(w.batch) * w.new_tokens, r = a.rank, h = m.hidden;
  if (a.kind == AdapterKind::Bottleneck) {
    // seed 002, eq. 5: h' = LayerNorm(h + W2 phi(W1 h)).
    ops.push({"adapter_proj", OpClass::Gemm, 2.0 * T * h * r * 2.0, 2.0 * r * h * act + 2.0 * T * h * act + 2.0 * T * r * act});
    ops.push({"adapter_norm", OpClass::Vector, 8.0 * T * h + 8.0 * T * r, 3.0 * T * h * act + 2.0 * h * act});
    return ops;
  }
  // seed 002, eq. 6 applied without merging: y += (x A^T) B^T, two thin GEMMs per target.
  double flops = 0.0, bytes = 0.0;
  for_each_target(m, a, T, [&](const Target& t) {
    flops += 2.0 * t.rows * r * (t.n_in + t.n_out);
    bytes += t.copies * r * (t.n_in + t.n_out) * act + t.rows * (t.n_in + 2.0 * r + 2.0 * t.n_out) * act;
  });
  ops.push({"lora_forward", OpClass::Gemm, flops, bytes});
  return ops;
}

OpList block_backward_ops(const TransformerSpec& m, const BlockWork& w) {
  OpList ops;
  const double a = dtype_bytes(m.activation_dtype), wb = m.weight_bytes_per_param();
  const double h = m.hidden, q = m.q_dim(), kv = m.kv_dim(), f = m.ffn;
  const double b = w.batch, t = w.new_tokens, K = w.kv_len;
  const double T = b * t;
  const int E = m.n_experts, k = m.experts_per_token;
  const double routed = T * k, touched = expected_experts_touched(E, k, T);
  // Each input gradient is dY W: the forward GEMM's FLOPs, reading the (frozen) weights again.
  ops.push({"residual_mlp_grad", OpClass::Vector, T * h, 3.0 * T * h * a});
  ops.push({"down_proj_grad", OpClass::Gemm, 2.0 * routed * f * h, touched * f * h * wb + routed * (h + f) * a});
  if (m.mlp == MlpKind::GatedSilu) {
    ops.push({"silu_mul_grad", OpClass::Vector, 12.0 * routed * f, 5.0 * routed * f * a});
    ops.push({"gate_up_proj_grad", OpClass::Gemm, 2.0 * routed * 2 * f * h, touched * 2 * f * h * wb + routed * (2 * f + h) * a});
  } else {
    ops.push({"gelu_grad", OpClass::Vector, 12.0 * routed * f, 3.0 * routed * f * a});
    ops.push({"up_proj_grad", OpClass::Gemm, 2.0 * routed * f * h, touched * f * h * wb + routed * (f + h) * a});
  }
  if (E > 1) ops.push({"moe_router_grad", OpClass::Gemm, 2.0 * T * h * E, h * E * wb + T * h * a + T * E * 4.0});
  ops.push({"mlp_norm_grad", OpClass::Vector, 8.0 * T * h, 3.0 * T * h * a + h * a});
  ops.push({"residual_attn_grad", OpClass::Vector, T * h, 3.0 * T * h * a});
  ops.push({"o_proj_grad", OpClass::Gemm, 2.0 * T * q * h, q * h * wb + T * (q + h) * a});
  // FlashAttention's backward: scores recomputed (QK^T), then dV = P^T dO, dP = dO V^T, dQ = dS K,
  // dK = dS^T Q: five matmuls against the forward's two, and the softmax gradient.
  const double pairs = b * (t * K + t * (t + 1) / 2.0);
  ops.push({"attention_grad", OpClass::Attention, 10.0 * m.n_heads * m.head_dim * pairs + 8.0 * m.n_heads * pairs,
            b * (K + t) * 4.0 * kv * a + 4.0 * T * q * a});
  if (!m.layer_norm) ops.push({"rope_grad", OpClass::Vector, 6.0 * T * (q + kv), 2.0 * T * (q + kv) * a});
  ops.push({"qkv_proj_grad", OpClass::Gemm, 2.0 * T * h * (q + 2 * kv), h * (q + 2 * kv) * wb + T * (q + 2 * kv + h) * a});
  ops.push({"attn_norm_grad", OpClass::Vector, 8.0 * T * h, 3.0 * T * h * a + h * a});
  return ops;
}

OpList adapter_backward_ops(const TransformerSpec& m, const AdapterSpec& a, const BlockWork& w) {
  // Each of the forward's GEMMs has two in the backward (the weight gradient and the input
  // gradient), reading the saved inputs again and writing FP32 gradients.
  OpList ops;
  const double act = dtype_bytes(m.activation_dtype);
  const double T = static_cast<double>(w.batch) * w.new_tokens, r = a.rank, h = m.hidden;
  if (a.kind == AdapterKind::Bottleneck) {
    ops.push({"adapter_norm_grad", OpClass::Vector, 10.0 * T * h + 8.0 * T * r, 4.0 * T * h * act + 2.0 * h * 4.0});
    ops.push({"adapter_proj_grad", OpClass::Gemm, 2.0 * 2.0 * T * h * r * 2.0,
              2.0 * r * h * (act + 4.0) + 4.0 * T * h * act + 4.0 * T * r * act});
    return ops;
  }
  double flops = 0.0, bytes = 0.0;
  for_each_target(m, a, T, [&](const Target& t) {
    flops += 2.0 * 2.0 * t.rows * r * (t.n_in + t.n_out);
    bytes += t.copies * r * (t.n_in + t.n_out) * (act + 4.0) + t.rows * (2.0 * t.n_in + 4.0 * r + t.n_out) * act;
  });
  ops.push({"lora_grad", OpClass::Gemm, flops, bytes});
  return ops;
}

OpList optimizer_ops(double params, Optimizer o) {
  OpList ops;
  if (o == Optimizer::Adam)  // read theta, g, m, v; write theta, m, v (FP32)
    ops.push({"adam_update", OpClass::Vector, 12.0 * params, 28.0 * params});
  else  // seed 002, eq. 7: read theta and g, write theta
    ops.push({"sgd_update", OpClass::Vector, 2.0 * params, 12.0 * params});
  return ops;
}

OpList head_train_ops(const TransformerSpec& m, int batch, int tokens) {
  OpList ops;
  const double a = dtype_bytes(m.activation_dtype), wb = m.weight_bytes_per_param();
  const double T = static_cast<double>(batch) * tokens, h = m.hidden, V = m.vocab;
  ops.push({"final_norm", OpClass::Vector, 4.0 * T * h, 2.0 * T * h * a + h * a});
  ops.push({"lm_head", OpClass::Gemm, 2.0 * T * h * V, V * h * wb + T * h * a + T * V * 4.0});
  // Softmax cross-entropy of every position and its gradient softmax - onehot, in FP32.
  ops.push({"cross_entropy", OpClass::Vector, 8.0 * T * V, 3.0 * T * V * 4.0});
  ops.push({"lm_head_grad", OpClass::Gemm, 2.0 * T * h * V, V * h * wb + T * V * 4.0 + T * h * a});
  ops.push({"final_norm_grad", OpClass::Vector, 8.0 * T * h, 3.0 * T * h * a + h * a});
  return ops;
}

}  // namespace swarmsim::gpu
