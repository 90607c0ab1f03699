#include "sim/experiment/comparison.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <stdexcept>

#include "sim/json_path.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/units.hpp"

namespace swarmsim::experiment {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

std::string format_value(double v, MetricUnit unit) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  switch (unit) {
    case MetricUnit::TokensPerSecond:
    case MetricUnit::RequestsPerSecond: std::snprintf(buf, sizeof buf, "%.3f", v); return buf;
    case MetricUnit::Fraction: std::snprintf(buf, sizeof buf, "%.2f%%", 100 * v); return buf;
    case MetricUnit::Nats: std::snprintf(buf, sizeof buf, "%.4f", v); return buf;
    case MetricUnit::Seconds: return sim::format_duration(v);
    case MetricUnit::Bytes: return sim::format_bytes(v);
    case MetricUnit::Joules: return sim::format_energy(v);
    case MetricUnit::Money: std::snprintf(buf, sizeof buf, "%.4g", v); return buf;
    case MetricUnit::Count:
      if (v == std::floor(v)) std::snprintf(buf, sizeof buf, "%.0f", v);
      else std::snprintf(buf, sizeof buf, "%.2f", v);
      return buf;
  }
  return "?";
}

namespace {

std::string csv_number(double v) { return std::isfinite(v) ? exact_number(v) : std::string(); }

/// Left-aligned text padded to `width` columns (UTF-8 aware for '±').
std::string pad(const std::string& s, std::size_t width) {
  std::size_t cols = 0;
  for (unsigned char ch : s)
    if ((ch & 0xC0) != 0x80) ++cols;
  return cols >= width ? s + " " : s + std::string(width - cols, ' ');
}

}  // namespace

const std::vector<ComparedMetric>& compared_metrics() {
  // The parts of a mean decode step: in CSV and JSON, not in the printed table.
  constexpr std::string_view kSteps = "latency_breakdown_s.per_token.steps";
  static const std::vector<ComparedMetric> metrics{
      {"tokens_per_s", "throughput.tokens_per_s", "tokens/s", MetricUnit::TokensPerSecond},
      {"per_token_p50_s", "latency_s.per_token.p50", "token p50", MetricUnit::Seconds, "latency_s.per_token.count"},
      {"per_token_p99_s", "latency_s.per_token.p99", "token p99", MetricUnit::Seconds, "latency_s.per_token.count"},
      {"ttft_p50_s", "latency_s.time_to_first_token.p50", "TTFT p50", MetricUnit::Seconds, "latency_s.time_to_first_token.count"},
      {"session_p50_s", "latency_s.session.p50", "", MetricUnit::Seconds, "latency_s.session.count"},
      {"session_p99_s", "latency_s.session.p99", "", MetricUnit::Seconds, "latency_s.session.count"},
      {"sessions_failed", "sessions.failed", "failed", MetricUnit::Count},
      // Sessions that ended unclosed, neither completed nor failed by the swarm: present only where
      // users leave (workload.abandon_share) or a client goes down.
      {"sessions_abandoned", "sessions.abandoned", "abandoned", MetricUnit::Count},
      {"sessions_lost_with_client", "sessions.lost_with_client", "client lost", MetricUnit::Count},
      {"bytes_moved", "network.bytes_moved", "moved", MetricUnit::Bytes},
      {"recoveries", "resilience.recoveries", "recoveries", MetricUnit::Count},
      {"joules_per_token", "energy.joules_per_token", "J/token", MetricUnit::Joules},
      {"cost_per_million_tokens", "cost.per_million_tokens", "cost/Mtok", MetricUnit::Money},
      {"token_server_compute_s", "latency_breakdown_s.per_token.server_compute", "", MetricUnit::Seconds, kSteps},
      {"token_client_compute_s", "latency_breakdown_s.per_token.client_compute", "", MetricUnit::Seconds, kSteps},
      {"token_contention_s", "latency_breakdown_s.per_token.contention", "", MetricUnit::Seconds, kSteps},
      {"token_propagation_s", "latency_breakdown_s.per_token.propagation", "", MetricUnit::Seconds, kSteps},
      {"token_software_s", "latency_breakdown_s.per_token.software", "", MetricUnit::Seconds, kSteps},
      {"token_transmission_s", "latency_breakdown_s.per_token.transmission", "", MetricUnit::Seconds, kSteps},
      {"token_waiting_s", "latency_breakdown_s.per_token.waiting", "", MetricUnit::Seconds, kSteps},
      {"requests_per_s", "throughput.requests_per_s", "requests/s", MetricUnit::RequestsPerSecond},
      {"request_p50_s", "latency_s.p50", "request p50", MetricUnit::Seconds, "requests.completed"},
      {"request_p99_s", "latency_s.p99", "request p99", MetricUnit::Seconds, "requests.completed"},
      {"requests_failed", "requests.failed", "failed", MetricUnit::Count},
      {"joules_per_request", "energy.joules_per_request", "J/request", MetricUnit::Joules},
      {"cost_per_thousand_requests", "cost.per_thousand_requests", "cost/1k req", MetricUnit::Money},
      {"accuracy", "answers.accuracy", "accuracy", MetricUnit::Fraction, "requests.completed"},
      {"decoded_share", "answers.decoded_share", "decoded", MetricUnit::Fraction, "requests.completed"},
      {"corrupted_tokens", "verification.corrupted_tokens", "corrupted", MetricUnit::Count},
      {"check_device_s", "verification.check_device_seconds", "checking", MetricUnit::Seconds},
      {"honest_servers_banned", "verification.honest_servers_banned", "honest bans", MetricUnit::Count},
      {"trained_tokens_per_s", "fine_tuning.trained_tokens_per_s", "trained tok/s", MetricUnit::TokensPerSecond},
      {"step_p50_s", "fine_tuning.step_time_s.p50", "step p50", MetricUnit::Seconds, "fine_tuning.step_time_s.count"},
      {"step_p99_s", "fine_tuning.step_time_s.p99", "step p99", MetricUnit::Seconds, "fine_tuning.step_time_s.count"},
      {"joules_per_trained_token", "energy.joules_per_trained_token", "J/trained tok", MetricUnit::Joules},
      {"cost_per_million_trained_tokens", "cost.per_million_trained_tokens", "cost/Mtrained", MetricUnit::Money},
      {"updates_lost", "fine_tuning.checkpoints.updates_lost", "lost", MetricUnit::Count},
      {"training_bytes_per_block", "fine_tuning.training_bytes_per_block", "held/block", MetricUnit::Bytes},
      {"sync_bytes", "fine_tuning.sync.bytes", "synced", MetricUnit::Bytes},
      {"poisoned_steps", "fine_tuning.poisoned_steps", "poisoned", MetricUnit::Count},
      {"final_loss", "fine_tuning.loss.final", "loss", MetricUnit::Nats},
      {"loss_penalty", "fine_tuning.loss.penalty", "", MetricUnit::Nats},
  };
  return metrics;
}

