#include "sim/swarm/latency_table.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>

namespace swarmsim::sim {

LatencyTable::LatencyTable(const Scenario& sc)
    : n_(static_cast<int>(sc.nodes.size() + sc.clients.size())),
      model_(sc.network.latency),
      speed_km_s_(sc.network.fiber_speed_km_s),
      inflation_(sc.network.route_inflation) {
  std::vector<std::string> names;
  std::map<std::pair<double, double>, int> places;
  const auto locate = [&](const topology::GeoPoint& p) {
    const auto [it, added] = places.try_emplace({p.lat_deg, p.lon_deg}, static_cast<int>(points_.size()));
    if (added) points_.push_back(topology::unit_vector(p));
    place_.push_back(it->second);
  };
  for (const NodeSpec& n : sc.nodes) {
    access_.push_back(n.access_latency_s);
    locate(n.location.value_or(topology::GeoPoint{}));
    names.push_back(n.name);
  }
  for (const ClientSpec& c : sc.clients) {
    access_.push_back(c.access_latency_s);
    locate(c.location.value_or(topology::GeoPoint{}));
    names.push_back(c.name);
  }
  client_row_.assign(points_.size(), -1);
  int rows = 0;
  for (std::size_t h = sc.nodes.size(); h < place_.size(); ++h)
    if (int& row = client_row_[static_cast<std::size_t>(place_[h])]; row < 0) row = rows++;
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
  const auto a = static_cast<std::size_t>(place_[static_cast<std::size_t>(i)]);
  const auto b = static_cast<std::size_t>(place_[static_cast<std::size_t>(j)]);
  const std::size_t places = points_.size();
  double* cached = nullptr;
  if (places <= kCachedPlaces) {
    if (geo_cache_.empty()) geo_cache_.assign(places * places, -1.0);
    cached = &geo_cache_[a * places + b];
    if (*cached >= 0) return *cached;
  } else if (const int row = client_row_[a] >= 0 ? client_row_[a] : client_row_[b]; row >= 0) {
    // arc_km is symmetric to the bit (the differences only change sign), so one row serves both
    // directions.
    if (client_rows_.empty()) {
      const int rows = *std::max_element(client_row_.begin(), client_row_.end()) + 1;
      client_rows_.assign(static_cast<std::size_t>(rows) * places, -1.0);
    }
    cached = &client_rows_[static_cast<std::size_t>(row) * places + (client_row_[a] >= 0 ? b : a)];
    if (*cached >= 0) return *cached;
  }
  const double km = topology::arc_km(points_[a], points_[b]);
  const double s = topology::propagation_delay_s(km, speed_km_s_, inflation_);
  if (cached) *cached = s;
  return s;
}

double LatencyTable::one_way(int i, int j) const {
  if (i == j) return 0.0;
  return access(i) + access(j) + base(i, j);
}

std::pair<int, int> LatencyTable::farthest_pair() const {
  std::pair<int, int> best{-1, -1};
  double longest = -1.0;
  const auto consider = [&](int i, int j) {
    if (i < 0 || j < 0 || i == j) return;
    const double rtt = one_way(i, j) + one_way(j, i);
    if (rtt > longest) {
      longest = rtt;
      best = {std::min(i, j), std::max(i, j)};
    }
  };
  if (model_ == LatencyModel::Matrix) {
    for (int i = 0; i < n_; ++i)
      for (int j = i + 1; j < n_; ++j) consider(i, j);
    return best;
  }
  // Per location, the two hosts with the longest access latencies: the farthest pair is two
  // locations' first ones, or one location's first and second.
  std::vector<std::pair<int, int>> top(points_.size(), {-1, -1});
  for (int h = 0; h < n_; ++h) {
    auto& [first, second] = top[static_cast<std::size_t>(place_[static_cast<std::size_t>(h)])];
    if (first < 0 || access(h) > access(first)) {
      second = first;
      first = h;
    } else if (second < 0 || access(h) > access(second)) {
      second = h;
    }
  }
  for (std::size_t a = 0; a < top.size(); ++a) {
    consider(top[a].first, top[a].second);
    for (std::size_t b = a + 1; b < top.size(); ++b) consider(top[a].first, top[b].first);
  }
  return best;
}

void LatencyTable::set_pair(int i, int j, double seconds) { overrides_[key(i, j)] = seconds; }

}  // namespace swarmsim::sim
