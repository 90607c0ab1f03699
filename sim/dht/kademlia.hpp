#pragma once
// Kademlia (Maymounkov & Mazières 2002) as a message-driven protocol core: the DHT of seed 002 §3
// ("Nesa's inference framework is based on a Distributed Hash Table"), through which servers
// announce the blocks they hold and clients find them (keys like "block:<i>").
//
// Nothing here blocks, sleeps or reads a clock. Callers pass simulated time (seconds) in; a
// Transport carries Requests to other nodes and later hands the node a Response or a timeout.
// The in-memory driver (in_memory_network.hpp) is one transport; the SimGrid engine is another.
//
//   IterativeLookup  the α-parallel node lookup as a state machine: contacts in, RPCs out
//   KademliaNode     one peer: routing table, record store, RPC handling, lookups, publishing
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/dht/node_id.hpp"
#include "sim/dht/routing_table.hpp"
#include "sim/rng.hpp"

namespace swarmsim::dht {

/// One announcement under a key. STORE merges records by publisher.
struct Record {
  std::string publisher;   ///< who announced it (the engine: a server name)
  std::string payload;     ///< opaque to the DHT (the engine: block range, throughput)
  double expires_at = 0;   ///< absolute simulated time after which it is dropped (s)
  friend bool operator==(const Record&, const Record&) = default;
};

/// The id a key is stored under: NodeId::from_name(key).
inline NodeId key_id(std::string_view key) { return NodeId::from_name(key); }

enum class RpcKind { Ping, Store, FindNode, FindValue };
/// "PING", "STORE", "FIND_NODE", "FIND_VALUE".
const char* to_string(RpcKind kind);

/// A request from one node to another.
struct Request {
  RpcKind kind = RpcKind::Ping;
  std::uint64_t rpc_id = 0;     ///< chosen by the sender, unique among its RPCs; echoed in the response
  Contact sender;
  NodeId target;                ///< FIND_NODE / FIND_VALUE: the id looked up
  std::string key;              ///< FIND_VALUE / STORE: the record key
  std::vector<Record> records;  ///< STORE: the records to merge
};

/// The answer to a Request, returned to its sender.
struct Response {
  RpcKind kind = RpcKind::Ping;
  std::uint64_t rpc_id = 0;
  Contact sender;                 ///< the responder
  std::vector<Contact> contacts;  ///< FIND_NODE, or FIND_VALUE without a value: the responder's k closest to the target
  std::vector<Record> records;    ///< FIND_VALUE: the live records under the key (non-empty = found)
};

/// Carries requests between nodes; implemented by the in-memory driver and by the engine.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Queues `request` (from request.sender) for `to`. It must return before anything is delivered;
  /// later the sender's KademliaNode::on_response gets the reply, or on_timeout(request.rpc_id)
  /// when none comes back within the transport's timeout.
  virtual void send(const Contact& to, Request request) = 0;
};

/// What a lookup found and what it cost.
struct LookupResult {
  NodeId target;
  std::vector<Contact> closest;  ///< up to k nodes that answered, nearest the target first
  std::vector<Record> records;   ///< FIND_VALUE: the live records found (empty when not found)
  bool found_value = false;
  int hops = 0;       ///< longest chain of sequential RPCs: the depth of the deepest RPC sent (0 = none sent)
  int rpcs = 0;       ///< requests sent by the lookup (each ends in one response or one timeout)
  int responses = 0;  ///< of those, answered before the lookup ended
  int timeouts = 0;   ///< of those, timed out before the lookup ended
  int stores = 0;     ///< STORE requests sent afterwards (store / publish only)
  double started_s = 0;   ///< simulated time the lookup started (set by KademliaNode; s)
  double finished_s = 0;  ///< simulated time it ended: its last response or timeout (s)
};

/// One RPC a lookup wants sent: FIND_NODE (or FIND_VALUE) of its target to `to`.
struct LookupRpc {
  Contact to;
  int depth = 1;  ///< 1 for contacts from the routing table; 1 + the depth of the RPC whose response named `to`
};

