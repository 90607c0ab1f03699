#pragma once
// Biased random-key genetic algorithm over node-priority vectors (seed 002, section 2.6.1):
// a chromosome x ∈ [0,1]^n decodes to a topological order (Kahn's algorithm taking the ready op
// with the smallest key first), which SliceGraph slices into at most k blocks; the fitness is the
// bottleneck f* of that slicing (lower is better).
//
// Each generation keeps the elite, adds fresh random mutants, and fills the rest with children
// of one elite and one non-elite parent. Crossover is BRKGA's biased uniform crossover (each
// gene from the elite parent with probability ρ), or the seed's blend
// new = ρ·parent1 + (1-ρ)·parent2. The Kahn order (keys = op ids) is planted in the first
// population, so BRKGA is never worse than slicing that single order.
#include <cstdint>
#include <functional>
#include <vector>

#include "sim/partition/slice_graph.hpp"

namespace swarmsim::partition {

enum class Crossover {
  BiasedUniform,  ///< gene from the elite parent with probability ρ (Gonçalves & Resende 2011)
  Blend,          ///< seed 002 §2.6.1: new = ρ·parent1 + (1-ρ)·parent2, parent1 elite
};

struct BrkgaParams {
  int population = 64;            ///< chromosomes per generation
  double elite_fraction = 0.20;   ///< share kept unchanged as the elite
  double mutant_fraction = 0.15;  ///< share replaced by fresh random chromosomes
  double rho = 0.7;               ///< elite parent's inheritance probability (or blend weight)
  int generations = 100;          ///< at most this many generations
  int stall_generations = 30;     ///< stop after this many generations without improvement (0 = never)
  Crossover crossover = Crossover::BiasedUniform;
  std::uint64_t seed = 1;
};

/// One generation of the convergence log.
struct BrkgaGeneration {
  int generation = 0;
  double best_s = 0;    ///< best bottleneck so far (seconds)
  double mean_s = 0;    ///< mean bottleneck of the population (seconds)
  int evaluations = 0;  ///< decodes so far
};

struct BrkgaResult {
  Slicing best;
  std::vector<BrkgaGeneration> log;
};

/// Runs BRKGA; `on_generation`, when set, is called after each generation (progress, logs).
BrkgaResult brkga_partition(const ModelGraph& g, int k, const MtppParams& p, const BrkgaParams& params,
                            const std::function<void(const BrkgaGeneration&)>& on_generation = {});

}  // namespace swarmsim::partition
