#pragma once
// The Kademlia DHT of the swarm (sim/dht) played out on SimGrid: every server and client runs a
// KademliaNode whose RPCs are SimGrid messages between their hosts; servers publish one record
// per block they serve ("block:<i>" -> "start end tokens/s"), clients look the blocks up before
// routing. A crashed host loses its node; the restarted one joins again. SimGrid only here.
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/dht/kademlia.hpp"
#include "sim/engine/swarm_platform.hpp"
#include "sim/metrics/latency_histogram.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/block_range.hpp"

namespace swarmsim::sim {

/// One server as a client found it in the DHT.
struct DhtServerRecord {
  int server = -1;
  BlockRange blocks;
  double throughput = 0;  ///< tokens/s it announced
};

class SwarmDht {
 public:
  /// `sc` and `platform` are borrowed for the run. Hosts are servers 0..S-1 then clients.
  SwarmDht(const Scenario& sc, const SwarmPlatform& platform);
  ~SwarmDht();

  /// Starts the DHT actor of every host (call once, before the run).
  void start();
  /// Server `server` announces (or stops announcing) the blocks it serves. Returns at once.
  void announce(int server, BlockRange blocks, double throughput);
  void withdraw(int server, BlockRange blocks);
  /// The servers client host `host` finds for blocks [0, n): one FIND_VALUE per block, all in
  /// parallel; blocks the calling actor until they finish. Cached for client_refresh.
  std::vector<DhtServerRecord> servers_for(int host, int n_blocks, bool refresh);

  /// Lookups, hops and delays for metrics.json.
  nlohmann::json metrics() const;

 private:
  struct Host;
  struct Envelope;
  class HostTransport;
  void dht_actor(int h);
  void republish_actor(int h);
  void post(int from, const dht::Contact& to, std::unique_ptr<Envelope> env, double bytes);
  int host_of(const std::string& address) const;
  void count(const dht::LookupResult& r);

  const Scenario& sc_;
  const SwarmPlatform& platform_;
  std::vector<std::unique_ptr<Host>> hosts_;
  // metrics
  std::uint64_t lookups_ = 0, rpcs_ = 0, timeouts_ = 0, stores_ = 0, messages_ = 0;
  double bytes_ = 0, hops_sum_ = 0;
  int hops_max_ = 0;
  LatencyHistogram lookup_delay_;
};

}  // namespace swarmsim::sim
