#include "sim/engine/swarm_platform.hpp"

#include <chrono>
#include <map>
#include <unordered_set>
#include <string>
#include <vector>
#include <sstream>

#include <simgrid/kernel/ProfileBuilder.hpp>
#include <simgrid/kernel/resource/NetworkModelIntf.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/NetZone.hpp>

#include "sim/engine/geo_zone.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {
namespace {

using simgrid::kernel::profile::ProfileBuilder;

void configure_network_model(NetworkModel model) {
  if (model == NetworkModel::Tcp) {
    // SimGrid's validated TCP model (LV08): latency x13.01, bandwidth x0.97, cross-traffic of the
    // ACK flow, and the TCP window cap gamma / (2 latency).
    sg4::Engine::set_config("network/model:LV08");
  } else {
    // Exact: a message of S bytes takes latency + S / bandwidth when alone on its links.
    sg4::Engine::set_config("network/model:CM02");
    sg4::Engine::set_config("network/crosstraffic:0");
    sg4::Engine::set_config("network/TCP-gamma:0");
  }
}

/// "t value" lines of a profile, one per change; empty when there is none.
std::string profile_text(const std::vector<std::pair<double, double>>& changes) {
  std::ostringstream s;
  s.precision(17);
  for (const auto& [t, v] : changes) s << t << ' ' << v << '\n';
  return s.str();
}

}  // namespace

double run_requests(sg4::Engine& engine, double time_limit_s, ProgressLine& progress, const std::function<int()>& done,
                    const std::function<std::uint64_t()>& messages) {
  sg4::Engine::on_time_advance_cb([&](double) { progress.tick(sg4::Engine::get_clock(), done(), messages()); });
  const auto wall0 = std::chrono::steady_clock::now();
  engine.run_until(time_limit_s);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  progress.finish();
  return wall;
}

std::unique_ptr<sg4::Engine> make_engine() {
  // SimGrid parses its own options from argv; keep its logging to warnings and above, but for
  // the engine's "Process called exit when leaving - Skipping cleanups", which it prints whenever
  // the time limit (or a stage waiting for a spare node) leaves actors unfinished.
  static std::vector<std::string> args{"swarmsim", "--log=root.thres:warning", "--log=xbt_cfg.thres:warning",
                                       "--log=ker_engine.thres:error", "--cfg=contexts/stack-size:512"};
  static std::vector<char*> argv;
  argv.clear();
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  return std::make_unique<sg4::Engine>(&argc, argv.data());
}

