// FairShareNetwork against SimGrid itself: random flows crossing a star of access links (the
// platform of swarm_platform.hpp), started at random times with random sizes and latencies, must
// end at the same times on both, for SimGrid's LV08 ("tcp") and CM02 ("exact") configurations.
// One SimGrid run per process: one TEST per model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <simgrid/s4u.hpp>

#include "sim/flow/fair_share_network.hpp"
#include "sim/rng.hpp"

namespace sg4 = simgrid::s4u;
using namespace swarmsim::sim;

namespace {

struct RandomFlow {
  int from, to;
  double start, bytes;
};

void compare_with_simgrid(NetworkModel model) {
  std::vector<std::string> args{"flows", "--log=root.thres:critical"};
  if (model == NetworkModel::Tcp) {
    args.push_back("--cfg=network/model:LV08");
  } else {
    args.push_back("--cfg=network/model:CM02");
    args.push_back("--cfg=network/crosstraffic:0");
    args.push_back("--cfg=network/TCP-gamma:0");
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  sg4::Engine engine(&argc, argv.data());

  constexpr int kHosts = 6, kFlows = 40;
  Rng rng(2026);
  std::vector<double> up, down, latency;
  for (int h = 0; h < kHosts; ++h) {
    // Up to 200 MB/s and 80 ms: LV08's window (4 MiB / 2 latency, 26 MB/s at 80 ms) binds some flows.
    up.push_back(rng.uniform(5e6, 200e6));
    down.push_back(rng.uniform(5e6, 200e6));
    latency.push_back(rng.uniform(1e-3, 80e-3));
  }
  std::vector<RandomFlow> flows;
  for (int i = 0; i < kFlows; ++i) {
    const int from = static_cast<int>(rng.below(kHosts));
    int to = static_cast<int>(rng.below(kHosts - 1));
    if (to >= from) ++to;
    flows.push_back({from, to, rng.uniform(0.0, 3.0), rng.uniform(1e4, 3e7)});
  }

  // SimGrid: the latency sits on the sender's up link, as the pair latency does in GeoZone.
  auto* zone = sg4::create_star_zone("star");
  std::vector<sg4::Host*> hosts;
  for (int h = 0; h < kHosts; ++h) {
    sg4::Host* host = zone->create_host("h" + std::to_string(h), 1e9)->seal();
    sg4::Link* u = zone->create_link("up" + std::to_string(h), up[h])->set_latency(latency[h])->seal();
    sg4::Link* d = zone->create_link("down" + std::to_string(h), down[h])->set_latency(0)->seal();
    zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr, {sg4::LinkInRoute(u)}, false);
    zone->add_route(nullptr, host->get_netpoint(), nullptr, nullptr, {sg4::LinkInRoute(d)}, false);
    hosts.push_back(host);
  }
  zone->seal();
  std::vector<double> simgrid_end(kFlows, -1);
  for (int i = 0; i < kFlows; ++i)
    sg4::Actor::create("flow" + std::to_string(i), hosts[0], [&, i] {
      sg4::this_actor::sleep_for(flows[i].start);
      sg4::Comm::sendto(hosts[flows[i].from], hosts[flows[i].to], flows[i].bytes);
      simgrid_end[i] = sg4::Engine::get_clock();
    });
  engine.run();

  flow::EventQueue queue;
  flow::FairShareNetwork net(up, down, flow::sharing_params(model), queue);
  for (int i = 0; i < kFlows; ++i) queue.push(flows[i].start, flow::EventKind::Resume, static_cast<std::uint64_t>(i));
  std::vector<double> flow_end(kFlows, -1);
  while (!queue.empty()) {
    const flow::TimedEvent e = queue.pop();
    if (e.kind == flow::EventKind::Resume) {
      const RandomFlow& f = flows[e.payload];
      const double lat = latency[static_cast<std::size_t>(f.from)];
      net.start(e.t, f.from, f.to, f.bytes, latency_factor(model) * lat, lat, e.payload);
      continue;
    }
    std::uint64_t token = 0;
    if (net.on_event(e, token)) flow_end[token] = e.t;
  }
  // SimGrid's solver rounds remaining capacities at 1e-5 of a link's bandwidth and times at 1e-9 s
  // (maxmin/precision, precision/timing): the two agree to a few parts in 1e8, not to the last bit.
  int overlapping = 0;  // flows whose life overlaps another's on a shared link: the cases that matter
  double worst = 0;
  for (int i = 0; i < kFlows; ++i) {
    worst = std::max(worst, std::abs(flow_end[i] - simgrid_end[i]) / simgrid_end[i]);
    EXPECT_NEAR(flow_end[i], simgrid_end[i], 1e-6 * simgrid_end[i]) << "flow " << i << " " << flows[i].from << "->" << flows[i].to;
    for (int j = 0; j < kFlows; ++j)
      if (j != i && (flows[j].from == flows[i].from || flows[j].to == flows[i].to || flows[j].from == flows[i].to) &&
          flows[j].start < simgrid_end[i] && flows[i].start < simgrid_end[j]) {
        ++overlapping;
        break;
      }
  }
  EXPECT_GE(overlapping, kFlows / 2) << "the random flows should contend";
  std::printf("%d flows, %d contending, worst relative difference in end time %.2g\n", kFlows, overlapping, worst);
}

}  // namespace

TEST(FairShareVsSimGrid, Lv08TcpModel) { compare_with_simgrid(NetworkModel::Tcp); }
TEST(FairShareVsSimGrid, Cm02ExactModel) { compare_with_simgrid(NetworkModel::Exact); }
