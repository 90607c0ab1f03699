#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>

#include "gpu/shard_cost_model.hpp"
#include "sim/rng.hpp"
#include "sim/routing/chain_router.hpp"

using namespace swarmsim::sim;
using swarmsim::gpu::find_device;

namespace {

/// A network given by explicit tables, for hand-worked examples.
class TableNetwork final : public NetworkEstimate {
 public:
  std::map<std::pair<int, int>, double> latency, bandwidth;
  double default_latency = 0.01, default_bandwidth = 1e6;
  double latency_s(int a, int b) const override {
    auto it = latency.find({a, b});
    if (it == latency.end()) it = latency.find({b, a});
    return it == latency.end() ? default_latency : it->second;
  }
  double bandwidth_Bps(int a, int b) const override {
    auto it = bandwidth.find({a, b});
    return it == bandwidth.end() ? default_bandwidth : it->second;
  }
};

/// A 4-block model whose decode message is 1 x 1000 x 2 B = 2000 B (no header).
swarmsim::gpu::TransformerSpec tiny_model(int blocks) {
  swarmsim::gpu::TransformerSpec m = *swarmsim::gpu::find_model("Llama-3-8B");
  m.name = "tiny";
  m.n_layers = blocks;
  m.hidden = 1000;
  return m;
}

ServerView server(int host, BlockRange r, const char* gpu, double uptime = 1.0) {
  ServerView s;
  s.host = host;
  s.blocks = r;
  s.device = find_device(gpu);
  s.free_kv_bytes = 1e18;
  s.uptime = uptime;
  return s;
}

struct HandSwarm {
  swarmsim::gpu::TransformerSpec model = tiny_model(4);
  swarmsim::gpu::RooflineCostModel cost;
  OverheadSpec overheads;
  TableNetwork net;
  std::vector<ServerView> servers;
  static constexpr int kClient = 4;
  HandSwarm() {
    overheads.header_bytes = 0;
    //        blocks 0-1            blocks 2-3
    //   A (L4, host 0)        C (L4, host 2, uptime 0.5)
    //   B (GTX-1650, host 1)  D (L4, host 3)
    servers = {server(0, {0, 2}, "L4"), server(1, {0, 2}, "GTX-1650"), server(2, {2, 4}, "L4", 0.5),
               server(3, {2, 4}, "L4")};
    net.latency[{kClient, 0}] = 0.050;
    net.latency[{kClient, 1}] = 0.010;
    net.latency[{kClient, 2}] = 0.010;
    net.latency[{kClient, 3}] = 2.0;
    for (int from : {0, 1}) {
      net.latency[{from, 2}] = 0.030;
      net.latency[{from, 3}] = 0.080;
    }
  }
  SwarmView view() const { return SwarmView{servers, &net, &model, &cost, &overheads}; }
  RouteRequest request() const { return RouteRequest{kClient, 1, 8, 8}; }
};

}  // namespace

// Eq. 18 worked out by hand with gamma = 1, beta = -1, alpha = -1; every message is 2000 B at
// 1e6 B/s, so D/B = 0.002 s. G_A is free TFLOP/s (L4 121, GTX-1650 5.967), C_A = 1 (idle), R_A = 1 - uptime.
//   Block 0 (context = client):
//     A: (0.002 + 0.050) + 121^-1     + (1/(0+1))^-1 = 0.052 + 0.0082645 + 1 = 1.0602645
//     B: (0.002 + 0.010) + 5.967^-1   + 1            = 0.012 + 0.1675884 + 1 = 1.1795884   -> A
//   Block 2 (context = A):
//     C: (0.002 + 0.030) + 0.0082645 + (1/(0.5+1))^-1 = 0.032 + 0.0082645 + 1.5 = 1.5402645
//     D: (0.002 + 0.080) + 0.0082645 + 1              = 0.082 + 0.0082645 + 1   = 1.0902645 -> D
TEST(Eq18Router, HandWorkedChain) {
  HandSwarm s;
  Rng rng(1);
  const auto chain = Eq18Router({1.0, -1.0, -1.0}, 0).route(s.view(), s.request(), rng);
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->hops.size(), 2u);
  EXPECT_EQ(chain->hops[0], (ChainHop{0, {0, 2}}));
  EXPECT_EQ(chain->hops[1], (ChainHop{3, {2, 4}}));
  EXPECT_NEAR(chain->cost, 1.0602645 + 1.0902645, 1e-6);
}