SwarmPlatform::SwarmPlatform(const Scenario& sc, const LatencyTable& latencies) : sc_(sc), latencies_(latencies) {
  configure_network_model(sc.network.model);

  const int S = static_cast<int>(sc.nodes.size());
  const int H = S + static_cast<int>(sc.clients.size());
  std::vector<std::string> names;
  std::map<std::string, int> index;
  for (const NodeSpec& n : sc.nodes) names.push_back(n.name);
  for (const ClientSpec& c : sc.clients) names.push_back(c.name);
  for (int i = 0; i < H; ++i) index[names[static_cast<std::size_t>(i)]] = i;

  // Replayed events become SimGrid profiles, which must be attached before sealing.
  std::vector<std::vector<std::pair<double, double>>> up_bw(H), down_bw(H), state(H);
  for (const ReplayEvent& e : sc.events) {
    const int i = index.at(e.node);
    switch (e.action) {
      case EventAction::SetBandwidth:
        if (e.direction != LinkDirection::Down) up_bw[i].emplace_back(e.at_s, e.value);
        if (e.direction != LinkDirection::Up) down_bw[i].emplace_back(e.at_s, e.value);
        break;
      // A client's outage is not its host's: its sessions end with it (ClientOutages), its
      // host stays on so that nothing of the swarm's is killed with it.
      case EventAction::NodeDown: if (i < S) state[i].emplace_back(e.at_s, 0.0); break;
      case EventAction::NodeUp: if (i < S) state[i].emplace_back(e.at_s, 1.0); break;
      case EventAction::SetLatency: break;  // applied to the LatencyTable at its time (GeoZone)
    }
  }

  auto* zone_impl = new GeoZone("swarm", latencies_);  // owned by SimGrid's netzone tree
  sg4::NetZone* zone = zone_impl->get_iface();
  for (int i = 0; i < H; ++i) {
    const bool server = i < S;
    const std::string& name = names[static_cast<std::size_t>(i)];
    const gpu::DeviceSpec& dev = server ? *sc.nodes[i].device : *sc.clients[i - S].device;
    const double up = server ? sc.nodes[i].uplink_Bps : sc.clients[i - S].uplink_Bps;
    const double down = server ? sc.nodes[i].downlink_Bps : sc.clients[i - S].downlink_Bps;

    sg4::Host* h = zone->create_host(name, dev.peak_flops);
    if (!state[i].empty()) h->set_state_profile(ProfileBuilder::from_string(name + "-state", profile_text(state[i]), -1));
    h->seal();
    sg4::Link* lu = zone->create_link(name + "-up", up);
    if (!up_bw[i].empty()) lu->set_bandwidth_profile(ProfileBuilder::from_string(name + "-up-bw", profile_text(up_bw[i]), -1));
    lu->set_latency(0)->seal();
    sg4::Link* ld = zone->create_link(name + "-down", down);
    if (!down_bw[i].empty())
      ld->set_bandwidth_profile(ProfileBuilder::from_string(name + "-down-bw", profile_text(down_bw[i]), -1));
    ld->set_latency(0)->seal();
    zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, {sg4::LinkInRoute(lu)}, false);
    zone->add_route(nullptr, h->get_netpoint(), nullptr, nullptr, {sg4::LinkInRoute(ld)}, false);
    zone_impl->bind(h->get_netpoint(), i);
    hosts_.push_back(h);
    index_of_[h] = i;
    up_.push_back(lu);
    down_.push_back(ld);
  }
  control_ = zone->create_host("swarmsim-control", 1e9)->seal();
  zone_impl->bind(control_->get_netpoint(), -1);
  zone->seal();

  // A callback replaces the configured latency factor, so it applies the model's own factor too.
  model_latency_factor_ = sim::latency_factor(sc.network.model);  // LV08's "network/latency-factor" default
  zone->get_network_model()->set_lat_factor_cb(
      [this](double size, const sg4::Host* src, const sg4::Host* dst, const std::vector<sg4::Link*>&,
             const std::unordered_set<sg4::NetZone*>&) { return latency_factor(size, src, dst); });
}

void SwarmPlatform::fold_into_latency(int from, int to, std::uint64_t bytes, double seconds) {
  if (seconds > 0 && can_fold_into_latency(from, to)) folded_.emplace(FoldedKey{from, to, bytes}, seconds);
}

double SwarmPlatform::latency_factor(double bytes, const sg4::Host* src, const sg4::Host* dst) {
  if (folded_.empty()) return model_latency_factor_;
  const auto s = index_of_.find(src), d = index_of_.find(dst);
  if (s == index_of_.end() || d == index_of_.end()) return model_latency_factor_;
  const auto it = folded_.find(FoldedKey{s->second, d->second, static_cast<std::uint64_t>(bytes)});
  if (it == folded_.end()) return model_latency_factor_;
  // SimGrid multiplies the route's latency, which is the pair's one-way latency (links add none):
  // factor x latency = model factor x latency + software seconds.
  const double seconds = it->second;
  folded_.erase(it);
  return model_latency_factor_ + seconds / latency_s(s->second, d->second);
}

int SwarmPlatform::index_of(const sg4::Host* h) const {
  const auto it = index_of_.find(h);
  return it == index_of_.end() ? -1 : it->second;
}

double SwarmPlatform::bandwidth_Bps(int from, int to) const {
  return std::min(up_[static_cast<std::size_t>(from)]->get_bandwidth(), down_[static_cast<std::size_t>(to)]->get_bandwidth());
}

}  // namespace swarmsim::sim
