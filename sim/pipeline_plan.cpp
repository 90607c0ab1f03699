#include "sim/pipeline_plan.hpp"

#include "sim/partition/node_slicing.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <limits>
#include <stdexcept>

#include "gpu/shard_cost_model.hpp"
#include "sim/experiment/comparison.hpp"
#include "sim/metrics/run_cost.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/units.hpp"

namespace swarmsim::sim {

GraphOpPrices price_graph_ops(const Scenario& sc) {
  if (!sc.graph) throw std::invalid_argument("price_graph_ops: scenario \"" + sc.name + "\" has no graph model");
  const std::shared_ptr<const gpu::ShardCostModel> model = make_cost_model(sc);
  GraphOpPrices prices;
  prices.pricing = model->pricing();
  std::map<const gpu::DeviceSpec*, std::shared_ptr<const std::vector<double>>> by_device;
  for (const NodeSpec& n : sc.nodes) {
    auto& table = by_device[n.device];
    if (!table) table = std::make_shared<const std::vector<double>>(graph_op_seconds(*model, *n.device, *sc.graph));
    prices.per_node.push_back(table);
  }
  return prices;
}

std::vector<GraphWork> graph_work_per_device(const Scenario& sc, const GraphOpPrices& prices, int& kernels) {
  if (!sc.graph) throw std::invalid_argument("graph_work_per_device: scenario \"" + sc.name + "\" has no graph model");
  kernels = 0;
  for (int v = 0; v < sc.graph->size(); ++v) kernels += is_graph_input(*sc.graph, v) ? 0 : 1;
  std::vector<GraphWork> work;
  for (std::size_t j = 0; j < sc.nodes.size(); ++j) {
    const std::string& device = sc.nodes[j].device->name;
    auto it = std::find_if(work.begin(), work.end(), [&](const GraphWork& w) { return w.device == device; });
    if (it != work.end()) {
      ++it->servers;
      continue;
    }
    GraphWork w{device, 1, 0.0};
    for (double t : *prices.per_node[j]) w.seconds += t;
    work.push_back(std::move(w));
  }
  return work;
}

partition::PlacementNode placement_node(const NodeSpec& node, const OverheadSpec& overheads,
                                        std::shared_ptr<const std::vector<double>> op_seconds) {
  const gpu::RooflineEfficiency eff;  // the roofline model's documented efficiencies (docs/cost-model.md)
  partition::PlacementNode p;
  p.name = node.name;
  p.rates.flops_per_s = node.device->peak_flops * eff.gemm_compute;
  p.rates.mem_Bps = node.device->memory_bandwidth * eff.memory;
  p.rates.op_seconds = std::move(op_seconds);
  p.memory_bytes = usable_memory_bytes(*node.device, overheads);
  p.stream_Bps = kHostStreamBps;
  p.uplink_Bps = node.uplink_Bps;
  p.downlink_Bps = node.downlink_Bps;
  if (node.location) {  // the greedy's latency term: great-circle-ish planar distance in degrees
    p.x = node.location->lon_deg;
    p.y = node.location->lat_deg;
    p.latency_s_per_unit = 111.0 / 200000.0;  // ~111 km per degree at the fibre's 200,000 km/s
  }
  return p;
}

partition::BlockCost stage_terms_on_node(const Scenario& sc, const PipelinePlan& plan, int stage, int node) {
  const partition::PlacementNode n = placement_node(sc.nodes[static_cast<std::size_t>(node)], sc.overheads,
                                                    plan.op_prices.per_node[static_cast<std::size_t>(node)]);
  partition::MtppParams on_node;
  on_node.device = n.rates;
  on_node.fast_memory_bytes = n.memory_bytes;
  on_node.stream_Bps = n.stream_Bps;
  return partition::block_costs(*sc.graph, plan.partition.block_of, plan.partition.blocks, on_node)[static_cast<std::size_t>(stage)];
}

std::string plan_progress_text(const std::string& graph, partition::Method method, const PlanProgress& p) {
  std::string s = "partitioning " + graph + " (" + partition::to_string(method) + ")";
  if (p.max_stages > 0) s += ": " + std::to_string(p.stages) + " of " + std::to_string(p.max_stages) + " stage counts";
  if (p.generation >= 0)
    s += std::string(p.max_stages > 0 ? ", " : ": ") + "generation " + std::to_string(p.generation + 1) + "/" +
         std::to_string(p.generations) + ", best " + format_duration(p.best_s);
  return s;
}

namespace {

/// The server nodes as placement prices them, their ops as `prices` says, with links `up_Bps` /
/// `down_Bps` (bytes/s). Every byte that crosses a cut is also serialized by its sender and
/// deserialized by its receiver: eq. 8's B becomes the link and the (de)serialization in series.
std::vector<partition::PlacementNode> priced_nodes(const Scenario& sc, const GraphOpPrices& prices, const std::vector<double>& up_Bps,
                                                   const std::vector<double>& down_Bps) {
  const auto in_series = [&](double link_Bps) { return 1.0 / (1.0 / link_Bps + 1.0 / sc.overheads.serialization_Bps); };
  std::vector<partition::PlacementNode> nodes;
  for (std::size_t j = 0; j < sc.nodes.size(); ++j) {
    nodes.push_back(placement_node(sc.nodes[j], sc.overheads, prices.per_node[j]));
    nodes.back().uplink_Bps = in_series(up_Bps[j]);
    nodes.back().downlink_Bps = in_series(down_Bps[j]);
  }
  return nodes;
}

/// The graph's inputs arrive from the client and its outputs return to it: eq. 10's io terms for
/// the client as one more block, per op (bytes in, then bytes out).
std::pair<std::vector<double>, std::vector<double>> client_io_bytes(const partition::ModelGraph& g) {
  std::vector<double> in(static_cast<std::size_t>(g.size()), 0.0), out(in);
  for (int v = 0; v < g.size(); ++v) {
    if (g.preds(v).empty()) in[static_cast<std::size_t>(v)] = g.op(v).out_bytes;
    if (g.succs(v).empty()) out[static_cast<std::size_t>(v)] = g.op(v).out_bytes;
  }
  return {in, out};
}

/// Messages a block receives and sends per request.
struct BlockMessages {
  int in = 0, out = 0;
};

/// Per block of `part`, its messages as the runtime sends them: one from each other block it
/// consumes from and one from the client if it holds a graph input; one to each block consuming
/// its outputs and one to the client if it holds a graph output (or sends nothing).
std::vector<BlockMessages> messages_per_block(const partition::ModelGraph& g, const partition::Partition& part) {
  const std::size_t k = static_cast<std::size_t>(part.blocks);
  std::vector<char> feeds(k * k, 0), from_client(k, 0), to_client(k, 0);
  for (int v = 0; v < g.size(); ++v) {
    const std::size_t b = static_cast<std::size_t>(part.block_of[static_cast<std::size_t>(v)]);
    if (g.preds(v).empty()) from_client[b] = 1;
    if (g.succs(v).empty() && g.op(v).out_bytes > 0) to_client[b] = 1;
    for (int w : g.succs(v)) {
      const std::size_t t = static_cast<std::size_t>(part.block_of[static_cast<std::size_t>(w)]);
      if (t != b) feeds[b * k + t] = 1;
    }
  }
  std::vector<BlockMessages> messages(k);
  for (std::size_t b = 0; b < k; ++b) {
    BlockMessages& m = messages[b];
    m.in = from_client[b];
    for (std::size_t o = 0; o < k; ++o) {
      m.in += feeds[o * k + b];
      m.out += feeds[b * k + o];
    }
    if (m.out == 0 || to_client[b]) ++m.out;
  }
  return messages;
}

/// cost[b][j]: f(P_b) on node j, eq. 10 on j's own links, the client's tensors included, plus the
/// RPC cost of each message the block receives and sends (s).
partition::PlacementCosts costs_on_nodes(const Scenario& sc, const partition::Partition& part,
                                         const std::vector<partition::PlacementNode>& nodes,
                                         const std::pair<std::vector<double>, std::vector<double>>& client_io) {
  const partition::ModelGraph& g = *sc.graph;
  partition::PlacementCosts c = partition::placement_costs(g, part, nodes);
  for (int v = 0; v < g.size(); ++v)
    for (std::size_t j = 0; j < nodes.size(); ++j)
      c[static_cast<std::size_t>(part.block_of[static_cast<std::size_t>(v)])][j] +=
          client_io.first[static_cast<std::size_t>(v)] / nodes[j].downlink_Bps + client_io.second[static_cast<std::size_t>(v)] / nodes[j].uplink_Bps;
  // seed 002, eq. 10, with a deviation (docs/algorithms.md, 6): the runtime pays an RPC per
  // message, so a cut that adds a message to the bottleneck stage costs what the simulation charges.
  const std::vector<BlockMessages> messages = messages_per_block(g, part);
  for (std::size_t b = 0; b < c.size(); ++b)
    for (double& cost : c[b]) cost += (messages[b].in + messages[b].out) * sc.overheads.rpc_s;
  return c;
}

/// Classes of interchangeable servers: the same placement node (device rates, memory, links) and
/// the same power draw and prices.
std::vector<int> interchangeable_servers(const Scenario& sc, const std::vector<partition::PlacementNode>& nodes) {
  std::vector<std::array<double, 4>> kinds;  // idle, busy, rent, electricity
  std::vector<int> extra;
  for (const NodeSpec& n : sc.nodes) {
    const PowerDraw p = power_draw(n);
    const ResolvedPrices price = host_prices(sc, n);
    const std::array<double, 4> kind{p.idle_w, p.busy_w, price.rent_per_s, price.electricity_per_j};
    const auto it = std::find(kinds.begin(), kinds.end(), kind);
    extra.push_back(static_cast<int>(it - kinds.begin()));
    if (it == kinds.end()) kinds.push_back(kind);
  }
  return partition::interchangeable_classes(nodes, extra);
}

/// Fills in `plan`'s quality, stages (node, compute, traffic, service and link times) and bounds
/// from its partition, placement and cost matrix.
void complete_plan(const Scenario& sc, PipelinePlan& plan) {
  const partition::ModelGraph& g = *sc.graph;
  plan.quality = partition::partition_quality(g, plan.partition, plan.reference);

  const int blocks = plan.partition.blocks;
  plan.stages.assign(static_cast<std::size_t>(blocks), PipelineStage{});
  for (int b = 0; b < blocks; ++b) {
    PipelineStage& st = plan.stages[b];
    st.node = plan.placement.node_of_block[b];
    st.predicted_cost_s = plan.costs[static_cast<std::size_t>(b)][static_cast<std::size_t>(st.node)];
    plan.predicted_bottleneck_s = std::max(plan.predicted_bottleneck_s, st.predicted_cost_s);
  }
  // Per-node block terms (work and overflow depend on the node).
  for (int b = 0; b < blocks; ++b) {
    PipelineStage& st = plan.stages[b];
    const auto terms = stage_terms_on_node(sc, plan, b, st.node);
    st.compute_s = terms.work_s + terms.overflow_s;
    st.param_bytes = terms.param_bytes;
    st.peak_bytes = terms.peak_bytes;
  }
  for (int v = 0; v < g.size(); ++v) {
    const int b = plan.partition.block_of[v];
    PipelineStage& st = plan.stages[b];
    ++st.ops;
    if (g.preds(v).empty()) st.input_bytes_from_client += g.op(v).out_bytes;  // a graph input: the client's tensor
    if (g.succs(v).empty()) st.output_bytes_to_client += g.op(v).out_bytes;   // a graph output: back to the client
    std::vector<int> seen;
    for (int w : g.succs(v)) {
      const int t = plan.partition.block_of[w];
      if (t == b || std::find(seen.begin(), seen.end(), t) != seen.end()) continue;
      seen.push_back(t);  // seed 002, eq. 8: each producer once per consuming block
      auto it = std::find_if(st.sends.begin(), st.sends.end(), [t](const auto& s) { return s.first == t; });
      if (it == st.sends.end()) st.sends.emplace_back(t, g.op(v).out_bytes);
      else it->second += g.op(v).out_bytes;
    }
  }
  const std::vector<BlockMessages> messages = messages_per_block(g, plan.partition);
  for (int t = 0; t < blocks; ++t) {
    PipelineStage& st = plan.stages[t];
    st.inputs_expected = messages[static_cast<std::size_t>(t)].in;
    std::sort(st.sends.begin(), st.sends.end());
  }
  // What the runtime overlaps: each stage's own busy time, and each link's transfer time.
  const OverheadSpec& o = sc.overheads;
  double client_in = 0, client_out = 0;
  for (int b = 0; b < blocks; ++b) {
    PipelineStage& st = plan.stages[b];
    double in_bytes = st.input_bytes_from_client, out_bytes = st.output_bytes_to_client;
    const int out_messages = messages[static_cast<std::size_t>(b)].out;
    for (const auto& [to, bytes] : st.sends) out_bytes += bytes;
    for (const auto& other : plan.stages)
      for (const auto& [to, bytes] : other.sends)
        if (to == b) in_bytes += bytes;
    const NodeSpec& node = sc.nodes[static_cast<std::size_t>(st.node)];
    st.service_s = st.compute_s + (st.inputs_expected + out_messages) * o.rpc_s + (in_bytes + out_bytes) / o.serialization_Bps;
    st.link_in_s = (in_bytes + st.inputs_expected * o.header_bytes) / node.downlink_Bps;
    st.link_out_s = (out_bytes + out_messages * o.header_bytes) / node.uplink_Bps;
    plan.overlap_bottleneck_s = std::max({plan.overlap_bottleneck_s, st.service_s, st.link_in_s, st.link_out_s});
    client_in += st.input_bytes_from_client;
    client_out += st.output_bytes_to_client;
  }
  // Request r comes from client r mod C, so client c's links carry its share of the requests:
  // per request of the pipeline, share_c x (its inputs over its uplink, or outputs over its downlink).
  const int C = static_cast<int>(sc.clients.size()), n = std::max(1, sc.workload.sessions);
  for (int c = 0; c < C; ++c) {
    const ClientSpec& client = sc.clients[static_cast<std::size_t>(c)];
    const double share = std::max(1, (n - c + C - 1) / C) / static_cast<double>(n);
    plan.client_link_s = std::max(plan.client_link_s, share * std::max(client_in / client.uplink_Bps, client_out / client.downlink_Bps));
  }
  plan.overlap_bottleneck_s = std::max(plan.overlap_bottleneck_s, plan.client_link_s);
}

/// The scored candidates' figures in the objective's terms (docs/partitioning.md, "Objectives"):
/// the value it minimizes.
double goal_value(PlanGoal goal, const PlanScore& s) {
  switch (goal) {
    case PlanGoal::Bottleneck: return s.bottleneck_s;
    case PlanGoal::Latency: return s.latency_s;
    case PlanGoal::Energy: return s.joules_per_request;
    case PlanGoal::Cost: return s.cost_per_request;
  }
  return s.bottleneck_s;
}

std::string money_per_hour_text(const Scenario& sc, double per_s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g %s/h", per_s * 3600.0, (sc.costs ? sc.costs->currency : CostSpec{}.currency).c_str());
  return buf;
}

/// What planning found before an objective chooses: the plan of least eq. 11 bottleneck, and what
/// the objective's candidates are made from.
struct PlanSearch {
  PipelinePlan base;  ///< the least bottleneck (what runs without an objective)
  std::vector<std::pair<partition::Partition, partition::Placement>> tried;  ///< each stage count's placement
  std::vector<int> order;    ///< the winner's block-major order; empty when the recut did not run
  std::vector<int> classes;  ///< interchangeable servers
  std::vector<partition::PlacementNode> nodes;
  std::pair<std::vector<double>, std::vector<double>> client_io;
  int k = 0;                 ///< most stages
};

/// Scores every distinct candidate (each stage count's placement; with optimal placement on at
/// most kMaxSlicingStates sets of interchangeable servers, the best cut of `order` onto every set of them), marks the
/// feasible ones and the Pareto front, and returns the one the objective asks for, with the
/// scores. `base` is the plan without an objective (its reference is kept).
PipelinePlan choose_by_objective(const Scenario& sc, const PlanSearch& search) {
  const partition::ModelGraph& g = *sc.graph;
  const PipelinePlan& base = search.base;
  const auto& tried = search.tried;
  const std::vector<int>& order = search.order;
  const std::vector<int>& classes = search.classes;
  const std::vector<partition::PlacementNode>& nodes = search.nodes;
  const auto& client_io = search.client_io;
  const int k = search.k;
  const PlanObjectiveSpec& obj = sc.policy.partitioner.objective;
  std::vector<PipelinePlan> plans;
  std::map<std::vector<int>, int> seen;  // block_of then node_of_block: one entry per distinct plan
  const auto consider = [&](const partition::Partition& part, const partition::Placement& placed, bool node_sliced) {
    std::vector<int> key = part.block_of;
    key.insert(key.end(), placed.node_of_block.begin(), placed.node_of_block.end());
    if (!seen.emplace(std::move(key), static_cast<int>(plans.size())).second) return;
    PipelinePlan c;
    c.op_prices = base.op_prices;
    c.reference = base.reference;
    c.partition = part;
    c.placement = placed;
    c.node_sliced = node_sliced;
    c.costs = costs_on_nodes(sc, c.partition, nodes, client_io);
    complete_plan(sc, c);
    c.placement.bottleneck_s = c.predicted_bottleneck_s;  // the node slicing's own figure prices no messages
    plans.push_back(std::move(c));
  };
  for (const auto& [part, placed] : tried) consider(part, placed, false);
  if (!order.empty()) {
    const auto consider_each = [&](const std::vector<partition::NodeSlicing>& each) {
      for (const partition::NodeSlicing& ns : each) {
        if (ns.blocks == 0) continue;
        partition::Partition part;
        part.method = base.partition.method;
        part.block_of = ns.block_of;
        part.blocks = ns.blocks;
        consider(part, partition::Placement{ns.node_of_block, ns.bottleneck_s}, true);
      }
    };
    const partition::ClientTraffic client{client_io.first, client_io.second};
    consider_each(partition::slice_onto_each_node_set(g, order, nodes, k, client, classes));
    // And per set, the cut of least dynamic energy (each server's busy minus idle draw times its
    // compute) among those whose every stage sustains the rate asked for: the least throughput
    // allowed or the arrivals' rate, whichever is higher (eq. 10 at most 1 / rate).
    const double rate = std::max(least_throughput(sc), std::isfinite(offered_requests_per_s(sc.workload)) ? offered_requests_per_s(sc.workload) : 0.0);
    std::vector<double> dynamic_w;
    for (const NodeSpec& n : sc.nodes) dynamic_w.push_back(power_draw(n).busy_w - power_draw(n).idle_w);
    consider_each(partition::slice_onto_each_node_set_least_weighted_compute(
        g, order, nodes, k, dynamic_w, rate > 0 ? 1.0 / rate : std::numeric_limits<double>::infinity(), client, classes));
  }

  std::vector<PlanScore> scores;
  const LatencyTable latencies(sc);
  for (const PipelinePlan& c : plans) {
    PlanScore s = score_plan(sc, c, latencies);
    s.feasible = s.requests_per_s >= least_throughput(sc) * (1 - 1e-12) && s.latency_s <= obj.max_latency_s * (1 + 1e-12) &&
                 s.joules_per_request <= obj.max_joules_per_request * (1 + 1e-12) && s.cost_per_s <= obj.max_cost_per_s * (1 + 1e-12);
    scores.push_back(std::move(s));
  }
  std::vector<std::vector<double>> points;
  using experiment::Better;
  std::vector<Better> directions{Better::Higher, Better::Lower, Better::Lower};
  if (sc.priced()) directions.push_back(Better::Lower);
  for (const PlanScore& s : scores) {
    points.push_back({s.requests_per_s, s.latency_s, s.joules_per_request});
    if (sc.priced()) points.back().push_back(s.cost_per_s);
  }
  const std::vector<bool> front = experiment::pareto_front(points, directions);
  for (std::size_t i = 0; i < scores.size(); ++i) scores[i].on_front = front[i];

  // The least goal value among the feasible; ties: the smaller bottleneck, fewer stages, the first scored.
  int chosen = -1;
  for (int i = 0; i < static_cast<int>(scores.size()); ++i) {
    const PlanScore& s = scores[static_cast<std::size_t>(i)];
    if (!s.feasible) continue;
    if (chosen < 0) {
      chosen = i;
      continue;
    }
    const PlanScore& c = scores[static_cast<std::size_t>(chosen)];
    const double a = goal_value(obj.minimize, s), b = goal_value(obj.minimize, c);
    if (a < b * (1 - 1e-9) ||
        (a <= b * (1 + 1e-9) && (s.bottleneck_s < c.bottleneck_s * (1 - 1e-12) ||
                                 (s.bottleneck_s <= c.bottleneck_s * (1 + 1e-12) && s.stages < c.stages))))
      chosen = i;
  }
  if (chosen < 0) {  // say which bounds no plan meets, and the best any plan reaches on each
    std::string why;
    const auto add = [&](const std::string& what) { why += (why.empty() ? "" : "; ") + what; };
    double most_rate = 0, least_latency = std::numeric_limits<double>::infinity(), least_j = least_latency, least_cost = least_latency;
    for (const PlanScore& s : scores) {
      most_rate = std::max(most_rate, s.requests_per_s);
      least_latency = std::min(least_latency, s.latency_s);
      least_j = std::min(least_j, s.joules_per_request);
      least_cost = std::min(least_cost, s.cost_per_s);
    }
    if (obj.min_requests_per_s && *obj.min_requests_per_s > 0)
      add("min_throughput " + format_rate(*obj.min_requests_per_s) + " (the most any plan reaches: " + format_rate(most_rate) + ")");
    else if (!obj.min_requests_per_s && least_throughput(sc) > 0)
      add("min_throughput unset, so the arrivals' rate, " + format_rate(least_throughput(sc)) + " (the most any plan reaches: " +
          format_rate(most_rate) + "; \"0/s\" lets a plan fall behind)");
    if (std::isfinite(obj.max_latency_s)) add("max_latency " + format_duration(obj.max_latency_s) + " (the least: " + format_duration(least_latency) + ")");
    if (std::isfinite(obj.max_joules_per_request))
      add("max_energy_per_request " + format_energy(obj.max_joules_per_request) + " (the least: " + format_energy(least_j) + ")");
    if (std::isfinite(obj.max_cost_per_s))
      add("max_cost " + money_per_hour_text(sc, obj.max_cost_per_s) + " (the least: " + money_per_hour_text(sc, least_cost) + ")");
    throw ScenarioError({Diagnostic{sc.source_file, "policy.partitioner.objective",
                                    "none of the " + std::to_string(scores.size()) + " plans scored meets its bounds together: " + why}});
  }
  PipelinePlan plan = std::move(plans[static_cast<std::size_t>(chosen)]);
  if (!plan.node_sliced && base.partition.blocks == plan.partition.blocks && base.partition.block_of == plan.partition.block_of)
    plan.partition.convergence = base.partition.convergence;  // the winner's BRKGA log
  plan.candidates = std::move(scores);
  plan.chosen = chosen;
  plan.switched_off.assign(sc.nodes.size(), 0);
  if (obj.unused_nodes == UnusedNodes::Off) {
    for (char& off : plan.switched_off) off = 1;
    for (const PipelineStage& st : plan.stages) plan.switched_off[static_cast<std::size_t>(st.node)] = 0;
  }
  return plan;
}

}  // namespace

std::vector<double> server_link_rates(const Scenario& sc, bool up) {
  std::vector<double> r;
  for (const NodeSpec& n : sc.nodes) r.push_back(up ? n.uplink_Bps : n.downlink_Bps);
  return r;
}

partition::PlacementCosts stage_costs_with_links(const Scenario& sc, const PipelinePlan& plan, const std::vector<double>& up_Bps,
                                                 const std::vector<double>& down_Bps) {
  return costs_on_nodes(sc, plan.partition, priced_nodes(sc, plan.op_prices, up_Bps, down_Bps), client_io_bytes(*sc.graph));
}

namespace {

nlohmann::json score_json(const Scenario& sc, const PlanScore& s) {
  nlohmann::json names = nlohmann::json::array();
  for (const int n : s.nodes) names.push_back(sc.nodes[static_cast<std::size_t>(n)].name);
  nlohmann::json j{{"nodes", names},
                   {"stages", s.stages},
                   {"bottleneck_s", s.bottleneck_s},
                   {"requests_per_s", s.requests_per_s},
                   {"served_requests_per_s", s.served_requests_per_s},
                   {"latency_s", s.latency_s},
                   {"joules_per_request", s.joules_per_request}};
  if (sc.priced()) {
    j["cost_per_hour"] = s.cost_per_s * 3600.0;
    j["cost_per_thousand_requests"] = s.cost_per_request * 1e3;
  }
  j["feasible"] = s.feasible;
  return j;
}

}  // namespace

nlohmann::json plan_objective_json(const Scenario& sc, const PipelinePlan& plan) {
  const PlanObjectiveSpec& obj = sc.policy.partitioner.objective;
  nlohmann::json bounds = nlohmann::json::object();
  if (least_throughput(sc) > 0) bounds["min_requests_per_s"] = least_throughput(sc);
  if (std::isfinite(obj.max_latency_s)) bounds["max_latency_s"] = obj.max_latency_s;
  if (std::isfinite(obj.max_joules_per_request)) bounds["max_joules_per_request"] = obj.max_joules_per_request;
  if (std::isfinite(obj.max_cost_per_s)) bounds["max_cost_per_hour"] = obj.max_cost_per_s * 3600.0;
  std::vector<const PlanScore*> front;
  for (const PlanScore& s : plan.candidates)
    if (s.on_front) front.push_back(&s);
  std::stable_sort(front.begin(), front.end(), [](const PlanScore* a, const PlanScore* b) { return a->requests_per_s > b->requests_per_s; });
  nlohmann::json front_json = nlohmann::json::array();
  for (const PlanScore* s : front) front_json.push_back(score_json(sc, *s));
  nlohmann::json off = nlohmann::json::array();
  for (std::size_t n = 0; n < plan.switched_off.size(); ++n)
    if (plan.switched_off[n]) off.push_back(sc.nodes[n].name);
  return {{"minimize", to_string(obj.minimize)},
          {"bounds", bounds},
          {"unused_nodes", obj.unused_nodes == UnusedNodes::Off ? "off" : "standby"},
          {"candidates", plan.candidates.size()},
          {"chosen", plan.chosen >= 0 ? score_json(sc, plan.candidates[static_cast<std::size_t>(plan.chosen)]) : nlohmann::json(nullptr)},
          {"front", front_json},
          {"switched_off", off}};
}

double least_throughput(const Scenario& sc) {
  const std::optional<double>& given = sc.policy.partitioner.objective.min_requests_per_s;
  if (given) return *given;
  const double offered = offered_requests_per_s(sc.workload);
  return std::isfinite(offered) ? offered : 0.0;
}

double offered_requests_per_s(const WorkloadSpec& w) {
  switch (w.arrival) {
    case ArrivalProcess::Fixed: return w.interval_s > 0 ? 1.0 / w.interval_s : std::numeric_limits<double>::infinity();
    case ArrivalProcess::Poisson: return w.rate_per_s > 0 ? w.rate_per_s : std::numeric_limits<double>::infinity();
    case ArrivalProcess::Trace: {
      const double span = w.trace.size() > 1 ? w.trace.back().at_s - w.trace.front().at_s : 0.0;
      return span > 0 ? static_cast<double>(w.trace.size() - 1) / span : std::numeric_limits<double>::infinity();
    }
    case ArrivalProcess::Phases: return w.peak_phase_rate_per_s();  // a plan keeps up with the busiest phase
    case ArrivalProcess::AllAtStart: break;
  }
  return std::numeric_limits<double>::infinity();
}

PlanScore score_plan(const Scenario& sc, const PipelinePlan& plan, const LatencyTable& latencies) {
  PlanScore s;
  const std::size_t N = sc.nodes.size();
  std::vector<char> holds(N, 0);
  for (const PipelineStage& st : plan.stages) {
    s.nodes.push_back(st.node);
    holds[static_cast<std::size_t>(st.node)] = 1;
  }
  std::sort(s.nodes.begin(), s.nodes.end());
  s.stages = static_cast<int>(plan.stages.size());
  s.bottleneck_s = plan.predicted_bottleneck_s;
  s.overlap_bottleneck_s = plan.overlap_bottleneck_s;
  s.requests_per_s = plan.overlap_bottleneck_s > 0 ? 1.0 / plan.overlap_bottleneck_s : std::numeric_limits<double>::infinity();

  // One request alone: stages in pipeline order (every message goes to a later stage), each
  // starting once its last input is in, then its downlink time for its inputs and its service.
  const double lat_factor = latency_factor(sc.network.model);
  const int client = static_cast<int>(N);  // request 0's client, host index after the servers
  const auto one_way = [&](int from, int to) { return sc.clients.empty() ? 0.0 : lat_factor * latencies.one_way(from, to); };
  std::vector<double> done(plan.stages.size(), 0.0);
  for (std::size_t b = 0; b < plan.stages.size(); ++b) {
    const PipelineStage& st = plan.stages[b];
    double ready = st.input_bytes_from_client > 0 ? one_way(client, st.node) : 0.0;
    for (std::size_t a = 0; a < b; ++a)
      for (const auto& [to, bytes] : plan.stages[a].sends)
        if (to == static_cast<int>(b)) ready = std::max(ready, done[a] + one_way(plan.stages[a].node, st.node));
    done[b] = ready + st.link_in_s + st.service_s;
    if (st.output_bytes_to_client > 0 || st.sends.empty())
      s.latency_s = std::max(s.latency_s, done[b] + st.link_out_s + one_way(st.node, client));
  }

  const WorkloadSpec& w = sc.workload;
  const double most = std::min(s.requests_per_s, s.latency_s > 0 ? w.max_in_flight * std::max<double>(1.0, static_cast<double>(sc.clients.size())) / s.latency_s
                                                                 : std::numeric_limits<double>::infinity());
  if (w.arrival == ArrivalProcess::Phases) {  // over a cycle of the phases, each served up to what the plan can
    double served = 0.0, span = 0.0;
    for (const ArrivalPhase& p : w.phases) {
      served += std::min(most, p.rate_per_s) * p.duration_s;
      span += p.duration_s;
    }
    s.served_requests_per_s = served / span;
  } else {
    s.served_requests_per_s = std::min(most, offered_requests_per_s(w));
  }
  const double X = s.served_requests_per_s;
  const bool standby = sc.policy.partitioner.objective.unused_nodes == UnusedNodes::Standby;
  std::vector<double> compute(N, 0.0);
  for (const PipelineStage& st : plan.stages) compute[static_cast<std::size_t>(st.node)] += st.compute_s;
  for (std::size_t j = 0; j < N; ++j) {
    if (!holds[j] && !standby) continue;
    const PowerDraw p = power_draw(sc.nodes[j]);
    const double joules = p.idle_w / X + (p.busy_w - p.idle_w) * compute[j];  // per request (J)
    const ResolvedPrices price = host_prices(sc, sc.nodes[j]);
    s.joules_per_request += joules;
    s.cost_per_s += price.rent_per_s + price.electricity_per_j * joules * X;
  }
  s.cost_per_request = s.cost_per_s / X;
  return s;
}

namespace {

/// Partitions sc.graph for every stage count, places each, recuts the best onto the nodes: the
/// plan of least eq. 11 bottleneck and, when `keep_candidates`, what an objective chooses among.
PlanSearch search_plans(const Scenario& sc, bool keep_candidates, const std::function<void(const PlanProgress&)>& on_progress) {
  if (!sc.graph) throw std::invalid_argument("plan_pipeline: scenario \"" + sc.name + "\" has no graph model");
  const partition::ModelGraph& g = *sc.graph;
  PlanSearch search;
  search.base.op_prices = price_graph_ops(sc);
  search.nodes = priced_nodes(sc, search.base.op_prices, server_link_rates(sc, true), server_link_rates(sc, false));
  const std::vector<partition::PlacementNode>& nodes = search.nodes;
  if (nodes.empty()) throw std::invalid_argument("plan_pipeline: no server nodes");
  const PartitionerSpec& spec = sc.policy.partitioner;
  const int k = search.k = std::min(spec.stages > 0 ? spec.stages : static_cast<int>(nodes.size()), g.size());

  PipelinePlan& plan = search.base;
  // The partitioner prices blocks on the median server (by FLOP/s) and the median link; the
  // placement then prices each block on each real node.
  std::vector<const partition::PlacementNode*> by_speed;
  for (const auto& n : nodes) by_speed.push_back(&n);
  std::stable_sort(by_speed.begin(), by_speed.end(),
                   [](auto* a, auto* b) { return a->rates.flops_per_s < b->rates.flops_per_s; });
  const partition::PlacementNode& median = *by_speed[by_speed.size() / 2];
  std::vector<double> links;
  for (const auto& n : nodes) links.push_back(std::min(n.uplink_Bps, n.downlink_Bps));
  std::sort(links.begin(), links.end());
  plan.reference.device = median.rates;
  plan.reference.link_Bps = links[links.size() / 2];
  plan.reference.fast_memory_bytes = median.memory_bytes;
  plan.reference.stream_Bps = median.stream_Bps;

  // The partitioner prices every block on the median server; on mixed hardware fewer, bigger
  // stages on the fastest nodes can beat k stages. So every stage count k' <= k is partitioned and
  // placed, and the placement with the smallest eq. 11 bottleneck on the real nodes wins (ties:
  // fewer stages).
  search.client_io = client_io_bytes(g);
  const auto& client_io = search.client_io;

  partition::PlacementCosts cost;
  double best = std::numeric_limits<double>::infinity();
  for (int kk = 1; kk <= k; ++kk) {
    PlanProgress progress{kk, k, -1, spec.brkga.generations, 0.0};
    if (on_progress) on_progress(progress);
    const auto on_generation = [&](const partition::BrkgaGeneration& gen) {
      progress.generation = gen.generation;
      progress.best_s = gen.best_s;
      on_progress(progress);
    };
    partition::Partition part = on_progress ? partition::partition_graph(g, kk, spec.method, plan.reference, spec.brkga, on_generation)
                                            : partition::partition_graph(g, kk, spec.method, plan.reference, spec.brkga);
    if (part.blocks < kk && kk > 1) continue;  // the partitioner used fewer: that count was tried already
    partition::PlacementCosts c = costs_on_nodes(sc, part, nodes, client_io);
    partition::Placement placed = spec.placement == PlacementKind::Optimal ? partition::place_optimal(c)
                                                                            : partition::place_greedy(g, part, nodes);
    if (spec.placement != PlacementKind::Optimal) {  // the greedy's own figure prices no messages: compare by c
      placed.bottleneck_s = 0;
      for (int b = 0; b < part.blocks; ++b)
        placed.bottleneck_s = std::max(placed.bottleneck_s, c[static_cast<std::size_t>(b)][static_cast<std::size_t>(placed.node_of_block[static_cast<std::size_t>(b)])]);
    }
    if (keep_candidates) search.tried.emplace_back(part, placed);
    if (placed.bottleneck_s < best * (1 - 1e-12)) {
      best = placed.bottleneck_s;
      plan.partition = std::move(part);
      plan.placement = std::move(placed);
      cost = std::move(c);
    }
  }
  // Cut again onto the real nodes: slicing the winner's block-major order with each block priced
  // on its own node (node_slicing.hpp) finds cuts that suit the fast nodes, and is never worse,
  // since the winner and its placement are one of the slicings it tries.
  // Servers that eq. 10 prices alike, drawing the same power at the same prices, are interchangeable:
  // the cut runs over how many of each kind it takes (node_slicing.hpp).
  search.classes = interchangeable_servers(sc, nodes);
  const std::vector<int>& classes = search.classes;
  if (spec.placement == PlacementKind::Optimal &&
      partition::slicing_states(classes, static_cast<int>(nodes.size()), k) <= partition::kMaxSlicingStates) {
    search.order = partition::block_major_order(g, plan.partition.block_of);  // what the cut onto every node set slices
    const partition::NodeSlicing ns = partition::slice_onto_nodes(g, search.order, nodes, k, {client_io.first, client_io.second}, classes);
    // The slicing prices no messages: the recut is priced again as the others were, RPCs included.
    partition::Partition recut;
    recut.method = plan.partition.method;
    recut.block_of = ns.block_of;
    recut.blocks = ns.blocks;
    partition::PlacementCosts recut_cost = costs_on_nodes(sc, recut, nodes, client_io);
    double recut_bottleneck = 0;
    for (int b = 0; b < ns.blocks; ++b)
      recut_bottleneck = std::max(recut_bottleneck, recut_cost[static_cast<std::size_t>(b)][static_cast<std::size_t>(ns.node_of_block[static_cast<std::size_t>(b)])]);
    if (ns.blocks > 0 && recut_bottleneck < best * (1 - 1e-9)) {
      best = recut_bottleneck;
      plan.partition = std::move(recut);
      plan.node_sliced = true;
      plan.placement.node_of_block = ns.node_of_block;
      plan.placement.bottleneck_s = recut_bottleneck;
      cost = std::move(recut_cost);
    }
  }
  plan.costs = cost;
  complete_plan(sc, plan);
  return search;
}

}  // namespace

PipelinePlan plan_pipeline(const Scenario& sc, const std::function<void(const PlanProgress&)>& on_progress) {
  PlanSearch search = search_plans(sc, sc.policy.partitioner.objective.set, on_progress);
  if (!sc.policy.partitioner.objective.set) return std::move(search.base);
  return choose_by_objective(sc, search);
}

namespace {

/// sc with Poisson arrivals at `rate` and that rate as the objective's least throughput.
Scenario at_load(const Scenario& sc, double rate) {
  Scenario s = sc;
  s.workload.arrival = ArrivalProcess::Poisson;
  s.workload.rate_per_s = rate;
  s.policy.partitioner.objective.min_requests_per_s = rate;
  return s;
}

}  // namespace

LoadSchedule plan_for_loads(const Scenario& sc, const std::vector<OfferedLoad>& loads,
                            const std::function<void(const PlanProgress&)>& on_progress) {
  if (!sc.policy.partitioner.objective.set) throw std::invalid_argument("plan_for_loads: scenario \"" + sc.name + "\" has no objective");
  if (loads.empty()) throw std::invalid_argument("plan_for_loads: no loads");
  for (const OfferedLoad& l : loads)
    if (!(l.requests_per_s > 0) || !std::isfinite(l.requests_per_s) || !(l.hours >= 0))
      throw std::invalid_argument("plan_for_loads: a load needs a positive rate and hours >= 0");
  // The cuts and placements do not depend on the load; only the objective's choice does.
  const PlanSearch search = search_plans(sc, true, on_progress);
  LoadSchedule schedule;
  std::vector<PipelinePlan> chosen(loads.size());
  std::vector<Scenario> at;  // sc at each load, for choosing and for scoring the fixed plan
  for (const OfferedLoad& l : loads) at.push_back(at_load(sc, l.requests_per_s));
  for (std::size_t i = 0; i < loads.size(); ++i) {
    LoadPlan lp;
    lp.load = loads[i];
    try {
      chosen[i] = choose_by_objective(at[i], search);
      lp.following = chosen[i].candidates[static_cast<std::size_t>(chosen[i].chosen)];
      if (schedule.peak < 0 || loads[i].requests_per_s > loads[static_cast<std::size_t>(schedule.peak)].requests_per_s)
        schedule.peak = static_cast<int>(i);
    } catch (const ScenarioError& e) {
      lp.none_because = e.diagnostics().empty() ? e.what() : e.diagnostics().front().message;
    }
    schedule.loads.push_back(std::move(lp));
  }
  if (schedule.peak < 0) return schedule;

  // Each change of plan: a server loads the parameters of the ops it will hold and does not.
  // Per load with a plan, per server: the ops it holds (empty: none).
  std::vector<std::vector<std::vector<int>>> held(loads.size());
  for (std::size_t i = 0; i < loads.size(); ++i) {
    if (!schedule.loads[i].following) continue;
    const PipelinePlan& p = chosen[i];
    held[i].resize(sc.nodes.size());
    for (int v = 0; v < sc.graph->size(); ++v)
      held[i][static_cast<std::size_t>(p.stages[static_cast<std::size_t>(p.partition.block_of[static_cast<std::size_t>(v)])].node)].push_back(v);
  }
  const bool off = sc.policy.partitioner.objective.unused_nodes == UnusedNodes::Off;
  const auto plan_switch = [&](std::size_t from, std::size_t to) {
    PlanSwitch sw;
    sw.from = static_cast<int>(from);
    sw.to = static_cast<int>(to);
    const auto& before = held[from];
    const auto& after = held[to];
    for (std::size_t n = 0; n < sc.nodes.size(); ++n) {
      if (!before[n].empty() && after[n].empty()) sw.switched_off.push_back(static_cast<int>(n));
      std::vector<int> missing;  // ops it will hold and does not (ascending: held() lists them so)
      std::set_difference(after[n].begin(), after[n].end(), before[n].begin(), before[n].end(), std::back_inserter(missing));
      if (missing.empty()) continue;  // it keeps (some of) what it holds
      sw.loading.push_back(static_cast<int>(n));
      double bytes = 0;
      for (const int v : missing) bytes += sc.graph->op(v).param_bytes;
      const double load_s = bytes / sc.nodes[n].weights_load_Bps;
      sw.param_bytes += bytes;
      sw.load_s = std::max(sw.load_s, load_s);
      if (off && before[n].empty()) {  // powered only to load while the old plan serves
        const double joules = power_draw(sc.nodes[n]).idle_w * load_s;
        const ResolvedPrices price = host_prices(sc, sc.nodes[n]);
        sw.joules += joules;
        sw.cost += price.rent_per_s * load_s + price.electricity_per_j * joules;
      }
    }
    return sw;
  };
  for (std::size_t i = 0; i < loads.size(); ++i) {
    const std::size_t j = (i + 1) % loads.size();
    if (loads.size() < 2 || !schedule.loads[i].following || !schedule.loads[j].following) continue;
    PlanSwitch sw = plan_switch(i, j);
    if (!sw.loading.empty() || !sw.switched_off.empty()) schedule.switches.push_back(std::move(sw));
  }

  // The peak's plan, run at every load: sized once, never switched.
  const PipelinePlan& fixed = chosen[static_cast<std::size_t>(schedule.peak)];
  const LatencyTable latencies(sc);
  bool totals = true;
  double f_j = 0, x_j = 0, f_cost = 0, x_cost = 0, requests = 0;
  for (std::size_t i = 0; i < schedule.loads.size(); ++i) {
    LoadPlan& lp = schedule.loads[i];
    PlanScore s = score_plan(at[i], fixed, latencies);
    s.feasible = s.requests_per_s >= lp.load.requests_per_s * (1 - 1e-12);
    lp.fixed = s;
    if (!lp.following || !(lp.load.hours > 0)) {
      totals = false;
      continue;
    }
    const double seconds = lp.load.hours * 3600.0;
    f_j += plan_power_w(*lp.following) * seconds;
    x_j += plan_power_w(*lp.fixed) * seconds;
    f_cost += lp.following->cost_per_s * seconds;
    x_cost += lp.fixed->cost_per_s * seconds;
    requests += lp.load.requests_per_s * seconds;
  }
  if (totals) {
    for (const PlanSwitch& sw : schedule.switches) {
      f_j += sw.joules;
      f_cost += sw.cost;
    }
    schedule.following_joules = f_j;
    schedule.fixed_joules = x_j;
    schedule.requests = requests;
    if (sc.priced()) {
      schedule.following_cost = f_cost;
      schedule.fixed_cost = x_cost;
    }
  }
  return schedule;
}

nlohmann::json load_schedule_json(const Scenario& sc, const LoadSchedule& schedule) {
  const PlanObjectiveSpec& obj = sc.policy.partitioner.objective;
  const auto with_power = [&](const PlanScore& s) {
    nlohmann::json j = score_json(sc, s);
    j["power_w"] = plan_power_w(s);
    return j;
  };
  nlohmann::json loads = nlohmann::json::array();
  for (const LoadPlan& lp : schedule.loads) {
    nlohmann::json j{{"requests_per_s", lp.load.requests_per_s}};
    if (lp.load.hours > 0) j["hours"] = lp.load.hours;
    j["plan"] = lp.following ? with_power(*lp.following) : nlohmann::json(nullptr);
    if (!lp.following) j["no_plan"] = lp.none_because;
    j["fixed"] = lp.fixed ? with_power(*lp.fixed) : nlohmann::json(nullptr);
    loads.push_back(std::move(j));
  }
  nlohmann::json doc{{"minimize", to_string(obj.minimize)},
                     {"unused_nodes", obj.unused_nodes == UnusedNodes::Off ? "off" : "standby"},
                     {"loads", loads},
                     {"fixed_plan_for_requests_per_s",
                      schedule.peak >= 0 ? nlohmann::json(schedule.loads[static_cast<std::size_t>(schedule.peak)].load.requests_per_s)
                                         : nlohmann::json(nullptr)}};
  nlohmann::json switches = nlohmann::json::array();
  const auto names = [&](const std::vector<int>& nodes) {
    nlohmann::json j = nlohmann::json::array();
    for (const int n : nodes) j.push_back(sc.nodes[static_cast<std::size_t>(n)].name);
    return j;
  };
  for (const PlanSwitch& sw : schedule.switches) {
    nlohmann::json j{{"from_requests_per_s", schedule.loads[static_cast<std::size_t>(sw.from)].load.requests_per_s},
                     {"to_requests_per_s", schedule.loads[static_cast<std::size_t>(sw.to)].load.requests_per_s},
                     {"loading", names(sw.loading)},
                     {"switched_off", names(sw.switched_off)},
                     {"load_s", sw.load_s},
                     {"param_bytes", sw.param_bytes},
                     {"joules", sw.joules}};
    if (sc.priced()) j["cost"] = sw.cost;
    switches.push_back(std::move(j));
  }
  doc["switches"] = switches;
  if (schedule.following_joules) {
    nlohmann::json t{{"requests", *schedule.requests},
                     {"following_joules", *schedule.following_joules},
                     {"fixed_joules", *schedule.fixed_joules},
                     {"energy_saved", *schedule.fixed_joules > 0 ? 1.0 - *schedule.following_joules / *schedule.fixed_joules : 0.0}};
    if (schedule.following_cost) {
      t["following_cost"] = *schedule.following_cost;
      t["fixed_cost"] = *schedule.fixed_cost;
      t["cost_saved"] = *schedule.fixed_cost > 0 ? 1.0 - *schedule.following_cost / *schedule.fixed_cost : 0.0;
    }
    doc["totals"] = t;
  }
  return doc;
}

}  // namespace swarmsim::sim
