#include "sim/engine/pipeline_simulation.hpp"

#include <cmath>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <simgrid/Exception.hpp>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/engine/inbox.hpp"
#include "sim/engine/swarm_platform.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/pipeline_run.hpp"
#include "sim/swarm/latency_table.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {
namespace {

/// The pipeline's actors: one per stage, each client's sender and receiver, the carriers of each
/// inbox (as many as its messages in flight at once), and one per failover.
struct PipelineActors {
  PipelineRun& m;
  const Scenario& sc;
  SwarmPlatform& platform;
  LatencyTable& latencies;  ///< the platform's, changed by replayed set_latency events
  std::vector<std::shared_ptr<Inbox>> inbox;  ///< one per stage, then one per client
  std::vector<sg4::SemaphorePtr> window;      ///< per client: its max_in_flight window
  Gate replaced;  ///< the clients' senders wait here while a failed stage is being replaced
  Gate spare_up;  ///< failovers without a spare node wait here for a node to come back
  std::vector<sg4::ActorPtr> stage_actors;  ///< each stage's actor on its current node
  std::vector<std::shared_ptr<Inbox>> drain_inbox;  ///< per stage: its old node's inbox while it drains
  std::vector<sg4::ActorPtr> drain_actors;          ///< per stage: its actor on the old node while it drains
  InboxPost post;

  PipelineActors(PipelineRun& run, const Scenario& scenario, SwarmPlatform& p, LatencyTable& l)
      : m(run), sc(scenario), platform(p), latencies(l), post(scenario, p, l, run.signals) {
    inbox.resize(static_cast<std::size_t>(stages() + m.clients()));
    for (int b = 0; b < stages() + m.clients(); ++b) open_inbox(b);
    for (int c = 0; c < m.clients(); ++c) window.push_back(sg4::Semaphore::create(static_cast<unsigned>(sc.workload.max_in_flight)));
    stage_actors.resize(static_cast<std::size_t>(stages()));
    drain_inbox.resize(static_cast<std::size_t>(stages()));
    drain_actors.resize(static_cast<std::size_t>(stages()));
    m.drain_over = [this](int s, int life) { end_drain(s, life); };
  }

  static double now() { return sg4::Engine::get_clock(); }
  int stages() const { return static_cast<int>(m.plan.stages.size()); }
  int client_host(int c) const { return static_cast<int>(sc.nodes.size()) + c; }

  /// Opens a new, empty inbox for box `box` (its carriers are created as messages come).
  void open_inbox(int box) { inbox[static_cast<std::size_t>(box)] = std::make_shared<Inbox>(); }

  /// Serializes at the sending end, then posts the message to stage `to_stage` (-1: the request's
  /// client). A message to a stage that is not serving is refused and lost.
  void send(int from, int to_stage, StageMessage msg, double bytes) {
    const double wire = bytes + sc.overheads.header_bytes, sent_at = now();
    sg4::this_actor::sleep_for(m.endpoint_s(bytes));  // serialization at the sending end
    const bool to_old = to_stage >= 0 && m.to_old_node(to_stage, msg);
    if (to_stage >= 0 && !to_old && !m.stage_serving[static_cast<std::size_t>(to_stage)]) return;
    msg.bytes = bytes;
    const auto size = static_cast<std::uint64_t>(std::ceil(wire));
    if (to_stage < 0) {
      const int c = m.client_of(msg.request);
      post.carry(from, client_host(c), inbox[static_cast<std::size_t>(stages() + c)], msg, size, sent_at, m.endpoint_s(bytes));
    } else if (to_old) {  // a request sent before a drain handover: to the stage's old node
      const auto s = static_cast<std::size_t>(to_stage);
      post.carry(from, m.drain[s].node, drain_inbox[s], msg, size, sent_at, m.endpoint_s(bytes));
    } else {
      const auto s = static_cast<std::size_t>(to_stage);
      post.carry(from, m.stage_node[s], inbox[s], msg, size, sent_at, m.endpoint_s(bytes));
    }
    m.bytes_moved += wire;
    ++m.messages;
  }

  static StageMessage receive(Inbox& in) { return InboxPost::receive(in); }

