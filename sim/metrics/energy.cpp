#include "sim/metrics/energy.hpp"

#include <algorithm>

namespace swarmsim::sim {

double host_energy_j(const PowerDraw& p, double on_s, double busy_s) {
  return p.idle_w * on_s + (p.busy_w - p.idle_w) * std::clamp(busy_s, 0.0, on_s);
}

void PowerOnTimes::switch_on(int host, double t) {
  double& since = on_since_[static_cast<std::size_t>(host)];
  if (since < 0) since = t;
}

void PowerOnTimes::switch_off(int host, double t) {
  double& since = on_since_[static_cast<std::size_t>(host)];
  if (since < 0) return;
  if (t > since) closed_[static_cast<std::size_t>(host)].emplace_back(since, t);  // off before it came on: never on
  since = -1.0;
}

double PowerOnTimes::on_seconds(int host, double from, double to) const {
  const auto overlap = [&](double a, double b) { return std::max(0.0, std::min(b, to) - std::max(a, from)); };
  double s = 0.0;
  for (const auto& [a, b] : closed_[static_cast<std::size_t>(host)]) s += overlap(a, b);
  if (const double since = on_since_[static_cast<std::size_t>(host)]; since >= 0) s += overlap(since, to);
  return s;
}

}  // namespace swarmsim::sim
