#include "sim/metrics/energy.hpp"

#include <algorithm>

namespace swarmsim::sim {

double host_energy_j(const PowerDraw& p, double on_s, double busy_s) {
  return p.idle_w * on_s + (p.busy_w - p.idle_w) * std::clamp(busy_s, 0.0, on_s);
}

void PowerOnTimes::switch_on(int host, double t) {
  double& since = on_since_[static_cast<std::size_t>(host)];
  if (since < 0) since = t;
}

void PowerOnTimes::switch_off(int host, double t) {
  double& since = on_since_[static_cast<std::size_t>(host)];
  if (since < 0) return;
  if (t > since) closed_[static_cast<std::size_t>(host)].emplace_back(since, t);  // off before it came on: never on
  since = -1.0;
}

double PowerOnTimes::on_seconds(int host, double from, double to) const {
  const auto overlap = [&](double a, double b) { return std::max(0.0, std::min(b, to) - std::max(a, from)); };
  double s = 0.0;
  for (const auto& [a, b] : closed_[static_cast<std::size_t>(host)]) s += overlap(a, b);
  if (const double since = on_since_[static_cast<std::size_t>(host)]; since >= 0) s += overlap(since, to);
  return s;
}

std::vector<double> PowerOnTimes::on_seconds_by_phase(int host, double from, double to, const PhaseClock& clock) const {
  std::vector<double> s(static_cast<std::size_t>(clock.phases()), 0.0);
  for (const auto& [a, b] : closed_[static_cast<std::size_t>(host)]) clock.add_seconds_by_phase(std::max(a, from), std::min(b, to), s);
  if (const double since = on_since_[static_cast<std::size_t>(host)]; since >= 0) clock.add_seconds_by_phase(std::max(since, from), to, s);
  return s;
}

nlohmann::json EnergyReport::to_json(const std::string& per_key, double units) const {
  const double j = joules();
  return nlohmann::json{{"window_s", window_s},
                        {"joules", j},
                        {"servers_joules", servers_joules},
                        {"clients_joules", clients_joules},
                        {"idle_share", j > 0 ? idle_joules / j : 0.0},
                        {"mean_power_w", window_s > 0 ? j / window_s : 0.0},
                        {per_key, units > 0 ? nlohmann::json(j / units) : nlohmann::json(nullptr)}};
}

EnergyMeter::EnergyMeter(const Scenario& sc)
    : sc_(sc),
      busy_s_(sc.nodes.size() + sc.clients.size(), 0.0),
      on_(static_cast<int>(sc.nodes.size() + sc.clients.size())),
      phases_(sc.workload),
      phase_busy_servers_j_(sc.workload.phases.size(), 0.0),
      phase_busy_clients_j_(sc.workload.phases.size(), 0.0) {
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) on_.switch_on(static_cast<int>(i), sc.nodes[i].join_at_s);
  for (std::size_t c = 0; c < sc.clients.size(); ++c) on_.switch_on(static_cast<int>(sc.nodes.size() + c), 0.0);
}

void EnergyMeter::computed(const ComputeSpan& e) {
  computed(e.host, e.device_seconds);
  if (phases_.phases() == 0) return;
  const std::size_t servers = sc_.nodes.size();
  const auto h = static_cast<std::size_t>(e.host);
  const PowerDraw p = h < servers ? power_draw(sc_.nodes[h]) : power_draw(sc_.clients[h - servers]);
  std::vector<double>& into = h < servers ? phase_busy_servers_j_ : phase_busy_clients_j_;
  const double excess_j = (p.busy_w - p.idle_w) * e.device_seconds;
  if (const int held = phases_.phase_holding(e.start, e.end); held >= 0) {  // within one phase: no split
    into[static_cast<std::size_t>(held)] += excess_j;
  } else if (e.end > e.start) {  // split over the phases the span overlaps, in proportion
    scratch_.assign(into.size(), 0.0);
    phases_.add_seconds_by_phase(e.start, e.end, scratch_);
    for (std::size_t i = 0; i < into.size(); ++i)
      if (scratch_[i] > 0) into[i] += excess_j * scratch_[i] / (e.end - e.start);
  } else if (const int at = phases_.phase_at(e.start); at >= 0) {
    into[static_cast<std::size_t>(at)] += excess_j;
  }
}

EnergyMeter::PhaseEnergy EnergyMeter::phase_energy(double from, double to) const {
  PhaseEnergy pe{phase_busy_servers_j_, phase_busy_clients_j_};
  const std::size_t servers = sc_.nodes.size();
  for (std::size_t h = 0; h < busy_s_.size(); ++h) {
    const PowerDraw p = h < servers ? power_draw(sc_.nodes[h]) : power_draw(sc_.clients[h - servers]);
    const std::vector<double> on = on_.on_seconds_by_phase(static_cast<int>(h), from, to, phases_);
    std::vector<double>& into = h < servers ? pe.servers_joules : pe.clients_joules;
    for (std::size_t i = 0; i < on.size(); ++i) into[i] += p.idle_w * on[i];
  }
  return pe;
}

void EnergyMeter::observe(SimSignals& signals) {
  signals.on_compute.connect([this](const ComputeSpan& e) { computed(e); });
  signals.on_node_state.connect([this](const NodeStateChanged& e) { node_state(e.node, e.up, e.t); });
}

void EnergyMeter::node_state(int host, bool up, double t) {
  if (up)
    on_.switch_on(host, t);
  else
    on_.switch_off(host, t);
}

EnergyReport EnergyMeter::report(double from, double to) const {
  EnergyReport r;
  r.window_s = std::max(0.0, to - from);
  const std::size_t servers = sc_.nodes.size();
  for (std::size_t h = 0; h < busy_s_.size(); ++h) {
    const PowerDraw p = h < servers ? power_draw(sc_.nodes[h]) : power_draw(sc_.clients[h - servers]);
    const double on_s = on_.on_seconds(static_cast<int>(h), from, to);
    const double j = host_energy_j(p, on_s, busy_s_[h]);
    r.host_joules.push_back(j);
    r.host_on_s.push_back(on_s);
    (h < servers ? r.servers_joules : r.clients_joules) += j;
    r.idle_joules += p.idle_w * on_s;
  }
  return r;
}

}  // namespace swarmsim::sim
