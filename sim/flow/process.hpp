#pragma once
// The flow engine's processes: C++20 coroutines that the event queue resumes. A Process is a
// simulated activity the engine owns until it returns (a server, a session, a message); a Task is
// a coroutine another one awaits for its result. A suspended coroutine waits in a Waiter, whose
// address is the token the network and device models hand back. Frames come from a per-thread
// pool. No SimGrid.
#include <algorithm>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "sim/flow/event_queue.hpp"

namespace swarmsim::sim::flow {


/// How a wait ended.
enum class Outcome : std::uint8_t { Done, Failed, TimedOut };

/// A suspended coroutine and how its wait ended; its address is the token the models hand back.
struct Waiter {
  std::coroutine_handle<> handle;
  Outcome outcome = Outcome::Done;
};

inline std::uint64_t token_of(Waiter& w) { return reinterpret_cast<std::uint64_t>(&w); }
inline Waiter& waiter_of(std::uint64_t token) { return *reinterpret_cast<Waiter*>(token); }

/// Coroutine frames come and go with every message and session: recycle them per size (64-byte
/// classes up to 8 KiB) instead of going to malloc each time. Per thread, as runs may share a process.
class FramePool {
 public:
  static void* allocate(std::size_t n) {
    const std::size_t c = size_class(n);
    if (c < kClasses) {
      std::vector<void*>& free = pool().free_[c];
      if (!free.empty()) {
        void* p = free.back();
        free.pop_back();
        return p;
      }
      return ::operator new((c + 1) * kGrain);
    }
    return ::operator new(n);
  }
  static void release(void* p, std::size_t n) noexcept {
    const std::size_t c = size_class(n);
    if (c < kClasses) {
      try {
        pool().free_[c].push_back(p);
        return;
      } catch (...) {
      }
      ::operator delete(p);
      return;
    }
    ::operator delete(p);
  }

 private:
  static constexpr std::size_t kGrain = 64, kClasses = 128;
  static std::size_t size_class(std::size_t n) { return (n + kGrain - 1) / kGrain - 1; }
  struct Lists {
    std::vector<void*> free_[kClasses];
    ~Lists() {
      for (auto& list : free_)
        for (void* p : list) ::operator delete(p);
    }
  };
  static Lists& pool() {
    thread_local Lists lists;
    return lists;
  }
};

/// Frames of the engine's coroutines come from the FramePool.
struct PooledFrame {
  static void* operator new(std::size_t n) { return FramePool::allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { FramePool::release(p, n); }
};

/// A simulated process (a server loading its blocks, a session, a replay of events). It starts
/// suspended; the engine schedules its first resumption and owns its frame until it returns (then
/// the frame frees itself).
struct Process {
  struct promise_type : PooledFrame {
    std::unordered_set<void*>* live = nullptr;  ///< the engine's set of unfinished processes
    Waiter start;                               ///< what the engine resumes first
    Process get_return_object() { return Process{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    auto final_suspend() noexcept {
      struct Release {
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
          if (h.promise().live) h.promise().live->erase(h.address());
          h.destroy();
        }
        void await_resume() noexcept {}
      };
      return Release{};
    }
    void return_void() {}
    void unhandled_exception() { throw; }  // a bug, not a simulated failure: stop the run
  };
  std::coroutine_handle<promise_type> handle;
};

/// A coroutine another one awaits for its result (a checked delivery, an admission with retries).
/// It runs when awaited and hands control back when it returns; exceptions pass through.
template <class T>
class Task {
 public:
  struct promise_type : PooledFrame {
    std::optional<T> value;
    std::exception_ptr error;
    std::coroutine_handle<> continuation;
    Task get_return_object() { return Task{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    auto final_suspend() noexcept {
      struct Back {
        bool await_ready() noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept { return h.promise().continuation; }
        void await_resume() noexcept {}
      };
      return Back{};
    }
    template <class V>
    void return_value(V&& v) {
      value.emplace(std::forward<V>(v));
    }
    void unhandled_exception() { error = std::current_exception(); }
  };
  explicit Task(std::coroutine_handle<promise_type> h) : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }
  /// Hands the frame over to the caller, who must destroy it.
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    h_.promise().continuation = awaiting;
    return h_;
  }
  T await_resume() {
    if (h_.promise().error) std::rethrow_exception(h_.promise().error);
    return std::move(*h_.promise().value);
  }

 private:
  std::coroutine_handle<promise_type> h_;
};

/// Resumes at time `t` (now if that has passed); a replayed change of the platform (`first`) runs
/// before anything else of its time.
struct SleepUntil {
  EventQueue& queue;
  double now, t;
  bool first = false;
  Waiter w{};
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    w.handle = h;
    if (first)
      queue.push_first(std::max(t, now), EventKind::Resume, token_of(w));
    else
      queue.push(std::max(t, now), EventKind::Resume, token_of(w));
  }
  void await_resume() const noexcept {}
};

/// Where processes wait until another opens it (a failed stage being replaced, no spare up).
struct Gate {
  std::vector<Waiter*> waiting;
  void open(EventQueue& q, double now) {
    for (Waiter* w : waiting) q.push(now, EventKind::Resume, token_of(*w));
    waiting.clear();
  }
};
/// Waits at `gate` until it opens.
struct WaitAt {
  Gate& gate;
  Waiter w{};
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    w.handle = h;
    gate.waiting.push_back(&w);
  }
  void await_resume() const noexcept {}
};

/// The unfinished processes of a run: it owns their frames until they return, and destroys the
/// rest (daemons, and whatever the time limit cut short) with itself.
class Processes {
 public:
  Processes() = default;
  Processes(const Processes&) = delete;
  Processes& operator=(const Processes&) = delete;
  ~Processes() {
    for (void* p : live_) std::coroutine_handle<>::from_address(p).destroy();
  }
  /// Schedules `p`'s first resumption at `at` (s; not before `now`).
  void spawn(Process p, EventQueue& queue, double now, double at) {
    p.handle.promise().start.handle = p.handle;
    adopt(p);
    queue.push(std::max(at, now), EventKind::Resume, token_of(p.handle.promise().start));
  }
  /// spawn(), after every other event of `at` (EventQueue::push_last): as a SimGrid actor created
  /// at that instant runs after the actors already woken then.
  void spawn_last(Process p, EventQueue& queue, double now, double at) {
    p.handle.promise().start.handle = p.handle;
    adopt(p);
    queue.push_last(std::max(at, now), EventKind::Resume, token_of(p.handle.promise().start));
  }
  /// Runs `p` at once, inside the current event (a message or timer started where SimGrid would
  /// create its actor).
  void start_now(Process p) {
    adopt(p);
    p.handle.resume();
  }

 private:
  void adopt(Process p) {
    p.handle.promise().live = &live_;
    live_.insert(p.handle.address());
  }
  std::unordered_set<void*> live_;
};

}  // namespace swarmsim::sim::flow
