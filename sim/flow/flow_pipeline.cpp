#include "sim/flow/flow_pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
#include "sim/flow/message_flow.hpp"
#include "sim/flow/process.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/pipeline_run.hpp"
#include "sim/swarm/latency_table.hpp"

namespace swarmsim::sim::flow {
namespace {

class FlowPipeline {
 public:
  FlowPipeline(const Scenario& sc, PipelineRun& run)
      : sc_(sc),
        m_(run),
        latencies_(sc),
        links_(access_rates(sc, true), access_rates(sc, false), sharing_params(sc.network.model), queue_),
        lat_factor_(latency_factor(sc.network.model)),
        stages_(static_cast<int>(run.plan.stages.size())),
        drain_inbox_(run.plan.stages.size()),
        windows_(sc.clients.size(), sc.workload.max_in_flight) {
    for (std::size_t b = 0; b < run.plan.stages.size() + sc.clients.size(); ++b) inbox_.push_back(std::make_shared<Inbox>());
    m_.drain_over = [this](int s, int life) { end_drain(s, life); };
  }

  void run(ProgressLine& progress) {
    for (int s = 0; s < static_cast<int>(m_.plan.stages.size()); ++s) spawn(stage(s, 0));
    if (!sc_.events.empty()) spawn(replay());
    if (sc_.policy.partitioner.migrate_period_s > 0) spawn(migration_checks());
    for (int c = 0; c < m_.clients(); ++c) {
      spawn(client_sender(c));
      spawn(client_receiver(c));
    }
    // The stages are daemons, as on SimGrid: the run ends when the clients have every answer.
    play_events(queue_, links_, now_, sc_.time_limit_s, [this] { return m_.answered >= m_.requests; },
                [&] { progress.tick(now_, m_.answered, m_.messages); });
  }

 private:
  // ---- awaitables -------------------------------------------------------------------------

  SleepUntil sleep_for(double s) { return SleepUntil{queue_, now_, now_ + s}; }
  SleepUntil sleep_until(double t) { return SleepUntil{queue_, now_, t}; }

  /// Messages delivered to a stage (or, after the stages, to a client), in arrival order, as a SimGrid
  /// mailbox with a permanent receiver holds them. Shared by the stage's process and the messages
  /// on their way to it, so a draining stage's old inbox lives as long as they do.
  struct Inbox {
    std::deque<StageMessage> messages;
    Waiter* waiting = nullptr;
    int generation = 0;  ///< moves of its stage: a message sent to an earlier node is not for it (SimGrid's new inbox)
  };
  struct Receive {
    FlowPipeline* m;
    Inbox* in;
    int stage = -1;  ///< a stage's receive: the stage and the life it belongs to (a dead one takes nothing)
    int life = -1;
    Waiter w{};
    bool await_ready() const noexcept { return !in->messages.empty(); }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      in->waiting = &w;
    }
    StageMessage await_resume() const {
      if (in->messages.empty()) return {-1, -1};  // resumed as its stage died and the inbox was emptied
      if (stage >= 0 && !m->m_.stage_alive(stage, life)) return {-1, -1};  // its stage moved on
      const StageMessage msg = in->messages.front();
      in->messages.pop_front();
      return msg;
    }
  };

  // ---- processes ----------------------------------------------------------------------------

  void spawn(Process p) { processes_.spawn(p, queue_, now_, now_); }

  int client_host(int c) const { return static_cast<int>(sc_.nodes.size()) + c; }

