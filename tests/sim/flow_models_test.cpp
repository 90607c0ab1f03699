// The flow engine's models against answers worked out by hand: max-min sharing of access links
// (with SimGrid's penalties, cross-traffic, TCP window and bandwidth factor) and processor
// sharing of devices.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
#include "sim/flow/processor_sharing.hpp"
#include "sim/rng.hpp"

using namespace swarmsim::sim;
using namespace swarmsim::sim::flow;

namespace {

/// Drives a FairShareNetwork: flows start at given times; records when each token completes.
struct NetworkRun {
  EventQueue queue;
  FairShareNetwork net;
  std::map<std::uint64_t, double> done;
  NetworkRun(std::vector<double> up, std::vector<double> down, SharingParams p = {}) : net(std::move(up), std::move(down), p, queue) {}

  /// Processes events up to time `until` (s).
  void run_until(double until) {
    while (!queue.empty() && queue.top().t <= until) {
      const TimedEvent e = queue.pop();
      std::uint64_t token = 0;
      if (net.on_event(e, token)) done[token] = e.t;
    }
  }
};

constexpr double kTol = 1e-9;

}  // namespace

TEST(FairShareNetwork, LoneFlowTakesDelayPlusBytesOverSlowestLink) {
  NetworkRun r({1e6, 1e6}, {2e6, 2e6});
  r.net.start(0.0, 0, 1, 1e6, 0.5, 0.5, 7);  // up(0) = 1 MB/s is the bottleneck
  r.run_until(10);
  EXPECT_NEAR(r.done.at(7), 0.5 + 1.0, kTol);
  EXPECT_EQ(r.net.in_flight(), 0);
}

TEST(FairShareNetwork, EmptyFlowEndsWhenItsDelayIsPaid) {
  NetworkRun r({1e6, 1e6}, {1e6, 1e6});
  r.net.start(1.0, 0, 1, 0.0, 0.25, 0.1, 1);
  r.run_until(10);
  EXPECT_NEAR(r.done.at(1), 1.25, kTol);
}

TEST(FairShareNetwork, TwoFlowsIntoOneDownlinkShareItEqually) {
  NetworkRun r({1e6, 1e6, 1e6}, {1e6, 1e6, 1e6});
  r.net.start(0.0, 0, 2, 1e6, 0.0, 0.0, 1);
  r.net.start(0.0, 1, 2, 1e6, 0.0, 0.0, 2);
  r.run_until(0.0);
  EXPECT_NEAR(r.net.rate_of(1), 0.5e6, 1e-3);
  r.run_until(10);
  EXPECT_NEAR(r.done.at(1), 2.0, kTol);
  EXPECT_NEAR(r.done.at(2), 2.0, kTol);
}

// a -> c, b -> c, b -> d with up(a) = 30, up(b) = 100, down(c) = 100: A is held to 30 by its own
// uplink; B and C split up(b) 50 / 50, and down(c) carries 30 + 50 < 100. Max-min, not equal shares.
TEST(FairShareNetwork, BandwidthABottleneckedFlowLeavesIsRedistributed) {
  NetworkRun r({30, 100, 1000, 1000}, {1000, 1000, 100, 1000});
  r.net.start(0.0, 0, 2, 300, 0.0, 0.0, 1);  // A
  r.net.start(0.0, 1, 2, 300, 0.0, 0.0, 2);  // B
  r.net.start(0.0, 1, 3, 300, 0.0, 0.0, 3);  // C
  r.run_until(0.0);
  EXPECT_NEAR(r.net.rate_of(1), 30, 1e-9);
  EXPECT_NEAR(r.net.rate_of(2), 50, 1e-9);
  EXPECT_NEAR(r.net.rate_of(3), 50, 1e-9);
  r.run_until(100);
  EXPECT_NEAR(r.done.at(2), 6.0, kTol);
  EXPECT_NEAR(r.done.at(3), 6.0, kTol);
  EXPECT_NEAR(r.done.at(1), 10.0, kTol);  // still held by up(a) once alone
}

