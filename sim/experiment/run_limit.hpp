#pragma once
// A service level a policy's runs should keep, such as "session p99 at most 90 s": what
// `swarmsim tune --limit` scores against and `swarmsim compare --limit` counts.
#include <string>

namespace swarmsim::experiment {

/// A bound every run should keep (`tune --limit`, `compare --limit`): metric at most `bound` when
/// lower is better, at least `bound` when higher is better.
struct RunLimit {
  std::string metric;     ///< a compared metric key, e.g. "session_p99_s"
  double bound = 0;       ///< in the metric's unit (s, tokens/s, ...)
  bool at_most = true;    ///< true: V <= bound (lower is better); false: V >= bound
};

/// Parses "METRIC=BOUND" of `tune --limit`: METRIC a metric policies can be ranked by, BOUND a
/// duration ("30s") for latencies, a size ("1GiB") for bytes, a plain number otherwise; the
/// metric's better direction says which side the bound is on. Throws std::invalid_argument with
/// what was expected.
RunLimit parse_run_limit(const std::string& text);
/// "session_p99_s <= 30.000 s" / "tokens_per_s >= 12.000".
std::string limit_text(const RunLimit& limit);

/// How far `value` breaks `limit`, relative to its bound: max(0, V / bound - 1) for an upper bound,
/// max(0, bound / V - 1) for a lower one; 0 within it, 1 for a NaN value (no value: broken).
double limit_excess(const RunLimit& limit, double value);

}  // namespace swarmsim::experiment
