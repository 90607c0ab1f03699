#include "sim/flow/flow_pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <string>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
#include "sim/flow/process.hpp"
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
        client_(static_cast<int>(sc.nodes.size())),
        inbox_(run.plan.stages.size() + 1),
        window_(sc.workload.max_in_flight) {}

  void run() {
    for (int s = 0; s < static_cast<int>(m_.plan.stages.size()); ++s) spawn(stage(s));
    if (!sc_.events.empty()) spawn(replay());
    spawn(client_sender());
    spawn(client_receiver());
    // The stages are daemons, as on SimGrid: the run ends when the client has every answer.
    while (!queue_.empty() && completed_ < m_.requests) {
      const TimedEvent e = queue_.pop();
      if (e.t > sc_.time_limit_s) break;
      now_ = e.t;
      std::uint64_t token = 0;
      switch (e.kind) {
        case EventKind::Resume: waiter_of(e.payload).handle.resume(); break;
        case EventKind::FlowActive:
        case EventKind::FlowDone:
          if (links_.on_event(e, token)) {
            waiter_of(token).outcome = Outcome::Done;
            waiter_of(token).handle.resume();
          }
          break;
        default: break;  // no timeouts or device work here
      }
    }
  }

 private:
  // ---- awaitables -------------------------------------------------------------------------

  SleepUntil sleep_for(double s) { return SleepUntil{queue_, now_, now_ + s}; }
  SleepUntil sleep_until(double t) { return SleepUntil{queue_, now_, t}; }

  /// Messages delivered to a stage (or, last, to the client), in arrival order, as a SimGrid
  /// mailbox with a permanent receiver holds them.
  struct Inbox {
    std::deque<int> requests;
    Waiter* waiting = nullptr;
  };
  struct Receive {
    FlowPipeline* m;
    int box;
    Waiter w{};
    bool await_ready() const noexcept { return !m->inbox_[static_cast<std::size_t>(box)].requests.empty(); }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      m->inbox_[static_cast<std::size_t>(box)].waiting = &w;
    }
    int await_resume() const {
      Inbox& in = m->inbox_[static_cast<std::size_t>(box)];
      const int r = in.requests.front();
      in.requests.pop_front();
      return r;
    }
  };
  /// A flow of `bytes` from host `from` to host `to`; resumes when the last byte arrived.
  struct Transfer {
    FlowPipeline* m;
    int from, to;
    double bytes;
    Waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      const double latency = m->latencies_.one_way(from, to);
      m->links_.start(m->now_, from, to, bytes, m->lat_factor_ * latency, latency, token_of(w));
    }
    void await_resume() const noexcept {}
  };
  /// The client's window: at most max_in_flight requests in the pipeline.
  struct Acquire {
    FlowPipeline* m;
    Waiter w{};
    bool await_ready() const noexcept { return m->window_ > 0; }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      m->window_waiter_ = &w;
    }
    void await_resume() const noexcept { --m->window_; }
  };

  // ---- processes ----------------------------------------------------------------------------

  void spawn(Process p) { processes_.spawn(p, queue_, now_, now_); }

  int host_of_box(int box) const {
    return box < static_cast<int>(m_.plan.stages.size()) ? m_.plan.stages[static_cast<std::size_t>(box)].node : client_;
  }
  int box_of_stage(int to_stage) const { return to_stage < 0 ? static_cast<int>(m_.plan.stages.size()) : to_stage; }

  /// The message itself, detached from its sender: its bytes cross the network, then it waits in
  /// the receiver's inbox.
  Process carry(int from, int box, int request, double wire) {
    co_await Transfer{this, from, host_of_box(box), wire};
    Inbox& in = inbox_[static_cast<std::size_t>(box)];
    in.requests.push_back(request);
    if (in.waiting) {
      queue_.push(now_, EventKind::Resume, token_of(*in.waiting));
      in.waiting = nullptr;
    }
  }
  /// Serializes at the sending end, then posts the message (as SimGrid's detached put).
  Task<bool> send(int from, int to_stage, int request, double bytes) {
    const double wire = bytes + sc_.overheads.header_bytes;
    co_await sleep_for(m_.endpoint_s(bytes));
    processes_.start_now(carry(from, box_of_stage(to_stage), request, std::ceil(wire)));
    m_.bytes_moved += wire;
    ++m_.messages;
    co_return true;
  }

  Process stage(int s) {
    const PipelineStage& st = m_.plan.stages[static_cast<std::size_t>(s)];
    std::vector<int> got(static_cast<std::size_t>(m_.requests), 0);
    std::vector<double> first_input(static_cast<std::size_t>(m_.requests), -1);
    const double in_bytes = m_.in_bytes_per_request(s);
    StageRun& tally = m_.stage[static_cast<std::size_t>(s)];
    for (int processed = 0; processed < m_.requests;) {
      const int r = co_await Receive{this, s};
      if (first_input[static_cast<std::size_t>(r)] < 0) first_input[static_cast<std::size_t>(r)] = now_;
      if (++got[static_cast<std::size_t>(r)] < st.inputs_expected) continue;
      const double start = now_;
      tally.max_queue_wait_s = std::max(tally.max_queue_wait_s, start - first_input[static_cast<std::size_t>(r)]);
      m_.event(now_, "stage_start", s, r);
      // Deserialize every input, run the stage's ops, then serialize and post each output.
      co_await sleep_for(st.inputs_expected * sc_.overheads.rpc_s + in_bytes / sc_.overheads.serialization_Bps);
      co_await sleep_for(st.compute_s);
      for (const auto& [to, bytes] : st.sends) {
        co_await send(st.node, to, r, bytes);
        tally.bytes_out += bytes;
      }
      if (m_.returns_to_client(s)) {
        co_await send(st.node, -1, r, st.output_bytes_to_client);
        tally.bytes_out += st.output_bytes_to_client;
      }
      tally.bytes_in += in_bytes;
      tally.busy_s += now_ - start;
      ++tally.requests;
      m_.event(now_, "stage_end", s, r);
      ++processed;
    }
  }

  Process client_sender() {
    for (int r = 0; r < m_.requests; ++r) {
      if (m_.arrival[static_cast<std::size_t>(r)] > now_) co_await sleep_until(m_.arrival[static_cast<std::size_t>(r)]);
      co_await Acquire{this};
      m_.sent[static_cast<std::size_t>(r)] = now_;
      m_.event(now_, "request_sent", -1, r);
      for (int s = 0; s < static_cast<int>(m_.plan.stages.size()); ++s)
        if (m_.plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client > 0 || m_.has_source(s))
          co_await send(client_, s, r, m_.plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client);
    }
  }

  Process client_receiver() {
    std::vector<int> got(static_cast<std::size_t>(m_.requests), 0);
    const int box = static_cast<int>(m_.plan.stages.size());
    while (completed_ < m_.requests) {
      const int r = co_await Receive{this, box};
      if (++got[static_cast<std::size_t>(r)] < m_.outputs_expected) continue;
      m_.done[static_cast<std::size_t>(r)] = now_;
      m_.event(now_, "request_done", -1, r);
      ++window_;
      if (window_waiter_) {
        queue_.push(now_, EventKind::Resume, token_of(*window_waiter_));
        window_waiter_ = nullptr;
      }
      ++completed_;
    }
  }

  /// Replayed bandwidth and latency changes, before the other events of their time (as SimGrid
  /// applies its profiles); the loader keeps node failures off pipelines.
  Process replay() {
    for (const ReplayEvent& e : sc_.events) {
      co_await SleepUntil{queue_, now_, e.at_s, true};
      const int node = host_index(e.node);
      if (e.action == EventAction::SetBandwidth) {
        if (e.direction != LinkDirection::Down) links_.set_capacity(now_, FairShareNetwork::up_link(node), e.value);
        if (e.direction != LinkDirection::Up) links_.set_capacity(now_, FairShareNetwork::down_link(node), e.value);
      } else if (e.action == EventAction::SetLatency) {
        if (e.peer.empty())
          latencies_.set_access(node, e.value);
        else
          latencies_.set_pair(node, host_index(e.peer), e.value);
      }
    }
  }
  int host_index(const std::string& name) const {
    for (std::size_t i = 0; i < sc_.nodes.size(); ++i)
      if (sc_.nodes[i].name == name) return static_cast<int>(i);
    for (std::size_t c = 0; c < sc_.clients.size(); ++c)
      if (sc_.clients[c].name == name) return static_cast<int>(sc_.nodes.size() + c);
    return -1;
  }

  const Scenario& sc_;
  PipelineRun& m_;
  LatencyTable latencies_;
  EventQueue queue_;
  FairShareNetwork links_;
  double lat_factor_;
  int client_;
  std::vector<Inbox> inbox_;  ///< one per stage, then the client's
  int window_;
  Waiter* window_waiter_ = nullptr;
  int completed_ = 0;
  double now_ = 0;
  Processes processes_;  ///< last: its frames go before the state they use
};

}  // namespace

RunReport run_flow_pipeline(const Scenario& sc, const RunOptions& options) {
  PipelineRun run(sc, options);
  const auto wall0 = std::chrono::steady_clock::now();
  {
    FlowPipeline pipeline(sc, run);
    pipeline.run();
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return pipeline_report(run, wall, options);
}

}  // namespace swarmsim::sim::flow
