// The Kademlia DHT: XOR-metric known answers, the routing table against brute force, the
// iterative lookup state machine by hand, and in-memory networks of 250 and 1,000 nodes
// (exact k-closest results, O(log n) hops, records with TTL, 20% failed nodes, determinism).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "sim/dht/in_memory_network.hpp"
#include "sim/dht/kademlia.hpp"
#include "sim/dht/node_id.hpp"
#include "sim/dht/routing_table.hpp"
#include "sim/rng.hpp"

using namespace swarmsim::dht;
using swarmsim::sim::Rng;

namespace {

NodeId hex_id(const char* h) { return NodeId::from_hex(h); }

/// a + b as 192-bit words (most significant first), to check the triangle inequality exactly.
std::array<std::uint32_t, 6> add(const NodeId& a, const NodeId& b) {
  std::array<std::uint32_t, 6> s{};
  std::uint64_t carry = 0;
  for (int i = NodeId::kWords - 1; i >= 0; --i) {
    const std::uint64_t t = static_cast<std::uint64_t>(a.words()[i]) + b.words()[i] + carry;
    s[static_cast<std::size_t>(i + 1)] = static_cast<std::uint32_t>(t);
    carry = t >> 32;
  }
  s[0] = static_cast<std::uint32_t>(carry);
  return s;
}
std::array<std::uint32_t, 6> widen(const NodeId& a) {
  std::array<std::uint32_t, 6> s{};
  for (int i = 0; i < NodeId::kWords; ++i) s[static_cast<std::size_t>(i + 1)] = a.words()[i];
  return s;
}

/// Brute force: `ids` sorted by XOR distance to `target`.
std::vector<NodeId> sorted_by_distance(std::vector<NodeId> ids, const NodeId& target) {
  std::sort(ids.begin(), ids.end(), [&](const NodeId& a, const NodeId& b) { return closer_to(target, a, b); });
  return ids;
}

}  // namespace

// ---- NodeId -----------------------------------------------------------------------------------

TEST(NodeId, HexRoundTripAndWordLayout) {
  const NodeId one = hex_id("1");
  EXPECT_EQ(one.hex(), std::string(39, '0') + "1");
  EXPECT_EQ(one.words()[4], 1U);
  const NodeId top = hex_id("8000000000000000000000000000000000000000");
  EXPECT_EQ(top.words()[0], 0x80000000U);
  EXPECT_TRUE(top.bit_from_top(0));
  EXPECT_FALSE(top.bit_from_top(1));
  EXPECT_TRUE(one.bit_from_top(159));
  EXPECT_EQ(hex_id("123456789abcdef0fedcba9876543210deadbeef").hex(), "123456789abcdef0fedcba9876543210deadbeef");
  EXPECT_THROW(hex_id("xyz"), std::invalid_argument);
  EXPECT_THROW(NodeId::from_hex(std::string(41, '1')), std::invalid_argument);
}

TEST(NodeId, XorAndBucketIndexKnownAnswers) {
  // 0b1010 ^ 0b1100 = 0b0110: highest differing bit is bit 2 -> bucket 2, prefix 157 bits.
  EXPECT_EQ(hex_id("a") ^ hex_id("c"), hex_id("6"));
  EXPECT_EQ(bucket_index(hex_id("a"), hex_id("c")), 2);
  EXPECT_EQ(common_prefix_length(hex_id("a"), hex_id("c")), 157);
  EXPECT_EQ(hex_id("f0") ^ hex_id("0f"), hex_id("ff"));
  const NodeId zero;
  EXPECT_EQ(bucket_index(zero, hex_id("1")), 0);
  EXPECT_EQ(bucket_index(zero, hex_id("80")), 7);
  EXPECT_EQ(bucket_index(zero, hex_id("100000000")), 32);  // crosses a word boundary
  EXPECT_EQ(bucket_index(zero, hex_id("ffffffff")), 31);
  EXPECT_EQ(bucket_index(zero, hex_id("8000000000000000000000000000000000000000")), 159);
  EXPECT_EQ(bucket_index(hex_id("8000000000000000000000000000000000000000"), hex_id("ffffffffffffffffffffffffffffffffffffffff")), 158);
  EXPECT_EQ(bucket_index(hex_id("abc"), hex_id("abc")), -1);
  EXPECT_EQ(zero.leading_zeros(), 160);
  EXPECT_EQ(common_prefix_length(hex_id("abc"), hex_id("abc")), 160);
  // Distances from target 0b1010 to 1, 2, 3, 8: 11, 8, 9, 2.
  EXPECT_TRUE(closer_to(hex_id("a"), hex_id("8"), hex_id("2")));
  EXPECT_TRUE(closer_to(hex_id("a"), hex_id("2"), hex_id("3")));
  EXPECT_TRUE(closer_to(hex_id("a"), hex_id("3"), hex_id("1")));
}

