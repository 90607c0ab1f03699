#include "sim/routing/chain_router.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>

namespace swarmsim::sim {
namespace {

/// A server can take blocks [from, min(its end, span end)) of a session when it is alive, not one
/// the client saw fail, and has KV memory for them.
bool usable_from(const ServerView& s, int index, int from, int end, double kv_per_block, const RouteRequest& req) {
  return s.alive && !req.avoids(index) && s.blocks.contains(from) &&
         s.free_kv_bytes >= kv_per_block * (std::min(s.blocks.end, end) - from);
}

/// The cheapest candidate of one step of an eq. 18 chain so far.
struct BestCandidate {
  int server = -1;
  double cost = std::numeric_limits<double>::infinity();
  /// Whether a lower bound of a candidate's cost rules it out: above the best by more than the
  /// rounding of pow and of the bound's sums.
  bool rules_out(double bound) const { return bound - 1e-12 * std::abs(cost) > cost; }
  /// A priced candidate; ties keep the lower index (deterministic, and the full scan's choice).
  void offer(int candidate, double price) {
    if (price < cost || (price == cost && candidate < server)) {
      cost = price;
      server = candidate;
    }
  }
};

/// Appends the step's best server to `chain` from block `pos` to the end of its range (or of the
/// span) and to the chain's members; returns the block the next step starts at.
int append_best(Chain& chain, std::vector<int>& members, const SwarmView& view, const BestCandidate& best, int pos, int n_blocks) {
  const ServerView& s = view.servers[static_cast<std::size_t>(best.server)];
  const int end = std::min(s.blocks.end, n_blocks);
  chain.hops.push_back({best.server, BlockRange{pos, end}});
  chain.cost += best.cost;
  members.push_back(s.host);
  return end;
}

/// Whether server `s` serves a range that starts inside the model's first `n_blocks` blocks.
bool starts_within(const ServerView& s, int n_blocks) {
  return !s.blocks.empty() && s.blocks.start >= 0 && s.blocks.start < n_blocks;
}

/// Whether server `index` may take part in a route at all: alive, not one the client saw fail,
/// and serving a range that starts inside the model's first `n_blocks` blocks.
bool may_route(const ServerView& s, int index, int n_blocks, const RouteRequest& req) {
  return s.alive && starts_within(s, n_blocks) && !req.avoids(index);
}

/// The servers that may take part in one route, indexed by the block their range starts at
/// (a counting sort, built once per route): the servers holding block b are among those starting
/// in [b - longest range + 1, b], so each step of a chain looks at about the servers that hold its
/// block instead of at the whole swarm.
class CandidatesByStart {
 public:
  CandidatesByStart(std::span<const ServerView> servers, const RouteRequest& req, int n_blocks)
      : first_(static_cast<std::size_t>(n_blocks) + 2, 0) {
    const auto keep = [&](std::size_t i) { return may_route(servers[i], static_cast<int>(i), n_blocks, req); };
    for (std::size_t i = 0; i < servers.size(); ++i)
      if (keep(i)) {
        ++first_[static_cast<std::size_t>(servers[i].blocks.start) + 2];
        longest_ = std::max(longest_, servers[i].blocks.size());
      }
    for (std::size_t b = 2; b < first_.size(); ++b) first_[b] += first_[b - 1];
    index_.resize(first_.back());
    for (std::size_t i = 0; i < servers.size(); ++i)  // in index order within each start
      if (keep(i)) index_[first_[static_cast<std::size_t>(servers[i].blocks.start) + 1]++] = static_cast<int>(i);
  }
  /// Calls f(i) for each kept server i whose range starts at most `longest - 1` blocks before
  /// `block` and at or before it (a superset of those holding `block`; the caller checks the end).
  template <class F>
  void near(int block, F&& f) const {
    const int from = std::max(0, block - longest_ + 1);
    for (std::size_t k = first_[static_cast<std::size_t>(from)]; k < first_[static_cast<std::size_t>(block) + 1]; ++k) f(index_[k]);
  }

