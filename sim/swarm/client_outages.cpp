#include "sim/swarm/client_outages.hpp"

#include <limits>
#include <map>

#include "sim/units.hpp"

namespace swarmsim::sim {

ClientOutages::ClientOutages(const Scenario& sc)
    : servers_(static_cast<int>(sc.nodes.size())), outages_(sc.clients.size()) {
  std::map<std::string, std::size_t> client;
  for (std::size_t c = 0; c < sc.clients.size(); ++c) client.emplace(sc.clients[c].name, c);
  constexpr double kNever = std::numeric_limits<double>::infinity();
  for (const ReplayEvent& e : sc.events) {
    if (e.action != EventAction::NodeDown && e.action != EventAction::NodeUp) continue;
    const auto it = client.find(e.node);
    if (it == client.end()) continue;
    std::vector<Outage>& o = outages_[it->second];
    const bool is_down = !o.empty() && o.back().until_s == kNever;
    if (e.action == EventAction::NodeDown && !is_down) o.push_back({e.at_s, kNever});  // a second node_down changes nothing
    if (e.action == EventAction::NodeUp && is_down) o.back().until_s = e.at_s;
  }
  for (const auto& o : outages_) any_ = any_ || !o.empty();
}

const ClientOutages::Outage* ClientOutages::first_within(int host, double since, double t) const {
  const int c = host - servers_;
  if (c < 0 || c >= static_cast<int>(outages_.size())) return nullptr;
  for (const Outage& o : outages_[static_cast<std::size_t>(c)]) {
    if (t < o.from_s) return nullptr;  // disjoint and in time order
    if (since < o.until_s) return &o;
  }
  return nullptr;
}

bool ClientOutages::down(int host, double t) const { return first_within(host, t, t) != nullptr; }

bool ClientOutages::down_within(int host, double since, double t) const { return first_within(host, since, t) != nullptr; }

double ClientOutages::down_since(int host, double since, double t) const {
  const Outage* o = first_within(host, since, t);
  return o ? o->from_s : std::numeric_limits<double>::quiet_NaN();
}

std::string client_lost_reason(const std::string& client, double down_since_s, const std::string& stage) {
  if (stage == "arrival") return "its client " + client + " was down when it arrived (since " + format_duration(down_since_s) + ")";
  return "its client " + client + " went down at " + format_duration(down_since_s) + " (" + stage + ")";
}

}  // namespace swarmsim::sim
