#pragma once
// Observer signals: the simulator emits, the trace writer, metrics and GUI subscribe.
#include <functional>
#include <utility>
#include <vector>

namespace swarmsim::sim {

/// A list of `std::function` slots called in connection order. Not thread-safe: connect before
/// the run starts; slots run on the simulation thread.
template <class... Args>
class Signal {
 public:
  using Slot = std::function<void(Args...)>;
  /// Adds `slot`; it is called on every emit for the lifetime of the signal.
  void connect(Slot slot) { slots_.push_back(std::move(slot)); }
  /// Calls every slot with `args`.
  void operator()(const Args&... args) const {
    for (const Slot& s : slots_) s(args...);
  }
  bool empty() const { return slots_.empty(); }

 private:
  std::vector<Slot> slots_;
};

}  // namespace swarmsim::sim
