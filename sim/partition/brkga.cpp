#include "sim/partition/brkga.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "sim/rng.hpp"

namespace swarmsim::partition {

namespace {
struct Individual {
  std::vector<double> keys;
  double fitness = 0;
};
}  // namespace

BrkgaResult brkga_partition(const ModelGraph& g, int k, const MtppParams& p, const BrkgaParams& params,
                            const std::function<void(const BrkgaGeneration&)>& on_generation) {
  if (params.population < 2) throw std::invalid_argument("BRKGA: population must be >= 2");
  if (!(params.elite_fraction > 0 && params.elite_fraction < 1) || !(params.mutant_fraction >= 0) ||
      params.elite_fraction + params.mutant_fraction >= 1)
    throw std::invalid_argument("BRKGA: need 0 < elite fraction, 0 <= mutant fraction, elite + mutant < 1");
  if (!(params.rho > 0 && params.rho < 1)) throw std::invalid_argument("BRKGA: rho must lie in (0, 1)");
  const int n = g.size();
  const int pop = params.population;
  const int n_elite = std::max(1, static_cast<int>(std::lround(params.elite_fraction * pop)));
  const int n_mutant = std::min(pop - n_elite - 1, static_cast<int>(std::lround(params.mutant_fraction * pop)));
  sim::Rng rng(params.seed);

  BrkgaResult result;
  int evaluations = 0;
  auto decode = [&](Individual& ind) {
    const std::vector<int> order = g.kahn_order(ind.keys);
    Slicing s = slice_graph(g, order, k, p);
    ind.fitness = s.bottleneck_s;
    ++evaluations;
    if (result.best.order.empty() || s.bottleneck_s < result.best.bottleneck_s) result.best = std::move(s);
  };
  auto random_individual = [&] {
    Individual ind;
    ind.keys.resize(static_cast<std::size_t>(n));
    for (double& x : ind.keys) x = rng.uniform();
    return ind;
  };

  std::vector<Individual> population;
  population.reserve(static_cast<std::size_t>(pop));
  {
    Individual kahn;  // keys increasing with op id: decodes to g.kahn_order()
    kahn.keys.resize(static_cast<std::size_t>(n));
    for (int v = 0; v < n; ++v) kahn.keys[v] = (v + 0.5) / n;
    population.push_back(std::move(kahn));
  }
  while (static_cast<int>(population.size()) < pop) population.push_back(random_individual());
  for (auto& ind : population) decode(ind);

  auto by_fitness = [](const Individual& a, const Individual& b) { return a.fitness < b.fitness; };
  double best = std::numeric_limits<double>::infinity();
  int stall = 0;
  for (int gen = 0; gen < params.generations; ++gen) {
    std::stable_sort(population.begin(), population.end(), by_fitness);
    if (gen > 0) {  // evolve the sorted population of the previous generation
      std::vector<Individual> next(population.begin(), population.begin() + n_elite);
      for (int m = 0; m < n_mutant; ++m) next.push_back(random_individual());
      while (static_cast<int>(next.size()) < pop) {
        const Individual& elite = population[rng.below(static_cast<std::uint64_t>(n_elite))];
        const Individual& other = population[n_elite + rng.below(static_cast<std::uint64_t>(pop - n_elite))];
        Individual child;
        child.keys.resize(static_cast<std::size_t>(n));
        for (int v = 0; v < n; ++v) {
          if (params.crossover == Crossover::BiasedUniform)
            child.keys[v] = rng.uniform() < params.rho ? elite.keys[v] : other.keys[v];
          else  // seed 002, section 2.6.1: new = α parent1 + (1 - α) parent2, with α = ρ
            child.keys[v] = params.rho * elite.keys[v] + (1 - params.rho) * other.keys[v];
        }
        next.push_back(std::move(child));
      }
      for (int i = n_elite; i < pop; ++i) decode(next[i]);
      population = std::move(next);
      std::stable_sort(population.begin(), population.end(), by_fitness);
    }
    double sum = 0;
    for (const auto& ind : population) sum += ind.fitness;
    BrkgaGeneration log{gen, result.best.bottleneck_s, sum / pop, evaluations};
    result.log.push_back(log);
    if (on_generation) on_generation(log);
    if (result.best.bottleneck_s < best) {
      best = result.best.bottleneck_s;
      stall = 0;
    } else if (params.stall_generations > 0 && ++stall >= params.stall_generations) {
      break;
    }
  }
  return result;
}

}  // namespace swarmsim::partition
