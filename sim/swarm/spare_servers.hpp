#pragma once
// Spare servers of request-based runs (Fisher B-trees, coded inference): server nodes that hold no
// part of the model and stand by to take over a failed one, fastest first.
#include <algorithm>
#include <vector>

namespace swarmsim::sim {

/// Sorts server node indices by `seconds[server]` (one unit of the run's work on that server),
/// fastest first, ties to the lower index.
inline void sort_fastest_first(std::vector<int>& servers, const std::vector<double>& seconds) {
  std::sort(servers.begin(), servers.end(), [&](int a, int b) {
    const double ca = seconds[static_cast<std::size_t>(a)], cb = seconds[static_cast<std::size_t>(b)];
    return ca < cb || (ca == cb && a < b);
  });
}

}  // namespace swarmsim::sim
