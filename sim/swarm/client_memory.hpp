#pragma once
// What a client of a swarm of blocks holds in memory: the model's embedding table and LM head for
// the whole run (the client embeds its tokens and computes the logits, as Petals' clients do),
// under split learning its own blocks' weights too, and for each of its sessions in flight the KV
// cache or training state of those blocks. Plain data; RunMetrics keeps the ledger.
#include <functional>
#include <vector>

#include "sim/scenario/scenario.hpp"
#include "sim/swarm/session_plan.hpp"

namespace swarmsim::sim {

/// Bytes of the embedding table and the LM head (once when tied), in the weights' dtype; 16-bit
/// when the blocks are LLM.int8, whose mixed decomposition applies to the blocks' linear layers.
double client_head_bytes(const gpu::TransformerSpec& m);
/// Weights of the blocks every client runs itself under split learning (policy.privacy.client_blocks).
double client_block_weight_bytes(const Scenario& sc);
/// Bytes every client holds for the whole run: client_head_bytes plus client_block_weight_bytes.
double client_fixed_bytes(const Scenario& sc);
/// Bytes a client holds for one session while the session runs: its own blocks' KV cache or
/// training state (the session's kv_per_block per block); 0 without split learning.
double client_session_bytes(const Scenario& sc, const SessionShape& shape);

/// The highest memory one client held, and when.
struct ClientPeak {
  double bytes = 0.0;   ///< fixed bytes plus its sessions' bytes at the peak
  int sessions = 0;     ///< sessions in flight at the peak
  double at_s = 0.0;    ///< when it was first reached (s)
  int sessions_peak = 0;  ///< most sessions in flight at once (may differ from `sessions` when sessions' sizes differ)
};

/// The ledger of every client's memory over a run: sessions start and end on it.
class ClientMemoryLedger {
 public:
  /// Clients of `sc`, each starting at client_fixed_bytes.
  explicit ClientMemoryLedger(const Scenario& sc);
  /// Client `client` (0-based among the clients) takes `bytes` for a session at `t` (s).
  void start(int client, double t, double bytes);
  /// The session that took `bytes` on `client` ended at `t` (s).
  void end(int client, double bytes);
  const ClientPeak& peak(int client) const { return peaks_[static_cast<std::size_t>(client)]; }

 private:
  std::vector<double> held_;
  std::vector<int> sessions_;
  std::vector<ClientPeak> peaks_;
};

/// Sessions admitted to their client's memory, in arrival order per client. A session takes its
/// client_session_bytes when they fit in the client's usable memory beside its fixed bytes and
/// the sessions it holds, and no earlier session of that client waits; else it waits in the
/// client's line. A session alone on its client is always admitted (a client too small for one
/// session is reported, not stalled). Both engines and the metrics keep one, fed in the same order.
class ClientMemoryGate {
 public:
  /// Clients of `sc`; usable memory is the device's minus overheads.runtime_memory.
  explicit ClientMemoryGate(const Scenario& sc);
  /// Session `session` of client `client` (0-based among the clients) asks for `bytes`: true if
  /// admitted now, false if it waits in the client's line.
  bool admit(int client, int session, double bytes);
  /// An admitted session of `client` that held `bytes` ended; appends the waiting sessions this
  /// lets in, in line order, to `admitted`.
  void release(int client, double bytes, std::vector<int>& admitted);
  /// Sessions waiting on `client`.
  std::size_t waiting(int client) const { return lines_[static_cast<std::size_t>(client)].size(); }
  /// Called with a client, the bytes its admitted sessions hold (its fixed bytes not included) and
  /// the sessions waiting, whenever either changes; the engines stamp it with their clock.
  std::function<void(int client, double sessions_bytes, int waiting)> on_changed;

 private:
  struct Waiting {
    int session = 0;
    double bytes = 0.0;
  };
  bool fits(std::size_t c, double bytes) const { return sessions_[c] == 0 || held_[c] + bytes <= usable_[c]; }
  void changed(std::size_t c) const {
    if (on_changed) on_changed(static_cast<int>(c), sessions_[c] == 0 ? 0.0 : held_[c] - fixed_, static_cast<int>(lines_[c].size()));
  }
  double fixed_ = 0.0;  ///< every client's: embedding, head and its own blocks' weights
  std::vector<double> usable_, held_;
  std::vector<int> sessions_;
  std::vector<std::vector<Waiting>> lines_;  ///< per client, oldest first
};

}  // namespace swarmsim::sim
