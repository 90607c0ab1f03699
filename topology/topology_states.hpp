#pragma once
// Topology states: the commonly observed shapes of a swarm, found by clustering snapshot
// feature vectors, and a classifier that says which state a new snapshot is in (seed 002,
// section 2.7: precomputed sharding schemas are selected by the current topology state).
//
// Fitting: every feature is standardized (z-score with the training mean and standard
// deviation; a constant feature gets scale 1), then k-means (Lloyd) with k-means++ seeding on a
// local SplitMix64 generator, best of `restarts` runs by inertia; ties and empty clusters are
// resolved deterministically, so the same features, k and seed give the same states.
// Classification: nearest centroid in the standardized space, or k nearest training snapshots
// (majority vote, ties to the nearest). Complexity: fit O(restarts * iterations * N * k * F),
// classify O(k * F) (nearest centroid) or O(N * F) (k-NN), for N snapshots of F features.
// The bottleneck distance between diagrams (gudhi/Bottleneck.h) is not offered: in GUDHI 3.7.1
// it needs CGAL, which the topology library does not take on.
#include <cstdint>
#include <vector>

#include "topology/ph_features.hpp"

namespace swarmsim::topology {

/// Options of TopologyStates::fit.
struct KMeansParams {
  int restarts = 8;          ///< independent k-means++ initializations; the lowest inertia wins
  int max_iterations = 100;  ///< Lloyd iterations per run at most
};

/// The states found in a set of snapshots, and the classifier.
class TopologyStates {
 public:
  /// Clusters `features` (all of one length) into k states (1 <= k <= features.size()).
  /// Deterministic in (features, k, seed). Throws std::invalid_argument on bad input.
  static TopologyStates fit(const std::vector<FeatureVector>& features, int k, std::uint64_t seed,
                            const KMeansParams& params = {});

  /// The state (0..states()-1) whose centroid is nearest to `feature`.
  int classify(const FeatureVector& feature) const;
  /// The majority state of the `neighbours` nearest training snapshots (ties: the nearer state).
  int classify_knn(const FeatureVector& feature, int neighbours) const;

  int states() const { return static_cast<int>(centroids_.size()); }
  /// The state each training snapshot was assigned to, in input order.
  const std::vector<int>& labels() const { return labels_; }
  /// Centroid of `state` in the original feature units.
  FeatureVector centroid(int state) const;
  /// Sum of squared standardized distances of the training snapshots to their centroids.
  double inertia() const { return inertia_; }

 private:
  std::vector<double> standardize(const FeatureVector& f) const;

  std::vector<double> mean_, scale_;               // per feature
  std::vector<std::vector<double>> centroids_;     // standardized
  std::vector<std::vector<double>> training_;      // standardized training snapshots
  std::vector<int> labels_;
  double inertia_ = 0.0;
};

}  // namespace swarmsim::topology
