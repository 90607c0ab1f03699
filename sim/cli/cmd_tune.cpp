// swarmsim tune: the genetic algorithm of seed 002 eq. 19-20 searching eq. 18's exponents
// θ = (γ, β, α), each tuple scored by simulated runs of the given scenarios (the score is in
// sim/experiment/tuning_score.hpp), the runs of a generation done in parallel child processes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/cli/commands.hpp"
#include "sim/cli/experiment_inputs.hpp"
#include "sim/engine/parallel_runs.hpp"
#include "sim/experiment/comparison.hpp"
#include "sim/experiment/policy_spec.hpp"
#include "sim/experiment/tuning_score.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/tuning/genetic_tuner.hpp"

namespace swarmsim::cli {
namespace {

using tuning::Theta;
using Runs = experiment::ScoredRuns;  // [scenario][seed]

/// One scenario of the tuning set.
struct TuneScenario {
  std::string file;
  std::string name;                      ///< its name, and with variants " [LABEL]"
  std::string variant;                   ///< the variant's label; empty: as given
  std::vector<sim::Override> overrides;  ///< the variant's, after --set
  std::uint64_t seed = 1;  ///< the file's seed: runs use seed + 0 .. seeds - 1
  int sessions = 0;
};

std::string theta_text(const Theta& t) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "γ %7.4f  β %7.4f  α %7.4f", t[0], t[1], t[2]);
  return buf;
}

nlohmann::ordered_json theta_json(const Theta& t) { return {{"gamma", t[0]}, {"beta", t[1]}, {"alpha", t[2]}}; }

nlohmann::ordered_json number_or_null(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); }

/// Mean over seeds of one field of a scenario's runs (NaN when a run failed).
double mean_over_seeds(const std::vector<experiment::ScoredRun>& runs, double experiment::ScoredRun::*field) {
  double sum = 0;
  for (const experiment::ScoredRun& r : runs) {
    if (!r.ok) return std::nan("");
    sum += r.*field;
  }
  return runs.empty() ? std::nan("") : sum / static_cast<double>(runs.size());
}

/// Mean over seeds of a scenario's values of limit `l` (NaN when a run failed or has none).
double mean_limited(const std::vector<experiment::ScoredRun>& runs, std::size_t l) {
  double sum = 0;
  for (const experiment::ScoredRun& r : runs) {
    if (!r.ok || l >= r.limited.size()) return std::nan("");
    sum += r.limited[l];
  }
  return runs.empty() ? std::nan("") : sum / static_cast<double>(runs.size());
}

}  // namespace

