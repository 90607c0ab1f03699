#pragma once
// What the flow engine's pipelines and trees share: a message as a flow on the FairShareNetwork,
// and the loop that plays their events.
#include <cstdint>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
#include "sim/flow/process.hpp"
#include "sim/swarm/latency_table.hpp"

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
