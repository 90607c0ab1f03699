#pragma once
// The clock of the flow engine: timed events popped in time order, ties in the order they were
// pushed (so a run is deterministic), platform changes first, wake-ups of waiting workers last.
// Events are small plain values; their owner dispatches them.
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <array>
#include <bit>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace swarmsim::sim::flow {

/// What an event wakes up; the flow engine dispatches on it.
enum class EventKind : std::uint8_t {
  Resume,      ///< resume the coroutine whose address is `payload`
  FlowActive,  ///< flow `payload` has paid its latency: its bytes start to flow
  FlowDone,    ///< flow `payload` may have delivered its last byte (stale unless `version` matches)
  ExecDone,    ///< host `payload`'s earliest execution may have ended (stale unless `version` matches)
  FlowTimeout, ///< flow `payload` (started as generation `version`) is late: its sender gives up on it
  FlowSolve,   ///< the network re-shares the links whose flows changed at this instant
};

/// One timed event.
struct TimedEvent {
  double t = 0.0;                ///< simulated time (s)
  std::uint64_t order = 0;       ///< among equal times: platform changes first, worker wake-ups last, else push order
  std::uint64_t payload = 0;     ///< what it concerns (a coroutine address, a flow id, a host index)
  std::uint32_t version = 0;     ///< the owner's version when pushed; a newer one makes it stale
  EventKind kind = EventKind::Resume;
};