  /// Stage s on its current node; SimGrid kills it when the node goes down, and the engine when the
  /// stage moves (once the requests sent before the switch are answered, with a drain or forward
  /// handover).
  void stage_actor(int s) {
    const PipelineStage& st = m.plan.stages[static_cast<std::size_t>(s)];
    const int node = m.stage_node[static_cast<std::size_t>(s)];
    const double compute_s = m.stage_compute_s[static_cast<std::size_t>(s)];
    const std::shared_ptr<Inbox> in = inbox[static_cast<std::size_t>(s)];
    const int life = m.stage_life[static_cast<std::size_t>(s)];
    StageInputs inputs(m.requests, st.inputs_expected);
    const double in_bytes = m.in_bytes_per_request(s);
    StageRun& tally = m.stage[static_cast<std::size_t>(s)];
    while (true) {
      const StageMessage msg = receive(*in);
      if (m.forwards(s, life)) {  // a forward handover: send what reaches the old node on to the new one
        if (msg.request >= 0) {
          m.forwarded(s);  // counted before the send, during which the drain may end
          send(node, s, msg, msg.bytes);
          continue;
        }
        for (const StageMessage& held : inputs.take_incomplete()) {  // the inputs of requests it had begun to gather
          m.forwarded(s);
          send(node, s, held, held.bytes);
        }
        continue;
      }
      if (msg.request < 0 || !inputs.take(msg, now())) continue;
      const double start = now();
      tally.max_queue_wait_s = std::max(tally.max_queue_wait_s, start - inputs.first_input_s(msg.request));
      m.event(now(), "stage_start", s, msg.request);
      // Deserialize every input, run the stage's ops, then serialize and post each output.
      sg4::this_actor::sleep_for(st.inputs_expected * sc.overheads.rpc_s + in_bytes / sc.overheads.serialization_Bps);
      const double computing = now();
      sg4::this_actor::sleep_for(compute_s);
      m.signals.on_compute(ComputeSpan{computing, now(), node, msg.request, msg.attempt, BlockRange{s, s + 1}, "stage", compute_s});
      for (const auto& [to, bytes] : st.sends) {
        send(node, to, msg, bytes);
        tally.bytes_out += bytes;
      }
      if (m.returns_to_client(s)) {
        send(node, -1, msg, st.output_bytes_to_client);
        tally.bytes_out += st.output_bytes_to_client;
      }
      tally.bytes_in += in_bytes;
      tally.busy_s += now() - start;
      ++tally.requests;
      m.event(now(), "stage_end", s, msg.request);
    }
  }

  void start_stage(int s) {
    stage_actors[static_cast<std::size_t>(s)] =
        sg4::Actor::create("stage-" + std::to_string(s), platform.host(m.stage_node[static_cast<std::size_t>(s)]), [this, s] { stage_actor(s); });
    stage_actors[static_cast<std::size_t>(s)]->daemonize();
  }

  /// The inputs of request r (its current attempt) from its client to every stage that takes some.
  void send_inputs(int r) {
    const StageMessage msg{r, m.attempt[static_cast<std::size_t>(r)]};
    for (int s = 0; s < stages(); ++s)
      if (m.plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client > 0 || m.has_source(s))
        send(client_host(m.client_of(r)), s, msg, m.plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client);
  }

  /// Client c sends its requests (r = c, c + clients, ...) in order, as they arrive.
  void client_sender(int c) {
    for (int r = c; r < m.requests; r += m.clients()) {
      if (m.arrival[r] > now()) sg4::this_actor::sleep_until(m.arrival[r]);
      const sg4::SemaphorePtr keep = window[static_cast<std::size_t>(c)];  // see Gate
      keep->acquire();                        // at most max_in_flight requests in the pipeline
      while (m.stages_detected_down > 0) replaced.wait();  // the client knows the pipeline is broken
      m.request_sent(r, now());
      send_inputs(r);
    }
  }

  void client_receiver(int c) {
    const std::shared_ptr<Inbox> in = inbox[static_cast<std::size_t>(stages() + c)];  // held on the stack: see Gate
    std::vector<std::vector<int>> got(static_cast<std::size_t>(m.requests));  // per request, per attempt
    for (int answered = 0; answered < m.requests_of(c);) {
      const StageMessage msg = receive(*in);
      const auto r = static_cast<std::size_t>(msg.request);
      if (got[r].size() <= static_cast<std::size_t>(msg.attempt)) got[r].resize(static_cast<std::size_t>(msg.attempt) + 1, 0);
      // The first attempt whose outputs all arrive answers the request; later ones are late copies.
      if (++got[r][static_cast<std::size_t>(msg.attempt)] < m.outputs_expected || m.done[r] >= 0) continue;
      m.request_done(msg.request, now());
      window[static_cast<std::size_t>(c)]->release();
      ++answered;
    }
  }