  /// The message itself, detached from its sender: its bytes cross the network to host `to`, then
  /// it waits in the receiver's inbox `box`.
  Process carry(int from, int to, std::shared_ptr<Inbox> box, StageMessage msg, double wire, double sent_at, double software_s) {
    const int generation = box->generation;
    if (co_await Transfer{links_, latencies_, lat_factor_, now_, from, to, wire} != Outcome::Done) co_return;  // an end went down
    m_.signals.on_transfer(TransferSpan{sent_at, now_, from, to, msg.request, msg.attempt, wire,
                                        lat_factor_ * latencies_.one_way(from, to), software_s});
    Inbox& in = *box;
    if (in.generation != generation) co_return;  // its stage moved (failback) while it was on its way
    in.messages.push_back(msg);
    if (in.waiting) {
      queue_.push(now_, EventKind::Resume, token_of(*in.waiting));
      in.waiting = nullptr;
    }
  }
  /// Serializes at the sending end, then posts the message to stage `to_stage` (-1: the request's
  /// client), as SimGrid's carrier does. False when
  /// the sender's stage died meanwhile (life `life` of stage `from_stage`; -1: the client, which
  /// never fails). A message to a stage that is not serving is refused and lost.
  Task<bool> send(int from, int to_stage, StageMessage msg, double bytes, int from_stage = -1, int life = 0) {
    const double wire = bytes + sc_.overheads.header_bytes, sent_at = now_;
    co_await sleep_for(m_.endpoint_s(bytes));
    if (from_stage >= 0 && !m_.stage_alive(from_stage, life)) co_return false;
    const bool to_old = to_stage >= 0 && m_.to_old_node(to_stage, msg);
    if (to_stage >= 0 && !to_old && !m_.stage_serving[static_cast<std::size_t>(to_stage)]) co_return true;
    msg.bytes = bytes;
    if (to_stage < 0) {
      const int c = m_.client_of(msg.request);
      processes_.start_now(carry(from, client_host(c), inbox_[static_cast<std::size_t>(stages_ + c)], msg, std::ceil(wire), sent_at, m_.endpoint_s(bytes)));
    } else if (to_old) {  // a request sent before a drain handover: to the stage's old node
      const auto s = static_cast<std::size_t>(to_stage);
      processes_.start_now(carry(from, m_.drain[s].node, drain_inbox_[s], msg, std::ceil(wire), sent_at, m_.endpoint_s(bytes)));
    } else {
      const auto s = static_cast<std::size_t>(to_stage);
      processes_.start_now(carry(from, m_.stage_node[s], inbox_[s], msg, std::ceil(wire), sent_at, m_.endpoint_s(bytes)));
    }
    m_.bytes_moved += wire;
    ++m_.messages;
    co_return true;
  }

  /// Stage s on its current node, until that node fails or the stage moves (its life moves on) and,
  /// after a drain or forward handover, until the requests sent before the switch are answered.
  Process stage(int s, int life) {
    const PipelineStage& st = m_.plan.stages[static_cast<std::size_t>(s)];
    const int node = m_.stage_node[static_cast<std::size_t>(s)];
    const double compute_s = m_.stage_compute_s[static_cast<std::size_t>(s)];
    const std::shared_ptr<Inbox> inbox = inbox_[static_cast<std::size_t>(s)];  // kept if the stage drains here
    const auto dead = [this, s, life] { return !m_.stage_alive(s, life); };
    StageInputs inputs(m_.requests, st.inputs_expected);
    const double in_bytes = m_.in_bytes_per_request(s);
    StageRun& tally = m_.stage[static_cast<std::size_t>(s)];
    while (true) {
      const StageMessage msg = co_await Receive{this, inbox.get(), s, life};
      if (dead()) co_return;
      if (m_.forwards(s, life)) {  // a forward handover: send what reaches the old node on to the new one
        if (msg.request >= 0) {
          m_.forwarded(s);  // counted before the send, after which the drain may be over
          if (!co_await send(node, s, msg, msg.bytes, s, life)) co_return;
          continue;
        }
        for (const StageMessage& held : inputs.take_incomplete()) {  // the inputs of requests it had begun to gather
          m_.forwarded(s);
          if (!co_await send(node, s, held, held.bytes, s, life)) co_return;
        }
        continue;
      }
      if (msg.request < 0 || !inputs.take(msg, now_)) continue;
      const double start = now_;
      tally.max_queue_wait_s = std::max(tally.max_queue_wait_s, start - inputs.first_input_s(msg.request));
      m_.event(now_, "stage_start", s, msg.request);
      // Deserialize every input, run the stage's ops, then serialize and post each output.
      co_await sleep_for(st.inputs_expected * sc_.overheads.rpc_s + in_bytes / sc_.overheads.serialization_Bps);
      if (dead()) co_return;
      const double computing = now_;
      co_await sleep_for(compute_s);
      if (dead()) co_return;
      m_.signals.on_compute(ComputeSpan{computing, now_, node, msg.request, msg.attempt, BlockRange{s, s + 1}, "stage", compute_s});
      for (const auto& [to, bytes] : st.sends) {
        if (!co_await send(node, to, msg, bytes, s, life)) co_return;
        tally.bytes_out += bytes;
      }
      if (m_.returns_to_client(s)) {
        if (!co_await send(node, -1, msg, st.output_bytes_to_client, s, life)) co_return;
        tally.bytes_out += st.output_bytes_to_client;
      }
      tally.bytes_in += in_bytes;
      tally.busy_s += now_ - start;
      ++tally.requests;
      m_.event(now_, "stage_end", s, msg.request);
    }
  }