// With context length 1 (eq. 2), the choice for block 2 also weighs the client -> candidate term:
//   C: 0.032 + (0.002 + 0.010) + 0.0082645 + 1.5 = 1.5522645
//   D: 0.082 + (0.002 + 2.000) + 0.0082645 + 1   = 3.0922645   -> C
TEST(Eq18Router, ContextLengthWeighsEarlierChainMembers) {
  HandSwarm s;
  Rng rng(1);
  const auto chain = Eq18Router({1.0, -1.0, -1.0}, 1).route(s.view(), s.request(), rng);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->hops[1], (ChainHop{2, {2, 4}}));
  EXPECT_NEAR(chain->cost, 1.0602645 + 1.5522645, 1e-6);
}

// alpha = 0 removes reliability from the choice: C's lower latency wins (1.0402645 < 1.0902645).
TEST(Eq18Router, ReliabilityExponentZeroIgnoresUptime) {
  HandSwarm s;
  Rng rng(1);
  const auto chain = Eq18Router({1.0, -1.0, 0.0}, 0).route(s.view(), s.request(), rng);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->hops[1].server, 2);
}

// A busy device has less availability: A at 99% utilization has G = 1.21, so
// A: 0.052 + 1/1.21 + 1 = 1.8784 > B: 1.1796, and B is chosen.
TEST(Eq18Router, LoadedServerLosesToAnIdleOne) {
  HandSwarm s;
  s.servers[0].busy_rate = 0.99;  // busy fraction at the view's time
  Rng rng(1);
  const auto chain = Eq18Router({1.0, -1.0, -1.0}, 0).route(s.view(), s.request(), rng);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->hops[0].server, 1);
  const RouteCost a = eq18_cost(s.view(), std::vector<int>{HandSwarm::kClient}, s.servers[0], 2000, {1, -1, -1});
  EXPECT_NEAR(a.availability, 1.0 / (121.0 * 0.01), 1e-9);
  EXPECT_NEAR(a.total(), 0.052 + 1.0 / 1.21 + 1.0, 1e-9);
}

// Eq. 18's terms skip std::pow at the default exponents (1 and -1) and for 2: each term must
// still be pow's value to 1 ulp, and exactly pow's for any other exponent.
TEST(Eq18Cost, TermsEqualStdPowAtEveryExponent) {
  HandSwarm s;
  Rng rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    ServerView c = s.servers[static_cast<std::size_t>(trial % 4)];
    c.busy_rate = rng.uniform(0.0, 0.99);
    c.active_sessions = static_cast<int>(rng.below(50));
    c.uptime = rng.uniform(0.0, 1.0);
    s.net.latency[{HandSwarm::kClient, c.host}] = rng.uniform(1e-4, 0.3);
    const double D = rng.uniform(100.0, 1e7);
    const double base_transfer = D / s.net.bandwidth_Bps(HandSwarm::kClient, c.host) + s.net.latency_s(HandSwarm::kClient, c.host);
    const double base_avail = std::max(gpu_availability(c, s.view().now_s), 1e-9) / computational_load(c);
    const double base_rel = 1.0 / (resource_reliability(c) + 1.0);
    for (const double e : {1.0, -1.0, 2.0, 0.5, -2.5, 0.0}) {
      const RouteCost got = eq18_cost(s.view(), std::vector<int>{HandSwarm::kClient}, c, D, {e, e, e});
      const bool fast = e == 1.0 || e == -1.0 || e == 2.0;
      const auto check = [&](double value, double base) {
        const double want = std::pow(base, e);
        if (fast)
          EXPECT_LE(std::fabs(value - want), std::fabs(want) * std::numeric_limits<double>::epsilon()) << "x=" << base << " e=" << e;
        else
          EXPECT_EQ(value, want) << "x=" << base << " e=" << e;
      };
      check(got.transfer, base_transfer);
      check(got.availability, base_avail);
      check(got.reliability, base_rel);
    }
  }
}