TEST(FairShareNetwork, AFlowJoiningMidwaySlowsTheFirst) {
  NetworkRun r({1e6, 1e6, 1e6}, {1e6, 1e6, 1e6});
  r.net.start(0.0, 0, 2, 1e6, 0.0, 0.0, 1);
  r.run_until(0.5);  // half of flow 1 is through
  r.net.start(0.5, 1, 2, 1e6, 0.0, 0.0, 2);
  r.run_until(10);
  EXPECT_NEAR(r.done.at(1), 1.5, kTol);  // the other half at 0.5 MB/s
  EXPECT_NEAR(r.done.at(2), 2.0, kTol);  // 0.5 MB shared, then 0.5 MB alone
}

TEST(FairShareNetwork, FlowsWithLongerLatencyGetLessOfASharedLink) {
  // SimGrid's CM02 penalty is the route's latency: values L / 1 and L / 3 fill the link, so
  // the 1-second flow gets 3/4 and the 3-second one 1/4.
  NetworkRun r({1e6, 1e6, 1e6}, {1e6, 1e6, 1e6});
  r.net.start(0.0, 0, 2, 1e9, 0.0, 1.0, 1);
  r.net.start(0.0, 1, 2, 1e9, 0.0, 3.0, 2);
  r.run_until(0.0);
  EXPECT_NEAR(r.net.rate_of(1), 0.75e6, 1e-3);
  EXPECT_NEAR(r.net.rate_of(2), 0.25e6, 1e-3);
}

TEST(FairShareNetwork, TcpModelBoundsAFlowByItsWindowAndScalesItsRate) {
  NetworkRun r({1e9, 1e9}, {1e9, 1e9}, sharing_params(NetworkModel::Tcp));
  r.net.start(0.0, 0, 1, 1e9, 0.0, 0.01, 1);
  r.run_until(0.0);
  // gamma / (2 latency) = 4 MiB / 20 ms, below the 1 GB/s links; times LV08's 0.97.
  EXPECT_NEAR(r.net.rate_of(1), 0.97 * 4194304.0 / 0.02, 1e-3);
  EXPECT_NEAR(latency_factor(NetworkModel::Tcp), 13.01, 0);
  EXPECT_NEAR(latency_factor(NetworkModel::Exact), 1.0, 0);
}

// Four flows with LV08's penalties and cross-traffic, solved by hand. Hosts: g0 = 0, g1 = 1,
// g2 = 2, c = 3, all links C. Flows 0 and 1 go g0 -> g1, flow 2 g2 -> c, flow 3 g1 -> g2, with
// penalties p = latency + 2 x 20537 / C. Round 1: down(g1) carries flows 0 and 1 (weight 1) and
// flow 3's ACKs (0.05), and saturates first, at level L1 = C / (2 / p0 + 0.05 / p3): v0 = v1 =
// L1 / p0, v3 = L1 / p3. Round 2: flow 2 alone fills what flow 3's ACKs leave of up(g2): v2 = C - 0.05 v3.
TEST(FairShareNetwork, LaterRoundsShareWhatEarlierOnesLeft) {
  const double C = 12.5e6, lat0 = 0.002, lat2 = 0.0045, lat3 = 0.003;
  NetworkRun r({C, C, C, C}, {C, C, C, C}, sharing_params(NetworkModel::Tcp));
  r.net.start(0.0, 0, 1, 1e9, 0.0, lat0, 0);
  r.net.start(0.0, 0, 1, 1e9, 0.0, lat0, 1);
  r.net.start(0.0, 2, 3, 1e9, 0.0, lat2, 2);
  r.net.start(0.0, 1, 2, 1e9, 0.0, lat3, 3);
  r.run_until(0.0);
  const double p0 = lat0 + 2 * 20537 / C, p3 = lat3 + 2 * 20537 / C;
  const double L1 = C / (2 / p0 + 0.05 / p3);
  const double v3 = L1 / p3;
  EXPECT_NEAR(r.net.rate_of(0), 0.97 * L1 / p0, 1e-3);
  EXPECT_NEAR(r.net.rate_of(1), 0.97 * L1 / p0, 1e-3);
  EXPECT_NEAR(r.net.rate_of(3), 0.97 * v3, 1e-3);
  EXPECT_NEAR(r.net.rate_of(2), 0.97 * (C - 0.05 * v3), 1e-3);
}