/// The pending timed events, earliest first: a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan,
/// 1990) over the events' 128-bit keys, with 4-bit digits. A simulation never schedules before
/// its clock, so keys only grow; an event sits in the bucket of the highest digit in which its
/// key differs from the last minimum found and of its value there, and a push is an append. A
/// pop takes the next event of the run (the earliest few, sorted); once the run is empty, the
/// lowest non-empty bucket becomes the run if it holds one chunk (at most 15 events), or gives
/// its minimum to the run and spreads its other events over the buckets of lower digits. An
/// event moves down at most once per digit, and not at all once it is among the few earliest: a
/// pop and a push take about half a binary heap's time with 2,000 or 20,000 events queued
/// (BM_EventQueueHold against BM_BinaryHeapHold), and sorting the small buckets saved 2.8% of a
/// 1,000-node run's instructions. Eight-bit digits cost a swarm run more cache misses (4,096
/// buckets) than they save instructions. An event pushed before the run's last one is sorted
/// into the run. The few events
/// pushed below the last minimum found (a platform change at the current instant, pushed after
/// a later-ranked event of that instant was seen) wait in a small binary heap that pops first.
/// Deadlines (push_deadline) wait outside in buckets of simulated time until their bucket comes up.
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
    if (!settled()) settle();
    return queued_ == 0;
  }
  /// The earliest event (the queue must not be empty).
  const TimedEvent& top() {
    if (!settled()) settle();
    return early_.empty() ? run_[run_head_] : early_.front();
  }
  /// Removes and returns the earliest event (the queue must not be empty).
  TimedEvent pop() {
    if (!settled()) settle();
    --queued_;
    if (!early_.empty()) {
      std::pop_heap(early_.begin(), early_.end(), Later{});
      const TimedEvent e = early_.back();
      early_.pop_back();
      return e;
    }
    const TimedEvent e = run_[run_head_++];
    if (run_head_ == run_.size()) {
      run_.clear();
      run_head_ = 0;
    }
    return e;
  }
  /// Events pushed and not popped, deadlines not yet dropped included.
  std::size_t size() const { return queued_ + waiting_; }
  /// Events the buckets have room for (their memory is this times 33 bytes): at most the most
  /// events ever queued at once, plus a partly filled chunk per bucket and a slab's worth.
  std::size_t bucket_capacity() const { return slabs_.size() * kSlabChunks * kChunkEvents; }
  /// Buckets of the radix heap: 32 digits of 4 bits, 16 values each.
  static constexpr int kBuckets = 512;
  /// Events per chunk of a bucket's list (a chunk is 496 bytes), and chunks per slab.
  static constexpr std::uint32_t kChunkEvents = 15;
  static constexpr std::size_t kSlabChunks = 64;
  /// A run grows to at most 4 times this many events before its later half returns to the buckets.
  static constexpr std::size_t kRunEvents = 16;

 private:
  static constexpr std::uint64_t kNormal = std::uint64_t{1} << 62;  ///< order class of push(); push_first has 0
  static constexpr std::uint64_t kLast = std::uint64_t{1} << 63;    ///< order class of push_last()
  static constexpr int kDigitBits = 4;
  static constexpr int kDigits = 128 / kDigitBits;
  static constexpr int kValues = 1 << kDigitBits;
  static_assert(kBuckets == kDigits * kValues);
  /// Up to kChunkEvents events of one bucket, and the bucket's next chunk.
  struct Chunk {
    TimedEvent events[kChunkEvents];
    Chunk* next = nullptr;
    std::uint32_t count = 0;
  };
  /// Times are never negative, so their bits order like the times: the key orders events by
  /// time, then order class, then push order, and no two events share one.
  __extension__ using Key = unsigned __int128;  // GCC/Clang extension
  static Key key(const TimedEvent& e) { return (static_cast<Key>(std::bit_cast<std::uint64_t>(e.t)) << 64) | e.order; }
  struct Later {
    bool operator()(const TimedEvent& a, const TimedEvent& b) const { return key(b) < key(a); }
  };
  struct Earlier {
    bool operator()(const TimedEvent& a, const TimedEvent& b) const { return key(a) < key(b); }
  };
  /// The bucket of key `k` (k > the last minimum): the highest digit position d in which k
  /// differs from the last minimum, and k's digit there, as d * kValues + digit.
  int radix_bucket(Key k) const {
    const Key x = k ^ last_min_;
    const auto hi = static_cast<std::uint64_t>(x >> 64), lo = static_cast<std::uint64_t>(x);
    const int bit = hi != 0 ? 127 - std::countl_zero(hi) : 63 - std::countl_zero(lo);
    const int d = bit / kDigitBits;
    const auto word = static_cast<std::uint64_t>(d * kDigitBits >= 64 ? k >> 64 : k);
    return d * kValues + static_cast<int>((word >> ((d * kDigitBits) & 63)) & (kValues - 1));
  }
  /// floor(t / bucket): monotone in t, so an event in a later bucket is later than every event of
  /// an earlier one (floor(x / w) < floor(y / w) implies x < y in floating point too).
  double bucket(double t) const { return std::floor(t / bucket_s_); }
  /// Whether settle() has nothing to do: the earliest event is found and no deadline waits.
  bool settled() const { return (run_head_ < run_.size() || !early_.empty()) && deadlines_.empty(); }
  /// Brings the earliest event to the front (or leaves it in early_), then moves the deadlines of
  /// every bucket the earliest event has reached (or all of the first bucket, when no event is
  /// queued) into the queue, dropping those no longer pending. Their keys are kept, so they pop
  /// where push() would have put them.
  void settle() {
    while (true) {
      if (early_.empty() && run_.empty() && queued_ > 0) spread_lowest();
      if (deadlines_.empty()) return;
      if (queued_ > 0 && bucket((early_.empty() ? run_[run_head_] : early_.front()).t) < deadlines_.begin()->first) return;
      const auto first = deadlines_.begin();
      for (const TimedEvent& e : first->second)
        if (!deadline_still_pending || deadline_still_pending(e)) insert(e);
      waiting_ -= first->second.size();
      deadlines_.erase(first);
    }
  }
  /// Nothing is left before the buckets: the lowest occupied bucket's events come out. A bucket of
  /// one chunk (at most kChunkEvents events) is sorted into the run and pops in order from there,
  /// without moving down digit by digit; a larger one gives up its minimum to the run, which
  /// becomes the new last minimum, and its other events move to the buckets of the highest digit
  /// in which they differ from it. Each chunk returns to the free list once read, so a burst
  /// moving down takes no more chunks than it has events.
  void spread_lowest() {
    const int d = std::countr_zero(positions_);
    std::uint16_t& values = values_[static_cast<std::size_t>(d)];
    const int v = std::countr_zero(values);
    const auto b = static_cast<std::size_t>(d * kValues + v);
    Chunk* list = head_[b];
    head_[b] = nullptr;
    if ((values &= static_cast<std::uint16_t>(~(1u << v))) == 0) positions_ &= ~(1u << d);
    if (list->next == nullptr) {
      run_.assign(list->events, list->events + list->count);
      std::sort(run_.begin(), run_.end(), Earlier{});
      last_min_ = key(run_.front());
      list->next = free_;
      free_ = list;
      return;
    }
    const TimedEvent* least = &list->events[0];
    Key least_key = key(*least);
    for (const Chunk* c = list; c != nullptr; c = c->next)
      for (std::uint32_t i = 0; i < c->count; ++i)
        if (const Key k = key(c->events[i]); k < least_key) {
          least_key = k;
          least = &c->events[i];
        }
    last_min_ = least_key;
    run_.push_back(*least);
    while (list != nullptr) {
      Chunk* const next = list->next;
      for (std::uint32_t i = 0; i < list->count; ++i)
        if (&list->events[i] != least) place(list->events[i]);
      list->next = free_;  // read in full: free for the events placed next
      free_ = list;
      list = next;
    }
  }
  void place(const TimedEvent& e) {
    const auto b = static_cast<std::size_t>(radix_bucket(key(e)));
    Chunk* h = head_[b];
    if (h == nullptr || h->count == kChunkEvents) {
      Chunk* const c = new_chunk();
      c->next = h;
      c->count = 0;
      head_[b] = h = c;
      values_[b / kValues] |= static_cast<std::uint16_t>(1u << (b % kValues));
      positions_ |= 1u << (b / kValues);
    }
    h->events[h->count++] = e;
  }
  Chunk* new_chunk() {
    if (free_ == nullptr) {  // a new slab's chunks join the free list
      slabs_.push_back(std::make_unique<Chunk[]>(kSlabChunks));
      for (std::size_t i = 0; i < kSlabChunks; ++i) {
        slabs_.back()[i].next = free_;
        free_ = &slabs_.back()[i];
      }
    }
    Chunk* const c = free_;
    free_ = c->next;
    return c;
  }
  void insert(const TimedEvent& e) {
    ++queued_;
    const Key k = key(e);
    if (k < last_min_) {  // below the last minimum: before every event of the run and the buckets
      early_.push_back(e);
      std::push_heap(early_.begin(), early_.end(), Later{});
      return;
    }
    if (run_head_ < run_.size() && k < key(run_.back())) {  // among the run's events: sorted in
      if (run_head_ >= kRunEvents) {  // drop what has popped
        run_.erase(run_.begin(), run_.begin() + static_cast<std::ptrdiff_t>(run_head_));
        run_head_ = 0;
      }
      const auto at = std::upper_bound(run_.begin() + static_cast<std::ptrdiff_t>(run_head_), run_.end(), e, Earlier{});
      run_.insert(at, e);
      if (run_.size() - run_head_ > 4 * kRunEvents) {  // too long to insert into: its later half back to the buckets
        const std::size_t keep = run_head_ + 2 * kRunEvents;
        for (std::size_t i = keep; i < run_.size(); ++i) place(run_[i]);
        run_.resize(keep);
      }
      return;
    }
    place(e);
  }
  /// Bucket d * kValues + v holds events whose keys first differ from last_min_ in digit d and
  /// have the value v there (the event of key last_min_ is the front). A bucket is a list of
  /// chunks, the one being filled first; chunks come from slabs that never move and go back to
  /// one free list, so memory follows the events queued, not each bucket's busiest moment.
  std::array<Chunk*, kBuckets> head_{};
  std::vector<std::unique_ptr<Chunk[]>> slabs_;  ///< owns every chunk
  Chunk* free_ = nullptr;                        ///< free chunks, linked through `next`
  /// The earliest events outside early_, sorted, from run_head_ on; every bucketed event is later.
  std::vector<TimedEvent> run_;
  std::size_t run_head_ = 0;
  /// Bit v of values_[d] set: bucket d * kValues + v holds events.
  std::array<std::uint16_t, kDigits> values_{};
  std::uint32_t positions_ = 0;  ///< bit d set: values_[d] is not all 0
  Key last_min_ = 0;
  std::vector<TimedEvent> early_;  ///< binary min-heap of events below last_min_
  std::size_t queued_ = 0;         ///< events in the buckets and early_
  double bucket_s_;
  std::map<double, std::vector<TimedEvent>> deadlines_;  ///< by bucket(t), in push order within one
  std::size_t waiting_ = 0;                              ///< events in deadlines_
  std::uint64_t next_seq_ = 0;
};

}  // namespace swarmsim::sim::flow