// The router bounds a candidate without reading its utilization: the floor must not exceed the
// availability term at any utilization, at exponents of either sign, and for beta < 0 it is the
// term of an idle device (so it is tight where most servers are).
TEST(Eq18Cost, AvailabilityFloorBoundsTheTermAtEveryUtilization) {
  HandSwarm s;
  Rng rng(9);
  int tight = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    ServerView c = s.servers[static_cast<std::size_t>(trial % 4)];
    c.active_sessions = static_cast<int>(rng.below(50));
    for (const double beta : {-2.5, -1.0, 0.0, 0.5, 1.0, 2.0}) {
      const double floor = eq18_availability_floor(c, beta);
      for (const double u : {0.0, rng.uniform(0.0, 1.0), 1.0, 1.5}) {  // 1.5: a rate above 1 is clamped
        c.busy_rate = u;
        c.busy_at_s = 0.0;
        const double exact = eq18_availability(c, beta, 0.0);
        EXPECT_LE(floor, exact + 1e-12 * std::fabs(exact)) << "beta " << beta << ", utilization " << u;
        if (beta < 0 && u == 0.0) {
          EXPECT_EQ(floor, exact);
          ++tight;
        }
      }
    }
  }
  EXPECT_EQ(tight, 2000 * 2);
}

// A view's utilization is the server's decayed load read at the view's time, bit for bit.
TEST(ServerView, UtilizationIsTheServersDecayedLoadAtTheViewsTime) {
  Rng rng(3);
  for (int trial = 0; trial < 1000; ++trial) {
    ServerLoad load{rng.uniform(0.0, 1.2), rng.uniform(0.0, 500.0)};
    const double now = load.time + rng.uniform(0.0, 60.0);
    ServerView v;
    v.busy_rate = load.rate;
    v.busy_at_s = load.time;
    EXPECT_EQ(v.utilization(now), load.utilization(now));
    EXPECT_GE(v.utilization(now), 0.0);
    EXPECT_LE(v.utilization(now), 1.0);
  }
}

TEST(Eq18Router, DeadOrFullServersAreSkippedAndGapsGiveNoChain) {
  HandSwarm s;
  s.servers[3].alive = false;  // D down: C must be used
  Rng rng(1);
  auto chain = Eq18Router({1, -1, -1}, 0).route(s.view(), s.request(), rng);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->hops[1].server, 2);
  s.servers[2].free_kv_bytes = 0;  // C has no KV memory left: nothing holds blocks 2-3
  EXPECT_FALSE(Eq18Router({1, -1, -1}, 0).route(s.view(), s.request(), rng));
}

// ---------------------------------------------------------------------------------------------
// Properties on random swarms
// ---------------------------------------------------------------------------------------------

namespace {

struct RandomSwarm {
  swarmsim::gpu::TransformerSpec model;
  swarmsim::gpu::RooflineCostModel cost;
  OverheadSpec overheads;
  TableNetwork net;
  std::vector<ServerView> servers;
  int client = 0;

