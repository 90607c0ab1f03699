#include "sim/routing/route_cost.hpp"

#include <algorithm>
#include <cmath>

namespace swarmsim::sim {


double estimated_transfer_s(const SwarmView& view, int from, int to, double bytes) {
  const OverheadSpec& o = *view.overheads;
  const double latency = view.network->latency_s(from, to);
  return latency + bytes / view.network->bandwidth_Bps(from, to) + o.rpc_s + 2.0 * bytes / o.serialization_Bps +
         o.round_trips * 2.0 * latency;
}

bool chain_covers_span(const Chain& chain, int first, int end) {
  int next = first;
  for (const ChainHop& h : chain.hops) {
    if (h.blocks.start != next || h.blocks.empty()) return false;
    next = h.blocks.end;
  }
  return next == end;
}

bool chain_covers_model(const Chain& chain, int n_blocks) { return chain_covers_span(chain, 0, n_blocks); }

double gpu_availability(const ServerView& a, double now) {
  return a.device->peak_flops / 1e12 * std::clamp(1.0 - a.utilization(now), 0.0, 1.0);
}

namespace {
/// Eq. 18's transfer term with the latency `latency(j, host)` of each context host j.
template <class Latency>
double transfer_term(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                     double message_bytes, double gamma, Latency latency) {
  double transfer = 0.0;
  for (int j : context_hosts) {
    const double D = message_bytes;
    const double B = view.network->bandwidth_Bps(j, candidate.host);
    const double L = latency(j, candidate.host);
    transfer += eq18_power(D / B + L, gamma);
  }
  return transfer;
}
}  // namespace

double eq18_transfer(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                     double message_bytes, double gamma) {
  return transfer_term(view, context_hosts, candidate, message_bytes, gamma,
                       [&](int from, int to) { return view.network->latency_s(from, to); });
}

double eq18_availability(const ServerView& candidate, double beta, double now) {
  return eq18_availability_at(candidate, gpu_availability(candidate, now), beta);
}

RouteCost eq18_cost(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                    double message_bytes, const RouteCostExponents& exps) {
  return RouteCost{eq18_transfer(view, context_hosts, candidate, message_bytes, exps.gamma),
                   eq18_availability(candidate, exps.beta, view.now_s), eq18_reliability(candidate, exps.alpha)};
}

double eq18_transfer_floor(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                           double message_bytes, double gamma) {
  return transfer_term(view, context_hosts, candidate, message_bytes, gamma,
                       [&](int from, int to) { return view.network->latency_floor_s(from, to); });
}

}  // namespace swarmsim::sim
