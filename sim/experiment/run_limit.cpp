#include "sim/experiment/run_limit.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "sim/experiment/comparison.hpp"
#include "sim/units.hpp"

namespace swarmsim::experiment {

RunLimit parse_run_limit(const std::string& text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw std::invalid_argument("\"" + text + "\": expected METRIC=BOUND, e.g. session_p99_s=30s");
  RunLimit l;
  l.metric = text.substr(0, eq);
  const std::string bound = text.substr(eq + 1);
  const ComparedMetric* m = rankable_metric(l.metric);
  if (!m) throw std::invalid_argument("\"" + text + "\": unknown metric " + l.metric + "; expected one of " + rankable_metric_keys());
  l.at_most = better_direction(*m) == Better::Lower;
  if (m->unit == MetricUnit::Seconds || m->unit == MetricUnit::Bytes || m->unit == MetricUnit::Joules) {
    const sim::Quantity q = m->unit == MetricUnit::Seconds ? sim::Quantity::Duration
                            : m->unit == MetricUnit::Bytes ? sim::Quantity::Size
                                                           : sim::Quantity::Energy;
    const sim::ParsedQuantity v = sim::parse_quantity(bound, q);
    if (!v.value) throw std::invalid_argument("\"" + text + "\": " + v.error);
    l.bound = *v.value;
  } else {
    std::size_t used = 0;
    double v = std::nan("");
    try {
      v = std::stod(bound, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != bound.size() || !std::isfinite(v))
      throw std::invalid_argument("\"" + text + "\": expected a plain number for " + l.metric + ", got \"" + bound + "\"");
    l.bound = v;
  }
  if (!(l.bound >= 0)) throw std::invalid_argument("\"" + text + "\": the bound must not be negative");
  if (!l.at_most && l.bound == 0) throw std::invalid_argument("\"" + text + "\": a lower bound of 0 holds for every run");
  return l;
}

std::string limit_text(const RunLimit& limit) {
  const ComparedMetric* m = rankable_metric(limit.metric);
  return limit.metric + (limit.at_most ? " <= " : " >= ") + (m ? format_value(limit.bound, m->unit) : std::to_string(limit.bound));
}

double limit_excess(const RunLimit& limit, double value) {
  if (!std::isfinite(value)) return 1.0;
  constexpr double kTiny = 1e-9;
  const double v = std::max(value, kTiny), b = std::max(limit.bound, kTiny);
  return std::max(0.0, limit.at_most ? v / b - 1.0 : b / v - 1.0);
}

}  // namespace swarmsim::experiment
