#pragma once
// Gathers a run's figures from the simulator's signals and writes them as metrics.json.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/metrics/energy.hpp"
#include "sim/metrics/latency_histogram.hpp"
#include "sim/swarm/model_coverage.hpp"
#include "sim/metrics/training_loss.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/client_memory.hpp"
#include "sim/swarm/node_summary.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

/// Wall-clock figures; excluded from golden comparisons (the "wall_clock" key).
struct WallClock {
  double seconds = 0.0;
};

/// Where a token step's time went, from the session's spans between the previous token (or the
/// arrival) and this one. What no span covers is waiting: for a chain, an admission retry, a DHT
/// lookup, a queueing scheduler, a timeout before a retry or a recovery.
struct LatencyParts {
  double server_compute = 0.0;  ///< the servers' block work, alone on their devices (priced)
  double client_compute = 0.0;  ///< the client's embedding and LM head, alone on its device
  double contention = 0.0;      ///< compute spans beyond their alone time: the device was shared
  double propagation = 0.0;     ///< network latency of the messages, the network model's factor included
  double software = 0.0;        ///< RPC overhead, (de)serialization, checksums, extra round trips
  double transmission = 0.0;    ///< the rest of the messages' time: bytes over shared links
  double sum() const { return server_compute + client_compute + contention + propagation + software + transmission; }
  LatencyParts& operator+=(const LatencyParts& o);
};

/// Subscribes to SimSignals and accumulates throughput, latency, traffic and per-node figures.
class RunMetrics {
 public:
  /// `scenario` is borrowed for the metrics' lifetime.
  RunMetrics(const Scenario& scenario, std::string pricing);
  RunMetrics(const RunMetrics&) = delete;
  RunMetrics& operator=(const RunMetrics&) = delete;

  /// Connects to every signal it needs; call before the run.
  void connect(SimSignals& signals);

  /// The metrics document. Keys are stable; "wall_clock" holds the only non-deterministic figures.
  nlohmann::json to_json(double simulated_time, const std::vector<NodeSummary>& nodes, const WallClock& wall) const;

  std::uint64_t hops() const { return hops_; }
  int sessions_completed() const { return completed_; }
  int sessions_failed() const { return failed_; }
  int sessions_ended() const { return completed_ + failed_ + abandoned_ + lost_with_client_; }

 private:
  struct SessionRecord {
    double arrival = -1.0, first_token = -1.0, last_token = -1.0, end = -1.0;
    int decode_steps = 0;
    double ttft = -1.0;            ///< its time to first token as recorded (s); -1 until then
    double token_latency_s = 0.0;  ///< sum of its decode steps' latencies (s)
    bool completed = false;
    int phase = -1;                ///< workload.arrival "phases": the phase it arrived in, -1 without
    LatencyParts open;  ///< spans since the last token (or the arrival)
    int client = -1;            ///< its client, 0-based among the clients
    double client_bytes = 0.0;  ///< what it holds on its client while it runs (ClientMemoryLedger)
  };
  /// Sums over the steps of every session: what the prefill's and the decode steps' latencies
  /// were made of, and the latencies themselves (waiting is the difference).
  struct StepBreakdown {
    LatencyParts parts;
    double latency = 0.0;
    long steps = 0;
    nlohmann::json to_json() const;
  };
  StepBreakdown prefill_, decode_;
  /// workload.arrival "phases": per phase, the sessions that arrived in it and their latencies.
  nlohmann::json phases_json() const;
  const Scenario& sc_;
  ModelCoverage coverage_;  ///< time some block had no serving server, from the first session's arrival
  std::string pricing_;
  std::vector<SessionRecord> sessions_;
  PhaseClock phase_clock_;                   ///< the workload's arrival phases
  std::vector<std::uint64_t> phase_tokens_;  ///< per phase: tokens generated in its windows
  /// Per phase: the decode steps' latencies of the sessions that arrived in it, in a coarse
  /// histogram (64 sub-buckets: within 0.6%, 27 KiB a phase, at most 1,000 phases).
  std::vector<LatencyHistogram> phase_token_latency_;
  std::vector<int> chains_through_;     // per server
  EnergyMeter energy_;                  // per host: busy device-seconds and when it drew power
  LatencyHistogram ttft_, per_token_, session_latency_;
  std::vector<std::pair<int, std::string>> failures_;
  std::uint64_t hops_ = 0, tokens_ = 0, chains_ = 0;
  std::uint64_t retries_ = 0, checksum_failures_ = 0, given_up_ = 0, recoveries_ = 0, replayed_tokens_ = 0, moves_ = 0;
  double bytes_ = 0.0;
  int completed_ = 0, failed_ = 0;
  int abandoned_ = 0;  ///< sessions their users left (workload.abandon_share): neither completed nor failed
  int lost_with_client_ = 0;  ///< sessions whose client went down (a node_down naming it): neither completed nor failed
  /// Dishonest servers and spot checks (policy.verification).
  struct VerificationTally {
    std::map<std::string, long> checks;  ///< by verdict
    long wrong_outputs_checked = 0;      ///< checks of a hop whose output was wrong
    long wrong_outputs_passed = 0;       ///< of them, those a verifier agreed with (a cartel's)
    long corrupted_steps = 0;            ///< steps delivered with a wrong output somewhere on their chain
    double check_bytes = 0.0, check_device_seconds = 0.0;
    std::vector<ServerBanned> bans;
  } verification_;
  /// Fine-tuning sessions (workload.fine_tuning): their steps replace prefill and decode.
  struct TrainingTally {
    StepBreakdown steps;
    LatencyHistogram step_time;
    double forward_s = 0.0, backward_s = 0.0, loss_s = 0.0;  ///< device seconds by leg
    double client_forward_s = 0.0, client_backward_s = 0.0;   ///< split learning: the clients' own blocks
    long saved = 0, restored = 0, updates_lost = 0;
    double saved_bytes = 0.0, restored_bytes = 0.0;
    long syncs = 0;                               ///< sessions' parts in their jobs' averagings
    long restored_from_peers = 0;                 ///< restores copied from a peer replica
    double sync_bytes = 0.0, sync_seconds = 0.0;
  } training_;
  std::optional<ClientMemoryLedger> clients_memory_;  ///< swarms of blocks: what each client holds
  std::optional<ClientMemoryGate> client_gate_;        ///< with it: the engines' admission, replayed from the sessions' starts and ends
  std::vector<int> admitted_;                          ///< scratch
  std::vector<int> memory_waits_;                      ///< per client: sessions that waited for its memory
  std::vector<double> memory_wait_s_;                  ///< per client: their waits (s)
  std::unique_ptr<ForwardLegs> forward_legs_;  ///< fine-tuning with dishonest servers or a compressed wire: each step's legs
  bool dishonest_training_ = false;            ///< fine-tuning with dishonest servers
  long poisoned_steps_ = 0;                    ///< training steps that ran on a wrong forward output
  std::unique_ptr<TrainingLoss> loss_;  ///< workload.fine_tuning.loss: the adapters' values, on a proxy
};

}  // namespace swarmsim::sim
