#pragma once
// A small model of a served model's shape whose adapters really train (seed 002, section 2.4), so a
// simulated fine-tuning run can report the loss its events lead to: the same depth and attention
// layout at a narrow width, in double precision on the host (ReferenceBlock). The task is
// distillation: a teacher, the same base model with seeded adapters of the same kind, labels
// random token sequences, and a session's adapters learn to match its next-token distributions.
// The loss is KL(teacher || student) averaged over positions, in nats: 0 once they match.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gpu/adapter.hpp"
#include "gpu/adapter_training.hpp"
#include "gpu/block_adapters.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/reference_block.hpp"

namespace swarmsim::gpu {

/// The proxy's size, data and step size.
struct ProxyConfig {
  int width = 32;       ///< hidden width (a multiple of 8: four query heads of an even width)
  int vocab = 128;      ///< vocabulary
  int sequences = 2;    ///< sequences per training step
  int tokens = 16;      ///< tokens per sequence
  double learning_rate = 3e-4;  ///< eta of eq. 7
  /// Split learning under differential privacy (seed 002, eq. 25): with noise_sigma > 0, in training
  /// steps the hidden states the client releases after its blocks [0, release_after) are clipped row
  /// by row to L2 norm clip_norm and get N(0, noise_sigma^2) per element before the next block.
  int release_after = 0;
  double clip_norm = 0.0;
  double noise_sigma = 0.0;
  /// Compression of the hidden states on the wire (seed 002, section 4): with wire_block > 0, the
  /// hidden states entering each block listed in a step's `quantized_at` pass through the
  /// blockwise 8-bit quantizer (cpu::quantize_blockwise, blocks of wire_block values) and back.
  int wire_block = 0;
};

/// A wrong forward output in a training step: a dishonest server returned the hidden states after
/// block `after_block - 1` (its range's end) off by `magnitude` in relative L2 norm, row by row, in
/// a direction drawn from `stream`.
struct ActivationPerturbation {
  int after_block = 0;
  double magnitude = 0.0;
  std::uint64_t stream = 0;
};

/// The proxy of `served` (a Llama-style dense model): its depth, RoPE base and norm epsilon; four
/// query heads of width `width / 4` sharing key/value heads as `served`'s do (its group size, at
/// most four); its MLP widened by `served`'s ratio ffn / hidden; `vocab` tokens.
TransformerSpec proxy_model(const TransformerSpec& served, int width, int vocab);

class FineTuningProxy {
 public:
  /// The proxy of `served` with base weights, embedding and head from `seed`, and the teacher's
  /// adapters. Throws std::invalid_argument when `served` is not a Llama-style dense model or the
  /// configuration does not fit it (the adapter's rank above the proxy's width).
  FineTuningProxy(const TransformerSpec& served, const AdapterSpec& adapter, Optimizer optimizer, const ProxyConfig& config,
                  std::uint64_t seed);

  /// One session's trainable state: every block's adapters and their optimizer moments.
  struct Adapters {
    std::vector<BlockAdapters> blocks;
    std::vector<std::vector<AdamState>> moments;  ///< per block, per tensor (Adam)
  };
  /// The starting adapters (the base model exactly), the same for every session.
  const Adapters& initial() const { return initial_; }

