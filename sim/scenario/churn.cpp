#include "sim/scenario/churn.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/rng.hpp"
#include "topology/geo.hpp"

namespace swarmsim::sim {
namespace {

/// FNV-1a of a name: the node's stream, whatever its position in the scenario.
std::uint64_t name_hash(const std::string& name) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ULL;
  }
  return h;
}

}  // namespace

double churn_mttr_s(const ChurnSpec& churn, const NodeSpec& node) { return node.mttr_s.value_or(churn.mttr_s); }

double churn_mtbf_s(const ChurnSpec& churn, const NodeSpec& node) {
  if (node.mtbf_s) return *node.mtbf_s;
  if (churn.mtbf_s) return *churn.mtbf_s;
  if (node.uptime >= 1.0) return std::numeric_limits<double>::infinity();
  // Alternating renewal: the long-run fraction up is MTBF / (MTBF + MTTR) = uptime.
  return churn_mttr_s(churn, node) * node.uptime / (1.0 - node.uptime);
}

std::vector<ReplayEvent> churn_events(const ChurnSpec& churn, const NodeSpec& node, std::uint64_t seed) {
  std::vector<ReplayEvent> out;
  const double mtbf = churn_mtbf_s(churn, node), mttr = churn_mttr_s(churn, node);
  if (!std::isfinite(mtbf)) return out;
  Rng rng = Rng(seed ^ 0xC4B2E000ULL).split(name_hash(node.name));
  double t = node.join_at_s;
  while (true) {
    t += mtbf > 0 ? rng.exponential(1.0 / mtbf) : 0.0;
    if (t >= churn.until_s) break;
    out.push_back(ReplayEvent{t, EventAction::NodeDown, node.name, "", LinkDirection::Both, 0.0});
    if (mtbf <= 0) break;  // uptime 0: down for good
    t += rng.exponential(1.0 / mttr);
    out.push_back(ReplayEvent{t, EventAction::NodeUp, node.name, "", LinkDirection::Both, 0.0});
  }
  return out;
}

std::vector<RegionalOutage> regional_outages(const ChurnSpec& churn, const std::vector<NodeSpec>& nodes, std::uint64_t seed) {
  std::vector<RegionalOutage> out;
  if (!churn.regional || nodes.empty()) return out;
  const ChurnSpec::Regional& r = *churn.regional;
  Rng rng = Rng(seed ^ 0x0C7A6E00ULL).split(0x8E610A1ULL);
  double t = 0.0;
  while (true) {
    t += rng.exponential(1.0 / r.every_s);
    if (t >= churn.until_s) break;
    RegionalOutage o;
    o.start_s = t;
    o.centre = static_cast<int>(rng.below(nodes.size()));
    o.end_s = t + rng.exponential(1.0 / r.lasts_s);  // the region's power or network comes back at once
    const topology::GeoPoint centre = *nodes[static_cast<std::size_t>(o.centre)].location;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].join_at_s <= t && topology::great_circle_km(centre, *nodes[i].location) <= r.radius_km)
        o.servers.push_back(static_cast<int>(i));
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<int> clients_within(const RegionalOutage& o, const std::vector<NodeSpec>& nodes, const std::vector<ClientSpec>& clients,
                                double radius_km) {
  std::vector<int> out;
  const topology::GeoPoint centre = *nodes[static_cast<std::size_t>(o.centre)].location;
  for (std::size_t c = 0; c < clients.size(); ++c)
    if (topology::great_circle_km(centre, *clients[c].location) <= radius_km) out.push_back(static_cast<int>(c));
  return out;
}

std::vector<ReplayEvent> down_periods_as_events(std::vector<std::pair<double, double>> periods, const std::string& node) {
  std::sort(periods.begin(), periods.end());
  std::vector<ReplayEvent> out;
  for (std::size_t i = 0; i < periods.size();) {
    const double start = periods[i].first;
    double end = periods[i].second;
    for (++i; i < periods.size() && periods[i].first <= end; ++i) end = std::max(end, periods[i].second);
    out.push_back(ReplayEvent{start, EventAction::NodeDown, node, "", LinkDirection::Both, 0.0});
    if (std::isfinite(end)) out.push_back(ReplayEvent{end, EventAction::NodeUp, node, "", LinkDirection::Both, 0.0});
  }
  return out;
}

NodeSpec churning_client(const ClientSpec& client) {
  NodeSpec n;
  n.name = client.name;
  n.join_at_s = 0.0;
  n.uptime = 1.0;
  n.mtbf_s = client.mtbf_s.value_or(std::numeric_limits<double>::infinity());
  n.mttr_s = client.mttr_s;
  return n;
}

double churn_expected_events(const ChurnSpec& churn, const NodeSpec& node) {
  const double mtbf = churn_mtbf_s(churn, node);
  if (!std::isfinite(mtbf)) return 0.0;
  if (mtbf <= 0) return node.join_at_s < churn.until_s ? 1.0 : 0.0;
  const double span = std::max(0.0, churn.until_s - node.join_at_s);
  return 2.0 * span / (mtbf + churn_mttr_s(churn, node));
}

}  // namespace swarmsim::sim
