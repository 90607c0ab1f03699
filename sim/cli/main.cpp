// swarmsim: rehearse decentralized neural-network inference before deploying it.
#include <CLI/CLI.hpp>

#include "sim/cli/commands.hpp"
#include "sim/cli/profile_options.hpp"

namespace {

/// --engine simgrid|flow: sugar for --set simulation.engine=..., appended to `overrides` in
/// command-line order.
void add_engine_option(CLI::App& app, std::vector<std::string>& overrides, const std::string& help) {
  app.add_option_function<std::string>(
         "--engine", [&overrides](const std::string& e) { overrides.push_back("simulation.engine=" + e); },
         help + "; same as --set simulation.engine=...")
      ->check(CLI::IsMember({"simgrid", "flow"}));
}

/// --variant NAME[:path=value,...] and --vary PATH=V1,V2,... (sim/experiment/scenario_variant.hpp);
/// `verb` says what is done once per variant ("run", "tune on").
void add_variant_options(CLI::App& app, std::vector<std::string>& variants, std::vector<std::string>& sweeps, const std::string& verb) {
  app.add_option("--variant", variants, verb + " every scenario once per variant, NAME or NAME:path=value,... with any --set path, "
                                                "e.g. --variant shipped --variant slow:nodes[0].uplink=100Mbps (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--vary", sweeps, "a sweep, PATH=V1,V2,...: " + verb + " every scenario once per value, e.g. "
                                   "--vary workload.batch_size=1,32,64 (several --vary, and --variant, combine into every combination)")
      ->allow_extra_args(false);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"swarmsim: simulate a swarm of heterogeneous GPU nodes serving a model, on a SimGrid network"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "swarmsim 0.1.0");

  swarmsim::cli::ValidateArgs validate;
  CLI::App* v = app.add_subcommand("validate", "check scenario files; every error names the file, the JSON path and what was expected");
  v->add_option("files", validate.files, "scenario files (JSON)")->required()->check(CLI::ExistingFile);
  v->add_option("--set", validate.overrides, "override a value before validation, e.g. --set workload.batch_size=32");

  swarmsim::cli::RunArgs run;
  CLI::App* r = app.add_subcommand("run", "run a scenario and write metrics.json, trace.json and events.jsonl");
  r->add_option("scenario", run.file, "scenario file (JSON)")->required()->check(CLI::ExistingFile);
  r->add_option("--out", run.out_dir, "output directory (default: runs/<scenario name>)");
  r->add_option("--set", run.overrides, "override a value, e.g. --set nodes[2].uplink=10Mbps, or remove a key with =null (repeatable)");
  r->add_option("--progress", run.progress, "progress line on stderr")->check(CLI::IsMember({"auto", "always", "never"}));
  add_engine_option(*r, run.overrides,
                    "what plays the scenario out: simgrid (every feature) or flow (the same models solved without SimGrid, "
                    "~10x faster, no DHT or graph models)");
  r->add_flag("-v,--verbose", run.verbosity, "log swarm events to stderr (twice: every step too)");
  r->add_flag("--json", run.json, "print metrics.json to stdout instead of the summary");
  r->add_flag("--no-outputs", run.no_outputs, "write no files");
  r->add_option("--execute", run.execute,
                "priced: shard work is priced (profiles or roofline); real: the real kernels run on real hidden states and "
                "their measured times, scaled to each simulated device, are used")
      ->check(CLI::IsMember({"priced", "real"}));
  r->add_option("--backend", run.backend, "backend of --execute real: cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  r->add_option("--metric", run.metrics,
                "print only this metrics.json value, e.g. --metric throughput.tokens_per_s (repeatable, one per line)");

  swarmsim::cli::ProfileArgs prof;
  CLI::App* p = app.add_subcommand("profile", "measure each op of a block on this machine and write an op profile (JSON)");
  swarmsim::cli::add_profile_options(*p, prof);