  explicit RandomSwarm(std::uint64_t seed) {
    Rng rng(seed);
    model = tiny_model(3 + static_cast<int>(rng.below(8)));
    const char* gpus[] = {"L4", "GTX-1650", "RTX-4090", "T4"};
    const int n = 2 + static_cast<int>(rng.below(7));
    for (int i = 0; i < n; ++i) {
      const int a = static_cast<int>(rng.below(static_cast<std::uint64_t>(model.n_layers)));
      const int b = a + 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(model.n_layers - a)));
      ServerView s = server(i, {a, b}, gpus[rng.below(4)], rng.uniform(0.5, 1.0));
      s.busy_rate = rng.uniform(0, 0.9);
      s.busy_at_s = -rng.uniform(0, 30);  // decayed since, to the view's time 0
      s.active_sessions = static_cast<int>(rng.below(4));
      servers.push_back(s);
    }
    // Cover any gap with an extra server so that a chain always exists.
    std::vector<bool> covered(static_cast<std::size_t>(model.n_layers), false);
    for (const ServerView& s : servers)
      for (int b = s.blocks.start; b < s.blocks.end; ++b) covered[static_cast<std::size_t>(b)] = true;
    for (int b = 0; b < model.n_layers; ++b)
      if (!covered[static_cast<std::size_t>(b)]) servers.push_back(server(static_cast<int>(servers.size()), {b, b + 1}, "T4"));
    client = static_cast<int>(servers.size());
    for (int i = 0; i <= client; ++i)
      for (int j = 0; j <= client; ++j) {
        net.latency[{i, j}] = rng.uniform(0.001, 0.1);
        net.bandwidth[{i, j}] = rng.uniform(1e6, 1e8);
      }
  }
  SwarmView view() const { return SwarmView{servers, &net, &model, &cost, &overheads}; }
  RouteRequest request() const { return RouteRequest{client, 2, 16, 4}; }

  /// The shortest-path router's objective for a chain, computed independently.
  double path_cost(const Chain& c) const {
    const SwarmView v = view();
    const RouteRequest r = request();
    const double msg = r.decode_message_bytes(model, overheads, nullptr);
    double total = 0.0;
    int prev = client;
    for (const ChainHop& h : c.hops) {
      const ServerView& s = servers[static_cast<std::size_t>(h.server)];
      total += estimated_transfer_s(v, prev, s.host, msg);
      total += h.blocks.size() * cost.blocks_seconds(*s.device, model, {r.batch, 1, r.prompt_tokens}, 1) *
               (1.0 + s.active_sessions);
      prev = s.host;
    }
    return total + estimated_transfer_s(v, prev, client, msg);
  }

  /// Exhaustive search over every chain (server, span) sequence, servers possibly revisited.
  double brute_force_min() const {
    double best = std::numeric_limits<double>::infinity();
    Chain c;
    std::function<void(int, int)> go = [&](int pos, int prev_server) {
      if (pos == model.n_layers) {
        best = std::min(best, path_cost(c));
        return;
      }
      for (std::size_t i = 0; i < servers.size(); ++i) {
        const ServerView& s = servers[i];
        if (static_cast<int>(i) == prev_server || !s.blocks.contains(pos)) continue;
        for (int end = pos + 1; end <= s.blocks.end; ++end) {
          c.hops.push_back({static_cast<int>(i), {pos, end}});
          go(end, static_cast<int>(i));
          c.hops.pop_back();
        }
      }
    };
    go(0, -1);
    return best;
  }
};

}  // namespace

