#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gpu/shard_cost_model.hpp"
#include "sim/rng.hpp"
#include "sim/swarm/swarm_state.hpp"
#include "tests/sim/forty_auto_servers.hpp"

namespace swarmsim::sim {
namespace {

/// forty_auto_servers with uptimes estimated by `estimate`.
Scenario forty_servers(const std::string& estimate) {
  const std::string reputation = estimate == "posterior" ? R"({"estimate": "posterior", "prior": "60s"})" : R"({"estimate": ")" + estimate + R"("})";
  return test::forty_auto_servers({{"policy.reputation", reputation}});
}

void expect_same_view(const std::vector<ServerView>& kept, const std::vector<ServerView>& fresh, int step) {
  ASSERT_EQ(kept.size(), fresh.size());
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const ServerView &a = kept[i], &b = fresh[i];
    SCOPED_TRACE("step " + std::to_string(step) + ", server " + std::to_string(i));
    ASSERT_EQ(a.host, b.host);
    ASSERT_EQ(a.blocks, b.blocks);
    ASSERT_EQ(a.alive, b.alive);
    ASSERT_EQ(a.device, b.device);
    ASSERT_EQ(a.free_kv_bytes, b.free_kv_bytes);
    ASSERT_EQ(a.active_sessions, b.active_sessions);
    ASSERT_EQ(a.busy_rate, b.busy_rate);
    ASSERT_EQ(a.busy_at_s, b.busy_at_s);
    ASSERT_EQ(a.uptime, b.uptime);
  }
}

}  // namespace

// routing_view keeps the view of its last call and recomputes only what changed since and what
// follows the clock; through joins, failures noticed or not yet, restarts, moves, bans,
// reservations and their release, and device work, it must equal a view computed afresh, field
// for field, whether it was read after every change or after many; and its layout must change
// exactly when a server's blocks did.
TEST(SwarmState, RoutingViewEqualsAFreshViewThroughEveryChange) {
  for (const std::string estimate : {"declared_x_observed", "posterior"}) {
    for (const bool with_reliability : {false, true}) {
      const Scenario sc = forty_servers(estimate);
      gpu::RooflineCostModel cost;
      SwarmState swarm(sc, cost);
      std::vector<double> reliability(40, 1.0);
      Rng rng(17);
      std::vector<std::vector<Reservation>> sessions;
      double now = 0.0;
      int reads = 0, moves = 0;
      std::uint64_t layout = 0;
      std::vector<BlockRange> last_blocks;
      for (int step = 0; step < 3000; ++step) {
        now += rng.uniform(0.0, 2.0);
        const int i = static_cast<int>(rng.below(40));
        const ServerState& s = swarm[i];
        const double u = rng.uniform();
        if (u < 0.15) {
          swarm.assign_blocks(i);
        } else if (u < 0.3) {
          if (s.assigned && s.up && !s.loaded && !s.moving) swarm.finish_loading(i, now);
        } else if (u < 0.35) {
          if (s.up) swarm.host_down(i, now);
        } else if (u < 0.42) {
          if (!s.up) swarm.host_up(i, now);
        } else if (u < 0.47) {
          if (s.assigned && s.up) {
            const int start = static_cast<int>(rng.below(static_cast<std::uint64_t>(33 - s.blocks.size())));
            swarm.begin_move(i, {start, start + s.blocks.size()});
          }
        } else if (u < 0.52) {
          swarm.finish_move(i);
        } else if (u < 0.53) {
          swarm.ban(i, now);
        } else if (u < 0.7) {  // a session reserves KV memory on two servers
          const int j = static_cast<int>(rng.below(40));
          sessions.emplace_back();
          swarm.reserve({{i, {0, 2}}, {j, {2, 3}}}, rng.uniform(1e6, 1e8), sessions.back());
        } else if (u < 0.8) {
          if (!sessions.empty()) {
            const std::size_t k = rng.below(sessions.size());
            swarm.release(sessions[k]);
            sessions.erase(sessions.begin() + static_cast<std::ptrdiff_t>(k));
          }
        } else if (u < 0.95) {
          swarm.add_busy(i, now, rng.uniform(0.0, 0.5));
        } else {
          reliability[static_cast<std::size_t>(i)] = rng.uniform(0.2, 1.0);
        }
        if (rng.uniform() < 0.2) {  // read after a few changes, as a swarm routes between hops
          const std::vector<double>* r = with_reliability ? &reliability : nullptr;
          const std::vector<ServerView>& kept = swarm.routing_view(now, r);
          expect_same_view(kept, swarm.view(now, r), step);
          if (HasFatalFailure()) return;
          // A new layout exactly when some server's blocks changed since the last read.
          std::vector<BlockRange> blocks;
          for (const ServerView& x : kept) blocks.push_back(x.blocks);
          EXPECT_EQ(swarm.routing_layout() != layout, blocks != last_blocks) << "step " << step;
          moves += blocks != last_blocks && reads > 0;
          layout = swarm.routing_layout();
          last_blocks = blocks;
          ++reads;
        }
      }
      EXPECT_GT(reads, 400);
      EXPECT_GT(moves, 20);
      EXPECT_LT(moves, reads / 2);  // most reads keep the layout
      int down = 0, stale = 0;
      for (int i = 0; i < 40; ++i) {
        down += !swarm[i].up;
        stale += !swarm[i].up && swarm[i].stale_alive;
      }
      EXPECT_GT(down, 0);  // the walk reached the states whose view follows the clock
      EXPECT_GT(stale, 0);
    }
  }
}

}  // namespace swarmsim::sim
