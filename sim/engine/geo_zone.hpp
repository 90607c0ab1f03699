#pragma once
// A SimGrid star zone whose routes carry the pair latency of a LatencyTable: a message from host
// i to host j crosses i's uplink and j's downlink (bandwidth) and waits the table's one-way
// latency, read when the message starts. O(hosts) links and exact pair latencies; latency
// changes apply to messages sent afterwards and never touch one in flight (the latency profiles
// of SimGrid 3.32 corrupt in-flight messages: see docs/architecture.md).
#include <vector>

#include <simgrid/kernel/routing/StarZone.hpp>

#include "sim/swarm/latency_table.hpp"

namespace swarmsim::sim {

class GeoZone final : public simgrid::kernel::routing::StarZone {
 public:
  /// `latencies` is borrowed and must outlive the simulation.
  GeoZone(const std::string& name, const LatencyTable& latencies);
  /// Records that `netpoint` is host `host_index` of the latency table.
  void bind(const simgrid::kernel::routing::NetPoint* netpoint, int host_index);
  void get_local_route(const simgrid::kernel::routing::NetPoint* src, const simgrid::kernel::routing::NetPoint* dst,
                       simgrid::kernel::routing::Route* route, double* latency) override;

 private:
  const LatencyTable& latencies_;
  std::vector<int> host_of_netpoint_;  // indexed by NetPoint::id(); -1 when not a host
};

}  // namespace swarmsim::sim
