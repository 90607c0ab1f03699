#include <algorithm>
#include <cstdio>

#include "sim/cli/commands.hpp"
#include "sim/coded/coin.hpp"
#include "sim/scenario/scenario_advice.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/units.hpp"

namespace swarmsim::cli {

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
      if (sc.churn) {
        long downs = 0;
        for (const sim::ReplayEvent& e : sc.events) downs += e.action == sim::EventAction::NodeDown;
        const long own = std::count_if(sc.nodes.begin(), sc.nodes.end(), [](const sim::NodeSpec& n) { return n.mtbf_s || n.mttr_s; });
        const std::string own_periods = own ? "; " + std::to_string(own) + (own == 1 ? " server has its own" : " servers have their own") : "";
        std::printf("%s: churn: %ld node_down events in all, listed and drawn (failures until %s, mean repair %s%s)\n", file.c_str(), downs,
                    sim::format_duration(sc.churn->until_s).c_str(), sim::format_duration(sc.churn->mttr_s).c_str(), own_periods.c_str());
      }
      for (const sim::Advisory& a : sim::scenario_advisories(sc))
        std::printf("%s: advice: %s: %s\n", file.c_str(), a.path.c_str(), a.message.c_str());
    } catch (const sim::ScenarioError& e) {
      ++bad;
      std::fprintf(stderr, "%s\n", e.what());
      std::fprintf(stderr, "%s: %zu problem%s\n", file.c_str(), e.diagnostics().size(),
                   e.diagnostics().size() == 1 ? "" : "s");
    }
  }
  return bad ? 2 : 0;
}

}  // namespace swarmsim::cli
