#pragma once
// A scenario: the swarm, its network, the model it serves, the workload, the policy and the
// replayed network events. Plain structs, filled by the loader (scenario_loader.hpp), read by the
// engine, the GUI and the tests. All quantities are in SI base units (s, bytes, bytes/s).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpu/adapter.hpp"
#include "gpu/device_catalog.hpp"
#include "gpu/model_catalog.hpp"
#include "sim/partition/brkga.hpp"
#include "sim/partition/model_graph.hpp"
#include "sim/partition/strategies.hpp"
#include "sim/swarm/block_range.hpp"
#include "topology/geo.hpp"

namespace swarmsim::sim {

/// A server node: a device that serves a contiguous range of blocks.
/// A server that does not run the model it announces (seed 002, section 6.1: "adversarial
/// participants may return random results or even malicious results").
struct DishonestSpec {
  double from_s = 0.0;  ///< it starts cheating at this time (s)
  double rate = 1.0;    ///< then each step it serves gets a wrong output with this probability
  bool lazy = false;    ///< it does not compute the wrong outputs: those steps take it no device time
  std::string cartel;   ///< nodes of one cartel cheat on the same steps with the same wrong values (empty: alone)
  double magnitude = 1.0;  ///< relative L2 distance of its wrong outputs from the right ones (1: unrelated values)
};

/// A host's electrical draw (W): `idle_w` while on and idle, `busy_w` at full utilization, and
/// linear in between (sim/metrics/energy.hpp).
struct PowerDraw {
  double idle_w = 0.0;
  double busy_w = 0.0;
};

/// What a host costs to run, in the scenario's currency (costs.currency): its rent while on, and
/// the electricity its draw uses. Unset fields take the scenario's `costs`, then 0.
struct HostPrices {
  std::optional<double> rent_per_s;           ///< money per second on
  std::optional<double> electricity_per_j;    ///< money per joule drawn
};

/// The scenario's prices (top-level "costs"): the currency's name and the defaults every host
/// without its own takes.
struct CostSpec {
  std::string currency = "USD";
  double rent_per_s = 0.0;         ///< money per second on
  double electricity_per_j = 0.0;  ///< money per joule drawn
};

struct NodeSpec {
  std::string name;
  const gpu::DeviceSpec* device = nullptr;  ///< borrowed from the device catalog (static lifetime)
  std::optional<topology::GeoPoint> location;
  double uplink_Bps = 0.0;        ///< upload bandwidth (bytes/s)
  double downlink_Bps = 0.0;      ///< download bandwidth (bytes/s)
  double access_latency_s = 1e-3; ///< one-way latency of the node's access link (s)
  double uptime = 1.0;            ///< declared fraction of time the node is up, in [0, 1]
  std::optional<BlockRange> blocks;  ///< fixed range, or nullopt for "auto"
  int max_blocks = 0;             ///< cap for "auto" (0 = as many as memory allows)
  int kv_cache_tokens = 16384;    ///< KV tokens per block budgeted when sizing an "auto" range
  double join_at_s = 0.0;         ///< when the node starts loading its blocks (s)
  double weights_load_Bps = 2e9;  ///< how fast it loads block weights when joining (bytes/s)
  std::optional<DishonestSpec> dishonest;  ///< a server that returns wrong outputs (absent: honest)
  /// Relative L2 distance of its honest outputs from exact arithmetic (its kernels' and dtypes'
  /// rounding); nodes with the same device and divergence return identical outputs.
  double divergence = 0.0;
  /// This node's own mean up and down periods under drawn churn (s, positive), in place of the
  /// scenario churn's; a mean up period unset (here and there) comes from `uptime` (churn.hpp).
  std::optional<double> mtbf_s, mttr_s;
  std::optional<PowerDraw> power;  ///< its own draw; unset: its device's catalog figures (power_draw())
  std::optional<HostPrices> costs;  ///< its own prices; unset: the scenario's costs
};

/// A client: runs sessions, the embedding and the LM head, and (by default) builds chains.
struct ClientSpec {
  std::string name;
  const gpu::DeviceSpec* device = nullptr;
  std::optional<topology::GeoPoint> location;
  double uplink_Bps = 0.0;
  double downlink_Bps = 0.0;
  double access_latency_s = 1e-3;
  /// Drawn churn (the scenario's `churn`): the client's mean up period (s); unset, it never fails.
  /// Its sessions end with it while it is down (sim/swarm/client_outages.hpp).
  std::optional<double> mtbf_s;
  std::optional<double> mttr_s;  ///< its mean down period (s); unset: churn.mttr
  std::optional<PowerDraw> power;  ///< its own draw; unset: its device's catalog figures (power_draw())
  std::optional<HostPrices> costs;  ///< its own prices; unset: the scenario's costs
};

/// The draw of a server or client: its own `power`, else its device's catalog figures.
template <class Host>
PowerDraw power_draw(const Host& h) {
  return h.power ? *h.power : PowerDraw{h.device->idle_power_w, h.device->busy_power_w};
}

/// SimGrid network model: LV08 ("tcp", SimGrid's validated TCP model with its latency and
/// bandwidth factors and cross-traffic) or CM02 without factors ("exact": latency + size/bandwidth).
enum class NetworkModel { Tcp, Exact };
/// Where pair latencies come from: great-circle distance, or an explicit RTT matrix.
enum class LatencyModel { Geo, Matrix };

struct NetworkSpec {
  NetworkModel model = NetworkModel::Tcp;
  LatencyModel latency = LatencyModel::Geo;
  double fiber_speed_km_s = 200000.0;  ///< signal speed in fibre (km/s)
  double route_inflation = 2.0;        ///< real path length over great-circle length
  std::vector<std::string> matrix_hosts;  ///< host names, order of the RTT matrix rows
  std::vector<double> rtt_s;              ///< row-major RTT matrix (s), matrix_hosts.size()^2
};

enum class ArrivalProcess { AllAtStart, Fixed, Poisson, Trace, Phases };

/// One phase of a changing load (ArrivalProcess::Phases): Poisson arrivals at `rate_per_s` for
/// `duration_s`; the phases repeat in order until every session has arrived.
struct ArrivalPhase {
  double rate_per_s = 0.0;  ///< mean arrivals per second during the phase (0: none)
  double duration_s = 0.0;  ///< how long it lasts (s), positive
};

/// One arrival of a trace-driven workload.
struct TraceArrival {
  double at_s = 0.0;
  int prompt_tokens = 0;  ///< 0: the workload's prompt_tokens
  int new_tokens = 0;     ///< 0: the workload's new_tokens
  int priority = 0;       ///< higher first under the priority scheduler (ties: earliest deadline)
};

/// Fine-tuning sessions (seed 002, section 2.4): a session trains adapters instead of generating
/// tokens. Each training step sends batch_size x prompt_tokens tokens forward along the chain
/// (servers run their blocks with the adapters and keep their input), the client computes the
/// loss and its gradient, and the gradient goes back along the chain in reverse; each server
/// recomputes its blocks, backpropagates through the frozen weights and updates its adapters
/// (eq. 7). The session's adapters live on its servers; every `checkpoint_every` steps each server
/// sends them to the client, which restores them into a replacement after a failure. With
/// `replicas` > 1, consecutive sessions form a data-parallel job: each trains the same adapters on
/// its own batch along its own chain, and every `sync_every` steps they meet and average them
/// (section 2.4.2, step 3: "nodes synchronize their updates across the network"), or, under ZeRO,
/// apply the job's mean gradient every step.
/// workload.fine_tuning.loss: the run also trains a small proxy of the model for real, so that it
/// reports the loss its events lead to (gpu/fine_tuning_proxy.hpp).
struct LossProxySpec {
  int width = 32;               ///< the proxy's hidden width (a multiple of 8)
  int vocab = 128;              ///< its vocabulary
  int sequences = 2;            ///< sequences per training step
  int tokens = 16;              ///< tokens per sequence
  double learning_rate = 3e-4;  ///< eta of eq. 7 (default 3e-4 with Adam, 0.03 with SGD)
};

struct FineTuningSpec {
  gpu::AdapterSpec adapter;                       ///< kind, rank and (LoRA) targets, the same on every block
  int steps = 1;                                  ///< training steps per session
  gpu::Optimizer optimizer = gpu::Optimizer::Adam;
  int checkpoint_every = 0;                       ///< steps between checkpoints of the adapters to the client (0 = never)
  int replicas = 1;                               ///< sessions per data-parallel job (sessions k / replicas train together)
  int sync_every = 1;                             ///< steps between the job's averagings of its adapters (replicas > 1)
  /// ZeRO stage of a data-parallel job (seed 002, section 2: "ZeRO ... to split the optimizer state,
  /// gradients, and parameters across nodes"): 0 averages local updates every sync_every steps; 1
  /// and 2 make every step synchronous (the job's gradients are reduce-scattered, each replica's
  /// server updates its 1/R shard, the shards are all-gathered), the optimizer state partitioned
  /// across the R replicas (1) and the gradients too (2).
  int zero = 0;
  std::optional<LossProxySpec> loss;              ///< train a proxy for real and report its loss
  /// The job of session k.
  int job_of(int session) const { return session / replicas; }
};

struct WorkloadSpec {
  int sessions = 1;
  double start_s = 0.0;      ///< arrival time of the first session
  ArrivalProcess arrival = ArrivalProcess::AllAtStart;
  double interval_s = 0.0;   ///< Fixed: time between arrivals
  double rate_per_s = 0.0;   ///< Poisson: mean arrivals per second
  int batch_size = 1;        ///< sequences per session
  int prompt_tokens = 1;     ///< prompt length per sequence
  int new_tokens = 1;        ///< tokens generated per sequence
  int max_in_flight = 4;     ///< graph models: requests in the pipeline at once (the client waits beyond)
  double deadline_s = 0.0;   ///< a session should finish this long after arrival (priority scheduler; 0 = none)
  double abandon_share = 0.0;  ///< share of sessions whose user leaves before the last token (session_plan.hpp, abandon_step)
  std::vector<ArrivalPhase> phases;  ///< Phases: the load's phases, repeated from `start` until every session arrived
  std::vector<TraceArrival> trace;  ///< Trace: the arrivals, sorted by time (sessions = trace.size())
  std::string trace_file;    ///< Trace: where they were read from
  std::optional<FineTuningSpec> fine_tuning;  ///< sessions train adapters instead of generating tokens
  /// Phases: the busiest phase's rate (requests/s); 0 without phases.
  double peak_phase_rate_per_s() const {
    double peak = 0.0;
    for (const ArrivalPhase& p : phases) peak = std::max(peak, p.rate_per_s);
    return peak;
  }
  /// Phases: the mean rate over a cycle of the phases (requests/s); 0 without phases.
  double mean_phase_rate_per_s() const {
    double arrivals = 0.0, span = 0.0;
    for (const ArrivalPhase& p : phases) {
      arrivals += p.rate_per_s * p.duration_s;
      span += p.duration_s;
    }
    return span > 0 ? arrivals / span : 0.0;
  }
  /// Phases: the phase (index into `phases`) in effect at time t (s); -1 before `start` or
  /// without phases. O(phases): loops over many times use a PhaseClock.
  int phase_at(double t) const;

};

/// When the phases of a workload (ArrivalProcess::Phases) begin and end, from its start on, the
/// phases repeating: which phase a time falls in, and how long an interval spends in each.
class PhaseClock {
 public:
  explicit PhaseClock(const WorkloadSpec& w);
  /// The phase in effect at t (s), O(log phases); -1 before the start or without phases.
  int phase_at(double t) const;
  /// Seconds of [start, t] spent in phase p (s); 0 before the start.
  double seconds_in_phase_until(int p, double t) const;
  /// Adds to into[p] the seconds of [a, b] spent in each phase p (s); into has one entry per phase.
  void add_seconds_by_phase(double a, double b, std::vector<double>& into) const;
  /// The phase [a, b] lies within (one window of it), or -1 when it spans more than one or starts
  /// before the start: the common case of a short interval, in O(log phases).
  int phase_holding(double a, double b) const;
  int phases() const { return static_cast<int>(duration_.size()); }