TEST(NodeId, XorMetricProperties) {
  Rng rng(7);
  for (int i = 0; i < 300; ++i) {
    const NodeId a = NodeId::random(rng), b = NodeId::random(rng), c = NodeId::random(rng);
    EXPECT_TRUE(xor_distance(a, a).is_zero());                 // d(a, a) = 0
    EXPECT_FALSE(xor_distance(a, b).is_zero());                // d(a, b) > 0 for a != b
    EXPECT_EQ(xor_distance(a, b), xor_distance(b, a));         // symmetry
    EXPECT_EQ(a ^ xor_distance(a, b), b);                      // unidirectionality: one point per distance
    EXPECT_LE(widen(xor_distance(a, c)), add(xor_distance(a, b), xor_distance(b, c)));  // triangle inequality
    EXPECT_EQ(bucket_index(a, b), 159 - common_prefix_length(a, b));
  }
}

TEST(NodeId, FromNameIsFnv1aExpandedBySplitMix64) {
  // FNV-1a-64 test vectors (Fowler, Noll, Vo).
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  // Ids computed independently (Python) from SplitMix64 seeded with the FNV hash: the 160 bits are
  // the first draw, the second draw and the top half of the third.
  EXPECT_EQ(NodeId::from_name("").hex(), "c3817c016ba4ff30100cdaacc0bc931654c3a569");
  EXPECT_EQ(NodeId::from_name("block:0").hex(), "694eeb571b6bb89371ec2806e29b91b4dff38755");
  EXPECT_EQ(key_id("node-1").hex(), "94a9d40986da123d1fcdc59595970c417f68e47f");
}

TEST(NodeId, RandomInBucketLandsInThatBucket) {
  Rng rng(3);
  const NodeId self = NodeId::random(rng);
  for (int b = 0; b < kIdBits; ++b)
    for (int rep = 0; rep < 3; ++rep) EXPECT_EQ(bucket_index(self, NodeId::random_in_bucket(self, b, rng)), b);
}

// ---- RoutingTable -----------------------------------------------------------------------------

TEST(RoutingTable, HandWorkedClosestOrder) {
  RoutingTable t(NodeId{}, 20);
  for (const char* h : {"1", "2", "3", "8"}) t.observe(Contact{hex_id(h), h}, 0);
  // Target 0b1010: distances 8 -> 2, 2 -> 8, 3 -> 9, 1 -> 11.
  const std::vector<Contact> c = t.closest(hex_id("a"), 10);
  ASSERT_EQ(c.size(), 4U);
  EXPECT_EQ(c[0].address, "8");
  EXPECT_EQ(c[1].address, "2");
  EXPECT_EQ(c[2].address, "3");
  EXPECT_EQ(c[3].address, "1");
  EXPECT_EQ(t.closest(hex_id("a"), 2).size(), 2U);
  EXPECT_EQ(t.nearest_bucket(), 0);
}

