#include "topology/ph_features.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

namespace swarmsim::topology {

namespace {

void check(const FeatureParams& p) {
  if (!(p.scale_max_s > 0.0) || !std::isfinite(p.scale_max_s))
    throw std::invalid_argument("features: scale_max_s must be positive and finite");
  if (p.grid_points < 2) throw std::invalid_argument("features: grid_points must be >= 2");
  if (p.landscape_levels < 0) throw std::invalid_argument("features: landscape_levels must be >= 0");
}

std::string pad(int j) { return (j < 10 ? "0" : "") + std::to_string(j); }

// Lifetime inside the window: [birth, min(death, T)] clipped at 0.
double truncated_lifetime(const PersistencePair& p, double T) { return std::max(0.0, std::min(p.death, T) - std::min(p.birth, T)); }

void append_dimension(const PersistenceDiagram& d, const FeatureParams& p, const std::vector<double>& grid, FeatureVector& out) {
  const double T = p.scale_max_s;
  for (double t : grid) {
    int betti = 0;
    for (const PersistencePair& q : d) betti += (q.birth <= t && t < q.death) ? 1 : 0;
    out.push_back(betti);
  }
  int finite = 0, essential = 0;
  double total = 0.0, longest = 0.0;
  for (const PersistencePair& q : d) {
    (q.essential() ? essential : finite) += 1;
    const double l = truncated_lifetime(q, T);
    total += l;
    longest = std::max(longest, l);
  }
  out.push_back(finite);
  out.push_back(essential);
  out.push_back(total);
  out.push_back(longest);
  out.push_back(persistence_entropy(d, T));

  // Landscapes: the K largest tent values at each grid point (a min-heap of size K).
  const auto K = static_cast<std::size_t>(p.landscape_levels);
  std::vector<std::vector<double>> lambda(K, std::vector<double>(grid.size(), 0.0));
  std::vector<double> top;
  for (std::size_t j = 0; j < grid.size(); ++j) {
    top.clear();
    for (const PersistencePair& q : d) {
      const double tent = std::max(0.0, std::min(grid[j] - q.birth, std::min(q.death, T) - grid[j]));
      if (tent <= 0.0 || K == 0) continue;
      if (top.size() < K) {
        top.push_back(tent);
        std::push_heap(top.begin(), top.end(), std::greater<>());
      } else if (tent > top.front()) {
        std::pop_heap(top.begin(), top.end(), std::greater<>());
        top.back() = tent;
        std::push_heap(top.begin(), top.end(), std::greater<>());
      }
    }
    std::sort(top.begin(), top.end(), std::greater<>());
    for (std::size_t k = 0; k < top.size(); ++k) lambda[k][j] = top[k];
  }
  for (const auto& row : lambda) out.insert(out.end(), row.begin(), row.end());
}

}  // namespace

std::vector<double> feature_grid(const FeatureParams& p) {
  check(p);
  std::vector<double> grid(static_cast<std::size_t>(p.grid_points));
  for (int j = 0; j < p.grid_points; ++j) grid[static_cast<std::size_t>(j)] = p.scale_max_s * j / (p.grid_points - 1);
  return grid;
}

std::vector<std::string> feature_names(const FeatureParams& p) {
  check(p);
  std::vector<std::string> names;
  for (int d = 0; d <= 1; ++d) {
    const std::string D = std::to_string(d);
    for (int j = 0; j < p.grid_points; ++j) names.push_back("betti" + D + "_" + pad(j));
    for (const char* s : {"count", "essential", "total_persistence", "max_persistence", "entropy"}) names.push_back(s + D);
    for (int k = 1; k <= p.landscape_levels; ++k)
      for (int j = 0; j < p.grid_points; ++j) names.push_back("landscape" + D + "_" + std::to_string(k) + "_" + pad(j));
  }
  return names;
}

FeatureVector diagram_features(const PersistenceDiagram& h0, const PersistenceDiagram& h1, const FeatureParams& p) {
  const std::vector<double> grid = feature_grid(p);
  FeatureVector out;
  out.reserve(2 * static_cast<std::size_t>(p.grid_points * (1 + p.landscape_levels) + 5));
  append_dimension(h0, p, grid, out);
  append_dimension(h1, p, grid, out);
  return out;
}

double persistence_entropy(const PersistenceDiagram& d, double scale_max_s) {
  double total = 0.0;
  for (const PersistencePair& q : d) total += truncated_lifetime(q, scale_max_s);
  if (!(total > 0.0)) return 0.0;
  double h = 0.0;
  for (const PersistencePair& q : d) {
    const double l = truncated_lifetime(q, scale_max_s);
    if (l > 0.0) h -= (l / total) * std::log(l / total);
  }
  return h;
}

}  // namespace swarmsim::topology
