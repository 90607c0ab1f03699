#pragma once
// What a Fisher B-tree run records, and the report made from it: the tree, the requests' classes,
// hidden states and times, the balance periods. The engine (sim/engine/tree_simulation.cpp) only
// decides when things happen, as does its flow-engine twin (sim/flow/flow_tree.cpp). Pure: no SimGrid.
#include <cstdint>
#include <memory>
#include <vector>

#include "sim/metrics/energy.hpp"
#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"
#include "sim/tree/fisher_tree.hpp"

namespace swarmsim::sim {

/// A tree node whose server failed, and the spare that took it over (docs/fisher-btree.md, "Failures").
struct TreeFailover {
  int node = 0;               ///< tree node id
  int from_server = -1;       ///< index into Scenario::nodes: the server that went down
  int to_server = -1;         ///< the spare that took the node over; -1 until one is ready
  double failed_at_s = 0;
  double detected_at_s = 0;   ///< heartbeats missed: its parent answers in its place, clients resend what it held
  double ready_at_s = -1;     ///< the spare loaded the node's parameters; -1 until then
  int requests_resent = 0;    ///< requests that were with the node, sent again at detection
};

/// A tree node that moved to a server that came back and runs it faster (policy.faults.failback).
struct TreeFailback {
  int node = 0;              ///< tree node id
  int from_server = -1;      ///< index into Scenario::nodes: where the node served
  int to_server = -1;        ///< the server that came back and loads the node
  double started_at_s = 0;   ///< the server came back and began loading
  double ready_at_s = -1;    ///< the node moved; -1 until then, or if the move was dropped
  bool dropped = false;      ///< overtaken while loading (a failure, or the node moved): no move
};

/// A Fisher B-tree run: the tree, the requests and the tallies.
struct TreeRun {
  const Scenario& sc;
  const FisherTreeSpec& spec;
  TreeTask task;
  std::vector<double> node_compute_s;  ///< per server node: one visit's compute on its device, roofline (s)
  std::vector<int> spares;             ///< server nodes without a tree node, fastest first (ties: lower index)
  std::unique_ptr<FisherTree> tree;
  int requests = 0;
  int answered = 0;
  std::vector<double> arrival, sent, done;  ///< per request (s); -1 until it happens
  std::vector<int> klass;                   ///< per request: its class (the key it is looked up by)
  std::vector<int> answer;                  ///< per request: the class answered, -1 until then
  std::vector<int> answer_depth;            ///< per request: depth of the node that answered
  std::vector<int> hops;                    ///< per request: nodes it visited
  std::vector<std::vector<double>> hidden;  ///< per request in flight: Σ of its looks so far (dim values)
  int early_exits = 0;                      ///< answers given by nodes with children (seed 000, §2.2 EarlyExit)
  int degraded = 0;                         ///< answers given by a node in place of its failed child
  // Failures: the servers' states, each request's attempt and where its last message went.
  std::vector<char> server_up;              ///< per server node
  std::vector<int> attempt;                 ///< per request: the client's current attempt (0 first)
  std::vector<int> last_from, last_to;      ///< per request: tree node ids of its last message's ends (-1: the client)
  std::vector<char> delivered;              ///< per request: its last message reached its inbox
  std::vector<TreeFailover> failovers;
  std::vector<TreeFailback> failbacks;
  int resent = 0;                           ///< requests sent again, over all failures
  std::vector<int> resending;               ///< per client: lost requests not sent again yet (its new requests wait for them)
  int resident_peak = 0;                    ///< most tree nodes holding their parameters at once (serving or loading)
  std::vector<BalancePeriod> periods;
  std::vector<double> scratch_h;            ///< visit's hidden state (mean of the looks), kept to spare an allocation per visit
  // The current period's answers, for the loss terms.
  int period_answered = 0, period_correct = 0;
  double period_log_p = 0;
  double bytes_moved = 0;
  std::uint64_t messages = 0;
  SimSignals& signals;
  EnergyMeter energy;  ///< the hosts' energy (metrics.json "energy"), fed by `signals`
  std::unique_ptr<ChromeTraceWriter> trace;  ///< trace.json, when the run writes outputs
  /// events.jsonl, when the run writes outputs: a "run_start" whose blocks are tree nodes, the
  /// swarm vocabulary (tree node i's visits as block i), and "tree" lines for every change.
  std::unique_ptr<EventLogWriter> log;

