#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gpu/shard_cost_model.hpp"
#include "sim/coded/coin.hpp"
#include "sim/cli/commands.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/json_path.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_advice.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_range.hpp"
#include "sim/swarm/model_coverage.hpp"
#include "sim/units.hpp"

namespace swarmsim::cli {
namespace {

/// The clients' rows under the node table (swarms of blocks): what each held at its peak, the
/// busiest first when there are many, and a warning for each that held more than its device has.
void print_clients(const nlohmann::json& m) {
  if (!m.contains("clients") || m["clients"].empty() || !m["clients"][0].contains("memory_peak_bytes")) return;
  std::vector<const nlohmann::json*> rows;
  for (const auto& c : m["clients"]) rows.push_back(&c);
  constexpr std::size_t kShown = 6;
  if (rows.size() > kShown)
    std::stable_sort(rows.begin(), rows.end(), [](const nlohmann::json* a, const nlohmann::json* b) {
      return (*a)["memory_peak_bytes"].get<double>() > (*b)["memory_peak_bytes"].get<double>();
    });
  const int k = m.contains("privacy") ? m["privacy"]["client_blocks"].get<int>() : 0;
  const std::string blocks = k == 0 ? "-" : k == 1 ? "0" : "0-" + std::to_string(k - 1);
  std::printf("%-14s%-12s%-10s%8s%14s%10s\n", "client", "device", "blocks", "util", "memory peak", "sessions");
  for (std::size_t i = 0; i < rows.size() && i < kShown; ++i) {
    const auto& c = *rows[i];
    std::printf("  %-12s%-12s%-10s%7.1f%%%14s%10d\n", c["name"].get<std::string>().c_str(), c["device"].get<std::string>().c_str(),
                blocks.c_str(), 100.0 * c["utilization"].get<double>(), sim::format_bytes(c["memory_peak_bytes"].get<double>()).c_str(),
                c["sessions_in_flight_peak"].get<int>());
  }
  if (rows.size() > kShown) std::printf("  ...         %zu more clients in metrics.json\n", rows.size() - kShown);
  for (const auto& c : m["clients"])
    if (c.contains("memory_waits") && c["memory_waits"].get<int>() > 0)  // split learning: sessions held back
      std::printf("  held back   %d session%s of %s waited %s in all for its memory (%s usable on its %s)\n", c["memory_waits"].get<int>(),
                  c["memory_waits"].get<int>() == 1 ? "" : "s", c["name"].get<std::string>().c_str(), sim::format_duration(c["memory_wait_seconds"].get<double>()).c_str(),
                  sim::format_bytes(c["memory_usable_bytes"].get<double>()).c_str(), c["device"].get<std::string>().c_str());
  for (const auto& c : m["clients"])
    if (c["memory_peak_bytes"].get<double>() > c["memory_usable_bytes"].get<double>())
      std::printf("  too small   %s held %s at %s (%d sessions), more than the %s usable on its %s\n", c["name"].get<std::string>().c_str(),
                  sim::format_bytes(c["memory_peak_bytes"].get<double>()).c_str(),
                  sim::format_duration(c["memory_peak_at_s"].get<double>()).c_str(), c["memory_peak_sessions"].get<int>(),
                  sim::format_bytes(c["memory_usable_bytes"].get<double>()).c_str(), c["device"].get<std::string>().c_str());
}

/// "; blocks A-B the longest, T" from resilience.unserved_blocks (empty when no block went unserved).
std::string longest_unserved_text(const nlohmann::json& ranges) {
  std::vector<sim::UnservedRange> read;
  for (const auto& r : ranges)
    read.push_back({sim::BlockRange{r["blocks"]["start"].get<int>(), r["blocks"]["end"].get<int>()}, r["unserved_s"].get<double>()});
  const sim::UnservedRange* best = sim::longest_unserved(read);
  if (!best) return "";
  return std::string("; ") + (best->blocks.size() == 1 ? "block " : "blocks ") + best->blocks.str() + " the longest, " +
         sim::format_duration(best->unserved_s);
}

/// The "energy" line of a run's summary: total, window, mean draw, idle share, and per `unit`
/// (from the section's `per_key`, when it is not null); nothing when the window is empty.
void print_energy_line(const nlohmann::json& e, const char* per_key, const char* unit) {
  if (!e.is_object() || e["window_s"].get<double>() <= 0) return;
  std::string line = sim::format_energy(e["joules"].get<double>()) + " over " + sim::format_duration(e["window_s"].get<double>()) +
                     " (" + sim::format_power(e["mean_power_w"].get<double>()) + " mean, " +
                     std::to_string(static_cast<int>(std::lround(100 * e["idle_share"].get<double>()))) + "% of it idle draw)";
  if (!e[per_key].is_null()) line += ": " + sim::format_energy(e[per_key].get<double>()) + " per " + unit;
  std::printf("energy        %s\n", line.c_str());
}

/// The "cost" line, when the scenario sets prices: total, rent and electricity, and per `unit`
/// (from the section's `per_key`, when it is not null).
void print_cost_line(const nlohmann::json& m, const char* per_key, const char* unit) {
  if (!m.contains("cost")) return;
  const auto& c = m["cost"];
  const std::string cur = c["currency"].get<std::string>();
  std::printf("cost          %s %.4g (rent %.4g, electricity %.4g)", cur.c_str(), c["total"].get<double>(), c["rent"].get<double>(),
              c["electricity"].get<double>());
  if (!c[per_key].is_null()) std::printf(": %s %.4g per %s", cur.c_str(), c[per_key].get<double>(), unit);
  std::printf("\n");
}

std::string latency_line(const nlohmann::json& h) {
  if (h["count"].get<std::uint64_t>() == 0) return "n/a";
  return "p50 " + sim::format_duration(h["p50"].get<double>()) + "  p95 " + sim::format_duration(h["p95"].get<double>()) +
         "  p99 " + sim::format_duration(h["p99"].get<double>()) + "  (n=" + std::to_string(h["count"].get<std::uint64_t>()) + ")";
}

/// "software 542 ms (63%) + propagation 185 ms (22%) + ...": a step's mean latency by part, largest
/// first, parts under 0.05% left out.
std::string breakdown_line(const nlohmann::json& b) {
  const double total = b["latency"].get<double>();
  std::vector<std::pair<double, std::string>> parts;
  for (const char* key : {"server_compute", "client_compute", "contention", "propagation", "software", "transmission", "waiting"})
    if (const double v = b[key].get<double>(); total > 0 && v >= 5e-4 * total) {
      std::string name = key;
      std::replace(name.begin(), name.end(), '_', ' ');
      parts.emplace_back(v, name);
    }
  std::stable_sort(parts.begin(), parts.end(), [](const auto& a, const auto& c) { return a.first > c.first; });
  std::string line;
  for (const auto& [v, name] : parts) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * v / total);
    line += (line.empty() ? "" : " + ") + name + " " + sim::format_duration(v) + " (" + pct + ")";
  }
  return line;
}

