#include "sim/swarm/latency_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

namespace swarmsim::sim {

LatencyTable::LatencyTable(const Scenario& sc)
    : n_(static_cast<int>(sc.nodes.size() + sc.clients.size())),
      model_(sc.network.latency),
      speed_km_s_(sc.network.fiber_speed_km_s),
      inflation_(sc.network.route_inflation),
      floor_s_per_chord_(topology::kEarthRadiusKm * sc.network.route_inflation / sc.network.fiber_speed_km_s * (1.0 - 1e-9)) {
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
  if (model_ == LatencyModel::Geo) build_regions();
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

std::pair<int, int> LatencyTable::farthest_pair() const {
  std::pair<int, int> best{-1, -1};
  double longest = -1.0;
  // Pairs are ranked by round trip, then by `order` (the scan order of the plain O(P^2) loop), so
  // the answer does not depend on the order in which pairs are tried.
  std::pair<std::size_t, std::size_t> best_order{SIZE_MAX, SIZE_MAX};
  // Returns the pair's round trip (-1 for no pair).
  const auto consider = [&](int i, int j, std::pair<std::size_t, std::size_t> order) {
    if (i < 0 || j < 0 || i == j) return -1.0;
    const double rtt = one_way(i, j) + one_way(j, i);
    if (rtt > longest || (rtt == longest && order < best_order)) {
      longest = rtt;
      best = {std::min(i, j), std::max(i, j)};
      best_order = order;
    }
    return rtt;
  };
  if (model_ == LatencyModel::Matrix) {
    for (int i = 0; i < n_; ++i)
      for (int j = i + 1; j < n_; ++j) consider(i, j, {static_cast<std::size_t>(i), static_cast<std::size_t>(j)});
    return best;
  }
  // Per location, the two hosts with the longest access latencies: the farthest pair is two
  // locations' first ones, or one location's first and second.
  const std::size_t P = points_.size();
  std::vector<std::pair<int, int>> top(P, {-1, -1});
  for (int h = 0; h < n_; ++h) {
    auto& [first, second] = top[static_cast<std::size_t>(place_[static_cast<std::size_t>(h)])];
    if (first < 0 || access(h) > access(first)) {
      second = first;
      first = h;
    } else if (second < 0 || access(h) > access(second)) {
      second = h;
    }
  }
  double max_access = 0.0;
  for (std::size_t a = 0; a < P; ++a) {
    consider(top[a].first, top[a].second, {a, a});
    max_access = std::max(max_access, access(top[a].first));
  }
  // A good round trip early makes the bound below prune: the farthest location from location 0,
  // then the farthest from that one (a double sweep).
  std::size_t from = 0;
  for (int sweep = 0; sweep < 2 && P > 1; ++sweep) {
    std::size_t far = from;
    double far_rtt = -1.0;
    for (std::size_t b = 0; b < P; ++b) {
      if (b == from) continue;
      if (const double rtt = consider(top[from].first, top[b].first, {std::min(from, b), std::max(from, b)}); rtt > far_rtt) {
        far_rtt = rtt;
        far = b;
      }
    }
    from = far;
  }
  // Between locations a and b: rtt = 2 (access_a + access_b) + 2 propagation(arc(a, b)) <=
  // 2 (access_a + max_access) + 2 propagation(arc). A pair can only match `longest` if its arc is
  // at least the one that closes the gap, i.e. its squared chord is at least `min_chord2` (kept a
  // hair low for rounding); other pairs are skipped without a trigonometric call.
  const double km_per_s = speed_km_s_ / inflation_;
  for (std::size_t a = 0; a + 1 < P; ++a) {
    const topology::UnitVector& pa = points_[a];
    double for_longest = std::numeric_limits<double>::quiet_NaN(), min_chord2 = -1.0;
    for (std::size_t b = a + 1; b < P; ++b) {
      if (for_longest != longest) {  // `longest` grew: tighten the bound
        for_longest = longest;
        const double km = (longest / 2.0 - access(top[a].first) - max_access) * km_per_s;
        const double half_angle = km / (2.0 * topology::kEarthRadiusKm);
        min_chord2 = km <= 0 ? -1.0 : half_angle >= M_PI / 2 ? 4.0 * (1 - 1e-9) : 4.0 * std::pow(std::sin(half_angle), 2) * (1 - 1e-9);
      }
      const double dx = pa.x - points_[b].x, dy = pa.y - points_[b].y, dz = pa.z - points_[b].z;
      if (dx * dx + dy * dy + dz * dz >= min_chord2) consider(top[a].first, top[b].first, {a, b});
    }
  }
  return best;
}

void LatencyTable::set_pair(int i, int j, double seconds) { overrides_[key(i, j)] = seconds; }

void LatencyTable::set_access(int i, double seconds) {
  access_[static_cast<std::size_t>(i)] = seconds;
  if (regions_.empty()) return;
  Region& r = regions_[static_cast<std::size_t>(region_of(i))];
  r.least_access = std::numeric_limits<double>::infinity();
  for (const int h : r.hosts) r.least_access = std::min(r.least_access, access(h));
}

void LatencyTable::build_regions() {
  // A cube map: a location's largest coordinate picks a face, the other two (divided by it) a
  // cell of an n x n grid on that face. n = sqrt(P / 256) rounded (at least 1): 24 cells for 1,000
  // places, 216 for 10,000. A router visits every region a step and rules out the far ones, so
  // fewer regions cost less per step and rule out less: on BM_SwarmHopsFlow/1000 (1,050 places),
  // n = 1, 2, 3 and 6 took 2.70G, 2.63G, 2.66G and 2.87G instructions (callgrind).
  const std::size_t P = points_.size();
  const int n = std::clamp(static_cast<int>(std::lround(std::sqrt(static_cast<double>(P) / 256.0))), 1, 64);
  const auto cell = [n](const topology::UnitVector& p) {
    const double ax = std::abs(p.x), ay = std::abs(p.y), az = std::abs(p.z);
    int face;
    double u, v, m;
    if (ax >= ay && ax >= az) {
      face = p.x >= 0 ? 0 : 1, m = ax, u = p.y, v = p.z;
    } else if (ay >= az) {
      face = p.y >= 0 ? 2 : 3, m = ay, u = p.x, v = p.z;
    } else {
      face = p.z >= 0 ? 4 : 5, m = az, u = p.x, v = p.y;
    }
    const auto grid = [&](double w) { return std::clamp(static_cast<int>((w / m + 1.0) / 2.0 * n), 0, n - 1); };
    return (face * n + grid(u)) * n + grid(v);
  };
  std::map<int, int> region_of_cell;  // cells in order, so region numbers do not depend on hashing
  for (const topology::UnitVector& p : points_) region_of_cell.try_emplace(cell(p), 0);
  int next = 0;
  for (auto& [c, r] : region_of_cell) r = next++;
  regions_.assign(static_cast<std::size_t>(next), Region{});
  std::vector<int> region_of_place(P);
  std::vector<int> members(regions_.size(), 0);
  for (std::size_t a = 0; a < P; ++a) {
    const int r = region_of_cell.at(cell(points_[a]));
    region_of_place[a] = r;
    Region& g = regions_[static_cast<std::size_t>(r)];
    g.center.x += points_[a].x, g.center.y += points_[a].y, g.center.z += points_[a].z;
    ++members[static_cast<std::size_t>(r)];
  }
  for (std::size_t r = 0; r < regions_.size(); ++r) {
    topology::UnitVector& c = regions_[r].center;
    const double k = members[r];
    c.x /= k, c.y /= k, c.z /= k;
    regions_[r].least_access = std::numeric_limits<double>::infinity();
  }
  for (std::size_t a = 0; a < P; ++a) {
    Region& g = regions_[static_cast<std::size_t>(region_of_place[a])];
    g.radius = std::max(g.radius, topology::chord(points_[a], g.center));
  }
  // Rounded up well past the error of the chords computed from it (a few 1e-16 Earth radii).
  for (Region& g : regions_) g.radius = g.radius * (1.0 + 1e-12) + 1e-12;
  for (int h = 0; h < n_; ++h) region_of_host_.push_back(region_of_place[static_cast<std::size_t>(place_[static_cast<std::size_t>(h)])]);
  for (int h = 0; h < n_; ++h) {
    Region& g = regions_[static_cast<std::size_t>(region_of(h))];
    g.hosts.push_back(h);
    g.least_access = std::min(g.least_access, access(h));
  }
}

}  // namespace swarmsim::sim