Better better_direction(const ComparedMetric& m) {
  if (m.unit == MetricUnit::TokensPerSecond || m.unit == MetricUnit::RequestsPerSecond || m.key == "accuracy") return Better::Higher;
  if (m.key == "decoded_share") return Better::Neither;
  return Better::Lower;
}

std::string rankable_metric_keys() {
  std::string out;
  for (const ComparedMetric& m : compared_metrics())
    if (better_direction(m) != Better::Neither) out += (out.empty() ? "\"" : ", \"") + std::string(m.key) + "\"";
  return out;
}

const ComparedMetric* rankable_metric(std::string_view key) {
  for (const ComparedMetric& m : compared_metrics())
    if (m.key == key) return better_direction(m) == Better::Neither ? nullptr : &m;
  return nullptr;
}

std::size_t metric_index(std::string_view key) {
  const auto& metrics = compared_metrics();
  for (std::size_t i = 0; i < metrics.size(); ++i)
    if (metrics[i].key == key) return i;
  throw std::logic_error("compared_metrics() has no metric \"" + std::string(key) + "\"");
}

std::vector<double> extract_metrics(const nlohmann::json& metrics) {
  std::vector<double> out;
  for (const ComparedMetric& m : compared_metrics()) {
    const std::string path(m.path);
    const nlohmann::json* v = sim::find_json_path(metrics, path);
    double x = v && v->is_number() ? v->get<double>() : kNaN;
    if (!m.samples.empty()) {  // a latency over no samples means "no data", not 0 s
      const nlohmann::json* n = sim::find_json_path(metrics, std::string(m.samples));
      if (!n || !n->is_number() || n->get<double>() <= 0) x = kNaN;
    }
    out.push_back(x);
  }
  // A fine-tuning run generates no tokens: its throughput is trained tokens/s, not 0 tokens/s.
  if (metrics.is_object() && metrics.contains("fine_tuning")) out[metric_index("tokens_per_s")] = kNaN;
  return out;
}

Stats summarize(std::span<const double> values) {
  Stats s;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) {
      sum += v;
      ++s.n;
    }
  if (s.n == 0) return {kNaN, kNaN, 0};
  s.mean = sum / s.n;
  double sq = 0;
  for (double v : values)
    if (std::isfinite(v)) sq += (v - s.mean) * (v - s.mean);
  s.sd = s.n > 1 ? std::sqrt(sq / (s.n - 1)) : 0.0;
  return s;
}