/// A phase's energy per unit (`key` of metrics.json's phases[i]), "-" when it has none.
std::string per_unit_energy(const nlohmann::json& phase, const char* key) {
  return phase.contains(key) && phase[key].is_number() ? sim::format_energy(phase[key].get<double>()) : "-";
}

/// workload.arrival "phases" of a pipeline run: per phase, its requests and their latency and
/// response time (from arrival, waiting for the window included).
void print_request_phases(const nlohmann::json& m) {
  if (!m.contains("phases")) return;
  std::printf("phase  %-10s%10s%11s%13s%12s%14s%16s\n", "rate", "duration", "requests", "latency p50", "p99", "response p99", "servers J/req");
  for (const auto& p : m["phases"])
    std::printf("  %-5d%-10s%10s%11d%13s%12s%14s%16s\n", p["phase"].get<int>(), sim::format_rate(p["rate_per_s"].get<double>()).c_str(),
                sim::format_duration(p["duration_s"].get<double>()).c_str(), p["requests_arrived"].get<int>(),
                sim::format_duration(p["latency_s"]["p50"].get<double>()).c_str(), sim::format_duration(p["latency_s"]["p99"].get<double>()).c_str(),
                sim::format_duration(p["response_s"]["p99"].get<double>()).c_str(), per_unit_energy(p, "servers_joules_per_request").c_str());
}

/// workload.arrival "phases" of a swarm run: per phase, its sessions, their time to first token,
/// per-token latency, session time and energy per token.
void print_session_phases(const nlohmann::json& m) {
  if (!m.contains("phases")) return;
  std::printf("phase  %-10s%10s%11s%11s%10s%12s%10s%13s%10s\n", "rate", "duration", "sessions", "TTFT p50", "p99", "token p50", "p99",
              "session p99", "J/token");
  for (const auto& p : m["phases"]) {
    const auto& l = p["latency_s"];
    std::printf("  %-5d%-10s%10s%11d%11s%10s%12s%10s%13s%10s\n", p["phase"].get<int>(), sim::format_rate(p["rate_per_s"].get<double>()).c_str(),
                sim::format_duration(p["duration_s"].get<double>()).c_str(), p["sessions_arrived"].get<int>(),
                sim::format_duration(l["time_to_first_token"]["p50"].get<double>()).c_str(),
                sim::format_duration(l["time_to_first_token"]["p99"].get<double>()).c_str(),
                sim::format_duration(l["per_token"]["p50"].get<double>()).c_str(), sim::format_duration(l["per_token"]["p99"].get<double>()).c_str(),
                sim::format_duration(l["session"]["p99"].get<double>()).c_str(),
                per_unit_energy(p, "joules_per_token").c_str());
  }
}

