// A message of S bytes between two hosts arrives after latency + S / bandwidth.
// Each TEST runs in its own process (gtest_discover_tests): SimGrid allows one run per process.
#include <gtest/gtest.h>

#include "gpu/shard_cost_model.hpp"
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
