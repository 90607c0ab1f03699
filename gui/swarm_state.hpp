#pragma once
// The GUI's model of a run: what the swarm looked like at any simulated time T.
//
// A run is a `SwarmInfo` (the hosts, from the "run_start" line) and a time-ordered list of
// `SwarmEvent`s (joins, failures, network changes, sessions, chains, and, where known, compute
// and transfer spans and token steps). `SwarmState` is the plain snapshot the panels draw;
// `Timeline` holds a run's events and answers `state_at(T)` by replaying them from the nearest
// checkpoint (one every max(`Timeline::kCheckpointEvery`, state size) events), so seeking costs
// O(kCheckpointEvery + state size) whatever the trace length, and checkpoints take memory in
// proportion to the events, not to events x hosts. Nothing here knows about windows
// or OpenGL: the tests drive it directly.
//
// A Fisher B-tree run (seed 000) also has "tree" events: each carries the whole tree after a
// change, and `SwarmState::tree` is the last one with a short history of the splits and merges.
//
// Times are simulated seconds, sizes bytes, bandwidths bytes/s. Hosts are indices: servers
// 0..S-1 in scenario order, then clients S..S+C-1 (as in sim/swarm/swarm_events.hpp).
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sim/swarm/block_range.hpp"
#include "sim/swarm/model_coverage.hpp"
#include "topology/geo.hpp"

