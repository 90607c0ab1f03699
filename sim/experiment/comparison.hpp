#pragma once
// The results of `swarmsim compare`: every run's metrics, their mean and spread over seeds per
// (scenario, policy), a summary per policy across scenarios, and the table, CSV and JSON that
// present them. Pure: the runs are done by the caller (sim/engine/parallel_runs.hpp).
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/experiment/run_limit.hpp"
#include "sim/experiment/policy_spec.hpp"

namespace swarmsim::experiment {

/// How a metric's values are printed.
/// Money is in the scenarios' currency (metrics.json cost.currency).
enum class MetricUnit { TokensPerSecond, RequestsPerSecond, Seconds, Count, Bytes, Fraction, Nats, Joules, Money };

/// One metric a comparison reports, read from a run's metrics.json.
struct ComparedMetric {
  std::string_view key;     ///< column name in CSV and JSON, e.g. "tokens_per_s"
  std::string_view path;    ///< where metrics.json holds it, e.g. "throughput.tokens_per_s"
  std::string_view header;  ///< column header in the printed table; empty: CSV and JSON only
  MetricUnit unit;
  std::string_view samples = {};  ///< path of its sample count: with none (every session failed) it is NaN, not 0 s
};

/// The reported metrics, in column order: tokens/s, per-token latency p50 and p99 (s), time to
/// first token p50 (s), sessions failed, bytes moved (B), recoveries; then, in CSV and JSON only,
/// the mean decode step's parts (metrics.json's latency_breakdown_s.per_token, s); then the
/// request-based runs' (graph pipelines, Fisher B-trees): requests/s, request latency p50 and
/// p99 (s), requests failed, and a tree's accuracy. A scenario's table shows the columns its runs
/// have; its throughput is tokens/s, or requests/s for request-based runs.

const std::vector<ComparedMetric>& compared_metrics();

/// Which way a metric is better when policies are ranked by it.
enum class Better { Higher, Lower, Neither };

/// Higher for throughputs and accuracy; Neither for the share of decoded requests (a coded run's
/// mechanism, not its quality); Lower for latencies, counts of failures, bytes and losses.
Better better_direction(const ComparedMetric& m);

/// The keys policies can be ranked by (better_direction not Neither), comma-separated, quoted.
std::string rankable_metric_keys();

/// The compared metric named `key` if policies can be ranked by it; nullptr otherwise.
const ComparedMetric* rankable_metric(std::string_view key);

/// Position of the metric named `key` in compared_metrics(); throws std::logic_error if none.
std::size_t metric_index(std::string_view key);

/// The compared_metrics() values of one run's metrics.json, in order. A value that is absent, or
/// a latency over no samples (every session failed), is NaN: it is left out of means rather than
/// counted as 0 s.
std::vector<double> extract_metrics(const nlohmann::json& metrics);

/// One simulated run of a comparison.
struct RunRecord {
  std::string scenario;        ///< scenario name
  std::string policy;          ///< policy label
  std::uint64_t seed = 0;      ///< the scenario seed it ran with
  bool ok = false;             ///< false: the run failed (error says why); values is empty
  std::string error;
  std::vector<double> values;  ///< per compared_metrics()
  double wall_s = 0;           ///< wall-clock seconds of the simulation
};

/// Mean and sample standard deviation (n − 1 denominator; 0 when n = 1) of the finite values.
struct Stats {
  double mean = 0;
  double sd = 0;
  int n = 0;  ///< finite values summarized; 0 = none (mean and sd are NaN)
};

/// Stats of the finite entries of `values`.
Stats summarize(std::span<const double> values);

/// The runs of one (scenario, policy) pair summarized over seeds.
struct Cell {
  std::string scenario;
  std::string policy;
  int runs = 0;                ///< runs attempted (one per seed)
  int failed_runs = 0;         ///< runs whose process failed
  int runs_over = 0;           ///< runs that completed and broke one of the comparison's limits at least
  std::vector<Stats> metrics;  ///< per compared_metrics()
};

/// One policy across all scenarios.
struct PolicySummary {
  std::string policy;
  double mean_rank = 0;         ///< mean over scenarios of its rank by the ranked metric's mean, after its share of runs over limits (1 = best, ties share the mean rank)
  /// Geometric mean over scenarios of its mean of the ranked metric (by default the throughput:
  /// tokens/s, or requests/s for request-based runs) over the first policy's (NaN: no scenario
  /// where both are > 0).
  double ratio = 0;
  int ratio_scenarios = 0;      ///< scenarios in that geometric mean
  double sessions_failed = 0;   ///< sum over scenarios of the mean sessions (or requests) failed per run (NaN: no run succeeded)
  int failed_runs = 0;          ///< runs whose process failed, over all scenarios
  int runs_over = 0;            ///< completed runs that broke a limit, over all scenarios
  int runs_completed = 0;       ///< completed runs, over all scenarios
};

/// Where a scenario row of a comparison with variants (compare --variant, --vary) came from.
struct ScenarioOrigin {
  std::string base;                      ///< the scenario's own name (its file's "name")
  std::string variant;                   ///< the variant's label
  std::vector<sim::Override> overrides;  ///< what the variant changes
};

/// Everything a comparison produced.
struct Comparison {
  std::vector<std::string> scenarios;    ///< scenario names, in the order given
  std::vector<std::string> scenario_files;  ///< the files they came from
  std::vector<PolicyVariant> policies;   ///< in the order given; the first is the reference of the summary's ratio
  std::string rank_by;                   ///< the compared_metrics() key the summary ranks by; empty: each scenario's throughput
  std::vector<RunLimit> limits;          ///< service levels each run is checked against (`compare --limit`)
  /// Per scenario, the tokens per second its arrivals offer (sessions per second x batch x new
  /// tokens, for fixed-interval and Poisson arrivals); NaN where there is no such rate. Empty: none known.
  std::vector<double> offered_tokens_per_s;
  /// Per scenario, the scenario and variant it is, when the comparison ran variants; empty otherwise.
  std::vector<ScenarioOrigin> origins;
  int seeds = 0;                         ///< runs per (scenario, policy), one per seed (each run records its seed)
  std::vector<RunRecord> runs;           ///< every run
  std::vector<Cell> cells;               ///< scenario-major, then policy, in the given orders
  std::vector<PolicySummary> summary;    ///< one per policy, in the given order
  /// Objectives of a Pareto front (`compare --pareto`, compared_metrics() keys); empty: none asked.
  std::vector<std::string> pareto;
  /// Per cell, with objectives: whether it is on the Pareto front of its base scenario's cells.
  std::vector<char> on_front;
};

/// Which of `points` (one row of objective values each, all rows as long as `directions`) no other
/// point dominates: none is at least as good in every objective, by its direction (Higher or
/// Lower), and better in one. A point with a NaN objective is not on the front and dominates none.
std::vector<bool> pareto_front(const std::vector<std::vector<double>>& points, const std::vector<Better>& directions);

/// Marks the cells on the Pareto front of `objectives` (rankable compared_metrics() keys, at least
/// two, each once; seed 003, "Multi-Objective Optimization") by their means over seeds, among the
/// cells of one base scenario: its policies, and with variants every variant's policies together.
/// Sets c.pareto and c.on_front; throws std::invalid_argument for a key that is unknown, not
/// rankable or repeated, or for fewer than two.
void mark_pareto_front(Comparison& c, std::vector<std::string> objectives);

/// Groups `runs` into cells and computes the summary, ranking the policies within each scenario by
/// the mean of the metric `rank_by` (a compared_metrics() key, in its better_direction), or by
/// each scenario's throughput when empty, and counting the completed runs that break one of
/// `limits` (a run without a limited metric's value breaks it); with limits, a smaller share of
/// completed runs over them ranks first, the metric second. Runs naming an unknown scenario or
/// policy are ignored. Throws std::invalid_argument for a `rank_by` that is not a rankable key.
Comparison aggregate(std::vector<std::string> scenarios, std::vector<std::string> scenario_files,
                     std::vector<PolicyVariant> policies, int seeds, std::vector<RunRecord> runs, std::string rank_by = {},
                     std::vector<RunLimit> limits = {});

/// The printed tables: one per scenario (rows: policies), with variants a grid per scenario of the
/// ranked metric's mean (rows: variants, columns: policies), then the summary. Where a scenario's
/// best tokens/s is within 10% of its offered_tokens_per_s, and it is ranked by throughput, a note
/// says that the arrivals bound tokens/s and points to --rank-by.
std::string format_tables(const Comparison& c);
/// A metric's value as the tables print it ("12.5 ms", "3.210", "81.95%"); "n/a" for NaN.
std::string format_value(double v, MetricUnit unit);

/// A CSV field, quoted (with inner quotes doubled) when it holds a comma, a quote, CR or LF.
std::string csv_field(std::string_view text);

/// compare.csv: one row per (scenario, policy) with runs, failed_runs, and <metric>_mean,
/// <metric>_sd, <metric>_n per metric, then runs_over_limits and the variant's label (each empty
/// without limits, variants), and with variants a column "set:PATH" per path they set (its value,
/// empty where the row's variant does not set it). Numbers exact (shortest round-trip); NaN as an
/// empty field.
std::string to_csv(const Comparison& c);

/// compare.json: policies, scenarios, seeds, cells (mean, sd, n per metric), summary and every run,
/// keys in that order.
nlohmann::ordered_json to_json(const Comparison& c);

/// Writes dir/compare.csv and dir/compare.json atomically (creating dir); throws std::runtime_error.
void write_comparison(const Comparison& c, const std::filesystem::path& dir);

}  // namespace swarmsim::experiment
