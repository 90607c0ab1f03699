// swarmsim partition GRAPH --k K [--method M|all]: cut a model graph into pipeline blocks and
// print the partition with its quality metrics (seed 002 §2.5-2.6, seed 003 strategies).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpu/device_catalog.hpp"
#include "gpu/shard_cost_model.hpp"
#include "sim/cli/commands.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/partition/model_graph_io.hpp"
#include "sim/partition/strategies.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/units.hpp"

namespace swarmsim::cli {
namespace {

/// Writes the JSON result to --out; false, with the reason on stderr, when it cannot.
bool write_result(const std::string& out, const nlohmann::json& doc) {
  try {
    sim::write_file_atomically(out, doc.dump(2) + "\n");
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim partition: --out %s: %s\n", out.c_str(), e.what());
    return false;
  }
}

using namespace swarmsim::partition;

nlohmann::json describe(const ModelGraph& g, const Partition& part, const PartitionQuality& q, double lower, double wall_s) {
  nlohmann::json blocks = nlohmann::json::array();
  for (int b = 0; b < part.blocks; ++b) {
    nlohmann::json ops = nlohmann::json::array();
    for (int v = 0; v < g.size(); ++v)
      if (part.block_of[v] == b) ops.push_back(g.op(v).name);
    const BlockCost& c = q.block[b];
    blocks.push_back({{"block", b}, {"cost_s", c.total()}, {"io_in_s", c.io_in_s}, {"work_s", c.work_s},
                      {"overflow_s", c.overflow_s}, {"io_out_s", c.io_out_s}, {"param_bytes", c.param_bytes},
                      {"peak_bytes", c.peak_bytes}, {"ops", ops}});
  }
  nlohmann::json j = {{"method", to_string(part.method)},
                      {"blocks", part.blocks},
                      {"bottleneck_s", q.bottleneck_s},
                      {"lower_bound_s", lower},
                      {"vs_lower_bound", lower > 0 ? q.bottleneck_s / lower : 0.0},
                      {"load_stddev_s", q.load_stddev_s},
                      {"communication_bytes", q.communication_bytes},
                      {"critical_path_blocks", q.critical_path_blocks},
                      {"critical_path_s", q.critical_path_s},
                      {"peak_memory_bytes", q.peak_memory_bytes},
                      {"wall_seconds", wall_s},
                      {"partition", blocks}};
  if (!part.convergence.empty()) {
    nlohmann::json log = nlohmann::json::array();
    for (const auto& gen : part.convergence) log.push_back({{"generation", gen.generation}, {"best_s", gen.best_s}, {"mean_s", gen.mean_s}});
    j["convergence"] = log;
  }
  return j;
}

/// Says `name` is no partitioning method and which are; the exit status of bad input.
int unknown_method(const std::string& name) {
  std::string names;
  for (const auto& n : method_names()) names += (names.empty() ? "" : ", ") + n;
  std::fprintf(stderr, "swarmsim partition: --method: unknown method \"%s\"; expected one of %s, or all\n", name.c_str(), names.c_str());
  return 2;
}

/// The chosen plan's predicted figures and, with `front`, every plan of the Pareto front (most
/// throughput first), the chosen one marked.
void print_plan_front(const sim::Scenario& sc, const sim::PipelinePlan& plan, const nlohmann::json& objective, bool front) {
  const bool priced = sc.priced();
  const std::string currency = sc.costs ? sc.costs->currency : sim::CostSpec{}.currency;
  std::printf("\nminimize %s over %zu plans scored (%zu on the Pareto front of throughput, latency, energy%s)%s\n",
              objective["minimize"].get<std::string>().c_str(), plan.candidates.size(), objective["front"].size(), priced ? ", cost" : "",
              sc.policy.partitioner.objective.unused_nodes == sim::UnusedNodes::Off ? "; servers without a stage switched off" : "");
  std::printf("  %-3s%-7s%-34s%12s%12s%12s%12s", "", "stages", "nodes", "requests/s", "served", "latency", "energy/req");
  if (priced) std::printf("%14s", (currency + "/h").c_str());
  std::printf("\n");
  const auto row = [&](const sim::PlanScore& s, bool chosen) {
    std::string names;
    for (const int n : s.nodes) names += (names.empty() ? "" : ",") + sc.nodes[static_cast<std::size_t>(n)].name;
    if (names.size() > 33) names = names.substr(0, 30) + "...";
    std::printf("  %-3s%-7d%-34s%12.4g%12.4g%12s%12s", chosen ? "*" : "", s.stages, names.c_str(), s.requests_per_s, s.served_requests_per_s,
                sim::format_duration(s.latency_s).c_str(), sim::format_energy(s.joules_per_request).c_str());
    if (priced) std::printf("%14.4g", s.cost_per_s * 3600.0);
    std::printf("%s\n", s.feasible ? "" : "  (outside the bounds)");
  };
  const sim::PlanScore& chosen = plan.candidates[static_cast<std::size_t>(plan.chosen)];
  if (!front) {
    row(chosen, true);
    return;
  }
  std::vector<const sim::PlanScore*> on_front;
  for (const sim::PlanScore& s : plan.candidates)
    if (s.on_front) on_front.push_back(&s);
  std::stable_sort(on_front.begin(), on_front.end(), [](auto* a, auto* b) { return a->requests_per_s > b->requests_per_s; });
  for (const sim::PlanScore* s : on_front) row(*s, s == &chosen);
  if (!chosen.on_front) row(chosen, true);  // the bounds can keep every front plan out
}

/// --loads "RATE[:DURATION],...": the offered loads, or the reason they cannot be read.
std::optional<std::vector<sim::OfferedLoad>> parse_loads(const std::string& text, std::string& error) {
  std::vector<sim::OfferedLoad> loads;
  std::size_t from = 0;
  while (from <= text.size()) {
    const std::size_t comma = std::min(text.find(',', from), text.size());
    const std::string item = text.substr(from, comma - from);
    const std::size_t colon = item.find(':');
    const std::string rate_text = item.substr(0, colon);
    const sim::ParsedQuantity rate = sim::parse_quantity(rate_text, sim::Quantity::Rate);
    if (!rate.value || !(*rate.value > 0)) {
      error = "\"" + item + "\": expected RATE[:DURATION] with a positive rate: " +
              (rate.value ? "got " + rate_text : rate.error);
      return std::nullopt;
    }
    sim::OfferedLoad load{*rate.value, 0.0};
    if (colon != std::string::npos) {
      const sim::ParsedQuantity lasts = sim::parse_quantity(item.substr(colon + 1), sim::Quantity::Duration);
      if (!lasts.value || !(*lasts.value > 0)) {
        error = "\"" + item + "\": expected a positive duration after the ':': " +
                (lasts.value ? "got " + item.substr(colon + 1) : lasts.error);
        return std::nullopt;
      }
      load.hours = *lasts.value / 3600.0;
    }
    loads.push_back(load);
    from = comma + 1;
  }
  return loads;
}

/// "6.55 million", "12,000" style counts for the totals line.
std::string count_text(double n) {
  char buf[48];
  if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.3g million", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

/// How long a load lasts, in the largest of h, min, s that keeps it at least 1: "8 h", "40 s".
std::string lasts_text(double hours) {
  char buf[32];
  const double s = hours * 3600.0;
  if (s >= 3600.0) std::snprintf(buf, sizeof buf, "%.3g h", hours);
  else if (s >= 60.0) std::snprintf(buf, sizeof buf, "%.3g min", s / 60.0);
  else std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

/// The load-following table: per load the objective's plan, then the peak's plan at each load,
/// then the totals over the schedule.
void print_load_schedule(const sim::Scenario& sc, const sim::LoadSchedule& schedule) {
  const bool priced = sc.priced();
  const std::string currency = sc.costs ? sc.costs->currency : sim::CostSpec{}.currency;
  const sim::PlanObjectiveSpec& obj = sc.policy.partitioner.objective;
  const auto header = [&] {
    std::printf("  %-10s%7s  %-7s%-30s%12s%11s%12s%10s", "load", "lasts", "stages", "nodes", "requests/s", "latency", "energy/req", "power");
    if (priced) std::printf("%12s", (currency + "/h").c_str());
    std::printf("\n");
  };
  const auto row = [&](const sim::LoadPlan& lp, const sim::PlanScore* s, const std::string& none) {
    std::printf("  %-10s%7s  ", sim::format_rate(lp.load.requests_per_s).c_str(), lp.load.hours > 0 ? lasts_text(lp.load.hours).c_str() : "-");
    if (!s) {
      std::printf("no plan: %s\n", none.c_str());
      return;
    }
    std::string names;
    for (const int n : s->nodes) names += (names.empty() ? "" : ",") + sc.nodes[static_cast<std::size_t>(n)].name;
    if (names.size() > 29) names = names.substr(0, 26) + "...";
    std::printf("%-7d%-30s%12.4g%11s%12s%10s", s->stages, names.c_str(), s->requests_per_s, sim::format_duration(s->latency_s).c_str(),
                sim::format_energy(s->joules_per_request).c_str(), sim::format_power(sim::plan_power_w(*s)).c_str());
    if (priced) std::printf("%12.4g", s->cost_per_s * 3600.0);
    std::printf("%s\n", s->feasible ? "" : "  (falls behind)");
  };
  std::printf("\nplans for %zu loads, minimize %s, each keeping up with its load%s:\n", schedule.loads.size(), sim::to_string(obj.minimize),
              obj.unused_nodes == sim::UnusedNodes::Off ? "; servers without a stage switched off" : "; servers without a stage standing by");
  header();
  for (const sim::LoadPlan& lp : schedule.loads) row(lp, lp.following ? &*lp.following : nullptr, lp.none_because);
  if (obj.minimize == sim::PlanGoal::Bottleneck || obj.unused_nodes == sim::UnusedNodes::Standby)
    std::printf("(%s%s%s)\n", obj.minimize == sim::PlanGoal::Bottleneck ? "minimizing the bottleneck runs the fastest plan whatever the load; --minimize energy or cost follows it" : "",
                obj.minimize == sim::PlanGoal::Bottleneck && obj.unused_nodes == sim::UnusedNodes::Standby ? "; " : "",
                obj.unused_nodes == sim::UnusedNodes::Standby ? "servers standing by draw idle power at every load: unused_nodes \"off\" saves it" : "");
  if (schedule.peak < 0) {
    std::printf("no load has a plan\n");
    return;
  }
  if (!schedule.switches.empty()) {
    std::printf("\nswitching plans (the schedule repeats: after the last load, the first):\n");
    const auto names = [&](const std::vector<int>& nodes) {
      std::string text;
      for (const int n : nodes) text += (text.empty() ? "" : ",") + sc.nodes[static_cast<std::size_t>(n)].name;
      return text;
    };
    for (const sim::PlanSwitch& sw : schedule.switches) {
      const std::string from = sim::format_rate(schedule.loads[static_cast<std::size_t>(sw.from)].load.requests_per_s);
      const std::string to = sim::format_rate(schedule.loads[static_cast<std::size_t>(sw.to)].load.requests_per_s);
      std::printf("  %-10s-> %-10s", from.c_str(), to.c_str());
      if (!sw.loading.empty())
        std::printf("%s load%s %s in %s", names(sw.loading).c_str(), sw.loading.size() == 1 ? "s" : "", sim::format_bytes(sw.param_bytes).c_str(),
                    sim::format_duration(sw.load_s).c_str());
      if (!sw.switched_off.empty()) std::printf("%s%s off", sw.loading.empty() ? "" : "; ", names(sw.switched_off).c_str());
      if (sw.joules > 0) std::printf("; %s to power servers while they load", sim::format_energy(sw.joules).c_str());
      std::printf("\n");
    }
  }
  const sim::LoadPlan& peak = schedule.loads[static_cast<std::size_t>(schedule.peak)];
  std::printf("\nthe plan for %s, fixed at every load:\n", sim::format_rate(peak.load.requests_per_s).c_str());
  header();
  for (const sim::LoadPlan& lp : schedule.loads) row(lp, &*lp.fixed, "");
  if (!schedule.following_joules) {
    std::printf("\n(totals need a duration for every load, RATE:DURATION, and a plan for each)\n");
    return;
  }
  double hours = 0;
  for (const sim::LoadPlan& lp : schedule.loads) hours += lp.load.hours;
  const double f = *schedule.following_joules, x = *schedule.fixed_joules;
  std::printf("\nover %s (%s requests): following the load %.4g kWh (%s a request)", lasts_text(hours).c_str(), count_text(*schedule.requests).c_str(), f / 3.6e6,
              sim::format_energy(f / *schedule.requests).c_str());
  if (schedule.following_cost) std::printf(", %.4g %s", *schedule.following_cost, currency.c_str());
  std::printf("; the fixed plan %.4g kWh (%s a request)", x / 3.6e6, sim::format_energy(x / *schedule.requests).c_str());
  if (schedule.fixed_cost) std::printf(", %.4g %s", *schedule.fixed_cost, currency.c_str());
  // "20.8% less" or "28.6% more"
  const auto change = [](double following, double fixed) {
    char buf[48];
    const double saved = fixed > 0 ? 1.0 - following / fixed : 0.0;
    std::snprintf(buf, sizeof buf, "%.1f%% %s", 100.0 * std::abs(saved), saved >= 0 ? "less" : "more");
    return std::string(buf);
  };
  std::printf("\n  following the load: the servers' energy %s", change(f, x).c_str());
  if (schedule.following_cost) std::printf(", their cost %s", change(*schedule.following_cost, *schedule.fixed_cost).c_str());
  double switching = 0;
  for (const sim::PlanSwitch& sw : schedule.switches) switching += sw.joules;
  std::printf(" than the fixed plan (%zu switch%s included: %s)\n", schedule.switches.size(), schedule.switches.size() == 1 ? "" : "es",
              sim::format_energy(switching).c_str());
}

/// --nodes: the graph cut and placed for a scenario's server nodes, as plan_pipeline does for a
/// graph scenario (every stage count, optimal placement, the recut onto the nodes). `given` is the
/// graph to cut, with the command's partitioner settings; null: the scenario's own graph model
/// and policy.partitioner, each setting the command gives replacing the scenario's.
int partition_onto_nodes(const ModelGraph* given, const PartitionArgs& args, std::optional<Method> method) {
  sim::Scenario sc;
  try {
    sc = sim::load_scenario_file(args.nodes);
  } catch (const sim::ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  if (!args.pricing.empty()) sc.pricing = args.pricing == "roofline" ? sim::Pricing::Roofline : sim::Pricing::Auto;
  sim::PartitionerSpec& ps = sc.policy.partitioner;
  const int servers = static_cast<int>(sc.nodes.size());
  if (given) {
    sc.graph = std::make_shared<const ModelGraph>(*given);
    sc.graph_source = args.graph;
    ps.method = method.value_or(Method::SliceGraph);
    ps.stages = args.k > 0 ? std::min(args.k, servers) : servers;
    ps.brkga.population = args.population > 0 ? args.population : 64;
    ps.brkga.generations = args.generations > 0 ? args.generations : 100;
    ps.brkga.seed = static_cast<std::uint64_t>(args.seed >= 0 ? args.seed : 1);
  } else {
    if (!sc.graph) {
      std::fprintf(stderr, "swarmsim partition: %s has no graph model (model.graph); give a graph to cut for its nodes, e.g. gen:unet-sd\n",
                   args.nodes.c_str());
      return 2;
    }
    if (method) ps.method = *method;
    if (args.k > 0) ps.stages = std::min(args.k, servers);
    if (args.population > 0) ps.brkga.population = args.population;
    if (args.generations > 0) ps.brkga.generations = args.generations;
    if (args.seed >= 0) ps.brkga.seed = static_cast<std::uint64_t>(args.seed);
  }
  const ModelGraph& g = *sc.graph;
  const Method chosen_method = ps.method;
  sim::PlanObjectiveSpec& objective = sc.policy.partitioner.objective;
  if (!args.minimize.empty() || args.frontier) objective.set = true;
  if (!args.minimize.empty()) objective.minimize = sim::plan_goal_from_string(args.minimize).value_or(sim::PlanGoal::Bottleneck);  // CLI11 checked it
  if (objective.minimize == sim::PlanGoal::Cost && !sc.priced()) {
    std::fprintf(stderr, "swarmsim partition: --minimize cost: %s prices nothing; give it \"costs\" (rent, electricity) or its nodes their own\n",
                 args.nodes.c_str());
    return 2;
  }
  if (!args.loads.empty()) {
    std::string error;
    std::optional<std::vector<sim::OfferedLoad>> loads;
    double quiet_hours = 0;  // --loads workload: phases without arrivals, left out
    if (args.loads == "workload") {
      if (sc.workload.arrival != sim::ArrivalProcess::Phases) {
        std::fprintf(stderr, "swarmsim partition: --loads workload: %s's arrivals have no phases (workload.arrival.process \"phases\"); "
                             "give the loads as RATE[:DURATION],...\n", args.nodes.c_str());
        return 2;
      }
      loads.emplace();
      for (const sim::ArrivalPhase& p : sc.workload.phases) {
        if (p.rate_per_s > 0) loads->push_back({p.rate_per_s, p.duration_s / 3600.0});
        else quiet_hours += p.duration_s / 3600.0;
      }
    } else {
      loads = parse_loads(args.loads, error);
    }
    if (!loads) {
      std::fprintf(stderr, "swarmsim partition: --loads: %s\n", error.c_str());
      return 2;
    }
    if (args.frontier) {
      std::fprintf(stderr, "swarmsim partition: --frontier shows the plans for the scenario's own load; give it without --loads\n");
      return 2;
    }
    objective.set = true;
    sim::LoadSchedule schedule;
    try {
      sim::ProgressLine progress(sim::RunOptions::Progress::Auto, 0);
      schedule = sim::plan_for_loads(sc, *loads, [&](const sim::PlanProgress& p) {
        progress.status([&] { return sim::plan_progress_text(g.name(), chosen_method, p); });
      });
      progress.finish();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "swarmsim partition: %s\n", e.what());
      return 1;
    }
    const nlohmann::json doc = {{"graph", g.name()}, {"ops", g.size()}, {"nodes_from", args.nodes}, {"k", ps.stages},
                                {"method", to_string(chosen_method)}, {"loads", sim::load_schedule_json(sc, schedule)}};
    if (!args.out.empty() && !write_result(args.out, doc)) return 1;
    if (args.json) {
      std::printf("%s\n", doc.dump(2).c_str());
      return 0;
    }
    std::printf("graph %s: %d ops onto the %zu server nodes of %s; %s, at most %d stages\n", g.name().c_str(), g.size(), sc.nodes.size(),
                args.nodes.c_str(), to_string(chosen_method), ps.stages);
    print_load_schedule(sc, schedule);
    if (quiet_hours > 0) std::printf("(phases without arrivals, %.4g h a cycle, left out: no plan serves them)\n", quiet_hours);
    if (!args.out.empty()) std::printf("wrote %s\n", args.out.c_str());
    return 0;
  }
  const auto t0 = std::chrono::steady_clock::now();
  sim::PipelinePlan plan;
  try {
    sim::ProgressLine progress(sim::RunOptions::Progress::Auto, 0);
    plan = sim::plan_pipeline(sc, [&](const sim::PlanProgress& p) {
      progress.status([&] { return sim::plan_progress_text(g.name(), chosen_method, p); });
    });
    progress.finish();
  } catch (const sim::ScenarioError& e) {  // the scenario's objective: no plan meets its bounds
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim partition: %s\n", e.what());
    return 1;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json stages = nlohmann::json::array();
  for (std::size_t b = 0; b < plan.stages.size(); ++b) {
    const sim::PipelineStage& st = plan.stages[b];
    nlohmann::json ops = nlohmann::json::array();
    for (int v = 0; v < g.size(); ++v)
      if (plan.partition.block_of[v] == static_cast<int>(b)) ops.push_back(g.op(v).name);
    const sim::NodeSpec& node = sc.nodes[static_cast<std::size_t>(st.node)];
    stages.push_back({{"stage", b}, {"node", node.name}, {"device", node.device->name}, {"cost_s", st.predicted_cost_s},
                      {"compute_s", st.compute_s}, {"param_bytes", st.param_bytes}, {"ops", ops}});
  }
  const nlohmann::json doc = {{"graph", g.name()},
                              {"ops", g.size()},
                              {"nodes_from", args.nodes},
                              {"k", sc.policy.partitioner.stages},
                              {"method", to_string(chosen_method)},
                              {"pricing", plan.op_prices.pricing},
                              {"recut_onto_nodes", plan.node_sliced},
                              {"bottleneck_s", plan.predicted_bottleneck_s},
                              {"requests_per_s", plan.predicted_bottleneck_s > 0 ? 1.0 / plan.predicted_bottleneck_s : 0.0},
                              {"overlap_bottleneck_s", plan.overlap_bottleneck_s},
                              {"wall_seconds", wall},
                              {"stages", stages}};
  nlohmann::json doc_out = doc;
  if (!plan.candidates.empty()) doc_out["objective"] = sim::plan_objective_json(sc, plan);
  if (!args.out.empty() && !write_result(args.out, doc_out)) return 1;
  if (args.json) {
    std::printf("%s\n", doc_out.dump(2).c_str());
    return 0;
  }
  std::printf("graph %s: %d ops onto the %zu server nodes of %s; %s, at most %d stages%s\n", g.name().c_str(), g.size(),
              sc.nodes.size(), args.nodes.c_str(), to_string(chosen_method), sc.policy.partitioner.stages,
              plan.node_sliced ? ", recut onto the nodes" : "");
  std::printf("ops priced by %s\n", plan.op_prices.pricing.c_str());
  std::printf("eq. 11 bottleneck %s (%.3f requests/s); with transfers overlapped %s (%.3f requests/s); %.1f ms\n",
              sim::format_duration(plan.predicted_bottleneck_s).c_str(), 1.0 / plan.predicted_bottleneck_s,
              sim::format_duration(plan.overlap_bottleneck_s).c_str(), 1.0 / plan.overlap_bottleneck_s, 1e3 * wall);
  std::printf("\n%-7s%-16s%-14s%12s%12s%12s  %s\n", "stage", "node", "device", "cost", "compute", "params", "ops");
  for (const auto& s : stages) {
    const auto& ops = s["ops"];
    std::string text = ops.front().get<std::string>();
    if (ops.size() > 1) text += " .. " + ops.back().get<std::string>() + " (" + std::to_string(ops.size()) + " ops)";
    std::printf("%-7d%-16s%-14s%12s%12s%12s  %s\n", s["stage"].get<int>(), s["node"].get<std::string>().c_str(),
                s["device"].get<std::string>().c_str(), sim::format_duration(s["cost_s"].get<double>()).c_str(),
                sim::format_duration(s["compute_s"].get<double>()).c_str(), sim::format_bytes(s["param_bytes"].get<double>()).c_str(),
                text.c_str());
  }
  if (!plan.candidates.empty()) print_plan_front(sc, plan, doc_out["objective"], args.frontier);
  if (!args.out.empty()) std::printf("wrote %s\n", args.out.c_str());
  return 0;
}

}  // namespace

int partition(const PartitionArgs& args) {
  if (!args.out.empty())  // before the search, not after it
    if (const std::string problem = sim::output_file_problem(args.out); !problem.empty()) {
      std::fprintf(stderr, "swarmsim partition: --out %s: %s\n", args.out.c_str(), problem.c_str());
      return 2;
    }
  if (args.nodes.empty() && (!args.minimize.empty() || args.frontier || !args.loads.empty())) {
    std::fprintf(stderr, "swarmsim partition: %s chooses among plans for a scenario's servers; give --nodes SCENARIO\n",
                 !args.loads.empty() ? "--loads" : !args.minimize.empty() ? "--minimize" : "--frontier");
    return 2;
  }
  // Without a graph, --nodes's own graph model (partition_onto_nodes).
  if (args.graph.empty()) {
    if (args.nodes.empty()) {
      std::fprintf(stderr, "swarmsim partition: give a graph (a file, or gen:NAME), or --nodes SCENARIO whose graph model to plan\n");
      return 2;
    }
    if (args.method == "all") {
      std::fprintf(stderr, "swarmsim partition: --nodes takes one --method, not all\n");
      return 2;
    }
    std::optional<Method> m;
    if (!args.method.empty() && !(m = method_from_string(args.method))) return unknown_method(args.method);
    return partition_onto_nodes(nullptr, args, m);
  }
  // The graph: a file, or a generator.
  ModelGraph g;
  try {
    if (args.graph.rfind("gen:", 0) == 0) {
      GeneratorOptions o;
      o.batch = args.batch;
      g = generate_model_graph(args.graph.substr(4), o);
    } else {
      g = load_model_graph_file(args.graph);
    }
  } catch (const GraphFileError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim partition: %s\n", e.what());
    return 2;
  }
  // What every block is priced on.
  const gpu::DeviceSpec* dev = gpu::find_device(args.device);
  if (!dev) {
    std::string names;
    for (const auto& n : gpu::device_names()) names += (names.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "swarmsim partition: --device: unknown device \"%s\"; expected one of %s\n", args.device.c_str(), names.c_str());
    return 2;
  }
  const auto link = sim::parse_quantity(args.link, sim::Quantity::Bandwidth);
  if (!link.value || *link.value <= 0) {
    std::fprintf(stderr, "swarmsim partition: --link: %s\n", link.value ? "must be positive" : link.error.c_str());
    return 2;
  }
  MtppParams p;
  const gpu::RooflineEfficiency eff;
  p.device.flops_per_s = dev->peak_flops * eff.gemm_compute;
  p.device.mem_Bps = dev->memory_bandwidth * eff.memory;
  std::string pricing;
  try {  // each op as the swarm's cost model prices it on the device (measured profiles where they exist)
    const auto model = sim::make_cost_model(args.pricing == "roofline" ? sim::Pricing::Roofline : sim::Pricing::Auto);
    pricing = model->pricing();
    p.device.op_seconds = std::make_shared<const std::vector<double>>(sim::graph_op_seconds(*model, *dev, g));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim partition: %s\n", e.what());
    return 1;
  }
  p.link_Bps = *link.value;
  p.fast_memory_bytes = dev->memory_bytes;
  p.stream_Bps = 25e9;
  if (!args.fast_memory.empty()) {
    const auto m = sim::parse_quantity(args.fast_memory, sim::Quantity::Size);
    if (!m.value) {
      std::fprintf(stderr, "swarmsim partition: --fast-memory: %s\n", m.error.c_str());
      return 2;
    }
    p.fast_memory_bytes = *m.value;
  }
  BrkgaParams bp;
  bp.population = args.population > 0 ? args.population : 64;
  bp.generations = args.generations > 0 ? args.generations : 100;
  bp.seed = static_cast<std::uint64_t>(args.seed >= 0 ? args.seed : 1);

  std::vector<Method> methods;
  const std::string method_name = args.method.empty() ? "slicegraph" : args.method;
  if (method_name == "all") {
    for (const auto& n : method_names())
      if (n != "slicegraph-dp" || g.size() <= 3000) methods.push_back(*method_from_string(n));  // the reference DP is O(n²) memory
  } else if (auto m = method_from_string(method_name)) {
    methods.push_back(*m);
  } else {
    return unknown_method(method_name);
  }

  if (!args.nodes.empty()) {
    if (methods.size() != 1) {
      std::fprintf(stderr, "swarmsim partition: --nodes takes one --method, not all\n");
      return 2;
    }
    return partition_onto_nodes(&g, args, methods.front());
  }

  const int k = args.k > 0 ? args.k : 4;
  const double lower = bottleneck_lower_bound(g, k, p);
  nlohmann::json results = nlohmann::json::array();
  try {
    for (Method m : methods) {
      const auto t0 = std::chrono::steady_clock::now();
      sim::ProgressLine progress(sim::RunOptions::Progress::Auto, 0);
      const Partition part = partition_graph(g, k, m, p, bp, [&](const BrkgaGeneration& gen) {
        progress.status([&] { return sim::plan_progress_text(g.name(), m, {k, 0, gen.generation, bp.generations, gen.best_s}); });
      });
      progress.finish();
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      results.push_back(describe(g, part, partition_quality(g, part, p), lower, wall));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim partition: %s\n", e.what());
    return 1;
  }
  const nlohmann::json doc = {{"graph", g.name()},       {"ops", g.size()},          {"edges", g.edge_count()}, {"k", k},
                              {"device", dev->name},     {"pricing", pricing},       {"link_Bps", p.link_Bps},
                              {"fast_memory_bytes", p.fast_memory_bytes},                {"results", results}};
  if (!args.out.empty() && !write_result(args.out, doc)) return 1;
  if (args.json) {
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }
  std::printf("graph %s: %d ops, %d edges; k = %d on %s (ops priced by %s), links %s; lower bound %s\n", g.name().c_str(), g.size(),
              g.edge_count(), k, dev->name.c_str(), pricing.c_str(), sim::format_bandwidth(p.link_Bps).c_str(),
              sim::format_duration(lower).c_str());
  std::printf("%-16s%7s%13s%9s%13s%13s%10s%13s%11s\n", "method", "blocks", "bottleneck", "vs LB", "load sd", "comm",
              "crit.path", "peak mem", "wall");
  for (const auto& r : results)
    std::printf("%-16s%7d%13s%9.3f%13s%13s%10d%13s%9.1fms\n", r["method"].get<std::string>().c_str(), r["blocks"].get<int>(),
                sim::format_duration(r["bottleneck_s"].get<double>()).c_str(), r["vs_lower_bound"].get<double>(),
                sim::format_duration(r["load_stddev_s"].get<double>()).c_str(),
                sim::format_bytes(r["communication_bytes"].get<double>()).c_str(), r["critical_path_blocks"].get<int>(),
                sim::format_bytes(r["peak_memory_bytes"].get<double>()).c_str(), 1e3 * r["wall_seconds"].get<double>());
  if (results.size() == 1) {
    std::printf("\n%-7s%12s%12s%12s%12s%12s  %s\n", "block", "cost", "io in", "work", "overflow", "io out", "ops");
    for (const auto& b : results[0]["partition"]) {
      std::string ops;
      int shown = 0;
      for (const auto& o : b["ops"]) {
        if (shown++ == 4) {
          ops += " ... (" + std::to_string(b["ops"].size()) + " ops)";
          break;
        }
        ops += (ops.empty() ? "" : ", ") + o.get<std::string>();
      }
      std::printf("%-7d%12s%12s%12s%12s%12s  %s\n", b["block"].get<int>(), sim::format_duration(b["cost_s"].get<double>()).c_str(),
                  sim::format_duration(b["io_in_s"].get<double>()).c_str(), sim::format_duration(b["work_s"].get<double>()).c_str(),
                  sim::format_duration(b["overflow_s"].get<double>()).c_str(),
                  sim::format_duration(b["io_out_s"].get<double>()).c_str(), ops.c_str());
    }
  }
  if (!args.out.empty()) std::printf("wrote %s\n", args.out.c_str());
  return 0;
}

}  // namespace swarmsim::cli
