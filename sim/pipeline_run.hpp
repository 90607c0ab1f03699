#pragma once
// What a graph model's pipeline run records, and the report made from it, for either engine: the
// engines (sim/engine/pipeline_simulation.cpp on SimGrid, sim/flow/flow_pipeline.cpp) only decide
// when things happen. Pure: no SimGrid.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/metrics/energy.hpp"
#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

/// Per-stage tallies of a run.
struct StageRun {
  double busy_s = 0;
  int requests = 0;
  double bytes_in = 0, bytes_out = 0;
  double max_queue_wait_s = 0;  ///< longest wait from a request's first input to its start (s)
};

/// A stage moved to a spare node after its node failed (docs/partitioning.md, "Failover").
struct StageFailover {
  int stage = 0;
  int from_node = -1;          ///< index into Scenario::nodes
  int to_node = -1;            ///< the node that took the stage over; -1 until one is ready
  double failed_at_s = 0;      ///< the node went down
  double detected_at_s = 0;    ///< the client declared it dead (heartbeats)
  double ready_at_s = -1;      ///< the stage's parameters were loaded on to_node; -1 until then
  double compute_s = 0;        ///< the stage's compute time per request on to_node (s)
  int requests_resent = 0;     ///< requests the client sent again once every stage was ready
};

/// A stage moved from its node to one that came back and prices it lower (policy.faults.failback,
/// docs/partitioning.md, "Failback"), or to a spare node where the pipeline's bottleneck is lower
/// on the links as they are now (policy.partitioner.migrate, "Migration under congestion").
struct StageFailback {
  int stage = 0;
  int from_node = -1;        ///< index into Scenario::nodes: where the stage served
  int to_node = -1;          ///< the node that came back and loads the stage
  double started_at_s = 0;   ///< the node came back and began loading
  double ready_at_s = -1;    ///< the stage moved; -1 until then, or if the move was dropped
  double compute_s = 0;      ///< the stage's compute time per request on to_node (s)
  int requests_resent = 0;   ///< requests the client sent again when the stage moved
  bool dropped = false;      ///< overtaken while loading (a node failed, or the stage moved): no move
  bool migration = false;    ///< a migration under congestion, not a failback
  /// Drain handover (policy.partitioner.handover "drain"): requests unanswered at the switch, which
  /// the old node finishes where they still need the stage; 0 for a resend handover.
  int requests_drained = 0;
  double drained_at_s = -1;  ///< the old node finished them and turned spare; -1 until then or if it failed first
  double drain_failed_at_s = -1;  ///< the old node failed before it finished them (they are sent again once detected)
  int messages_forwarded = 0;     ///< forward handover: inputs the old node sent on to the new one
  double bottleneck_before_s = 0;  ///< migration: the pipeline's bottleneck re-priced when it started (s)
  double bottleneck_after_s = 0;   ///< migration: the same with the stage on to_node (s)
};

/// A stage's old node after a drain or forward handover, until the requests sent before the switch are answered.
struct StageDrain {
  int node = -1;   ///< the old node; -1: the stage is not draining
  int life = -1;   ///< the life of the stage's process on it; -1 once it failed
  int epoch = 0;   ///< a request whose current attempt was sent at an earlier epoch goes to it
  int left = 0;    ///< those requests still unanswered
  int move = -1;   ///< index into PipelineRun::failbacks
  double detected_at_s = -1;  ///< the old node failed: when the client declares it dead
};

/// A message of the pipeline: which request, and which of the client's attempts at it.
struct StageMessage {
  int request = 0;
  int attempt = 0;
  double bytes = 0;  ///< its payload (graph pipelines: what a forwarding old node sends on)
};

