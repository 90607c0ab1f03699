// The swarm's DHT as a directory of blocks (sim/swarm/block_directory.hpp), without either engine:
// a tiny event loop here carries its messages with a fixed delay and runs its timers.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/swarm/block_directory.hpp"

using namespace swarmsim::sim;

namespace {

/// S servers and C clients, a message delay of `delay` s, hosts that can be switched off.
struct DirectoryRig {
  Scenario sc;
  double now = 0;
  double delay = 0.01;
  std::uint64_t seq = 0;
  std::map<std::pair<double, std::uint64_t>, std::function<void()>> events;
  std::vector<char> on;
  int delivered = 0;
  std::unique_ptr<BlockDirectory> dir;

  DirectoryRig(int servers, int clients) {
    for (int i = 0; i < servers; ++i) {
      sc.nodes.emplace_back();
      sc.nodes.back().name = "s" + std::to_string(i);
    }
    for (int i = 0; i < clients; ++i) {
      sc.clients.emplace_back();
      sc.clients.back().name = "c" + std::to_string(i);
    }
    sc.policy.dht.enabled = true;
    sc.policy.dht.k = 4;
    sc.policy.dht.alpha = 2;
    sc.policy.dht.rpc_timeout_s = 1.0;
    sc.policy.dht.record_ttl_s = 30.0;
    sc.policy.dht.client_refresh_s = 5.0;
    on.assign(static_cast<std::size_t>(servers + clients), 1);
    dir = std::make_unique<BlockDirectory>(
        sc,
        [this](int from, int to, std::unique_ptr<DhtEnvelope> env, double bytes) {
          EXPECT_GE(bytes, sc.policy.dht.message_bytes);
          EXPECT_NE(from, to);
          auto* raw = env.release();
          at(now + delay, [this, to, raw] {
            std::unique_ptr<DhtEnvelope> e(raw);
            if (!on[static_cast<std::size_t>(to)]) return;  // lost on the way
            ++delivered;
            dir->receive(to, std::move(e), now);
          });
        },
        [this](double d, std::function<void(double)> fn) { at(now + d, [this, fn] { fn(now); }); },
        [this](int h) { return on[static_cast<std::size_t>(h)] != 0; });
    for (int h = 0; h < servers + clients; ++h) dir->start_node(h, 0.0);
  }
  void at(double t, std::function<void()> fn) { events.emplace(std::make_pair(t, seq++), std::move(fn)); }
  void run_until(double t) {
    while (!events.empty() && events.begin()->first.first <= t) {
      auto it = events.begin();
      now = it->first.first;
      auto fn = std::move(it->second);
      events.erase(it);
      fn();
    }
    now = t;
  }
  /// Looks blocks [0, n) up from host h and runs until the lookup ends; returns the servers found.
  std::vector<DhtServerRecord> lookup(int h, int n, double* took = nullptr) {
    bool done = false;
    const double t0 = now;
    double t1 = -1;
    auto l = dir->find_servers(h, BlockRange{0, n}, now, [&] {
      done = true;
      t1 = now;
    });
    EXPECT_TRUE(l);
    if (!l) return {};
    while (!done && !events.empty()) run_until(events.begin()->first.first);
    EXPECT_TRUE(done);
    if (took) *took = (l->remaining == 0 && t1 >= 0 ? t1 : now) - t0;
    return dir->finish_lookup(h, *l, now);
  }
};

std::map<int, DhtServerRecord> by_server(const std::vector<DhtServerRecord>& v) {
  std::map<int, DhtServerRecord> m;
  for (const auto& r : v) m[r.server] = r;
  return m;
}

}  // namespace

// Servers announce their ranges; a client that joined through them finds every server of every
// block with the range and throughput it announced, over the network (its lookups take time).
TEST(BlockDirectory, AClientFindsTheRangesServersAnnounced) {
  DirectoryRig rig(6, 1);
  rig.run_until(1.0);  // joins settle
  for (int s = 0; s < 6; ++s) rig.dir->announce(s, BlockRange{(s % 3) * 4, (s % 3) * 4 + 4}, 10.0 + s, rig.now);
  rig.run_until(2.0);
  double took = 0;
  const auto found = by_server(rig.lookup(6, 12, &took));
  ASSERT_EQ(found.size(), 6u);
  for (int s = 0; s < 6; ++s) {
    EXPECT_EQ(found.at(s).blocks, (BlockRange{(s % 3) * 4, (s % 3) * 4 + 4})) << s;
    EXPECT_DOUBLE_EQ(found.at(s).throughput, 10.0 + s);
  }
  EXPECT_GE(took, 2 * rig.delay - 1e-12);  // at least one request and its answer
  const auto m = rig.dir->metrics();
  EXPECT_GE(m["lookups"].get<int>(), 12);
  EXPECT_GT(m["rpcs_answered"].get<int>(), 0);
  EXPECT_EQ(m["messages"].get<int>(), rig.delivered);
  EXPECT_EQ(m["rpc_timeouts"].get<int>(), 0);
}

