#include "sim/swarm/training_step.hpp"

#include <algorithm>

#include "gpu/adapter.hpp"
#include "sim/swarm/session_plan.hpp"

namespace swarmsim::sim {

TrainingStep::TrainingStep(const Scenario& sc, const gpu::ShardCostModel& cost)
    : sc_(sc), cost_(cost), work_{sc.workload.batch_size, sc.workload.prompt_tokens, 0} {
  const FineTuningSpec& ft = *sc.workload.fine_tuning;
  params_per_block_ = gpu::adapter_params_per_block(sc.model, ft.adapter);
  activation_bytes_ = hidden_state_bytes(sc, sc.workload.prompt_tokens);
  gradient_bytes_ = static_cast<double>(work_.batch) * work_.new_tokens * sc.model.hidden_state_bytes_per_token();
}

double TrainingStep::forward_s(const gpu::DeviceSpec& dev, int n_blocks) const {
  const gpu::AdapterSpec& a = sc_.workload.fine_tuning->adapter;
  return n_blocks * (cost_.blocks_seconds(dev, sc_.model, work_, 1) + cost_.ops_seconds(dev, gpu::adapter_forward_ops(sc_.model, a, work_)));
}

double TrainingStep::backward_s(const gpu::DeviceSpec& dev, int n_blocks) const {
  const FineTuningSpec& ft = *sc_.workload.fine_tuning;
  const gpu::TransformerSpec& m = sc_.model;
  const double per_block = forward_s(dev, 1)  // the recomputed forward
                           + cost_.ops_seconds(dev, gpu::block_backward_ops(m, work_)) +
                           cost_.ops_seconds(dev, gpu::adapter_backward_ops(m, ft.adapter, work_));
  // seed 002, eq. 7: one update of every adapter parameter the server holds for the session; under
  // ZeRO, of its 1/replicas shard (priced here, though it runs once the shard's gradients arrived).
  const double updated = n_blocks * params_per_block_ / (ft.zero > 0 ? ft.replicas : 1);
  return n_blocks * per_block + cost_.ops_seconds(dev, gpu::optimizer_ops(updated, ft.optimizer));
}

double TrainingStep::embed_s(const gpu::DeviceSpec& dev) const {
  return cost_.embed_seconds(dev, sc_.model, work_.batch, work_.new_tokens);
}

double TrainingStep::loss_s(const gpu::DeviceSpec& dev) const {
  return cost_.ops_seconds(dev, gpu::head_train_ops(sc_.model, work_.batch, work_.new_tokens));
}

double TrainingStep::checkpoint_bytes(int n_blocks) const { return 4.0 * params_per_block_ * n_blocks; }

int TrainingStep::sync_rounds() const { return sc_.workload.fine_tuning->zero > 0 ? 2 : 1; }

double TrainingStep::sync_bytes(int n_blocks, int members) const {
  return sc_.workload.fine_tuning->zero > 0 ? checkpoint_bytes(n_blocks) / std::max(1, members) : checkpoint_bytes(n_blocks);
}

AdapterLedger::AdapterLedger(int n_layers, int checkpoint_every)
    : since_saved_(static_cast<std::size_t>(n_layers), 0),
      since_synced_(static_cast<std::size_t>(n_layers), 0),
      has_checkpoint_(static_cast<std::size_t>(n_layers), 0),
      every_(checkpoint_every) {}

void AdapterLedger::updated(BlockRange blocks) {
  for (int b = blocks.start; b < blocks.end; ++b) {
    ++since_saved_[static_cast<std::size_t>(b)];
    ++since_synced_[static_cast<std::size_t>(b)];
  }
}

void AdapterLedger::synced(BlockRange blocks) {
  for (int b = blocks.start; b < blocks.end; ++b) since_synced_[static_cast<std::size_t>(b)] = 0;
}

int AdapterLedger::restore_from_peer(BlockRange blocks) {
  int lost = 0;
  for (int b = blocks.start; b < blocks.end; ++b) {
    lost = std::max(lost, since_synced_[static_cast<std::size_t>(b)]);
    since_synced_[static_cast<std::size_t>(b)] = 0;
  }
  return lost;
}

void AdapterLedger::saved(BlockRange blocks) {
  for (int b = blocks.start; b < blocks.end; ++b) {
    since_saved_[static_cast<std::size_t>(b)] = 0;
    has_checkpoint_[static_cast<std::size_t>(b)] = 1;
  }
}

AdapterLedger::Restore AdapterLedger::restore(BlockRange blocks) {
  Restore r;
  for (int b = blocks.start; b < blocks.end; ++b) {
    r.checkpointed_blocks += has_checkpoint_[static_cast<std::size_t>(b)];
    r.updates_lost = std::max(r.updates_lost, since_saved_[static_cast<std::size_t>(b)]);
    since_saved_[static_cast<std::size_t>(b)] = 0;
  }
  return r;
}

std::vector<AdapterExchange> adapter_exchanges(const Chain& mine, const Chain& peer) {
  std::vector<AdapterExchange> out;
  for (const ChainHop& a : mine.hops)
    for (const ChainHop& b : peer.hops) {
      const BlockRange shared{std::max(a.blocks.start, b.blocks.start), std::min(a.blocks.end, b.blocks.end)};
      if (shared.empty() || a.server == b.server) continue;
      out.push_back({a.server, b.server, shared});
    }
  return out;
}

Chain with_client_blocks(const Chain& chain, int client, int client_blocks) {
  if (client_blocks <= 0) return chain;
  Chain out;
  out.cost = chain.cost;
  out.hops.reserve(chain.hops.size() + 1);
  out.hops.push_back({client, BlockRange{0, client_blocks}});
  out.hops.insert(out.hops.end(), chain.hops.begin(), chain.hops.end());
  return out;
}

std::optional<std::vector<AdapterExchange>> peer_copies(const Chain& peer, int to, BlockRange blocks) {
  std::vector<AdapterExchange> out;
  int held = 0;
  for (const ChainHop& h : peer.hops) {
    const BlockRange shared{std::max(h.blocks.start, blocks.start), std::min(h.blocks.end, blocks.end)};
    if (shared.empty()) continue;
    held += shared.size();
    if (h.server != to) out.push_back({h.server, to, shared});
  }
  if (held < blocks.size()) return std::nullopt;
  return out;
}

double training_bytes_per_block(const Scenario& sc) {
  const FineTuningSpec& ft = *sc.workload.fine_tuning;
  // Per parameter: 4 bytes of FP32 value, 4 of gradient, and the optimizer's state (8 under Adam).
  const double optimizer_state = gpu::training_bytes_per_param(ft.optimizer) - 8.0;
  const double replicas = static_cast<double>(ft.replicas);
  const double per_param = 4.0 + 4.0 / (ft.zero >= 2 ? replicas : 1.0) + optimizer_state / (ft.zero >= 1 ? replicas : 1.0);
  const double state = gpu::adapter_params_per_block(sc.model, ft.adapter) * per_param;
  const double saved_input = static_cast<double>(sc.workload.batch_size) * sc.workload.prompt_tokens * sc.model.hidden_state_bytes_per_token();
  return state + saved_input;
}

}  // namespace swarmsim::sim
