#pragma once
// Persistent homology of a swarm graph (seed 002, section 2.7.1, Figure 4).
//
// Filtration: the flag (clique, Vietoris-Rips) complex of the weighted graph. A vertex enters
// at scale 0, an edge at its weight w(u, v) (seconds, swarm_graph.hpp), a triangle at the
// largest weight of its three edges; only edges with w <= max_scale_s enter. The complex is
// expanded to dimension 2 (triangles), which is what PH1 needs. With `geodesic`, the edge
// weights are first replaced by shortest-path distances in the graph (all pairs within
// max_scale_s), i.e. the Rips complex of the graph metric.
//
// Computed with GUDHI 3.7.1: Simplex_tree (fast-persistence options), optional
// Gudhi::collapse::flag_complex_collapse_edges before expansion (it preserves the persistence
// diagrams of the flag filtration exactly and removes most edges of dense graphs), and
// Persistent_cohomology over Z/p (p prime, default 2).
//
// Diagrams are plain vectors of (birth, death) in seconds, sorted by (birth, death).
// death = +inf marks an essential class: one still alive at max_scale_s (every connected
// component at the end of the filtration, and cycles never filled below max_scale_s).
// Zero-length pairs (birth == death, e.g. a triangle whose edges and face enter at the same
// scale) are not reported: they lie on the diagonal, as the usual convention has it.
//
// Complexity: O(E) to build, O(T) triangles for the expansion (T grows as the cube of local
// degree: bound the filtration with max_scale_s or a k-nearest-neighbour graph), and
// persistence roughly linear in the simplex count in practice (cubic worst case).
#include <cstddef>
#include <limits>
#include <vector>

#include "topology/swarm_graph.hpp"

namespace swarmsim::topology {

/// A point of a persistence diagram: a class born at scale `birth` dying at `death` (s).
struct PersistencePair {
  double birth = 0.0;  ///< s
  double death = 0.0;  ///< s; +inf for an essential class
  /// death - birth (s); +inf for an essential class.
  double lifetime() const { return death - birth; }
  bool essential() const { return death == std::numeric_limits<double>::infinity(); }
};

/// A persistence diagram of one homology dimension, sorted by (birth, death).
using PersistenceDiagram = std::vector<PersistencePair>;

/// Which filtration to build and how to compute it.
struct FiltrationParams {
  double max_scale_s = std::numeric_limits<double>::infinity();  ///< edges heavier than this never enter (s)
  bool geodesic = false;        ///< filter by shortest-path distance instead of edge weight
  bool collapse_edges = false;  ///< GUDHI edge collapse before the expansion (same diagrams)
  int coefficient_field = 2;    ///< p of Z/p (a prime: 2 or 11, say)
};

/// The two diagrams of a snapshot and what it cost to get them.
struct PersistenceResult {
  PersistenceDiagram h0;          ///< PH0: connected components
  PersistenceDiagram h1;          ///< PH1: cycles (loops not yet filled by triangles)
  double max_scale_s = 0.0;       ///< the filtration's bound, as used (s; may be +inf)
  int vertices = 0;               ///< vertices of the complex
  std::size_t edges_in = 0;       ///< edges with weight <= max_scale_s
  std::size_t edges_kept = 0;     ///< edges after the collapse (== edges_in without it)
  std::size_t simplices = 0;      ///< simplices after the expansion
};

/// Persistent homology (dimensions 0 and 1) of the flag filtration of `graph`.
/// Throws std::invalid_argument when coefficient_field is not a prime >= 2.
PersistenceResult compute_persistence(const SwarmGraph& graph, const FiltrationParams& params = {});

/// The same on a plain edge list over vertices 0..vertices-1 (weights in s); for callers that
/// already have the edges (benchmarks, tests). `geodesic` is not applied here.
PersistenceResult compute_persistence(int vertices, const std::vector<WeightedEdge>& edges,
                                      const FiltrationParams& params = {});

}  // namespace swarmsim::topology