TEST(FairShareNetwork, CrossTrafficTakesFivePercentOfTheReverseLinks) {
  SharingParams p;
  p.crosstraffic_weight = 0.05;
  NetworkRun r({1e6, 1e6}, {1e6, 1e6}, p);
  r.net.start(0.0, 0, 1, 1e9, 0.0, 0.0, 1);
  r.net.start(0.0, 1, 0, 1e9, 0.0, 0.0, 2);
  r.run_until(0.0);
  // up(0) carries flow 1 at weight 1 and flow 2's ACKs at 0.05: x + 0.05 x = 1e6.
  EXPECT_NEAR(r.net.rate_of(1), 1e6 / 1.05, 1e-3);
  EXPECT_NEAR(r.net.rate_of(2), 1e6 / 1.05, 1e-3);
}

TEST(FairShareNetwork, NoBandwidthIsHeldDuringTheDelay) {
  NetworkRun r({1e6, 1e6, 1e6}, {1e6, 1e6, 1e6});
  r.net.start(0.0, 0, 2, 1e6, 0.0, 0.0, 1);
  r.net.start(0.0, 1, 2, 1e6, 5.0, 0.0, 2);  // still paying its delay while flow 1 moves
  r.run_until(10);
  EXPECT_NEAR(r.done.at(1), 1.0, kTol);
  EXPECT_NEAR(r.done.at(2), 6.0, kTol);
}

TEST(FairShareNetwork, ABandwidthDropSlowsTheFlowsOnTheLink) {
  NetworkRun r({1e6, 1e6}, {1e6, 1e6});
  r.net.start(0.0, 0, 1, 1e6, 0.0, 0.0, 1);
  r.run_until(0.5);
  r.net.set_capacity(0.5, FairShareNetwork::down_link(1), 0.25e6);  // the other half at a quarter of the speed
  r.run_until(10);
  EXPECT_NEAR(r.done.at(1), 0.5 + 2.0, kTol);
  EXPECT_DOUBLE_EQ(r.net.capacity(FairShareNetwork::down_link(1)), 0.25e6);
}

// LV08's penalty holds weight-S / bandwidth per link: a flow that started before a drop gets the
// new term, so it shares the link equally with one that started after (SimGrid 3.32 does this).
TEST(FairShareNetwork, Lv08MovesThePenaltyOfFlowsOnALinkToItsNewBandwidth) {
  const double C = 12.5e6;
  NetworkRun r({C, C}, {C, C}, sharing_params(NetworkModel::Tcp));
  r.net.start(0.0, 0, 1, 1e9, 0.0, 0.004, 1);
  r.run_until(0.0);
  r.net.set_capacity(0.1, FairShareNetwork::down_link(1), C / 2);
  r.net.start(0.1, 0, 1, 1e9, 0.0, 0.004, 2);
  r.run_until(0.1);
  EXPECT_NEAR(r.net.rate_of(1), 0.97 * C / 4, 1e-3);
  EXPECT_NEAR(r.net.rate_of(2), 0.97 * C / 4, 1e-3);
}

// Host 0 uploads to hosts 1 to 4: four flows share up(0). Changes at one instant are re-shared
// once, at that instant: the three flows that join the first one at 0, and two hosts failing at 1.
TEST(FairShareNetwork, ChangesAtOneInstantAreSharedOutOnce) {
  NetworkRun r({1e6, 1e6, 1e6, 1e6, 1e6}, {1e6, 1e6, 1e6, 1e6, 1e6});
  for (int to = 1; to <= 4; ++to) r.net.start(0.0, 0, to, 1e6, 0.0, 0.0, static_cast<std::uint64_t>(to));
  r.run_until(0.0);
  EXPECT_EQ(r.net.solves(), 1u);  // the first flow was alone on its links: no group to solve
  for (std::uint64_t t = 1; t <= 4; ++t) EXPECT_NEAR(r.net.rate_of(t), 0.25e6, 1e-3);
  r.run_until(1.0);
  std::vector<std::uint64_t> cut;
  r.net.fail_host(1.0, 1, cut);
  r.net.fail_host(1.0, 2, cut);
  r.run_until(1.0);
  EXPECT_EQ(r.net.solves(), 2u);
  EXPECT_NEAR(r.net.rate_of(3), 0.5e6, 1e-3);
  r.run_until(10);
  EXPECT_NEAR(r.done.at(3), 1.0 + 0.75 / 0.5, kTol);  // 0.25 MB by 1 s, the rest at 0.5 MB/s
  EXPECT_NEAR(r.done.at(4), 2.5, kTol);
}

