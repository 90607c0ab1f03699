#pragma once
// The farthest round trip by trying every pair of hosts: the naive twin of
// LatencyTable::farthest_pair (a test's reference and a benchmark's baseline).
#include <utility>

#include "sim/swarm/latency_table.hpp"

namespace swarmsim::test {

/// The first pair (i < j, in host order) with the longest one_way(i, j) + one_way(j, i).
inline std::pair<int, int> farthest_pair_exhaustive(const sim::LatencyTable& t) {
  double longest = -1;
  std::pair<int, int> best{-1, -1};
  for (int i = 0; i < t.hosts(); ++i)
    for (int j = i + 1; j < t.hosts(); ++j)
      if (const double rtt = t.one_way(i, j) + t.one_way(j, i); rtt > longest) {
        longest = rtt;
        best = {i, j};
      }
  return best;
}

}  // namespace swarmsim::test