/// The throughput column of a scenario's row of cells: tokens/s; else trained tokens/s
/// (fine-tuning sessions); else requests/s (graph pipelines, Fisher B-trees).
std::size_t throughput_column(const Cell* row, std::size_t n_pol) {
  for (const char* key : {"tokens_per_s", "trained_tokens_per_s"}) {
    const std::size_t col = metric_index(key);
    for (std::size_t p = 0; p < n_pol; ++p)
      if (row[p].metrics[col].n > 0) return col;
  }
  return metric_index("requests_per_s");
}

/// The failed-count column of a scenario's row: sessions, or requests for request-based runs.
std::size_t failed_column(std::size_t throughput_col) {
  return throughput_col == metric_index("requests_per_s") ? metric_index("requests_failed") : metric_index("sessions_failed");
}

Comparison aggregate(std::vector<std::string> scenarios, std::vector<std::string> scenario_files,
                     std::vector<PolicyVariant> policies, int seeds, std::vector<RunRecord> runs, std::string rank_by,
                     std::vector<RunLimit> limits) {
  const ComparedMetric* ranked_metric = rankable_metric(rank_by);
  if (!rank_by.empty() && !ranked_metric)
    throw std::invalid_argument("cannot rank by \"" + rank_by + "\"; expected one of " + rankable_metric_keys());
  const bool higher_is_better = rank_by.empty() || better_direction(*ranked_metric) == Better::Higher;
  Comparison c;
  c.rank_by = std::move(rank_by);
  c.limits = std::move(limits);
  std::vector<std::size_t> limit_cols;
  for (const RunLimit& l : c.limits) limit_cols.push_back(metric_index(l.metric));
  c.scenarios = std::move(scenarios);
  c.scenario_files = std::move(scenario_files);
  c.policies = std::move(policies);
  c.seeds = seeds;
  c.runs = std::move(runs);
  const std::size_t n_metrics = compared_metrics().size();
  const std::size_t n_pol = c.policies.size();
  std::map<std::pair<std::string, std::string>, std::vector<const RunRecord*>> by_cell;
  for (const RunRecord& r : c.runs) by_cell[{r.scenario, r.policy}].push_back(&r);
  for (const std::string& sc : c.scenarios)
    for (const PolicyVariant& p : c.policies) {
      Cell cell;
      cell.scenario = sc;
      cell.policy = p.label;
      const auto it = by_cell.find({sc, p.label});
      std::vector<std::vector<double>> columns(n_metrics);
      if (it != by_cell.end())
        for (const RunRecord* r : it->second) {
          ++cell.runs;
          if (!r->ok) {
            ++cell.failed_runs;
            continue;
          }
          for (std::size_t m = 0; m < n_metrics && m < r->values.size(); ++m) columns[m].push_back(r->values[m]);
          bool over = false;
          for (std::size_t l = 0; l < c.limits.size(); ++l)
            over |= limit_excess(c.limits[l], limit_cols[l] < r->values.size() ? r->values[limit_cols[l]] : kNaN) > 0;
          cell.runs_over += over;
        }
      for (const auto& col : columns) cell.metrics.push_back(summarize(col));
      c.cells.push_back(std::move(cell));
    }

  // Summary: ranks by the ranked metric's mean within each scenario (by default the throughput),
  // and its ratios to the first policy.
  c.summary.resize(n_pol);
  std::vector<double> rank_sum(n_pol, 0), log_ratio_sum(n_pol, 0);
  std::vector<int> ranked(n_pol, 0), failed_cells(n_pol, 0);
  for (std::size_t s = 0; s < c.scenarios.size(); ++s) {
    const Cell* row = &c.cells[s * n_pol];
    const std::size_t throughput_col = throughput_column(row, n_pol), failed_col = failed_column(throughput_col);
    const std::size_t rank_col = c.rank_by.empty() ? throughput_col : metric_index(c.rank_by);
    // With limits, a policy ranks by the share of its completed runs that broke one first, then by
    // the ranked metric: the best policy is the best of those that keep the service level.
    const auto share_over = [&](std::size_t p) {
      const int completed = row[p].runs - row[p].failed_runs;
      return c.limits.empty() || completed == 0 ? 0.0 : static_cast<double>(row[p].runs_over) / completed;
    };
    for (std::size_t p = 0; p < n_pol; ++p) {
      const double tp = row[p].metrics[rank_col].mean;
      c.summary[p].failed_runs += row[p].failed_runs;
      c.summary[p].runs_over += row[p].runs_over;
      c.summary[p].runs_completed += row[p].runs - row[p].failed_runs;
      if (std::isfinite(row[p].metrics[failed_col].mean)) {
        c.summary[p].sessions_failed += row[p].metrics[failed_col].mean;
        ++failed_cells[p];
      }
      if (!std::isfinite(tp)) continue;
      // Rank among the policies with a value: 1 + number strictly better + half the ties.
      double better = 0, ties = 0;
      for (std::size_t q = 0; q < n_pol; ++q) {
        const double other = row[q].metrics[rank_col].mean;
        if (q == p || !std::isfinite(other)) continue;
        const double over_p = share_over(p), over_q = share_over(q);
        if (over_q < over_p || (over_q == over_p && (higher_is_better ? other > tp : other < tp))) better += 1;
        else if (over_q == over_p && other == tp) ties += 1;
      }
      rank_sum[p] += 1 + better + ties / 2;
      ++ranked[p];
      const double ref = row[0].metrics[rank_col].mean;
      if (tp > 0 && std::isfinite(ref) && ref > 0) {
        log_ratio_sum[p] += std::log(tp / ref);
        ++c.summary[p].ratio_scenarios;
      }
    }
  }
  for (std::size_t p = 0; p < n_pol; ++p) {
    PolicySummary& ps = c.summary[p];
    ps.policy = c.policies[p].label;
    ps.mean_rank = ranked[p] > 0 ? rank_sum[p] / ranked[p] : kNaN;
    ps.ratio = ps.ratio_scenarios > 0 ? std::exp(log_ratio_sum[p] / ps.ratio_scenarios) : kNaN;
    if (failed_cells[p] == 0) ps.sessions_failed = kNaN;
  }
  return c;
}