TEST(RoutingTable, LeastRecentlySeenIsPingedThenEvictedForTheNewest) {
  // k = 2; all ids below have the top bit set, so they share bucket 159 of node 0.
  RoutingTable t(NodeId{}, 2, 2);
  const Contact a{hex_id("8000000000000000000000000000000000000001"), "a"};
  const Contact b{hex_id("8000000000000000000000000000000000000002"), "b"};
  const Contact c{hex_id("8000000000000000000000000000000000000003"), "c"};
  const Contact d{hex_id("8000000000000000000000000000000000000004"), "d"};
  EXPECT_EQ(t.observe(a, 1).what, RoutingTable::Observed::Inserted);
  EXPECT_EQ(t.observe(b, 2).what, RoutingTable::Observed::Inserted);
  const auto full = t.observe(c, 3);
  EXPECT_EQ(full.what, RoutingTable::Observed::Cached);
  ASSERT_TRUE(full.ping_candidate);
  EXPECT_EQ(full.ping_candidate->address, "a");  // least recently seen
  EXPECT_FALSE(t.contains(c.id));
  // a answers the ping: it moves to the tail, and b becomes the one to ping.
  EXPECT_EQ(t.observe(a, 4).what, RoutingTable::Observed::Refreshed);
  EXPECT_EQ(t.observe(d, 5).ping_candidate->address, "b");
  // b times out: the newest replacement (d) takes its place.
  EXPECT_TRUE(t.remove(b.id));
  EXPECT_TRUE(t.contains(d.id));
  EXPECT_FALSE(t.contains(b.id));
  EXPECT_EQ(t.size(), 2);
  EXPECT_EQ(t.bucket(159).size(), 2U);
  EXPECT_EQ(t.bucket(159).front().contact.address, "a");  // last seen at 4, d at 5
  EXPECT_EQ(t.replacements(159).size(), 1U);               // c still waits
  EXPECT_EQ(t.observe(Contact{NodeId{}, "self"}, 6).what, RoutingTable::Observed::Ignored);
}

TEST(RoutingTable, BucketsNeverExceedKAndClosestMatchesBruteForce) {
  Rng rng(11);
  const NodeId self = NodeId::random(rng);
  std::vector<NodeId> ids;
  for (int i = 0; i < 500; ++i) ids.push_back(NodeId::random(rng));

  // k = 20: buckets are capped; closest() equals a brute-force sort of what the table holds.
  RoutingTable capped(self, 20);
  for (int i = 0; i < 500; ++i) capped.observe(Contact{ids[static_cast<std::size_t>(i)], "n" + std::to_string(i)}, i);
  int total = 0;
  std::vector<NodeId> held;
  for (int b = 0; b < kIdBits; ++b) {
    EXPECT_LE(capped.bucket(b).size(), 20U) << "bucket " << b;
    total += static_cast<int>(capped.bucket(b).size());
    for (const auto& e : capped.bucket(b)) {
      EXPECT_EQ(bucket_index(self, e.contact.id), b);
      held.push_back(e.contact.id);
    }
  }
  EXPECT_EQ(total, capped.size());
  EXPECT_LT(capped.size(), 500);  // bucket 159 alone had ~250 candidates
  EXPECT_EQ(capped.bucket(159).size(), 20U);

  // k = 500: nothing is evicted, so closest() must equal a brute-force sort of all 500 ids.
  RoutingTable all(self, 500);
  for (int i = 0; i < 500; ++i) all.observe(Contact{ids[static_cast<std::size_t>(i)], "n" + std::to_string(i)}, i);
  ASSERT_EQ(all.size(), 500);
  for (int q = 0; q < 50; ++q) {
    const NodeId target = NodeId::random(rng);
    const std::vector<NodeId> want_all = sorted_by_distance(ids, target);
    const std::vector<Contact> got = all.closest(target, 30);
    ASSERT_EQ(got.size(), 30U);
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].id, want_all[i]);
    const std::vector<NodeId> want_held = sorted_by_distance(held, target);
    const std::vector<Contact> got_capped = capped.closest(target, 20);
    for (std::size_t i = 0; i < got_capped.size(); ++i) EXPECT_EQ(got_capped[i].id, want_held[i]);
  }
}