void print_summary(const nlohmann::json& m, const sim::RunReport& r, const std::filesystem::path& out) {
  const auto& s = m["sessions"];
  const auto& tp = m["throughput"];
  const bool flow = m.value("engine", "simgrid") == "flow";
  std::printf("scenario      %s  (%s, router %s, %s network%s, %s pricing)\n", m["scenario"].get<std::string>().c_str(),
              m["model"].get<std::string>().c_str(), m["router"].get<std::string>().c_str(),
              m["network_model"].get<std::string>().c_str(), flow ? " on the flow engine" : "", m["pricing"].get<std::string>().c_str());
  std::printf("simulated     %s in %.3f s wall (%llu hops, %.0f hops/s)\n", sim::format_duration(r.simulated_time).c_str(),
              r.wall_seconds, static_cast<unsigned long long>(r.hops), r.wall_seconds > 0 ? r.hops / r.wall_seconds : 0.0);
  // Sessions that ended without closing: users who left (workload.abandon_share) and sessions
  // whose client went down; their servers held the caches a step timeout longer.
  std::string unclosed;
  if (s.contains("abandoned")) unclosed += ", " + std::to_string(s["abandoned"].get<int>()) + " abandoned by their users";
  if (s.contains("lost_with_client")) unclosed += ", " + std::to_string(s["lost_with_client"].get<int>()) + " lost with their clients";
  if (!unclosed.empty()) {
    const double timeout = s["session_timeout_s"].get<double>();
    const std::string held = timeout > 0 ? "servers keep the caches of a session that ended unclosed for " + sim::format_duration(timeout)
                                         : "servers free the caches of a session that ended unclosed at once";
    std::printf("sessions      %d completed, %d failed%s of %d (%s)\n", s["completed"].get<int>(), s["failed"].get<int>(),
                unclosed.c_str(), s["total"].get<int>(), held.c_str());
  } else {
    std::printf("sessions      %d completed, %d failed of %d\n", s["completed"].get<int>(), s["failed"].get<int>(), s["total"].get<int>());
  }
  for (const auto& f : s["failures"]) {
    std::printf("  failed      session %d: %s\n", f["session"].get<int>(), f["reason"].get<std::string>().c_str());
    if (&f - &s["failures"][0] >= 4 && s["failures"].size() > 6) {
      std::printf("  ...         %zu more in metrics.json\n", s["failures"].size() - 5);
      break;
    }
  }
  if (m.contains("fine_tuning")) {  // training steps instead of generated tokens (seed 002, section 2.4)
    const auto& f = m["fine_tuning"];
    const auto& c = f["checkpoints"];
    std::printf("trained       %.0f tokens/s  (%.0f tokens in %ld steps over %s); %s rank %d, %.3g parameters per block\n",
                f["trained_tokens_per_s"].get<double>(), f["trained_tokens"].get<double>(), f["steps"].get<long>(),
                sim::format_duration(tp["window_s"].get<double>()).c_str(), f["adapter"].get<std::string>().c_str(), f["rank"].get<int>(),
                f["params_per_block"].get<double>());
    std::printf("step          %s\n", latency_line(f["step_time_s"]).c_str());
    if (const auto& b = f["step_breakdown_s"]; b["steps"].get<long>() > 0)
      std::printf("  mean        %s = %s\n", sim::format_duration(b["latency"].get<double>()).c_str(), breakdown_line(b).c_str());
    std::printf("device time   forward %s, backward %s, loss %s", sim::format_duration(f["device_seconds"]["forward"].get<double>()).c_str(),
                sim::format_duration(f["device_seconds"]["backward"].get<double>()).c_str(),
                sim::format_duration(f["device_seconds"]["loss"].get<double>()).c_str());
    if (const auto& d = f["device_seconds"]; d.contains("client_forward"))  // split learning
      std::printf("; the clients' own blocks: forward %s, backward %s", sim::format_duration(d["client_forward"].get<double>()).c_str(),
                  sim::format_duration(d["client_backward"].get<double>()).c_str());
    std::printf("\n");
    std::printf("checkpoints   %ld saved (%s), %ld restored into replacements (%s), %ld adapter updates lost\n", c["saved"].get<long>(),
                sim::format_bytes(c["saved_bytes"].get<double>()).c_str(), c["restored"].get<long>(),
                sim::format_bytes(c["restored_bytes"].get<double>()).c_str(), c["updates_lost"].get<long>());
    if (f.contains("sync")) {
      const auto& y = f["sync"];
      if (y.value("zero", 0) > 0)
        std::printf("ZeRO-%d        jobs of %d sessions on the mean gradient every step: %ld session synchronizations (gradient "
                    "then parameter shards), %s sent, %s each on average (waiting for the slowest replica included)\n",
                    y["zero"].get<int>(), y["replicas"].get<int>(), y["averagings"].get<long>(), sim::format_bytes(y["bytes"].get<double>()).c_str(),
                    sim::format_duration(y["mean_seconds"].get<double>()).c_str());
      else
        std::printf("averaging     jobs of %d sessions every %d steps: %ld session averagings, %s sent, %s each on average "
                    "(waiting for the slowest replica included)\n",
                    y["replicas"].get<int>(), y["every"].get<int>(), y["averagings"].get<long>(), sim::format_bytes(y["bytes"].get<double>()).c_str(),
                    sim::format_duration(y["mean_seconds"].get<double>()).c_str());
    }
    if (f.contains("poisoned_steps"))  // dishonest servers' wrong forward outputs
      std::printf("poisoned      %ld of %ld training steps ran on a dishonest server's wrong forward output\n",
                  f["poisoned_steps"].get<long>(), f["steps"].get<long>());
    if (f.contains("loss")) {  // workload.fine_tuning.loss: the proxy that trained for real
      const auto& l = f["loss"];
      const auto& px = l["proxy"];
      std::printf("loss          KL %.4f after training (untrained %.4f; %.4f had nothing been lost: %+.4f), held-out, on a width-%d proxy\n",
                  l["final"].get<double>(), l["untrained"].get<double>(), l["final_if_nothing_lost"].get<double>(),
                  std::fabs(l["penalty"].get<double>()) < 5e-5 ? 0.0 : l["penalty"].get<double>(),
                  px["hidden"].get<int>());
      for (const auto& r : l["restores"]) {
        const std::string back = r["updates_to_recover"].is_null()       ? std::string("not won back within the run")
                                 : r["updates_to_recover"].get<int>() == 0 ? std::string("nothing to win back")
                                 : r["updates_to_recover"].get<int>() == 1 ? std::string("won back in 1 update")
                                                                           : "won back in " + std::to_string(r["updates_to_recover"].get<int>()) + " updates";
        std::printf("  restore     session %d at step %d, blocks %d-%d from %s (%d %s lost): KL %.4f -> %.4f, %s\n", r["session"].get<int>(),
                    r["step"].get<int>(), r["blocks"][0].get<int>(), r["blocks"][1].get<int>() - 1, r["from"].get<std::string>().c_str(),
                    r["updates_lost"].get<int>(), r["updates_lost"].get<int>() == 1 ? "update" : "updates", r["held_out_before"].get<double>(), r["held_out_after"].get<double>(), back.c_str());
        if (&r - &l["restores"][0] >= 4 && l["restores"].size() > 6) {
          std::printf("  ...         %zu more in metrics.json\n", l["restores"].size() - 5);
          break;
        }
      }
    }
  } else {
    std::printf("tokens/s      %.3f  (%llu tokens over %s)\n", tp["tokens_per_s"].get<double>(),
                static_cast<unsigned long long>(tp["tokens_generated"].get<std::uint64_t>()),
                sim::format_duration(tp["window_s"].get<double>()).c_str());
    std::printf("steps/s       %.3f  generation steps per second per session\n", tp["generation_steps_per_s"].get<double>());
    std::printf("TTFT          %s\n", latency_line(m["latency_s"]["time_to_first_token"]).c_str());
    std::printf("per token     %s\n", latency_line(m["latency_s"]["per_token"]).c_str());
    if (const auto& b = m["latency_breakdown_s"]["per_token"]; b["steps"].get<long>() > 0)
      std::printf("  mean        %s = %s\n", sim::format_duration(b["latency"].get<double>()).c_str(), breakdown_line(b).c_str());
    print_session_phases(m);
  }
  std::printf("network       %s moved in %llu hops\n", sim::format_bytes(m["network"]["bytes_moved"].get<double>()).c_str(),
              static_cast<unsigned long long>(m["network"]["hops"].get<std::uint64_t>()));
  if (m.contains("fine_tuning")) {  // training generates no tokens
    print_energy_line(m["energy"], "joules_per_trained_token", "trained token");
    print_cost_line(m, "per_million_trained_tokens", "million trained tokens");
  } else {
    print_energy_line(m["energy"], "joules_per_token", "token");
    print_cost_line(m, "per_million_tokens", "million tokens");
  }
  if (const auto& r = m["resilience"]; r["recoveries"].get<long>() > 0 || r["model_unserved_s"].get<double>() > 0)
    std::printf("resilience    %ld recoveries (%ld tokens replayed); %s\n", r["recoveries"].get<long>(), r["replayed_tokens"].get<long>(),
                r["model_unserved_s"].get<double>() > 0
                    ? ("some block had no server for " + sim::format_duration(r["model_unserved_s"].get<double>()) +
                       " after the first session" + longest_unserved_text(r["unserved_blocks"]))
                          .c_str()
                    : "every block had a server from the first session on");
  if (m.contains("privacy")) {  // split learning (seed 002, section 6.3.1)
    const auto& p = m["privacy"];
    const int k = p["client_blocks"].get<int>(), end = p["swarm_blocks"]["end"].get<int>();
    std::string line = k > 0 ? (k == 1 ? std::string("clients run block 0 (") : "clients run blocks 0-" + std::to_string(k - 1) + " (") +
                                   sim::format_bytes(p["client_weight_bytes"].get<double>()) + " of weights each), the swarm " +
                                   std::to_string(k) + "-" + std::to_string(end - 1)
                             : std::string("the swarm serves every block");
    if (const auto& dp = p["differential_privacy"]; !dp.is_null()) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "; each released vector (%g, %g)-DP: clipped to %.3g, noise sigma %.3g (noise norm %.2fx the clip)",
                    dp["epsilon"].get<double>(), dp["delta"].get<double>(), dp["clip_norm"].get<double>(), dp["sigma"].get<double>(),
                    dp["noise_norm_over_clip"].get<double>());
      line += buf;
    }
    std::printf("privacy       %s\n", line.c_str());
  }
  if (m.contains("verification")) {  // dishonest servers and spot checks (seed 002, section 6)
    const auto& v = m["verification"];
    const auto& c = v["checks"];
    std::printf("verification  %ld corrupted tokens (%.2f%%); %ld checks: %ld agreed, %ld found the server wrong, %ld the verifier, "
                "%ld undecided, %ld unverifiable, %ld abandoned; %s of recomputation, %s moved\n",
                v["corrupted_tokens"].get<long>(), 100.0 * v["corrupted_token_fraction"].get<double>(), c["total"].get<long>(),
                c["agreed"].get<long>(), c["server_wrong"].get<long>(), c["verifier_wrong"].get<long>(),
                c["inconclusive"].get<long>() + c["no_tie_breaker"].get<long>(), c["unverifiable"].get<long>(), c["abandoned"].get<long>(),
                sim::format_duration(v["check_device_seconds"].get<double>()).c_str(), sim::format_bytes(v["check_bytes"].get<double>()).c_str());
    if (const long passed = v["wrong_outputs_passed"].get<long>(); passed > 0)
      std::printf("  fooled      %ld checks agreed with a wrong output (a cartel verified its own, or the tolerance let it pass)\n", passed);
    for (const auto& b : v["banned"]) {
      std::string since = b["honest"].get<bool>() ? "an honest server, outvoted" : "it cheated from " + sim::format_duration(b["cheating_since"].get<double>());
      std::printf("  banned      %s at %s (%s)\n", b["node"].get<std::string>().c_str(), sim::format_duration(b["t"].get<double>()).c_str(),
                  since.c_str());
    }
  }
  if (m.contains("dht")) {
    const auto& d = m["dht"];
    std::printf("dht           %llu lookups (mean %.2f hops, p99 %s), %llu RPCs answered, %llu timed out, %s in %llu messages\n",
                static_cast<unsigned long long>(d["lookups"].get<std::uint64_t>()), d["mean_hops"].get<double>(),
                sim::format_duration(d["lookup_delay_s"]["p99"].get<double>()).c_str(),
                static_cast<unsigned long long>(d["rpcs_answered"].get<std::uint64_t>()),
                static_cast<unsigned long long>(d["rpc_timeouts"].get<std::uint64_t>()), sim::format_bytes(d["bytes"].get<double>()).c_str(),
                static_cast<unsigned long long>(d["messages"].get<std::uint64_t>()));
  }
  // A failures column where some server failed (listed or drawn churn).
  const bool failed = std::any_of(m["nodes"].begin(), m["nodes"].end(), [](const auto& n) { return n["failures"].template get<int>() > 0; });
  std::printf("%-14s%-12s%-10s%8s%14s%8s%s\n", "node", "gpu", "blocks", "util", "memory peak", "chains", failed ? "  failures" : "");
  for (const auto& n : m["nodes"]) {
    const std::string blocks =
        n["blocks"].is_null() ? "-" : std::to_string(n["blocks"]["start"].get<int>()) + "-" + std::to_string(n["blocks"]["end"].get<int>() - 1);
    std::printf("  %-12s%-12s%-10s%7.1f%%%14s%8d", n["name"].get<std::string>().c_str(), n["gpu"].get<std::string>().c_str(),
                blocks.c_str(), 100.0 * n["utilization"].get<double>(),
                sim::format_bytes(n["memory_peak_bytes"].get<double>()).c_str(), n["chains"].get<int>());
    if (failed) std::printf("%10d", n["failures"].get<int>());
    std::printf("\n");
  }
  print_clients(m);
  if (m.contains("real_execution")) {
    const auto& r = m["real_execution"];
    std::printf("real kernels  %s on %s, %.3f s of kernel time\n", r["backend"].get<std::string>().c_str(),
                r["device"].get<std::string>().c_str(), m["wall_clock"]["real_kernel_seconds"].get<double>());
    if (const auto& e = r["value_effect"]; !e.is_null() && e["hidden_relative_error"].is_null()) {
      std::printf("values        no session completed, so none was compared against the exact run\n");
    } else if (!e.is_null()) {
      std::printf("values        against the exact run: final hidden states %.3g relative error (max %.3g), logits KL %.3g "
                  "(max %.3g), %.1f%% of tokens the same\n",
                  e["hidden_relative_error"]["mean"].get<double>(), e["hidden_relative_error"]["max"].get<double>(),
                  e["logits_kl"]["mean"].get<double>(), e["logits_kl"]["max"].get<double>(), 100.0 * e["token_agreement"].get<double>());
      if (e.contains("privacy_noise"))
        std::printf("              privacy noise sigma %.3g on %ld released vectors (mean norm %.3g before clipping), %.1f%% clipped\n",
                    e["privacy_noise"]["sigma"].get<double>(), e["privacy_noise"]["vectors_released"].get<long>(),
                    e["privacy_noise"]["mean_norm_before_clip"].get<double>(), 100.0 * e["privacy_noise"]["clipped_fraction"].get<double>());
    }
  }
  if (!out.empty()) std::printf("outputs       %s/{metrics.json, trace.json, events.jsonl}\n", out.string().c_str());
}