namespace {

/// With variants, per scenario a grid of the ranked metric's mean: a row per variant, a column per
/// policy; a cell with runs over a limit is marked "*".
std::string variant_grids(const Comparison& c) {
  if (c.origins.size() != c.scenarios.size() || c.policies.empty()) return "";
  const auto& metrics = compared_metrics();
  const std::size_t n_pol = c.policies.size();
  std::vector<std::string> bases;
  for (const ScenarioOrigin& o : c.origins)
    if (std::find(bases.begin(), bases.end(), o.base) == bases.end()) bases.push_back(o.base);
  std::string out;
  bool marked = false;
  for (const std::string& base : bases) {
    std::vector<std::size_t> rows;
    for (std::size_t s = 0; s < c.origins.size(); ++s)
      if (c.origins[s].base == base) rows.push_back(s);
    const Cell* first = &c.cells[rows.front() * n_pol];
    const std::size_t col = c.rank_by.empty() ? throughput_column(first, n_pol) : metric_index(c.rank_by);
    const ComparedMetric& m = metrics[col];
    std::size_t label_w = 9, col_w = 14;
    for (const std::size_t s : rows) label_w = std::max(label_w, c.origins[s].variant.size() + 2);
    for (const PolicyVariant& p : c.policies) col_w = std::max(col_w, p.label.size() + 2);
    out += "variants of " + base + ": mean " + std::string(m.header.empty() ? m.key : m.header) + " over " + std::to_string(c.seeds) +
           (c.seeds == 1 ? " seed\n" : " seeds\n");
    std::string head = pad("variant", label_w);
    for (const PolicyVariant& p : c.policies) head += pad(p.label, col_w);
    out += "  " + head + "\n";
    for (const std::size_t s : rows) {
      std::string line = pad(c.origins[s].variant, label_w);
      for (std::size_t p = 0; p < n_pol; ++p) {
        const Cell& cell = c.cells[s * n_pol + p];
        const bool over = cell.runs_over > 0;
        marked |= over;
        line += pad(format_value(cell.metrics[col].mean, m.unit) + (over ? " *" : ""), col_w);
      }
      out += "  " + line + "\n";
    }
    out += "\n";
  }
  if (marked) out += "  (*: some of the cell's runs broke a limit)\n\n";
  return out;
}

}  // namespace