/// Kademlia's iterative node lookup (§2.3), asynchronous variant: at most α RPCs in flight; the
/// next RPC goes to the nearest not-yet-queried candidate among the k nearest that have not
/// failed. It ends when those k have all answered (or failed) and nothing is in flight, or, for
/// FIND_VALUE, at the first response carrying records. Cost per event: O(k + c log s) for c
/// contacts in a response and s candidates seen.
class IterativeLookup {
 public:
  enum class Goal { FindNode, FindValue };

  /// A lookup of `target` run by node `self` (never queried nor returned), α > 0, k > 0.
  IterativeLookup(NodeId self, NodeId target, Goal goal, int alpha = 3, int k = 20);

  /// Seeds the candidates (usually the routing table's k closest) and returns the first RPCs.
  std::vector<LookupRpc> start(const std::vector<Contact>& seeds);
  /// `from` answered with `contacts` (and, for FIND_VALUE, `records`); returns the RPCs to send next.
  /// Answers from nodes not in flight, or after done(), are ignored.
  std::vector<LookupRpc> on_response(const NodeId& from, const std::vector<Contact>& contacts,
                                     const std::vector<Record>& records = {});
  /// The RPC to `to` timed out; returns the RPCs to send instead.
  std::vector<LookupRpc> on_timeout(const NodeId& to);

  /// True once the lookup has ended; result() is then final.
  bool done() const { return done_; }
  /// The result (meaningful once done()).
  const LookupResult& result() const { return result_; }
  const NodeId& target() const { return target_; }
  Goal goal() const { return goal_; }
  /// RPCs sent and not yet answered or timed out.
  int in_flight() const { return in_flight_; }

 private:
  enum class State { Fresh, InFlight, Answered, Failed };
  struct Candidate {
    Contact contact;
    State state = State::Fresh;
    int depth = 1;
  };
  void add_candidate(const Contact& c, int depth);
  std::vector<LookupRpc> next_rpcs();
  void finish();

  NodeId self_, target_;
  Goal goal_;
  int alpha_, k_;
  std::map<NodeId, Candidate> shortlist_;  // keyed by XOR distance to the target: nearest first
  int in_flight_ = 0;
  bool started_ = false;
  bool done_ = false;
  LookupResult result_;
};

struct KademliaParams {
  int k = 20;                  ///< bucket size, and the number of nodes a record is stored on
  int alpha = 3;               ///< lookup parallelism
  int replacement_cache = 20;  ///< replacement contacts kept per full bucket
  bool refresh_on_join = true; ///< after the self-lookup, look up a random id in every bucket farther than the nearest neighbour (§2.3)
};

/// One Kademlia peer. Entity: not copyable. Asynchronous: each client call returns at once and its
/// callback runs from a later on_response/on_timeout (or at once, when nothing needs sending).
class KademliaNode {
 public:
  using LookupDone = std::function<void(const LookupResult&)>;

  /// A node with contact `self`. `transport` is borrowed and must outlive the node; `seed` fixes
  /// the random ids of bucket refreshes.
  KademliaNode(Contact self, Transport& transport, KademliaParams params = {}, std::uint64_t seed = 1);
  KademliaNode(const KademliaNode&) = delete;
  KademliaNode& operator=(const KademliaNode&) = delete;

  const Contact& contact() const { return self_; }
  const NodeId& id() const { return self_.id; }
  const RoutingTable& routing_table() const { return table_; }
  const KademliaParams& params() const { return params_; }

  // ---- server side ----
  /// Answers `request` received at `now_s` and records its sender as seen (which may PING a
  /// bucket's least-recently-seen contact).
  Response handle(const Request& request, double now_s);