  /// Failover f (as the flow engine's): detect, move the stage to a spare that loads its
  /// parameters, then send every unanswered request again once every stage serves.
  void failover(int f) {
    const int s = m.failovers[static_cast<std::size_t>(f)].stage;
    sg4::this_actor::sleep_until(m.failovers[static_cast<std::size_t>(f)].detected_at_s);
    ++m.stages_detected_down;
    m.node_event(now(), "stage_down_detected", s, m.failovers[static_cast<std::size_t>(f)].from_node);
    while (true) {
      const int n = m.replacement_for(s);
      if (n < 0) {  // no spare: wait for a node to come back
        spare_up.wait();
        continue;
      }
      m.node_taken[static_cast<std::size_t>(n)] = s;
      m.node_event(now(), "stage_loading", s, n);
      sg4::this_actor::sleep_for(m.load_s(s, n));
      if (m.node_taken[static_cast<std::size_t>(n)] == s && m.node_up[static_cast<std::size_t>(n)]) {
        m.stage_moved(s, n, now(), f);
        break;
      }
    }
    open_inbox(s);
    start_stage(s);
    if (--m.stages_detected_down > 0) return;
    // The unanswered requests are those sent before now: take them before the senders resume.
    const std::vector<std::vector<int>> lost = m.take_requests_to_resend(f);
    replaced.open();
    resend(lost);
  }

  /// Each client sends its unanswered requests again, in order.
  void resend(const std::vector<std::vector<int>>& lost) {
    for (int c = 0; c < m.clients(); ++c) {
      const std::vector<int>& mine = lost[static_cast<std::size_t>(c)];
      if (mine.empty()) continue;
      sg4::Actor::create("resend", platform.host(client_host(c)), [this, mine] {
        for (const int r : mine) {
          m.request_sent(r, now());
          send_inputs(r);
        }
      })->daemonize();
    }
  }

  /// Failback b (as the flow engine's): the node that came back loads the stage while it serves
  /// on; then the stage starts on the new node with a new inbox, and the old actor either finishes
  /// the requests sent before the switch (drain), sends their inputs on (forward), or is killed and
  /// every unanswered request is sent again (resend).
  void failback(int b) {
    const int s = m.failbacks[static_cast<std::size_t>(b)].stage;
    sg4::this_actor::sleep_for(m.load_s(s, m.failbacks[static_cast<std::size_t>(b)].to_node));
    if (!m.failback_switch(b, now())) {
      spare_up.open();  // the node is free again: a failover may be waiting for one
      return;
    }
    if (m.drain[static_cast<std::size_t>(s)].node >= 0) {
      // Drain or forward handover: the old actor keeps its inbox for the requests sent before
      // now; the stage's next messages go to a new inbox on the new node. Nothing is sent again.
      drain_actors[static_cast<std::size_t>(s)] = stage_actors[static_cast<std::size_t>(s)];
      drain_inbox[static_cast<std::size_t>(s)] = inbox[static_cast<std::size_t>(s)];
      open_inbox(s);
      start_stage(s);
      if (sc.policy.partitioner.handover != Handover::Forward) return;
      // Forward: the old node sends the inputs queued in front of it on at once, while it finishes
      // what it computes; its actor is woken to send its partly gathered inputs on.
      const std::shared_ptr<Inbox> old = drain_inbox[static_cast<std::size_t>(s)];
      std::deque<StageMessage> queued;
      while (!old->messages.empty()) {  // each queued message holds a unit of `ready`: take both
        old->ready->acquire();
        queued.push_back(old->messages.front());
        old->messages.pop_front();
      }
      old->messages.push_back(StageMessage{-1, -1});
      old->ready->release();
      const StageDrain d = m.drain[static_cast<std::size_t>(s)];
      for (const StageMessage& q : queued) {
        if (m.drain[static_cast<std::size_t>(s)].move != d.move || !platform.host(d.node)->is_on()) return;  // over, or the node failed
        m.forwarded(s);
        send(d.node, s, q, q.bytes);
      }
      return;
    }
    stage_actors[static_cast<std::size_t>(s)]->kill();
    open_inbox(s);
    start_stage(s);
    resend(m.take_requests_to_resend_after_failback(b));
  }

