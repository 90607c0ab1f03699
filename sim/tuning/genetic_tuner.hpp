#pragma once
// The genetic algorithm of seed 002 §3.2 that tunes the exponents θ = (γ, β, α) of eq. 18:
//   1. initialization: a population of tuples drawn uniformly within bounds (plus the starting tuple);
//   2. fitness: supplied by the caller, higher is better (the seed's fitness is "inversely related"
//      to the total cost F(γ, β, α) of eq. 19; the engine plugs simulated runs in);
//   3. roulette-wheel selection (the seed's ref. [49], by stochastic acceptance);
//   4. blend crossover, eq. 20: θ_child = η θ_parent1 + (1 − η) θ_parent2, η ~ U[0, 1], one η for
//      all three components; then Gaussian mutation of each component with probability
//      mutation_rate and σ = mutation_scale × (bound width), clamped to the bounds.
// Elitism keeps the best `elite` tuples unchanged (their fitness is not re-evaluated), so the
// population's best never decreases. Cost: population + generations × (population − elite)
// fitness evaluations; the rest is O(population) per generation.
//
// Roulette weights: w_i = f_i − f_min + ε, ε = 0.01 × (f_max − f_min) over the finite fitnesses
// of the population, so every finite individual keeps a small chance and the ordering, not the
// offset, of the fitness matters; when all are equal the wheel is uniform. A non-finite fitness
// (NaN, ±inf: a failed simulation) ranks last and gets weight 0.
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "sim/signal.hpp"

namespace swarmsim::tuning {

/// θ = (γ, β, α): the exponents of eq. 18's transfer, availability and reliability terms.
using Theta = std::array<double, 3>;

/// A closed interval a parameter is searched in.
struct ParamRange {
  double lo = 0;
  double hi = 1;
};

struct TunerParams {
  int population = 24;          ///< tuples per generation (>= 2)
  int generations = 30;         ///< generations bred after the initial one
  int elite = 2;                ///< best tuples copied unchanged into the next generation (0 .. population-1)
  double mutation_rate = 0.2;   ///< probability that one component of a child is mutated
  double mutation_scale = 0.1;  ///< mutation σ as a fraction of the component's bound width
  /// Search ranges of γ, β, α (signed for β and α: see docs/algorithms.md, deviation 1).
  std::array<ParamRange, 3> bounds{{{0.25, 3.0}, {-3.0, 3.0}, {-3.0, 3.0}}};
  std::uint64_t seed = 1;       ///< fixes every draw
  Theta initial{1.0, -1.0, -1.0};  ///< starting tuple (the routing defaults), member 0 of generation 0; must lie within bounds
};

/// One generation of the log.
struct TunerGeneration {
  int generation = 0;       ///< 0 = the initial population
  double best_fitness = 0;  ///< best fitness in the population
  double mean_fitness = 0;  ///< mean over the finite fitnesses of the population
  Theta best_theta{};       ///< the tuple with best_fitness
  int evaluations = 0;      ///< fitness evaluations so far
};

struct TunerResult {
  Theta best{};                  ///< best tuple evaluated
  double best_fitness = 0;
  double initial_fitness = 0;    ///< fitness of TunerParams::initial
  std::vector<TunerGeneration> log;
  int evaluations = 0;
};

class GeneticTuner {
 public:
  /// Fitness of one tuple; higher is better.
  using Fitness = std::function<double(const Theta&)>;
  /// Fitness of a whole batch (e.g. one simulated run per tuple in parallel processes), in order.
  using BatchFitness = std::function<std::vector<double>(const std::vector<Theta>&)>;

  /// Validates `params`; throws std::invalid_argument.
  explicit GeneticTuner(TunerParams params);

  /// Emitted after each generation is evaluated (progress, logs, GUI).
  sim::Signal<TunerGeneration> on_generation;

  /// Runs the GA calling `fitness` once per new tuple.
  TunerResult run(const Fitness& fitness);
  /// Runs the GA calling `fitness` once per generation with the tuples not yet evaluated
  /// (all of generation 0, then the population − elite children); it must return one value each.
  TunerResult run_batch(const BatchFitness& fitness);

  const TunerParams& params() const { return params_; }

 private:
  TunerParams params_;
};

}  // namespace swarmsim::tuning