// A caller that changes the network at a later instant without playing the queue (as here) still
// gets each change's shares from its own instant on, not merged into an earlier one.
TEST(FairShareNetwork, ChangesAtLaterInstantsAreNotMergedWhenTheQueueIsNotPlayed) {
  NetworkRun r({1e6, 1e6, 1e6, 1e6}, {1e6, 1e6, 1e6, 1e6});
  const auto a = r.net.start(0.0, 0, 3, 1e6, 0.0, 0.0, 1);
  const auto b = r.net.start(0.0, 1, 3, 1e6, 0.0, 0.0, 2);
  r.net.start(0.0, 2, 3, 1e6, 0.0, 0.0, 3);
  r.run_until(0.0);  // a third of down(3) each
  std::uint64_t token = 0;
  ASSERT_TRUE(r.net.cancel(0.3, a, token));
  ASSERT_TRUE(r.net.cancel(0.6, b, token));
  r.run_until(10);
  // 0.1 MB by 0.3 s, 0.15 MB more at half the link by 0.6 s, then the last 0.75 MB alone.
  EXPECT_NEAR(r.done.at(3), 0.6 + 0.75, kTol);
}

TEST(FairShareNetwork, CancelAndHostFailureEndFlowsAndFreeTheirShare) {
  NetworkRun r({1e6, 1e6, 1e6}, {1e6, 1e6, 1e6});
  const auto a = r.net.start(0.0, 0, 2, 1e6, 0.0, 0.0, 1);
  r.net.start(0.0, 1, 2, 1e6, 0.0, 0.0, 2);
  r.net.start(0.0, 1, 0, 1e6, 5.0, 0.0, 3);  // still paying its delay when host 1 fails
  r.run_until(0.5);                           // flows 1 and 2 at 0.5 MB/s each: 0.25 MB through
  std::uint64_t token = 0;
  EXPECT_TRUE(r.net.cancel(0.5, a, token));
  EXPECT_EQ(token, 1u);
  EXPECT_FALSE(r.net.cancel(0.5, a, token));  // once only
  std::vector<std::uint64_t> cut;
  r.net.fail_host(0.75, 1, cut);  // flow 2 got the whole link from 0.5 to 0.75
  std::sort(cut.begin(), cut.end());
  EXPECT_EQ(cut, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(r.net.in_flight(), 0);
  r.run_until(100);
  EXPECT_TRUE(r.done.empty());
}

TEST(ProcessorSharing, AFailedHostEndsItsWorkAndLeavesTheOthers) {
  EventQueue q;
  ProcessorSharing ps(2, q);
  ps.start(0.0, 0, 1.0, 1);
  ps.start(0.0, 0, 1.0, 2);
  ps.start(0.0, 1, 1.0, 3);
  std::vector<std::uint64_t> cut;
  ps.fail_host(0.5, 0, cut);
  EXPECT_EQ(cut, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(ps.running(0), 0);
  std::vector<std::uint64_t> done;
  double when = -1;
  while (!q.empty()) {
    const TimedEvent e = q.pop();
    const std::size_t before = done.size();
    ps.on_event(e, done);
    if (done.size() > before) when = e.t;
  }
  EXPECT_EQ(done, (std::vector<std::uint64_t>{3}));
  EXPECT_NEAR(when, 1.0, kTol);
}

TEST(ProcessorSharing, ConcurrentWorkSharesTheDeviceEqually) {
  EventQueue q;
  ProcessorSharing ps(2, q);
  std::map<std::uint64_t, double> done;
  const auto run_until = [&](double until) {
    std::vector<std::uint64_t> tokens;
    while (!q.empty() && q.top().t <= until) {
      const TimedEvent e = q.pop();
      tokens.clear();
      ps.on_event(e, tokens);
      for (const auto t : tokens) done[t] = e.t;
    }
  };
  ps.start(0.0, 0, 1.0, 1);
  ps.start(0.0, 0, 2.0, 2);
  ps.start(0.0, 1, 2.0, 3);  // another device: alone
  run_until(1.0);
  ps.start(1.0, 1, 0.5, 4);  // joins job 3 (1 s left) at half speed each
  run_until(10);
  EXPECT_NEAR(done.at(1), 2.0, kTol);  // 1 s of work at half speed
  EXPECT_NEAR(done.at(2), 3.0, kTol);  // 1 s at half speed, then 1 s alone
  EXPECT_NEAR(done.at(4), 2.0, kTol);  // 0.5 s at half speed
  EXPECT_NEAR(done.at(3), 2.5, kTol);  // 1 s alone, 0.5 s shared, 0.5 s alone
  EXPECT_EQ(ps.running(0), 0);
}

TEST(EventQueue, EqualTimesComeOutInPushOrder) {
  EventQueue q;
  q.push(2.0, EventKind::Resume, 1);
  q.push(1.0, EventKind::Resume, 2);
  q.push(2.0, EventKind::Resume, 3);
  q.push(1.0, EventKind::Resume, 4);
  std::vector<std::uint64_t> order;
  while (!q.empty()) order.push_back(q.pop().payload);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{2, 4, 1, 3}));
}