int tune(const TuneArgs& args) {
  std::vector<TuneScenario> scenarios;
  std::vector<sim::Override> common;
  tuning::TunerParams params;
  std::size_t objective_col = 0;  // the objective's column of experiment::extract_metrics
  bool higher_is_better = true;
  std::vector<experiment::RunLimit> limits;
  std::vector<std::size_t> limit_cols;  // each limit's column of experiment::extract_metrics
  try {
    if (args.seeds < 1) throw ExperimentInputError("swarmsim tune: --seeds " + std::to_string(args.seeds) + ": expected at least 1");
    if (args.population < 2)
      throw ExperimentInputError("swarmsim tune: --population " + std::to_string(args.population) + ": expected at least 2");
    if (args.generations < 0)
      throw ExperimentInputError("swarmsim tune: --generations " + std::to_string(args.generations) + ": expected 0 or more");
    if (args.elite < 0 || args.elite >= args.population)
      throw ExperimentInputError("swarmsim tune: --elite " + std::to_string(args.elite) + ": expected 0 <= elite < population (" +
                                 std::to_string(args.population) + ")");
    if (!(args.failure_penalty >= 0) || !std::isfinite(args.failure_penalty))
      throw ExperimentInputError("swarmsim tune: --failure-penalty: expected a finite number >= 0");
    const experiment::ComparedMetric* objective = experiment::rankable_metric(args.objective);
    if (!objective)
      throw ExperimentInputError("swarmsim tune: --objective " + args.objective + ": expected one of " + experiment::rankable_metric_keys());
    objective_col = experiment::metric_index(args.objective);
    higher_is_better = experiment::better_direction(*objective) == experiment::Better::Higher;
    limits = parse_limits("tune", args.limits);
    for (const experiment::RunLimit& l : limits) limit_cols.push_back(experiment::metric_index(l.metric));
    try {
      (void)experiment::parse_policy_spec(args.label + ":router=eq18");
    } catch (const experiment::PolicySpecError& e) {
      throw ExperimentInputError("swarmsim tune: --label " + args.label + ": " + e.what());
    }
    if (!args.out.empty())
      if (const std::string problem = sim::output_file_problem(args.out); !problem.empty())
        throw ExperimentInputError("swarmsim tune: --out " + args.out + ": " + problem);
    common = parse_overrides("tune", args.overrides);
    const std::vector<experiment::ScenarioVariant> variants = parse_variants("tune", args.variants, args.sweeps);
    for (const std::string& file : args.files)
      for (const experiment::ScenarioVariant& v : variants) {
        std::vector<sim::Override> varied = common;
        varied.insert(varied.end(), v.overrides.begin(), v.overrides.end());
        const sim::Scenario sc = load_routed_scenario("tune", file, varied, v.label.empty() ? "" : "variant " + v.label);
        scenarios.push_back({file, v.label.empty() ? sc.name : sc.name + " [" + v.label + "]", v.label, varied, sc.seed,
                             sc.workload.sessions});
      }
    params.population = args.population;
    params.generations = args.generations;
    params.elite = args.elite;
    params.seed = static_cast<std::uint64_t>(args.seed);
  } catch (const ExperimentInputError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }

  const int parallel = args.jobs > 0 ? args.jobs : sim::default_parallel_runs();
  const auto started = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  std::map<Theta, Runs> runs_of;  // every tuple simulated so far (the starting tuple's runs are the baseline)
  std::size_t total_runs = 0;

  // Simulates the tuples not simulated yet: tuples x scenarios x seeds runs, in parallel.
  const auto simulate = [&](const std::vector<Theta>& thetas) {
    std::vector<Theta> fresh;
    for (const Theta& t : thetas)
      if (!runs_of.contains(t) && std::find(fresh.begin(), fresh.end(), t) == fresh.end()) fresh.push_back(t);
    std::vector<sim::RunJob> jobs;
    for (const Theta& t : fresh)
      for (const TuneScenario& s : scenarios)
        for (int k = 0; k < args.seeds; ++k) {
          std::vector<sim::Override> o = s.overrides;
          o.push_back({"policy.router", "eq18"});
          o.push_back({"policy.gamma", experiment::exact_number(t[0])});
          o.push_back({"policy.beta", experiment::exact_number(t[1])});
          o.push_back({"policy.alpha", experiment::exact_number(t[2])});
          o.push_back({"seed", std::to_string(s.seed + static_cast<std::uint64_t>(k))});
          sim::RunJob job{sim::load_scenario_file(s.file, o), {}};
          job.options.progress = sim::RunOptions::Progress::Never;
          jobs.push_back(std::move(job));
        }
    const std::vector<sim::RunOutcome> outcomes = sim::run_parallel(jobs, parallel);
    total_runs += outcomes.size();
    std::size_t i = 0;
    for (const Theta& t : fresh) {
      Runs& r = runs_of[t];
      r.assign(scenarios.size(), {});
      for (std::size_t s = 0; s < scenarios.size(); ++s)
        for (int k = 0; k < args.seeds; ++k, ++i) {
          const sim::RunOutcome& o = outcomes[i];
          experiment::ScoredRun sr;
          sr.ok = o.ok;
          if (o.ok) {
            const std::vector<double> values = experiment::extract_metrics(o.report.metrics);
            sr.objective = values[objective_col];
            for (const std::size_t c : limit_cols) sr.limited.push_back(values[c]);
            sr.sessions_failed = o.report.metrics["sessions"]["failed"].get<double>();
            sr.sessions_total = o.report.metrics["sessions"]["total"].get<double>();
          } else {
            std::fprintf(stderr, "swarmsim tune: %s with %s, seed %llu: run failed: %s\n", scenarios[s].file.c_str(),
                         theta_text(t).c_str(), static_cast<unsigned long long>(scenarios[s].seed + k), o.error.c_str());
          }
          r[s].push_back(sr);
        }
    }
  };

  tuning::TunerResult result;
  try {
    std::printf("tuning eq. 18's (γ, β, α) on %zu scenarios x %d seeds: population %d, %d generations, elite %d, GA seed %lld, "
                "%d runs at once\n",
                scenarios.size(), args.seeds, args.population, args.generations, args.elite, args.seed, parallel);
    if (higher_is_better)
      std::printf("score: geometric mean over scenarios and seeds of %s over the starting tuple's (same scenario and seed), "
                  "minus %g x the mean fraction of sessions failed (higher is better; the starting tuple (1, -1, -1) scores 1 "
                  "when nothing fails)\n",
                  args.objective.c_str(), args.failure_penalty);
    else
      std::printf("score: geometric mean over scenarios and seeds of the starting tuple's %s (same scenario and seed) over the "
                  "tuple's, minus %g x the mean fraction of sessions failed (higher is better; the starting tuple (1, -1, -1) "
                  "scores 1 when nothing fails)\n",
                  args.objective.c_str(), args.failure_penalty);
    for (const experiment::RunLimit& l : limits)
      std::printf("limit: %s in every run; the score is divided by 1 + %g x the runs' mean excess over the bound, relative to the bound\n",
                  experiment::limit_text(l).c_str(), args.limit_penalty);
    std::fflush(stdout);
    // The baseline first: every score is relative to the starting tuple's throughput.
    simulate({params.initial});
    const Runs& baseline = runs_of.at(params.initial);
    for (std::size_t s = 0; s < scenarios.size(); ++s)
      for (const experiment::ScoredRun& r : baseline[s]) {
        if (!r.ok) {
          std::fprintf(stderr, "swarmsim tune: %s: a run of the starting tuple failed, so no score can be normalized\n",
                       scenarios[s].file.c_str());
          return 1;
        }
        if (!std::isfinite(r.objective)) {
          std::fprintf(stderr, "swarmsim tune: %s: the starting tuple's run has no %s (--objective), so no score can be normalized; "
                               "pick a metric this scenario reports (e.g. tokens_per_s, per_token_p50_s, session_p99_s)\n",
                       scenarios[s].file.c_str(), args.objective.c_str());
          return 1;
        }
      }

    tuning::GeneticTuner tuner(params);
    tuner.on_generation.connect([&](const tuning::TunerGeneration& g) {
      std::printf("gen %3d/%d  best %.4f  mean %.4f  %s  (%d tuples, %zu runs, %.1f s)\n", g.generation, args.generations,
                  g.best_fitness, g.mean_fitness, theta_text(g.best_theta).c_str(), g.evaluations, total_runs, elapsed());
      std::fflush(stdout);
    });
    result = tuner.run_batch([&](const std::vector<Theta>& thetas) {
      simulate(thetas);
      std::vector<double> scores;
      for (const Theta& t : thetas)
        scores.push_back(experiment::tuning_score(runs_of.at(t), runs_of.at(params.initial), args.failure_penalty, higher_is_better,
                                                  limits, args.limit_penalty));
      return scores;
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim tune: %s\n", e.what());
    return 1;
  }

  // The verdict, and per scenario what changed.
  const Runs& best_runs = runs_of.at(result.best);
  const Runs& start_runs = runs_of.at(params.initial);
  const double gain = result.initial_fitness != 0 ? result.best_fitness / result.initial_fitness - 1.0 : std::nan("");
  std::printf("\nbest      %s  fitness %.4f\n", theta_text(result.best).c_str(), result.best_fitness);
  std::printf("starting  %s  fitness %.4f\n", theta_text(params.initial).c_str(), result.initial_fitness);
  std::printf("gain      %+.2f%% fitness over the starting tuple (%d tuples, %zu runs, %.1f s)\n", 100.0 * gain,
              result.evaluations, total_runs, elapsed());
  const std::string shown = args.objective == "tokens_per_s" ? "tokens/s" : args.objective;
  const int obj_w = static_cast<int>(std::max<std::size_t>(16, shown.size() + 8));
  int name_w = 28;
  for (const TuneScenario& sc : scenarios) name_w = std::max(name_w, static_cast<int>(sc.name.size()) + 2);
  std::printf("  %-*s%*s%*s%12s%12s\n", name_w, "scenario", obj_w, (shown + " start").c_str(), obj_w, (shown + " best").c_str(), "failed st.",
              "failed best");
  nlohmann::ordered_json per_scenario = nlohmann::ordered_json::array();
  for (std::size_t s = 0; s < scenarios.size(); ++s) {
    const double t0 = mean_over_seeds(start_runs[s], &experiment::ScoredRun::objective);
    const double t1 = mean_over_seeds(best_runs[s], &experiment::ScoredRun::objective);
    const double f0 = mean_over_seeds(start_runs[s], &experiment::ScoredRun::sessions_failed);
    const double f1 = mean_over_seeds(best_runs[s], &experiment::ScoredRun::sessions_failed);
    std::printf("  %-*s%*.3f%*.3f%12.2f%12.2f\n", name_w, scenarios[s].name.c_str(), obj_w, t0, obj_w, t1, f0, f1);
    nlohmann::ordered_json starting = {{args.objective, number_or_null(t0)}, {"sessions_failed", number_or_null(f0)}};
    nlohmann::ordered_json best = {{args.objective, number_or_null(t1)}, {"sessions_failed", number_or_null(f1)}};
    for (std::size_t l = 0; l < limits.size(); ++l) {  // each limited metric's mean over seeds
      starting[limits[l].metric] = number_or_null(mean_limited(start_runs[s], l));
      best[limits[l].metric] = number_or_null(mean_limited(best_runs[s], l));
    }
    nlohmann::ordered_json entry = {{"scenario", scenarios[s].name}, {"file", scenarios[s].file}};
    if (!scenarios[s].variant.empty()) entry["variant"] = scenarios[s].variant;
    entry["starting"] = starting;
    entry["best"] = best;
    per_scenario.push_back(std::move(entry));
  }
  const std::size_t n_runs = scenarios.size() * static_cast<std::size_t>(args.seeds);
  nlohmann::ordered_json limits_json = nlohmann::ordered_json::array();
  for (const experiment::RunLimit& l : limits) {
    const int over_best = experiment::runs_over_limits(best_runs, {l});
    const int over_start = experiment::runs_over_limits(start_runs, {l});
    std::printf("limit     %s: %d of %zu runs over with the best tuple, %d with the starting one\n", experiment::limit_text(l).c_str(),
                over_best, n_runs, over_start);
    limits_json.push_back({{"metric", l.metric}, {"bound", l.bound}, {"at_most", l.at_most},
                           {"runs_over", {{"best", over_best}, {"starting", over_start}, {"of", n_runs}}}});
  }

  const std::string spec = experiment::eq18_policy_spec(args.label, result.best[0], result.best[1], result.best[2]);
  std::printf("policy    %s\n", spec.c_str());
  if (!args.out.empty()) {
    nlohmann::ordered_json log = nlohmann::ordered_json::array();
    for (const tuning::TunerGeneration& g : result.log)
      log.push_back({{"generation", g.generation}, {"best_fitness", number_or_null(g.best_fitness)},
                     {"mean_fitness", number_or_null(g.mean_fitness)}, {"best_theta", theta_json(g.best_theta)},
                     {"evaluations", g.evaluations}});
    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const TuneScenario& s : scenarios) files.push_back(s.file);
    nlohmann::ordered_json bounds = nlohmann::ordered_json::array();
    for (const tuning::ParamRange& b : params.bounds) bounds.push_back({b.lo, b.hi});
    const nlohmann::ordered_json doc = {
        {"kind", "swarmsim-tune"},
        {"policy", spec},
        {"theta", theta_json(result.best)},
        {"fitness", number_or_null(result.best_fitness)},
        {"initial", {{"theta", theta_json(params.initial)}, {"fitness", number_or_null(result.initial_fitness)}}},
        {"score",
         {{"definition", std::string("exp(mean over scenarios s and seeds k of ln(") +
                             (higher_is_better ? "T(theta,s,k)/T0(s,k)" : "T0(s,k)/T(theta,s,k)") +
                             ")) - failure_penalty * mean of F(theta,s,k)/N(s); T: the objective, T0: the objective of the starting "
                             "tuple on the same scenario and seed, ratios clamped to [1e-3, 1e3] (1e-3 for a run without the "
                             "objective), F: sessions failed, N: sessions; with limits, all that divided by 1 + limit_penalty * mean over "
                             "the runs of the sum over limits of max(0, V/bound - 1) (at most) or max(0, bound/V - 1) (at least), "
                             "V the run's value of the limited metric (1 without one); higher is better"},
          {"objective", args.objective},
          {"failure_penalty", args.failure_penalty},
          {"limits", limits_json},
          {"limit_penalty", args.limit_penalty}}},
        {"scenarios", files},
        {"seeds", args.seeds},
        {"overrides", args.overrides},
        {"variants", args.variants},
        {"vary", args.sweeps},
        {"ga",
         {{"population", params.population}, {"generations", params.generations}, {"elite", params.elite},
          {"mutation_rate", params.mutation_rate}, {"mutation_scale", params.mutation_scale}, {"seed", params.seed},
          {"bounds", bounds}}},
        {"evaluations", result.evaluations},
        {"runs", total_runs},
        {"per_scenario", per_scenario},
        {"log", log}};
    try {
      sim::write_file_atomically(args.out, doc.dump(2) + "\n");  // its directory was made before the search
    } catch (const std::exception& e) {
      std::fprintf(stderr, "swarmsim tune: --out %s: %s\n", args.out.c_str(), e.what());
      return 1;
    }
    std::printf("wrote     %s  (swarmsim compare ... --policies eq18,@%s)\n", args.out.c_str(), args.out.c_str());
  }
  return 0;
}

}  // namespace swarmsim::cli