  /// The inputs of request r (its current attempt) from its client to every stage that takes some.
  Task<bool> send_inputs(int r) {
    const StageMessage msg{r, m_.attempt[static_cast<std::size_t>(r)]};
    for (int s = 0; s < stages_; ++s)
      if (m_.plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client > 0 || m_.has_source(s))
        co_await send(client_host(m_.client_of(r)), s, msg, m_.plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client);
    co_return true;
  }

  /// Client c sends its requests (r = c, c + clients, ...) in order, as they arrive.
  Process client_sender(int c) {
    for (int r = c; r < m_.requests; r += m_.clients()) {
      if (m_.arrival[static_cast<std::size_t>(r)] > now_) co_await sleep_until(m_.arrival[static_cast<std::size_t>(r)]);
      co_await windows_.acquire(c);
      while (m_.stages_detected_down > 0) co_await WaitAt{replaced_};  // the client knows the pipeline is broken
      m_.request_sent(r, now_);
      co_await send_inputs(r);
    }
  }

  /// Failover f: the client detects the failure, moves the stage to a spare node that loads its
  /// parameters, and once every stage serves again sends every unanswered request again.
  Process failover(int f) {
    const int s = m_.failovers[static_cast<std::size_t>(f)].stage;
    co_await sleep_until(m_.failovers[static_cast<std::size_t>(f)].detected_at_s);
    ++m_.stages_detected_down;
    m_.node_event(now_, "stage_down_detected", s, m_.failovers[static_cast<std::size_t>(f)].from_node);
    while (true) {
      const int n = m_.replacement_for(s);
      if (n < 0) {  // no spare: wait for a node to come back
        co_await WaitAt{spare_up_};
        continue;
      }
      m_.node_taken[static_cast<std::size_t>(n)] = s;
      m_.node_event(now_, "stage_loading", s, n);
      co_await sleep_for(m_.load_s(s, n));
      if (m_.node_taken[static_cast<std::size_t>(n)] == s && m_.node_up[static_cast<std::size_t>(n)]) {
        m_.stage_moved(s, n, now_, f);
        break;
      }
    }
    spawn(stage(s, m_.stage_life[static_cast<std::size_t>(s)]));
    if (--m_.stages_detected_down > 0) co_return;
    // The unanswered requests are those sent before now: take them before the senders resume.
    std::vector<std::vector<int>> lost = m_.take_requests_to_resend(f);
    replaced_.open(queue_, now_);
    resend_all(std::move(lost));
  }
  /// Each client sends its unanswered requests (`lost`, per client) again, in order.
  void resend_all(std::vector<std::vector<int>> lost) {
    for (std::vector<int>& mine : lost)
      if (!mine.empty()) spawn(resend(std::move(mine)));
  }
  /// A client sends its unanswered requests again, in order.
  Process resend(std::vector<int> requests) {
    for (const int r : requests) {
      m_.request_sent(r, now_);
      co_await send_inputs(r);
    }
  }

