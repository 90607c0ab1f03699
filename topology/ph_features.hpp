#pragma once
// Fixed-length feature vectors from persistence diagrams, for the topology-state classifier
// (seed 002, section 2.7.1: "PH0 and PH1 persistence can be fed into a dedicated ML classifier").
//
// Every feature is computed on the scale window [0, scale_max_s], the same for every snapshot
// that is to be compared. Infinities: an essential class (death = +inf) and any death beyond
// scale_max_s are truncated to scale_max_s, so every feature is finite; how many classes are
// essential is a feature of its own (essential0, essential1).
//
// Per dimension d in {0, 1}, in this order (G = grid_points, K = landscape_levels):
//   betti{d}_{j}         Betti curve beta_d(t_j) = #{pairs: birth <= t_j < death}, t_j = j/(G-1) * scale_max_s
//   count{d}             pairs with a finite death (classes that die inside the filtration)
//   essential{d}         pairs with death = +inf
//   total_persistence{d} sum of truncated lifetimes (s)
//   max_persistence{d}   largest truncated lifetime (s)
//   entropy{d}           persistence entropy -sum p_i ln p_i, p_i = l_i / sum l (nats; 0 if no lifetime)
//   landscape{d}_{k}_{j} k-th persistence landscape lambda_k(t_j) (s), k = 1..K:
//                        the k-th largest of max(0, min(t_j - birth, death - t_j))
// Length: 2 * (G + 5 + K * G). Features depend only on the diagrams, so they do not change when
// nodes are relabelled. Complexity O(P * G) per diagram of P pairs (landscapes O(P * G * log K)).
#include <string>
#include <vector>

#include "topology/persistence.hpp"

namespace swarmsim::topology {

/// A snapshot's features, in the order of feature_names(params).
using FeatureVector = std::vector<double>;

/// The grid and sizes of a FeatureVector.
struct FeatureParams {
  double scale_max_s = 1.0;  ///< right end of the scale window (s, > 0)
  int grid_points = 16;      ///< G: samples of Betti curves and landscapes (>= 2)
  int landscape_levels = 3;  ///< K: landscape functions lambda_1..lambda_K (>= 0)
};

/// The scales t_j of the grid (s).
std::vector<double> feature_grid(const FeatureParams& params);

/// Names of the features, in vector order (see the file comment).
std::vector<std::string> feature_names(const FeatureParams& params);

/// Features of the two diagrams. Throws std::invalid_argument on bad params.
FeatureVector diagram_features(const PersistenceDiagram& h0, const PersistenceDiagram& h1, const FeatureParams& params);

/// Features of a PersistenceResult.
inline FeatureVector diagram_features(const PersistenceResult& r, const FeatureParams& params) {
  return diagram_features(r.h0, r.h1, params);
}

/// Persistence entropy of a diagram with deaths truncated at scale_max_s (nats).
double persistence_entropy(const PersistenceDiagram& d, double scale_max_s);

}  // namespace swarmsim::topology
