// The flow engine's clock (sim/flow/event_queue.hpp) against a binary heap of the same events, in
// the "hold" model of event-list studies: N events queued, each pop pushes one event later by a
// delay drawn like a swarm's (a transfer's last byte within 100 us, a device's work within 5 ms,
// a message's latency 10-50 ms). scripts/bench.sh prints the ratio.
#include <benchmark/benchmark.h>

#include <queue>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/rng.hpp"

namespace {

using swarmsim::sim::Rng;
using swarmsim::sim::flow::EventKind;
using swarmsim::sim::flow::EventQueue;
using swarmsim::sim::flow::TimedEvent;

double swarm_delay(Rng& rng) {
  switch (rng.below(3)) {
    case 0: return rng.uniform() * 100e-6;
    case 1: return rng.uniform() * 5e-3;
    default: return 10e-3 + rng.uniform() * 40e-3;
  }
}

void BM_EventQueueHold(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  EventQueue q;
  Rng rng(7);
  for (int i = 0; i < n; ++i) q.push(60.0 + swarm_delay(rng), EventKind::Resume, static_cast<std::uint64_t>(i));
  for (auto _ : state) {
    const TimedEvent e = q.pop();
    q.push(e.t + swarm_delay(rng), EventKind::Resume, e.payload);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventQueueHold)->Arg(2000)->Arg(20000);

/// The baseline: std::priority_queue on the same (time, push order) keys.
void BM_BinaryHeapHold(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto later = [](const TimedEvent& a, const TimedEvent& b) { return a.t != b.t ? a.t > b.t : a.order > b.order; };
  std::priority_queue<TimedEvent, std::vector<TimedEvent>, decltype(later)> q(later);
  Rng rng(7);
  std::uint64_t seq = 0;
  for (int i = 0; i < n; ++i) q.push(TimedEvent{60.0 + swarm_delay(rng), seq++, static_cast<std::uint64_t>(i), 0, EventKind::Resume});
  for (auto _ : state) {
    const TimedEvent e = q.top();
    q.pop();
    q.push(TimedEvent{e.t + swarm_delay(rng), seq++, e.payload, 0, EventKind::Resume});
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BinaryHeapHold)->Arg(2000)->Arg(20000);

}  // namespace