  /// Failback b: the node that came back loads the stage's parameters while the stage serves on;
  /// then the stage moves there, as SimGrid opens a new inbox. The old process finishes the
  /// requests sent before the switch (drain) or sends their inputs on (forward); with resend it
  /// ends, as SimGrid kills its old actor, and every unanswered request is sent again.
  Process failback(int b) {
    const int s = m_.failbacks[static_cast<std::size_t>(b)].stage;
    co_await sleep_for(m_.load_s(s, m_.failbacks[static_cast<std::size_t>(b)].to_node));
    if (!m_.failback_switch(b, now_)) {
      spare_up_.open(queue_, now_);  // the node is free again: a failover may be waiting for one
      co_return;
    }
    if (m_.drain[static_cast<std::size_t>(s)].node >= 0) {
      // Drain or forward handover: the old process keeps its inbox for the requests sent before
      // now; the stage's next messages go to a new one on the new node. Nothing is sent again.
      drain_inbox_[static_cast<std::size_t>(s)] = std::move(inbox_[static_cast<std::size_t>(s)]);
      inbox_[static_cast<std::size_t>(s)] = std::make_shared<Inbox>();
      spawn(stage(s, m_.stage_life[static_cast<std::size_t>(s)]));
      if (sc_.policy.partitioner.handover != Handover::Forward) co_return;
      // Forward: the old node sends the inputs queued in front of it on at once, while it finishes
      // what it computes; its process is woken to send its partly gathered inputs on.
      Inbox& old = *drain_inbox_[static_cast<std::size_t>(s)];
      std::deque<StageMessage> queued;
      queued.swap(old.messages);
      old.messages.push_back(StageMessage{-1, -1});
      if (old.waiting) {
        queue_.push(now_, EventKind::Resume, token_of(*old.waiting));
        old.waiting = nullptr;
      }
      const StageDrain d = m_.drain[static_cast<std::size_t>(s)];
      for (const StageMessage& q : queued) {
        m_.forwarded(s);
        if (!co_await send(d.node, s, q, q.bytes, s, d.life)) co_return;  // the drain is over, or the node failed
      }
      co_return;
    }
    Inbox& in = *inbox_[static_cast<std::size_t>(s)];
    in.messages.clear();
    in.waiting = nullptr;  // its old process is dead: it is never resumed again
    ++in.generation;
    spawn(stage(s, m_.stage_life[static_cast<std::size_t>(s)]));
    resend_all(m_.take_requests_to_resend_after_failback(b));
  }

  /// Stage s's drain ended: its old process (life `life`, -1 if its node failed) ends, and its
  /// node is spare again.
  void end_drain(int s, int life) {
    if (std::shared_ptr<Inbox>& in = drain_inbox_[static_cast<std::size_t>(s)]) {
      in->messages.clear();
      if (in->waiting && life >= 0) queue_.push(now_, EventKind::Resume, token_of(*in->waiting));  // it wakes, sees it is over, ends
      in->waiting = nullptr;
      ++in->generation;  // late copies on their way to it are dropped
      in.reset();
    }
    spare_up_.open(queue_, now_);  // a failover may be waiting for a spare
  }

  /// The old node of stage s's drain (failback or migration `move`) failed: once the client
  /// detects it at `detected`, it sends the requests that node held up again.
  Process lost_drain(int s, int move, double detected) {
    co_await sleep_until(detected);
    resend_all(m_.take_requests_to_resend_after_lost_drain(s, move, now_));
  }

  /// Migration under congestion: every period the client re-prices the stages on the links as
  /// they are now and may move the bottleneck stage, which plays as a failback. A daemon.
  Process migration_checks() {
    while (true) {
      co_await sleep_for(sc_.policy.partitioner.migrate_period_s);
      if (const int b = m_.migration_start(now_); b >= 0) spawn(failback(b));
    }
  }

