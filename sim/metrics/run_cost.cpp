#include "sim/metrics/run_cost.hpp"

namespace swarmsim::sim {

RunCost run_cost(const Scenario& sc, const EnergyReport& energy) {
  RunCost c;
  const auto add = [&](std::size_t host, const ResolvedPrices& p) {
    c.rent += p.rent_per_s * energy.host_on_s.at(host);
    c.electricity += p.electricity_per_j * energy.host_joules.at(host);
  };
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) add(i, host_prices(sc, sc.nodes[i]));
  for (std::size_t k = 0; k < sc.clients.size(); ++k) add(sc.nodes.size() + k, host_prices(sc, sc.clients[k]));
  return c;
}

nlohmann::json run_cost_json(const Scenario& sc, const EnergyReport& energy, const std::string& per_key, double units, double per) {
  const RunCost c = run_cost(sc, energy);
  return nlohmann::json{{"currency", sc.costs ? sc.costs->currency : CostSpec{}.currency},
                        {"rent", c.rent},
                        {"electricity", c.electricity},
                        {"total", c.total()},
                        {per_key, units > 0 ? nlohmann::json(c.total() * per / units) : nlohmann::json(nullptr)}};
}

void add_phase_energy(nlohmann::json& phases, const EnergyMeter::PhaseEnergy& e, const char* count_key, const std::string& per) {
  for (std::size_t i = 0; i < phases.size() && i < e.servers_joules.size(); ++i) {
    nlohmann::json& p = phases[i];
    const double servers = e.servers_joules[i], all = servers + e.clients_joules[i];
    const double n = p.value(count_key, 0.0);
    p["energy_joules"] = all;
    p["servers_joules"] = servers;
    p["joules_" + per] = n > 0 ? nlohmann::json(all / n) : nlohmann::json(nullptr);
    p["servers_joules_" + per] = n > 0 ? nlohmann::json(servers / n) : nlohmann::json(nullptr);
  }
}

void add_request_energy_and_cost(nlohmann::json& metrics, const Scenario& sc, const EnergyMeter& meter, double from, double to,
                                 int completed) {
  const EnergyReport r = meter.report(from, to);
  nlohmann::json out = r.to_json("joules_per_request", completed);
  nlohmann::json hosts = nlohmann::json::array();
  for (std::size_t h = 0; h < r.host_joules.size(); ++h) {
    const bool server = h < sc.nodes.size();
    hosts.push_back({{"name", server ? sc.nodes[h].name : sc.clients[h - sc.nodes.size()].name},
                     {"device", server ? sc.nodes[h].device->name : sc.clients[h - sc.nodes.size()].device->name},
                     {"busy_device_seconds", meter.busy_s(static_cast<int>(h))},
                     {"energy_joules", r.host_joules[h]}});
  }
  out["hosts"] = hosts;
  metrics["energy"] = out;
  if (metrics.contains("phases")) add_phase_energy(metrics["phases"], meter.phase_energy(from, to), "requests_arrived", "per_request");
  if (sc.priced()) metrics["cost"] = run_cost_json(sc, r, "per_thousand_requests", completed, 1e3);
}

}  // namespace swarmsim::sim
