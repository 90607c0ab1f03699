#include "sim/calibration/nelder_mead.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace swarmsim::calibration {
namespace {

UnitPoint clamped(UnitPoint p) {
  for (double& x : p) x = std::isfinite(x) ? std::clamp(x, 0.0, 1.0) : 0.5;
  return p;
}

/// a + t (b - a), clamped.
UnitPoint along(const UnitPoint& a, const UnitPoint& b, double t) {
  UnitPoint p(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) p[i] = a[i] + t * (b[i] - a[i]);
  return clamped(std::move(p));
}

}  // namespace

std::vector<UnitPoint> unit_grid(int dimensions, int levels) {
  if (dimensions < 1 || levels < 2) throw std::invalid_argument("unit_grid: need dimensions >= 1 and levels >= 2");
  std::vector<UnitPoint> out;
  std::vector<int> idx(static_cast<std::size_t>(dimensions), 0);
  while (true) {
    UnitPoint p(idx.size());
    for (std::size_t i = 0; i < idx.size(); ++i) p[i] = static_cast<double>(idx[i]) / (levels - 1);
    out.push_back(std::move(p));
    int d = dimensions - 1;
    while (d >= 0 && ++idx[static_cast<std::size_t>(d)] == levels) idx[static_cast<std::size_t>(d--)] = 0;
    if (d < 0) return out;
  }
}

NelderMeadResult nelder_mead(const BatchObjective& f, UnitPoint start, const NelderMeadOptions& o) {
  const std::size_t d = start.size();
  if (d == 0) throw std::invalid_argument("nelder_mead: no coordinates to search");
  NelderMeadResult r;
  const auto eval = [&](const std::vector<UnitPoint>& pts) {
    std::vector<double> v = f(pts);
    if (v.size() != pts.size()) throw std::logic_error("nelder_mead: the objective returned a wrong number of values");
    for (double& x : v)
      if (std::isnan(x)) x = std::numeric_limits<double>::infinity();
    r.evaluations += static_cast<int>(pts.size());
    return v;
  };

  // Initial simplex: the start and one step along each axis (backwards when the step would leave
  // the cube), evaluated as one batch.
  std::vector<UnitPoint> simplex{clamped(std::move(start))};
  for (std::size_t i = 0; i < d; ++i) {
    UnitPoint p = simplex[0];
    p[i] += (p[i] + o.initial_step <= 1.0) ? o.initial_step : -o.initial_step;
    simplex.push_back(clamped(std::move(p)));
  }
  std::vector<double> values = eval(simplex);

  std::vector<std::size_t> order(d + 1);
  const auto sort_simplex = [&] {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
    std::vector<UnitPoint> s;
    std::vector<double> v;
    for (std::size_t i : order) {
      s.push_back(simplex[i]);
      v.push_back(values[i]);
    }
    simplex = std::move(s);
    values = std::move(v);
  };

  while (true) {
    sort_simplex();
    double spread_x = 0;
    for (std::size_t i = 1; i <= d; ++i)
      for (std::size_t j = 0; j < d; ++j) spread_x = std::max(spread_x, std::abs(simplex[i][j] - simplex[0][j]));
    const bool flat = std::isfinite(values[d]) && values[d] - values[0] <= o.f_tolerance;
    if (spread_x <= o.x_tolerance || flat) {
      r.converged = true;
      break;
    }
    if (r.evaluations >= o.max_evaluations) break;

    UnitPoint centroid(d, 0.0);  // of every vertex but the worst
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) centroid[j] += simplex[i][j] / static_cast<double>(d);
    const UnitPoint& worst = simplex[d];

    const UnitPoint reflected = along(centroid, worst, -1.0);
    const double fr = eval({reflected})[0];
    if (fr < values[0]) {
      const UnitPoint expanded = along(centroid, worst, -2.0);
      const double fe = eval({expanded})[0];
      if (fe < fr) {
        simplex[d] = expanded;
        values[d] = fe;
      } else {
        simplex[d] = reflected;
        values[d] = fr;
      }
      continue;
    }
    if (fr < values[d - 1]) {
      simplex[d] = reflected;
      values[d] = fr;
      continue;
    }
    // Contract towards the better of the worst vertex and its reflection.
    const bool outside = fr < values[d];
    const UnitPoint contracted = outside ? along(centroid, reflected, 0.5) : along(centroid, worst, 0.5);
    const double fc = eval({contracted})[0];
    if (fc < (outside ? fr : values[d])) {
      simplex[d] = contracted;
      values[d] = fc;
      continue;
    }
    // Shrink every vertex towards the best one.
    std::vector<UnitPoint> shrunk;
    for (std::size_t i = 1; i <= d; ++i) shrunk.push_back(along(simplex[0], simplex[i], 0.5));
    const std::vector<double> fs = eval(shrunk);
    for (std::size_t i = 1; i <= d; ++i) {
      simplex[i] = shrunk[i - 1];
      values[i] = fs[i - 1];
    }
  }
  r.best = simplex[0];
  r.best_value = values[0];
  return r;
}

}  // namespace swarmsim::calibration