 private:
  std::vector<std::size_t> first_;  ///< servers starting at b are index_[first_[b], first_[b + 1])
  std::vector<int> index_;
  int longest_ = 0;
};

/// The least availability + reliability terms of eq. 18 that server `s` can have at any load and
/// uptime: with no session in flight at full free compute for beta < 0 (0 for beta > 0, as a
/// loaded server's term tends to 0), and its reliability at uptime 0 or 1, whichever is less
/// (pow is monotone in its base).
double least_terms_at_any_load(const ServerView& s, const RouteCostExponents& exps) {
  ServerView idle = s;
  idle.active_sessions = 0;
  const double availability = exps.beta > 0 ? 0.0 : eq18_availability_floor(idle, exps.beta);
  return availability + std::min(eq18_power(1.0, exps.alpha), eq18_power(0.5, exps.alpha));
}

}  // namespace

/// The servers grouped by the network's region and, within a region, by the block their range
/// starts at (a counting sort), with per group the least availability + reliability its servers
/// can have at any load and uptime. Built from what a layout fixes (hosts, blocks, devices), so it
/// holds for every view of that layout: a step of a chain bounds a whole region by its latency
/// floor from the context hosts plus that least over the groups that may hold its block, and looks
/// inside only if that bound can beat the best price so far, checking each server's live state.
struct Eq18Router::RegionIndex {
  RegionIndex(std::span<const ServerView> servers, const NetworkEstimate& net, const gpu::TransformerSpec& model,
              const RouteCostExponents& exps, std::uint64_t view_layout)
      : layout(view_layout), network(&net), model(&model), size(servers.size()), regions(net.regions()), n_blocks(model.n_layers) {
    const std::size_t groups = static_cast<std::size_t>(regions) * static_cast<std::size_t>(n_blocks);
    const std::span<const int> region = net.host_regions();
    first.assign(groups + 2, 0);
    least.assign(groups, std::numeric_limits<double>::infinity());
    std::vector<int> group(servers.size(), -1);
    for (std::size_t i = 0; i < servers.size(); ++i) {
      const ServerView& s = servers[i];
      if (!starts_within(s, n_blocks)) continue;  // liveness is read when a route visits it
      const int g = region[static_cast<std::size_t>(s.host)] * n_blocks + s.blocks.start;
      group[i] = g;
      ++first[static_cast<std::size_t>(g) + 2];
      longest = std::max(longest, s.blocks.size());
      double& l = least[static_cast<std::size_t>(g)];
      l = std::min(l, least_terms_at_any_load(s, exps));
    }
    for (std::size_t g = 2; g < first.size(); ++g) first[g] += first[g - 1];
    members.resize(first.back());
    for (std::size_t i = 0; i < servers.size(); ++i)  // in index order within each group
      if (group[i] >= 0) members[first[static_cast<std::size_t>(group[i]) + 1]++] = static_cast<int>(i);
  }
  /// Whether it was built for the servers of `view` (its layout, network and its regions, model and size).
  bool fits(const SwarmView& view) const {
    return layout != 0 && layout == view.layout && network == view.network && regions == view.network->regions() &&
           model == view.model && size == view.servers.size();
  }
  /// The first block start whose servers may hold `block`.
  int window_start(int block) const { return std::max(0, block - longest + 1); }
  /// The least availability + reliability of region r's servers starting in [from, to].
  double least_in(int r, int from, int to) const {
    double m = std::numeric_limits<double>::infinity();
    for (int b = from; b <= to; ++b) m = std::min(m, least[static_cast<std::size_t>(r * n_blocks + b)]);
    return m;
  }
  /// Calls f(server) for region r's servers starting in [from, to], in that order.
  template <class F>
  void in(int r, int from, int to, F&& f) const {
    const auto g0 = static_cast<std::size_t>(r * n_blocks + from), g1 = static_cast<std::size_t>(r * n_blocks + to);
    for (std::size_t k = first[g0]; k < first[g1 + 1]; ++k) f(members[k]);
  }