// ---- IterativeLookup --------------------------------------------------------------------------

TEST(IterativeLookup, HandDrivenAlphaTwoKThree) {
  // Target 0; candidates' distances are their ids. α = 2, k = 3.
  IterativeLookup l(hex_id("ffff"), NodeId{}, IterativeLookup::Goal::FindNode, 2, 3);
  std::vector<LookupRpc> out = l.start({{hex_id("40"), "40"}, {hex_id("20"), "20"}, {hex_id("80"), "80"}, {hex_id("10"), "10"}});
  ASSERT_EQ(out.size(), 2U);  // the two nearest, depth 1
  EXPECT_EQ(out[0].to.address, "10");
  EXPECT_EQ(out[1].to.address, "20");
  EXPECT_EQ(out[0].depth, 1);
  // "10" names "1" (and the requester itself, which is ignored): "1" is sent at depth 2.
  out = l.on_response(hex_id("10"), {{hex_id("1"), "1"}, {hex_id("ffff"), "self"}});
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to.address, "1");
  EXPECT_EQ(out[0].depth, 2);
  EXPECT_EQ(l.in_flight(), 2);
  // "20" times out: the window of the 3 nearest live candidates is now 1, 10, 40.
  out = l.on_timeout(hex_id("20"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to.address, "40");
  out = l.on_response(hex_id("1"), {});
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(l.done());  // "40" still in flight
  out = l.on_response(hex_id("99"), {});  // not asked: ignored
  EXPECT_TRUE(out.empty());
  out = l.on_response(hex_id("40"), {});
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(l.done());  // 1, 10, 40 answered; 80 is outside the window
  const LookupResult& r = l.result();
  ASSERT_EQ(r.closest.size(), 3U);
  EXPECT_EQ(r.closest[0].address, "1");
  EXPECT_EQ(r.closest[1].address, "10");
  EXPECT_EQ(r.closest[2].address, "40");
  EXPECT_EQ(r.hops, 2);
  EXPECT_EQ(r.rpcs, 4);
  EXPECT_EQ(r.responses, 3);
  EXPECT_EQ(r.timeouts, 1);
}

TEST(IterativeLookup, FindValueStopsAtTheFirstRecord) {
  IterativeLookup l(hex_id("ffff"), NodeId{}, IterativeLookup::Goal::FindValue, 3, 20);
  ASSERT_EQ(l.start({{hex_id("1"), "1"}, {hex_id("2"), "2"}}).size(), 2U);
  l.on_response(hex_id("2"), {}, {Record{"s", "x", 10}});
  ASSERT_TRUE(l.done());
  EXPECT_TRUE(l.result().found_value);
  EXPECT_EQ(l.result().records.size(), 1U);
  EXPECT_TRUE(l.on_response(hex_id("1"), {{hex_id("3"), "3"}}).empty());  // late answers change nothing
  EXPECT_EQ(l.result().responses, 1);
}

TEST(IterativeLookup, NoSeedsEndsAtOnce) {
  IterativeLookup l(NodeId{}, hex_id("5"), IterativeLookup::Goal::FindNode);
  EXPECT_TRUE(l.start({}).empty());
  EXPECT_TRUE(l.done());
  EXPECT_EQ(l.result().hops, 0);
}

// ---- KademliaNode driven by hand (as the engine will drive it) ---------------------------------

namespace {
/// A transport that only records what it is asked to send.
class RecordingTransport final : public Transport {
 public:
  std::vector<std::pair<Contact, Request>> sent;
  void send(const Contact& to, Request request) override { sent.emplace_back(to, std::move(request)); }
};
}  // namespace

