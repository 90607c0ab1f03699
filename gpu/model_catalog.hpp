#pragma once
// The catalog of transformer models a swarm can serve, with their real architecture figures.
#include <string>
#include <string_view>
#include <vector>

#include "gpu/dtype.hpp"

namespace swarmsim::gpu {

/// Feed-forward flavour of a block: Llama's SiLU-gated MLP (3 matrices) or BLOOM's GELU MLP (2).
enum class MlpKind { GatedSilu, Gelu };

/// Architecture of a decoder-only transformer; one "block" is one decoder layer.
struct TransformerSpec {
  std::string name;           ///< catalog key, e.g. "Llama-3-8B"
  int n_layers = 0;           ///< decoder blocks
  int hidden = 0;             ///< model width d_model
  int n_heads = 0;            ///< query heads
  int n_kv_heads = 0;         ///< key/value heads (grouped-query attention when < n_heads)
  int head_dim = 0;           ///< per-head width
  int ffn = 0;                ///< feed-forward inner width (per expert for MoE)
  int vocab = 0;              ///< vocabulary size
  int n_experts = 1;          ///< MoE experts per block (1 = dense)
  int experts_per_token = 1;  ///< experts each token is routed to (top-k)
  MlpKind mlp = MlpKind::GatedSilu;
  bool layer_norm = false;    ///< LayerNorm with bias (BLOOM) instead of RMSNorm
  bool linear_bias = false;   ///< linear layers carry biases (BLOOM)
  bool tied_embeddings = false;  ///< the LM head reuses the input embedding matrix
  DType weight_dtype = DType::BF16;      ///< storage of weights as served
  /// LLM.int8 mixed decomposition (weight_dtype Int8 only): fraction of each linear layer's input
  /// columns kept in 16 bits; 0 = plain 8-bit weights.
  double int8_outlier_fraction = 0.0;
  DType activation_dtype = DType::BF16;  ///< hidden states, KV cache
  double rope_theta = 10000.0;  ///< RoPE base (0 for ALiBi models)
  float norm_eps = 1e-5f;       ///< epsilon of the block norms
  std::string source;         ///< where the figures come from

  int q_dim() const { return n_heads * head_dim; }      ///< width of the query projection
  int kv_dim() const { return n_kv_heads * head_dim; }  ///< width of each of K and V

  /// Parameters of the attention sub-layer of one block.
  double attention_params() const;
  /// Parameters of the feed-forward sub-layer of one block (all experts, plus the MoE router).
  double mlp_params() const;
  /// Parameters of one block (attention + MLP + norms).
  double block_params() const;
  /// Parameters of the input embedding table.
  double embedding_params() const { return static_cast<double>(vocab) * hidden; }
  /// Parameters of the LM head that the serving side must store (0 extra when tied).
  double lm_head_params() const { return static_cast<double>(vocab) * hidden; }
  /// Total parameters of the model (blocks + embeddings + untied head).
  double total_params() const;

  /// Bytes per weight as served: dtype bytes; for LLM.int8, 1 byte per int8 weight, 2 per outlier-column
  /// weight, and an FP32 scale per output row (amortized over the row's hidden-size inputs).
  double weight_bytes_per_param() const {
    if (weight_dtype != DType::Int8 || int8_outlier_fraction <= 0) return dtype_bytes(weight_dtype);
    return (1.0 - int8_outlier_fraction) * 1.0 + int8_outlier_fraction * 2.0 + 4.0 / hidden;
  }
  /// Bytes of weights of one block as served.
  double block_weight_bytes() const { return block_params() * weight_bytes_per_param(); }

  /// KV-cache bytes per token per block: 2 * head_dim * n_kv_heads * bytes.
  // seed 002, eq. 4 (per layer; the seed's n_heads is the number of KV heads, equal for MHA).
  double kv_bytes_per_token_per_block() const {
    return 2.0 * head_dim * n_kv_heads * dtype_bytes(activation_dtype);
  }

  /// Bytes of one hidden-state vector (one token of one sequence) on the wire, uncompressed.
  double hidden_state_bytes_per_token() const { return static_cast<double>(hidden) * dtype_bytes(activation_dtype); }
};

/// `m` with hidden, heads, KV heads, FFN and vocabulary divided by `divisor` (head_dim kept,
/// at least one head), for fast tests and real execution on small machines. Named "<name>/<divisor>".
TransformerSpec reduced_width(const TransformerSpec& m, int divisor);

/// Every model in the catalog, in a stable order.
const std::vector<TransformerSpec>& model_catalog();

/// The model named `name` (see catalog_key: case, '-', '_', ' ' and '.' ignored); nullptr if unknown.
const TransformerSpec* find_model(std::string_view name);

/// Catalog names, for error messages that list what was expected.
std::vector<std::string> model_names();

}  // namespace swarmsim::gpu
