#include "topology/swarm_graph.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

namespace swarmsim::topology {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

bool lighter(const WeightedEdge& x, const WeightedEdge& y) {
  return std::tie(x.weight_s, x.u, x.v) < std::tie(y.weight_s, y.u, y.v);
}
}  // namespace

double edge_weight_s(double latency_s, double bandwidth_Bps, double flops_u, double flops_v,
                     const SwarmGraphParams& p) {
  if (!(bandwidth_Bps > 0.0) || !(latency_s >= 0.0)) return kInf;
  const double transfer_s = latency_s + p.message_bytes / bandwidth_Bps;
  if (p.compute_exponent == 0.0) return transfer_s;
  if (!(flops_u > 0.0) || !(flops_v > 0.0)) return kInf;
  return transfer_s * std::pow(p.reference_flops / std::sqrt(flops_u * flops_v), p.compute_exponent);
}

SwarmGraph build_swarm_graph(const SwarmSnapshot& snapshot, const SwarmGraphParams& params) {
  const int n = static_cast<int>(snapshot.nodes.size());
  std::vector<int> vertex_of(static_cast<std::size_t>(n), -1);
  SwarmGraph g;
  for (int i = 0; i < n; ++i) {
    const SnapshotNode& node = snapshot.nodes[static_cast<std::size_t>(i)];
    if (!node.up) continue;
    vertex_of[static_cast<std::size_t>(i)] = static_cast<int>(boost::add_vertex(SwarmVertex{node.name, node.location, node.flops, i}, g));
  }

  // Pair -> best measurement (lightest weight), keyed on the ordered vertex pair.
  struct Candidate {
    WeightedEdge edge;
    double latency_s, bandwidth_Bps;
  };
  std::unordered_map<std::uint64_t, std::size_t> slot;
  std::vector<Candidate> candidates;
  candidates.reserve(snapshot.links.size());
  for (const LinkMeasurement& l : snapshot.links) {
    if (l.a == l.b) throw std::invalid_argument("swarm snapshot: link joins node " + std::to_string(l.a) + " to itself");
    if (l.a < 0 || l.b < 0 || l.a >= n || l.b >= n) continue;
    const int u = vertex_of[static_cast<std::size_t>(l.a)], v = vertex_of[static_cast<std::size_t>(l.b)];
    if (u < 0 || v < 0) continue;
    const double w = edge_weight_s(l.latency_s, l.bandwidth_Bps, g[static_cast<std::size_t>(u)].flops,
                                   g[static_cast<std::size_t>(v)].flops, params);
    if (!std::isfinite(w)) continue;
    const Candidate c{{std::min(u, v), std::max(u, v), w}, l.latency_s, l.bandwidth_Bps};
    const std::uint64_t key = (static_cast<std::uint64_t>(c.edge.u) << 32) | static_cast<std::uint32_t>(c.edge.v);
    auto [it, inserted] = slot.emplace(key, candidates.size());
    if (inserted)
      candidates.push_back(c);
    else if (lighter(c.edge, candidates[it->second].edge))
      candidates[it->second] = c;
  }

  std::vector<char> keep(candidates.size(), 1);
  if (params.nearest_neighbours > 0) {
    // Each vertex keeps its k lightest incident edges; an edge stays if either end keeps it.
    std::fill(keep.begin(), keep.end(), 0);
    std::vector<std::vector<std::size_t>> incident(boost::num_vertices(g));
    for (std::size_t k = 0; k < candidates.size(); ++k) {
      incident[static_cast<std::size_t>(candidates[k].edge.u)].push_back(k);
      incident[static_cast<std::size_t>(candidates[k].edge.v)].push_back(k);
    }
    const auto k_keep = static_cast<std::size_t>(params.nearest_neighbours);
    for (auto& list : incident) {
      const std::size_t m = std::min(k_keep, list.size());
      std::partial_sort(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(m), list.end(),
                        [&](std::size_t x, std::size_t y) { return lighter(candidates[x].edge, candidates[y].edge); });
      for (std::size_t k = 0; k < m; ++k) keep[list[k]] = 1;
    }
  }
  for (std::size_t k = 0; k < candidates.size(); ++k)
    if (keep[k]) {
      const Candidate& c = candidates[k];
      boost::add_edge(static_cast<std::size_t>(c.edge.u), static_cast<std::size_t>(c.edge.v),
                      SwarmEdge{c.edge.weight_s, c.latency_s, c.bandwidth_Bps}, g);
    }
  return g;
}

std::vector<WeightedEdge> sorted_edges(const SwarmGraph& g) {
  std::vector<WeightedEdge> edges;
  edges.reserve(boost::num_edges(g));
  for (auto [it, end] = boost::edges(g); it != end; ++it) {
    const int a = static_cast<int>(boost::source(*it, g)), b = static_cast<int>(boost::target(*it, g));
    edges.push_back({std::min(a, b), std::max(a, b), g[*it].weight_s});
  }
  std::sort(edges.begin(), edges.end(), lighter);
  return edges;
}

double edge_weight_quantile(const SwarmGraph& g, double q) {
  std::vector<double> w;
  w.reserve(boost::num_edges(g));
  for (auto [it, end] = boost::edges(g); it != end; ++it) w.push_back(g[*it].weight_s);
  if (w.empty()) return kInf;
  q = std::clamp(q, 0.0, 1.0);
  const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(w.size() - 1)));
  std::nth_element(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(k), w.end());
  return w[k];
}

}  // namespace swarmsim::topology