namespace {

/// The scenario rows of `c` grouped by base scenario (a scenario and its variants), in order.
std::vector<std::vector<std::size_t>> base_scenario_groups(const Comparison& c) {
  const auto base_of = [&](std::size_t s) { return s < c.origins.size() ? c.origins[s].base : c.scenarios[s]; };
  std::vector<std::vector<std::size_t>> groups;
  std::vector<char> done(c.scenarios.size(), 0);
  for (std::size_t s = 0; s < c.scenarios.size(); ++s) {
    if (done[s]) continue;
    groups.emplace_back();
    for (std::size_t t = s; t < c.scenarios.size(); ++t)
      if (base_of(t) == base_of(s)) {
        done[t] = 1;
        groups.back().push_back(t);
      }
  }
  return groups;
}

/// The Pareto fronts of compare --pareto: per base scenario, its cells on the front with their
/// objectives, then those dominated.
std::string pareto_text(const Comparison& c) {
  if (c.pareto.empty()) return "";
  const auto& metrics = compared_metrics();
  std::string out = "Pareto front over ";
  for (std::size_t k = 0; k < c.pareto.size(); ++k) {
    const ComparedMetric& m = metrics[metric_index(c.pareto[k])];
    out += (k ? ", " : "") + std::string(m.header.empty() ? m.key : m.header) + (better_direction(m) == Better::Higher ? " (higher)" : " (lower)");
  }
  out += ", by the means over seeds; a policy is on it when no other is as good in every objective and better in one\n";
  const std::size_t n_pol = c.policies.size();
  for (const std::vector<std::size_t>& group : base_scenario_groups(c)) {
    std::string on, off;
    for (const std::size_t t : group) {
      for (std::size_t p = 0; p < n_pol; ++p) {
        const std::size_t cell = t * n_pol + p;
        const std::string who = (t < c.origins.size() ? c.origins[t].variant + " / " : "") + c.cells[cell].policy;
        if (!c.on_front[cell]) {
          off += (off.empty() ? "" : ", ") + who;
          continue;
        }
        std::string values;
        for (const std::string& key : c.pareto) {
          const std::size_t col = metric_index(key);
          values += (values.empty() ? "" : ", ") + format_value(c.cells[cell].metrics[col].mean, metrics[col].unit);
        }
        on += "    " + who + "  (" + values + ")\n";
      }
    }
    const std::size_t s = group.front();
    out += "  " + (s < c.origins.size() ? c.origins[s].base : c.scenarios[s]) + ":\n" + (on.empty() ? "    none (no run reported every objective)\n" : on);
    if (!off.empty()) out += "    dominated: " + off + "\n";
  }
  return out + "\n";
}

}  // namespace

