#include "sim/engine/geo_zone.hpp"

#include <simgrid/kernel/routing/NetPoint.hpp>

namespace swarmsim::sim {

GeoZone::GeoZone(const std::string& name, const LatencyTable& latencies) : StarZone(name), latencies_(latencies) {}

void GeoZone::bind(const simgrid::kernel::routing::NetPoint* np, int host_index) {
  const auto id = static_cast<std::size_t>(np->id());
  if (host_of_netpoint_.size() <= id) host_of_netpoint_.resize(id + 1, -1);
  host_of_netpoint_[id] = host_index;
}

void GeoZone::get_local_route(const simgrid::kernel::routing::NetPoint* src,
                              const simgrid::kernel::routing::NetPoint* dst, simgrid::kernel::routing::Route* route,
                              double* latency) {
  StarZone::get_local_route(src, dst, route, latency);  // uplink of src, downlink of dst
  if (!latency || src == dst) return;
  const int i = host_of_netpoint_.at(static_cast<std::size_t>(src->id()));
  const int j = host_of_netpoint_.at(static_cast<std::size_t>(dst->id()));
  if (i >= 0 && j >= 0) *latency += latencies_.one_way(i, j);
}

}  // namespace swarmsim::sim
