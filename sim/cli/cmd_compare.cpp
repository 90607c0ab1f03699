// swarmsim compare: every policy on every scenario with several seeds, in parallel child
// processes; a table per scenario, a summary, and compare.csv / compare.json.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sim/cli/commands.hpp"
#include "sim/cli/experiment_inputs.hpp"
#include "sim/engine/parallel_runs.hpp"
#include "sim/experiment/comparison.hpp"
#include "sim/experiment/policy_spec.hpp"
#include "sim/output/atomic_file.hpp"

namespace swarmsim::cli {
namespace {

/// Tokens per second the arrivals of an inference scenario offer: sessions per second x batch x
/// new tokens, for fixed-interval, Poisson and phased arrivals (their mean); NaN otherwise (all at start, a trace,
/// fine-tuning, pipelines, trees, coded inference).
double offered_tokens_per_s(const sim::Scenario& sc) {
  const sim::WorkloadSpec& w = sc.workload;
  if (sc.graph || sc.tree || sc.coded || w.fine_tuning) return std::nan("");
  const double per_session = static_cast<double>(w.batch_size) * w.new_tokens;
  if (w.arrival == sim::ArrivalProcess::Fixed && w.interval_s > 0) return per_session / w.interval_s;
  if (w.arrival == sim::ArrivalProcess::Poisson && w.rate_per_s > 0) return per_session * w.rate_per_s;
  if (w.arrival == sim::ArrivalProcess::Phases) return per_session * w.mean_phase_rate_per_s();  // over a cycle of the phases
  return std::nan("");
}

}  // namespace

int compare(const CompareArgs& args) {
  std::vector<experiment::PolicyVariant> policies;
  std::vector<sim::RunJob> jobs;
  std::vector<experiment::RunRecord> records;  // one per job, filled as runs finish
  std::vector<std::string> names;
  std::vector<double> offered;  // per scenario: tokens/s its arrivals offer (NaN: no fixed rate)
  std::vector<experiment::RunLimit> limits;
  std::vector<std::string> files;                // per scenario row: the file it came from
  std::vector<experiment::ScenarioOrigin> origins;  // per scenario row, with variants
  try {
    if (args.seeds < 1) throw ExperimentInputError("swarmsim compare: --seeds " + std::to_string(args.seeds) + ": expected at least 1");
    std::string list;
    for (const std::string& p : args.policies) list += (list.empty() ? "" : ",") + p;
    try {
      policies = experiment::parse_policy_list(list);
    } catch (const experiment::PolicySpecError& e) {
      throw ExperimentInputError(std::string("swarmsim compare: --policies: ") + e.what());
    }
    if (const std::string problem = sim::output_directory_problem(args.out_dir); !problem.empty())
      throw ExperimentInputError("swarmsim compare: --out " + args.out_dir + ": " + problem);
    const std::vector<sim::Override> common = parse_overrides("compare", args.overrides);
    if (!args.rank_by.empty() && !experiment::rankable_metric(args.rank_by))
      throw ExperimentInputError("swarmsim compare: --rank-by " + args.rank_by + ": expected one of " + experiment::rankable_metric_keys());
    limits = parse_limits("compare", args.limits);
    if (!args.pareto.empty()) {  // checked before any run
      experiment::Comparison probe;
      try {
        experiment::mark_pareto_front(probe, args.pareto);
      } catch (const std::invalid_argument& e) {
        throw ExperimentInputError(std::string("swarmsim compare: --pareto: ") + e.what());
      }
    }
    const std::vector<experiment::ScenarioVariant> variants = parse_variants("compare", args.variants, args.sweeps);

    // Every (scenario, policy, seed) is loaded, and so validated, before anything runs.
    std::map<std::string, std::string> file_of_name;
    for (const std::string& file : args.files) {
      const sim::Scenario base = load_experiment_scenario(file, common);
      if (const auto [it, fresh] = file_of_name.emplace(base.name, file); !fresh)
        throw ExperimentInputError("swarmsim compare: " + file + " and " + it->second + " are both named \"" + base.name +
                                   "\"; expected distinct scenario names (rename one, or --set name=...)");
      for (const experiment::ScenarioVariant& variant : variants) {
        const bool labelled = !variant.label.empty();
        std::vector<sim::Override> varied = common;
        varied.insert(varied.end(), variant.overrides.begin(), variant.overrides.end());
        const sim::Scenario shape = labelled ? load_experiment_scenario(file, varied, "variant " + variant.label) : base;
        const std::string name = labelled ? base.name + " [" + variant.label + "]" : base.name;
        names.push_back(name);
        files.push_back(file);
        offered.push_back(offered_tokens_per_s(shape));
        if (labelled) origins.push_back({base.name, variant.label, variant.overrides});
        for (const experiment::PolicyVariant& p : policies) {
          // A pipeline or a tree has no router: a policy of routing keys alone would compare nothing.
          if (shape.graph || shape.tree || shape.coded) {
            const bool routing_only = std::all_of(p.overrides.begin(), p.overrides.end(), [](const sim::Override& o) {
              for (const char* k : {"policy.router", "policy.gamma", "policy.beta", "policy.alpha", "policy.context", "policy.orchestrator"})
                if (o.path == k) return true;
              return false;
            });
            if (routing_only)
              throw ExperimentInputError("swarmsim compare: policy " + p.label + " (" + p.spec + ") sets only routing keys, which " + file +
                                         (shape.coded ? " (erasure-coded inference) does not use; compare its coding with model.coded.* keys, e.g. "
                                                       "--policies uncoded:model.coded.parity=0 --policies coin:model.coded.method=coin"
                                         : shape.tree ? " (a Fisher B-tree) does not use; compare its rules with model.tree.* keys, e.g. "
                                                      "--policies static:model.tree.balance_period=0s --policies balanced:model.tree.balance_period=1s"
                                                    : " (a graph model's pipeline) does not use; compare its partitioners with "
                                                      "policy.partitioner.* keys, e.g. --policies sg:partitioner.method=slicegraph "
                                                      "--policies ga:partitioner.method=brkga"));
          }
          for (int k = 0; k < args.seeds; ++k) {
            std::vector<sim::Override> o = varied;
            o.insert(o.end(), p.overrides.begin(), p.overrides.end());
            const std::uint64_t seed = shape.seed + static_cast<std::uint64_t>(args.seed_offset) + static_cast<std::uint64_t>(k);
            o.push_back({"seed", std::to_string(seed)});
            sim::RunJob job{load_experiment_scenario(file, o, (labelled ? "variant " + variant.label + " and " : std::string()) + "policy " +
                                                                  p.label + " (" + p.spec + ")"),
                            {}};
            job.options.progress = sim::RunOptions::Progress::Never;
            jobs.push_back(std::move(job));
            records.push_back({name, p.label, seed, false, "", {}, 0.0});
          }
        }
      }
    }
  } catch (const ExperimentInputError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }

  const int parallel = args.jobs > 0 ? args.jobs : sim::default_parallel_runs();
  if (!origins.empty())
    std::fprintf(stderr, "swarmsim compare: %zu runs (%zu scenarios x %zu variants x %zu policies x %d seeds), %d at once\n", jobs.size(),
                 args.files.size(), names.size() / std::max<std::size_t>(1, args.files.size()), policies.size(), args.seeds, parallel);
  else
    std::fprintf(stderr, "swarmsim compare: %zu runs (%zu scenarios x %zu policies x %d seeds), %d at once\n", jobs.size(),
                 names.size(), policies.size(), args.seeds, parallel);
  int failed_runs = 0;
  const std::size_t tokens_col = experiment::metric_index("tokens_per_s"), failed_col = experiment::metric_index("sessions_failed");
  const std::size_t requests_col = experiment::metric_index("requests_per_s"), failed_req_col = experiment::metric_index("requests_failed");
  const std::size_t trained_col = experiment::metric_index("trained_tokens_per_s");
  try {
    sim::run_parallel(jobs, parallel, [&](std::size_t i, std::size_t done, const sim::RunOutcome& o) {
      experiment::RunRecord& r = records[i];
      r.ok = o.ok;
      r.error = o.error;
      if (o.ok) {
        r.values = experiment::extract_metrics(o.report.metrics);
        r.wall_s = o.report.wall_seconds;
        const bool requests = !std::isfinite(r.values[tokens_col]) && std::isfinite(r.values[requests_col]);
        const bool trained = !std::isfinite(r.values[tokens_col]) && std::isfinite(r.values[trained_col]);  // fine-tuning
        std::fprintf(stderr, "run %zu/%zu %s / %s / seed %llu: %.3f %s, %g failed (%.2f s)\n", done, jobs.size(), r.scenario.c_str(),
                     r.policy.c_str(), static_cast<unsigned long long>(r.seed),
                     r.values[requests ? requests_col : trained ? trained_col : tokens_col],
                     requests ? "requests/s" : trained ? "trained tokens/s" : "tokens/s", r.values[requests ? failed_req_col : failed_col],
                     r.wall_s);
      } else {
        ++failed_runs;
        std::fprintf(stderr, "run %zu/%zu %s / %s / seed %llu: FAILED: %s\n", done, jobs.size(), r.scenario.c_str(),
                     r.policy.c_str(), static_cast<unsigned long long>(r.seed), r.error.c_str());
      }
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim compare: %s\n", e.what());
    return 1;
  }

  experiment::Comparison result =
      experiment::aggregate(names, files, std::move(policies), args.seeds, std::move(records), args.rank_by, limits);
  result.offered_tokens_per_s = offered;
  result.origins = std::move(origins);
  if (!args.pareto.empty()) experiment::mark_pareto_front(result, args.pareto);
  if (!args.rank_by.empty() && std::none_of(result.summary.begin(), result.summary.end(),
                                            [](const experiment::PolicySummary& p) { return std::isfinite(p.mean_rank); }))
    std::fprintf(stderr,
                 "swarmsim compare: --rank-by %s: no run reported it, so nothing is ranked (swarms of blocks report tokens_per_s, "
                 "per_token_*, ttft_p50_s and session_*; pipelines, trees and coded inference report requests_per_s and request_*; "
                 "fine-tuning reports trained_tokens_per_s and step_*)\n",
                 args.rank_by.c_str());
  // A limit on a metric a scenario's runs do not report counts all of them as over: say so.
  for (const experiment::RunLimit& l : limits) {
    const std::size_t col = experiment::metric_index(l.metric);
    for (std::size_t s = 0; s < result.scenarios.size(); ++s) {
      bool reported = false, completed = false;
      for (std::size_t p = 0; p < result.policies.size(); ++p) {
        const experiment::Cell& cell = result.cells[s * result.policies.size() + p];
        reported |= cell.metrics[col].n > 0;
        completed |= cell.runs > cell.failed_runs;
      }
      if (completed && !reported)
        std::fprintf(stderr, "swarmsim compare: --limit %s: no run of %s reports %s, so every run of it counts as over\n",
                     experiment::limit_text(l).c_str(), result.scenarios[s].c_str(), l.metric.c_str());
    }
  }
  if (args.json)
    std::printf("%s\n", experiment::to_json(result).dump(2).c_str());
  else
    std::printf("%s", experiment::format_tables(result).c_str());
  const std::filesystem::path out = args.out_dir;
  try {
    experiment::write_comparison(result, out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim compare: --out %s: %s\n", out.string().c_str(), e.what());
    return 1;
  }
  std::fprintf(args.json ? stderr : stdout, "wrote %s and %s\n", (out / "compare.csv").string().c_str(),
               (out / "compare.json").string().c_str());
  if (failed_runs > 0) {
    std::fprintf(stderr, "swarmsim compare: %d of %zu runs failed (see the errors above and compare.json)\n", failed_runs,
                 jobs.size());
    return 1;
  }
  return 0;
}

}  // namespace swarmsim::cli
