#pragma once
// One-way latency between any two hosts of a swarm, as the replayed network has it now:
// access(i) + access(j) + base(i, j), where base is the fibre propagation delay along the great
// circle (geo) or half the scenario's RTT (matrix), unless a replayed event overrode the pair.
// Pure data (no SimGrid); the GeoZone reads it whenever a message starts.
#include <cmath>
#include <cstdint>
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
    const double dx = a.x - b.x, dy = a.y - b.y, dz = a.z - b.z;
    return access(i) + access(j) + std::sqrt(dx * dx + dy * dy + dz * dz) * floor_s_per_chord_;
  }
  /// Whether one_way computes a great-circle arc for most pairs (too many locations to cache),
  /// so that one_way_floor is much the cheaper.
  bool floor_is_cheaper() const {
    return model_ == LatencyModel::Geo && points_.size() > static_cast<std::size_t>(kCachedPlaces);
  }
  /// Access latency of host i (s).
  double access(int i) const { return access_[static_cast<std::size_t>(i)]; }

  /// Replayed change of host i's access latency (s); applies to messages that start afterwards.
  void set_access(int i, double seconds) { access_[static_cast<std::size_t>(i)] = seconds; }
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