namespace swarmsim::gui {

using sim::BlockRange;

/// One host of the run as "run_start" describes it.
struct HostInfo {
  std::string name;
  std::string device;             ///< GPU kind of a server ("L4"), device of a client ("cpu-generic")
  bool is_server = true;
  double memory_bytes = 0.0;      ///< device memory (servers; 0 when unknown)
  double uplink_Bps = 0.0, downlink_Bps = 0.0;
  std::optional<topology::GeoPoint> location;
};

/// What "run_start" says about the run.
struct SwarmInfo {
  std::string scenario, model;
  std::uint64_t seed = 0;
  int n_blocks = 0;
  int n_servers = 0;              ///< hosts[0..n_servers) are servers, the rest clients
  std::vector<HostInfo> hosts;
  double tokens_per_step = 1.0;   ///< tokens one step of one session produces (the batch size)
  bool pipeline = false;          ///< a graph pipeline's run: blocks are its stages, sessions its requests (one step each)
  bool tree = false;              ///< a Fisher B-tree's run: blocks are its keys (classes), a node serves its key range
  int coded_models = 0;           ///< an erasure-coded run's task models N (0: not coded): blocks are its members, the coded one last
  int coded_parity = 0;           ///< an erasure-coded run's coded models N_c (blocks coded_models .. coded_models + N_c − 1)
  int client_blocks = 0;          ///< split learning: the clients run blocks [0, client_blocks) themselves
  bool training = false;          ///< fine-tuning sessions: a step trains on tokens_per_step tokens and generates none
  int zero = 0;                   ///< fine-tuning: the jobs' ZeRO stage (0: they average their adapters)
  /// When the workload starts (s): metrics.json counts time without a server for some block from
  /// here. -1: not in the run's header (an older swarmsim); counted from the first session's start.
  double workload_start_s = -1.0;
  /// A pipeline's, a tree's or a coded run: sessions are requests, each answered in one step.
  bool request_based() const { return pipeline || tree || coded_models > 0; }
  std::unordered_map<std::string, int> by_name;  ///< host name -> index, from index_hosts()
  /// Fills by_name from hosts (call once hosts are complete): every event names its hosts.
  void index_hosts();
  /// Host index of `name`, or -1: O(1) once indexed, a linear search if hosts changed since.
  int host_index(const std::string& name) const;
};

enum class EventType {
  NodeJoin, NodeDown, NodeUp, LinkChange, SessionStart, ChainFormed, SessionDone, SessionFailed,
  Compute,   ///< a span of device work, emitted at its end (live signals or trace.json)
  Transfer,  ///< a hidden-state message, emitted when its last byte arrives
  Step,      ///< a token step finished at the client
  RunEnd,
  TransferRetry,     ///< a hidden-state transfer failed (timeout, checksum) and is retried or given up
  SessionRecovered,  ///< a session replaced a failed server's hop(s) and goes on
  BlocksMoved,       ///< a server moved its block range (rebalancing); serves again at its next node_join
  Tree,              ///< a Fisher B-tree changed shape or was measured (`SwarmEvent::tree`)
  ServerBanned,      ///< a spot check's majority found a server's output wrong: it serves no chain again
  AdaptersMoved,     ///< fine-tuning: a server's adapters were saved to the client, restored into a replacement, or averaged with the job's (`text` "synced")
  Loss,              ///< fine-tuning with a loss proxy: a session's step trained it; `value` is the loss (nats per position)
  Kv,                ///< the KV memory reserved on `node` changed; `value` is its new total (bytes); a client's also `waiting`
};
/// Number of EventType values.
inline constexpr int kEventTypes = 20;
/// The events.jsonl "type" of `t` ("node_join", ...).
const char* to_string(EventType t);

struct ChainHop {
  int node = 0;
  BlockRange blocks;
  bool operator==(const ChainHop&) const = default;
};

/// One node of a Fisher B-tree (seed 000) as a "tree" event shows it: the GUI's copy of
/// sim::TreeNodeView, with its server as a host index and its state as a flag.
struct TreeNodeView {
  int id = 0;
  int parent = -1;          ///< node id, -1 for the root
  int lo = 0, hi = 0;       ///< its keys (classes) [lo, hi)
  int server = -1;          ///< host index of its server
  bool loading = false;     ///< a split's new node loading its parameters (not routed to yet); else serving
  double fisher = 0.0;      ///< I = tr(F) over the last balance period
  double load = 0.0;        ///< its server's busy fraction over the last balance period
  bool failed = false;      ///< its server is down; it keeps its place until a spare takes it over
  bool operator==(const TreeNodeView&) const = default;
};

/// What a "tree" event says happened.
enum class TreeChangeKind {
  Planned,       ///< the initial tree (t = 0)
  SplitStarted,  ///< a split's new nodes start loading
  Split,         ///< they serve: the tree changed
  Merge,         ///< two sibling leaves became one (or a parent left with one leaf became a leaf)
  Balance,       ///< a balance period's Fisher and load measurements; the shape is unchanged
  SplitCancelled,   ///< a server failed while a split's new nodes loaded: they are gone
  Failed,           ///< a node's server went down (`node`)
  FailureDetected,  ///< heartbeats revealed it: its parent answers in its place
  Replaced,         ///< a spare took the failed node over and serves it
  FailbackLoading,  ///< a server that came back loads a node that runs faster there (policy.faults.failback)
  Failback,         ///< the node moved there
  FailbackDropped,  ///< a failure or a move overtook the load: no move
};
/// The events.jsonl "what" of `k` ("split_started", ...).
const char* to_string(TreeChangeKind k);

/// A change of the tree: a "tree" event without its nodes.
struct TreeChange {
  double t = 0.0;
  TreeChangeKind what = TreeChangeKind::Planned;
  int node = -1;             ///< the node that split, or the merge's kept node; -1 otherwise
  std::vector<int> created;  ///< split_started, split: the new nodes
  bool operator==(const TreeChange&) const = default;
};

/// A "tree" event's content: the change and every node loading or serving after it, parents
/// before children, children in key order.
struct TreeSnapshot {
  TreeChange change;
  std::vector<TreeNodeView> nodes;
};

/// One event of a run. Only the fields of its type are meaningful.
struct SwarmEvent {
  double t = 0.0;           ///< when it happened (a span's end)
  EventType type = EventType::RunEnd;
  int node = -1;            ///< NodeJoin/Down/Up, LinkChange, BlocksMoved; Compute: the host;
                            ///< Transfer, TransferRetry: the sender; SessionRecovered: the failed server
  int peer = -1;            ///< LinkChange: the pair's other end (-1: access link); Transfer, TransferRetry: the receiver
  BlockRange blocks;        ///< NodeJoin: range served; Compute: blocks run (empty for client work)
  double start = 0.0;       ///< NodeJoin: load start; Compute/Transfer: span start
  int session = -1;
  int client = -1;          ///< SessionStart: host index of the client
  int attempt = 0;          ///< ChainFormed; TransferRetry: the failed attempt (1-based)
  std::vector<ChainHop> hops;  ///< ChainFormed; SessionRecovered: the replacement hops
  double value = 0.0;       ///< ChainFormed: router cost; LinkChange: B/s or s; Transfer: bytes; Step: latency (s); Loss: the loss; Kv: bytes reserved
  int step = 0;             ///< Compute/Transfer/Step: 0 = prefill
  int tokens = 0;           ///< SessionDone/Failed; SessionRecovered: tokens replayed
  int decoded = 0;          ///< SessionDone of an erasure-coded run: task outputs decoded
  BlockRange blocks_to;     ///< BlocksMoved: the new range (`blocks` is the old one)
  bool given_up = false;    ///< TransferRetry: no attempt left
  bool honest = false;      ///< ServerBanned: the node was honest, outvoted by a cartel
  bool abandoned = false;   ///< SessionFailed: its user left (workload.abandon_share); the swarm did not fail it
  bool client_lost = false; ///< SessionFailed: its client went down (a node_down naming it); the swarm did not fail it
  bool restored = false;    ///< AdaptersMoved: into a replacement (`node`), else saved from `node` to the client
  int updates_lost = 0;     ///< AdaptersMoved, restored: the training steps since the checkpoint (or the job's last averaging)
  bool from_peer = false;   ///< AdaptersMoved, restored: copied from a peer replica of the session's job
  int waiting = -1;         ///< Kv on a client: its sessions waiting for its memory
  std::string text;         ///< SessionFailed, TransferRetry: reason; Compute: "blocks"/"embed"/"head";
                            ///< LinkChange: "set_bandwidth"/"set_latency"
  char direction = 'b';     ///< LinkChange set_bandwidth: 'u'p, 'd'own, 'b'oth
  /// Tree: the change and the tree after it. Shared, never modified: events are copied into
  /// timelines and checkpoints, and other types do not pay for a tree's size.
  std::shared_ptr<const TreeSnapshot> tree;
};

/// A session between its arrival and its end.
struct SessionInFlight {
  int client = -1;
  double started = 0.0;
  int steps_done = 0;
  int attempt = 0;                 ///< admission attempts of the chain in use (0: none yet)
  double chain_formed_at = -1.0;   ///< -1 while waiting for a chain
  std::vector<ChainHop> chain;     ///< empty while waiting for a chain
};

/// One host at time T.
struct NodeState {
  bool up = true;
  bool banned = false;            ///< a spot check's majority found its output wrong (policy.verification)
  bool joined = false;            ///< has served blocks at some point (servers)
  bool serving = false;           ///< joined, up and loaded: its blocks count for coverage
  BlockRange blocks;              ///< last range announced
  double joined_at = -1.0;        ///< last time it finished loading
  double state_since = 0.0;       ///< last up/down change
  double up_seconds = 0.0;        ///< serving time before `state_since` (add T - since when serving)
  double serving_since = -1.0;
  int chains = 0;                 ///< chains formed through it, cumulative (recoveries not counted, as in metrics.json)
  int sessions_in_flight = 0;     ///< chains in flight through it
  double bytes_sent = 0.0, bytes_received = 0.0;
  int transfer_retries = 0;       ///< failed transfer attempts it sent
  int moves = 0;                  ///< block-range moves (rebalancing)
  int failures = 0;               ///< times it went down up to T (as metrics.json's nodes[].failures)
  double busy_seconds = 0.0;      ///< device-busy time of finished spans
  double kv_bytes = 0.0;          ///< KV memory reserved on it now (from "kv" events; a client's: of its own blocks, under split learning)
  int memory_waiting = 0;         ///< a client's sessions waiting for its memory now
  double kv_peak_bytes = 0.0;     ///< the most reserved at once up to T
  long block_steps = 0;           ///< blocks x steps executed (a block run for one step counts 1)
  double uplink_Bps = 0.0, downlink_Bps = 0.0;  ///< current access bandwidths
  double access_latency_override_s = -1.0;      ///< from a set_latency without peer; -1: as configured
};

/// Fixed logarithmic bins of latencies from 1 ms to 100 s (values outside go to the end bins).
struct LatencyBins {
  static constexpr int kBins = 40;
  static constexpr double kMin = 1e-3, kMax = 100.0;
  std::array<float, kBins> counts{};
  std::uint64_t total = 0;
  void add(double seconds);
  /// Lower edge of bin `i` (s).
  static double edge(int i);
};

/// Traffic between an ordered pair of hosts up to T.
struct PairTraffic {
  double bytes = 0.0;
  double busy_seconds = 0.0;  ///< summed transfer durations
  int messages = 0;
};

/// A Fisher B-tree at time T: its nodes and its last structural changes.
struct TreeState {
  static constexpr std::size_t kHistory = 16;  ///< changes kept (enough to highlight the recent ones)
  std::vector<TreeNodeView> nodes;   ///< loading or serving, parents before children, children in key order
  std::vector<TreeChange> history;   ///< the last kHistory changes but "balance", oldest first
  double measured_at = -1.0;         ///< last "balance" (its fisher and load); -1 before the first