TEST(KademliaNode, StoreMergesByPublisherAndReadsDropExpiredRecords) {
  RecordingTransport net;
  KademliaNode n({hex_id("1"), "n"}, net);
  Request store;
  store.kind = RpcKind::Store;
  store.sender = {hex_id("2"), "p"};
  store.key = "block:0";
  store.records = {{"a", "x", 10}, {"b", "y", 20}};
  n.handle(store, 0);
  store.records = {{"a", "x2", 15}};  // same publisher, later expiry: replaces
  n.handle(store, 1);
  store.records = {{"a", "stale", 12}, {"c", "dead", 2}};  // older copy: ignored; already expired: ignored
  n.handle(store, 3);
  Request find;
  find.kind = RpcKind::FindValue;
  find.sender = {hex_id("3"), "q"};
  find.key = "block:0";
  find.target = key_id("block:0");
  Response r = n.handle(find, 5);
  ASSERT_EQ(r.records.size(), 2U);
  EXPECT_EQ(r.records[0], (Record{"a", "x2", 15}));
  EXPECT_EQ(r.records[1], (Record{"b", "y", 20}));
  EXPECT_TRUE(r.contacts.empty());
  r = n.handle(find, 15);  // "a" expires at 15
  ASSERT_EQ(r.records.size(), 1U);
  EXPECT_EQ(r.records[0].publisher, "b");
  r = n.handle(find, 20);  // all gone: FIND_VALUE answers like FIND_NODE
  EXPECT_TRUE(r.records.empty());
  EXPECT_EQ(r.contacts.size(), 2U);  // p and q, seen as senders
  EXPECT_EQ(n.stored_keys(), 0U);
  EXPECT_TRUE(net.sent.empty());  // answering never sends
}

TEST(KademliaNode, LookupDrivenMessageByMessage) {
  RecordingTransport net;
  KademliaParams params;
  params.alpha = 1;
  params.k = 2;
  KademliaNode n({hex_id("ff"), "self"}, net, params);
  Request hello;  // two peers make themselves known
  hello.kind = RpcKind::Ping;
  for (const char* h : {"10", "20"}) {
    hello.sender = {hex_id(h), h};
    n.handle(hello, 0);
  }
  std::vector<LookupResult> results;
  n.find_node(NodeId{}, 1, [&](const LookupResult& r) { results.push_back(r); });
  ASSERT_EQ(net.sent.size(), 1U);  // α = 1: the nearest known peer first
  EXPECT_EQ(net.sent[0].first.address, "10");
  EXPECT_EQ(net.sent[0].second.kind, RpcKind::FindNode);
  EXPECT_EQ(n.pending_rpcs(), 1U);
  // "10" answers with "1", which is nearer: asked next, one hop deeper.
  Response answer;
  answer.kind = RpcKind::FindNode;
  answer.rpc_id = net.sent[0].second.rpc_id;
  answer.sender = {hex_id("10"), "10"};
  answer.contacts = {{hex_id("1"), "1"}};
  n.on_response(answer, 1.01);
  ASSERT_EQ(net.sent.size(), 2U);
  EXPECT_EQ(net.sent[1].first.address, "1");
  // "1" times out: dropped from the routing table; the lookup asks "20" instead.
  n.on_timeout(net.sent[1].second.rpc_id, 2.01);
  ASSERT_EQ(net.sent.size(), 3U);
  EXPECT_EQ(net.sent[2].first.address, "20");
  EXPECT_TRUE(results.empty());
  answer.rpc_id = net.sent[2].second.rpc_id;
  answer.sender = {hex_id("20"), "20"};
  answer.contacts = {};
  n.on_response(answer, 2.02);
  ASSERT_EQ(results.size(), 1U);
  const LookupResult& r = results[0];
  ASSERT_EQ(r.closest.size(), 2U);
  EXPECT_EQ(r.closest[0].address, "10");
  EXPECT_EQ(r.closest[1].address, "20");
  EXPECT_EQ(r.rpcs, 3);
  EXPECT_EQ(r.timeouts, 1);
  EXPECT_EQ(r.hops, 2);
  EXPECT_DOUBLE_EQ(r.started_s, 1.0);
  EXPECT_DOUBLE_EQ(r.finished_s, 2.02);
  EXPECT_EQ(n.pending_rpcs(), 0U);
  EXPECT_EQ(n.active_lookups(), 0U);
  EXPECT_FALSE(n.routing_table().contains(hex_id("1")));
}

