#pragma once
// The clock of the flow engine: timed events popped in time order, ties in the order they were
// pushed (so a run is deterministic), platform changes first, wake-ups of waiting workers last. Events are small plain values; their owner dispatches them.
#include <cstdint>
#include <algorithm>
#include <bit>
#include <vector>

namespace swarmsim::sim::flow {

/// What an event wakes up; the flow engine dispatches on it.
enum class EventKind : std::uint8_t {
  Resume,      ///< resume the coroutine whose address is `payload`
  FlowActive,  ///< flow `payload` has paid its latency: its bytes start to flow
  FlowDone,    ///< flow `payload` may have delivered its last byte (stale unless `version` matches)
  ExecDone,    ///< host `payload`'s earliest execution may have ended (stale unless `version` matches)
  FlowTimeout, ///< flow `payload` (started as generation `version`) is late: its sender gives up on it
};

/// One timed event.
struct TimedEvent {
  double t = 0.0;                ///< simulated time (s)
  std::uint64_t order = 0;       ///< among equal times: platform changes first, worker wake-ups last, else push order
  std::uint64_t payload = 0;     ///< what it concerns (a coroutine address, a flow id, a host index)
  std::uint32_t version = 0;     ///< the owner's version when pushed; a newer one makes it stale
  EventKind kind = EventKind::Resume;
};

/// A min-heap of timed events, 4-ary: a pop walks half the levels of a binary heap, and a
/// 1,000-node swarm pops a few million events a second.
class EventQueue {
 public:
  /// Schedules an event at time `t` (s, not negative).
  void push(double t, EventKind kind, std::uint64_t payload, std::uint32_t version = 0) {
    insert(TimedEvent{t + 0.0, kNormal | next_seq_++, payload, version, kind});
  }
  /// Schedules an event that runs before every event of the same time not pushed this way, as
  /// SimGrid applies a platform's profiles (hosts going down, bandwidth changes) before its actors run.
  void push_first(double t, EventKind kind, std::uint64_t payload) { insert(TimedEvent{t + 0.0, next_seq_++, payload, 0, kind}); }
  /// Schedules an event that runs after every other event of its time: a server's worker woken by
  /// new work sees everything queued at that instant, as a SimGrid actor woken by a semaphore
  /// runs after the actors whose activities ended at the same time.
  void push_last(double t, EventKind kind, std::uint64_t payload) { insert(TimedEvent{t + 0.0, kLast | next_seq_++, payload, 0, kind}); }
  bool empty() const { return heap_.empty(); }
  /// The earliest event.
  const TimedEvent& top() const { return heap_.front(); }
  /// Removes and returns the earliest event.
  [[gnu::noinline]] TimedEvent pop() {
    const TimedEvent e = heap_.front();
    const TimedEvent last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n == 0) return e;
    // Sift the last event down from the root: move the earliest child up while it is earlier.
    std::size_t i = 0;
    while (true) {
      const std::size_t c = kArity * i + 1;
      if (c >= n) break;
      std::size_t best = c;
      const std::size_t end = std::min(c + kArity, n);
      for (std::size_t k = c + 1; k < end; ++k) best = earlier(heap_[k], heap_[best]) ? k : best;
      if (!earlier(heap_[best], last)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = last;
    return e;
  }
  std::size_t size() const { return heap_.size(); }

 private:
  static constexpr std::size_t kArity = 4;
  static constexpr std::uint64_t kNormal = std::uint64_t{1} << 62;  ///< order class of push(); push_first has 0
  static constexpr std::uint64_t kLast = std::uint64_t{1} << 63;    ///< order class of push_last()
  /// Times are never negative, so their bits order like the times: one 128-bit comparison, which
  /// compiles without branches (a pop's child comparisons are unpredictable).
  __extension__ using Key = unsigned __int128;  // GCC/Clang extension
  static Key key(const TimedEvent& e) { return (static_cast<Key>(std::bit_cast<std::uint64_t>(e.t)) << 64) | e.order; }
  static bool earlier(const TimedEvent& a, const TimedEvent& b) { return key(a) < key(b); }
  void insert(const TimedEvent& e) {
    heap_.push_back(e);
    std::size_t i = heap_.size() - 1;
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!earlier(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  std::vector<TimedEvent> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace swarmsim::sim::flow