  /// Places the initial tree (root on the fastest server node, its leaves on the next), draws
  /// the arrivals and the requests' classes, and reports the tree to `signals`.
  TreeRun(const Scenario& sc, const RunOptions& options, SimSignals& signals);

  int clients() const { return static_cast<int>(sc.clients.size()); }
  int client_of(int r) const { return r % clients(); }
  int requests_of(int c) const { return (requests - c + clients() - 1) / clients(); }
  /// Host index of a node or client name (servers 0..S-1, then clients), or -1.
  int host_index(const std::string& name) const { return sim::host_index(sc, name); }
  /// Time the sending or receiving end spends on one message: the RPC cost and (de)serialization (s).
  double endpoint_s(double bytes) const { return sc.overheads.rpc_s + bytes / sc.overheads.serialization_Bps; }
  /// Seconds server node `server` takes to load a tree node's parameters.
  double load_s(int server) const;

  /// The client sends request r (its attempt attempt[r]) at t: a resent request starts over at
  /// the root with no looks.
  void request_sent(int r, double t);
  /// Request r's message from tree node `from` (-1: its client) to `to` (-1: its client) was
  /// posted; message_delivered when it reached the receiver's inbox.
  void message_posted(int r, int from, int to);
  void message_delivered(int r) { delivered[static_cast<std::size_t>(r)] = 1; }
  /// Whether a message of request r's attempt `a` is an older attempt's (dropped on arrival).
  bool stale(int r, int a) const { return a != attempt[static_cast<std::size_t>(r)]; }

  /// Server `server` went down at t: a split under way is cancelled, a spare is a spare no more,
  /// and a tree node serving there fails. Returns the index into `failovers`, or -1.
  int node_down(int server, double t);
  /// Server `server` came back at t, as a spare.
  void node_up(int server, double t);
  /// Failover f's failure is detected at t: the node's parent answers in its place from now on,
  /// and the unanswered requests that were with the node (their last message went to it, or left
  /// it and had not arrived) get a new attempt. Returns them per client, to send again.
  std::vector<std::vector<int>> failure_detected(int f, double t);
  /// The fastest spare that is up for failover f, taken from the spares; -1 when there is none.
  int take_replacement(int f);
  /// The spare `server` loaded failover f's node at t: if it is still up the node serves there
  /// and this returns true; otherwise false (the failover picks another).
  bool replaced(int f, int server, double t);
  /// The root failed and the clients know: they hold their requests until it is replaced.
  bool root_down() const;

  // Failback (policy.faults.failback): a server that comes back while every node serves and no
  // split loads takes over the serving node whose compute time per visit drops most on it; the
  // node serves on where it is while the server loads its parameters, then moves, and the server
  // it leaves turns spare. Requests already sent to it are served there; none is lost.

  /// Server `server` came back at t (after node_up): with failback on, reserves it for the node
  /// that gains most and returns the index into `failbacks`, or -1.
  int failback_start(int server, double t);
  /// Failback b finished loading at t: if its server is still up and the node still serves where
  /// it did, the node moves (true: the engine starts it there); otherwise the move is dropped and
  /// the server is a spare again (false).
  bool failback_switch(int b, double t);
  /// Tree node `id` (on its server) computed request r: adds the node's look to the request's
  /// hidden state and returns what the node decides (the engine tallies its busy time with
  /// FisherTree::add_busy once it has sent the result on).
  NodeDecision visit(int id, int r);
  /// Request r's answer reached its client at t.
  void request_done(int r, double t);
  /// The balance period ending at t: measurements, then splits and merges (FisherTree::balance).
  /// Returns whether a split started (the engine waits split_load_s() then calls commit_split).
  bool balance(double t);
  /// Seconds until the pending split's new nodes have all loaded.
  double split_load_s() const;
  /// The pending split's nodes serve from t; returns the nodes that start on a server: those it
  /// created, and the old root when it moved to a spare.
  std::vector<int> commit_split(double t);

  /// Reports the tree's shape as `what` happened at t.
  void report_tree(double t, const char* what, int node, const std::vector<int>& created = {});
};

/// metrics.json of a finished tree run (wall: the simulation's wall time), written under options.out_dir.
RunReport tree_report(TreeRun& run, double wall_s, const RunOptions& options);

}  // namespace swarmsim::sim
