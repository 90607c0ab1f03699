#include "sim/partition/slice_graph.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

namespace swarmsim::partition {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

void check_input(const ModelGraph& g, std::span<const int> order, int k) {
  if (k < 1) throw std::invalid_argument("SliceGraph: k must be >= 1, got " + std::to_string(k));
  if (g.size() == 0) throw std::invalid_argument("SliceGraph: the graph has no ops");
  if (!g.is_topological(order)) throw std::invalid_argument("SliceGraph: the order is not a topological order of graph \"" + g.name() + "\"");
}

/// Turns the DP's choices into a Slicing. choice[c][j]: start of the last of c segments covering
/// [0, j), or -1 when c - 1 segments already did best.
Slicing reconstruct(const ModelGraph& g, std::span<const int> order, const std::vector<std::vector<int>>& choice, int k,
                    double bottleneck_s) {
  const int n = static_cast<int>(order.size());
  Slicing s;
  s.order.assign(order.begin(), order.end());
  int c = k, j = n;
  while (j > 0) {
    // Every prefix has a choice when costs are finite; infinite or NaN costs can leave none.
    if (c <= 0) throw std::invalid_argument("slice_graph: graph \"" + g.name() + "\" has no slicing with a finite bottleneck (a cost overflowed or is NaN)");
    const int i = choice[c][j];
    if (i >= 0) {
      s.starts.push_back(i);
      j = i;
    }
    --c;
  }
  std::reverse(s.starts.begin(), s.starts.end());
  s.block_of.assign(static_cast<std::size_t>(g.size()), 0);
  for (int b = 0; b < s.blocks(); ++b) {
    const int end = b + 1 < s.blocks() ? s.starts[b + 1] : n;
    for (int pos = s.starts[b]; pos < end; ++pos) s.block_of[order[pos]] = b;
  }
  s.bottleneck_s = bottleneck_s;
  return s;
}
}  // namespace

SegmentCostScanner::SegmentCostScanner(const ModelGraph& g, std::span<const int> order, const MtppParams& p)
    : g_(g), p_(p), n_(static_cast<int>(order.size())), order_(order.begin(), order.end()) {
  pos_.assign(static_cast<std::size_t>(n_), 0);
  for (int i = 0; i < n_; ++i) pos_[order_[i]] = i;
  max_succ_pos_.assign(static_cast<std::size_t>(n_), -1);
  live_.assign(static_cast<std::size_t>(n_), 0.0);
  work_prefix_.assign(static_cast<std::size_t>(n_) + 1, 0.0);
  param_prefix_.assign(static_cast<std::size_t>(n_) + 1, 0.0);
  by_last_use_off_.assign(static_cast<std::size_t>(n_) + 1, 0);
  for (int i = 0; i < n_; ++i) {
    const int v = order_[i];
    const Op& op = g.op(v);
    work_prefix_[i + 1] = work_prefix_[i] + p.device.work_s(v, op);
    param_prefix_[i + 1] = param_prefix_[i] + op.param_bytes;
    double live = op.out_bytes;
    for (int u : g.preds(v)) live += g.op(u).out_bytes;
    live_[v] = live;
    for (int w : g.succs(v)) max_succ_pos_[v] = std::max(max_succ_pos_[v], pos_[w]);
    if (max_succ_pos_[v] >= 0) ++by_last_use_off_[max_succ_pos_[v] + 1];
  }
  for (int i = 0; i < n_; ++i) by_last_use_off_[i + 1] += by_last_use_off_[i];
  by_last_use_.assign(static_cast<std::size_t>(by_last_use_off_[n_]), 0);
  std::vector<int> fill(by_last_use_off_.begin(), by_last_use_off_.end() - 1);
  for (int v = 0; v < n_; ++v)
    if (max_succ_pos_[v] >= 0) by_last_use_[fill[max_succ_pos_[v]]++] = v;
  stamp_.assign(static_cast<std::size_t>(n_), 0);
}

void SegmentCostScanner::begin(int i) {
  ++scan_;
  i_ = i;
  j_ = i - 1;
  in_ = out_ = peak_ = 0;
}

double SegmentCostScanner::extend() {
  const int j = ++j_;
  const int v = order_[j];
  const Op& op = g_.op(v);
  for (int u : g_.preds(v))  // eq. 8, io(V∖S, S): producers before the segment, once each
    if (pos_[u] < i_ && stamp_[u] != scan_) {
      stamp_[u] = scan_;
      in_ += g_.op(u).out_bytes;
    }
  if (max_succ_pos_[v] > j) out_ += op.out_bytes;  // eq. 8, io(S, V∖S): consumed after the segment
  for (int k = by_last_use_off_[j]; k < by_last_use_off_[j + 1]; ++k) {
    const int u = by_last_use_[k];  // its last consumer is v: no longer leaves the segment
    if (pos_[u] >= i_ && u != v) out_ -= g_.op(u).out_bytes;
  }
  peak_ = std::max(peak_, live_[v]);
  const double params = param_prefix_[j + 1] - param_prefix_[i_];
  // seed 002, eq. 10
  return in_ / p_.link_Bps + work(i_, j) + overflow_cost(params, peak_, p_) + out_ / p_.link_Bps;
}