  /// The node with id `id`, or nullptr.
  const TreeNodeView* find(int id) const;
};

/// The swarm at simulated time `time`: what the panels draw.
struct SwarmState {
  double time = 0.0;
  std::vector<NodeState> nodes;                 ///< per host (servers then clients)
  std::map<int, SessionInFlight> sessions;      ///< sessions in flight, by session id
  std::map<std::pair<int, int>, PairTraffic> traffic;     ///< (from, to) -> bytes moved
  std::map<std::pair<int, int>, double> pair_latency_s;   ///< set_latency with a peer (one-way, base)
  int sessions_started = 0, sessions_done = 0, sessions_failed = 0, chains_formed = 0;
  int sessions_decoded = 0;     ///< erasure-coded runs: requests answered by decoding
  int sessions_abandoned = 0;   ///< sessions their users left (not counted in sessions_failed)
  int sessions_lost_with_client = 0;  ///< sessions whose client went down (not counted in sessions_failed)
  int recoveries = 0, transfer_retries = 0, block_moves = 0, bans = 0;
  int adapters_saved = 0, adapters_restored = 0, updates_lost = 0;  ///< fine-tuning checkpoints (AdaptersMoved)
  int adapter_syncs = 0;  ///< sessions' parts in their data-parallel jobs' averagings (AdaptersMoved "synced")
  std::map<int, double> loss;  ///< the loss proxy's latest step loss, by session (Loss events)
  double tokens = 0.0;          ///< tokens generated (steps x tokens_per_step)
  long steps = 0;               ///< token steps finished
  double bytes_moved = 0.0;
  long hops = 0;                ///< transfers
  bool ended = false;           ///< "run_end" seen
  LatencyBins ttft, per_token;  ///< step 0 latencies, step >= 1 latencies
  TreeState tree;               ///< a Fisher B-tree run's tree (empty otherwise)
  /// A swarm of blocks: each block's time without a serving server since the workload started, as
  /// metrics.json's resilience.unserved_blocks counts it (absent for request-based runs, and until
  /// the first session of a run whose header has no workload start).
  std::optional<sim::ModelCoverage> unserved;

