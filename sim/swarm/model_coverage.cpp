#include "sim/swarm/model_coverage.hpp"

#include <algorithm>

namespace swarmsim::sim {

ModelCoverage::ModelCoverage(BlockRange served, int n_servers, double from_s)
    : from_s_(from_s),
      t_(from_s),
      served_(served),
      serving_(static_cast<std::size_t>(std::max(0, served.size())), 0),
      block_unserved_(serving_.size(), 0.0),
      uncovered_(std::max(0, served.size())),
      range_(static_cast<std::size_t>(std::max(0, n_servers))) {}

void ModelCoverage::advance(double t) {
  if (t <= t_) return;
  if (uncovered_ > 0) {
    unserved_ += t - t_;
    for (std::size_t k = 0; k < serving_.size(); ++k)
      if (serving_[k] == 0) block_unserved_[k] += t - t_;
  }
  t_ = t;
}

void ModelCoverage::add(BlockRange r, int delta) {
  for (int k = std::max(served_.start, r.start); k < std::min(served_.end, r.end); ++k) {
    int& s = serving_[static_cast<std::size_t>(k - served_.start)];
    if (s == 0) --uncovered_;
    s += delta;
    if (s == 0) ++uncovered_;
  }
}

void ModelCoverage::serve(double t, int server, BlockRange blocks) {
  if (server < 0 || server >= static_cast<int>(range_.size())) return;
  advance(t);
  add(range_[static_cast<std::size_t>(server)], -1);  // a server serves one range at a time
  range_[static_cast<std::size_t>(server)] = blocks;
  add(blocks, +1);
}

void ModelCoverage::stop(double t, int server) {
  if (server < 0 || server >= static_cast<int>(range_.size())) return;
  advance(t);
  add(range_[static_cast<std::size_t>(server)], -1);
  range_[static_cast<std::size_t>(server)] = BlockRange{};
}

double ModelCoverage::unserved_s(double until) const {
  return unserved_ + (uncovered_ > 0 && until > t_ ? until - t_ : 0.0);
}

double ModelCoverage::block_unserved_s(int block, double until) const {
  if (!served_.contains(block)) return 0.0;
  const std::size_t k = static_cast<std::size_t>(block - served_.start);
  return block_unserved_[k] + (serving_[k] == 0 && until > t_ ? until - t_ : 0.0);
}

std::vector<UnservedRange> ModelCoverage::unserved_ranges(double until) const {
  std::vector<double> per_block(static_cast<std::size_t>(std::max(0, served_.end)), 0.0);
  for (int b = std::max(0, served_.start); b < served_.end; ++b) per_block[static_cast<std::size_t>(b)] = block_unserved_s(b, until);
  return sim::unserved_ranges(per_block);
}

std::vector<UnservedRange> unserved_ranges(const std::vector<double>& per_block_unserved_s) {
  std::vector<UnservedRange> out;
  const int n = static_cast<int>(per_block_unserved_s.size());
  for (int b = 0; b < n;) {
    const double t = per_block_unserved_s[static_cast<std::size_t>(b)];
    int e = b + 1;
    while (e < n && per_block_unserved_s[static_cast<std::size_t>(e)] == t) ++e;
    if (t > 0) out.push_back({BlockRange{b, e}, t});
    b = e;
  }
  return out;
}

const UnservedRange* longest_unserved(const std::vector<UnservedRange>& ranges) {
  const UnservedRange* best = nullptr;
  for (const UnservedRange& r : ranges)
    if (!best || r.unserved_s > best->unserved_s) best = &r;
  return best;
}

}  // namespace swarmsim::sim
