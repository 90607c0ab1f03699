#include "sim/routing/route_cost.hpp"

#include <algorithm>
#include <cmath>

namespace swarmsim::sim {

namespace {
/// x^e for eq. 18, without calling std::pow for the exponents it uses by default (gamma 1, beta
/// and alpha -1): routing prices every candidate at every hop, and pow was a fifth of a 1,000-node
/// run. x^1 is x; x^-1 and x^2 are the correctly rounded 1/x and x*x, which differ from glibc's
/// pow (within 0.52 ulp, not always correctly rounded) by 1 ulp on about 0.08% of inputs.
double power(double x, double e) {
  if (e == 1.0) return x;
  if (e == -1.0) return 1.0 / x;
  if (e == 2.0) return x * x;
  return std::pow(x, e);
}
}  // namespace

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

double gpu_availability(const ServerView& a) {
  return a.device->peak_flops / 1e12 * std::clamp(1.0 - a.utilization(), 0.0, 1.0);
}

double computational_load(const ServerView& a) { return 1.0 + a.active_sessions; }

double resource_reliability(const ServerView& a) { return 1.0 - std::clamp(a.uptime, 0.0, 1.0); }

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
    transfer += power(D / B + L, gamma);
  }
  return transfer;
}

/// The availability term for a GPU availability G (TFLOP/s). A fully busy device has no
/// availability; keep the ratio finite so that the argmin still ranks it.
double availability_at(const ServerView& candidate, double G, double beta) {
  return power(std::max(G, 1e-9) / computational_load(candidate), beta);
}

}  // namespace

double eq18_transfer(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                     double message_bytes, double gamma) {
  return transfer_term(view, context_hosts, candidate, message_bytes, gamma,
                       [&](int from, int to) { return view.network->latency_s(from, to); });
}

double eq18_availability(const ServerView& candidate, double beta) {
  return availability_at(candidate, gpu_availability(candidate), beta);
}

double eq18_availability_floor(const ServerView& candidate, double beta) {
  // G = peak x clamp(1 - utilization, 0, 1) lies in [0, peak], and max(G, 1e-9) in [1e-9, max(peak, 1e-9)];
  // x^beta is least at the top end for beta < 0, at the bottom end for beta > 0 (1 for beta = 0).
  return availability_at(candidate, beta < 0 ? candidate.device->peak_flops / 1e12 : 0.0, beta);
}

double eq18_reliability(const ServerView& candidate, double alpha) {
  return power(1.0 / (resource_reliability(candidate) + 1.0), alpha);
}

RouteCost eq18_cost(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                    double message_bytes, const RouteCostExponents& exps) {
  return RouteCost{eq18_transfer(view, context_hosts, candidate, message_bytes, exps.gamma),
                   eq18_availability(candidate, exps.beta), eq18_reliability(candidate, exps.alpha)};
}

double eq18_transfer_floor(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                           double message_bytes, double gamma) {
  return transfer_term(view, context_hosts, candidate, message_bytes, gamma,
                       [&](int from, int to) { return view.network->latency_floor_s(from, to); });
}

}  // namespace swarmsim::sim