// The client caches what it found for client_refresh; a refresh (or expiry) looks up again.
TEST(BlockDirectory, ClientsCacheTheirServersForTheRefreshPeriod) {
  DirectoryRig rig(4, 1);
  rig.run_until(1.0);
  for (int s = 0; s < 4; ++s) rig.dir->announce(s, BlockRange{0, 2}, 1.0, rig.now);
  rig.run_until(2.0);
  EXPECT_EQ(rig.dir->cached(4, false, rig.now), nullptr);  // nothing looked up yet
  EXPECT_EQ(rig.lookup(4, 2).size(), 4u);
  const double found_at = rig.now;
  ASSERT_NE(rig.dir->cached(4, false, rig.now), nullptr);
  EXPECT_EQ(rig.dir->cached(4, false, rig.now)->size(), 4u);
  EXPECT_EQ(rig.dir->cached(4, true, rig.now), nullptr);  // a refresh asks the DHT again
  EXPECT_EQ(rig.dir->cached(4, false, found_at + rig.sc.policy.dht.client_refresh_s), nullptr);
}

// A server that withdraws a range stops republishing it; once its records expire (TTL), lookups
// no longer find it, while the others' republished records live on.
TEST(BlockDirectory, WithdrawnRecordsExpireAfterTheirTtl) {
  DirectoryRig rig(5, 1);
  rig.run_until(1.0);
  for (int s = 0; s < 5; ++s) rig.dir->announce(s, BlockRange{0, 1}, 1.0, rig.now);
  rig.run_until(2.0);
  rig.dir->withdraw(0, BlockRange{0, 1});
  // Republishing: every host's due records go out again, as the engines' republish loops do.
  for (double t = 2.0; t < 2.0 + 2 * rig.sc.policy.dht.record_ttl_s; t += 1.0) {
    rig.run_until(t);
    for (int h = 0; h < 6; ++h)
      if (rig.dir->next_republish_s(h, rig.now) <= rig.now) rig.dir->republish_due(h, rig.now);
  }
  const auto found = by_server(rig.lookup(5, 1));
  EXPECT_EQ(found.count(0), 0u);
  EXPECT_EQ(found.size(), 4u);
}

// Messages to a host that is down are lost: the RPCs to it time out (here the STOREs of a server
// that announces again while most of the swarm is down), and lookups still end.
TEST(BlockDirectory, RpcsToADownHostTimeOutAndLookupsStillEnd) {
  DirectoryRig rig(6, 1);
  rig.run_until(1.0);
  for (int s = 0; s < 6; ++s) rig.dir->announce(s, BlockRange{0, 1}, 1.0, rig.now);
  rig.run_until(2.0);
  EXPECT_EQ(rig.dir->metrics()["rpc_timeouts"].get<int>(), 0);
  for (const int down : {1, 2, 3, 4}) rig.on[static_cast<std::size_t>(down)] = 0;
  rig.dir->announce(5, BlockRange{0, 2}, 2.0, rig.now);
  rig.run_until(rig.now + 3 * rig.sc.policy.dht.rpc_timeout_s);
  EXPECT_GT(rig.dir->metrics()["rpc_timeouts"].get<int>(), 0);
  const auto found = by_server(rig.lookup(6, 2));
  EXPECT_EQ(found.count(5), 1u);
}

// A restarted node is a new generation: a lookup its predecessor started is no longer current;
// neither is one whose host is down.
TEST(BlockDirectory, ARestartedNodeIsANewGeneration) {
  DirectoryRig rig(3, 1);
  rig.run_until(1.0);
  auto l = rig.dir->find_servers(3, BlockRange{0, 4}, rig.now, {});
  ASSERT_TRUE(l);
  EXPECT_TRUE(rig.dir->still_current(3, *l));
  rig.dir->start_node(3, rig.now);
  EXPECT_FALSE(rig.dir->still_current(3, *l));
  rig.run_until(rig.now + 0.5);
  rig.on[3] = 0;
  auto l2 = rig.dir->find_servers(3, BlockRange{0, 1}, rig.now, {});
  ASSERT_TRUE(l2);
  EXPECT_FALSE(rig.dir->still_current(3, *l2));  // its host is down
}

// What a client did not find is not alive to its router; found servers serve what they announced.
TEST(BlockDirectory, MaskHidesServersTheClientDidNotFind) {
  std::vector<ServerView> views(3);
  for (int i = 0; i < 3; ++i) {
    views[static_cast<std::size_t>(i)].host = i;
    views[static_cast<std::size_t>(i)].blocks = BlockRange{0, 8};
  }
  mask_by_directory(views, {DhtServerRecord{1, BlockRange{2, 6}, 5.0}});
  EXPECT_FALSE(views[0].alive);
  EXPECT_TRUE(views[1].alive);
  EXPECT_EQ(views[1].blocks, (BlockRange{2, 6}));
  EXPECT_FALSE(views[2].alive);
}