TEST(Routers, EveryChainCoversEveryBlockOnceInOrder) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    RandomSwarm s(seed);
    Rng rng(seed);
    for (int context : {0, 2}) {
      auto chain = Eq18Router({1, -1, -1}, context).route(s.view(), s.request(), rng);
      ASSERT_TRUE(chain) << "seed " << seed;
      EXPECT_TRUE(chain_covers_model(*chain, s.model.n_layers)) << "eq18 seed " << seed;
    }
    auto sp = ShortestPathRouter().route(s.view(), s.request(), rng);
    ASSERT_TRUE(sp) << "seed " << seed;
    EXPECT_TRUE(chain_covers_model(*sp, s.model.n_layers)) << "shortest_path seed " << seed;
    auto rnd = RandomRouter().route(s.view(), s.request(), rng);
    ASSERT_TRUE(rnd) << "seed " << seed;
    EXPECT_TRUE(chain_covers_model(*rnd, s.model.n_layers)) << "random seed " << seed;
    for (const Chain* c : {&*sp, &*rnd})
      for (const ChainHop& h : c->hops) EXPECT_TRUE(s.servers[static_cast<std::size_t>(h.server)].blocks.start <= h.blocks.start &&
                                                    h.blocks.end <= s.servers[static_cast<std::size_t>(h.server)].blocks.end);
  }
}

TEST(ShortestPathRouter, MatchesExhaustiveSearch) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    RandomSwarm s(seed);
    Rng rng(seed);
    const auto chain = ShortestPathRouter().route(s.view(), s.request(), rng);
    ASSERT_TRUE(chain);
    const double brute = s.brute_force_min();
    EXPECT_NEAR(chain->cost, brute, 1e-12 * std::max(1.0, brute)) << "seed " << seed;
    EXPECT_NEAR(s.path_cost(*chain), chain->cost, 1e-12 * std::max(1.0, brute)) << "seed " << seed;
  }
}

TEST(RandomRouter, SameSeedSameChainAndItUsesSeveralServers) {
  RandomSwarm s(42);
  std::set<std::vector<int>> distinct;
  for (int trial = 0; trial < 50; ++trial) {
    Rng a(trial), b(trial);
    const auto ca = RandomRouter().route(s.view(), s.request(), a);
    const auto cb = RandomRouter().route(s.view(), s.request(), b);
    ASSERT_TRUE(ca && cb);
    std::vector<int> servers_a, servers_b;
    for (const ChainHop& h : ca->hops) servers_a.push_back(h.server);
    for (const ChainHop& h : cb->hops) servers_b.push_back(h.server);
    EXPECT_EQ(servers_a, servers_b);
    distinct.insert(servers_a);
  }
  EXPECT_GT(distinct.size(), 1u);
}

namespace {

/// `inner` with a latency floor for the eq. 18 router to prune with: the latency times a
/// per-pair factor in [0, 1] drawn from `seed` (1: the floor is the latency itself), counting
/// the exact latencies asked for.
class FlooredNetwork final : public NetworkEstimate {
 public:
  FlooredNetwork(const NetworkEstimate& inner, std::uint64_t seed, bool tight) : inner_(inner), seed_(seed), tight_(tight) {}
  /// With `regions` regions (host h in region h % regions, over hosts 0..hosts-1), whose floor is
  /// the least latency floor to their hosts; `cheap_floor`: whether routers should use the
  /// per-pair floors too.
  FlooredNetwork(const NetworkEstimate& inner, std::uint64_t seed, bool tight, int regions, int hosts, bool cheap_floor)
      : inner_(inner), seed_(seed), tight_(tight), regions_(regions), hosts_(hosts), cheap_floor_(cheap_floor) {
    for (int h = 0; regions > 0 && h < hosts; ++h) host_regions_.push_back(h % regions);
  }
  double latency_s(int a, int b) const override {
    ++exact_calls;
    return inner_.latency_s(a, b);
  }
  double bandwidth_Bps(int a, int b) const override { return inner_.bandwidth_Bps(a, b); }
  bool has_cheap_latency_floor() const override { return cheap_floor_; }
  double latency_floor_s(int a, int b) const override {
    if (tight_) return inner_.latency_s(a, b);
    Rng r(seed_ * 1000003 + static_cast<std::uint64_t>(a) * 1009 + static_cast<std::uint64_t>(b));
    return inner_.latency_s(a, b) * r.uniform();
  }
  int regions() const override { return regions_; }
  std::span<const int> host_regions() const override { return host_regions_; }
  double latency_floor_to_region_s(int from, int region) const override {
    double least = std::numeric_limits<double>::infinity();
    for (int h = region; h < hosts_; h += regions_) least = std::min(least, latency_floor_s(from, h));
    return std::isinf(least) ? 0.0 : least;
  }
  mutable long exact_calls = 0;

