#pragma once
// The electrical energy of a run's hosts. Each host draws idle power while it is on and more in
// proportion to its utilization, up to its busy draw at full load: the linear utilization power
// model (Fan, Weber and Barroso, "Power provisioning for a warehouse-sized computer", ISCA 2007,
// which found a server's draw close to linear in its utilization). A server is on from when it
// starts loading its blocks, a client from the start; either is off while it is down.
#include <utility>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// Energy (J) of a host with draw `p` that was on for `on_s` seconds (s) and computed for `busy_s`
/// device-seconds (s) of them: idle x on + (busy - idle) x busy. Busy time is capped at on time
/// (a device is at most fully used).
double host_energy_j(const PowerDraw& p, double on_s, double busy_s);

/// When each host was on, from switch-on and switch-off times given in time order.
class PowerOnTimes {
 public:
  explicit PowerOnTimes(int hosts) : on_since_(static_cast<std::size_t>(hosts), -1.0), closed_(static_cast<std::size_t>(hosts)) {}

  /// Host `host` is on from `t` (s); nothing if it is on already.
  void switch_on(int host, double t);
  /// Host `host` is off from `t` (s); nothing if it is off already. A host switched on for a
  /// later time (a server's join_at) and off before it was never on.
  void switch_off(int host, double t);
  /// Seconds host `host` was on within [from, to] (s), an interval still open counted to `to`.
  double on_seconds(int host, double from, double to) const;

 private:
  std::vector<double> on_since_;  ///< when the open interval began; -1 when off
  std::vector<std::vector<std::pair<double, double>>> closed_;  ///< [on, off) intervals, in order
};

}  // namespace swarmsim::sim
