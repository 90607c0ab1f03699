#pragma once
// What a Fisher B-tree run records, and the report made from it: the tree, the requests' classes,
// hidden states and times, the balance periods. The engine (sim/engine/tree_simulation.cpp) only
// decides when things happen, as does its flow-engine twin (sim/flow/flow_tree.cpp). Pure: no SimGrid.
#include <cstdint>
#include <memory>
#include <vector>

#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"
#include "sim/tree/fisher_tree.hpp"

namespace swarmsim::sim {

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
  std::vector<BalancePeriod> periods;
  // The current period's answers, for the loss terms.
  int period_answered = 0, period_correct = 0;
  double period_log_p = 0;
  double bytes_moved = 0;
  std::uint64_t messages = 0;
  SimSignals& signals;
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
  int host_index(const std::string& name) const;
  /// Time the sending or receiving end spends on one message: the RPC cost and (de)serialization (s).
  double endpoint_s(double bytes) const { return sc.overheads.rpc_s + bytes / sc.overheads.serialization_Bps; }
  /// Seconds server node `server` takes to load a tree node's parameters.
  double load_s(int server) const;

  /// The client sends request r at t.
  void request_sent(int r, double t);
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
