#pragma once
// The clock of the flow engine: timed events popped in time order, ties in the order they were
// pushed (so a run is deterministic), platform changes first. Events are small plain values; their owner dispatches them.
#include <cstdint>
#include <queue>
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
  std::uint64_t seq = 0;         ///< push order: breaks ties between equal times
  std::uint64_t payload = 0;     ///< what it concerns (a coroutine address, a flow id, a host index)
  std::uint32_t version = 0;     ///< the owner's version when pushed; a newer one makes it stale
  EventKind kind = EventKind::Resume;
  bool first = false;            ///< runs before the other events of its time (a change of the platform itself)
};

/// A min-heap of timed events.
class EventQueue {
 public:
  /// Schedules an event at time `t` (s).
  void push(double t, EventKind kind, std::uint64_t payload, std::uint32_t version = 0) {
    heap_.push(TimedEvent{t, next_seq_++, payload, version, kind, false});
  }
  /// Schedules an event that runs before every event of the same time not pushed this way, as
  /// SimGrid applies a platform's profiles (hosts going down, bandwidth changes) before its actors run.
  void push_first(double t, EventKind kind, std::uint64_t payload) {
    heap_.push(TimedEvent{t, next_seq_++, payload, 0, kind, true});
  }
  bool empty() const { return heap_.empty(); }
  /// The earliest event.
  const TimedEvent& top() const { return heap_.top(); }
  /// Removes and returns the earliest event.
  TimedEvent pop() {
    TimedEvent e = heap_.top();
    heap_.pop();
    return e;
  }
  std::size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const TimedEvent& a, const TimedEvent& b) const {
      if (a.t != b.t) return a.t > b.t;
      if (a.first != b.first) return b.first;
      return a.seq > b.seq;
    }
  };
  std::priority_queue<TimedEvent, std::vector<TimedEvent>, Later> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace swarmsim::sim::flow
