#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <unordered_set>

#include "sim/cli/commands.hpp"
#include "sim/coded/coin.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/scenario/scenario_advice.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_coverage.hpp"
#include "sim/swarm/model_coverage.hpp"
#include "sim/units.hpp"

namespace swarmsim::cli {
namespace {

/// Under churn, how long every block had a server able to serve it from the first session to the
/// last failure, and the blocks that had none the longest (sim/swarm/block_coverage.hpp).
void print_coverage(const std::string& file, const sim::Scenario& sc) {
  const double from = sc.workload.start_s, until = sc.churn->until_s;
  if (until <= from) return;
  const std::string window = "from the first session (" + sim::format_duration(from) + ") to " + sim::format_duration(until);
  const std::optional<sim::BlockCoverage> c = sim::block_coverage(sc, from, until);
  if (!c) {
    if (!sc.graph && !sc.tree && !sc.coded)
      std::printf("%s: churn: some servers' blocks are \"auto\" (chosen at run time), so their coverage is not foreseen\n", file.c_str());
    return;
  }
  if (c->all_covered_fraction() >= 1.0) {
    std::printf("%s: churn: every block had a serving server all the time %s\n", file.c_str(), window.c_str());
    return;
  }
  const std::vector<sim::UnservedRange> ranges = sim::unserved_ranges(c->uncovered_s);
  const sim::UnservedRange* worst = sim::longest_unserved(ranges);
  if (!worst) return;  // not reached: a window not all covered has a block unserved for some time
  std::printf("%s: churn: every block had a serving server %.1f%% of the time %s; the least served, %s %s, had none for %s in all\n",
              file.c_str(), 100.0 * c->all_covered_fraction(), window.c_str(), worst->blocks.size() == 1 ? "block" : "blocks",
              worst->blocks.str().c_str(), sim::format_duration(worst->unserved_s).c_str());
}

}  // namespace

int validate(const ValidateArgs& args) {
  int bad = 0;
  std::vector<sim::Override> overrides;
  try {
    for (const std::string& o : args.overrides) overrides.push_back(sim::parse_override(o));
  } catch (const sim::ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  for (const std::string& file : args.files) {
    try {
      const sim::Scenario sc = sim::load_scenario_file(file, overrides);
      std::optional<sim::GraphOpPrices> prices;  // priced first: a malformed op profile is an error, not "ok"
      if (sc.graph) prices = sim::price_graph_ops(sc);
      if (sc.coded)
        std::printf("%s: ok: \"%s\", %zu nodes, %zu clients, %s inference over %d models%s (%d classes), %d requests\n", file.c_str(),
                    sc.name.c_str(), sc.nodes.size(), sc.clients.size(),
                    sim::coding_name(sc.coded->method, sc.coded->parity).c_str(), sc.coded->models,
                    sc.coded->parity > 1 ? (", " + std::to_string(sc.coded->parity) + " coded ones").c_str() : "",
                    sc.coded->classes, sc.workload.sessions);
      else if (sc.tree)
        std::printf("%s: ok: \"%s\", %zu nodes, %zu clients, Fisher B-tree (%d classes, order %d, %d leaves at start), %d requests\n",
                    file.c_str(), sc.name.c_str(), sc.nodes.size(), sc.clients.size(), sc.tree->classes, sc.tree->order,
                    sc.tree->initial_children, sc.workload.sessions);
      else if (sc.graph)
        std::printf("%s: ok: \"%s\", %zu nodes, %zu clients, graph %s (%d ops), %d requests, partitioner %s\n", file.c_str(),
                    sc.name.c_str(), sc.nodes.size(), sc.clients.size(), sc.graph->name().c_str(), sc.graph->size(),
                    sc.workload.sessions, partition::to_string(sc.policy.partitioner.method));
      else
        std::printf("%s: ok: \"%s\", %zu nodes, %zu clients, %s (%d blocks), %d sessions, router %s\n", file.c_str(),
                    sc.name.c_str(), sc.nodes.size(), sc.clients.size(), sc.model.name.c_str(), sc.model.n_layers,
                    sc.workload.sessions, sim::to_string(sc.policy.router));
      if (prices) {  // what a request costs each kind of server, before any partitioning
        int kernels = 0;
        std::string per_device;
        for (const sim::GraphWork& w : sim::graph_work_per_device(sc, *prices, kernels))
          per_device += (per_device.empty() ? "" : ", ") + w.device + (w.servers > 1 ? " (x" + std::to_string(w.servers) + ")" : "") + " " +
                        sim::format_duration(w.seconds);
        std::printf("%s: graph work per request, every op on one server: %s; %d kernels (ops priced by %s)\n", file.c_str(),
                    per_device.c_str(), kernels, prices->pricing.c_str());
      }
      if (sc.churn) {
        std::unordered_set<std::string> clients;
        for (const sim::ClientSpec& c : sc.clients) clients.insert(c.name);
        long downs = 0, client_downs = 0;
        for (const sim::ReplayEvent& e : sc.events)
          if (e.action == sim::EventAction::NodeDown) {
            ++downs;
            client_downs += clients.count(e.node) != 0;
          }
        const long own = std::count_if(sc.nodes.begin(), sc.nodes.end(), [](const sim::NodeSpec& n) { return n.mtbf_s || n.mttr_s; });
        const std::string own_periods = own ? "; " + std::to_string(own) + (own == 1 ? " server has its own" : " servers have their own") : "";
        const std::string of_clients = client_downs ? " (" + std::to_string(client_downs) + " of clients)" : "";
        std::printf("%s: churn: %ld node_down events in all%s, listed and drawn (failures until %s, mean repair %s%s)\n", file.c_str(), downs,
                    of_clients.c_str(), sim::format_duration(sc.churn->until_s).c_str(), sim::format_duration(sc.churn->mttr_s).c_str(),
                    own_periods.c_str());
        print_coverage(file, sc);
      }
      if (const sim::WorkloadSpec& w = sc.workload; w.arrival == sim::ArrivalProcess::Phases) {
        double cycle = 0, least = w.phases.front().rate_per_s;
        for (const sim::ArrivalPhase& p : w.phases) {
          cycle += p.duration_s;
          least = std::min(least, p.rate_per_s);
        }
        const double per_cycle = w.mean_phase_rate_per_s() * cycle;
        std::printf("%s: arrival phases: %zu, %s to %s over a %s cycle (%s on average); the %d arrivals take about %.3g cycles\n",
                    file.c_str(), w.phases.size(), sim::format_rate(least).c_str(), sim::format_rate(w.peak_phase_rate_per_s()).c_str(),
                    sim::format_duration(cycle).c_str(), sim::format_rate(w.mean_phase_rate_per_s()).c_str(), w.sessions,
                    per_cycle > 0 ? w.sessions / per_cycle : 0.0);
      }
      for (const sim::Advisory& a : sim::scenario_advisories(sc))
        std::printf("%s: advice: %s: %s\n", file.c_str(), a.path.c_str(), a.message.c_str());
    } catch (const sim::ScenarioError& e) {
      ++bad;
      std::fprintf(stderr, "%s\n", e.what());
      std::fprintf(stderr, "%s: %zu problem%s\n", file.c_str(), e.diagnostics().size(),
                   e.diagnostics().size() == 1 ? "" : "s");
    } catch (const std::exception& e) {  // e.g. a malformed op profile, which names its own file
      ++bad;
      std::fprintf(stderr, "swarmsim validate: %s: %s\n", file.c_str(), e.what());
    }
  }
  return bad ? 2 : 0;
}

}  // namespace swarmsim::cli
