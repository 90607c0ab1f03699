#pragma once
// What an erasure-coded inference run records (seed 001, model.coded), and the report made from
// it: the N task models and the N_c coded ones, each on its server ("members"), the requests and
// which members' outputs reached their client. A request completes once its client holds any N of
// the N + N_c outputs, from which it decodes the missing task outputs. The engine
// (sim/engine/coded_simulation.cpp) only decides when things happen. Pure: no SimGrid.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "sim/coded/coin.hpp"
#include "sim/metrics/energy.hpp"
#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/run_options.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

/// Where request r stands with member m.
enum class MemberState : std::uint8_t {
  Unsent,   ///< not sent yet
  Pending,  ///< sent: in flight, queued, computing, or its output on its way back
  Arrived,  ///< its output reached the client
  Lost,     ///< the member's server was down (or came back and was loading): sent again once it serves
  Cancelled,  ///< the request completed and the client's cancel reached the member: it drops the request unstarted
};

/// One server's part: task model i (member i < N) or coded model k (member N + k).
struct CodedMember {
  int server = -1;          ///< index into Scenario::nodes
  double compute_s = 0;     ///< one forward pass on its device, roofline (s)
  bool up = true;           ///< its server is up (it may still be loading its parameters)
  bool serving = true;      ///< up and holding its parameters
  double ready_at_s = 0;    ///< when it last started serving (s)
  int visits = 0;           ///< requests it computed
  int straggles = 0;        ///< of which straggled
  double busy_s = 0;        ///< time spent on requests (deserialization and compute) (s)
  int failures = 0;         ///< times its server went down
  int dropped = 0;          ///< requests it dropped unstarted because their cancel had arrived
};

/// A member whose server failed, and where it served again: a spare it moved to once the
/// failure was detected, or its own server back (docs/coded-inference.md, "Failures").
struct CodedFailover {
  int member = 0;
  int from_server = -1;       ///< index into Scenario::nodes: the server that went down
  int to_server = -1;         ///< where the member served again (a spare, or the same server); -1 until then
  double failed_at_s = 0;
  double detected_at_s = 0;   ///< heartbeats missed: a spare, if any is up, loads the member's model
  double ready_at_s = -1;     ///< the member served again; -1 until then
  int requests_resent = 0;    ///< unfinished requests whose inputs it had lost, sent to it again
};

/// An erasure-coded inference run: the ensemble, the members, the requests and the tallies.
struct CodedRun {
  const Scenario& sc;
  const CodedSpec& spec;
  CodedEnsemble ensemble;
  CodedAccuracy offline;             ///< the ensemble's accuracies on the tasks' test inputs (with a coded model)
  std::vector<CodedMember> members;  ///< N task models, then the N_c coded models
  std::vector<double> server_compute_s;  ///< per server node: one forward pass on its device, roofline (s)
  std::vector<char> server_up;           ///< per server node
  std::vector<int> server_downs;         ///< per server node: times it went down (a load started before the last is void)
  std::vector<int> spares;               ///< server nodes that are up and hold no member, fastest first (ties: lower index)
  std::vector<CodedFailover> failovers;
  int requests = 0;
  int completed = 0;
  std::vector<double> arrival, sent, done;  ///< per request (s); -1 until it happens
  std::vector<int> task;                    ///< per request: the task its input comes from (the output with ground truth)
  std::vector<MemberState> state;           ///< per request × member: requests · members.size()
  std::vector<std::int8_t> decoded_outputs;  ///< per request: task outputs it decoded (0: every one arrived)
  std::vector<std::int8_t> task_decoded;     ///< per request: its task's output was one of them
  std::vector<std::int8_t> correct;         ///< per request: its task's output (arrived or decoded) was right
  std::vector<std::int8_t> exact_correct;   ///< per request: its task model's own output was right
  int decoded = 0;                          ///< requests completed by decoding
  int outputs_decoded = 0;                  ///< task outputs decoded, over every request
  int decoded_correct = 0;                  ///< of which the decoded output of the request's task was right
  int resent = 0;                           ///< member messages sent again after a failure
  int cancels = 0;                          ///< cancel messages sent (model.coded.cancel)
  double bytes_moved = 0;
  std::uint64_t messages = 0;
  SimSignals& signals;
  EnergyMeter energy;  ///< the hosts' energy (metrics.json "energy"), fed by `signals`
  std::unique_ptr<ChromeTraceWriter> trace;  ///< trace.json, when the run writes outputs
  /// events.jsonl, when the run writes outputs: a "run_start" whose blocks are the members.
  std::unique_ptr<EventLogWriter> log;
  std::vector<double> scratch;               ///< an input, the N outputs, the N_c coded ones and N decoded ones, reused per request
  std::vector<const double*> scratch_outputs;  ///< the N outputs for decode_outputs (nullptr: missing), reused per request
  std::vector<const double*> scratch_coded;    ///< the N_c coded outputs (nullptr: not arrived)
  std::vector<double*> scratch_decoded;        ///< where each decoded output goes

