// A message of S bytes between two hosts arrives after latency + S / bandwidth.
// Each TEST runs in its own process (gtest_discover_tests): SimGrid allows one run per process.
#include <gtest/gtest.h>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>

#include "gpu/shard_cost_model.hpp"
#include "sim/engine/swarm_platform.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;

namespace {

// The two-node scenario by hand: client uplink/downlink 100 Mbit/s = 12.5e6 B/s, server 1 Gbit/s;
// one-way latency = client access 3 ms + server access 2 ms + 0 km apart = 5 ms. Llama-3-8B hidden
// states are 4096 x 2 B per token; every message carries a 256 B header.
constexpr double kLatency = 0.005;
constexpr double kBottleneck = 12.5e6;  // min(client 100 Mbit/s, server 1 Gbit/s), both directions
constexpr double kPrefillBytes = 64 * 4096 * 2 + 256;  // 64-token prompt
constexpr double kDecodeBytes = 1 * 4096 * 2 + 256;

std::vector<TransferSpan> run_two_node(const std::vector<Override>& overrides) {
  Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json", overrides);
  SwarmSimulation sim(sc, make_cost_model(sc));
  std::vector<TransferSpan> spans;
  sim.signals().on_transfer.connect([&](const TransferSpan& t) { spans.push_back(t); });
  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  sim.run(opts);
  return spans;
}

}  // namespace

// The exact model (CM02 without factors) is used to check the closed form: with no per-message
// overhead and (de)serialization and checksums at 1 TB/s, a hop takes 4 S / 1e12 + latency + S / bandwidth.
TEST(Transfer, ExactModelGivesLatencyPlusSizeOverBandwidth) {
  const auto spans = run_two_node({{"overheads.rpc", "0ms"}, {"overheads.serialization_bandwidth", "1TBps"},
                                   {"policy.faults.checksum_bandwidth", "1TBps"}});
  ASSERT_EQ(spans.size(), 2u * 16 * 2);  // 2 sessions x 16 steps x (client->server, server->client)
  int prefill = 0;
  for (const TransferSpan& t : spans) {
    ASSERT_TRUE(t.bytes == kPrefillBytes || t.bytes == kDecodeBytes) << t.bytes;
    const double expected = 4 * t.bytes / 1e12 + kLatency + t.bytes / kBottleneck;
    EXPECT_NEAR(t.end - t.start, expected, 1e-9 * expected) << "bytes " << t.bytes;
    prefill += t.bytes == kPrefillBytes;
  }
  EXPECT_EQ(prefill, 4);  // one each way per session
  // The 64-token prompt: 5 ms + 524544 B / 12.5e6 B/s = 46.96 ms.
  EXPECT_NEAR(spans.front().end - spans.front().start, 0.0469635 + 4 * kPrefillBytes / 1e12, 1e-7);
}

// Per-message overhead and serialization are real costs: rpc + 2 S / serialization_bandwidth is
// added to every hop.
TEST(Transfer, PerMessageOverheadsAreAdded) {
  const auto spans = run_two_node({{"overheads.rpc", "1ms"}, {"overheads.serialization_bandwidth", "1GBps"},
                                   {"policy.faults.checksum_bandwidth", "2GBps"}});
  ASSERT_FALSE(spans.empty());
  for (const TransferSpan& t : spans) {
    const double expected = 0.001 + 2 * t.bytes / 1e9 + 2 * t.bytes / 2e9 + kLatency + t.bytes / kBottleneck;  // FNV-1a at both ends
    EXPECT_NEAR(t.end - t.start, expected, 1e-9 * expected);
  }
}

// SimGrid's validated TCP model (LV08, the default) multiplies latency by 13.01 and bandwidth by
// 0.97. Cross-traffic puts the ACK flow on the reverse access links, which the data does not use,
// and the TCP window cap gamma / (2 x 5 ms) = 419 MB/s is far above 12.5 MB/s.
TEST(Transfer, TcpModelAppliesSimGridFactors) {
  const auto spans = run_two_node({{"network.model", "tcp"}, {"overheads.rpc", "0ms"},
                                   {"overheads.serialization_bandwidth", "1TBps"}, {"policy.faults.checksum_bandwidth", "1TBps"}});
  ASSERT_FALSE(spans.empty());
  for (const TransferSpan& t : spans) {
    const double expected = 4 * t.bytes / 1e12 + 13.01 * kLatency + t.bytes / (0.97 * kBottleneck);
    EXPECT_NEAR(t.end - t.start, expected, 1e-6 * expected) << "bytes " << t.bytes;
  }
}

// Geographic latency: the server moves to Madrid (40.4168 N, 3.7038 W), 1445.74 km from Frankfurt
// (50.11 N, 8.68 E) along the great circle (haversine, R = 6371.0088 km, computed outside swarmsim);
// at 200000 km/s over a path 2x longer that adds 14.457 ms one way.
TEST(Transfer, DistanceAddsPropagationDelay) {
  const auto spans = run_two_node({{"overheads.rpc", "0ms"}, {"overheads.serialization_bandwidth", "1TBps"},
                                   {"policy.faults.checksum_bandwidth", "1TBps"},
                                   {"nodes[0].location", R"({"lat": 40.4168, "lon": -3.7038})"}});
  ASSERT_FALSE(spans.empty());
  const TransferSpan& t = spans.front();
  const double expected = 4 * t.bytes / 1e12 + kLatency + 0.0144574 + t.bytes / kBottleneck;
  EXPECT_NEAR(t.end - t.start, expected, 1e-6);
}

