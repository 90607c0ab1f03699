#pragma once
// `swarmsim run --execute real`: the sessions' hidden states are computed for real, block by block
// on the servers that hold them, through the wire codec between nodes and the client's embedding
// and head; each measured wall time is scaled to the simulated device. No SimGrid here: the engine
// calls it from its session actors.
#include <memory>
#include <string>
#include <vector>

#include "gpu/backend.hpp"
#include "gpu/shard_cost_model.hpp"
#include "gpu/transformer_block.hpp"
#include "sim/privacy/gaussian_mechanism.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// How compression and privacy noise changed one session's results, against the exact reference
/// run fed the same tokens: at the last step, ||h - h_ref|| / ||h_ref|| of the final hidden states
/// and the mean over sequences of KL(softmax(logits_ref) || softmax(logits)); over every step, how
/// many sampled tokens the exact run agrees with; with privacy noise, how many vectors the client
/// released and how many it clipped.
struct ValueEffect {
  double hidden_relative_error = 0.0;
  double logits_kl = 0.0;
  long tokens = 0;           ///< tokens sampled over every step
  long tokens_agreeing = 0;  ///< of them, those the exact run would have sampled too (greedy)
  NoiseStats noise;
};

class RealModel {
 public:
  /// Builds every block of the scenario's model on `backend` (borrowed), with weights from the
  /// scenario's seed; decomposes them for LLM.int8 (calibrated on a seeded prompt) when the policy
  /// says so. `local` describes the device `backend` runs on (for scaling times). Throws
  /// std::runtime_error saying why when the model cannot run for real here.
  RealModel(const Scenario& scenario, gpu::Backend& backend, std::shared_ptr<const gpu::ShardCostModel> pricing,
            gpu::DeviceSpec local);
  ~RealModel();

  /// The values one session carries: hidden states, KV caches, its tokens; and their reference twins.
  struct Session {
    int id = 0, batch = 1, prompt = 1, max_len = 1;
    int rows = 0;                         ///< rows of the current step (batch x tokens of the step)
    std::vector<gpu::KvCache> kv, kv_ref; ///< one per block of the model
    gpu::DeviceTensor x, x_ref;           ///< hidden states of the step [rows x hidden]
    std::vector<int> next_tokens;         ///< one per sequence
    ValueEffect last;                     ///< at the last head()
    Rng noise_rng{0};                     ///< privacy noise of this session
  };
  std::unique_ptr<Session> open(int session);

  /// Embeds the step's tokens (the prompt at step 0, the last generated tokens after). Returns the
  /// measured seconds.
  double embed(Session& s, int step);
  /// Runs blocks `range` of the step on the session's hidden states. Returns the measured seconds.
  double run_blocks(Session& s, BlockRange range, int step);
  /// The hidden states cross the network: through the blockwise 8-bit codec when compression is on.
  void wire(Session& s);
  /// The client releases its hidden states Z (seed 002, eq. 22): with policy.privacy's differential
  /// privacy, each position's vector is clipped to C and noised with σ (eq. 25). Returns the
  /// measured seconds.
  double release(Session& s);
  /// σ of the privacy noise (0 without it).
  double noise_sigma() const { return sigma_; }
  /// Final norm, LM head and greedy sampling of the next tokens. Returns the measured seconds.
  double head(Session& s);
  /// The session's effect on values at its last head() (zero when nothing is compressed or noised).
  ValueEffect effect(const Session& s) const;

  /// A measured time scaled to `target`: measured x priced(target, served model) / priced(local, executed model).
  double scale_blocks(double measured, const gpu::DeviceSpec& target, const gpu::BlockWork& work, int n_blocks) const;
  double scale_embed(double measured, const gpu::DeviceSpec& target, int batch, int tokens) const;
  double scale_head(double measured, const gpu::DeviceSpec& target, int batch) const;

  /// Whether a reference run is kept to measure the effect on values (compression or privacy noise on).
  bool compares() const { return compares_; }
  /// Bytes of the decomposed weights of one block (LLM.int8), 0 when weights are not compressed.
  double int8_block_bytes() const { return int8_block_bytes_; }
  const gpu::Backend& backend() const { return be_; }
  const gpu::DeviceSpec& local_device() const { return local_; }

 private:
  const Scenario& sc_;
  gpu::Backend& be_;
  std::shared_ptr<const gpu::ShardCostModel> pricing_;
  gpu::DeviceSpec local_;
  gpu::TransformerSpec executed_;  ///< the model as executed here (storage dtype, effective weights)
  bool compares_ = false;
  double int8_block_bytes_ = 0.0;
  double sigma_ = 0.0;  ///< privacy noise per element
  std::vector<gpu::TransformerBlock> blocks_, reference_;
  std::unique_ptr<gpu::ModelHead> head_;
};

/// The device the backend runs on, for scaling: for "cpu", this CPU's measured peaks.
gpu::DeviceSpec local_device_of(const gpu::Backend& backend);

}  // namespace swarmsim::sim