/// The energy and cost lines of a run that answers requests (pipelines, trees, coded runs).
void print_request_energy_and_cost(const nlohmann::json& m) {
  print_energy_line(m["energy"], "joules_per_request", "request");
  print_cost_line(m, "per_thousand_requests", "thousand requests");
}

/// ", then N requests sent again" after a stage moved, or nothing when none were.
std::string resent_text(const nlohmann::json& move) {
  const int n = move["requests_resent"].get<int>();
  return n > 0 ? ", then " + std::to_string(n) + " requests sent again" : "";
}

/// ", the old node finishing N requests sent before it by T" after a drain handover (or what it
/// forwarded, after a forward handover), with how the drain ended; nothing after a resend handover.
std::string drained_text(const nlohmann::json& move) {
  if (!move.contains("requests_drained")) return "";
  const int n = move["requests_drained"].get<int>();
  if (n == 0) return ", nothing left to drain";
  const std::string from = move["from"].get<std::string>();
  std::string text = move.contains("messages_forwarded")
                         ? ", " + from + " finishing its work and forwarding " + std::to_string(move["messages_forwarded"].get<int>()) +
                               " messages of the " + std::to_string(n) + " requests sent before it"
                         : ", " + from + " finishing the " + std::to_string(n) + " requests sent before it";
  if (move.contains("drained_at_s")) return text + " by " + sim::format_duration(move["drained_at_s"].get<double>());
  if (move.contains("drain_failed_at_s")) return text + " until it failed at " + sim::format_duration(move["drain_failed_at_s"].get<double>());
  return text + " (still draining at the end)";
}

