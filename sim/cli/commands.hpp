#pragma once
// The subcommands of the `swarmsim` program. Each returns the process exit code:
// 0 success, 1 the run failed, 2 bad input (scenario, flags).
#include <string>
#include <vector>

namespace swarmsim::cli {

struct ValidateArgs {
  std::vector<std::string> files;
  std::vector<std::string> overrides;  ///< "path=value"
};
int validate(const ValidateArgs& args);

struct RunArgs {
  std::string file;
  std::string out_dir;                 ///< default runs/<scenario name>
  std::vector<std::string> overrides;
  std::string progress = "auto";       ///< auto | always | never
  int verbosity = 0;
  bool json = false;                   ///< print metrics.json to stdout instead of the summary
  bool no_outputs = false;             ///< write no files
  std::vector<std::string> metrics;    ///< print these metrics.json paths, one value per line
  std::string execute = "priced";      ///< priced | real
  std::string backend = "cpu";         ///< backend of --execute real
};
int run(const RunArgs& args);

struct ProfileArgs {
  std::string backend = "cpu";
  std::string model = "Llama-3-8B";
  int reduce_width = 1;                ///< profile a reduced-width model (fast checks)
  std::vector<int> batches{1, 8};
  std::vector<int> prompts{64};
  std::vector<int> kv_lens{64, 512};
  double budget_s = 2.0;
  std::string out;
};
int profile(const ProfileArgs& args);

struct PartitionArgs {
  std::string graph;                   ///< a model graph file, or "gen:<generator>"; empty: --nodes's own graph model
  int k = 0;                           ///< at most this many blocks (0: 4, or one per server node with --nodes)
  std::string method;                  ///< a method name, or "all" for a comparison table (empty: slicegraph, or the scenario's)
  std::string device = "A100-80GB";    ///< catalog device every block is priced on
  std::string link = "1Gbps";          ///< bandwidth B between nodes
  std::string fast_memory;             ///< M (default: the device's memory)
  std::string pricing;                 ///< "auto" or "roofline" (empty: the scenario's with --nodes, else "auto")
  int batch = 1;                       ///< generator option
  int population = 0, generations = 0; ///< BRKGA (0: 64 and 100, or the scenario's)
  long long seed = -1;                 ///< BRKGA and METIS (-1: 1, or the scenario's)
  bool json = false;                   ///< print the result as JSON
  std::string out;                     ///< also write the JSON here (atomically)
  std::string nodes;                   ///< a scenario file: cut and place onto its server nodes instead
  /// With --nodes: score every plan and run the one minimizing this (bottleneck, latency, energy,
  /// cost), with the scenario's objective's bounds if it has one; empty: the scenario's objective.
  std::string minimize;
  bool frontier = false;               ///< with --nodes: print the Pareto front of the plans scored
  /// With --nodes: offered loads "RATE[:DURATION],..." to plan for one by one (load-following plans).
  std::string loads;
};
int partition(const PartitionArgs& args);

struct TopologyArgs {
  std::string file;                    ///< scenario file
  std::string at = "0";                ///< snapshot time: "30s", "2min", or seconds
  std::string out_dir;                 ///< default runs/<scenario name>
  int neighbours = 0;                  ///< > 0: each node keeps its k lightest links (large swarms)
};
int topology(const TopologyArgs& args);

struct CompareArgs {
  std::vector<std::string> files;      ///< scenario files
  std::vector<std::string> policies;   ///< policy specs, comma-separated (sim/experiment/policy_spec.hpp)
  int seeds = 3;                       ///< runs per (scenario, policy), seeds scenario seed + offset + 0 .. seeds - 1
  int seed_offset = 0;                 ///< added to every scenario's seed (held-out seeds after a tune)
  int jobs = 0;                        ///< child processes at once (0: hardware concurrency)
  std::string out_dir = "runs/compare";  ///< compare.csv and compare.json go here
  std::vector<std::string> overrides;  ///< "path=value" applied to every scenario before the policy's
  bool json = false;                   ///< print compare.json to stdout instead of the tables
  std::string rank_by;                 ///< compared metric key the summary ranks by; empty: throughput
  std::vector<std::string> pareto;     ///< objectives (compared metric keys) of a Pareto front per scenario; empty: none
  std::vector<std::string> limits;     ///< "METRIC=BOUND": count the runs of each policy that break it
  std::vector<std::string> variants;   ///< "NAME" or "NAME:path=value,...": each scenario is run once per variant
  std::vector<std::string> sweeps;     ///< "PATH=V1,V2,...": a variant per value (several combine)
};
int compare(const CompareArgs& args);

struct TuneArgs {
  std::vector<std::string> files;      ///< scenario files
  int generations = 8;                 ///< generations bred after the initial one
  int population = 12;                 ///< tuples per generation
  int elite = 2;                       ///< best tuples kept unchanged
  int seeds = 1;                       ///< runs per (tuple, scenario), seeds scenario seed + 0 .. seeds - 1
  int jobs = 0;                        ///< child processes at once (0: hardware concurrency)
  long long seed = 1;                  ///< the GA's seed
  double failure_penalty = 1.0;        ///< λ of the score (sim/experiment/tuning_score.hpp)
  std::string objective = "tokens_per_s";  ///< T of the score: a compared metric key (lower is better for latencies)
  std::vector<std::string> limits;     ///< "METRIC=BOUND" every run should keep (the score falls with each run over)
  double limit_penalty = 10.0;         ///< μ of the score: divided by 1 + μ x the runs' mean relative excess
  std::string label = "tuned";         ///< the policy's name in the spec written to --out
  std::string out;                     ///< JSON result (usable as --policies @FILE in compare); empty: none
  std::vector<std::string> overrides;  ///< "path=value" applied to every scenario
  std::vector<std::string> variants;   ///< "NAME" or "NAME:path=value,...": each scenario is tuned on once per variant
  std::vector<std::string> sweeps;     ///< "PATH=V1,V2,...": a variant per value (several combine)
};
int tune(const TuneArgs& args);

struct CalibrateArgs {
  std::string file;                    ///< measurement file (docs/calibration.md)
  int jobs = 0;                        ///< child processes at once (0: hardware concurrency)
  int max_evaluations = 0;             ///< > 0: overrides the file's search.max_evaluations
  std::string out;                     ///< write the result JSON here (atomically); empty: none
  bool json = false;                   ///< print the result JSON instead of the table
};
int calibrate(const CalibrateArgs& args);

}  // namespace swarmsim::cli