std::string format_tables(const Comparison& c) {
  const auto& metrics = compared_metrics();
  const std::size_t n_pol = c.policies.size();
  const std::size_t tokens = metric_index("tokens_per_s"), requests = metric_index("requests_per_s"),
                    trained = metric_index("trained_tokens_per_s");
  std::size_t label_w = 8;
  for (const PolicyVariant& p : c.policies) label_w = std::max(label_w, p.label.size() + 2);
  const std::size_t tp_w = 20, col_w = 12;
  std::string out;
  bool any_requests = false;
  for (std::size_t s = 0; s < c.scenarios.size(); ++s) {
    out += "scenario " + c.scenarios[s];
    if (s < c.scenario_files.size()) out += "  (" + c.scenario_files[s] + ")";
    out += "\n";
    const Cell* row = &c.cells[s * n_pol];
    const std::size_t tp_col = throughput_column(row, n_pol);
    any_requests |= tp_col == requests;
    // The other columns its runs have (every column when no run succeeded, to show n/a).
    std::vector<std::size_t> cols;
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      if (metrics[m].header.empty() || m == tokens || m == requests || m == trained) continue;
      bool has = false, any_ok = false;
      for (std::size_t p = 0; p < n_pol; ++p) {
        has |= row[p].metrics[m].n > 0;
        any_ok |= row[p].runs > row[p].failed_runs;
      }
      // When no run succeeded, the columns of the scenario's kind, as n/a: token or request ones.
      const bool request_metric = m > requests && m < metric_index("corrupted_tokens");
      if (has || (!any_ok && (tp_col == requests ? request_metric : m < requests))) cols.push_back(m);
    }
    // The metric the policies are ranked by, where the table would not show it.
    if (!c.rank_by.empty())
      if (const std::size_t r = metric_index(c.rank_by); r != tp_col && std::find(cols.begin(), cols.end(), r) == cols.end()) cols.push_back(r);
    std::string head = pad("policy", label_w) + pad(std::string(metrics[tp_col].header), tp_w);
    // A column as wide as its header and a space (session_p50_s is wider than the others).
    const auto name_of = [&](std::size_t m) { return std::string(metrics[m].header.empty() ? metrics[m].key : metrics[m].header); };
    const auto width_of = [&](std::size_t m) { return std::max(col_w, name_of(m).size() + 1); };
    for (const std::size_t m : cols) head += pad(name_of(m), width_of(m));
    if (!c.limits.empty()) head += pad("over limits", col_w);
    head += "runs";
    out += "  " + head + "\n";
    for (std::size_t p = 0; p < n_pol; ++p) {
      const Cell& cell = row[p];
      const Stats& tp = cell.metrics[tp_col];
      std::string line = pad(cell.policy, label_w);
      line += pad(tp.n == 0 ? "n/a" : format_value(tp.mean, metrics[tp_col].unit) + " ± " + format_value(tp.sd, metrics[tp_col].unit), tp_w);
      for (const std::size_t m : cols) line += pad(format_value(cell.metrics[m].mean, metrics[m].unit), width_of(m));
      if (!c.limits.empty()) line += pad(std::to_string(cell.runs_over), col_w);
      line += std::to_string(cell.runs - cell.failed_runs) + "/" + std::to_string(cell.runs);
      out += "  " + line + "\n";
    }
    // Below saturation an open-loop workload's tokens/s is its arrivals' rate: say so.
    if (c.rank_by.empty() && tp_col == tokens && s < c.offered_tokens_per_s.size() && c.offered_tokens_per_s[s] > 0) {
      double best = kNaN;
      for (std::size_t p = 0; p < n_pol; ++p)
        if (row[p].metrics[tp_col].n > 0 && !(row[p].metrics[tp_col].mean <= best)) best = row[p].metrics[tp_col].mean;
      if (std::isfinite(best) && best >= 0.9 * c.offered_tokens_per_s[s]) {
        char note[320];
        std::snprintf(note, sizeof note,
                      "  note: the arrivals offer %.3f tokens/s, and the best policy delivers %.1f%% of it: tokens/s is bounded "
                      "by the arrivals and differs by when the last sessions end; --rank-by session_p50_s or session_p99_s ranks by latency\n",
                      c.offered_tokens_per_s[s], 100.0 * best / c.offered_tokens_per_s[s]);
        out += note;
      }
    }
    out += "\n";
  }
  out += variant_grids(c);
  out += pareto_text(c);
  out += "summary over " + std::to_string(c.scenarios.size()) + " scenarios x " + std::to_string(c.seeds) +
         " seeds (mean ± sample sd over seeds; latencies and counts are means; sd of every column in compare.csv)\n";
  const std::string ref = c.policies.empty() ? "" : c.policies.front().label;
  const ComparedMetric* ranked = c.rank_by.empty() ? nullptr : &metrics[metric_index(c.rank_by)];
  const std::string ranked_name = ranked ? std::string(ranked->header.empty() ? ranked->key : ranked->header) : "";
  const std::string unit = ranked ? ranked_name : any_requests ? "throughput" : "tokens/s";
  const std::string failed = any_requests ? "failed" : "failed sessions";
  out += "  " + pad("policy", label_w) + pad("mean rank", 12) + pad(unit + " vs " + ref, std::max<std::size_t>(18, unit.size() + ref.size() + 6)) +
         pad(failed, 18) + (c.limits.empty() ? "" : pad("over limits", 16)) + "failed runs\n";
  for (const PolicySummary& ps : c.summary) {
    char rank[32], ratio[48];
    std::snprintf(rank, sizeof rank, std::isfinite(ps.mean_rank) ? "%.2f" : "n/a", ps.mean_rank);
    if (std::isfinite(ps.ratio))
      std::snprintf(ratio, sizeof ratio, "x%.3f (%d)", ps.ratio, ps.ratio_scenarios);
    else
      std::snprintf(ratio, sizeof ratio, "n/a");
    out += "  " + pad(ps.policy, label_w) + pad(rank, 12) + pad(ratio, std::max<std::size_t>(18, unit.size() + ref.size() + 6)) +
           pad(format_value(ps.sessions_failed, MetricUnit::Count), 18) +
           (c.limits.empty() ? "" : pad(std::to_string(ps.runs_over) + " of " + std::to_string(ps.runs_completed), 16)) +
           std::to_string(ps.failed_runs) + "\n";
  }
  if (!c.limits.empty()) {
    std::string texts;
    for (const RunLimit& l : c.limits) texts += (texts.empty() ? "" : ", ") + limit_text(l);
    out += "  (over limits: completed runs that broke " + texts + "; a run without the metric counts as over)\n";
  }
  // With limits, the ranks put the policies that broke them less often first.
  const std::string first_by_limits = c.limits.empty() ? "" : "by the share of its runs over limits first, then ";
  if (ranked)
    out += "  (mean rank: " + first_by_limits + "by mean " + ranked_name + " per scenario, " + (better_direction(*ranked) == Better::Higher ? "higher" : "lower") +
           " is better, 1 = best; " + ranked_name + " vs " + ref + ": geometric mean over the scenarios counted in parentheses; " + failed +
           ": sum over scenarios of the mean per run)\n";
  else if (any_requests)
    out += "  (mean rank: " + first_by_limits + "by mean throughput per scenario, tokens/s or, for pipelines and trees, requests/s; 1 = best; throughput vs " +
           ref + ": geometric mean over the scenarios counted in parentheses; failed: sum over scenarios of the mean sessions or requests failed per run)\n";
  else
    out += "  (mean rank: " + first_by_limits + "by mean tokens/s per scenario (trained tokens/s for fine-tuning), 1 = best; tokens/s vs " + ref +
           ": geometric mean over the scenarios counted in parentheses; failed sessions: sum over scenarios of the mean per run)\n";
  return out;
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string to_csv(const Comparison& c) {
  const auto& metrics = compared_metrics();
  std::string out = "scenario,policy,spec,runs,failed_runs";
  for (const ComparedMetric& m : metrics) {
    const std::string k(m.key);
    out += "," + k + "_mean," + k + "_sd," + k + "_n";
  }
  // With variants, a column per path they set ("set:workload.batch_size"), for plotting a sweep.
  std::vector<std::string> paths;
  for (const ScenarioOrigin& o : c.origins)
    for (const sim::Override& x : o.overrides)
      if (std::find(paths.begin(), paths.end(), x.path) == paths.end()) paths.push_back(x.path);
  out += ",runs_over_limits,variant";
  for (const std::string& path : paths) out += "," + csv_field("set:" + path);
  out += "\n";
  for (std::size_t i = 0; i < c.cells.size(); ++i) {
    const Cell& cell = c.cells[i];
    const std::size_t s = c.policies.empty() ? 0 : i / c.policies.size();
    std::string spec;
    for (const PolicyVariant& p : c.policies)
      if (p.label == cell.policy) spec = p.spec;
    out += csv_field(cell.scenario) + "," + csv_field(cell.policy) + "," + csv_field(spec) + "," + std::to_string(cell.runs) +
           "," + std::to_string(cell.failed_runs);
    for (const Stats& st : cell.metrics)
      out += "," + csv_number(st.mean) + "," + csv_number(st.sd) + "," + std::to_string(st.n);
    out += "," + (c.limits.empty() ? std::string() : std::to_string(cell.runs_over)) + "," +
           (s < c.origins.size() ? csv_field(c.origins[s].variant) : std::string());
    for (const std::string& path : paths) {
      std::string value;
      if (s < c.origins.size())
        for (const sim::Override& x : c.origins[s].overrides)
          if (x.path == path) value = x.value;
      out += "," + csv_field(value);
    }
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json to_json(const Comparison& c) {
  using json = nlohmann::ordered_json;
  const auto& metrics = compared_metrics();
  const auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json policies = json::array();
  for (const PolicyVariant& p : c.policies) {
    json overrides = json::object();
    for (const sim::Override& o : p.overrides) overrides[o.path] = o.value;
    policies.push_back({{"label", p.label}, {"spec", p.spec}, {"overrides", overrides}});
  }
  json metric_list = json::array();
  for (const ComparedMetric& m : metrics) metric_list.push_back({{"key", m.key}, {"path", m.path}});
  json cells = json::array();
  for (const Cell& cell : c.cells) {
    json ms = json::object();
    for (std::size_t m = 0; m < metrics.size(); ++m)
      ms[std::string(metrics[m].key)] = {{"mean", num(cell.metrics[m].mean)}, {"sd", num(cell.metrics[m].sd)}, {"n", cell.metrics[m].n}};
    json entry = {{"scenario", cell.scenario}, {"policy", cell.policy}, {"runs", cell.runs}, {"failed_runs", cell.failed_runs}};
    if (!c.limits.empty()) entry["runs_over_limits"] = cell.runs_over;
    entry["metrics"] = ms;
    cells.push_back(std::move(entry));
  }
  json summary = json::array();
  for (const PolicySummary& ps : c.summary) {
    json entry = {{"policy", ps.policy}, {"mean_rank", num(ps.mean_rank)}, {"ratio", num(ps.ratio)},
                  {"ratio_scenarios", ps.ratio_scenarios}, {"sessions_failed", num(ps.sessions_failed)},
                  {"failed_runs", ps.failed_runs}};
    if (!c.limits.empty()) entry["runs_over_limits"] = ps.runs_over;
    summary.push_back(std::move(entry));
  }
  json limits = json::array();
  for (const RunLimit& l : c.limits) limits.push_back({{"metric", l.metric}, {"bound", l.bound}, {"at_most", l.at_most}});
  json runs = json::array();
  for (const RunRecord& r : c.runs) {
    json values = json::object();
    for (std::size_t m = 0; m < metrics.size() && m < r.values.size(); ++m) values[std::string(metrics[m].key)] = num(r.values[m]);
    json entry = {{"scenario", r.scenario}, {"policy", r.policy}, {"seed", r.seed}, {"ok", r.ok}, {"wall_s", r.wall_s}};
    if (r.ok) entry["values"] = values;
    else entry["error"] = r.error;
    runs.push_back(std::move(entry));
  }
  json scenarios = json::array();
  for (std::size_t s = 0; s < c.scenarios.size(); ++s) {
    json entry = {{"name", c.scenarios[s]}, {"file", s < c.scenario_files.size() ? c.scenario_files[s] : ""}};
    if (s < c.origins.size()) {
      json overrides = json::object();
      for (const sim::Override& o : c.origins[s].overrides) overrides[o.path] = o.value;
      entry["base"] = c.origins[s].base;
      entry["variant"] = c.origins[s].variant;
      entry["overrides"] = overrides;
    }
    scenarios.push_back(std::move(entry));
  }
  json out{{"kind", "swarmsim-compare"}, {"seeds", c.seeds},   {"rank_by", c.rank_by.empty() ? json("throughput") : json(c.rank_by)},
           {"limits", limits}, {"metrics", metric_list}, {"policies", policies},
           {"scenarios", scenarios},     {"cells", cells},     {"summary", summary},     {"runs", runs}};
  if (!c.pareto.empty()) {
    json front = json::array();
    for (std::size_t i = 0; i < c.cells.size() && i < c.on_front.size(); ++i)
      if (c.on_front[i]) front.push_back({{"scenario", c.cells[i].scenario}, {"policy", c.cells[i].policy}});
    out["pareto"] = {{"objectives", c.pareto}, {"front", front}};
  }
  return out;
}

std::vector<bool> pareto_front(const std::vector<std::vector<double>>& points, const std::vector<Better>& directions) {
  const auto finite = [](const std::vector<double>& p) { return std::all_of(p.begin(), p.end(), [](double v) { return std::isfinite(v); }); };
  // a dominates b: at least as good everywhere, better somewhere.
  const auto dominates = [&](const std::vector<double>& a, const std::vector<double>& b) {
    bool better = false;
    for (std::size_t k = 0; k < directions.size(); ++k) {
      const double x = directions[k] == Better::Higher ? a[k] : -a[k], y = directions[k] == Better::Higher ? b[k] : -b[k];
      if (x < y) return false;
      better |= x > y;
    }
    return better;
  };
  std::vector<bool> front(points.size(), false);
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!finite(points[i])) continue;
    front[i] = std::none_of(points.begin(), points.end(), [&](const std::vector<double>& q) { return finite(q) && dominates(q, points[i]); });
  }
  return front;
}

