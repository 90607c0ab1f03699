#pragma once
// What the flow engine's pipelines and trees share: a message as a flow on the FairShareNetwork,
// and the loop that plays their events.
#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
#include "sim/flow/process.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/pipeline_run.hpp"
#include "sim/run_options.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim::flow {

/// A flow of `bytes` from host `from` to host `to` at time `now`, waiting its latency times the
/// network model's factor first; resumes when the last byte arrived (Done) or an end went down (Failed).
struct Transfer {
  FairShareNetwork& links;
  const LatencyTable& latencies;
  double lat_factor;
  double now;
  int from, to;
  double bytes;
  Waiter w{};
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    w.handle = h;
    const double latency = latencies.one_way(from, to);
    links.start(now, from, to, bytes, lat_factor * latency, latency, token_of(w));
  }
  Outcome await_resume() const noexcept { return w.outcome; }
};

/// Messages delivered to a receiver on host `host` (a tree node, a coded model, a client), in
/// arrival order. A server's inboxes empty when it goes down (drop_host_inboxes).
struct HostInbox {
  std::deque<StageMessage> messages;
  Waiter* waiting = nullptr;
  int host = 0;
};

/// Waits for the next message of an inbox.
struct ReceiveFrom {
  HostInbox* in;
  Waiter w{};
  bool await_ready() const noexcept { return !in->messages.empty(); }
  void await_suspend(std::coroutine_handle<> h) {
    w.handle = h;
    in->waiting = &w;
  }
  StageMessage await_resume() const {
    const StageMessage msg = in->messages.front();
    in->messages.pop_front();
    return msg;
  }
};

/// Host `host` went down at `now`: every flow to or from it fails (SimGrid fails a communication
/// the instant an end goes down) and its waiter resumes with Outcome::Failed.
inline void fail_host_flows(FairShareNetwork& links, EventQueue& queue, double now, int host) {
  std::vector<std::uint64_t> cut;
  links.fail_host(now, host, cut);
  for (const std::uint64_t t : cut) {
    waiter_of(t).outcome = Outcome::Failed;
    queue.push(now, EventKind::Resume, t);
  }
}

/// What waited in the inboxes of host `host`, which went down, is lost; their receivers died with it.
inline void drop_host_inboxes(std::deque<HostInbox>& inboxes, int host) {
  for (HostInbox& in : inboxes)
    if (in.host == host) {
      in.messages.clear();
      in.waiting = nullptr;  // its process is dead: it is never resumed again
    }
}

/// A replayed bandwidth or latency change of host `node` (and `peer`, -1 for its access latency)
/// applied at `now` to the flow network and the latency table, and reported to `signals`.
inline void apply_link_change(const ReplayEvent& e, int node, int peer, double now, FairShareNetwork& links, LatencyTable& latencies,
                              SimSignals& signals) {
  if (e.action == EventAction::SetBandwidth) {
    if (e.direction != LinkDirection::Down) links.set_capacity(now, FairShareNetwork::up_link(node), e.value);
    if (e.direction != LinkDirection::Up) links.set_capacity(now, FairShareNetwork::down_link(node), e.value);
  } else if (peer < 0) {
    latencies.set_access(node, e.value);
  } else {
    latencies.set_pair(node, peer, e.value);
  }
  signals.on_link_changed(LinkChanged{now, node, peer, e.action, e.direction, e.value});
}

/// Plays a request-based run (a pipeline, a tree, coded inference) on the flow engine `Engine`,
/// built from the scenario and the run's bookkeeping, with a progress line over run.requests;
/// returns the wall seconds it took (the run's set-up before this call excluded).
template <class Engine, class Run>
double play_request_run(const Scenario& sc, Run& run, const RunOptions& options) {
  const auto wall0 = std::chrono::steady_clock::now();
  {
    ProgressLine progress(options.progress, run.requests, "requests");
    Engine engine(sc, run);
    engine.run(progress);
    progress.finish();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
}

/// Each client's window of requests in flight (workload.max_in_flight): a sender takes a slot
/// before it sends, and the receiver gives it back with each answer.
class ClientWindows {
 public:
  ClientWindows(std::size_t clients, int slots) : free_(clients, slots), waiter_(clients, nullptr) {}
  /// Waits for a free slot of client c's window and takes it.
  struct Acquire {
    ClientWindows* windows;
    int c;
    Waiter w{};
    bool await_ready() const noexcept { return windows->free_[static_cast<std::size_t>(c)] > 0; }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      windows->waiter_[static_cast<std::size_t>(c)] = &w;
    }
    void await_resume() const noexcept { --windows->free_[static_cast<std::size_t>(c)]; }
  };
  Acquire acquire(int c) { return Acquire{this, c}; }
  /// Client c's answer frees a slot at `now`, resuming its sender if it waits for one.
  void release(int c, EventQueue& queue, double now) {
    ++free_[static_cast<std::size_t>(c)];
    if (Waiter*& w = waiter_[static_cast<std::size_t>(c)]) {
      queue.push(now, EventKind::Resume, token_of(*w));
      w = nullptr;
    }
  }

 private:
  std::vector<int> free_;         ///< per client: free slots
  std::vector<Waiter*> waiter_;   ///< per client: its sender waiting for a slot
};

/// Plays `queue`'s events until `done()` or past `time_limit_s`: resumes the waiters, hands flow
/// events to `links`, and calls `tick()` at each event with `now` set to its time. Processes
/// left waiting (daemons) are the caller's to destroy.
template <class Done, class Tick>
void play_events(EventQueue& queue, FairShareNetwork& links, double& now, double time_limit_s, Done done, Tick tick) {
  while (!queue.empty() && !done()) {
    const TimedEvent e = queue.pop();
    if (e.t > time_limit_s) break;
    now = e.t;
    tick();
    std::uint64_t token = 0;
    switch (e.kind) {
      case EventKind::Resume: waiter_of(e.payload).handle.resume(); break;
      case EventKind::FlowActive:
      case EventKind::FlowDone:
      case EventKind::FlowSolve:
        if (links.on_event(e, token)) {
          waiter_of(token).outcome = Outcome::Done;
          waiter_of(token).handle.resume();
        }
        break;
      default: break;  // no timeouts or device work here
    }
  }
}

}  // namespace swarmsim::sim::flow