// ---- In-memory networks -----------------------------------------------------------------------

namespace {

/// A network of `n` nodes with random ids drawn from `seed`.
std::unique_ptr<InMemoryDht> build(int n, std::uint64_t seed, InMemoryDhtParams params = {}) {
  params.seed = seed;
  auto net = std::make_unique<InMemoryDht>(params);
  Rng ids(seed * 0x9E3779B97F4A7C15ULL + 1);
  for (int i = 0; i < n; ++i) net->add_node("node-" + std::to_string(i), NodeId::random(ids));
  return net;
}

struct HopStats {
  double mean_hops = 0;
  int max_hops = 0;
  double mean_rpcs = 0;
  double mean_timeouts = 0;
  int exact = 0;          // lookups whose k closest equal brute force
  int closest_found = 0;  // lookups that found the nearest live node
  double recall = 0;      // mean share of the brute-force k closest that the lookup returned
  std::vector<int> hops;
};

/// `lookups` FIND_NODEs of random targets from random live nodes, checked against brute force.
HopStats measure(InMemoryDht& net, int lookups, std::uint64_t seed) {
  Rng rng(seed);
  HopStats s;
  const int k = 20;
  for (int q = 0; q < lookups; ++q) {
    int from = static_cast<int>(rng.below(static_cast<std::uint64_t>(net.size())));
    while (net.failed(from)) from = static_cast<int>(rng.below(static_cast<std::uint64_t>(net.size())));
    const NodeId target = NodeId::random(rng);
    const LookupResult r = net.find_node(from, target);
    const std::vector<int> want = net.closest_alive(target, k, from);
    std::vector<int> got;
    for (const Contact& c : r.closest) got.push_back(net.index_of(c.address));
    s.exact += got == want;
    std::vector<int> got_sorted = got, want_sorted = want, common;
    std::sort(got_sorted.begin(), got_sorted.end());
    std::sort(want_sorted.begin(), want_sorted.end());
    std::set_intersection(got_sorted.begin(), got_sorted.end(), want_sorted.begin(), want_sorted.end(), std::back_inserter(common));
    s.recall += static_cast<double>(common.size()) / static_cast<double>(want.size());
    s.closest_found += !got.empty() && got[0] == want[0];
    s.mean_hops += r.hops;
    s.max_hops = std::max(s.max_hops, r.hops);
    s.mean_rpcs += r.rpcs;
    s.mean_timeouts += r.timeouts;
    s.hops.push_back(r.hops);
  }
  s.mean_hops /= lookups;
  s.mean_rpcs /= lookups;
  s.mean_timeouts /= lookups;
  s.recall /= lookups;
  return s;
}

/// Built once for the suite: the 1,000-node build dominates the cost of these tests.
class KademliaNetwork : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    small_ = build(250, 42).release();
    large_ = build(1000, 42).release();
    large_stats_ = measure(*large_, 500, 1);
  }
  static void TearDownTestSuite() {
    delete small_;
    delete large_;
  }
  static InMemoryDht* small_;
  static InMemoryDht* large_;
  static HopStats large_stats_;  // 500 lookups on the 1,000-node network
};
InMemoryDht* KademliaNetwork::small_ = nullptr;
InMemoryDht* KademliaNetwork::large_ = nullptr;
HopStats KademliaNetwork::large_stats_;

}  // namespace