  Process client_receiver(int c) {
    std::vector<std::vector<int>> got(static_cast<std::size_t>(m_.requests));  // per request, per attempt
    for (int answered = 0; answered < m_.requests_of(c);) {
      const StageMessage msg = co_await Receive{this, inbox_[static_cast<std::size_t>(stages_ + c)].get()};
      const auto r = static_cast<std::size_t>(msg.request);
      if (got[r].size() <= static_cast<std::size_t>(msg.attempt)) got[r].resize(static_cast<std::size_t>(msg.attempt) + 1, 0);
      // The first attempt whose outputs all arrive answers the request; later ones are late copies.
      if (++got[r][static_cast<std::size_t>(msg.attempt)] < m_.outputs_expected || m_.done[r] >= 0) continue;
      m_.request_done(msg.request, now_);
      windows_.release(c, queue_, now_);
      ++answered;
    }
  }

  /// Replayed events, before the other events of their time (as SimGrid applies its profiles).
  Process replay() {
    for (const ReplayEvent& e : sc_.events) {
      co_await SleepUntil{queue_, now_, e.at_s, true};
      const int node = m_.host_index(e.node);
      if (e.action == EventAction::NodeDown) {
        if (!m_.node_up[static_cast<std::size_t>(node)]) continue;
        const int f = m_.node_down(node, now_);
        // Its messages end unfinished (SimGrid fails a communication the instant an end goes
        // down); what waited in its inbox is lost with it.
        fail_host_flows(links_, queue_, now_, node);
        if (const int s = m_.drain_failed(node, now_); s >= 0) {  // it was finishing a moved stage's requests
          Inbox& old = *drain_inbox_[static_cast<std::size_t>(s)];
          old.messages.clear();
          old.waiting = nullptr;  // its process is dead: it is never resumed again
          spawn(lost_drain(s, m_.drain[static_cast<std::size_t>(s)].move, m_.drain[static_cast<std::size_t>(s)].detected_at_s));
        }
        if (f < 0) continue;
        Inbox& in = *inbox_[static_cast<std::size_t>(m_.failovers[static_cast<std::size_t>(f)].stage)];
        in.messages.clear();
        in.waiting = nullptr;  // its stage process is dead: it is never resumed again
        spawn(failover(f));
      } else if (e.action == EventAction::NodeUp) {
        if (m_.node_up[static_cast<std::size_t>(node)] || m_.switched_off(node)) continue;  // up already, or off for the run
        m_.node_back(node, now_);
        if (const int b = m_.failback_start(node, now_); b >= 0) spawn(failback(b));
        spare_up_.open(queue_, now_);
      } else {
        m_.link_changed(e);
        apply_link_change(e, node, e.peer.empty() ? -1 : m_.host_index(e.peer), now_, links_, latencies_, m_.signals);
      }
    }
  }

  const Scenario& sc_;
  PipelineRun& m_;
  LatencyTable latencies_;
  EventQueue queue_;
  FairShareNetwork links_;
  double lat_factor_;
  int stages_;
  std::vector<std::shared_ptr<Inbox>> inbox_;  ///< one per stage, then one per client
  std::vector<std::shared_ptr<Inbox>> drain_inbox_;  ///< per stage: its old node's while it drains
  ClientWindows windows_;  ///< each client's max_in_flight window
  Gate replaced_;  ///< the clients' senders wait here while a failed stage is being replaced
  Gate spare_up_;  ///< failovers without a spare node wait here for a node to come back
  double now_ = 0;
  Processes processes_;  ///< last: its frames go before the state they use
};

}  // namespace

RunReport run_flow_pipeline(const Scenario& sc, const RunOptions& options) {
  SimSignals signals;
  return run_flow_pipeline(sc, options, signals);
}

RunReport run_flow_pipeline(const Scenario& sc, const RunOptions& options, SimSignals& signals) {
  PipelineRun run(sc, options, signals);
  const double wall = play_request_run<FlowPipeline>(sc, run, options);
  return pipeline_report(run, wall, options);
}

}  // namespace swarmsim::sim::flow