 private:
  double start_ = 0.0, cycle_ = 0.0;
  std::vector<double> offset_, duration_;  ///< per phase: its start within a cycle, its length (s)
};

/// How a client picks the chain of servers.
enum class RouterKind {
  Eq18,          ///< seed 002 eq. 2 + 18: greedy recursive selection with context length
  ShortestPath,  ///< Petals: Dijkstra over the block graph, latency + compute time
  Random,        ///< uniform among servers holding the next block
};

/// Compression of what crosses the network and of what servers hold (seed 002, section 4).
struct CompressionSpec {
  bool hidden_states = false;        ///< dynamic blockwise 8-bit quantization of hidden-state messages
  int block_size = 64;               ///< elements per absmax block
  bool llm_int8_weights = false;     ///< LLM.int8 mixed decomposition of the served weights
  double outlier_threshold = 6.0;    ///< |activation| above which an input column stays 16-bit (real execution)
  double outlier_fraction = 0.002;   ///< fraction of input columns kept 16-bit when not executing for real
  /// Bytes on the wire of `elements` hidden-state values of `element_bytes` each.
  double message_bytes(double elements, double element_bytes) const {
    if (!hidden_states) return elements * element_bytes;
    return elements + 4.0 * std::ceil(elements / block_size);  // int8 values + one FP32 scale per block
  }
};

/// Where a graph model's pipeline stages go once the partitioner has cut it.
enum class PlacementKind {
  Optimal,  ///< bottleneck assignment: the placement minimizing the slowest stage (exact)
  Greedy,   ///< seed 003's greedy score (memory, compute, latency to neighbours)
};

/// How a pipeline stage moves from a node that still serves it (a failback or a migration) once
/// its new node has loaded it.
enum class Handover {
  Drain,    ///< requests sent before the switch finish on the old node, later ones use the new one; nothing is sent again
  Forward,  ///< the old node finishes the work it started and forwards every other message it gets to the new node
  Resend,   ///< the old node stops at once and the client sends every unanswered request again
};

/// What the planner of a graph pipeline minimizes among its candidate plans (seed 003,
/// "Multi-Objective Optimization"; docs/partitioning.md, "Objectives").
enum class PlanGoal {
  Bottleneck,  ///< eq. 11: the slowest stage on its node (seed 002's MTPP objective; the default)
  Latency,     ///< one request's path through the stages, unqueued
  Energy,      ///< joules per request of the servers powered
  Cost,        ///< rent and electricity per request of the servers powered
};

/// What becomes of the server nodes a plan gives no stage.
enum class UnusedNodes {
  Standby,  ///< on, idle, rented: spares for failover, failback and migration (the default)
  Off,      ///< switched off and not rented for the whole run: they draw and cost nothing and take no stage
};

/// policy.partitioner.objective: which plan to run among those the planner finds (every node set
/// it can cut the graph onto), by what it minimizes and the bounds a plan must meet. Unset bounds
/// are infinite (or 0 for the least throughput).
struct PlanObjectiveSpec {
  bool set = false;                   ///< the scenario gives an objective (else the bottleneck, and no candidates are scored)
  PlanGoal minimize = PlanGoal::Bottleneck;
  /// The least predicted capacity (requests/s); unset: the arrivals' rate, so that the plan keeps
  /// up with the workload (none when every request arrives at once).
  std::optional<double> min_requests_per_s;
  double max_latency_s = std::numeric_limits<double>::infinity();           ///< the longest predicted unqueued latency (s)
  double max_joules_per_request = std::numeric_limits<double>::infinity();  ///< J per request
  double max_cost_per_s = std::numeric_limits<double>::infinity();          ///< money per second of the servers powered
  UnusedNodes unused_nodes = UnusedNodes::Standby;
};

/// How a graph model is cut into pipeline stages (seed 002 §2.5-2.6, seed 003 strategies).
struct PartitionerSpec {
  partition::Method method = partition::Method::SliceGraph;
  int stages = 0;                      ///< k: at most this many stages (0 = one per server node)
  PlacementKind placement = PlacementKind::Optimal;
  partition::BrkgaParams brkga;        ///< method "brkga" (its seed is the scenario's seed)
  /// Migration under congestion (policy.partitioner.migrate): every this often the client
  /// re-prices the stages on the links as they are now and moves the bottleneck stage to a spare
  /// node where the pipeline's bottleneck drops by at least migrate_min_gain (s; 0: never).
  double migrate_period_s = 0.0;
  double migrate_min_gain = 0.1;       ///< the least relative drop of the bottleneck worth a move, in [0, 1)
  /// How a failback or a migration hands the stage over (seed 003: "graceful migration with
  /// minimal disruption" is Drain or Forward; see docs/partitioning.md, "Handover", for when each pays).
  Handover handover = Handover::Resend;
  PlanObjectiveSpec objective;         ///< which candidate plan runs (default: the least eq. 11 bottleneck)
};

/// How servers order the work of the sessions that use them.
enum class SchedulerKind {
  Shared,    ///< every request runs at once, sharing the device (processor sharing)
  Fcfs,      ///< one request at a time, in arrival order
  Priority,  ///< one at a time, earliest deadline first (session arrival + workload.deadline)
  Batch,     ///< requests of several sessions run as one batch: up to batch_max, waiting at most batch_wait
};

/// Surviving failures (seed 003 "Error Handling"): detection, retries, integrity.
struct FaultToleranceSpec {
  double heartbeat_s = 5.0;         ///< servers heartbeat this often (s)
  int heartbeat_misses = 2;         ///< a server is declared dead this many heartbeats after its last one
  double transfer_timeout_s = 10.0; ///< an attempt not done after this grace plus twice its expected time has failed (s)
  int retry_attempts = 3;           ///< attempts per transfer before the server is given up on
  double retry_backoff_s = 0.5;     ///< wait before retry r: backoff x 2^(r-1) (s)
  double corruption_rate = 0.0;     ///< probability that a hidden-state message arrives corrupted (FNV-1a catches it)
  double checksum_Bps = 4e9;        ///< FNV-1a throughput at each end (bytes/s)
  bool failback = false;            ///< graph pipelines: a node that comes back takes over the stage it prices lowest
  /// Servers free a session's KV caches this long after its client stopped sending (its user left
  /// without closing it), as Petals' inference step timeout does (s).
  double session_timeout_s = 300.0;
  /// When a server that failed at `failed_at` is declared dead: heartbeats go out every
  /// heartbeat_s from t = 0, and heartbeat_misses of them are missing after its last one (s).
  double detected_at(double failed_at) const {
    return std::floor(failed_at / heartbeat_s) * heartbeat_s + heartbeat_s * heartbeat_misses;
  }
};

/// How routers estimate a server's uptime, which eq. 18's reliability term reads as R_A = 1 - uptime.
enum class UptimeEstimate {
  DeclaredTimesObserved,  ///< declared uptime x the share of time up since the server joined
  Posterior,              ///< the declaration weighs as prior_s seconds watched: (declared x prior + up) / (prior + watched)
};

/// A server's reputation R_A (seed 002, section 3: "historical uptime, failure rates").
struct ReputationSpec {
  UptimeEstimate estimate = UptimeEstimate::DeclaredTimesObserved;
  double prior_s = 600.0;  ///< Posterior: seconds of watching that the declared uptime counts as (s)
};

/// Dynamic rebalancing R: S x P -> S' (seed 002, eq. 3).
struct RebalanceSpec {
  double period_s = 0.0;            ///< servers re-evaluate their blocks this often (0 = never)
  double balance_quality = 0.75;    ///< move only when the swarm's weakest block throughput improves by more than 1/quality
};

/// Server-side scheduling of requests.
struct SchedulerSpec {
  SchedulerKind kind = SchedulerKind::Shared;
  int batch_max = 8;                ///< Batch: sessions' requests per batch at most
  double batch_wait_s = 0.005;      ///< Batch: wait at most this long for a batch to fill (s)
};

/// Servers announce their blocks in a Kademlia DHT and clients find them there (seed 002, §3).
struct DhtSpec {
  bool enabled = false;        ///< off: clients see every server directly (an oracle directory)
  int k = 20;                  ///< bucket size and replication
  int alpha = 3;               ///< lookup parallelism
  double rpc_timeout_s = 2.0;  ///< an RPC not answered by then has failed (s)
  double record_ttl_s = 30.0;  ///< servers' block records expire this long after their last republish (s)
  double client_refresh_s = 30.0;  ///< clients look their servers up again after this long (s)
  double message_bytes = 128;  ///< bytes of an RPC without its contacts and records
};

/// Topology monitoring by persistent homology (seed 002, sections 2.7 and 3.1).
struct TopologyMonitorSpec {
  double period_s = 0.0;             ///< snapshot the swarm this often (0 = no monitoring)
  int states = 3;                    ///< topology states (k-means on the PH features of the replayed snapshots)
  bool apply_schemes = true;         ///< move "auto" servers to the scheme of the state the classifier picks
  bool stability_reliability = true; ///< fold H0 stability into eq. 18's reliability: R_A = 1 - uptime x m_A
};

/// Split learning and differential privacy of what the client sends the swarm (seed 002,
/// section 6.3.1): the client runs the first blocks itself, so servers see only their output Z
/// (eq. 22), and may clip and noise Z before it leaves (eq. 25).
struct PrivacySpec {
  int client_blocks = 0;   ///< k: the client runs blocks [0, k) on its own device; the swarm serves [k, n_layers)
  double epsilon = 0.0;    ///< (ε, δ)-DP of each hidden-state vector the client releases; 0 = no noise
  double delta = 1e-5;     ///< δ of that guarantee
  double clip_norm = 0.0;  ///< C: L2 norm each released vector is clipped to before noise (0 = sqrt(hidden))
  bool noisy() const { return epsilon > 0; }
  /// C for a model of width `hidden`.
  double clip_for(int hidden) const { return clip_norm > 0 ? clip_norm : std::sqrt(static_cast<double>(hidden)); }
};

/// Clients spot-check the servers of their chains (seed 002, section 6.2: consensus-based
/// verification of outputs): another server recomputes a checked hop, a third breaks a
/// disagreement by majority, and the server in the minority is banned from the swarm.
struct VerificationSpec {
  double rate = 0.0;  ///< chance that a client checks a given hop of a given step (0 = never)
  bool ban = true;    ///< a server found wrong by majority leaves every chain and is never routed to again
  double tolerance = 0.0;  ///< two outputs agree when their relative L2 distance is at most this (0: exactly)
  bool enabled() const { return rate > 0; }
};

struct PolicySpec {
  RouterKind router = RouterKind::Eq18;
  double gamma = 1.0;   ///< eq. 18 exponent of the transfer term
  double beta = -1.0;   ///< eq. 18 exponent of the GPU availability / load ratio
  double alpha = -1.0;  ///< eq. 18 exponent of the reliability term
  int context = 0;      ///< eq. 2 context length alpha: earlier chain nodes weighed besides the last
  bool orchestrator = false;  ///< chains are built by an orchestrator node (one RPC round trip)
  double admission_timeout_s = 60.0;  ///< give up on a session that finds no chain for this long
  double admission_retry_s = 1.0;     ///< wait between attempts to find a chain
  /// Each wait is admission_retry_s x (1 + admission_jitter x (2u - 1)), u uniform in [0, 1) from the
  /// session's stream: clients that wait together do not all retry at the same instant. [0, 1].
  double admission_jitter = 0.0;
  CompressionSpec compression;
  ReputationSpec reputation;
  PartitionerSpec partitioner;  ///< graph models only
  FaultToleranceSpec faults;
  RebalanceSpec rebalance;
  SchedulerSpec scheduler;
  DhtSpec dht;
  TopologyMonitorSpec topology;
  PrivacySpec privacy;
  VerificationSpec verification;
};

/// A Fisher-information guided B-tree network (seed 000) served by the swarm instead of a chain
/// of blocks (model.tree in the file). The tree's keys are the classes of a synthetic task whose
/// inputs are class-conditional Gaussians: each node classifies among its key range, answers when
/// confident (early exit) and otherwise routes the hidden state to the child whose keys hold most
/// of its probability; every balance period nodes split and merge by Fisher information and load.
struct FisherTreeSpec {
  int classes = 16;                ///< keys: classes of the task
  int dim = 64;                    ///< width d of inputs and hidden states
  double noise = 1.0;              ///< σ of each node's look at the input
  double separation = 3.0;         ///< norm of every class mean
  double class_skew = 0.0;         ///< Zipf exponent of class popularity (0 = uniform)
  int order = 4;                   ///< most children a node has (the B-tree's order, at least 3)
  int initial_children = 2;        ///< leaves under the root at t = 0
  double threshold = 0.9;          ///< τ_i: confidence above which a node answers (seed 000 §2.2)
  double alpha = 0.5;              ///< α: how much a node's Fisher share lowers its threshold
  double balance_period_s = 1.0;   ///< T_balance: nodes are measured and restructured this often (s)
  double split_fisher = 40.0;      ///< τ_split: Fisher trace above which a loaded node splits
  double split_load = 1.5;         ///< ρ_split: load over the mean load above which an informative node splits
  double merge_fisher = 5.0;       ///< τ_merge: mean Fisher trace of two sibling leaves below which they merge
  int min_samples = 20;            ///< requests a node must have seen in a period to split or merge
  double node_flops = 2e10;        ///< work of one node's function per request (FLOP)
  double node_param_bytes = 4e8;   ///< a node's parameters θ_i: read per request, loaded when it is created (bytes)
  double hidden_bytes = 16384;     ///< a hidden state on the wire (bytes)
  double answer_bytes = 64;        ///< an answer returned to the client (bytes)
};

/// The most parameters method "coin_full" accepts: its Fisher sum is parameters² doubles (32 MiB here) and its
/// Cholesky solve parameters³/3 FLOP. Method "coin_block" may hold as many entries in its blocks.
inline constexpr long kMaxFullFisherParameters = 2048;
/// The most coded models (model.coded.parity) a run may have.
inline constexpr int kMaxCodedParity = 4;

/// Erasure-coded inference (seed 001, COIN) served instead of a transformer (model.coded in the
/// file). Every request asks N task models about one input; N_c coded models answer too, coded
/// model k's output ≈ Σ_i β_{k,i} of theirs, so that any N of the N + N_c answers give all N
/// outputs (the missing ones decoded). The models are small perceptrons trained here, on synthetic
/// classification tasks, from one shared pretrained model; the coded one is made by Fisher
/// averaging (seed 001, eq. 15) or, as the baseline, by plain parameter averaging.
struct CodedSpec {
  int models = 2;                  ///< N: task models whose outputs every request needs
  int parity = 1;                  ///< coded models N_c in [0, min(4, N)]: 0 is the uncoded baseline
  std::string method = "coin";     ///< "coin" (diagonal Fisher averaging), "coin_full" (full Fisher matrices), "coin_block" (a Fisher block per unit) or "average" (plain weighted parameter average)
  /// β_{k,i}, the coding weights: one row of N per coded model, each summing to 1; when empty, row k
  /// is (i + 1)^k normalized (row 0 uniform), whose square submatrices are all nonsingular.
  std::vector<std::vector<double>> beta;
  int classes = 3;                 ///< classes of every task
  int dim = 8;                     ///< input width d
  int hidden = 16;                 ///< hidden width of the perceptrons
  double noise = 1.1;              ///< σ of an input around its class mean
  double separation = 3.0;         ///< norm of every class mean
  int pretrain_steps = 100;        ///< SGD steps of the shared model on the pretraining task
  int finetune_steps = 30;         ///< SGD steps of each task model from the shared one
  int batch = 32;                  ///< inputs per SGD step
  double learning_rate = 0.05;     ///< SGD step size
  int fisher_samples = 200;        ///< P: inputs the Fishers are estimated on (seed 001: about 200)
  /// Methods "coin_full", "coin_block": λ added to Σ β_i F_i, relative to its mean diagonal; 0 takes the
  /// method's default (default_fisher_damping)
  double fisher_damping = 0;
  int test_samples = 2000;         ///< inputs per task for the offline accuracies
  bool cancel = false;             ///< a completed request's client tells the members still holding it to drop it
  double decode_wait_s = 0;        ///< how long the client waits for the last model's output once it could decode it (s)
  double straggle_probability = 0; ///< chance that a computation straggles (interference on shared servers)
  double straggle_slowdown = 1;    ///< how many times longer a straggling computation takes
  double node_flops = 4e9;         ///< work of one model's forward pass per request (FLOP)
  double node_param_bytes = 2e8;   ///< a model's parameters: read per request, held in memory (bytes)
  double input_bytes = 150528;     ///< a request's input on the wire (bytes)
  double output_bytes = 4096;      ///< a model's output returned to the client (bytes)
};

/// Real costs beyond FLOPs and bytes on the wire.
struct OverheadSpec {
  double rpc_s = 0.5e-3;             ///< fixed cost per message (framing, syscalls, event loop)
  double serialization_Bps = 2e9;    ///< (de)serialization throughput at each end (bytes/s)
  double header_bytes = 256.0;       ///< metadata per message (ids, shapes, checksum)
  double round_trips = 0.0;          ///< extra round trips of the pair's RTT each message waits for (RPC handshakes, acks)
  double runtime_memory_bytes = 512.0 * 1024 * 1024;  ///< device memory taken by the runtime per node
};

enum class EventAction { NodeDown, NodeUp, SetBandwidth, SetLatency };
enum class LinkDirection { Up, Down, Both };

/// A replayed change of the swarm or its network at a simulated time.
struct ReplayEvent {
  double at_s = 0.0;
  EventAction action = EventAction::NodeDown;
  std::string node;      ///< the node (server or client) concerned
  std::string peer;      ///< SetLatency between `node` and `peer` (empty: access latency of `node`)
  LinkDirection direction = LinkDirection::Both;  ///< SetBandwidth: which access link
  double value = 0.0;    ///< SetBandwidth: bytes/s; SetLatency: seconds (one-way)
};

/// Failures drawn instead of listed (the scenario's `churn`): every server not named by a listed
/// node_down or node_up alternates up and down periods, exponentially distributed, from its join
/// on (sim/scenario/churn.hpp).
struct ChurnSpec {
  double mttr_s = 0.0;           ///< mean down period (s, positive): mean time to repair
  double until_s = 0.0;          ///< no failure starts at or after this time (s, positive)
  std::optional<double> mtbf_s;  ///< mean up period (s, positive) of every server; unset: from each node's uptime
  /// Outages that take a whole region down at once (a power cut, an ISP's failure): they start at
  /// exponential intervals of mean `every_s`, centred on a server drawn at random, take down every
  /// server within `radius_km` of it, and end together after an exponential time of mean `lasts_s`.
  struct Regional {
    double every_s = 0.0;    ///< mean time between outages anywhere (s, positive)
    double lasts_s = 0.0;    ///< mean length of an outage (s, positive)
    double radius_km = 0.0;  ///< great-circle distance from the centre within which servers go down (km, not negative)
    bool clients = false;    ///< the clients within the radius go down too (their sessions end with them)
  };
  std::optional<Regional> regional;
};

struct OutputSpec {
  bool metrics = true;
  bool trace = true;
  bool events = true;
  long trace_max_events = 500000;  ///< the trace stops recording spans past this many
};

/// How shard work becomes time: op profiles where measured (roofline for device kinds without
/// one), or the roofline model everywhere.
enum class Pricing { Auto, Roofline };

/// What plays the scenario out: SimGrid actors (every feature), or the flow engine (the same
/// network and device sharing models solved directly, 10x faster, for swarms without the DHT;
/// see
/// docs/architecture.md, "Engines").
enum class EngineKind { SimGrid, Flow };

struct Scenario {
  std::string name;
  std::string description;
  std::string source_file;  ///< file it was loaded from (for messages)
  std::uint64_t seed = 1;
  gpu::TransformerSpec model;  ///< the transformer served; n_layers == 0 when the model is a graph
  /// A computation graph served as a pipeline instead of a transformer (model.graph in the file).
  std::shared_ptr<const partition::ModelGraph> graph;
  std::string graph_source;    ///< the graph file, or "generator:<name>"
  /// A Fisher B-tree network served instead of a transformer (model.tree in the file).
  std::optional<FisherTreeSpec> tree;
  /// Erasure-coded inference over N models served instead of a transformer (model.coded in the file).
  std::optional<CodedSpec> coded;
  std::vector<NodeSpec> nodes;
  std::vector<ClientSpec> clients;
  NetworkSpec network;
  WorkloadSpec workload;
  PolicySpec policy;
  OverheadSpec overheads;
  std::vector<ReplayEvent> events;  ///< sorted by time (stable); the listed ones, then those `churn` drew
  std::optional<ChurnSpec> churn;   ///< failures drawn from the servers' availability (already in `events`)
  OutputSpec outputs;
  /// Prices (top-level "costs"); metrics.json reports a "cost" section when it or a host's own
  /// `costs` is set (priced()).
  std::optional<CostSpec> costs;
  double time_limit_s = 86400.0;    ///< simulated time after which unfinished sessions fail
  Pricing pricing = Pricing::Auto;
  EngineKind engine = EngineKind::SimGrid;
  /// The first block the swarm serves: the clients run the blocks before it (policy.privacy.client_blocks).
  int first_served_block() const { return policy.privacy.client_blocks; }
  /// Whether the scenario sets any price: then metrics.json has a "cost" section.
  bool priced() const;
};

/// Host index of the server or client named `name` (servers 0..S-1 in scenario order, then the
/// clients), or -1.
int host_index(const Scenario& sc, const std::string& name);

/// Names used in scenario files for the enums above (for messages and outputs).
const char* to_string(RouterKind r);
const char* to_string(NetworkModel m);
const char* to_string(ArrivalProcess a);
const char* to_string(EventAction a);
const char* to_string(EngineKind e);
const char* to_string(PlanGoal g);
/// The goal named `name` in policy.partitioner.objective.minimize ("bottleneck", "cost", "energy",
/// "latency"), or nullopt.
std::optional<PlanGoal> plan_goal_from_string(std::string_view name);

/// What the network model multiplies a message's latency by before its bytes flow: 13.01 for
/// "tcp" (SimGrid 3.32's LV08 default, modelling TCP slow start on fresh connections), 1 for "exact".
double latency_factor(NetworkModel m);

}  // namespace swarmsim::sim