  std::uint64_t layout;
  const NetworkEstimate* network;
  const gpu::TransformerSpec* model;
  std::size_t size;
  int regions, n_blocks;
  int longest = 0;
  std::vector<std::size_t> first;  ///< group g's servers are members[first[g], first[g + 1])
  std::vector<int> members;
  std::vector<double> least;       ///< per group: the least availability + reliability at any load (inf if empty)
};

std::optional<Chain> Eq18Router::route(const SwarmView& view, const RouteRequest& req, Rng& /*rng*/) const {
  const bool floors = exps_.gamma > 0 && view.network->has_cheap_latency_floor();
  if (exps_.gamma > 0 && view.network->regions() > 0) return route_by_region(view, req, floors);
  const int n_blocks = req.end(*view.model);
  const double D = req.decode_message_bytes(*view.model, *view.overheads, view.compression);
  const double kv = req.kv_bytes_per_block(*view.model);
  Chain chain;
  std::vector<int> members{req.entry()};  // A_0 is the client (or the span's entry), then the chosen servers
  // Every candidate is bounded from below before it is priced: its transfer term (with each
  // latency's cheap floor when the network has one and gamma > 0, since the term then grows with
  // latency), plus the least availability term any utilization could give, plus its
  // reliability. The candidate with the least bound is priced first, then only those whose bound
  // does not exceed the best price so far (by more than pow's rounding): a skipped candidate
  // costs more than some other one, so the chosen server, ties to the lowest index included, is
  // the one a full scan chooses. The utilization (an exp) is read for few candidates, and with
  // floors few exact latencies are asked for.
  struct Bounded {
    int server;
    double transfer;     ///< eq. 18's transfer term: exact, or its floor when `floors`
    double reliability;  ///< eq. 18's reliability term
    double bound;        ///< a lower bound of the candidate's eq. 18 cost
  };
  std::vector<Bounded> bounded;
  const CandidatesByStart candidates(view.servers, req, n_blocks);
  int pos = req.first_block;
  while (pos < n_blocks) {
    // Context of eq. 2: the last (context + 1) members, A_{i-1-alpha} .. A_{i-1}.
    const std::size_t take = std::min<std::size_t>(members.size(), static_cast<std::size_t>(context_) + 1);
    const std::span<const int> ctx(members.data() + members.size() - take, take);
    bounded.clear();
    std::size_t seed = 0;
    candidates.near(pos, [&](int i) {
      const ServerView& s = view.servers[static_cast<std::size_t>(i)];
      if (!usable_from(s, i, pos, n_blocks, kv, req)) return;
      const double t = floors ? eq18_transfer_floor(view, ctx, s, D, exps_.gamma) : eq18_transfer(view, ctx, s, D, exps_.gamma);
      const double r = eq18_reliability(s, exps_.alpha);
      const double b = RouteCost{t, eq18_availability_floor(s, exps_.beta), r}.total();
      bounded.push_back({i, t, r, b});
      const Bounded& least = bounded[seed];
      if (b < least.bound || (b == least.bound && i < least.server)) seed = bounded.size() - 1;
    });
    if (bounded.empty()) return std::nullopt;
    BestCandidate best;
    const auto consider = [&](const Bounded& c) {
      const ServerView& s = view.servers[static_cast<std::size_t>(c.server)];
      const double transfer = floors ? eq18_transfer(view, ctx, s, D, exps_.gamma) : c.transfer;
      best.offer(c.server, RouteCost{transfer, eq18_availability(s, exps_.beta, view.now_s), c.reliability}.total());  // seed 002, eq. 18
    };
    consider(bounded[seed]);
    for (std::size_t k = 0; k < bounded.size(); ++k)
      if (k != seed && !best.rules_out(bounded[k].bound)) consider(bounded[k]);
    if (best.server < 0) return std::nullopt;  // every price was NaN
    pos = append_best(chain, members, view, best, pos, n_blocks);
  }
  return chain;
}

std::optional<Chain> Eq18Router::route_by_region(const SwarmView& view, const RouteRequest& req, bool floors) const {
  // The same choice as route()'s bounded scan, region by region: with gamma > 0 each transfer
  // summand (D/B + L)^gamma is at least (the region's latency floor)^gamma, so a region's bound is
  // the sum of those over the context hosts plus the least availability + reliability its servers
  // that may hold the block can have. Regions are visited by increasing bound; once one is above
  // the best price so far (by more than the rounding of the sums), so are the rest. Inside a
  // region each usable candidate is bounded and priced as in route(). A skipped candidate costs
  // more than the best, so the chosen server (ties to the lowest index) is the one a full scan
  // chooses. The grouping is kept while the view's layout stays, so a swarm that routes session
  // after session does not regroup its servers each time.
  const int n_blocks = req.end(*view.model);
  const double D = req.decode_message_bytes(*view.model, *view.overheads, view.compression);
  const double kv = req.kv_bytes_per_block(*view.model);
  const NetworkEstimate& net = *view.network;
  std::shared_ptr<const RegionIndex> index = index_;
  if (!index || !index->fits(view)) {
    index = std::make_shared<const RegionIndex>(view.servers, net, *view.model, exps_, view.layout);
    if (view.layout != 0) index_ = index;
  }
  Chain chain;
  std::vector<int> members{req.entry()};
  std::vector<std::pair<double, int>> order;  // (bound, region)
  order.reserve(static_cast<std::size_t>(index->regions));
  int pos = req.first_block;
  while (pos < n_blocks) {
    const std::size_t take = std::min<std::size_t>(members.size(), static_cast<std::size_t>(context_) + 1);
    const std::span<const int> ctx(members.data() + members.size() - take, take);
    const int from = index->window_start(pos);
    order.clear();
    for (int r = 0; r < index->regions; ++r) {
      const double least = index->least_in(r, from, pos);
      if (least == std::numeric_limits<double>::infinity()) continue;
      double transfer = 0.0;
      for (const int j : ctx) transfer += eq18_power(net.latency_floor_to_region_s(j, r), exps_.gamma);
      order.emplace_back(transfer + least, r);
    }
    // Regions come out by increasing bound from a heap: most steps visit only a few of them.
    const auto later = [](const std::pair<double, int>& a, const std::pair<double, int>& b) { return b < a; };
    std::make_heap(order.begin(), order.end(), later);
    BestCandidate best;
    for (auto end = order.end(); end != order.begin(); --end) {
      std::pop_heap(order.begin(), end, later);
      const auto [bound, r] = *(end - 1);
      if (best.rules_out(bound)) break;  // every later region's bound is at least this one's
      index->in(r, from, pos, [&](int i) {
        const ServerView& s = view.servers[static_cast<std::size_t>(i)];
        if (!usable_from(s, i, pos, n_blocks, kv, req)) return;
        const double reliability = eq18_reliability(s, exps_.alpha);
        double transfer = floors ? eq18_transfer_floor(view, ctx, s, D, exps_.gamma) : eq18_transfer(view, ctx, s, D, exps_.gamma);
        if (best.rules_out(RouteCost{transfer, eq18_availability_floor(s, exps_.beta), reliability}.total())) return;
        if (floors) transfer = eq18_transfer(view, ctx, s, D, exps_.gamma);
        best.offer(i, RouteCost{transfer, eq18_availability(s, exps_.beta, view.now_s), reliability}.total());  // seed 002, eq. 18
      });
    }
    if (best.server < 0) return std::nullopt;
    pos = append_best(chain, members, view, best, pos, n_blocks);
  }
  return chain;
}

std::optional<Chain> ShortestPathRouter::route(const SwarmView& view, const RouteRequest& req, Rng& /*rng*/) const {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                      boost::property<boost::edge_weight_t, double>>;
  const int first = req.first_block;
  const int n_blocks = req.end(*view.model);
  const double msg = req.decode_message_bytes(*view.model, *view.overheads, view.compression);
  const double kv = req.kv_bytes_per_block(*view.model);
  const gpu::BlockWork decode{req.batch, 1, req.prompt_tokens};

  // Usable servers: alive and with KV memory for their whole range (a conservative filter: the
  // span a path takes is not known before the search).
  std::vector<int> usable;
  for (std::size_t i = 0; i < view.servers.size(); ++i) {
    const ServerView& s = view.servers[i];
    if (!s.blocks.empty() && s.blocks.end > first && s.blocks.start < n_blocks &&
        usable_from(s, static_cast<int>(i), std::max(s.blocks.start, first), n_blocks, kv, req))
      usable.push_back(static_cast<int>(i));
  }
  // Vertices: 0 = client (source), 1 = client (sink), then (server u, boundary b) for b in
  // (start, end]: "u has run block b-1". Entering a server always runs one block there, so no path
  // can relay through a server without work (random latencies need not obey the triangle
  // inequality, and such relays are not chains).
  std::vector<int> first_vertex(usable.size());
  int n_vertices = 2;
  for (std::size_t u = 0; u < usable.size(); ++u) {
    first_vertex[u] = n_vertices;
    n_vertices += view.servers[static_cast<std::size_t>(usable[u])].blocks.size();
  }
  const auto vertex = [&](std::size_t u, int b) {  // b in (start_u, end_u]
    return first_vertex[u] + (b - view.servers[static_cast<std::size_t>(usable[u])].blocks.start - 1);
  };
  std::vector<double> per_block(usable.size());
  for (std::size_t u = 0; u < usable.size(); ++u) {
    const ServerView& s = view.servers[static_cast<std::size_t>(usable[u])];
    per_block[u] = view.cost->blocks_seconds(*s.device, *view.model, decode, 1) * (1.0 + s.active_sessions);
  }
  Graph g(static_cast<std::size_t>(n_vertices));
  for (std::size_t u = 0; u < usable.size(); ++u) {
    const ServerView& s = view.servers[static_cast<std::size_t>(usable[u])];
    for (int b = s.blocks.start + 1; b < s.blocks.end; ++b) boost::add_edge(vertex(u, b), vertex(u, b + 1), per_block[u], g);
    if (s.blocks.contains(first))
      boost::add_edge(0, vertex(u, first + 1), estimated_transfer_s(view, req.entry(), s.host, msg) + per_block[u], g);
    if (s.blocks.contains(n_blocks - 1))
      boost::add_edge(vertex(u, n_blocks), 1, estimated_transfer_s(view, s.host, req.exit(), msg), g);
    // Hand over to another server v at a boundary b that u reached and from which v runs block b.
    for (std::size_t v = 0; v < usable.size(); ++v) {
      if (v == u) continue;
      const ServerView& t = view.servers[static_cast<std::size_t>(usable[v])];
      const int lo = std::max({s.blocks.start + 1, t.blocks.start, first + 1}), hi = std::min({s.blocks.end, t.blocks.end - 1, n_blocks - 1});
      if (lo > hi) continue;
      const double w = estimated_transfer_s(view, s.host, t.host, msg) + per_block[v];
      for (int b = lo; b <= hi; ++b) boost::add_edge(vertex(u, b), vertex(v, b + 1), w, g);
    }
  }
  std::vector<double> dist(static_cast<std::size_t>(n_vertices));
  std::vector<std::size_t> pred(static_cast<std::size_t>(n_vertices));
  boost::dijkstra_shortest_paths(g, 0, boost::predecessor_map(pred.data()).distance_map(dist.data()));
  if (pred[1] == 1) return std::nullopt;  // sink unreachable

  // Walk back from the sink; every vertex (u, b) means u ran block b-1: extend u's hop or start one.
  std::vector<std::size_t> path;
  for (std::size_t x = pred[1]; x != 0; x = pred[x]) path.push_back(x);
  std::reverse(path.begin(), path.end());
  Chain chain;
  chain.cost = dist[1];
  for (const std::size_t x : path) {
    const auto it = std::upper_bound(first_vertex.begin(), first_vertex.end(), static_cast<int>(x));
    const auto u = static_cast<std::size_t>(it - first_vertex.begin()) - 1;
    const int server = usable[u];
    const int block = view.servers[static_cast<std::size_t>(server)].blocks.start + (static_cast<int>(x) - first_vertex[u]);
    if (!chain.hops.empty() && chain.hops.back().server == server && chain.hops.back().blocks.end == block)
      chain.hops.back().blocks.end = block + 1;
    else
      chain.hops.push_back({server, BlockRange{block, block + 1}});
  }
  return chain;
}

std::optional<Chain> RandomRouter::route(const SwarmView& view, const RouteRequest& req, Rng& rng) const {
  const int n_blocks = req.end(*view.model);
  const double kv = req.kv_bytes_per_block(*view.model);
  Chain chain;
  std::vector<int> candidates;
  int pos = req.first_block;
  while (pos < n_blocks) {
    candidates.clear();
    for (std::size_t i = 0; i < view.servers.size(); ++i)
      if (usable_from(view.servers[i], static_cast<int>(i), pos, n_blocks, kv, req)) candidates.push_back(static_cast<int>(i));
    if (candidates.empty()) return std::nullopt;
    const int pick = candidates[rng.below(candidates.size())];
    const ServerView& s = view.servers[static_cast<std::size_t>(pick)];
    chain.hops.push_back({pick, BlockRange{pos, std::min(s.blocks.end, n_blocks)}});
    pos = std::min(s.blocks.end, n_blocks);
  }
  return chain;
}

std::unique_ptr<ChainRouter> make_router(const PolicySpec& p) {
  switch (p.router) {
    case RouterKind::Eq18: return std::make_unique<Eq18Router>(RouteCostExponents{p.gamma, p.beta, p.alpha}, p.context);
    case RouterKind::ShortestPath: return std::make_unique<ShortestPathRouter>();
    case RouterKind::Random: return std::make_unique<RandomRouter>();
  }
  return nullptr;
}

}  // namespace swarmsim::sim