// Keys only grow in a simulation, except for an event pushed at the current instant with a rank
// before the one just popped: it must still come out first, then the rest in order.
TEST(EventQueue, AnEventPushedBelowTheLastPoppedKeyComesOutNext) {
  EventQueue q;
  q.push_last(1.0, EventKind::Resume, 1);
  q.push_last(1.0, EventKind::Resume, 2);
  q.push(1.5, EventKind::Resume, 3);
  EXPECT_EQ(q.pop().payload, 1u);
  q.push_first(1.0, EventKind::Resume, 4);  // a platform change at the current instant
  q.push(1.0, EventKind::Resume, 5);        // a normal event at the current instant
  std::vector<std::uint64_t> order;
  while (!q.empty()) order.push_back(q.pop().payload);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{4, 5, 2, 3}));
}

// Memory follows the events queued: a burst of 20,000 sessions' events, arriving at one instant
// and then spreading out in time, passes through many buckets, yet the queue never holds room
// for many more events than it held at once.
TEST(EventQueue, ABurstPassingThroughTheBucketsLeavesNoMoreRoomThanItNeeded) {
  EventQueue q;
  swarmsim::sim::Rng rng(5);
  constexpr int kBurst = 20000;
  for (int i = 0; i < kBurst; ++i) q.push(60.0 + rng.uniform() * 1e-3, EventKind::Resume, static_cast<std::uint64_t>(i));
  std::size_t most = q.size();
  for (int popped = 0; !q.empty(); ++popped) {  // each popped event schedules the next within 0-10 ms, for a while
    const TimedEvent e = q.pop();
    if (popped < 8 * kBurst) q.push(e.t + rng.uniform() * 0.01, EventKind::Resume, e.payload);
    most = std::max(most, q.size());
  }
  EXPECT_EQ(most, static_cast<std::size_t>(kBurst));
  // One partly filled chunk per bucket and one slab of slack.
  EXPECT_LE(q.bucket_capacity(), most + (EventQueue::kBuckets + EventQueue::kSlabChunks) * EventQueue::kChunkEvents);
}

namespace {

/// An event the reference list expects: popped by time, then rank (0 first, 1 normal, 2 last),
/// then push order.
struct RefEvent {
  double t;
  int rank;
  std::uint64_t seq;
};

/// The event the queue must pop next.
std::vector<RefEvent>::iterator next_expected(std::vector<RefEvent>& ref) {
  return std::min_element(ref.begin(), ref.end(), [](const RefEvent& a, const RefEvent& b) {
    if (a.t != b.t) return a.t < b.t;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.seq < b.seq;
  });
}

/// Pushes an event of a random rank at `t` to `q` and to `ref`.
void push_random_rank(EventQueue& q, std::vector<RefEvent>& ref, double t, double u, double first_below, double last_below,
                      std::uint64_t& seq) {
  const int rank = u < first_below ? 0 : u < last_below ? 2 : 1;
  if (rank == 0)
    q.push_first(t, EventKind::Resume, seq);
  else if (rank == 2)
    q.push_last(t, EventKind::Resume, seq);
  else
    q.push(t, EventKind::Resume, seq);
  ref.push_back({t, rank, seq++});
}

}  // namespace

