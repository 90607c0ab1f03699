#include "sim/pipeline_plan.hpp"

#include "sim/partition/node_slicing.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "gpu/shard_cost_model.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/units.hpp"

namespace swarmsim::sim {

partition::PlacementNode placement_node(const NodeSpec& node, const OverheadSpec& overheads) {
  const gpu::RooflineEfficiency eff;  // the roofline model's documented efficiencies (docs/cost-model.md)
  partition::PlacementNode p;
  p.name = node.name;
  p.rates.flops_per_s = node.device->peak_flops * eff.gemm_compute;
  p.rates.mem_Bps = node.device->memory_bandwidth * eff.memory;
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
  const partition::PlacementNode n = placement_node(sc.nodes[static_cast<std::size_t>(node)], sc.overheads);
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

/// The server nodes as placement prices them, with links `up_Bps` / `down_Bps` (bytes/s). Every
/// byte that crosses a cut is also serialized by its sender and deserialized by its receiver:
/// eq. 8's B becomes the link and the (de)serialization in series, per byte.
std::vector<partition::PlacementNode> priced_nodes(const Scenario& sc, const std::vector<double>& up_Bps,
                                                   const std::vector<double>& down_Bps) {
  const auto in_series = [&](double link_Bps) { return 1.0 / (1.0 / link_Bps + 1.0 / sc.overheads.serialization_Bps); };
  std::vector<partition::PlacementNode> nodes;
  for (std::size_t j = 0; j < sc.nodes.size(); ++j) {
    nodes.push_back(placement_node(sc.nodes[j], sc.overheads));
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

/// cost[b][j]: f(P_b) on node j, eq. 10 on j's own links, the client's tensors included (s).
partition::PlacementCosts costs_on_nodes(const partition::ModelGraph& g, const partition::Partition& part,
                                         const std::vector<partition::PlacementNode>& nodes,
                                         const std::pair<std::vector<double>, std::vector<double>>& client_io) {
  partition::PlacementCosts c = partition::placement_costs(g, part, nodes);
  for (int v = 0; v < g.size(); ++v)
    for (std::size_t j = 0; j < nodes.size(); ++j)
      c[static_cast<std::size_t>(part.block_of[static_cast<std::size_t>(v)])][j] +=
          client_io.first[static_cast<std::size_t>(v)] / nodes[j].downlink_Bps + client_io.second[static_cast<std::size_t>(v)] / nodes[j].uplink_Bps;
  return c;
}

}  // namespace

std::vector<double> server_link_rates(const Scenario& sc, bool up) {
  std::vector<double> r;
  for (const NodeSpec& n : sc.nodes) r.push_back(up ? n.uplink_Bps : n.downlink_Bps);
  return r;
}

partition::PlacementCosts stage_costs_with_links(const Scenario& sc, const PipelinePlan& plan, const std::vector<double>& up_Bps,
                                                 const std::vector<double>& down_Bps) {
  return costs_on_nodes(*sc.graph, plan.partition, priced_nodes(sc, up_Bps, down_Bps), client_io_bytes(*sc.graph));
}

PipelinePlan plan_pipeline(const Scenario& sc, const std::function<void(const PlanProgress&)>& on_progress) {
  if (!sc.graph) throw std::invalid_argument("plan_pipeline: scenario \"" + sc.name + "\" has no graph model");
  const partition::ModelGraph& g = *sc.graph;
  const std::vector<partition::PlacementNode> nodes = priced_nodes(sc, server_link_rates(sc, true), server_link_rates(sc, false));
  if (nodes.empty()) throw std::invalid_argument("plan_pipeline: no server nodes");
  const PartitionerSpec& spec = sc.policy.partitioner;
  const int k = std::min(spec.stages > 0 ? spec.stages : static_cast<int>(nodes.size()), g.size());

  PipelinePlan plan;
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
  const auto client_io = client_io_bytes(g);

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
    partition::PlacementCosts c = costs_on_nodes(g, part, nodes, client_io);
    partition::Placement placed = spec.placement == PlacementKind::Optimal ? partition::place_optimal(c)
                                                                            : partition::place_greedy(g, part, nodes);
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
  if (spec.placement == PlacementKind::Optimal && static_cast<int>(nodes.size()) <= partition::kMaxExactNodes) {
    const std::vector<int> order = partition::block_major_order(g, plan.partition.block_of);
    const partition::NodeSlicing ns = partition::slice_onto_nodes(g, order, nodes, k, {client_io.first, client_io.second});
    if (ns.bottleneck_s < best * (1 - 1e-9)) {
      best = ns.bottleneck_s;
      plan.partition.block_of = ns.block_of;
      plan.partition.blocks = ns.blocks;
      plan.partition.convergence.clear();
      plan.node_sliced = true;
      plan.placement.node_of_block = ns.node_of_block;
      plan.placement.bottleneck_s = ns.bottleneck_s;
      cost = costs_on_nodes(g, plan.partition, nodes, client_io);
    }
  }
  plan.costs = cost;
  plan.quality = partition::partition_quality(g, plan.partition, plan.reference);

  const int blocks = plan.partition.blocks;
  plan.stages.assign(static_cast<std::size_t>(blocks), PipelineStage{});
  for (int b = 0; b < blocks; ++b) {
    PipelineStage& st = plan.stages[b];
    st.node = plan.placement.node_of_block[b];
    st.predicted_cost_s = cost[static_cast<std::size_t>(b)][static_cast<std::size_t>(st.node)];
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
  std::vector<std::vector<char>> feeds(static_cast<std::size_t>(blocks), std::vector<char>(static_cast<std::size_t>(blocks), 0));
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
      feeds[b][t] = 1;
      auto it = std::find_if(st.sends.begin(), st.sends.end(), [t](const auto& s) { return s.first == t; });
      if (it == st.sends.end()) st.sends.emplace_back(t, g.op(v).out_bytes);
      else it->second += g.op(v).out_bytes;
    }
  }
  for (int t = 0; t < blocks; ++t) {
    PipelineStage& st = plan.stages[t];
    for (int b = 0; b < blocks; ++b) st.inputs_expected += feeds[b][t];
    bool has_source = false;
    for (int v = 0; v < g.size(); ++v) has_source |= plan.partition.block_of[v] == t && g.preds(v).empty();
    if (has_source) ++st.inputs_expected;
    std::sort(st.sends.begin(), st.sends.end());
  }
  // What the runtime overlaps: each stage's own busy time, and each link's transfer time.
  const OverheadSpec& o = sc.overheads;
  double client_in = 0, client_out = 0;
  for (int b = 0; b < blocks; ++b) {
    PipelineStage& st = plan.stages[b];
    double in_bytes = st.input_bytes_from_client, out_bytes = st.output_bytes_to_client;
    int out_messages = st.output_bytes_to_client > 0 || st.sends.empty() ? 1 : 0;
    for (const auto& [to, bytes] : st.sends) {
      out_bytes += bytes;
      ++out_messages;
    }
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
  return plan;
}

}  // namespace swarmsim::sim