  /// Hosts serving block `b` now (joined, up, loaded), in host order.
  std::vector<int> servers_of_block(int b) const;
  /// coverage[b][i]: server i serves block b now. n_blocks x n_servers.
  std::vector<std::vector<bool>> coverage(int n_blocks, int n_servers) const;
  /// Serving time of host `i` up to `time` (s).
  double up_seconds(int i) const;
  /// The runs of blocks without a serving server for the same time up to `time`, in block order
  /// (empty when none, or not counted).
  std::vector<sim::UnservedRange> unserved_ranges() const;
};

/// The coverage panel's line on blocks without a server up to the state's time: "no block without
/// a server since the workload started", "blocks 8-15 had no server for 4.200 s since the workload
/// started", or with several ranges "some block had no server for 4.700 s; blocks 8-15 the
/// longest, 4.200 s (2 ranges)". Empty when the state does not count it (SwarmState::unserved).
std::string unserved_text(const SwarmState& s);

/// Entries in a state (hosts, sessions in flight, traffic pairs, latency overrides, tree nodes and
/// changes): what a copy costs.
std::size_t state_entries(const SwarmState& s);

/// Applies one event to a state. Events must come in time order. `info` is the run's hosts.
void apply_event(SwarmState& state, const SwarmInfo& info, const SwarmEvent& e);
/// The state before any event: every host up, not joined, with its configured bandwidths.
SwarmState initial_state(const SwarmInfo& info);

/// A series binned over simulated time: values[k] covers [k*dt, (k+1)*dt).
struct TimeSeries {
  double dt = 1.0;
  std::vector<float> values;
};

/// A run's events with checkpoints; the source of every snapshot and series.
class Timeline {
 public:
  static constexpr std::size_t kCheckpointEvery = 256;

