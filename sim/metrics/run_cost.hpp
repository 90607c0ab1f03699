#pragma once
// What a run costs in money: each host's rent over the seconds it was on and the price of the
// electricity it drew, over the same window as its energy (sim/metrics/energy.hpp), in the
// scenario's currency (top-level "costs", a host's own "costs"). Pure.
#include <string>

#include <nlohmann/json.hpp>

#include "sim/metrics/energy.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// A host's prices: its own, else the scenario's, else 0.
struct ResolvedPrices {
  double rent_per_s = 0.0;         ///< money per second on
  double electricity_per_j = 0.0;  ///< money per joule drawn
};
template <class Host>
ResolvedPrices host_prices(const Scenario& sc, const Host& h) {
  const CostSpec defaults = sc.costs.value_or(CostSpec{});
  const HostPrices own = h.costs.value_or(HostPrices{});
  return {own.rent_per_s.value_or(defaults.rent_per_s), own.electricity_per_j.value_or(defaults.electricity_per_j)};
}

/// The run's cost over `energy`'s window, in all and split.
struct RunCost {
  double rent = 0.0;         ///< Σ hosts rent x seconds on
  double electricity = 0.0;  ///< Σ hosts electricity price x joules
  double total() const { return rent + electricity; }
};

/// The cost of the hosts of `sc` whose energy and on-times `energy` holds.
RunCost run_cost(const Scenario& sc, const EnergyReport& energy);

/// metrics.json's "cost" section: currency, rent, electricity, total, and `per_key` = total x
/// `per` / `units` (e.g. "per_million_tokens" with per = 1e6), null when units is 0.
nlohmann::json run_cost_json(const Scenario& sc, const EnergyReport& energy, const std::string& per_key, double units, double per);

/// With workload.arrival "phases": adds to each entry of metrics.json's `phases` its energy over
/// the run's window (`energy_joules`, `servers_joules`, J) and per unit, `joules_<per>` and
/// `servers_joules_<per>` over the entry's `count_key` (null when 0).
void add_phase_energy(nlohmann::json& phases, const EnergyMeter::PhaseEnergy& e, const char* count_key, const std::string& per);

/// Adds the "energy" section of a run that answers requests (graph pipelines, Fisher B-trees,
/// coded inference) over [from, to] (s) to `metrics`: the EnergyReport's section with
/// joules_per_request over `completed` requests and "hosts" (per server and client: name, device,
/// busy device-seconds, joules); and, when the scenario sets prices, the "cost" section with
/// per_thousand_requests.
void add_request_energy_and_cost(nlohmann::json& metrics, const Scenario& sc, const EnergyMeter& meter, double from, double to,
                                 int completed);

}  // namespace swarmsim::sim
