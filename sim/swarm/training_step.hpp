#pragma once
// What one training step of a fine-tuning session (seed 002, section 2.4) costs and moves, shared
// by both engines: the device time of each leg, priced by the scenario's cost model from the ops
// of gpu/adapter.hpp, and the bytes of each message. Plain functions over plain data.
#include <optional>
#include <vector>

#include "gpu/device_catalog.hpp"
#include "gpu/shard_cost_model.hpp"
#include "sim/routing/swarm_view.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// The prices of a scenario's training steps (workload.fine_tuning must be set).
class TrainingStep {
 public:
  /// `cost` is borrowed for the step's lifetime.
  TrainingStep(const Scenario& sc, const gpu::ShardCostModel& cost);

  /// A server's forward leg: its `n_blocks` blocks with their adapters over the step's tokens.
  double forward_s(const gpu::DeviceSpec& dev, int n_blocks) const;
  /// A server's backward leg: it recomputes its blocks from the input it kept (activation
  /// checkpointing at block boundaries), backpropagates through the frozen weights and the
  /// adapters, and updates the adapters (eq. 7).
  double backward_s(const gpu::DeviceSpec& dev, int n_blocks) const;
  /// The client's embedding of the step's tokens.
  double embed_s(const gpu::DeviceSpec& dev) const;
  /// The client's loss: final norm, LM head and cross-entropy of every position, and the gradient
  /// of the last hidden states.
  double loss_s(const gpu::DeviceSpec& dev) const;

  /// Payload of a forward message: the step's hidden states (compressed under policy.compression).
  double activation_bytes() const { return activation_bytes_; }
  /// Payload of a backward message: the gradient of those hidden states, in the activation dtype
  /// (never quantized: 8-bit gradients would change what is trained).
  double gradient_bytes() const { return gradient_bytes_; }
  /// Payload of a checkpoint or a restore of `n_blocks` blocks' adapters: their FP32 parameters
  /// (the optimizer's moments restart with a restored adapter).
  double checkpoint_bytes(int n_blocks) const;
  /// Rounds of messages in one synchronization of a data-parallel job, each ending when every
  /// replica's messages arrived: 1 for an averaging (every server sends its adapters), 2 under ZeRO
  /// (the gradients' shards reduce-scattered, then the updated parameter shards all-gathered).
  int sync_rounds() const;
  /// Payload of one synchronization message for `n_blocks` blocks that the sender shares with one
  /// peer, `members` replicas taking part: their FP32 adapters (averaging), or under ZeRO a
  /// 1/members shard of them (the peer's shard of the gradient, then the sender's updated shard of
  /// the parameters; FP32 both).
  double sync_bytes(int n_blocks, int members) const;

 private:
  const Scenario& sc_;
  const gpu::ShardCostModel& cost_;
  gpu::BlockWork work_;
  double params_per_block_ = 0, activation_bytes_ = 0, gradient_bytes_ = 0;
};

/// Where a fine-tuning session's adapters stand, block by block: the updates since the client last
/// saved them, and whether it holds a checkpoint. Both engines keep one per session.
class AdapterLedger {
 public:
  AdapterLedger(int n_layers, int checkpoint_every);
  /// A training step updated the adapters of `blocks` (the session's chain).
  void updated(BlockRange blocks);
  /// Whether the servers save their adapters to the client after step `step` (0-based).
  bool checkpoint_due(int step) const { return every_ > 0 && (step + 1) % every_ == 0; }
  /// The client now holds the adapters of `blocks`.
  void saved(BlockRange blocks);
  /// What a replacement server taking `blocks` starts from: the blocks with a checkpoint (their
  /// count, for the bytes to restore) and the updates the failure lost (the most of any block:
  /// those since its checkpoint, or since the start). The blocks then count as just saved.
  struct Restore {
    int checkpointed_blocks = 0;
    int updates_lost = 0;
  };
  Restore restore(BlockRange blocks);
  /// The session's job averaged its adapters (data-parallel jobs): a peer replica now holds
  /// everything but the session's own updates from here on.
  void synced(BlockRange blocks);
  /// A replacement server taking `blocks` copies them from a peer replica of the job: it loses the
  /// session's own updates since the last averaging (the most of any block), which it returns.
  int restore_from_peer(BlockRange blocks);

 private:
  std::vector<int> since_saved_;
  std::vector<int> since_synced_;
  std::vector<char> has_checkpoint_;
  int every_ = 0;
};

/// One message of a data-parallel job's averaging: server `from` sends its adapters of `blocks`
/// to server `to`.
struct AdapterExchange {
  int from = 0, to = 0;
  BlockRange blocks;
  bool operator==(const AdapterExchange&) const = default;
};

/// The messages by which the servers of chain `mine` send their adapters to those of chain `peer`
/// (another session of the job): one per pair of hops that share blocks, for the shared blocks, in
/// the order of `mine`'s hops then `peer`'s. A server in both hops keeps its copy: no message.
std::vector<AdapterExchange> adapter_exchanges(const Chain& mine, const Chain& peer);

/// `chain` with, under split learning, the client's own blocks [0, client_blocks) as a first hop
/// on host `client` (seed 002, eq. 24: the client trains adapters on them too), so that a job's
/// synchronization exchanges them between the sessions' clients; `chain` itself without.
Chain with_client_blocks(const Chain& chain, int client, int client_blocks);

/// The messages by which a replacement copies adapters from peer session `peer` of its job.
struct PeerCopies {
  int peer = -1;
  std::vector<AdapterExchange> messages;
};

/// How a replacement server `to` of a data-parallel session can copy the adapters of `blocks` from
/// a peer session of its job whose chain is `peer`: one message per peer hop that holds some of
/// them (none where `to` is that hop's server: it copies them locally), or nullopt when `peer`
/// does not hold them all.
std::optional<std::vector<AdapterExchange>> peer_copies(const Chain& peer, int to, BlockRange blocks);

/// Bytes a fine-tuning session holds on each block of its chain: the adapter's parameters,
/// gradients and optimizer state, and the block's input of the step, kept for the backward pass.
/// Under ZeRO a server holds 1/replicas of the optimizer state (stage 1) and of the gradients (2).
double training_bytes_per_block(const Scenario& sc);

}  // namespace swarmsim::sim
