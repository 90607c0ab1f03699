#pragma once
// Churn drawn instead of listed: a swarm of volunteers' GPUs loses and regains servers all the time,
// and a scenario of a thousand servers cannot list every failure by hand. Each server alternates
// up and down periods (an alternating renewal process): up for an exponential time of mean MTBF,
// down for one of mean MTTR. Its long-run fraction of time up is MTBF / (MTBF + MTTR), so deriving
// MTBF = MTTR u / (1 - u) from the node's declared `uptime` u makes the swarm behave as its nodes
// declare, which eq. 18's reliability term reads (seed 002). Regional outages (a power cut, an
// ISP) take every server within a radius down together, on top of each one's own failures.
// Pure: no SimGrid.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// Mean down period (s) of `node` under `churn`: its own mttr_s when set, else churn.mttr_s.
double churn_mttr_s(const ChurnSpec& churn, const NodeSpec& node);

/// Mean up period (s) of `node` under `churn`: its own mtbf_s when set, else churn.mtbf_s, else
/// churn_mttr_s x uptime / (1 - uptime) for its declared uptime; infinity (never fails) for
/// uptime 1, 0 (never up) for uptime 0.
double churn_mtbf_s(const ChurnSpec& churn, const NodeSpec& node);

/// The node_down and node_up events `churn` draws for `node` in a scenario seeded `seed`: from
/// the node's join_at, an up period, a node_down, a down period, a node_up,
/// and so on while the failures start before churn.until_s (the last node_up may come after
/// it). The draws come from the seed and the node's name, so adding or reordering other nodes
/// leaves a node's failures as they were. Check churn_expected_events first: a short MTBF over a
/// long span draws many.
std::vector<ReplayEvent> churn_events(const ChurnSpec& churn, const NodeSpec& node, std::uint64_t seed);

/// A regional outage: servers down together over [start_s, end_s).
struct RegionalOutage {
  double start_s = 0.0, end_s = 0.0;
  int centre = 0;              ///< index into the scenario's nodes of the server it is centred on
  std::vector<int> servers;    ///< indices into the scenario's nodes of the servers it takes down, ascending
};

/// The outages churn.regional draws over `nodes` (every one located) for a scenario seeded `seed`,
/// in time order; empty without churn.regional. A server that has not joined when an outage
/// starts is spared by it. The centres are drawn among `nodes`, so the draws depend on the list.
std::vector<RegionalOutage> regional_outages(const ChurnSpec& churn, const std::vector<NodeSpec>& nodes, std::uint64_t seed);

/// The clients (indices into `clients`, ascending) within `radius_km` of outage `o`'s centre, a
/// server of `nodes`; every one located.
std::vector<int> clients_within(const RegionalOutage& o, const std::vector<NodeSpec>& nodes, const std::vector<ClientSpec>& clients,
                                double radius_km);

/// The union of down periods [start, end) as alternating node_down and node_up events for `node`,
/// in time order: overlapping or touching periods make one.
std::vector<ReplayEvent> down_periods_as_events(std::vector<std::pair<double, double>> periods, const std::string& node);

/// A client as drawn churn sees it: up from t = 0, with its own mtbf and mttr; one without an
/// mtbf never fails (clients declare no uptime, and churn.mtbf is the servers').
NodeSpec churning_client(const ClientSpec& client);

/// Expected number of events churn_events draws for `node` (two per failure).
double churn_expected_events(const ChurnSpec& churn, const NodeSpec& node);

}  // namespace swarmsim::sim
