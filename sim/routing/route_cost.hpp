#pragma once
// The routing cost of seed 002, eq. 18, for one candidate server given the chain so far.
#include <algorithm>
#include <cmath>
#include <span>

#include "sim/routing/swarm_view.hpp"

namespace swarmsim::sim {

/// Exponents of eq. 18 (tuned by the GA of eq. 19-20).
struct RouteCostExponents {
  double gamma = 1.0;   ///< transfer term
  double beta = -1.0;   ///< GPU availability over load
  double alpha = -1.0;  ///< reliability
};

/// The three terms of eq. 18 for one candidate, and their sum.
struct RouteCost {
  double transfer = 0.0;      ///< sum over context nodes j of (D_jA / B_jA + L_jA)^gamma
  double availability = 0.0;  ///< (G_A / C_A)^beta
  double reliability = 0.0;   ///< (1 / (R_A + 1))^alpha
  double total() const { return transfer + availability + reliability; }
};

/// x^e for eq. 18, without calling std::pow for the exponents it uses by default (gamma 1, beta
/// and alpha -1): routing prices every candidate at every hop, and pow was a fifth of a 1,000-node
/// run. x^1 is x; x^-1 and x^2 are the correctly rounded 1/x and x*x, which differ from glibc's
/// pow (within 0.52 ulp, not always correctly rounded) by 1 ulp on about 0.08% of inputs.
inline double eq18_power(double x, double e) {
  if (e == 1.0) return x;
  if (e == -1.0) return 1.0 / x;
  if (e == 2.0) return x * x;
  return std::pow(x, e);
}

/// GPU availability G_A: the candidate's free compute at `now` (s), peak TFLOP/s x (1 - utilization).
double gpu_availability(const ServerView& a, double now);
/// Computational load C_A: 1 + sessions in flight on the candidate.
inline double computational_load(const ServerView& a) { return 1.0 + a.active_sessions; }
/// Resource reliability R_A = 1 - uptime (seed 002, section 3).
inline double resource_reliability(const ServerView& a) { return 1.0 - std::clamp(a.uptime, 0.0, 1.0); }

/// Eq. 18 cost of choosing `candidate` after the context hosts (the last alpha+1 chain members,
/// the client first), for a message of `message_bytes`:
///   sum_j (D_jA/B_jA + L_jA)^gamma + (G_A/C_A)^beta + (1/(R_A+1))^alpha
/// Units: seconds inside the transfer term, TFLOP/s for G_A. See docs/algorithms.md for why the
/// default beta and alpha are negative (the equation is an argmin).
// seed 002, eq. 18
RouteCost eq18_cost(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                    double message_bytes, const RouteCostExponents& exps);

/// Eq. 18's terms one by one, as eq18_cost adds them (its total is (transfer + availability) +
/// reliability), so that a router can price the parts it needs and bound the rest.
/// Transfer: sum over the context hosts j, in order, of (D/B_jA + L_jA)^gamma (s^gamma).
// seed 002, eq. 18
double eq18_transfer(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                     double message_bytes, double gamma);
/// eq18_transfer with each latency replaced by the network's latency_floor_s: with gamma > 0 the
/// term grows with every latency, so this is a lower bound of it (up to the rounding of pow).
double eq18_transfer_floor(const SwarmView& view, std::span<const int> context_hosts, const ServerView& candidate,
                           double message_bytes, double gamma);
/// Availability (G_A/C_A)^beta for a GPU availability of G TFLOP/s. A fully busy device has no
/// availability; the ratio is kept finite (G at least 1e-9) so that the argmin still ranks it.
inline double eq18_availability_at(const ServerView& candidate, double G, double beta) {
  return eq18_power(std::max(G, 1e-9) / computational_load(candidate), beta);
}
/// Availability (G_A/C_A)^beta at the candidate's utilization at `now` (s; an exp).
double eq18_availability(const ServerView& candidate, double beta, double now);
/// The least availability term over every utilization in [0, 1] (G_A from 1e-9 to its peak),
/// without reading the utilization: a lower bound of eq18_availability (up to pow's rounding).
/// G = peak x clamp(1 - utilization, 0, 1) lies in [0, peak], and x^beta is least at the top end
/// for beta < 0, at the bottom end for beta > 0 (1 for beta = 0).
inline double eq18_availability_floor(const ServerView& candidate, double beta) {
  return eq18_availability_at(candidate, beta < 0 ? candidate.device->peak_flops / 1e12 : 0.0, beta);
}
/// Reliability (1 / (R_A + 1))^alpha.
inline double eq18_reliability(const ServerView& candidate, double alpha) {
  return eq18_power(1.0 / (resource_reliability(candidate) + 1.0), alpha);
}

}  // namespace swarmsim::sim