 private:
  const NetworkEstimate& inner_;
  std::uint64_t seed_;
  bool tight_;
  int regions_ = 0, hosts_ = 0;
  bool cheap_floor_ = true;
  std::vector<int> host_regions_;
};

}  // namespace

// Pruning by a latency floor changes which candidates are priced exactly, never the chain: on
// random swarms with duplicated servers (exact ties, which the lowest index must win), at
// several exponents and context lengths, the pruned router picks what the full scan picks.
TEST(Eq18Router, PruningByALatencyFloorPicksTheSameChainAsTheFullScan) {
  int compared = 0;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    RandomSwarm s(seed);
    Rng rng(seed);
    for (int d = 0; d < 3; ++d) {  // duplicates of earlier servers, on a new host with the same links
      ServerView copy = s.servers[rng.below(s.servers.size())];
      const int twin = s.client + 1 + d;
      for (int x = 0; x <= s.client; ++x) {
        s.net.latency[{x, twin}] = s.net.latency_s(x, copy.host);
        s.net.latency[{twin, x}] = s.net.latency_s(copy.host, x);
        s.net.bandwidth[{x, twin}] = s.net.bandwidth_Bps(x, copy.host);
        s.net.bandwidth[{twin, x}] = s.net.bandwidth_Bps(copy.host, x);
      }
      copy.host = twin;  // its floors differ from the original's, so either may be priced first
      s.servers.push_back(copy);
    }
    for (const RouteCostExponents exps : {RouteCostExponents{1, -1, -1}, RouteCostExponents{2, -1, -1},
                                          RouteCostExponents{0.5, 1, -2}, RouteCostExponents{1, 0, 0}}) {
      for (int context : {0, 2}) {
        const Eq18Router router(exps, context);
        Rng r1(seed), r2(seed);
        const auto full = router.route(s.view(), s.request(), r1);
        for (const bool tight : {false, true}) {
          const FlooredNetwork floored(s.net, seed, tight);
          SwarmView pruned_view = s.view();
          pruned_view.network = &floored;
          const auto pruned = router.route(pruned_view, s.request(), r2);
          ASSERT_EQ(full.has_value(), pruned.has_value()) << "seed " << seed;
          if (!full) continue;
          ASSERT_EQ(full->hops, pruned->hops) << "seed " << seed << ", gamma " << exps.gamma << ", context " << context;
          EXPECT_EQ(full->cost, pruned->cost);
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 300 * 4 * 2 * 2);
}

namespace {

/// Eq. 18's greedy chain as the seed states it, with nothing indexed or pruned: at each block, every
/// server in index order is priced, the least cost wins (the first on ties).
std::optional<Chain> naive_eq18_chain(const SwarmView& v, const RouteRequest& r, RouteCostExponents exps, int context) {
  const int end = r.end(*v.model);
  const double D = r.decode_message_bytes(*v.model, *v.overheads, v.compression);
  const double kv = r.kv_bytes_per_block(*v.model);
  std::vector<int> members{r.entry()};
  Chain c;
  for (int pos = r.first_block; pos < end;) {
    const std::size_t take = std::min<std::size_t>(members.size(), static_cast<std::size_t>(context) + 1);
    const std::span<const int> ctx(members.data() + members.size() - take, take);
    int best = -1;
    double best_cost = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < v.servers.size(); ++i) {
      const ServerView& s = v.servers[i];
      if (!s.alive || r.avoids(static_cast<int>(i)) || !s.blocks.contains(pos) ||
          s.free_kv_bytes < kv * (std::min(s.blocks.end, end) - pos))
        continue;
      const double cost = eq18_cost(v, ctx, s, D, exps).total();
      if (cost < best_cost) {
        best_cost = cost;
        best = static_cast<int>(i);
      }
    }
    if (best < 0) return std::nullopt;
    const ServerView& s = v.servers[static_cast<std::size_t>(best)];
    c.hops.push_back({best, BlockRange{pos, std::min(s.blocks.end, end)}});
    c.cost += best_cost;
    members.push_back(s.host);
    pos = std::min(s.blocks.end, end);
  }
  return c;
}

}  // namespace

// The router looks only at the servers whose ranges start near each block; that must find the
// chain a scan of every server finds, for repair spans that start inside servers' ranges, with
// dead, avoided and full servers, and exact ties between duplicated servers.
TEST(Eq18Router, MatchesAScanOfEveryServerOnSpansWithDeadAvoidedAndFullServers) {
  int chains = 0, none = 0;
  for (std::uint64_t seed = 1; seed <= 400; ++seed) {
    RandomSwarm s(seed);
    Rng rng(seed * 7 + 1);
    s.servers.push_back(s.servers[rng.below(s.servers.size())]);  // an exact tie at a higher index
    RouteRequest r = s.request();
    const double kv = r.kv_bytes_per_block(s.model);
    for (ServerView& x : s.servers) {
      if (rng.uniform() < 0.15) x.alive = false;
      if (rng.uniform() < 0.2) x.free_kv_bytes = kv * static_cast<double>(rng.below(4));
    }
    if (rng.uniform() < 0.5) r.avoid.push_back(static_cast<int>(rng.below(s.servers.size())));
    if (rng.uniform() < 0.5) {  // a span of the model between two hosts, as a repair asks for
      r.first_block = static_cast<int>(rng.below(static_cast<std::uint64_t>(s.model.n_layers)));
      r.end_block = r.first_block + 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(s.model.n_layers - r.first_block)));
      r.entry_host = static_cast<int>(rng.below(s.servers.size()));
      r.exit_host = s.client;
    }
    // The router bounds every candidate by its transfer term (exact, or with latency floors when
    // gamma > 0 and the network has them) and the least availability any utilization gives, and
    // with gamma > 0 whole regions by their latency floors when the network has regions: every
    // kind of network, at exponents of either sign and through std::pow.
    for (const RouteCostExponents exps : {RouteCostExponents{1, -1, -1}, RouteCostExponents{-1, 1, 0},
                                          RouteCostExponents{2, -2.5, 0.5}, RouteCostExponents{0.5, 0, -1}}) {
      for (int context : {0, 1, 3}) {
        for (const int network : {0, 1, 2, 3}) {  // plain, latency floors, regions, both
          const bool with_floors = network & 1, with_regions = network & 2;
          const int hosts = 1 + std::max_element(s.servers.begin(), s.servers.end(), [](const ServerView& a, const ServerView& b) {
                                  return a.host < b.host;
                                })->host;
          const FlooredNetwork floored(s.net, seed, false, with_regions ? 1 + static_cast<int>(seed % 4) : 0, std::max(hosts, s.client + 1),
                                       with_floors);
          SwarmView v = s.view();
          if (network != 0) v.network = &floored;
          Rng unused(1);
          const auto got = Eq18Router(exps, context).route(v, r, unused);
          const auto want = naive_eq18_chain(v, r, exps, context);
          ASSERT_EQ(got.has_value(), want.has_value()) << "seed " << seed;
          if (!want) {
            ++none;
            continue;
          }
          ASSERT_EQ(got->hops, want->hops) << "seed " << seed << ", gamma " << exps.gamma << ", context " << context;
          EXPECT_EQ(got->cost, want->cost) << "seed " << seed;
          ++chains;
        }
      }
    }
  }
  EXPECT_GT(chains, 4000);  // most draws route, and some do not
  EXPECT_GT(none, 200);
}