/// How a failback's or a migration's move ended: where the stage moved from and when, or why not.
void print_move_end(const nlohmann::json& b) {
  if (b.contains("ready_at_s"))
    std::printf("; moved from %s at %s (compute %s)%s%s\n", b["from"].get<std::string>().c_str(),
                sim::format_duration(b["ready_at_s"].get<double>()).c_str(), sim::format_duration(b["compute_s"].get<double>()).c_str(),
                drained_text(b).c_str(), resent_text(b).c_str());
  else
    std::printf("; %s\n", b.contains("dropped") ? "dropped (a node failed or the stage moved meanwhile)" : "not loaded before the end");
}

/// The plan an objective chose among the candidates: what it minimized, its predicted figures
/// next to the ones measured, and the nodes it switched off.
void print_plan_objective(const nlohmann::json& m) {
  const auto& o = m["partition"]["objective"];
  const auto& c = o["chosen"];
  std::string nodes;
  for (const auto& n : c["nodes"]) nodes += (nodes.empty() ? "" : ", ") + n.get<std::string>();
  std::printf("objective     minimize %s over %zu plans (%zu on the Pareto front): %d stage%s on %s; predicted %.4g requests/s served, %s",
              o["minimize"].get<std::string>().c_str(), o["candidates"].get<std::size_t>(), o["front"].size(), c["stages"].get<int>(),
              c["stages"].get<int>() == 1 ? "" : "s", nodes.c_str(), c["served_requests_per_s"].get<double>(), sim::format_energy(c["joules_per_request"].get<double>()).c_str());
  const int completed = m["requests"]["completed"].get<int>();  // the prediction leaves the clients out: so does this
  std::printf(" a request by the servers (measured %s)",
              completed > 0 ? sim::format_energy(m["energy"]["servers_joules"].get<double>() / completed).c_str() : "none");
  if (c.contains("cost_per_hour")) std::printf(", %.4g %s/h", c["cost_per_hour"].get<double>(), m["cost"]["currency"].get<std::string>().c_str());
  std::printf("\n");
  if (!o["switched_off"].empty()) {
    std::string off;
    for (const auto& n : o["switched_off"]) off += (off.empty() ? "" : ", ") + n.get<std::string>();
    std::printf("              switched off for the run: %s\n", off.c_str());
  }
}

