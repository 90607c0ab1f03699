#pragma once
// An in-memory Kademlia network: N KademliaNodes and a discrete-event transport, for tests and
// for measuring lookups (hops, messages) without SimGrid.
//
// Messages are events ordered by (delivery time, send order): a request sent at t arrives at
// t + delay(from, to), is answered at once, and the response arrives delay(to, from) later.
// With no delay function every message takes 0 s and delivery is FIFO. A request to a failed
// node, or whose round trip exceeds rpc_timeout_s, ends in a timeout rpc_timeout_s after it was
// sent. Every call that starts work runs the event queue until it is empty, so calls are
// synchronous and the clock (now_s) only moves forward, by message delays, timeouts and
// advance_to(). Deterministic for a given seed.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/dht/kademlia.hpp"
#include "sim/rng.hpp"

namespace swarmsim::dht {

struct InMemoryDhtParams {
  KademliaParams node;                              ///< protocol parameters of every node
  double rpc_timeout_s = 1.0;                       ///< a request without answer times out after this (s)
  std::function<double(int from, int to)> delay_s;  ///< one-way delay of a message between node indices (s); empty = 0
  std::uint64_t seed = 1;                           ///< bootstrap choices and per-node random streams
};

/// Message counts of the whole network since it was built.
struct DhtTraffic {
  std::int64_t requests = 0;   ///< requests sent (PING, STORE, FIND_NODE, FIND_VALUE)
  std::int64_t responses = 0;  ///< responses delivered
  std::int64_t timeouts = 0;   ///< requests that timed out
};

class InMemoryDht final : private Transport {
 public:
  explicit InMemoryDht(InMemoryDhtParams params = {});
  InMemoryDht(const InMemoryDht&) = delete;
  InMemoryDht& operator=(const InMemoryDht&) = delete;
  ~InMemoryDht() override;

  /// Adds a node named `name` (its address) with id NodeId::from_name(name); see the overload.
  int add_node(const std::string& name);
  /// Adds a node with id `id` and joins it through a uniformly drawn live node (KademliaNode::join);
  /// returns its index. The first node joins nobody. Throws on a duplicate name.
  int add_node(const std::string& name, const NodeId& id);
  /// Fails node `i` for good: it stops answering and its own pending work is dropped.
  void fail(int i);
  bool failed(int i) const { return failed_.at(static_cast<std::size_t>(i)); }
  /// Nodes added, failed ones included.
  int size() const { return static_cast<int>(nodes_.size()); }
  /// Nodes not failed.
  int alive() const { return alive_; }
  /// Node `i` (borrowed; valid as long as this network).
  KademliaNode& node(int i) { return *nodes_.at(static_cast<std::size_t>(i)); }
  /// Index of the node with address `address`, or -1.
  int index_of(const std::string& address) const;

  /// Iterative FIND_NODE of `target` from live node `from`, run to completion. These four calls
  /// throw std::invalid_argument when `from` has failed.
  LookupResult find_node(int from, const NodeId& target);
  /// Iterative FIND_VALUE of `key` from node `from`, run to completion.
  LookupResult find_value(int from, const std::string& key);
  /// STORE of `records` under `key` on the k closest nodes to it, from node `from`.
  LookupResult store(int from, const std::string& key, std::vector<Record> records);
  /// Node `from` publishes `payload` under `key` for `ttl_s`, and republishes it every ttl/2.
  LookupResult publish(int from, const std::string& key, std::string payload, double ttl_s);
  /// Node `from` stops republishing `key`.
  void stop_publishing(int from, const std::string& key) { node(from).stop_publishing(key); }
  /// Moves the clock to `t_s`, running every republication that falls due on the way (live nodes).
  void advance_to(double t_s);
  /// Simulated time (s).
  double now_s() const { return now_s_; }

  /// Brute force: the `count` live nodes nearest `target` by XOR, nearest first, leaving out `exclude`.
  std::vector<int> closest_alive(const NodeId& target, int count, int exclude = -1) const;
  const DhtTraffic& traffic() const { return traffic_; }

 private:
  enum class EventKind { Request, Response, Timeout };
  struct Event {
    double time_s = 0;
    EventKind kind = EventKind::Request;
    int to = -1;          // the node that handles the event
    int from = -1;        // the other end
    double sent_s = 0;    // when the request was sent
    std::uint64_t rpc_id = 0;
    Request request;      // kind Request
    Response response;    // kind Response
  };
  struct Scheduled {  // the heap holds these small keys; events stay put in slots_
    double time_s = 0;
    std::uint64_t seq = 0;
    std::size_t slot = 0;
  };
  struct Later {
    bool operator()(const Scheduled& a, const Scheduled& b) const {
      return a.time_s != b.time_s ? a.time_s > b.time_s : a.seq > b.seq;
    }
  };
  void send(const Contact& to, Request request) override;
  void schedule(Event e);
  void run_until_idle();
  KademliaNode& live_node(int i, const char* what);
  LookupResult wait_for(const char* what, const std::function<void(KademliaNode::LookupDone)>& start);

  InMemoryDhtParams params_;
  sim::Rng rng_;
  std::vector<std::unique_ptr<KademliaNode>> nodes_;
  std::vector<bool> failed_;
  std::unordered_map<std::string, int> index_;
  int alive_ = 0;
  double now_s_ = 0;
  std::uint64_t next_seq_ = 0;
  std::vector<Scheduled> queue_;  // a heap under Later
  std::vector<Event> slots_;
  std::vector<std::size_t> free_slots_;
  DhtTraffic traffic_;
};

}  // namespace swarmsim::dht
