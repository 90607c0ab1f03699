#include "sim/swarm/latency_table.hpp"

#include <algorithm>
#include <unordered_map>

namespace swarmsim::sim {

LatencyTable::LatencyTable(const Scenario& sc)
    : n_(static_cast<int>(sc.nodes.size() + sc.clients.size())),
      model_(sc.network.latency),
      speed_km_s_(sc.network.fiber_speed_km_s),
      inflation_(sc.network.route_inflation) {
  std::vector<std::string> names;
  for (const NodeSpec& n : sc.nodes) {
    access_.push_back(n.access_latency_s);
    points_.push_back(n.location.value_or(topology::GeoPoint{}));
    names.push_back(n.name);
  }
  for (const ClientSpec& c : sc.clients) {
    access_.push_back(c.access_latency_s);
    points_.push_back(c.location.value_or(topology::GeoPoint{}));
    names.push_back(c.name);
  }
  if (model_ == LatencyModel::Matrix) {
    // The loader checked that the matrix names every host once; map its order to host order.
    std::unordered_map<std::string, int> row;
    for (std::size_t k = 0; k < sc.network.matrix_hosts.size(); ++k) row[sc.network.matrix_hosts[k]] = static_cast<int>(k);
    const std::size_t m = sc.network.matrix_hosts.size();
    matrix_one_way_.assign(static_cast<std::size_t>(n_) * n_, 0.0);
    for (int i = 0; i < n_; ++i)
      for (int j = 0; j < n_; ++j) {
        const auto ri = static_cast<std::size_t>(row.at(names[static_cast<std::size_t>(i)]));
        const auto rj = static_cast<std::size_t>(row.at(names[static_cast<std::size_t>(j)]));
        matrix_one_way_[static_cast<std::size_t>(i) * n_ + j] = sc.network.rtt_s[ri * m + rj] / 2.0;
      }
  }
}

double LatencyTable::base(int i, int j) const {
  if (i == j) return 0.0;
  if (!overrides_.empty())
    if (auto it = overrides_.find(key(i, j)); it != overrides_.end()) return it->second;
  if (model_ == LatencyModel::Matrix) return matrix_one_way_[static_cast<std::size_t>(i) * n_ + j];
  double* cached = nullptr;
  if (n_ <= kCachedHosts) {
    if (geo_cache_.empty()) geo_cache_.assign(static_cast<std::size_t>(n_) * n_, -1.0);
    cached = &geo_cache_[static_cast<std::size_t>(i) * n_ + j];
    if (*cached >= 0) return *cached;
  }
  const double km = topology::great_circle_km(points_[static_cast<std::size_t>(i)], points_[static_cast<std::size_t>(j)]);
  const double s = topology::propagation_delay_s(km, speed_km_s_, inflation_);
  if (cached) *cached = s;
  return s;
}

double LatencyTable::one_way(int i, int j) const {
  if (i == j) return 0.0;
  return access(i) + access(j) + base(i, j);
}

void LatencyTable::set_pair(int i, int j, double seconds) { overrides_[key(i, j)] = seconds; }

}  // namespace swarmsim::sim
