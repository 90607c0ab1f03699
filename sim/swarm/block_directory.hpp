#pragma once
// The swarm's Kademlia DHT (sim/dht) as a directory of blocks, for either engine: every server and
// client runs a KademliaNode; servers publish one record per block they serve ("block:<i>" ->
// "start end tokens/s"), clients look the blocks up before routing. The engine carries the
// messages (post) and runs the timers (after); everything else — RPC sizes, restarts, caches,
// lookups, metrics — is here, so the SimGrid and the flow engine play the DHT alike. No SimGrid.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/dht/kademlia.hpp"
#include "sim/metrics/latency_histogram.hpp"
#include "sim/routing/swarm_view.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/block_range.hpp"

namespace swarmsim::sim {

/// One server as a client found it in the DHT.
struct DhtServerRecord {
  int server = -1;
  BlockRange blocks;
  double throughput = 0;  ///< tokens/s it announced
};

/// A request or a response in flight between two hosts' DHT nodes.
struct DhtEnvelope {
  bool is_request = true;
  int from = 0;
  int generation = 0;  ///< the sender node's generation, for requests (responses go to that node only)
  dht::Request request;
  dht::Response response;
};

/// A client's lookup of every block, all in flight at once.
struct BlockLookup {
  int remaining = 0;                          ///< FIND_VALUEs not finished yet
  int generation = 0;                         ///< the client node's generation when it started
  std::map<std::string, std::string> found;   ///< publisher -> payload
};

/// Lets `servers` see only what a client found in the DHT: servers it did not find are not
/// alive to it, and the others serve the range they announced.
void mask_by_directory(std::vector<ServerView>& servers, const std::vector<DhtServerRecord>& known);

class BlockDirectory {
 public:
  /// Carries `env` (`bytes` bytes on the wire) from host `from` to host `to`; the engine calls
  /// receive(to, ...) once it arrived, or drops it when an end went down.
  using Post = std::function<void(int from, int to, std::unique_ptr<DhtEnvelope> env, double bytes)>;
  /// Runs `fn(now)` after `delay_s` of simulated time.
  using After = std::function<void(double delay_s, std::function<void(double now)> fn)>;
  using IsOn = std::function<bool(int host)>;

  /// Hosts are servers 0..S-1 then clients, named as in the scenario.
  BlockDirectory(const Scenario& sc, Post post, After after, IsOn is_on);
  ~BlockDirectory();

  /// Host h's node (re)starts at `now`: a fresh node of a new generation joins through the first
  /// other host that is up and announces again what it published before.
  void start_node(int h, double now);
  /// An envelope arrived at host h: a request is answered (posted back), a response fed to the
  /// node that sent the request, unless it timed out or the node restarted since.
  void receive(int h, std::unique_ptr<DhtEnvelope> env, double now);
  /// When host h's node next republishes (s; finite).
  double next_republish_s(int h, double now) const;
  /// Republishes what is due on host h, if it is up (rejoining first if it is isolated).
  void republish_due(int h, double now);

  /// Server `server` announces (or stops announcing) the blocks it serves.
  void announce(int server, BlockRange blocks, double throughput, double now);
  void withdraw(int server, BlockRange blocks);

  /// Host h's cached servers, when it may use them (no refresh asked, not expired); else null.
  const std::vector<DhtServerRecord>* cached(int h, bool refresh, double now) const;
  /// Starts one FIND_VALUE per block of `blocks` on host h (rejoining first if it is isolated);
  /// `all_done` runs when the last ends. Null when the host has no node.
  std::shared_ptr<BlockLookup> find_servers(int h, BlockRange blocks, double now, std::function<void()> all_done);
  /// True while host h's node is the one that started `lookup`.
  bool still_current(int h, const BlockLookup& lookup) const;
  /// The servers a finished lookup found; cached on host h for client_refresh.
  std::vector<DhtServerRecord> finish_lookup(int h, const BlockLookup& lookup, double now);

  /// Lookups, hops and delays for metrics.json.
  nlohmann::json metrics() const;

 private:
  struct Host;
  class HostTransport;
  int host_of(const std::string& address) const;
  /// Host h's node joins through the first other host that is up (none: it stays alone).
  void join(int h, double now);
  /// A node whose routing table emptied (every contact timed out: its join at a busy instant
  /// failed, or its peers died) bootstraps again before it needs the DHT, as a real node does
  /// from its initial peers; without it, a client would never find a server again.
  void rejoin_if_isolated(int h, double now);
  void post(int from, const dht::Contact& to, std::unique_ptr<DhtEnvelope> env, double bytes);
  void count(const dht::LookupResult& r);

  const Scenario& sc_;
  Post post_;
  After after_;
  IsOn is_on_;
  int servers_ = 0;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::unordered_map<std::string, int> index_;
  // metrics
  std::uint64_t lookups_ = 0, rpcs_ = 0, rejoins_ = 0, timeouts_ = 0, stores_ = 0, messages_ = 0;
  double bytes_ = 0, hops_sum_ = 0;
  int hops_max_ = 0;
  LatencyHistogram lookup_delay_;
};

}  // namespace swarmsim::sim
