#include "gpu/block_ops.hpp"

#include <cmath>

namespace swarmsim::gpu {

double expected_experts_touched(int n_experts, int top_k, double routed_tokens) {
  if (n_experts <= 1) return 1.0;
  const double miss = 1.0 - static_cast<double>(top_k) / n_experts;
  return n_experts * (1.0 - std::pow(miss, routed_tokens));
}

OpList block_ops(const TransformerSpec& m, const BlockWork& w) {
  OpList ops;
  const double a = dtype_bytes(m.activation_dtype);
  const double wb = m.weight_bytes_per_param();
  const double h = m.hidden, q = m.q_dim(), kv = m.kv_dim(), f = m.ffn;
  const double b = w.batch, t = w.new_tokens, K = w.kv_len;
  const double T = b * t;  // token rows in this step
  const double norm_param_bytes = (m.layer_norm ? 2.0 : 1.0) * h * a;

  ops.push({"attn_norm", OpClass::Vector, 4.0 * T * h, 2.0 * T * h * a + norm_param_bytes});
  ops.push({"qkv_proj", OpClass::Gemm, 2.0 * T * h * (q + 2 * kv),
            h * (q + 2 * kv) * wb + T * h * a + T * (q + 2 * kv) * a});
  if (!m.layer_norm)  // Llama-style RoPE; BLOOM's ALiBi bias is folded into the attention scores
    ops.push({"rope", OpClass::Vector, 6.0 * T * (q + kv), 2.0 * T * (q + kv) * a});

  // Causal attention of t new tokens over K cached + t new keys: t*K + t(t+1)/2 (query, key) pairs.
  const double pairs = b * (t * K + t * (t + 1) / 2.0);
  const double attn_flops = 4.0 * m.n_heads * m.head_dim * pairs + 5.0 * m.n_heads * pairs;
  const double attn_bytes = b * (K + t) * 2.0 * kv * a   // read the whole K and V cache once
                            + T * 2.0 * kv * a           // append the new K and V
                            + 2.0 * T * q * a;           // read Q, write the attention output
  ops.push({"attention", OpClass::Attention, attn_flops, attn_bytes});

  ops.push({"o_proj", OpClass::Gemm, 2.0 * T * q * h, q * h * wb + T * q * a + T * h * a});
  ops.push({"residual_attn", OpClass::Vector, T * h, 3.0 * T * h * a});
  ops.push({"mlp_norm", OpClass::Vector, 4.0 * T * h, 2.0 * T * h * a + norm_param_bytes});

  const int E = m.n_experts, k = m.experts_per_token;
  const double routed = T * k;  // token-expert pairs
  const double touched = expected_experts_touched(E, k, T);
  if (E > 1) ops.push({"moe_router", OpClass::Gemm, 2.0 * T * h * E, h * E * wb + T * h * a + T * E * 4.0});
  if (m.mlp == MlpKind::GatedSilu) {
    ops.push({"gate_up_proj", OpClass::Gemm, 2.0 * routed * h * 2 * f,
              touched * h * 2 * f * wb + routed * h * a + routed * 2 * f * a});
    ops.push({"silu_mul", OpClass::Vector, 5.0 * routed * f, 3.0 * routed * f * a});
  } else {
    ops.push({"up_proj", OpClass::Gemm, 2.0 * routed * h * f, touched * h * f * wb + routed * h * a + routed * f * a});
    ops.push({"gelu", OpClass::Vector, 8.0 * routed * f, 2.0 * routed * f * a});
  }
  ops.push({"down_proj", OpClass::Gemm, 2.0 * routed * f * h,
            touched * f * h * wb + routed * f * a + routed * h * a});
  ops.push({"residual_mlp", OpClass::Vector, T * h, 3.0 * T * h * a});
  return ops;
}

OpList embed_ops(const TransformerSpec& m, int batch, int tokens) {
  OpList ops;
  const double a = dtype_bytes(m.activation_dtype);
  const double T = static_cast<double>(batch) * tokens;
  ops.push({"embedding", OpClass::Vector, 0.0, 2.0 * T * m.hidden * a});  // gather rows, write
  if (m.layer_norm)  // BLOOM normalizes the embeddings
    ops.push({"embed_norm", OpClass::Vector, 4.0 * T * m.hidden, 2.0 * T * m.hidden * a});
  return ops;
}

OpList head_ops(const TransformerSpec& m, int batch) {
  OpList ops;
  const double a = dtype_bytes(m.activation_dtype);
  const double wb = m.weight_bytes_per_param();
  const double b = batch, h = m.hidden, V = m.vocab;
  ops.push({"final_norm", OpClass::Vector, 4.0 * b * h, 2.0 * b * h * a + h * a});
  ops.push({"lm_head", OpClass::Gemm, 2.0 * b * h * V, V * h * wb + b * h * a + b * V * 4.0});
  ops.push({"sample", OpClass::Vector, 5.0 * b * V, 2.0 * b * V * 4.0});  // softmax + argmax/sample
  return ops;
}

}  // namespace swarmsim::gpu