  /// Batch `index` of data stream `stream`: `sequences` (0: the configured number) x tokens token
  /// ids, sequence-major. Every function below takes any whole number of sequences.
  std::vector<int> batch(std::uint64_t stream, std::uint64_t index, int sequences = 0) const;
  /// The teacher's next-token distributions on `tokens` [positions x vocab].
  std::vector<double> teacher(const std::vector<int>& tokens) const;
  /// Mean KL(teacher || model with `adapters`) over the positions of `tokens` (nats). With a
  /// `noise_stream` and ProxyConfig::noise_sigma, through the client's noisy release as served;
  /// with `wrong`, through those wrong forward outputs.
  /// `quantized_at`: the blocks (the depth: the head) whose input crossed the wire, ascending, with
  /// ProxyConfig::wire_block.
  double loss(const Adapters& adapters, const std::vector<int>& tokens, const std::vector<double>& teacher_probs,
              std::optional<std::uint64_t> noise_stream = std::nullopt, std::span<const ActivationPerturbation> wrong = {},
              std::span<const int> quantized_at = {}) const;
  /// One training step: forward, loss, backward through every block, and eq. 7 on every adapter.
  /// Returns the loss before the update.
  /// `noise_stream` draws the release's noise (with ProxyConfig::noise_sigma): a step replayed with
  /// the same stream sees the same noise.
  /// `wrong` are the step's wrong forward outputs (dishonest servers): the later blocks, the loss
  /// and the backward pass run on them as on data, and the gradient passes them unchanged.
  /// `quantized_at` (as in loss()): the wire's rounding is data too; the gradient passes it
  /// unchanged (the straight-through estimator: what the sender's output gets back is the gradient
  /// of what the receiver computed on).
  double step(Adapters& adapters, const std::vector<int>& tokens, const std::vector<double>& teacher_probs, std::uint64_t noise_stream = 0,
              std::span<const ActivationPerturbation> wrong = {}, std::span<const int> quantized_at = {});
  /// step()'s first half: forward, loss and backward; the gradients add to those `adapters` holds.
  /// Returns the loss.
  double gradient(Adapters& adapters, const std::vector<int>& tokens, const std::vector<double>& teacher_probs,
                  std::uint64_t noise_stream = 0, std::span<const ActivationPerturbation> wrong = {},
                  std::span<const int> quantized_at = {});
  /// step()'s second half: eq. 7 on every adapter from the gradients it holds, which then restart at 0.
  void apply(Adapters& adapters) const;
  /// The optimizer moments of block `b` restart (a restored adapter does not carry them).
  void restart_moments(Adapters& adapters, int b) const;
  /// Shard `shard` of `shards` of block `b`'s optimizer moments restarts (ZeRO: the shard a failed
  /// server held): the moments of that contiguous 1/shards of each tensor's elements go back to 0,
  /// and their bias correction counts from now.
  void restart_moment_shard(Adapters& adapters, int b, int shard, int shards) const;

  /// Adds `p`'s error to every row of `h` [rows x width]: magnitude x the row's norm, along a unit
  /// direction drawn from its stream (so each row ends `magnitude` away from itself in relative L2).
  void perturb(std::vector<double>& h, const ActivationPerturbation& p) const;

  const TransformerSpec& model() const { return m_; }
  const ProxyConfig& config() const { return cfg_; }
  /// Whether the client's blocks' output is released through noise (ProxyConfig).
  bool noisy() const;

 private:
  std::vector<double> embed(const std::vector<int>& tokens) const;
  int sequences_of(const std::vector<int>& tokens) const;
  /// The wrong outputs of `wrong` that enter block `l` (l = the depth: the head), added to `h`.
  void perturb_before(std::vector<double>& h, std::size_t l, std::span<const ActivationPerturbation> wrong) const;
  /// The wire's quantization of `h` if block `l` (the depth: the head) is in `quantized_at`, in place.
  void wire_before(std::vector<double>& h, std::size_t l, std::span<const int> quantized_at) const;
  /// The client's release of `h` (its rows clipped and noised, ProxyConfig), in place.
  void release(std::vector<double>& h, std::uint64_t noise_stream) const;
  /// dL/d(the rows before release) from dL/d(the released rows) `dz`: back through the clipping.
  std::vector<double> release_backward(const std::vector<double>& before, const std::vector<double>& dz) const;
  /// Final RMSNorm and LM head: logits [rows x vocab]; `normed` gets the normalized rows, `inv` 1/rms.
  std::vector<double> head(const std::vector<double>& h, std::vector<double>& normed, std::vector<double>& inv) const;
  TransformerSpec m_;
  AdapterSpec adapter_;
  Optimizer optimizer_;
  ProxyConfig cfg_;
  std::uint64_t seed_;
  std::vector<ReferenceBlock> blocks_;
  std::vector<double> embedding_, head_;  ///< [vocab x width] each
  std::vector<BlockAdapters> teacher_;
  Adapters initial_;
};

}  // namespace swarmsim::gpu