TEST_F(KademliaNetwork, ThousandNodeLookupsFindTheKClosestInLogarithmicHops) {
  const HopStats& s = large_stats_;
  EXPECT_EQ(s.exact, 500);  // every lookup returns exactly the brute-force k closest
  EXPECT_EQ(s.closest_found, 500);
  const double log2n = std::log2(1000.0);
  EXPECT_LE(s.mean_hops, log2n);
  EXPECT_LE(s.max_hops, 2 * log2n);
  std::printf("[ dht 1000 ] mean hops %.2f, max %d, mean RPCs per lookup %.1f\n", s.mean_hops, s.max_hops, s.mean_rpcs);
}

TEST_F(KademliaNetwork, HopsGrowLogarithmicallyFrom250To1000Nodes) {
  const HopStats small = measure(*small_, 500, 2);
  const HopStats& large = large_stats_;
  EXPECT_EQ(small.exact, 500);
  std::printf("[ dht  250 ] mean hops %.2f, max %d, mean RPCs per lookup %.1f\n", small.mean_hops, small.max_hops, small.mean_rpcs);
  // 4x the nodes is 2 more bits of id to resolve: at most ~1 more hop (linear growth would be 4x).
  EXPECT_LE(large.mean_hops - small.mean_hops, 1.0);
  EXPECT_GE(large.mean_hops, small.mean_hops - 0.25);  // and not fewer: the table resolves more bits
  EXPECT_LE(small.mean_hops, std::log2(250.0));
}

TEST_F(KademliaNetwork, EveryBucketFarFromANodeIsPopulated) {
  // A sample of nodes: each knows some contact in the 5 farthest buckets (joins refresh them).
  for (int i = 0; i < 1000; i += 97) {
    const RoutingTable& t = large_->node(i).routing_table();
    for (int b = kIdBits - 5; b < kIdBits; ++b) EXPECT_FALSE(t.bucket(b).empty()) << "node " << i << " bucket " << b;
    EXPECT_LE(t.size(), 20 * kIdBits);
  }
}

TEST(InMemoryDht, StoreThenFindValueFromAnyNodeAndExpiryAfterPublishingStops) {
  auto net = build(200, 5);
  // Publisher 7 announces block 3 for 60 s; it republishes every 30 s while it publishes.
  const LookupResult stored = net->publish(7, "block:3", "blocks=3..5 tput=120", 60);
  EXPECT_EQ(stored.stores, 20);
  net->publish(8, "block:3", "blocks=0..3 tput=80", 60);
  // The k closest to the key hold it.
  for (int i : net->closest_alive(key_id("block:3"), 20)) EXPECT_EQ(net->node(i).records("block:3", net->now_s()).size(), 2U) << i;
  for (int from = 0; from < 200; from += 9) {
    const LookupResult r = net->find_value(from, "block:3");
    ASSERT_TRUE(r.found_value) << "from " << from;
    ASSERT_EQ(r.records.size(), 2U);  // merged by publisher
    std::set<std::string> publishers{r.records[0].publisher, r.records[1].publisher};
    EXPECT_EQ(publishers, (std::set<std::string>{"node-7", "node-8"}));
    EXPECT_DOUBLE_EQ(r.records[0].expires_at, 60.0);
  }
  EXPECT_FALSE(net->find_value(3, "block:4").found_value);

  // Republishing keeps it alive past its first TTL; a new payload replaces the publisher's old one.
  net->advance_to(100);
  LookupResult r = net->find_value(11, "block:3");
  ASSERT_TRUE(r.found_value);
  for (const Record& rec : r.records) EXPECT_GT(rec.expires_at, 100.0);
  net->publish(7, "block:3", "blocks=3..5 tput=200", 60);
  r = net->find_value(12, "block:3");
  ASSERT_EQ(r.records.size(), 2U);
  EXPECT_TRUE(r.records[0].payload == "blocks=3..5 tput=200" || r.records[1].payload == "blocks=3..5 tput=200");

  // Both stop; one TTL later the record is gone everywhere.
  net->stop_publishing(7, "block:3");
  net->stop_publishing(8, "block:3");
  net->advance_to(net->now_s() + 61);
  for (int from = 0; from < 200; from += 13) EXPECT_FALSE(net->find_value(from, "block:3").found_value) << from;
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(net->node(i).records("block:3", net->now_s()).empty());
}