// The queue against a sorted reference: random pushes (some first, some last, many equal
// times) and pops interleaved must come out by time, then platform changes first and worker
// wake-ups last, then push order.
TEST(EventQueue, InterleavedPushesAndPopsMatchASortedReference) {
  EventQueue q;
  std::vector<RefEvent> ref;
  swarmsim::sim::Rng rng(3);
  std::uint64_t seq = 0;
  double now = 0;
  for (int step = 0; step < 20000; ++step) {
    if (ref.empty() || rng.uniform() < 0.55) {
      const double t = now + static_cast<double>(rng.below(8)) * 0.25;  // many ties
      push_random_rank(q, ref, t, rng.uniform(), 0.1, 0.2, seq);
      continue;
    }
    const auto best = next_expected(ref);
    ASSERT_EQ(q.size(), ref.size());
    const TimedEvent e = q.pop();
    ASSERT_EQ(e.payload, best->seq) << "step " << step;
    ASSERT_EQ(e.t, best->t);
    now = e.t;
    ref.erase(best);
  }
}

// The earliest few events pop from a sorted run: many events pushed among them (before the
// run's last one, some at the very instant just popped) must be sorted in, and once the run is
// too long its later half goes back to the buckets, all without changing the order.
TEST(EventQueue, EventsPushedAmongTheEarliestFewComeOutInOrder) {
  EventQueue q;
  std::vector<RefEvent> ref;
  swarmsim::sim::Rng rng(17);
  std::uint64_t seq = 0;
  // Ten events in [1, 2) share the lowest bucket, one chunk: the first pop sorts them into a run.
  for (int i = 0; i < 10; ++i) push_random_rank(q, ref, 1.0 + 0.1 * i, rng.uniform(), 0.1, 0.2, seq);
  double now = 0;
  for (int round = 0; round < 200; ++round) {
    const auto best = next_expected(ref);
    const TimedEvent e = q.pop();
    ASSERT_EQ(e.payload, best->seq) << "round " << round;
    now = e.t;
    ref.erase(best);
    const int burst = round % 10 == 0 ? 150 : static_cast<int>(rng.below(4));  // some bursts overflow the run
    for (int k = 0; k < burst; ++k) {
      const double t = rng.uniform() < 0.3 ? now : now + rng.uniform() * 0.5;
      push_random_rank(q, ref, t, rng.uniform(), 0.1, 0.2, seq);
    }
  }
  while (!ref.empty()) {
    const auto best = next_expected(ref);
    ASSERT_FALSE(q.empty());
    ASSERT_EQ(q.pop().payload, best->seq);
    ref.erase(best);
  }
  EXPECT_TRUE(q.empty());
}

// Deadlines wait in buckets outside the heap, yet pop exactly where push() would have put them
// among every other kind of event; those no longer pending when their bucket comes up never pop.
TEST(EventQueue, DeadlinesPopInPushOrderAndDroppedOnesNever) {
  for (const double bucket : {0.3, 1.0, 50.0}) {
    EventQueue q(bucket);
    q.deadline_still_pending = [](const TimedEvent& e) { return e.version == 0; };  // version 1: its flow ended
    std::vector<RefEvent> ref;
    swarmsim::sim::Rng rng(11);
    std::uint64_t seq = 0;
    double now = 0;
    std::size_t popped = 0;
    for (int step = 0; step < 20000; ++step) {
      if (ref.empty() || rng.uniform() < 0.55) {
        const double u = rng.uniform();
        if (u < 0.4) {  // a timeout: later than most, some to be dropped
          const double t = now + 2.0 + static_cast<double>(rng.below(40)) * 0.25;
          const bool dead = rng.uniform() < 0.7;
          q.push_deadline(t, EventKind::FlowTimeout, seq, dead ? 1 : 0);
          if (!dead) ref.push_back({t, 1, seq});
          ++seq;
          continue;
        }
        push_random_rank(q, ref, now + static_cast<double>(rng.below(8)) * 0.25, u, 0.5, 0.6, seq);  // many ties
        continue;
      }
      const auto best = next_expected(ref);
      ASSERT_FALSE(q.empty());
      const TimedEvent e = q.pop();
      ASSERT_EQ(e.payload, best->seq) << "bucket " << bucket << ", step " << step;
      ASSERT_EQ(e.t, best->t);
      ASSERT_EQ(e.version, 0u) << "a dropped deadline popped";
      now = e.t;
      ref.erase(best);
      ++popped;
    }
    while (!ref.empty()) {  // drain: only dropped deadlines may remain once ref is empty
      ASSERT_FALSE(q.empty());
      const auto best = next_expected(ref);
      ASSERT_EQ(q.pop().payload, best->seq);
      ref.erase(best);
      ++popped;
    }
    EXPECT_TRUE(q.empty()) << "only dropped deadlines were left";
    EXPECT_GT(popped, 5000u);
  }
}
