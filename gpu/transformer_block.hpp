#pragma once
// A Llama-style decoder block executed for real on a Backend, with a KV cache that grows token
// by token; the client's head (final norm, LM head) for logits. Weights are generated from a seed.
#include <cstdint>
#include <vector>

#include "gpu/backend.hpp"
#include "gpu/model_catalog.hpp"

namespace swarmsim::gpu {

/// Weights of one block in host memory (FP32), PyTorch Linear layout [out x in], with the QKV and
/// gate|up projections fused: w_qkv [(q + 2 kv) x hidden], w_gate_up [2 ffn x hidden].
struct BlockWeightsHost {
  std::vector<float> attn_norm, mlp_norm, w_qkv, w_o, w_gate_up, w_down;
  double params() const;
};

/// Deterministic weights of block `layer`: uniform in +-1/sqrt(fan_in) from a counter-based hash of
/// (seed, layer, matrix, index), so any block can be generated alone. The norm gains plant
/// systematic outlier features in 0.2% of the hidden dimensions (gain 12), as LLM.int8 observed in
/// real LLMs, so that the mixed int8 decomposition has outliers to keep.
BlockWeightsHost generate_block_weights(const TransformerSpec& model, std::uint64_t seed, int layer);

/// Hidden dimensions that carry planted outlier features (sorted).
std::vector<int> planted_outlier_dims(const TransformerSpec& model, std::uint64_t seed);

/// Deterministic pseudo-random values in [lo, hi), the same for the same (seed, stream, index).
float hashed_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t index, float lo, float hi);

/// Keys and values of `batch` sequences, up to `max_len` tokens each, for one block.
struct KvCache {
  DeviceTensor k, v;  ///< [batch x max_len x kv_dim]
  int batch = 0, max_len = 0, kv_dim = 0;
  int len = 0;  ///< tokens cached per sequence
  KvCache() = default;
  KvCache(Backend& be, int batch, int max_len, int kv_dim);
};

/// Largest |activation| seen in each input column of the block's four matmuls (LLM.int8's
/// outlier criterion looks at these).
struct InputAbsmax {
  std::vector<float> qkv_in, o_in, gate_up_in, down_in;  ///< hidden, q_dim, hidden, ffn columns
};

/// `w` with its four matrices replaced by their LLM.int8 mixed decomposition (the effective weights
/// the int8 product multiplies by), outlier columns chosen by `seen` and `threshold`. Returns the
/// bytes the decomposed matrices hold.
double apply_llm_int8(BlockWeightsHost& w, const TransformerSpec& model, const InputAbsmax& seen, float threshold);

/// One decoder block's weights on a backend, and its forward step.
class TransformerBlock {
 public:
  /// Uploads `w` to `backend` (borrowed; must outlive the block).
  TransformerBlock(Backend& backend, const TransformerSpec& model, const BlockWeightsHost& w);

  /// x [batch * new_tokens x hidden] (sequence-major rows) is updated in place: x += attn(norm(x)),
  /// x += mlp(norm(x)). Appends the step's keys and values to `cache` and advances cache.len.
  /// When `seen` is given, the largest |input| of each matmul column is recorded in it (calibration).
  void forward(DeviceTensor& x, KvCache& cache, int batch, int new_tokens, InputAbsmax* seen = nullptr);

  const TransformerSpec& model() const { return model_; }

 private:
  void reserve(int rows);
  Backend& be_;
  TransformerSpec model_;
  DeviceTensor attn_norm_, mlp_norm_, w_qkv_, w_o_, w_gate_up_, w_down_;
  DeviceTensor h_, qkv_, attn_, o_, gu_, act_;  // scratch, grown on demand
  int capacity_rows_ = 0;
};

/// The client's ends of the model: the embedding table, the final norm and the LM head.
class ModelHead {
 public:
  ModelHead(Backend& backend, const TransformerSpec& model, std::uint64_t seed);
  /// out [ids.size() x hidden] = embedding rows of `ids`.
  void embed(DeviceTensor& out, std::span<const int> ids);
  /// logits [rows x vocab] of the hidden states x [rows x hidden] (final norm, then LM head).
  void logits(DeviceTensor& out, const DeviceTensor& x, int rows);

 private:
  Backend& be_;
  TransformerSpec model_;
  DeviceTensor table_, norm_, lm_head_, scratch_;
};

}  // namespace swarmsim::gpu