  /// Trains the ensemble, places member m on server node m (scenario order), draws the arrivals
  /// and each request's task and input class, and reports the members to `signals`.
  CodedRun(const Scenario& sc, const RunOptions& options, SimSignals& signals);

  int n_models() const { return spec.models; }
  int n_members() const { return static_cast<int>(members.size()); }
  int clients() const { return static_cast<int>(sc.clients.size()); }
  int client_of(int r) const { return r % clients(); }
  MemberState& at(int r, int m) { return state[static_cast<std::size_t>(r) * members.size() + static_cast<std::size_t>(m)]; }
  MemberState at(int r, int m) const { return state[static_cast<std::size_t>(r) * members.size() + static_cast<std::size_t>(m)]; }
  /// Time the sending or receiving end spends on one message: the RPC cost and (de)serialization (s).
  double endpoint_s(double bytes) const { return sc.overheads.rpc_s + bytes / sc.overheads.serialization_Bps; }
  /// Seconds member m's server takes to load its model's parameters.
  double load_s(int m) const;
  /// Seconds server node `server` takes to load a model's parameters.
  double server_load_s(int server) const;
  /// Member m's compute time for request r: its forward pass, `straggle_slowdown` times longer
  /// when the computation straggles (chance straggle_probability, fixed by the seed, r and m) (s).
  double compute_s(int m, int r) const;
  bool straggles(int m, int r) const;

  /// The client sends request r at t: its input goes to every member; a member that is not
  /// serving loses it (Lost) until it serves again.
  void request_sent(int r, double t);
  /// Request r's message to member m was posted.
  void message_posted(int r, int m, double bytes);
  /// Member m computed request r in `busy_s`.
  void computed(int m, int r, double busy_s);
  /// What an output's arrival does to its request.
  enum class Arrival {
    Nothing,      ///< the request waits for more outputs (or had completed already)
    Completed,    ///< the request completed: all N outputs, or N of the N + N_c (the missing ones decoded)
    DecodeLater,  ///< N outputs are here, some coded: the client waits decode_wait for the missing ones, then decodes
  };
  /// Member m's output for request r reached the client at t.
  Arrival output_arrived(int r, int m, double t);
  /// Request r's decode wait ran out at t: decodes the missing outputs if the request is still
  /// unfinished; returns true when it completed.
  bool decode_deadline(int r, double t);
  /// Server node `server` went down at t. Its member, if it has one that is up (serving or
  /// loading), loses what was pending with it and a failover is recorded: returns its index (-1
  /// otherwise). A spare is a spare no more.
  int server_down(int server, double t);
  /// Server node `server` came back at t. If a member still belongs to it, the member reloads its
  /// model there: returns the member (the engine waits load_s then calls member_ready_on). Else
  /// the server turns spare: returns -1.
  int server_back(int server, double t);
  /// Failover f's failure was detected: the fastest spare that is up, taken for its member (the
  /// engine waits its load time then calls member_ready_on); -1 when there is none, and the
  /// member waits for its own server.
  int take_spare(int f);
  /// Member m's model has loaded on `server` at t (its own server back, or a spare). If the member
  /// does not serve yet and `server` is up, it serves there from now (a spare becomes its server;
  /// the server it left turns spare once up) and this returns the unfinished requests it lost, per
  /// client, to send again (they turn Pending). Otherwise another recovery won, or `server` went
  /// down meanwhile: nullopt, and an up `server` that is not the member's goes back to the spares.
  std::optional<std::vector<std::vector<int>>> member_ready_on(int m, int server, double t);
  /// With model.coded.cancel: the members still holding request r, which just completed (its
  /// client sends each a cancel, counted here).
  std::vector<int> cancel_targets(int r);
  /// Request r's cancel reached member k: if the member still holds it, it drops it unstarted.
  void cancel_arrived(int r, int k);
  /// Whether member k drops request r, taken from its inbox: its cancel arrived first (counted).
  bool drops(int k, int r);
  /// Member of server node `server`, or -1.
  int member_of(int server) const;

 private:
  /// Request r completes at t with what its client holds: the task outputs that arrived, the others
  /// decoded from them and the coded outputs that arrived.
  void complete(int r, double t);
};

/// metrics.json of a finished coded run (wall: the simulation's wall time), written under options.out_dir.
RunReport coded_report(CodedRun& run, double wall_s, const RunOptions& options);

}  // namespace swarmsim::sim