Slicing slice_graph_dp(const ModelGraph& g, std::span<const int> order, int k, const MtppParams& p) {
  check_input(g, order, k);
  const int n = g.size();
  k = std::min(k, n);
  SegmentCostScanner scan(g, order, p);
  std::vector<double> cost(static_cast<std::size_t>(n) * n, kInf);  // cost[i*n + j] = f(π[i..j])
  for (int i = 0; i < n; ++i) {
    scan.begin(i);
    for (int j = i; j < n; ++j) cost[static_cast<std::size_t>(i) * n + j] = scan.extend();
  }
  std::vector<double> prev(static_cast<std::size_t>(n) + 1, kInf), cur;
  prev[0] = 0;
  std::vector<std::vector<int>> choice(static_cast<std::size_t>(k) + 1, std::vector<int>(static_cast<std::size_t>(n) + 1, -1));
  for (int c = 1; c <= k; ++c) {
    cur = prev;  // at most c blocks: c - 1 may already be best
    for (int j = 1; j <= n; ++j)
      for (int i = 0; i < j; ++i) {  // Algorithm 1, lines 11-14: last segment π[i..j-1]
        if (prev[i] == kInf) continue;
        const double v = std::max(prev[i], cost[static_cast<std::size_t>(i) * n + (j - 1)]);
        if (v < cur[j]) {
          cur[j] = v;
          choice[c][j] = i;
        }
      }
    prev.swap(cur);
  }
  return reconstruct(g, order, choice, k, prev[n]);
}

Slicing slice_graph(const ModelGraph& g, std::span<const int> order, int k, const MtppParams& p) {
  check_input(g, order, k);
  const int n = g.size();
  k = std::min(k, n);
  SegmentCostScanner scan(g, order, p);

  // A feasible bottleneck to start from: cut π where the running work crosses b/k of the total.
  double bound = kInf;
  {
    const double total = scan.work(0, n - 1);
    double worst = 0;
    int start = 0, b = 1;
    scan.begin(0);
    for (int j = 0; j < n; ++j) {
      const double c = scan.extend();
      const bool last = j == n - 1;
      if (last || (b < k && scan.work(0, j) >= total * b / k)) {
        worst = std::max(worst, c);
        start = j + 1;
        ++b;
        if (!last) scan.begin(start);
      }
    }
    bound = worst;
  }
  // Tighten it: bisect on the threshold T of a furthest-fit slicing (each block extends to the last
  // op that keeps its cost <= T), which is feasible whenever it needs at most k blocks.
  {
    auto furthest_fit = [&](double T) {
      int blocks = 0, i = 0;
      while (i < n && blocks < k) {
        int last = -1;
        scan.begin(i);
        for (int j = i; j < n && scan.work(i, j) <= T; ++j)
          if (scan.extend() <= T) last = j;
        if (last < 0) return false;
        ++blocks;
        i = last + 1;
      }
      return i == n;
    };
    double lo = bottleneck_lower_bound(g, k, p), hi = bound;
    for (int step = 0; step < 40 && hi > lo * (1 + 1e-6); ++step) {
      const double mid = 0.5 * (lo + hi);
      if (furthest_fit(mid)) hi = mid;
      else lo = mid;
    }
    bound = std::min(bound, hi);  // hi is feasible: the initial bound, or a threshold furthest-fit met
  }

  std::vector<double> prev(static_cast<std::size_t>(n) + 1, kInf), cur, older(static_cast<std::size_t>(n) + 1, kInf);
  prev[0] = 0;
  std::vector<std::vector<int>> choice(static_cast<std::size_t>(k) + 1, std::vector<int>(static_cast<std::size_t>(n) + 1, -1));
  for (int c = 1; c <= k; ++c) {
    cur = prev;
    for (int i = 0; i < n; ++i) {
      if (!(prev[i] <= bound)) continue;  // cannot lead to a slicing better than the bound
      // The k - c + 1 blocks left must carry the rest of the work, each at most `bound`.
      if (i > 0 && scan.work(i, n - 1) > (k - c + 1) * bound * (1 + 1e-9)) continue;  // slack: rounding of prefix sums
      // A prefix no better with c-1 blocks than with c-2: every segment from it was already tried
      // in layer c-1 with the same value, and cur starts from that layer's results.
      if (!(prev[i] < older[i])) continue;
      scan.begin(i);
      for (int j = i; j < n && scan.work(i, j) <= bound; ++j) {  // f(S) >= work(S): longer segments are useless
        const double v = std::max(prev[i], scan.extend());
        if (v < cur[j + 1]) {  // ascending i: ties keep the earliest start, as the reference does
          cur[j + 1] = v;
          choice[c][j + 1] = i;
        }
      }
    }
    bound = std::min(bound, cur[n]);
    older.swap(prev);
    prev.swap(cur);
  }
  return reconstruct(g, order, choice, k, prev[n]);
}

}  // namespace swarmsim::partition