// The router keeps its grouping of the servers by region while the view's layout stays: views of
// one layout whose servers die, fill up, take sessions, lose uptime or get busy must still get
// the full scan's chain, and a view whose servers moved (a new layout) must be regrouped.
TEST(Eq18Router, AKeptRegionIndexFollowsTheLiveStateAndANewLayout) {
  int chains = 0, regrouped = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    RandomSwarm s(seed);
    Rng rng(seed * 13 + 5);
    const FlooredNetwork floored(s.net, seed, false, 1 + static_cast<int>(seed % 4), s.client + 1, seed % 2 == 0);
    const RouteCostExponents exps = seed % 3 == 0 ? RouteCostExponents{2, -2.5, 0.5} : RouteCostExponents{1, -1, -1};
    const int context = static_cast<int>(seed % 3);
    const Eq18Router router(exps, context);
    const RouteRequest r = s.request();
    const double kv = r.kv_bytes_per_block(s.model);
    std::uint64_t layout = 1000 * seed;
    for (int round = 0; round < 12; ++round) {
      for (ServerView& x : s.servers) {  // live state: the layout stays
        x.alive = rng.uniform() >= 0.1;
        x.free_kv_bytes = rng.uniform() < 0.2 ? kv * static_cast<double>(rng.below(3)) : 1e12;
        x.active_sessions = static_cast<int>(rng.below(6));
        x.uptime = rng.uniform(0.0, 1.0);
        x.busy_rate = rng.uniform(0.0, 1.0);
      }
      if (round % 3 == 2) {  // a server moves to other blocks: a new layout
        ServerView& x = s.servers[rng.below(s.servers.size())];
        const int a = static_cast<int>(rng.below(static_cast<std::uint64_t>(s.model.n_layers)));
        x.blocks = {a, a + 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(s.model.n_layers - a)))};
        ++layout;
        ++regrouped;
      }
      SwarmView v = s.view();
      v.network = &floored;
      v.layout = layout;
      Rng unused(1);
      const auto got = router.route(v, r, unused);
      const auto want = naive_eq18_chain(v, r, exps, context);
      ASSERT_EQ(got.has_value(), want.has_value()) << "seed " << seed << ", round " << round;
      if (!want) continue;
      ASSERT_EQ(got->hops, want->hops) << "seed " << seed << ", round " << round;
      EXPECT_EQ(got->cost, want->cost) << "seed " << seed;
      ++chains;
    }
  }
  EXPECT_GT(chains, 900);  // moves leave gaps in some swarms: about half the rounds route
  EXPECT_EQ(regrouped, 200 * 4);
}