/// What one stage's process has gathered of each request's inputs (of its latest attempt).
class StageInputs {
 public:
  StageInputs(int requests, int expected);
  /// Takes input `msg` arriving at t: true when it completes its request's inputs (the request
  /// can run), false while some are missing or for an older attempt's input (which is ignored).
  bool take(const StageMessage& msg, double t);
  /// When the first input of request r's latest attempt arrived (s).
  double first_input_s(int r) const { return first_[static_cast<std::size_t>(r)]; }
  /// The inputs of requests begun and not complete, one message each (a request's bytes split
  /// evenly over its inputs), which it then forgets: what a forwarding old node sends on.
  std::vector<StageMessage> take_incomplete();

 private:
  int expected_;
  std::vector<int> got_, seen_;
  std::vector<double> first_, bytes_;
};

/// The state of a pipeline run: the plan, the requests' times and the tallies.
struct PipelineRun {
  const Scenario& sc;
  PipelinePlan plan;
  double plan_wall_s = 0;     ///< wall time the partitioner and placement took
  int requests = 0;
  int answered = 0;           ///< requests done so far
  int outputs_expected = 0;   ///< stages that return graph outputs to the client
  std::vector<double> arrival, sent, done;  ///< per request (s); -1 until it happens
  std::vector<StageRun> stage;
  double bytes_moved = 0;
  std::uint64_t messages = 0;
  /// What the engines report as it happens, in the swarm's vocabulary, with stage s as block s
  /// and request r as session r: PipelinePlanned, then a NodeJoined per stage (pipeline_stage) at
  /// t = 0 and after each failover's load, NodeStateChanged for failures and returns; per request
  /// SessionStarted and a ChainFormed (its stages' nodes) when the client sends it (again on a
  /// resend, with the next attempt), a ComputeSpan (what "stage", step = attempt) per stage, a
  /// TransferSpan per message, and StepCompleted (step 0, latency since first sent) and
  /// SessionEnded when it is answered.
  SimSignals& signals;
  EnergyMeter energy;  ///< the hosts' energy (metrics.json "energy"), fed by `signals`
  std::unique_ptr<ChromeTraceWriter> trace;  ///< trace.json, when the run writes outputs
  /// events.jsonl, when the run writes outputs: a "run_start" whose blocks are the stages, the
  /// signals in the swarm's vocabulary (what the GUI replays), and the pipeline's own events.
  std::unique_ptr<EventLogWriter> log;

  // Failover: what the engines read and change when a stage's node goes down (node_down) or a
  // node comes back (node_up). The client detects a failure by missed heartbeats, moves the stage
  // to the spare node where it costs least (eq. 10), waits while it loads the stage's parameters, then
  // sends every unanswered request again (a new attempt; older attempts' messages are dropped).
  std::vector<int> stage_node;          ///< node each stage runs on now (starts as the plan's)
  std::vector<double> stage_compute_s;  ///< its compute time per request on that node (s)
  std::vector<char> stage_serving;      ///< its node is up and holds its parameters
  std::vector<int> stage_life;          ///< failures of the stage so far: a process of an older life is dead
  std::vector<char> node_up;            ///< per server node
  /// Server node `node` was switched off for the run by the plan (objective.unused_nodes "off"):
  /// it is down from the start, and its replayed node_down and node_up events change nothing.
  bool switched_off(int node) const {
    return !plan.switched_off.empty() && plan.switched_off[static_cast<std::size_t>(node)] != 0;
  }
  std::vector<int> node_taken;          ///< per server node: the stage it runs or is loading, -1 if spare
  std::vector<int> attempt;             ///< per request: the client's current attempt
  int stages_detected_down = 0;         ///< stages the client knows are down and not yet replaced
  int resent = 0;                       ///< requests sent again, over all failovers and failbacks
  std::vector<StageFailover> failovers;
  std::vector<StageFailback> failbacks;  ///< failbacks and migrations, in the order they started

