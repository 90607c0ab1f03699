#pragma once
// The electrical energy of a run's hosts. Each host draws idle power while it is on and more in
// proportion to its utilization, up to its busy draw at full load: the linear utilization power
// model (Fan, Weber and Barroso, "Power provisioning for a warehouse-sized computer", ISCA 2007,
// which found a server's draw close to linear in its utilization). A server is on from when it
// starts loading its blocks, a client from the start; either is off while it is down.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

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
  /// Seconds host `host` was on within [from, to] in each phase of `clock` (s), per phase.
  std::vector<double> on_seconds_by_phase(int host, double from, double to, const PhaseClock& clock) const;

 private:
  std::vector<double> on_since_;  ///< when the open interval began; -1 when off
  std::vector<std::vector<std::pair<double, double>>> closed_;  ///< [on, off) intervals, in order
};

/// The energy of a run's hosts over a window, servers then clients in host order.
struct EnergyReport {
  double window_s = 0;              ///< the window's length (s)
  std::vector<double> host_joules;  ///< per host: servers 0..S-1, then clients (J)
  std::vector<double> host_on_s;    ///< per host: seconds on within the window (s)
  double servers_joules = 0, clients_joules = 0;
  double idle_joules = 0;           ///< the part drawn at idle power (J)

  double joules() const { return servers_joules + clients_joules; }
  /// metrics.json's "energy" section: window_s, joules, servers_joules, clients_joules, idle_share,
  /// mean_power_w, and `per_key` (e.g. "joules_per_token") = joules / `units`, null when units is 0.
  nlohmann::json to_json(const std::string& per_key, double units) const;
};

/// The energy of every host of a run, from what its engine reports: a server is on from its
/// join_at and a client from the start, each off while down (NodeStateChanged), and busy for its
/// ComputeSpans' device-seconds. Every run kind feeds one, so all report energy alike.
class EnergyMeter {
 public:
  /// Servers on from their join_at (0 in the run kinds that take none), clients from 0.
  explicit EnergyMeter(const Scenario& sc);

  /// Feeds the meter from `signals`: compute spans and node states. The meter must outlive
  /// every emission (connect it to signals owned by the run, or that end with it).
  void observe(SimSignals& signals);
  /// Host `host` computed for `device_s` device-seconds (s).
  void computed(int host, double device_s) { busy_s_[static_cast<std::size_t>(host)] += device_s; }
  /// A compute span: its device-seconds, and with arrival phases their busy excess split over
  /// the phases the span overlaps, in proportion to the overlap.
  void computed(const ComputeSpan& e);
  /// Host `host` went down (up = false) or came back at `t` (s).
  void node_state(int host, bool up, double t);
  /// Device-seconds host `host` computed (s).
  double busy_s(int host) const { return busy_s_[static_cast<std::size_t>(host)]; }
  /// Each host's energy over [from, to] (s): idle draw while on, plus the busy excess for all its
  /// busy device-seconds (those are not split by time; a run's last work ends by its end).
  EnergyReport report(double from, double to) const;
  /// With workload.arrival "phases": the servers' and the clients' energy in each phase over
  /// [from, to] (J): idle draw while on in the phase's windows, busy excess of the spans in them.
  struct PhaseEnergy {
    std::vector<double> servers_joules, clients_joules;  ///< per phase (J)
  };
  PhaseEnergy phase_energy(double from, double to) const;

 private:
  const Scenario& sc_;
  std::vector<double> busy_s_;  ///< per host (s)
  PowerOnTimes on_;             ///< per host
  PhaseClock phases_;           ///< the workload's arrival phases (none: no phase figures)
  std::vector<double> phase_busy_servers_j_, phase_busy_clients_j_;  ///< per phase: busy excess (J)
  std::vector<double> scratch_;  ///< a span's seconds per phase
};

}  // namespace swarmsim::sim