// With a floor equal to the latency, every candidate but the cheapest (and its ties) is skipped:
// one exact price per block boundary instead of one per server holding the block.
TEST(Eq18Router, ATightFloorPricesOneCandidatePerHop) {
  HandSwarm s;
  s.servers.clear();
  Rng rng(4);
  for (int i = 0; i < 200; ++i) {
    s.servers.push_back(server(i, {0, 4}, i % 2 ? "L4" : "RTX-4090", rng.uniform(0.5, 1.0)));
    s.net.latency[{HandSwarm::kClient, i}] = rng.uniform(0.001, 0.2);
  }
  const FlooredNetwork floored(s.net, 1, true);
  SwarmView v = s.view();
  v.network = &floored;
  Rng r(1);
  const auto chain = Eq18Router({1, -1, -1}, 0).route(v, s.request(), r);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->hops.size(), 1u);
  EXPECT_EQ(floored.exact_calls, 1);
  const FlooredNetwork loose(s.net, 1, false);  // a weaker floor prices more, not all
  v.network = &loose;
  const auto again = Eq18Router({1, -1, -1}, 0).route(v, s.request(), r);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->hops, chain->hops);
  EXPECT_GT(loose.exact_calls, 1);
  EXPECT_LT(loose.exact_calls, 200);
}