  /// Node `node` went down at t: the stage on it (if any) stops serving and a failover record
  /// starts. Returns the record's index into `failovers`, or -1 when the node ran no stage.
  int node_down(int node, double t);
  /// Node `node` came back at t, without a stage (the stage it had moved or will move elsewhere).
  void node_back(int node, double t);
  /// The spare node (up, no stage, not loading one) where stage s costs least, as the placement
  /// prices it (eq. 10 on the node's own links, the client's tensors included; ties to the
  /// lower index); -1 when there is none.
  int replacement_for(int s) const;
  /// Seconds node `node` takes to load stage s's parameters (at its weights_load rate).
  double load_s(int s, int node) const;
  /// Stage s is ready on `node` at t: it serves from now on with that node's compute time.
  void stage_moved(int s, int node, double t, int failover);
  /// The requests sent and not answered, per client (index into Scenario::clients) in order; each
  /// gets a new attempt. Call when every stage serves again, before the senders resume.
  std::vector<std::vector<int>> take_requests_to_resend(int failover);

  // Failback (policy.faults.failback): a node that comes back while every stage serves takes over
  // the stage whose eq. 10 cost drops most on it. The stage keeps serving where it is while the
  // node loads its parameters; then it moves, its process on the old node ends (that node turns
  // spare), and the client sends every unanswered request again, as after a failover.

  /// Node `node` came back at t (after node_back): with failback on, every stage serving, and a
  /// stage that costs less on it than where it runs and is not already moving, the stage that
  /// gains most (ties to the lower stage) starts loading there and the node is reserved for it.
  /// Returns the index into `failbacks`, or -1.
  int failback_start(int node, double t);
  /// Failback b finished loading at t. If its node is still up and reserved for it, and the stage
  /// still serves on the node it leaves, the stage moves there (its life moves on) and this
  /// returns true; otherwise the move is dropped, the node released, and this returns false.
  bool failback_switch(int b, double t);
  /// take_requests_to_resend for failback b, once it moved the stage.
  std::vector<std::vector<int>> take_requests_to_resend_after_failback(int b);

  // Handover (policy.partitioner.handover): with "drain", failback_switch keeps the old node
  // serving the requests sent before the switch (drain[s]); messages of those requests go there,
  // later ones to the new node, and once the last of them is answered (or sent again) the old
  // node turns spare and `drain_over` tells the engine to end its process. Nothing is sent again
  // unless the old node fails first: then, once the client detects it, the requests it still
  // held up are. With "forward" every message goes to the new node from the switch on; the old
  // node finishes the request it is computing and sends every input it holds or still receives
  // on to the new node (the engine wakes it with a message of request -1 to send its partly
  // gathered inputs on); it is released, or its failure handled, as with "drain".

  std::vector<int> sent_epoch;     ///< per request: `epoch` when its current attempt was sent
  int epoch = 0;                   ///< drain handovers so far
  std::vector<StageDrain> drain;   ///< per stage
  /// Called when stage s's drain ends: `life` is its old process's life, -1 when that process is
  /// already gone (its node failed). Set by the engine.
  std::function<void(int s, int life)> drain_over;
  /// Whether a message of stage s goes to its draining old node (an attempt sent before the switch).
  bool to_old_node(int s, const StageMessage& msg) const;
  /// Whether a process of stage s with life `life` still runs (the serving one or the draining one).
  bool stage_alive(int s, int life) const;
  /// Whether the process of stage s with life `life` is its old node's after a forward handover:
  /// it sends every input it takes on to the stage's node instead of computing it.
  bool forwards(int s, int life) const;
  /// The old node of stage s forwarded one message.
  void forwarded(int s) { ++failbacks[static_cast<std::size_t>(drain[static_cast<std::size_t>(s)].move)].messages_forwarded; }
  /// Node `node` went down at t (call after node_down): if it was draining a stage, its process is
  /// gone and the client will send the requests it held up again at drain[s].detected_at_s.
  /// Returns that stage, or -1.
  int drain_failed(int node, double t);
  /// At drain[s].detected_at_s, after drain_failed: the requests sent before the switch and still
  /// unanswered, each with a new attempt (per client), and the drain ends. Empty if it ended meanwhile.
  /// `move` is drain[s].move when the node failed.
  std::vector<std::vector<int>> take_requests_to_resend_after_lost_drain(int s, int move, double t);

