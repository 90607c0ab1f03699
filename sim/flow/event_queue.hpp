#pragma once
// The clock of the flow engine: timed events popped in time order, ties in the order they were
// pushed (so a run is deterministic), platform changes first, wake-ups of waiting workers last.
// Events are small plain values; their owner dispatches them.
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <bit>
#include <functional>
#include <map>
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
/// 1,000-node swarm pops a few million events a second. Deadlines (push_deadline) wait outside
/// the heap in buckets of simulated time until their bucket comes up.
class EventQueue {
 public:
  /// Deadlines wait in buckets `deadline_bucket_s` wide (s, positive).
  explicit EventQueue(double deadline_bucket_s = 1.0) : bucket_s_(deadline_bucket_s) {}

  /// Asked when a deadline's bucket comes up: false drops the deadline (what it guarded is over).
  /// Unset, every deadline is kept.
  std::function<bool(const TimedEvent&)> deadline_still_pending;

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
  /// Schedules an event like push(), for one that is usually obsolete before it is due (a
  /// transfer's timeout): it enters the heap only when the heap reaches its bucket, and only if
  /// deadline_still_pending accepts it then. A swarm with thousands of transfers a second would
  /// otherwise keep every finished transfer's timeout in the heap for its whole length, and each
  /// pop would walk a heap a hundred times larger. Pops come out in the same order as with push().
  void push_deadline(double t, EventKind kind, std::uint64_t payload, std::uint32_t version = 0) {
    const TimedEvent e{t + 0.0, kNormal | next_seq_++, payload, version, kind};
    deadlines_[bucket(e.t)].push_back(e);
    ++waiting_;
  }
  bool empty() {
    settle();
    return heap_.empty();
  }
  /// The earliest event (the queue must not be empty).
  const TimedEvent& top() {
    settle();
    return heap_.front();
  }
  /// Removes and returns the earliest event (the queue must not be empty).
  [[gnu::noinline]] TimedEvent pop() {
    settle();
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
  /// Events pushed and not popped, deadlines not yet dropped included.
  std::size_t size() const { return heap_.size() + waiting_; }

 private:
  static constexpr std::size_t kArity = 4;
  static constexpr std::uint64_t kNormal = std::uint64_t{1} << 62;  ///< order class of push(); push_first has 0
  static constexpr std::uint64_t kLast = std::uint64_t{1} << 63;    ///< order class of push_last()
  /// Times are never negative, so their bits order like the times: one 128-bit comparison, which
  /// compiles without branches (a pop's child comparisons are unpredictable).
  __extension__ using Key = unsigned __int128;  // GCC/Clang extension
  static Key key(const TimedEvent& e) { return (static_cast<Key>(std::bit_cast<std::uint64_t>(e.t)) << 64) | e.order; }
  static bool earlier(const TimedEvent& a, const TimedEvent& b) { return key(a) < key(b); }
  /// floor(t / bucket): monotone in t, so an event in a later bucket is later than every event of
  /// an earlier one (floor(x / w) < floor(y / w) implies x < y in floating point too).
  double bucket(double t) const { return std::floor(t / bucket_s_); }
  /// Moves the deadlines of every bucket the heap has reached (or all of the first bucket, when
  /// the heap is empty) into the heap, dropping those no longer pending. Their keys are kept, so
  /// they pop where push() would have put them.
  void settle() {
    while (!deadlines_.empty() && (heap_.empty() || bucket(heap_.front().t) >= deadlines_.begin()->first)) {
      const auto first = deadlines_.begin();
      for (const TimedEvent& e : first->second)
        if (!deadline_still_pending || deadline_still_pending(e)) insert(e);
      waiting_ -= first->second.size();
      deadlines_.erase(first);
    }
  }
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
  double bucket_s_;
  std::map<double, std::vector<TimedEvent>> deadlines_;  ///< by bucket(t), in push order within one
  std::size_t waiting_ = 0;                              ///< events in deadlines_
  std::uint64_t next_seq_ = 0;
};

}  // namespace swarmsim::sim::flow
