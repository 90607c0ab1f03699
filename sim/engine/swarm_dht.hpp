#pragma once
// The swarm's DHT (sim/swarm/block_directory.hpp) played out on SimGrid: its RPCs are SimGrid
// messages between their hosts, each host's node lives in an actor that SimGrid kills when the
// host goes down and restarts when it comes back. SimGrid only here.
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/engine/swarm_platform.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/block_directory.hpp"
#include "sim/swarm/block_range.hpp"

namespace swarmsim::sim {

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
  /// The servers client host `host` finds for `blocks`: one FIND_VALUE per block, all in
  /// parallel; blocks the calling actor until they finish. Cached for client_refresh.
  std::vector<DhtServerRecord> servers_for(int host, BlockRange blocks, bool refresh);

  /// Lookups, hops and delays for metrics.json.
  nlohmann::json metrics() const { return directory_.metrics(); }

 private:
  void dht_actor(int h);
  void republish_actor(int h);

  const Scenario& sc_;
  const SwarmPlatform& platform_;
  BlockDirectory directory_;
};

}  // namespace swarmsim::sim
