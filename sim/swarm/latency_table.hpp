#pragma once
// One-way latency between any two hosts of a swarm, as the replayed network has it now:
// access(i) + access(j) + base(i, j), where base is the fibre propagation delay along the great
// circle (geo) or half the scenario's RTT (matrix), unless a replayed event overrode the pair.
// Pure data (no SimGrid); the GeoZone reads it whenever a message starts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// Not thread-safe: const queries fill a cache.
class LatencyTable {
 public:
  /// Hosts are the scenario's nodes then its clients.
  explicit LatencyTable(const Scenario& scenario);

  /// One-way latency from host i to host j (s); 0 when i == j. Inline for the common case, a
  /// cached great-circle delay: routers ask for it once per candidate server.
  double one_way(int i, int j) const {
    if (i == j) return 0.0;
    if (overrides_.empty() && !geo_cache_.empty()) {
      const double cached = geo_cache_[static_cast<std::size_t>(place_[static_cast<std::size_t>(i)]) * points_.size() +
                                       static_cast<std::size_t>(place_[static_cast<std::size_t>(j)])];
      if (cached >= 0) return access(i) + access(j) + cached;
    }
    return access(i) + access(j) + base(i, j);
  }
  /// The base (non-access) part of one_way(i, j) (s).
  double base(int i, int j) const;
  /// A lower bound of one_way(i, j) (s) without a trigonometric call: for "geo", the chord
  /// between the two locations in place of their great-circle arc (an arc is never shorter than
  /// its chord), less 1e-9 of it for rounding; one_way itself for "matrix" or a replayed pair.
  double one_way_floor(int i, int j) const {
    if (i == j) return 0.0;
    if (model_ == LatencyModel::Matrix || (!overrides_.empty() && overrides_.count(key(i, j)) != 0)) return one_way(i, j);
    const topology::UnitVector& a = points_[static_cast<std::size_t>(place_[static_cast<std::size_t>(i)])];
    const topology::UnitVector& b = points_[static_cast<std::size_t>(place_[static_cast<std::size_t>(j)])];
    return access(i) + access(j) + topology::chord(a, b) * floor_s_per_chord_;
  }
  /// Whether one_way computes a great-circle arc for most pairs (too many locations to cache),
  /// so that one_way_floor is much the cheaper.
  bool floor_is_cheaper() const {
    return model_ == LatencyModel::Geo && points_.size() > static_cast<std::size_t>(kCachedPlaces);
  }
  /// Access latency of host i (s).
  double access(int i) const { return access_[static_cast<std::size_t>(i)]; }

  /// Regions: the hosts' locations grouped by cells of a cube map of the sphere (about 40 a cell
  /// in a swarm spread over the world), each with a ball around its locations and its least
  /// access latency, so that one_way_floor_to_region bounds the latency to all its hosts at once.
  /// 0 (no regions) for "matrix" and once a replayed event overrode a pair.
  int regions() const {
    return model_ == LatencyModel::Geo && overrides_.empty() ? static_cast<int>(regions_.size()) : 0;
  }
  /// Region of host i, in [0, regions()) (when there are regions).
  int region_of(int i) const { return region_of_host_[static_cast<std::size_t>(i)]; }
  /// region_of of every host, by host.
  std::span<const int> host_regions() const { return region_of_host_; }
  /// A lower bound of one_way(i, j) for every host j of `region` (s): access(i) plus the region's
  /// least access plus the propagation over the chord from i's location to the region's ball,
  /// or 0 for i's own region (j may be i itself).
  double one_way_floor_to_region(int i, int region) const {
    if (region == region_of(i)) return 0.0;
    const Region& r = regions_[static_cast<std::size_t>(region)];
    const topology::UnitVector& a = points_[static_cast<std::size_t>(place_[static_cast<std::size_t>(i)])];
    const double gap = std::max(0.0, topology::chord(a, r.center) - r.radius);
    return access(i) + r.least_access + gap * floor_s_per_chord_;
  }

  /// Replayed change of host i's access latency (s); applies to messages that start afterwards.
  void set_access(int i, double seconds);
  /// Replayed change of the base latency between i and j, both directions (s).
  void set_pair(int i, int j, double seconds);

  int hosts() const { return n_; }

  /// Two distinct hosts with the longest round trip one_way(i, j) + one_way(j, i), as loaded (no
  /// replayed change); {-1, -1} with fewer than two hosts; among equal round trips, the first in
  /// location order. For "geo", hosts at one location differ only by their access latency, and
  /// location pairs too close to beat the best so far are skipped by a chord test: O(locations^2)
  /// dot products, few trigonometric calls. O(hosts^2) for "matrix".
  std::pair<int, int> farthest_pair() const;

 private:
  static std::uint64_t key(int i, int j) {
    return (static_cast<std::uint64_t>(std::min(i, j)) << 32) | static_cast<std::uint32_t>(std::max(i, j));
  }
  int n_ = 0;
  LatencyModel model_;
  std::vector<double> access_;
  std::vector<int> place_;                 ///< host -> index in points_ (hosts at one location share it)
  std::vector<topology::UnitVector> points_;  ///< distinct locations
  double speed_km_s_ = 200000.0, inflation_ = 2.0;
  /// Seconds of propagation per unit of chord (Earth radii), less 1e-9 for rounding.
  double floor_s_per_chord_ = 0.0;
  std::vector<double> matrix_one_way_;  // n x n, host order, when model_ == Matrix
  std::unordered_map<std::uint64_t, double> overrides_;
  /// Great-circle delays computed so far between locations (negative = not yet), when there are
  /// at most kCachedPlaces distinct ones: a run asks for the same pairs again and again, and
  /// replicated nodes (`count`) share a location, so a 10,000-node swarm in 20 cities has 20.
  mutable std::vector<double> geo_cache_;
  static constexpr int kCachedPlaces = 2048;
  /// Beyond that, the rows of the clients' locations only (every session starts its route from
  /// its client): client_row_[place] indexes client_rows_ (places wide), -1 for other places.
  std::vector<int> client_row_;
  mutable std::vector<double> client_rows_;
  /// A region: a ball (center, chord radius, in Earth radii) holding its locations, its hosts and
  /// their least access latency.
  struct Region {
    topology::UnitVector center{0.0, 0.0, 0.0};  ///< the mean of its locations (inside the sphere)
    double radius = 0.0;          ///< largest chord from the center to a location, rounded up
    double least_access = 0.0;    ///< s
    std::vector<int> hosts;
  };
  std::vector<Region> regions_;
  std::vector<int> region_of_host_;
  /// Groups the locations into regions (constructor).
  void build_regions();
};

/// The server (host index below `servers`) with the least sum of one-way latencies to every
/// host, among those `eligible(i)` accepts (ties: the lowest index); -1 when none is eligible.
/// Where an orchestrator builds chains (policy.orchestrator).
template <class Eligible>
int most_central_server(const LatencyTable& table, int servers, Eligible eligible) {
  int best_server = -1;
  double best = 0.0;
  for (int i = 0; i < servers; ++i) {
    if (!eligible(i)) continue;
    double sum = 0.0;
    for (int j = 0; j < table.hosts(); ++j) sum += table.one_way(i, j);
    if (best_server < 0 || sum < best) {
      best = sum;
      best_server = i;
    }
  }
  return best_server;
}

}  // namespace swarmsim::sim