void mark_pareto_front(Comparison& c, std::vector<std::string> objectives) {
  if (objectives.size() < 2) throw std::invalid_argument("a Pareto front needs at least two objectives, e.g. tokens_per_s,joules_per_token");
  std::vector<std::size_t> cols;
  std::vector<Better> dirs;
  for (const std::string& key : objectives) {
    const ComparedMetric* m = rankable_metric(key);
    if (!m) throw std::invalid_argument("\"" + key + "\" is not an objective; expected one of " + rankable_metric_keys());
    if (std::find(cols.begin(), cols.end(), metric_index(key)) != cols.end()) throw std::invalid_argument("\"" + key + "\" is named twice");
    cols.push_back(metric_index(key));
    dirs.push_back(better_direction(*m));
  }
  const std::size_t n_pol = c.policies.size();
  c.on_front.assign(c.cells.size(), 0);
  for (const std::vector<std::size_t>& group : base_scenario_groups(c)) {
    std::vector<std::size_t> members;  // cells of this base scenario
    for (const std::size_t t : group)
      for (std::size_t p = 0; p < n_pol; ++p) members.push_back(t * n_pol + p);
    std::vector<std::vector<double>> points;
    for (const std::size_t cell : members) {
      std::vector<double> point;
      for (const std::size_t col : cols) point.push_back(c.cells[cell].metrics[col].n > 0 ? c.cells[cell].metrics[col].mean : kNaN);
      points.push_back(std::move(point));
    }
    const std::vector<bool> front = pareto_front(points, dirs);
    for (std::size_t k = 0; k < members.size(); ++k) c.on_front[members[k]] = front[k] ? 1 : 0;
  }
  c.pareto = std::move(objectives);
}

void write_comparison(const Comparison& c, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  sim::write_file_atomically(dir / "compare.csv", to_csv(c));
  sim::write_file_atomically(dir / "compare.json", to_json(c).dump(2) + "\n");
}

}  // namespace swarmsim::experiment