  swarmsim::cli::PartitionArgs part;
  CLI::App* pa = app.add_subcommand("partition", "cut a model graph into at most K pipeline blocks and print the partition and its metrics");
  pa->add_option("graph", part.graph, "model graph JSON file (docs/model-graph-format.md), or gen:NAME for a built-in generator "
                                      "(gen:resnet50, gen:bert-base, gen:unet-sd, gen:llama-chain, gen:random-dag); with --nodes "
                                      "and no graph, the scenario's own graph model, planned with its policy.partitioner");
  pa->add_option("--k", part.k, "at most this many blocks (default 4, or one per server node with --nodes)")->check(CLI::Range(1, 100000));
  pa->add_option("--method", part.method, "slicegraph (the default), slicegraph-dp, brkga, layer-wise, load-balanced, topology-aware, "
                                          "pipeline, or all");
  pa->add_option("--device", part.device, "catalog device every block is priced on");
  pa->add_option("--link", part.link, "bandwidth B between nodes, e.g. 1Gbps");
  pa->add_option("--fast-memory", part.fast_memory, "fast-memory capacity M per node, e.g. 40GB (default: the device's memory)");
  pa->add_option("--pricing", part.pricing, "how ops become time: auto (measured op profiles where they exist, the roofline "
                                            "otherwise) or roofline (default: auto, or with --nodes the scenario's simulation.pricing)")
      ->check(CLI::IsMember({"auto", "roofline"}));
  pa->add_option("--batch", part.batch, "samples per request of a generated graph")->check(CLI::Range(1, 65536));
  pa->add_option("--population", part.population, "BRKGA population (default 64)")->check(CLI::Range(2, 100000));
  pa->add_option("--generations", part.generations, "BRKGA generations (default 100)")->check(CLI::Range(1, 1000000));
  pa->add_option("--seed", part.seed, "BRKGA and METIS seed (default 1)")->check(CLI::NonNegativeNumber);
  pa->add_option("--nodes", part.nodes, "a scenario file: cut the graph for its server nodes (their devices, memory, links) and "
                                        "place one stage per node, as a graph scenario would run")->check(CLI::ExistingFile);
  pa->add_option("--minimize", part.minimize, "with --nodes: score every plan (each set of nodes) and keep the one minimizing "
                                              "bottleneck, latency, energy or cost (default: the scenario's policy.partitioner.objective)")
      ->check(CLI::IsMember({"bottleneck", "latency", "energy", "cost"}));
  pa->add_option("--loads", part.loads, "with --nodes: plan for each offered load, RATE[:DURATION],... (e.g. 10/s:8h,120/s:16h), or \"workload\" for the "
                                        "scenario's arrival phases: the objective's plan at each rate against the peak's plan run at all, "
                                        "with totals over the durations");
  pa->add_flag("--frontier", part.frontier, "with --nodes: print the Pareto front of the plans scored (throughput, latency, energy, cost)");
  pa->add_flag("--json", part.json, "print the result as JSON");
  pa->add_option("--out", part.out, "also write the JSON result to this file");

  swarmsim::cli::TopologyArgs topo;
  CLI::App* t = app.add_subcommand("topology", "persistent homology of the swarm at a time: print its features, write "
                                               "topology.json (diagrams) and topology.png (persistence diagram)");
  t->add_option("scenario", topo.file, "scenario file (JSON)")->required()->check(CLI::ExistingFile);
  t->add_option("--at", topo.at, "snapshot time, e.g. 30s (default 0): nodes joined and not down, replayed events applied");
  t->add_option("--out", topo.out_dir, "output directory (default: runs/<scenario name>)");
  t->add_option("--neighbours", topo.neighbours, "keep each node's K lightest links (0: all pairs)")->check(CLI::NonNegativeNumber);

  swarmsim::cli::CompareArgs cmp;
  CLI::App* c = app.add_subcommand("compare", "run each routing policy on each scenario with several seeds and print a table "
                                              "(tokens/s, latency, failures, bytes moved); write compare.csv and compare.json");
  c->add_option("scenarios", cmp.files, "scenario files (JSON)")->required()->check(CLI::ExistingFile);
  c->add_option("--policies", cmp.policies, "policies, comma-separated: eq18, shortest_path, random, "
                                            "NAME:key=value,... (policy overrides, e.g. tuned:router=eq18,gamma=1.4), "
                                            "or @FILE.json (written by swarmsim tune --out); repeatable")
      ->required()
      ->allow_extra_args(false);
  c->add_option("--seeds", cmp.seeds, "runs per scenario and policy, with seeds scenario seed + 0, 1, ... (default 3)")
      ->check(CLI::Range(1, 1000000));
  c->add_option("--seed-offset", cmp.seed_offset, "start the seeds at scenario seed + this (default 0), e.g. to use seeds a tune did not see")
      ->check(CLI::Range(0, 1000000000));
  c->add_option("--jobs,-j", cmp.jobs, "simulations at once, each in its own process (default: the number of CPUs)")
      ->check(CLI::Range(1, 4096));
  c->add_option("--out", cmp.out_dir, "output directory for compare.csv and compare.json (default runs/compare)");
  c->add_option("--set", cmp.overrides, "override a value of every scenario, e.g. --set network.model=exact (repeatable)")
      ->allow_extra_args(false);
  add_engine_option(*c, cmp.overrides, "engine of every run: simgrid or flow (not for the DHT)");
  c->add_flag("--json", cmp.json, "print compare.json to stdout instead of the tables");
  c->add_option("--limit", cmp.limits, "a service level, METRIC=BOUND, e.g. session_p99_s=30s (at most, for latencies) or "
                                        "tokens_per_s=12 (at least): the tables count each policy's runs that break it, and the ranks put "
                                        "the policies that broke it less often first (repeatable)")
      ->allow_extra_args(false);
  add_variant_options(*c, cmp.variants, cmp.sweeps, "run");
  c->add_option("--rank-by", cmp.rank_by, "rank the policies by this metric of compare.csv instead of the throughput, e.g. "
                                          "per_token_p50_s, ttft_p50_s, session_p50_s, session_p99_s (lower is better) or recoveries; "
                                          "an open-loop workload's tokens/s is bounded by its arrivals");
  c->add_option("--pareto", cmp.pareto, "print the Pareto front of these metrics of compare.csv (two or more, comma-separated), "
                                        "per scenario over its policies and variants, e.g. tokens_per_s,joules_per_token or "
                                        "per_token_p99_s,joules_per_token (seed 003's multi-objective optimization)")
      ->delimiter(',')
      ->allow_extra_args(false);