TEST(InMemoryDht, LookupsSurviveTwentyPercentFailedNodes) {
  InMemoryDhtParams p;
  p.rpc_timeout_s = 0.5;
  auto net = build(300, 9, p);
  for (int b = 0; b < 10; ++b) net->publish(b, "block:" + std::to_string(b), "x", 3600);
  Rng rng(99);
  int failed = 0;
  while (failed < 60) {  // 20%, never the publishers 0-9
    const int i = 10 + static_cast<int>(rng.below(290));
    if (!net->failed(i)) {
      net->fail(i);
      ++failed;
    }
  }
  EXPECT_EQ(net->alive(), 240);
  const std::int64_t timeouts_before = net->traffic().timeouts;
  const HopStats s = measure(*net, 200, 4);
  // Every lookup finds the nearest live node. The k-th nearest can be missed: right after the
  // failures every routing table still lists dead nodes, so a responder's k contacts hold fewer
  // than k live ones; tables heal as timeouts remove the dead.
  EXPECT_EQ(s.closest_found, 200);
  EXPECT_GE(s.recall, 0.9);
  EXPECT_GT(net->traffic().timeouts, timeouts_before);  // failed nodes were asked and timed out
  int dead = 10;
  while (!net->failed(dead)) ++dead;
  EXPECT_THROW(net->find_node(dead, NodeId{}), std::invalid_argument);
  for (int b = 0, from = 10; b < 10; ++b, ++from) {
    while (net->failed(from)) ++from;
    const LookupResult r = net->find_value(from, "block:" + std::to_string(b));
    EXPECT_TRUE(r.found_value) << b;
  }
  const HopStats healed = measure(*net, 200, 5);
  EXPECT_EQ(healed.closest_found, 200);
  EXPECT_GE(healed.recall, s.recall);
  std::printf("[ dht 300, 20%% failed ] mean hops %.2f, max %d, mean RPCs %.1f, timeouts %.1f, exact %d/200, recall %.3f"
              " (200 lookups later: timeouts %.1f, exact %d/200, recall %.3f)\n",
              s.mean_hops, s.max_hops, s.mean_rpcs, s.mean_timeouts, s.exact, s.recall, healed.mean_timeouts, healed.exact,
              healed.recall);
}

TEST(InMemoryDht, SameSeedSameHops) {
  auto a = build(100, 77);
  auto b = build(100, 77);
  const HopStats sa = measure(*a, 100, 5);
  const HopStats sb = measure(*b, 100, 5);
  EXPECT_EQ(sa.hops, sb.hops);
  EXPECT_EQ(a->traffic().requests, b->traffic().requests);
  auto c = build(100, 78);
  EXPECT_NE(c->traffic().requests, a->traffic().requests);  // another seed, another network
}

TEST(InMemoryDht, MessageDelaysSetTheLookupTime) {
  InMemoryDhtParams p;
  p.delay_s = [](int, int) { return 0.010; };  // 10 ms each way
  auto net = build(100, 21, p);
  Rng rng(1);
  for (int q = 0; q < 20; ++q) {
    const double t0 = net->now_s();
    const LookupResult r = net->find_node(static_cast<int>(rng.below(100)), NodeId::random(rng));
    EXPECT_DOUBLE_EQ(r.started_s, t0);
    const double elapsed = r.finished_s - r.started_s;
    // Each hop is one round trip of 20 ms; at most α RPCs run at once.
    EXPECT_GE(elapsed, r.hops * 0.020 - 1e-9);
    EXPECT_LE(elapsed, r.rpcs * 0.020 + 1e-9);
    EXPECT_EQ(r.timeouts, 0);
  }
}