  Timeline() = default;
  explicit Timeline(SwarmInfo info);

  /// Appends one event; `e.t` must not be earlier than the last event's (live streaming).
  /// Returns false (and ignores it) when it is.
  bool append(const SwarmEvent& e);
  /// Replaces the events by `events`, stably sorted by time (spans before swarm events at equal times).
  void assign(std::vector<SwarmEvent> events);

  const SwarmInfo& info() const { return info_; }
  SwarmInfo& info() { return info_; }
  const std::vector<SwarmEvent>& events() const { return events_; }
  /// Time of the last event (0 when none).
  double end_time() const { return events_.empty() ? 0.0 : events_.back().t; }
  bool ended() const { return head_.ended; }
  /// The state after every event.
  const SwarmState& latest() const { return head_; }
  /// Checkpoints held (the first is the initial state).
  std::size_t checkpoints() const { return checkpoints_.size(); }

  /// The state after every event with t <= T, at time T. At most max(kCheckpointEvery, state
  /// size) events replayed.
  SwarmState state_at(double T) const;
  /// Number of events with t <= T.
  std::size_t count_until(double T) const;

  /// Tokens/s over [0, T] in `bins` equal bins (`tokens_per_step` per step).
  TimeSeries throughput(double T, int bins) const;
  /// Mean per-token (decode step) latency in each of `bins` bins over [0, T] (0 where none).
  /// Mean latency of the steps that ended in each bin: decode steps (per token) for a swarm, whole
  /// requests for a request-based run (SwarmInfo::request_based).
  TimeSeries token_latency(double T, int bins) const;
  /// Erasure-coded runs: the share of the requests answered in each of `bins` bins over [0, T]
  /// that decoded an output (0 where none was answered).
  TimeSeries decoded_share(double T, int bins) const;
  /// Fine-tuning with a loss proxy: the mean step loss of the steps trained in each of `bins` bins
  /// over [0, T] (0 where none).
  TimeSeries training_loss(double T, int bins) const;
  /// Whether any Loss event was seen.
  bool has_loss() const { return !losses_.empty(); }
  /// The most KV memory reserved on host `host` during each of `bins` bins over [0, T] (bytes):
  /// what it held at the bin's start, or more within it.
  TimeSeries kv_use(int host, double T, int bins) const;
  /// Whether any Kv event was seen (runs of a swarm of blocks written since they carry them).
  bool has_kv() const { return has_kv_; }
  /// Whether host `host` had any Kv event (a client has them under split learning only).
  bool has_kv(int host) const { return host >= 0 && static_cast<std::size_t>(host) < kv_.size() && !kv_[static_cast<std::size_t>(host)].empty(); }

  /// A transfer in flight at T: `progress` in [0, 1].
  struct ActiveTransfer {
    int from, to, session;
    double progress;
  };
  /// Transfers whose span contains T (at most `limit`).
  std::vector<ActiveTransfer> transfers_at(double T, std::size_t limit = 4096) const;

 private:
  void advance_head(const SwarmEvent& e);
  SwarmInfo info_;
  std::vector<SwarmEvent> events_;
  SwarmState head_;
  std::vector<std::pair<std::size_t, SwarmState>> checkpoints_;  ///< (events applied, state)
  std::vector<std::size_t> steps_;      ///< indices of Step events
  std::vector<std::size_t> losses_;     ///< indices of Loss events
  std::vector<std::vector<std::size_t>> kv_;  ///< per host: indices of its Kv events
  bool has_kv_ = false;
  std::vector<std::size_t> done_;       ///< indices of SessionDone events
  std::vector<std::size_t> transfers_;  ///< indices of Transfer events
  double longest_transfer_ = 0.0;
};

}  // namespace swarmsim::gui