/// The summary of a graph model's pipeline run.
void print_pipeline_summary(const nlohmann::json& m, const sim::RunReport& r, const std::filesystem::path& out) {
  const auto& part = m["partition"];
  std::printf("scenario      %s  (graph %s, %d ops, %s partitioner, %s placement%s)\n", m["scenario"].get<std::string>().c_str(),
              m["model"]["graph"].get<std::string>().c_str(), m["model"]["ops"].get<int>(),
              part["method"].get<std::string>().c_str(), m["placement"]["kind"].get<std::string>().c_str(),
              m.value("engine", "simgrid") == "flow" ? ", on the flow engine" : "");
  std::printf("simulated     %s in %.3f s wall (%llu messages)\n", sim::format_duration(r.simulated_time).c_str(), r.wall_seconds,
              static_cast<unsigned long long>(r.hops));
  const auto& rq = m["requests"];
  const int clients = rq.value("clients", 1);
  std::printf("requests      %d completed, %d failed of %d (%d in flight at most%s)\n", rq["completed"].get<int>(),
              rq["failed"].get<int>(), rq["total"].get<int>(), rq["max_in_flight"].get<int>(),
              clients > 1 ? (" per client, " + std::to_string(clients) + " clients").c_str() : "");
  const auto& tp = m["throughput"];
  std::printf("requests/s    %.3f overall, %.3f steady  (eq. 11 predicts %.3f without overlap, %.3f bound with overlap)\n",
              tp["requests_per_s"].get<double>(), tp["steady_requests_per_s"].get<double>(),
              m["placement"]["predicted_requests_per_s"].get<double>(),
              m["placement"]["overlap_bound_requests_per_s"].get<double>());
  const auto& lat = m["latency_s"];
  std::printf("latency       p50 %s  p90 %s  p99 %s\n", sim::format_duration(lat["p50"].get<double>()).c_str(),
              sim::format_duration(lat["p90"].get<double>()).c_str(), sim::format_duration(lat["p99"].get<double>()).c_str());
  print_request_phases(m);
  std::printf("network       %s moved in %llu messages\n", sim::format_bytes(m["network"]["bytes_moved"].get<double>()).c_str(),
              static_cast<unsigned long long>(m["network"]["messages"].get<std::uint64_t>()));
  print_request_energy_and_cost(m);
  if (part.contains("objective")) print_plan_objective(m);
  std::printf("%-7s%-14s%-12s%6s%12s%12s%8s\n", "stage", "node", "device", "ops", "compute", "predicted", "util");
  for (const auto& s : m["stages"])
    std::printf("  %-5d%-14s%-12s%6d%12s%12s%7.1f%%\n", s["stage"].get<int>(), s["node"].get<std::string>().c_str(),
                s["device"].get<std::string>().c_str(), s["ops"].get<int>(), sim::format_duration(s["compute_s"].get<double>()).c_str(),
                sim::format_duration(s["predicted_cost_s"].get<double>()).c_str(), 100.0 * s["utilization"].get<double>());
  for (const auto& f : m["failovers"]) {
    std::printf("failover      stage %d: %s down at %s, detected at %s", f["stage"].get<int>(), f["from"].get<std::string>().c_str(),
                sim::format_duration(f["failed_at_s"].get<double>()).c_str(), sim::format_duration(f["detected_at_s"].get<double>()).c_str());
    if (f.contains("to"))
      std::printf(", serving on %s at %s (compute %s)%s\n", f["to"].get<std::string>().c_str(),
                  sim::format_duration(f["ready_at_s"].get<double>()).c_str(), sim::format_duration(f["compute_s"].get<double>()).c_str(),
                  resent_text(f).c_str());
    else
      std::printf(", no spare node before the end\n");
  }
  if (m.contains("failbacks"))
    for (const auto& b : m["failbacks"]) {
      std::printf("failback      stage %d: %s back at %s, loading it", b["stage"].get<int>(), b["to"].get<std::string>().c_str(),
                  sim::format_duration(b["started_at_s"].get<double>()).c_str());
      print_move_end(b);
    }
  if (m.contains("migrations"))
    for (const auto& g : m["migrations"]) {
      std::printf("migration     stage %d: bottleneck %s on the links at %s, %s on %s; loading it", g["stage"].get<int>(),
                  sim::format_duration(g["bottleneck_before_s"].get<double>()).c_str(), sim::format_duration(g["started_at_s"].get<double>()).c_str(),
                  sim::format_duration(g["bottleneck_after_s"].get<double>()).c_str(), g["to"].get<std::string>().c_str());
      print_move_end(g);
    }
  if (!out.empty()) std::printf("outputs       %s/{metrics.json, trace.json, events.jsonl}\n", out.string().c_str());
}

