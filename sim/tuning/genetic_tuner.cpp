#include "sim/tuning/genetic_tuner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

#include "sim/rng.hpp"

namespace swarmsim::tuning {

namespace {

struct Individual {
  Theta theta{};
  double fitness = 0;
};

/// Fitness as ranked: a non-finite value (a failed evaluation) ranks below every finite one.
double rank_key(double f) { return std::isfinite(f) ? f : -std::numeric_limits<double>::infinity(); }

/// Standard normal variate by Box–Muller (cosine branch), from two uniforms of `rng`.
double standard_normal(sim::Rng& rng) {
  const double u1 = rng.uniform();  // in [0, 1): log1p(-u1) is finite
  const double u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace

GeneticTuner::GeneticTuner(TunerParams params) : params_(params) {
  const TunerParams& p = params_;
  if (p.population < 2) throw std::invalid_argument("GeneticTuner: population must be >= 2");
  if (p.generations < 0) throw std::invalid_argument("GeneticTuner: generations must be >= 0");
  if (p.elite < 0 || p.elite >= p.population) throw std::invalid_argument("GeneticTuner: need 0 <= elite < population");
  if (!(p.mutation_rate >= 0 && p.mutation_rate <= 1)) throw std::invalid_argument("GeneticTuner: mutation rate must lie in [0, 1]");
  if (!(p.mutation_scale >= 0)) throw std::invalid_argument("GeneticTuner: mutation scale must be >= 0");
  for (int i = 0; i < 3; ++i) {
    const ParamRange& b = p.bounds[static_cast<std::size_t>(i)];
    if (!(std::isfinite(b.lo) && std::isfinite(b.hi) && b.lo <= b.hi))
      throw std::invalid_argument("GeneticTuner: bounds of parameter " + std::to_string(i) + " must be finite with lo <= hi");
    const double x = p.initial[static_cast<std::size_t>(i)];
    if (!(x >= b.lo && x <= b.hi))
      throw std::invalid_argument("GeneticTuner: starting tuple component " + std::to_string(i) + " lies outside its bounds");
  }
}

TunerResult GeneticTuner::run(const Fitness& fitness) {
  return run_batch([&](const std::vector<Theta>& batch) {
    std::vector<double> out;
    out.reserve(batch.size());
    for (const Theta& t : batch) out.push_back(fitness(t));
    return out;
  });
}

TunerResult GeneticTuner::run_batch(const BatchFitness& fitness) {
  const TunerParams& p = params_;
  const auto pop = static_cast<std::size_t>(p.population);
  sim::Rng rng(p.seed);
  TunerResult result;
  result.best_fitness = -std::numeric_limits<double>::infinity();
  bool have_best = false;

  auto evaluate = [&](std::vector<Individual>& batch) {
    if (batch.empty()) return;
    std::vector<Theta> thetas;
    thetas.reserve(batch.size());
    for (const Individual& ind : batch) thetas.push_back(ind.theta);
    const std::vector<double> f = fitness(thetas);
    if (f.size() != batch.size()) throw std::runtime_error("GeneticTuner: the fitness batch returned a wrong number of values");
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i].fitness = f[i];
      if (!have_best || rank_key(f[i]) > rank_key(result.best_fitness)) {
        result.best = batch[i].theta;
        result.best_fitness = f[i];
        have_best = true;
      }
    }
    result.evaluations += static_cast<int>(batch.size());
  };
  auto better = [](const Individual& a, const Individual& b) { return rank_key(a.fitness) > rank_key(b.fitness); };
  auto log_generation = [&](int generation, const std::vector<Individual>& population) {
    TunerGeneration g;
    g.generation = generation;
    const Individual& best = *std::min_element(population.begin(), population.end(), better);
    g.best_fitness = best.fitness;
    g.best_theta = best.theta;
    double sum = 0;
    int finite = 0;
    for (const Individual& ind : population)
      if (std::isfinite(ind.fitness)) {
        sum += ind.fitness;
        ++finite;
      }
    g.mean_fitness = finite > 0 ? sum / finite : std::numeric_limits<double>::quiet_NaN();
    g.evaluations = result.evaluations;
    result.log.push_back(g);
    on_generation(g);
  };

  // 1. Initialization: the starting tuple, then uniform draws within the bounds.
  std::vector<Individual> population(pop);
  population[0].theta = p.initial;
  for (std::size_t i = 1; i < pop; ++i)
    for (std::size_t c = 0; c < 3; ++c) population[i].theta[c] = rng.uniform(p.bounds[c].lo, p.bounds[c].hi);
  // 2. Fitness.
  evaluate(population);
  result.initial_fitness = population[0].fitness;
  log_generation(0, population);

  std::vector<double> weight(pop);
  for (int generation = 1; generation <= p.generations; ++generation) {
    std::stable_sort(population.begin(), population.end(), better);

    // 3. Roulette-wheel weights, shifted to be positive (see the header).
    double f_min = std::numeric_limits<double>::infinity(), f_max = -std::numeric_limits<double>::infinity();
    for (const Individual& ind : population)
      if (std::isfinite(ind.fitness)) {
        f_min = std::min(f_min, ind.fitness);
        f_max = std::max(f_max, ind.fitness);
      }
    const double spread = f_max - f_min;  // -inf when no fitness is finite
    double w_max = 0;
    for (std::size_t i = 0; i < pop; ++i) {
      const double f = population[i].fitness;
      weight[i] = !std::isfinite(f) ? 0.0 : spread > 0 ? f - f_min + 0.01 * spread : 1.0;
      w_max = std::max(w_max, weight[i]);
    }
    if (w_max == 0) {  // nothing finite: a uniform wheel
      std::fill(weight.begin(), weight.end(), 1.0);
      w_max = 1.0;
    }
    // Roulette by stochastic acceptance (Lipowski & Lipowska 2012, the seed's ref. [49]): draw i
    // uniformly, accept it with probability w_i / w_max; the accepted i has probability w_i / Σw.
    auto select = [&]() -> const Individual& {
      while (true) {
        const std::size_t i = rng.below(pop);
        if (rng.uniform() * w_max < weight[i]) return population[i];
      }
    };

    // Elitism, then children by eq. 20 and mutation.
    std::vector<Individual> next(population.begin(), population.begin() + p.elite);
    std::vector<Individual> children;
    children.reserve(pop - next.size());
    while (next.size() + children.size() < pop) {
      const Individual& parent1 = select();
      const Individual& parent2 = select();
      const double eta = rng.uniform();  // seed 002, eq. 20: η drawn in [0, 1]
      Individual child;
      for (std::size_t c = 0; c < 3; ++c) {
        double x = eta * parent1.theta[c] + (1 - eta) * parent2.theta[c];
        if (rng.uniform() < p.mutation_rate) {
          const double width = p.bounds[c].hi - p.bounds[c].lo;
          x += p.mutation_scale * width * standard_normal(rng);
        }
        child.theta[c] = std::clamp(x, p.bounds[c].lo, p.bounds[c].hi);
      }
      children.push_back(child);
    }
    evaluate(children);
    next.insert(next.end(), children.begin(), children.end());
    population = std::move(next);
    log_generation(generation, population);
  }
  return result;
}

}  // namespace swarmsim::tuning