  /// Stage s's drain ended: its old actor (life `life`; -1 if its node failed and took the actor
  /// with it) is killed, and its node is spare again.
  void end_drain(int s, int life) {
    if (life >= 0 && drain_actors[static_cast<std::size_t>(s)]) drain_actors[static_cast<std::size_t>(s)]->kill();
    drain_actors[static_cast<std::size_t>(s)] = nullptr;
    drain_inbox[static_cast<std::size_t>(s)] = nullptr;
    spare_up.open();  // a failover may be waiting for a spare
  }

  /// The old node of stage s's drain (failback or migration `move`) failed: once the client
  /// detects it at `detected`, it sends the requests that node held up again.
  void lost_drain(int s, int move, double detected) {
    sg4::this_actor::sleep_until(detected);
    resend(m.take_requests_to_resend_after_lost_drain(s, move, now()));
  }

  /// Migration under congestion (as the flow engine's): every period the client re-prices the
  /// stages and may move the bottleneck stage, played as a failback.
  void migration_checks() {
    while (true) {
      sg4::this_actor::sleep_for(sc.policy.partitioner.migrate_period_s);
      if (const int b = m.migration_start(now()); b >= 0)
        sg4::Actor::create("migration", platform.host(client_host(0)), [this, b] { failback(b); })->daemonize();
    }
  }

  /// Replayed latency changes and node failures (bandwidth changes and the hosts' states are
  /// the platform's profiles; a node's host is off from the same instant).
  void replay() {
    for (const ReplayEvent& e : sc.events) {
      sg4::this_actor::sleep_until(e.at_s);
      const int node = m.host_index(e.node);
      if (e.action == EventAction::SetLatency || e.action == EventAction::SetBandwidth) {
        m.link_changed(e);
        replay_link_change(e, node, e.peer.empty() ? -1 : m.host_index(e.peer), now(), latencies, m.signals);
      } else if (e.action == EventAction::NodeDown) {
        if (!m.node_up[static_cast<std::size_t>(node)]) continue;
        const int f = m.node_down(node, now());
        if (const int s = m.drain_failed(node, now()); s >= 0) {  // it was finishing a moved stage's requests
          const int move = m.drain[static_cast<std::size_t>(s)].move;
          const double detected = m.drain[static_cast<std::size_t>(s)].detected_at_s;
          sg4::Actor::create("lost-drain", platform.host(client_host(0)), [this, s, move, detected] { lost_drain(s, move, detected); })->daemonize();
        }
        if (f < 0) continue;
        // What waited in its inbox is lost with it; the stage's next node opens a new one.
        sg4::Actor::create("failover", platform.host(client_host(0)), [this, f] { failover(f); })->daemonize();
      } else if (e.action == EventAction::NodeUp) {
        if (m.node_up[static_cast<std::size_t>(node)] || m.switched_off(node)) continue;  // up already, or off for the run
        m.node_back(node, now());
        if (const int b = m.failback_start(node, now()); b >= 0)
          sg4::Actor::create("failback", platform.host(client_host(0)), [this, b] { failback(b); })->daemonize();
        spare_up.open();
      }
    }
  }
};

}  // namespace

RunReport run_pipeline(const Scenario& sc, const RunOptions& options, SimSignals& signals) {
  const std::unique_ptr<sg4::Engine> engine = make_engine();
  PipelineRun m(sc, options, signals);
  LatencyTable latencies(sc);
  SwarmPlatform platform(sc, latencies);
  PipelineActors actors(m, sc, platform, latencies);
  for (int s = 0; s < actors.stages(); ++s) actors.start_stage(s);
  PipelineActors* a = &actors;
  sg4::Actor::create("replay", platform.control_host(), [a] { a->replay(); })->daemonize();
  if (sc.policy.partitioner.migrate_period_s > 0)
    sg4::Actor::create("migration-checks", platform.control_host(), [a] { a->migration_checks(); })->daemonize();
  for (int c = 0; c < m.clients(); ++c) {
    sg4::Actor::create("client-send", platform.host(actors.client_host(c)), [a, c] { a->client_sender(c); });
    sg4::Actor::create("client-receive", platform.host(actors.client_host(c)), [a, c] { a->client_receiver(c); });
  }

  ProgressLine progress(options.progress, m.requests, "requests");
  const double wall = run_requests(*engine, sc.time_limit_s, progress, [&] { return m.answered; }, [&] { return m.messages; });
  return pipeline_report(m, wall, options);
}

}  // namespace swarmsim::sim