  // ---- client side ----
  /// Joins through `known`: inserts it, looks up the own id, then refreshes farther buckets (if
  /// params.refresh_on_join); `done` gets the self-lookup's result once all of that has finished.
  void join(const Contact& known, double now_s, LookupDone done = {});
  /// Iterative FIND_NODE of `target`; `done` gets the k closest live nodes found.
  void find_node(const NodeId& target, double now_s, LookupDone done);
  /// Iterative FIND_VALUE of `key`; answered at once (0 hops) when this node holds live records.
  void find_value(const std::string& key, double now_s, LookupDone done);
  /// Looks up key_id(key) and sends STORE of `records` to the k closest nodes found (and keeps
  /// them locally when this node is among the k closest); `done` runs once the STOREs are sent.
  void store(const std::string& key, std::vector<Record> records, double now_s, LookupDone done = {});
  /// Stores Record{own address, payload, now + ttl} and re-stores it every ttl/2 from
  /// republish_due() until stop_publishing(key).
  void publish(const std::string& key, std::string payload, double ttl_s, double now_s, LookupDone done = {});
  /// Stops republishing `key` (stored copies then expire at their expires_at).
  void stop_publishing(const std::string& key);
  /// Re-stores every published record whose republish time is <= now_s, with a fresh expiry.
  void republish_due(double now_s);
  /// The earliest republish time (s), +inf when nothing is published.
  double next_republish_s() const;

  /// Delivers the response to one of this node's requests, received at `now_s`.
  void on_response(const Response& response, double now_s);
  /// Reports that this node's request `rpc_id` got no answer in time; the peer is dropped from
  /// the routing table (replaced from the bucket's cache).
  void on_timeout(std::uint64_t rpc_id, double now_s);

  // ---- local record store ----
  /// Live records under `key` at `now_s` (expired ones are dropped first).
  std::vector<Record> records(const std::string& key, double now_s);
  /// Merges `records` under `key` by publisher, keeping each publisher's latest expiry; records
  /// already expired at `now_s` are ignored.
  void merge_records(const std::string& key, const std::vector<Record>& records, double now_s);
  /// Drops every record expired at `now_s`.
  void expire(double now_s);
  /// Keys with at least one stored record (expired ones included until read or expire()).
  std::size_t stored_keys() const { return store_.size(); }
  /// Requests sent and not yet answered or timed out.
  std::size_t pending_rpcs() const { return pending_.size(); }
  /// Lookups still running.
  std::size_t active_lookups() const { return lookups_.size(); }

 private:
  enum class Purpose { Lookup, Ping, Store };
  struct PendingRpc {
    Purpose purpose = Purpose::Ping;
    std::uint64_t lookup = 0;
    Contact to;
  };
  struct ActiveLookup {
    IterativeLookup lookup;
    std::string key;  // FIND_VALUE
    LookupDone done;
    double started_s = 0;
  };
  struct Publication {
    std::string payload;
    double ttl_s = 0;
    double next_s = 0;
  };
  std::uint64_t start_lookup(const NodeId& target, IterativeLookup::Goal goal, std::string key, LookupDone done);
  void advance(double now_s) { now_s_ = std::max(now_s_, now_s); }
  void send_lookup_rpcs(std::uint64_t lookup_id, const std::vector<LookupRpc>& rpcs);
  void finish_if_done(std::uint64_t lookup_id);
  void observe(const Contact& c, double now_s);
  std::uint64_t send(const Contact& to, Request r, PendingRpc pending);

  Contact self_;
  Transport& transport_;
  KademliaParams params_;
  sim::Rng rng_;
  RoutingTable table_;
  std::map<std::string, std::vector<Record>> store_;
  std::map<std::string, Publication> published_;
  std::unordered_map<std::uint64_t, PendingRpc> pending_;
  std::map<std::uint64_t, ActiveLookup> lookups_;
  std::set<NodeId> pinging_;
  std::uint64_t next_rpc_id_ = 1;
  std::uint64_t next_lookup_id_ = 1;
  double now_s_ = 0;  // the latest simulated time passed in (s), for work done from callbacks
};

}  // namespace swarmsim::dht
