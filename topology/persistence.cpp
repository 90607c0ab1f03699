#include "topology/persistence.hpp"

#include <gudhi/Flag_complex_edge_collapser.h>
#include <gudhi/Persistent_cohomology.h>
#include <gudhi/Simplex_tree.h>

#include <algorithm>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

namespace swarmsim::topology {

namespace {

// GUDHI's fast-persistence options with double filtration values: the default float would round
// weights such as 0.1 s and make births and deaths differ from the edge weights.
struct SimplexTreeOptions : Gudhi::Simplex_tree_options_fast_persistence {
  typedef double Filtration_value;
};
using SimplexTree = Gudhi::Simplex_tree<SimplexTreeOptions>;
using FieldZp = Gudhi::persistent_cohomology::Field_Zp;
using Cohomology = Gudhi::persistent_cohomology::Persistent_cohomology<SimplexTree, FieldZp>;
using FilteredEdge = std::tuple<int, int, double>;

bool is_prime(int p) {
  if (p < 2) return false;
  for (int d = 2; d * d <= p; ++d)
    if (p % d == 0) return false;
  return true;
}

PersistenceDiagram to_diagram(const std::vector<std::pair<double, double>>& intervals) {
  PersistenceDiagram d;
  d.reserve(intervals.size());
  for (const auto& [b, e] : intervals) d.push_back({b, e});
  std::sort(d.begin(), d.end(),
            [](const PersistencePair& x, const PersistencePair& y) { return std::tie(x.birth, x.death) < std::tie(y.birth, y.death); });
  return d;
}

// All-pairs shortest paths (Dijkstra from every vertex, Boost.Graph), pairs within max_scale_s.
std::vector<WeightedEdge> geodesic_edges(const SwarmGraph& g, double max_scale_s) {
  const std::size_t n = boost::num_vertices(g);
  std::vector<WeightedEdge> out;
  std::vector<double> dist(n);
  for (std::size_t s = 0; s < n; ++s) {
    boost::dijkstra_shortest_paths(g, s,
                                   boost::weight_map(boost::get(&SwarmEdge::weight_s, g))
                                       .distance_map(boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, g))));
    for (std::size_t t = s + 1; t < n; ++t)
      if (dist[t] <= max_scale_s) out.push_back({static_cast<int>(s), static_cast<int>(t), dist[t]});
  }
  return out;
}

}  // namespace

PersistenceResult compute_persistence(int vertices, const std::vector<WeightedEdge>& edges, const FiltrationParams& params) {
  if (!is_prime(params.coefficient_field))
    throw std::invalid_argument("persistence: coefficient field Z/" + std::to_string(params.coefficient_field) +
                                " is not a field (need a prime)");
  PersistenceResult r;
  r.max_scale_s = params.max_scale_s;
  r.vertices = vertices;

  std::vector<FilteredEdge> filtered;
  filtered.reserve(edges.size());
  for (const WeightedEdge& e : edges)
    if (e.u != e.v && e.weight_s <= params.max_scale_s) filtered.emplace_back(std::min(e.u, e.v), std::max(e.u, e.v), e.weight_s);
  r.edges_in = filtered.size();
  if (params.collapse_edges && !filtered.empty()) {
    auto kept = Gudhi::collapse::flag_complex_collapse_edges(filtered);
    filtered.assign(kept.begin(), kept.end());
  }
  r.edges_kept = filtered.size();

  SimplexTree st;
  for (int v = 0; v < vertices; ++v) st.insert_simplex({v}, 0.0);
  for (const auto& [u, v, w] : filtered) {
    // insert_simplex keeps an existing simplex's filtration: a duplicate pair keeps the lighter one.
    auto [handle, inserted] = st.insert_simplex({u, v}, w);
    if (!inserted && w < st.filtration(handle)) st.assign_filtration(handle, w);
  }
  st.expansion(2);
  r.simplices = st.num_simplices();

  // GUDHI skips the top dimension of the complex unless asked: a complex without triangles
  // still needs its H1 (cycles that are never filled are essential classes).
  Cohomology pcoh(st, /*persistence_dim_max=*/st.dimension() < 2);
  pcoh.init_coefficients(params.coefficient_field);
  pcoh.compute_persistent_cohomology(0.0);  // drops zero-length pairs (see the header)
  r.h0 = to_diagram(pcoh.intervals_in_dimension(0));
  r.h1 = to_diagram(pcoh.intervals_in_dimension(1));
  return r;
}

PersistenceResult compute_persistence(const SwarmGraph& graph, const FiltrationParams& params) {
  const int n = static_cast<int>(boost::num_vertices(graph));
  if (params.geodesic) return compute_persistence(n, geodesic_edges(graph, params.max_scale_s), params);
  // Only the edges inside the window, in graph order (GUDHI needs no order; sorting every edge of
  // a dense graph would cost more than the persistence of its sparse window).
  std::vector<WeightedEdge> edges;
  for (auto [it, end] = boost::edges(graph); it != end; ++it)
    if (graph[*it].weight_s <= params.max_scale_s)
      edges.push_back({static_cast<int>(boost::source(*it, graph)), static_cast<int>(boost::target(*it, graph)), graph[*it].weight_s});
  return compute_persistence(n, edges, params);
}

}  // namespace swarmsim::topology