/// The summary of a Fisher B-tree run.
void print_tree_summary(const nlohmann::json& m, const sim::RunReport& r, const std::filesystem::path& out) {
  const auto& t = m["model"]["tree"];
  std::printf("scenario      %s  (Fisher B-tree, %d classes, order %d, balance every %s)\n", m["scenario"].get<std::string>().c_str(),
              t["classes"].get<int>(), t["order"].get<int>(), sim::format_duration(t["balance_period_s"].get<double>()).c_str());
  std::printf("simulated     %s in %.3f s wall (%llu messages)\n", sim::format_duration(r.simulated_time).c_str(), r.wall_seconds,
              static_cast<unsigned long long>(r.hops));
  const auto& rq = m["requests"];
  std::printf("requests      %d completed, %d failed of %d\n", rq["completed"].get<int>(), rq["failed"].get<int>(), rq["total"].get<int>());
  std::printf("requests/s    %.3f overall, %.3f steady\n", m["throughput"]["requests_per_s"].get<double>(),
              m["throughput"]["steady_requests_per_s"].get<double>());
  const auto& lat = m["latency_s"];
  std::printf("latency       p50 %s  p90 %s  p99 %s\n", sim::format_duration(lat["p50"].get<double>()).c_str(),
              sim::format_duration(lat["p90"].get<double>()).c_str(), sim::format_duration(lat["p99"].get<double>()).c_str());
  print_request_phases(m);
  const auto& a = m["answers"];
  std::printf("answers       %.2f%% correct, %.2f nodes visited per request, %d early exits\n", 100.0 * a["accuracy"].get<double>(),
              a["mean_nodes_visited"].get<double>(), a["early_exits"].get<int>());
  print_request_energy_and_cost(m);
  const auto& tr = m["tree"];
  std::printf("tree          %d nodes serving, depth %d, %zu splits, %zu merges, %d spare servers\n", tr["serving_nodes"].get<int>(),
              tr["depth"].get<int>(), tr["splits"].size(), tr["merges"].size(), tr["spare_servers"].get<int>());
  const auto& mem = m["memory"];
  std::printf("memory        %s per tree node (%s per server with the runtime), %d nodes resident at most: %s\n",
              sim::format_bytes(mem["node_param_bytes"].get<double>()).c_str(), sim::format_bytes(mem["server_bytes"].get<double>()).c_str(),
              mem["resident_nodes_peak"].get<int>(), sim::format_bytes(mem["resident_param_bytes_peak"].get<double>()).c_str());
  for (const auto& s : tr["splits"]) {
    std::printf("split         node %d at %s (I %.1f, load %.2fx mean): %zu new node(s)", s["node"].get<int>(),
                sim::format_duration(s["at_s"].get<double>()).c_str(), s["fisher"].get<double>(), s["load_ratio"].get<double>(),
                s["created"].size());
    if (s.contains("ready_at_s"))
      std::printf(", serving at %s\n", sim::format_duration(s["ready_at_s"].get<double>()).c_str());
    else if (s.contains("cancelled"))
      std::printf(", cancelled (a server failed while they loaded)\n");
    else
      std::printf(", still loading at the end\n");
  }
  for (const auto& g : tr["merges"])
    std::printf("merge         node %d took node %d's keys at %s (mean I %.1f)%s\n", g["kept"].get<int>(), g["retired"].get<int>(),
                sim::format_duration(g["at_s"].get<double>()).c_str(), g["mean_fisher"].get<double>(),
                g.contains("collapsed_into") ? (", then node " + std::to_string(g["collapsed_into"].get<int>()) + " became a leaf").c_str() : "");
  for (const auto& f : tr["failovers"]) {
    std::printf("failover      node %d: %s down at %s, detected at %s (%d requests sent again)", f["node"].get<int>(),
                f["from"].get<std::string>().c_str(), sim::format_duration(f["failed_at_s"].get<double>()).c_str(),
                sim::format_duration(f["detected_at_s"].get<double>()).c_str(), f["requests_resent"].get<int>());
    if (f.contains("to"))
      std::printf(", serving on %s at %s\n", f["to"].get<std::string>().c_str(), sim::format_duration(f["ready_at_s"].get<double>()).c_str());
    else
      std::printf(", no spare before the end\n");
  }
  if (tr.contains("failbacks"))
    for (const auto& b : tr["failbacks"]) {
      std::printf("failback      node %d: %s back at %s, loading it", b["node"].get<int>(), b["to"].get<std::string>().c_str(),
                  sim::format_duration(b["started_at_s"].get<double>()).c_str());
      if (b.contains("ready_at_s"))
        std::printf("; moved from %s at %s\n", b["from"].get<std::string>().c_str(), sim::format_duration(b["ready_at_s"].get<double>()).c_str());
      else
        std::printf("; %s\n", b.contains("dropped") ? "dropped (a failure or a move meanwhile)" : "not loaded before the end");
    }
  if (a["degraded"].get<int>() > 0)
    std::printf("degraded      %d answers given by a node in place of its failed child\n", a["degraded"].get<int>());
  std::printf("%-6s%-8s%-10s%-13s%-11s%8s%8s%9s%7s\n", "node", "parent", "keys", "server", "state", "visits", "exits", "I", "load");
  for (const auto& n : tr["nodes"]) {
    char keys[32];
    std::snprintf(keys, sizeof keys, "[%d,%d)", n["keys"][0].get<int>(), n["keys"][1].get<int>());
    std::printf("  %-4d%-8d%-10s%-13s%-11s%8d%8d%9.2f%6.0f%%\n", n["id"].get<int>(), n["parent"].get<int>(), keys,
                n["node"].get<std::string>().c_str(), n["state"].get<std::string>().c_str(), n["visits"].get<int>(), n["exits"].get<int>(),
                n["fisher"].get<double>(), 100.0 * n["load"].get<double>());
  }
  if (!out.empty()) std::printf("outputs       %s/{metrics.json, trace.json, events.jsonl}\n", out.string().c_str());
}

/// The summary of an erasure-coded inference run.
void print_coded_summary(const nlohmann::json& m, const sim::RunReport& r, const std::filesystem::path& out) {
  const auto& c = m["model"]["coded"];
  const int parity = c["parity"].get<int>();
  std::printf("scenario      %s  (%s inference over %d models%s)\n", m["scenario"].get<std::string>().c_str(),
              sim::coding_name(c["method"].get<std::string>(), parity).c_str(), c["models"].get<int>(),
              parity > 1 ? (", " + std::to_string(parity) + " coded ones").c_str() : "");
  std::printf("simulated     %s in %.3f s wall (%llu messages)\n", sim::format_duration(r.simulated_time).c_str(), r.wall_seconds,
              static_cast<unsigned long long>(r.hops));
  const auto& rq = m["requests"];
  std::printf("requests      %d completed, %d failed of %d; %d decoded%s, %d member messages sent again\n", rq["completed"].get<int>(),
              rq["failed"].get<int>(), rq["total"].get<int>(), rq["decoded"].get<int>(),
              parity > 1 ? (" (" + std::to_string(rq["outputs_decoded"].get<int>()) + " outputs)").c_str() : "", rq["resent"].get<int>());
  std::printf("requests/s    %.3f overall, %.3f steady\n", m["throughput"]["requests_per_s"].get<double>(),
              m["throughput"]["steady_requests_per_s"].get<double>());
  const auto& lat = m["latency_s"];
  std::printf("latency       p50 %s  p90 %s  p99 %s  max %s\n", sim::format_duration(lat["p50"].get<double>()).c_str(),
              sim::format_duration(lat["p90"].get<double>()).c_str(), sim::format_duration(lat["p99"].get<double>()).c_str(),
              sim::format_duration(lat["max"].get<double>()).c_str());
  print_request_phases(m);
  const auto& a = m["answers"];
  std::printf("answers       %.2f%% correct (%.2f%% had every output arrived); %.1f%% of requests decoded\n",
              100.0 * a["accuracy"].get<double>(), 100.0 * a["accuracy_all_outputs"].get<double>(), 100.0 * a["decoded_share"].get<double>());
  print_request_energy_and_cost(m);
  if (m.contains("decoding_offline")) {
    const auto& d = m["decoding_offline"];
    std::printf("decoding      normalized accuracy %.2f%% mean over the tasks (%d test inputs each):", 100.0 * d["mean_normalized"].get<double>(),
                d["test_inputs_per_task"].get<int>());
    for (std::size_t t = 0; t < d["accuracy"].size(); ++t)
      std::printf("  model %zu %.1f%% -> decoded %.1f%%", t, 100.0 * d["accuracy"][t].get<double>(), 100.0 * d["decoded_accuracy"][t].get<double>());
    std::printf("\n");
    if (d.contains("mean_normalized_two_missing"))
      std::printf("              with the next model's output missing too (decoded from coded models 0 and 1): %.2f%%\n",
                  100.0 * d["mean_normalized_two_missing"].get<double>());
  }
  std::printf("%-8s%-7s%-14s%-12s%10s%8s%10s%9s%7s\n", "member", "role", "node", "gpu", "compute", "visits", "straggles", "failures", "util");
  for (const auto& mb : m["members"])
    std::printf("  %-6d%-7s%-14s%-12s%10s%8d%10d%9d%6.0f%%\n", mb["member"].get<int>(), mb["role"].get<std::string>().c_str(),
                mb["node"].get<std::string>().c_str(), mb["gpu"].get<std::string>().c_str(),
                sim::format_duration(mb["compute_s"].get<double>()).c_str(), mb["visits"].get<int>(), mb["straggles"].get<int>(),
                mb["failures"].get<int>(), 100.0 * mb["utilization"].get<double>());
  if (!out.empty()) std::printf("outputs       %s/{metrics.json, trace.json, events.jsonl}\n", out.string().c_str());
}

}  // namespace