  swarmsim::cli::TuneArgs tun;
  CLI::App* tu = app.add_subcommand("tune", "tune eq. 18's exponents (gamma, beta, alpha) with the genetic algorithm of eq. 19-20, "
                                            "scoring each tuple by simulated runs of the scenarios");
  tu->add_option("scenarios", tun.files, "scenario files (JSON)")->required()->check(CLI::ExistingFile);
  tu->add_option("--generations", tun.generations, "generations bred after the initial one (default 8)")->check(CLI::Range(0, 100000));
  tu->add_option("--population", tun.population, "tuples per generation (default 12)")->check(CLI::Range(2, 100000));
  tu->add_option("--elite", tun.elite, "best tuples copied unchanged into the next generation (default 2)")->check(CLI::Range(0, 100000));
  tu->add_option("--seeds", tun.seeds, "runs per tuple and scenario, with seeds scenario seed + 0, 1, ... (default 1)")
      ->check(CLI::Range(1, 1000000));
  tu->add_option("--jobs,-j", tun.jobs, "simulations at once, each in its own process (default: the number of CPUs)")
      ->check(CLI::Range(1, 4096));
  tu->add_option("--seed", tun.seed, "seed of the genetic algorithm (default 1)")->check(CLI::Range(0LL, 9007199254740992LL));
  tu->add_option("--failure-penalty", tun.failure_penalty, "score lost per failed session, as a fraction of the sessions (default 1)")
      ->check(CLI::Range(0.0, 1e6));
  tu->add_option("--objective", tun.objective, "what the score improves: a compare.csv metric, tokens_per_s (default) or e.g. "
                                               "session_p99_s, per_token_p50_s (lower is better for latencies)");
  add_variant_options(*tu, tun.variants, tun.sweeps, "tune on");
  tu->add_option("--limit", tun.limits, "a bound every run should keep, METRIC=BOUND, e.g. session_p99_s=30s (at most, for "
                                         "latencies) or tokens_per_s=12 (at least); the score is divided by 1 + the limit penalty "
                                         "times the runs' mean relative excess over their bounds (repeatable)")
      ->allow_extra_args(false);
  tu->add_option("--limit-penalty", tun.limit_penalty, "mu: the score is divided by 1 + mu x the runs' mean excess over their "
                                                       "limits, relative to the bounds (default 10)")
      ->check(CLI::Range(0.0, 1e6));
  tu->add_option("--label", tun.label, "name of the tuned policy in the spec written to --out (default tuned)");
  tu->add_option("--out", tun.out, "write the result (tuple, fitness, policy spec, log) to this JSON file");
  tu->add_option("--set", tun.overrides, "override a value of every scenario (repeatable)")->allow_extra_args(false);
  add_engine_option(*tu, tun.overrides, "engine of every run: simgrid or flow (not for the DHT)");

  swarmsim::cli::CalibrateArgs cal;
  CLI::App* ca = app.add_subcommand("calibrate", "fit scenario parameters (overheads, round trips, ...) to figures measured on "
                                                 "real hardware, from a measurement file (docs/calibration.md)");
  ca->add_option("measurements", cal.file, "measurement file (JSON)")->required()->check(CLI::ExistingFile);
  ca->add_option("--jobs,-j", cal.jobs, "simulations at once, each in its own process (default: the number of CPUs)")
      ->check(CLI::Range(1, 4096));
  ca->add_option("--max-evaluations", cal.max_evaluations, "parameter vectors simulated at most (default: the file's, else 120)")
      ->check(CLI::Range(1, 100000));
  ca->add_option("--out", cal.out, "write the result (parameters, per-measurement errors) to this JSON file");
  ca->add_flag("--json", cal.json, "print the result JSON to stdout instead of the table");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*v) return swarmsim::cli::validate(validate);
  if (*r) return swarmsim::cli::run(run);
  if (*p) return swarmsim::cli::profile(prof);
  if (*pa) return swarmsim::cli::partition(part);
  if (*t) return swarmsim::cli::topology(topo);
  if (*c) return swarmsim::cli::compare(cmp);
  if (*tu) return swarmsim::cli::tune(tun);
  if (*ca) return swarmsim::cli::calibrate(cal);
  return 2;
}