// The software time of a message (RPC overhead, (de)serialization, checksums) rides in the
// message's latency, which must cost the same as sleeping it and then sending, under the TCP
// model's factors too: rpc + 4 S / 1e9 + 13.01 latency + S / (0.97 bandwidth).
TEST(Transfer, SoftwareTimeFoldedIntoLatencyUnderTcpModel) {
  const auto spans = run_two_node({{"network.model", "tcp"}, {"overheads.rpc", "3ms"},
                                   {"overheads.serialization_bandwidth", "1GBps"}, {"policy.faults.checksum_bandwidth", "1GBps"}});
  ASSERT_FALSE(spans.empty());
  for (const TransferSpan& t : spans) {
    const double expected = 0.003 + 4 * t.bytes / 1e9 + 13.01 * kLatency + t.bytes / (0.97 * kBottleneck);
    EXPECT_NEAR(t.end - t.start, expected, 1e-6 * expected) << "bytes " << t.bytes;
  }
}

// A pair with no latency has nothing to scale: the sender sleeps the software time instead, and
// the hop still takes rpc + 4 S / 1e9 + S / bandwidth.
TEST(Transfer, SoftwareTimeSleptWhenThePairHasNoLatency) {
  const auto spans = run_two_node({{"overheads.rpc", "2ms"}, {"overheads.serialization_bandwidth", "1GBps"},
                                   {"policy.faults.checksum_bandwidth", "1GBps"}, {"nodes[0].access_latency", "0ms"},
                                   {"clients[0].access_latency", "0ms"}});
  ASSERT_FALSE(spans.empty());
  for (const TransferSpan& t : spans) {
    const double expected = 0.002 + 4 * t.bytes / 1e9 + t.bytes / kBottleneck;
    EXPECT_NEAR(t.end - t.start, expected, 1e-9 * expected) << "bytes " << t.bytes;
  }
}

// Folded software time holds no bandwidth, exactly like a sleep before the send. On the two-node
// platform (exact model), a 10 MB flow and a 1 MB message with 100 ms of folded software time both
// start at t = 0 from the client (uplink 12.5 MB/s). The big flow is alone for its first 100 ms
// after the 5 ms latency (1.25 MB), shares the link equally with the small one for 1 MB / 6.25
// MB/s = 160 ms (1 MB), and sends its last 7.75 MB alone in 620 ms. Had the folded time held
// bandwidth, the small message would end 100 ms earlier or the big one later.
TEST(Transfer, FoldedSoftwareTimeHoldsNoBandwidth) {
  const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json",
                                         {{"network.model", "exact"}});
  const std::unique_ptr<simgrid::s4u::Engine> engine = make_engine();
  const LatencyTable latencies(sc);
  SwarmPlatform platform(sc, latencies);
  const int server = 0, client = 1;
  ASSERT_NEAR(platform.latency_s(client, server), kLatency, 1e-12);
  ASSERT_TRUE(platform.can_fold_into_latency(client, server));
  double big_end = -1, small_end = -1;
  simgrid::s4u::Actor::create("big", platform.control_host(), [&] {
    simgrid::s4u::Comm::sendto(platform.host(client), platform.host(server), 10'000'000);
    big_end = simgrid::s4u::Engine::get_clock();
  });
  simgrid::s4u::Actor::create("small", platform.control_host(), [&] {
    platform.fold_into_latency(client, server, 1'000'000, 0.1);
    simgrid::s4u::Comm::sendto(platform.host(client), platform.host(server), 1'000'000);
    small_end = simgrid::s4u::Engine::get_clock();
  });
  engine->run();
  EXPECT_NEAR(small_end, 0.1 + kLatency + 0.16, 1e-9);
  EXPECT_NEAR(big_end, kLatency + 0.1 + 0.16 + 0.62, 1e-9);
}

// Extra protocol round trips: each message first waits round_trips x RTT (2 x 5 ms one way).
TEST(Transfer, ExtraRoundTripsWaitForThePairsRtt) {
  const auto spans = run_two_node({{"overheads.rpc", "0ms"}, {"overheads.serialization_bandwidth", "1TBps"},
                                   {"policy.faults.checksum_bandwidth", "1TBps"}, {"overheads.round_trips", "2.5"}});
  ASSERT_FALSE(spans.empty());
  for (const TransferSpan& t : spans) {
    const double expected = 4 * t.bytes / 1e12 + 2.5 * 2 * kLatency + kLatency + t.bytes / kBottleneck;
    EXPECT_NEAR(t.end - t.start, expected, 1e-9 * expected) << "bytes " << t.bytes;
  }
}
