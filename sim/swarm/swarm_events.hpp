#pragma once
// What the simulator reports as it runs: payloads of its observer signals. Times are simulated
// seconds. Hosts are indices: servers 0..S-1 in scenario order, then clients S..S+C-1.
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario/scenario.hpp"
#include "sim/signal.hpp"
#include "sim/swarm/block_range.hpp"

namespace swarmsim::sim {

/// A server finished loading its blocks and serves them from `t`.
struct NodeJoined {
  double t = 0.0;
  int node = 0;
  BlockRange blocks;
  double load_started = 0.0;  ///< when it began loading weights
  bool pipeline_stage = false;  ///< a graph pipeline's stage: `blocks` is {stage, stage + 1}
};

/// A server went down or came back up.
struct NodeStateChanged {
  double t = 0.0;
  int node = 0;
  bool up = true;
};

/// A replayed network change took effect.
struct LinkChanged {
  double t = 0.0;
  int node = 0;
  int peer = -1;  ///< -1: the node's own access link(s)
  EventAction action = EventAction::SetBandwidth;
  LinkDirection direction = LinkDirection::Both;
  double value = 0.0;  ///< bytes/s or seconds
};

/// A session arrived at its client.
struct SessionStarted {
  double t = 0.0;
  int session = 0;
  int client = 0;  ///< host index of the client
};

/// A chain was chosen for a session. `servers[i]` runs `ranges[i]`.
struct ChainFormed {
  double t = 0.0;
  int session = 0;
  int attempt = 0;
  std::vector<int> servers;
  std::vector<BlockRange> ranges;
  double cost = 0.0;  ///< the router's objective value
};

/// Work of blocks (or the client's embedding/head) on one host.
struct ComputeSpan {
  double start = 0.0, end = 0.0;
  int host = 0;
  int session = 0;
  int step = 0;          ///< 0 = prefill, then decode steps 1..
  BlockRange blocks;     ///< empty for client work; {stage, stage + 1} for a pipeline stage
  const char* what = ""; ///< "blocks", "embed", "head", "client_blocks", "check" (a spot check's recomputation), "stage" (a graph pipeline's stage, session = request, step = attempt), or a training step's "forward", "backward" and "loss" (fine-tuning)
  double device_seconds = 0.0;  ///< time the work takes alone on the device (priced)
  /// A spot check's work (policy.verification): off the session's critical path.
  bool check() const { return what[0] == 'c' && std::string_view(what) == "check"; }
};

/// One message of hidden states from one host to another (a "hop"), serialization included.
struct TransferSpan {
  double start = 0.0, end = 0.0;
  int from = 0, to = 0;
  int session = 0;
  int step = 0;
  double bytes = 0.0;  ///< bytes on the wire (payload + header)
  double latency_s = 0.0;   ///< network latency the message waited, the network model's factor included (s)
  double software_s = 0.0;  ///< RPC overhead, (de)serialization, checksums and extra round trips it waited (s)
  bool check = false;       ///< a spot check's message (policy.verification): off the session's critical path
};

/// A token step finished at the client: prefill (step 0) produced the first token, decode step k the k+1-th.
struct StepCompleted {
  double t = 0.0;
  int session = 0;
  int step = 0;
  double latency = 0.0;  ///< since the previous token (decode) or since arrival (prefill: TTFT)
  bool corrupted = false; ///< a dishonest server on the chain returned a wrong output for this step
};

/// A session ended: all tokens generated, or failed with a reason.
struct SessionEnded {
  double t = 0.0;
  int session = 0;
  bool completed = false;
  std::string reason;   ///< empty when completed
  int tokens = 0;       ///< tokens generated (batch x steps completed)
  int decoded = 0;      ///< erasure-coded runs: the request's task outputs the client decoded
  bool abandoned = false;  ///< not completed because its user left (workload.abandon_share), not because the swarm failed it
  bool client_lost = false;  ///< not completed because its client host went down (a node_down naming it), not because the swarm failed it
};

/// A hidden-state transfer attempt failed and is retried (or given up on).
struct TransferRetried {
  double t = 0.0;
  int from = 0, to = 0;
  int session = 0;
  int step = 0;
  int attempt = 0;          ///< the attempt that failed, 1-based
  std::string reason;       ///< "timeout" (the receiver did not answer) or "checksum" (corrupted on the way)
  bool given_up = false;    ///< no attempt left: the receiver is treated as failed
};

/// A session lost a server mid-generation and continues on a replacement span of servers: the
/// client replayed its cached inputs so the new servers rebuilt their KV caches.
struct SessionRecovered {
  double t = 0.0;
  int session = 0;
  int step = 0;                 ///< the step being generated when the server failed
  int failed_server = 0;
  BlockRange span;              ///< blocks the failed server ran for the session
  std::vector<int> servers;     ///< the replacement hops
  std::vector<BlockRange> ranges;
  int replayed_tokens = 0;      ///< tokens whose inputs were replayed (prefill paid again)
  double detected_after = 0.0;  ///< seconds from the failure to the client giving up on the server
};

/// A server moved its block range (rebalancing, seed 002 eq. 3): it stops serving `from`,
/// loads `to`, and serves it again from `t + load time`.
struct BlocksMoved {
  double t = 0.0;
  int node = 0;
  BlockRange from, to;
  double min_throughput_before = 0.0;  ///< the swarm's weakest block throughput before (tokens/s)
  double min_throughput_after = 0.0;   ///< and expected after the move
};

/// A graph model's pipeline was planned (before its run starts): its stages play the part of
/// a swarm's blocks, stage s being block s.
struct PipelinePlanned {
  int stages = 0;
  std::string model;  ///< the graph's name
};

/// One node of a Fisher B-tree as a TreeChanged snapshot shows it.
struct TreeNodeView {
  int id = 0;
  int parent = -1;          ///< node id, -1 for the root
  int lo = 0, hi = 0;       ///< its keys (classes) [lo, hi)
  int server = -1;          ///< host index of its server
  const char* state = "";   ///< "loading" (a split's new node) or "serving"
  double fisher = 0;        ///< I_i = tr(F_i) of the last balance period
  double load = 0;          ///< L_i: its server's busy fraction over the last balance period
};

/// A Fisher B-tree (model.tree, seed 000) changed shape or was measured. `nodes` lists every node
/// loading or serving, parents before children, children in key order.
struct TreeChanged {
  double t = 0.0;
  /// "planned" (t = 0), "split_started" (a split's new nodes start loading), "split" (they serve
  /// and the tree changed), "merge" (sibling leaves merged), "balance" (a period's measurements).
  std::string what;
  int node = -1;            ///< the node that split, or the merge's kept node; -1 otherwise
  std::vector<int> created; ///< split: the new nodes
  std::vector<TreeNodeView> nodes;
};

/// A client's spot check of one hop ended (policy.verification, seed 002 section 6).
struct SpotChecked {
  double t = 0.0;
  int session = 0;
  int step = 0;
  int server = 0;           ///< the server whose hop was checked
  int verifier = -1;        ///< the server that recomputed it (-1: none could)
  int tie_breaker = -1;     ///< the third one, when the first two disagreed (-1: none)
  const char* verdict = ""; ///< "agreed", "server_wrong", "verifier_wrong", "inconclusive" (no two of three agree), "no_tie_breaker" (they differ and no third server serves the blocks), "unverifiable" (no verifier) or "abandoned" (a message or server failed)
  bool server_was_wrong = false;  ///< the truth: the checked hop's output was wrong
};

/// A server was banned from the swarm: a check's majority found its output wrong.
struct ServerBanned {
  double t = 0.0;
  int node = 0;
  int session = 0;  ///< the session whose check found it
  int step = 0;
  bool honest = false;  ///< it was not dishonest: a cartel outvoted it
};

/// A fine-tuning session's adapters on one server of its chain were saved to the client
/// (workload.fine_tuning.checkpoint_every), or restored into a replacement server.
struct AdaptersMoved {
  double t = 0.0;
  int session = 0;
  int step = 0;             ///< the last training step the adapters include
  int server = 0;
  BlockRange blocks;
  double bytes = 0.0;       ///< payload (0: a replacement with no checkpoint starts from the seed)
  bool restored = false;    ///< false: saved to the client; true: restored into a replacement
  int updates_lost = 0;     ///< restored: the training steps since the checkpoint (or the job's last averaging), which the blocks' adapters lose
  bool from_peer = false;   ///< restored: copied from a peer replica of the session's data-parallel job, not the client's checkpoint
  int peer = -1;            ///< from_peer: the session whose servers gave them
};

/// A training step's backward pass ended: every server of the session's chain has updated its
/// adapters (seed 002, eq. 7).
struct AdaptersUpdated {
  double t = 0.0;
  int session = 0;
  int step = 0;
};

/// A session of a data-parallel fine-tuning job took part in an averaging of the job's adapters
/// (workload.fine_tuning.replicas, sync_every).
struct AdaptersSynced {
  double t = 0.0;       ///< when the averaging ended for this session
  int session = 0;
  int step = 0;         ///< the last training step it includes
  double bytes = 0.0;   ///< payload its servers sent to the other sessions' servers
  double seconds = 0.0; ///< from the session's arrival at the meeting to the averaging's end (waiting for the slowest replica included)
  int job = 0;          ///< the data-parallel job
  int with = 1;         ///< sessions averaged together at this meeting, this one included
};

/// The fine-tuning loss proxy (workload.fine_tuning.loss) trained on a session's step: the loss
/// before the update, KL(teacher || proxy) in nats per position on the step's batch.
struct TrainingLossMeasured {
  double t = 0.0;
  int session = 0;
  int step = 0;
  double loss = 0.0;
};

/// The KV memory reserved on a server changed: a session's chain reserved its caches, a session
/// released them, or the server lost them all (it went down or moved its blocks). Under split
/// learning also a client's: the KV caches (or training state) of its own blocks for the sessions
/// it admitted, and the sessions waiting for its memory.
struct KvChanged {
  double t = 0.0;
  int node = 0;        ///< host index (servers, then clients)
  double bytes = 0.0;  ///< KV memory reserved on the node after the change
  int waiting = -1;    ///< a client's sessions waiting for its memory; -1 for a server
};

/// The simulator's observer signals. Subscribers connect before the run.
struct SimSignals {
  Signal<PipelinePlanned> on_pipeline_planned;
  Signal<NodeJoined> on_node_joined;
  Signal<NodeStateChanged> on_node_state;
  Signal<LinkChanged> on_link_changed;
  Signal<SessionStarted> on_session_started;
  Signal<ChainFormed> on_chain_formed;
  Signal<ComputeSpan> on_compute;
  Signal<TransferSpan> on_transfer;
  Signal<StepCompleted> on_step;
  Signal<SessionEnded> on_session_ended;
  Signal<TransferRetried> on_transfer_retried;
  Signal<SessionRecovered> on_session_recovered;
  Signal<BlocksMoved> on_blocks_moved;
  Signal<TreeChanged> on_tree_changed;
  Signal<SpotChecked> on_spot_checked;
  Signal<ServerBanned> on_server_banned;
  Signal<AdaptersMoved> on_adapters_moved;
  Signal<AdaptersUpdated> on_adapters_updated;
  Signal<TrainingLossMeasured> on_training_loss;
  Signal<AdaptersSynced> on_adapters_synced;
  Signal<KvChanged> on_kv_changed;
};

}  // namespace swarmsim::sim
