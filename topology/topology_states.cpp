#include "topology/topology_states.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

namespace swarmsim::topology {

namespace {

// SplitMix64 (Steele, Lea, Flood 2014); topology/ does not depend on sim/rng.hpp.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

double squared_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

struct Clustering {
  std::vector<std::vector<double>> centroids;
  std::vector<int> labels;
  double inertia = std::numeric_limits<double>::infinity();
};

// Nearest centroid; ties go to the lower index.
int nearest(const std::vector<std::vector<double>>& centroids, const std::vector<double>& x, double* d2 = nullptr) {
  int best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (std::size_t c = 0; c < centroids.size(); ++c) {
    const double d = squared_distance(centroids[c], x);
    if (d < best_d) best_d = d, best = static_cast<int>(c);
  }
  if (d2) *d2 = best_d;
  return best;
}

Clustering lloyd(const std::vector<std::vector<double>>& x, int k, SplitMix64& rng, int max_iterations) {
  const std::size_t n = x.size();
  // k-means++ seeding: the first centroid uniformly, the next ones with probability ~ D^2.
  Clustering c;
  c.centroids.push_back(x[static_cast<std::size_t>(rng.uniform() * static_cast<double>(n))]);
  std::vector<double> d2(n);
  while (static_cast<int>(c.centroids.size()) < k) {
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      nearest(c.centroids, x[i], &d2[i]);
      total += d2[i];
    }
    std::size_t pick = n - 1;
    if (total > 0.0) {
      double r = rng.uniform() * total;
      for (std::size_t i = 0; i < n; ++i) {
        if (d2[i] > 0.0 && r < d2[i]) {
          pick = i;
          break;
        }
        r -= d2[i];
      }
      if (d2[pick] == 0.0)  // rounding ran past the end: never re-pick a point that is a centroid
        for (std::size_t i = n; i-- > 0;)
          if (d2[i] > 0.0) {
            pick = i;
            break;
          }
    } else {
      pick = static_cast<std::size_t>(rng.uniform() * static_cast<double>(n));  // all points coincide
    }
    c.centroids.push_back(x[pick]);
  }

  c.labels.assign(n, -1);
  const std::size_t f = x.front().size();
  for (int it = 0; it < max_iterations; ++it) {
    bool changed = false;
    for (std::size_t i = 0; i < n; ++i) {
      const int l = nearest(c.centroids, x[i]);
      if (l != c.labels[i]) c.labels[i] = l, changed = true;
    }
    if (!changed && it > 0) break;
    std::vector<std::vector<double>> sum(static_cast<std::size_t>(k), std::vector<double>(f, 0.0));
    std::vector<int> count(static_cast<std::size_t>(k), 0);
    for (std::size_t i = 0; i < n; ++i) {
      const auto l = static_cast<std::size_t>(c.labels[i]);
      ++count[l];
      for (std::size_t j = 0; j < f; ++j) sum[l][j] += x[i][j];
    }
    for (std::size_t l = 0; l < static_cast<std::size_t>(k); ++l) {
      if (count[l] == 0) {
        // An empty cluster takes the point farthest from its centroid (lowest index on ties).
        std::size_t far = 0;
        double far_d = -1.0;
        for (std::size_t i = 0; i < n; ++i) {
          const double d = squared_distance(x[i], c.centroids[static_cast<std::size_t>(c.labels[i])]);
          if (d > far_d) far_d = d, far = i;
        }
        c.centroids[l] = x[far];
        continue;
      }
      for (std::size_t j = 0; j < f; ++j) c.centroids[l][j] = sum[l][j] / count[l];
    }
  }
  c.inertia = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    double d;
    c.labels[i] = nearest(c.centroids, x[i], &d);
    c.inertia += d;
  }
  return c;
}

}  // namespace

TopologyStates TopologyStates::fit(const std::vector<FeatureVector>& features, int k, std::uint64_t seed,
                                   const KMeansParams& params) {
  if (features.empty()) throw std::invalid_argument("topology states: no snapshots to fit");
  if (k < 1 || static_cast<std::size_t>(k) > features.size())
    throw std::invalid_argument("topology states: k = " + std::to_string(k) + " must be in [1, " +
                                std::to_string(features.size()) + "]");
  const std::size_t f = features.front().size();
  for (const FeatureVector& v : features)
    if (v.size() != f) throw std::invalid_argument("topology states: feature vectors differ in length");

  TopologyStates s;
  const auto n = static_cast<double>(features.size());
  s.mean_.assign(f, 0.0);
  s.scale_.assign(f, 0.0);
  for (const FeatureVector& v : features)
    for (std::size_t j = 0; j < f; ++j) s.mean_[j] += v[j] / n;
  for (const FeatureVector& v : features)
    for (std::size_t j = 0; j < f; ++j) s.scale_[j] += (v[j] - s.mean_[j]) * (v[j] - s.mean_[j]) / n;
  for (double& sc : s.scale_) sc = sc > 1e-24 ? std::sqrt(sc) : 1.0;
  for (const FeatureVector& v : features) s.training_.push_back(s.standardize(v));

  SplitMix64 rng(seed);
  Clustering best;
  for (int r = 0; r < std::max(1, params.restarts); ++r) {
    Clustering c = lloyd(s.training_, k, rng, std::max(1, params.max_iterations));
    if (c.inertia < best.inertia) best = std::move(c);
  }
  s.centroids_ = std::move(best.centroids);
  s.labels_ = std::move(best.labels);
  s.inertia_ = best.inertia;
  return s;
}

std::vector<double> TopologyStates::standardize(const FeatureVector& f) const {
  if (f.size() != mean_.size())
    throw std::invalid_argument("topology states: feature vector has " + std::to_string(f.size()) + " values, expected " +
                                std::to_string(mean_.size()));
  std::vector<double> z(f.size());
  for (std::size_t j = 0; j < f.size(); ++j) z[j] = (f[j] - mean_[j]) / scale_[j];
  return z;
}

int TopologyStates::classify(const FeatureVector& feature) const { return nearest(centroids_, standardize(feature)); }

int TopologyStates::classify_knn(const FeatureVector& feature, int neighbours) const {
  const std::vector<double> z = standardize(feature);
  std::vector<std::pair<double, int>> d;  // (distance^2, training index)
  d.reserve(training_.size());
  for (std::size_t i = 0; i < training_.size(); ++i) d.emplace_back(squared_distance(z, training_[i]), static_cast<int>(i));
  const auto m = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(1, neighbours)), 1, d.size());
  std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(m), d.end());
  std::map<int, std::pair<int, int>> votes;  // state -> (votes, rank of its nearest member)
  for (std::size_t r = 0; r < m; ++r) {
    auto slot = votes.try_emplace(labels_[static_cast<std::size_t>(d[r].second)], 0, static_cast<int>(r)).first;
    ++slot->second.first;
  }
  int best = -1, best_votes = -1, best_rank = 0;
  for (const auto& [state, v] : votes)
    if (v.first > best_votes || (v.first == best_votes && v.second < best_rank)) best = state, best_votes = v.first, best_rank = v.second;
  return best;
}

FeatureVector TopologyStates::centroid(int state) const {
  const std::vector<double>& c = centroids_.at(static_cast<std::size_t>(state));
  FeatureVector out(c.size());
  for (std::size_t j = 0; j < c.size(); ++j) out[j] = c[j] * scale_[j] + mean_[j];
  return out;
}

}  // namespace swarmsim::topology