int run(const RunArgs& args) {
  sim::Scenario sc;
  try {
    std::vector<sim::Override> overrides;
    for (const std::string& o : args.overrides) overrides.push_back(sim::parse_override(o));
    sc = sim::load_scenario_file(args.file, overrides);
  } catch (const sim::ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  for (const sim::Advisory& a : sim::scenario_advisories(sc))
    std::fprintf(stderr, "%s: advice: %s: %s\n", args.file.c_str(), a.path.c_str(), a.message.c_str());
  if (sc.coded && args.execute == "real") {
    std::fprintf(stderr, "swarmsim run: --execute real runs transformer blocks on real kernels; %s serves erasure-coded inference, "
                         "whose models compute their outputs for real already and price their declared node_work (drop --execute)\n",
                 args.file.c_str());
    return 2;
  }
  if (sc.tree && args.execute == "real") {
    std::fprintf(stderr, "swarmsim run: --execute real runs transformer blocks on real kernels; %s serves a Fisher B-tree, whose "
                         "nodes compute their heads for real already and price their declared node_work (drop --execute)\n", args.file.c_str());
    return 2;
  }
  if (sc.graph && args.execute == "real") {
    std::fprintf(stderr, "swarmsim run: --execute real runs transformer blocks on real kernels; %s serves a graph model, "
                         "whose stages are priced (drop --execute or use --execute priced)\n", args.file.c_str());
    return 2;
  }
  if (sc.workload.fine_tuning && args.execute == "real") {
    std::fprintf(stderr, "swarmsim run: --execute real runs the forward kernels of inference; %s runs fine-tuning sessions, whose "
                         "backward passes and adapter updates are priced (drop --execute)\n", args.file.c_str());
    return 2;
  }
  if (sc.engine == sim::EngineKind::Flow && args.execute == "real") {
    std::fprintf(stderr, "swarmsim run: --execute real runs the kernels inside SimGrid actors; %s asks for the flow engine "
                         "(use --engine simgrid, or drop --execute)\n", args.file.c_str());
    return 2;
  }
  sim::RunOptions opts;
  if (!args.no_outputs) opts.out_dir = args.out_dir.empty() ? std::filesystem::path("runs") / sc.name : std::filesystem::path(args.out_dir);
  if (!opts.out_dir.empty())
    if (const std::string problem = sim::output_directory_problem(opts.out_dir); !problem.empty()) {
      std::fprintf(stderr, "swarmsim run: %s %s: %s (choose another with --out DIR, or --no-outputs)\n",
                   args.out_dir.empty() ? "output directory" : "--out", opts.out_dir.string().c_str(), problem.c_str());
      return 2;
    }
  opts.verbosity = args.verbosity;
  opts.execute_real = args.execute == "real";
  opts.backend = args.backend;
  opts.progress = args.progress == "always" ? sim::RunOptions::Progress::Always
                  : args.progress == "never" ? sim::RunOptions::Progress::Never
                                             : sim::RunOptions::Progress::Auto;
  try {
    sim::SwarmSimulation simulation(sc, sim::make_cost_model(sc));
    const sim::RunReport report = simulation.run(opts);
    if (!args.metrics.empty()) {
      for (const std::string& path : args.metrics) {
        const nlohmann::json* v = sim::find_json_path(report.metrics, path);
        if (!v) {
          std::fprintf(stderr, "swarmsim run: --metric %s: no such value in metrics.json\n", path.c_str());
          return 2;
        }
        std::printf("%s\n", v->is_string() ? v->get<std::string>().c_str() : v->dump().c_str());
      }
    } else if (args.json)
      std::printf("%s\n", report.metrics.dump(2).c_str());
    else if (sc.graph)
      print_pipeline_summary(report.metrics, report, opts.out_dir);
    else if (sc.tree)
      print_tree_summary(report.metrics, report, opts.out_dir);
    else if (sc.coded)
      print_coded_summary(report.metrics, report, opts.out_dir);
    else
      print_summary(report.metrics, report, opts.out_dir);
  } catch (const sim::ScenarioError& e) {  // input found wrong only once planned (a pipeline objective no plan meets)
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim run: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace swarmsim::cli