  // Migration under congestion (policy.partitioner.migrate, seed 003's dynamic repartitioning):
  // every period the client re-prices each stage on each node with eq. 10 on the nodes' access
  // links as they are now; when moving the bottleneck stage to a spare node lowers the pipeline's
  // bottleneck by at least min_gain, the stage moves as in a failback (it serves on while the node
  // loads its parameters, then unanswered requests are sent again). The engines play it with
  // the failback's process: a migration is a record of `failbacks` with `migration` set.

  /// Node links as replayed so far (bytes/s), per server node: what migrations re-price with.
  std::vector<double> node_uplink_Bps, node_downlink_Bps;
  /// A replayed event at its time: a bandwidth change of a server node's link is recorded.
  void link_changed(const ReplayEvent& e);
  /// The periodic check at t: when every stage serves, no move is loading, and a spare node
  /// would lower the re-priced bottleneck by min_gain (ties to the lower node), reserves the node
  /// and starts a migration. Returns its index into `failbacks`, or -1.
  int migration_start(double t);

  /// Plans the pipeline of `sc` (sc.graph must be set), draws the arrivals, and reports to `signals`.
  PipelineRun(const Scenario& sc, const RunOptions& options, SimSignals& signals);

  /// The client sends request r (attempt attempt[r]): records the first sending and reports it
  /// (SessionStarted the first time, ChainFormed each time).
  void request_sent(int r, double t);
  /// Request r is answered at t.
  void request_done(int r, double t);

  /// Host index of a node or client name (servers 0..S-1, then clients), or -1.
  int host_index(const std::string& name) const { return sim::host_index(sc, name); }
  /// Clients that send requests: request r comes from client r mod clients(), as sessions do.
  int clients() const { return static_cast<int>(sc.clients.size()); }
  /// The client (index into Scenario::clients) that sends request r.
  int client_of(int r) const { return r % clients(); }
  /// Requests client c sends: r = c, c + clients(), ...
  int requests_of(int c) const { return (requests - c + clients() - 1) / clients(); }
  /// Time the sending or receiving end spends on one message: the RPC cost and (de)serialization (s).
  double endpoint_s(double bytes) const { return sc.overheads.rpc_s + bytes / sc.overheads.serialization_Bps; }
  /// Bytes one request brings to stage s: from the client and from earlier stages.
  double in_bytes_per_request(int s) const;
  /// Whether the client sends stage s an input (a graph input, or a source stage with none).
  bool has_source(int s) const;
  /// Whether stage s returns something to the client (graph outputs, or it is a sink).
  bool returns_to_client(int s) const;
  /// Records an event of the events log at time t.
  void event(double t, const char* type, int stage_index, int request);
  /// Records a failover event: the stage and the node it concerns.
  void node_event(double t, const char* type, int stage_index, int node);

 private:
  /// Stage s serves on `node` from t, loaded since `loading_since`: its compute time there (s).
  double move_stage(int s, int node, double t, double loading_since);
  /// Whether a node other than stage s's own is loading s (a failback or a migration under way).
  bool being_moved(int s) const;
  /// Reserves `node` for stage s and records a move (a failback, or a migration) starting at t.
  StageFailback& start_move(int s, int node, double t, bool migration);
  /// Gives every request sent and not answered (and, for a stage's lost drain, sent before its
  /// switch) a new attempt; returns them per client, and how many.
  std::vector<std::vector<int>> resend_unanswered(int& count, int drained_stage = -1);
  /// Request r, sent and unanswered, is answered or sent again at t: drains waiting for it count it.
  void request_leaves_drains(int r, double t);
  /// Stage s's drain ends at t: its old node turns spare.
  void end_drain(int s, double t);
  partition::PlacementCosts priced_now_;  ///< stage_costs_with_links on the links as replayed so far
  bool links_changed_ = false;            ///< a link changed since priced_now_ was priced
};

/// metrics.json of a finished run (wall: the simulation's wall time), written under options.out_dir.
RunReport pipeline_report(PipelineRun& run, double wall_s, const RunOptions& options);

}  // namespace swarmsim::sim
