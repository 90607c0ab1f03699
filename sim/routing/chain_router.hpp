#pragma once
// Routers: how a client picks the chain of servers that covers the model for one session.
#include <memory>
#include <optional>
#include <string>

#include "sim/rng.hpp"
#include "sim/routing/route_cost.hpp"
#include "sim/routing/swarm_view.hpp"

namespace swarmsim::sim {

/// Builds a chain covering blocks 0..n-1 from the alive servers that have KV memory for it.
class ChainRouter {
 public:
  virtual ~ChainRouter() = default;
  /// A chain for `request`, or nullopt when the usable servers cannot cover every block.
  /// `rng` is used only by randomized routers.
  virtual std::optional<Chain> route(const SwarmView& view, const RouteRequest& request, Rng& rng) const = 0;
  /// Policy name ("eq18", "shortest_path", "random").
  virtual std::string name() const = 0;
};

/// Seed 002, eq. 2 and 18: the chain is built block by block; at each step the server holding the
/// next block with the least eq. 18 cost given the last (context + 1) chain members is appended and
/// used up to the end of its range. Greedy, O(chain length x servers x context).
class Eq18Router final : public ChainRouter {
 public:
  Eq18Router(RouteCostExponents exps, int context) : exps_(exps), context_(context) {}
  std::optional<Chain> route(const SwarmView& view, const RouteRequest& request, Rng& rng) const override;
  std::string name() const override { return "eq18"; }

 private:
  /// route() when gamma > 0 and the network groups hosts into regions: whole regions are ruled
  /// out by their latency floors (`floors`: bound each candidate by its latency floors first).
  std::optional<Chain> route_by_region(const SwarmView& view, const RouteRequest& request, bool floors) const;
  RouteCostExponents exps_;
  int context_;
  /// route_by_region's servers grouped by region and first block, with a lower bound of each
  /// group's availability + reliability terms whatever their load and uptime: kept from route to
  /// route while the view's layout is the same nonzero value. Not to be shared between threads.
  struct RegionIndex;
  mutable std::shared_ptr<const RegionIndex> index_;
};

/// The Petals baseline: Dijkstra over the block graph whose vertices are (server, block boundary);
/// moving along a server costs its per-block decode time x (1 + sessions in flight), switching
/// servers costs the estimated transfer of one decode message, and the client's first and last
/// transfers close the path. Exact shortest path; O(E log V) with E <= sum over blocks of
/// (servers holding it)^2.
class ShortestPathRouter final : public ChainRouter {
 public:
  std::optional<Chain> route(const SwarmView& view, const RouteRequest& request, Rng& rng) const override;
  std::string name() const override { return "shortest_path"; }
};

/// Uniform choice among the usable servers holding the next block; the floor any heuristic must beat.
class RandomRouter final : public ChainRouter {
 public:
  std::optional<Chain> route(const SwarmView& view, const RouteRequest& request, Rng& rng) const override;
  std::string name() const override { return "random"; }
};

/// The router a policy names.
std::unique_ptr<ChainRouter> make_router(const PolicySpec& policy);

}  // namespace swarmsim::sim
