#pragma once
// A graph model's pipeline, planned before the simulation starts: the policy's partitioner cuts
// the graph into stages (sim/partition), the stages are placed on server nodes, and each stage's
// per-request traffic and compute time on its node are worked out. Pure: no SimGrid.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/partition/placement.hpp"
#include "sim/partition/strategies.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/latency_table.hpp"

namespace swarmsim::sim {

/// Bandwidth overflowing parameters stream at from host memory (PCIe 4.0 x16, ~25 GB/s achieved).
inline constexpr double kHostStreamBps = 25e9;

/// One pipeline stage: a block of the partition on one server node.
struct PipelineStage {
  int node = -1;                       ///< index into Scenario::nodes
  int ops = 0;                         ///< ops of the graph in this stage
  double compute_s = 0;                ///< Σ work(v) + overflow on its node, per request (s)
  double param_bytes = 0;              ///< sizeparam of the stage (bytes)
  double peak_bytes = 0;               ///< peak activations (bytes)
  double input_bytes_from_client = 0;  ///< graph inputs the client sends this stage per request (bytes)
  double output_bytes_to_client = 0;   ///< graph outputs this stage returns to the client per request (bytes)
  std::vector<std::pair<int, double>> sends;  ///< (later stage, bytes) shipped per request, eq. 8
  int inputs_expected = 0;             ///< messages one request brings to this stage (stages + client)
  double predicted_cost_s = 0;         ///< f(P_i) on its node, eq. 10 with its access links, plus the client's tensors (s)
  double service_s = 0;                ///< busy time per request: compute + RPC and (de)serialization at both ends (s)
  double link_in_s = 0;                ///< its downlink's time per request for everything it receives (s)
  double link_out_s = 0;               ///< its uplink's time per request for everything it sends (s)
};

/// One candidate plan's predicted figures: what policy.partitioner.objective chooses by
/// (docs/partitioning.md, "Objectives"). Servers "powered" are those holding a stage, and with
/// `unused_nodes: "standby"` the others too; clients are left out (every plan has the same).
struct PlanScore {
  std::vector<int> nodes;             ///< server nodes holding a stage, ascending
  int stages = 0;
  double bottleneck_s = 0;            ///< eq. 11 on the nodes: the slowest stage's eq. 10 cost (s)
  double overlap_bottleneck_s = 0;    ///< the resource bound with transfers overlapped (PipelinePlan) (s)
  double requests_per_s = 0;          ///< capacity: 1 / overlap_bottleneck_s (requests/s)
  /// What the workload is predicted to get: the least of the capacity, the arrivals' rate and
  /// the window's bound max_in_flight / latency_s (Little's law); with phased arrivals, the mean
  /// over a cycle of each phase's rate so bounded (requests/s).
  double served_requests_per_s = 0;
  /// One request alone in the pipeline: the longest path from the client through the stages and
  /// back, each stage's downlink time for its inputs plus its service time, the returning
  /// stages' uplink time, and both access latencies of every message (s).
  double latency_s = 0;
  /// Servers powered, per request at the served rate: idle draw / rate + (busy − idle) x compute (J).
  double joules_per_request = 0;
  double cost_per_s = 0;              ///< their rent and electricity per second at the served rate (money/s)
  double cost_per_request = 0;        ///< cost_per_s / served rate (money)
  bool feasible = true;               ///< meets every bound of the objective
  /// No other candidate is at least as good in capacity, latency, energy and cost (when priced)
  /// and better in one.
  bool on_front = false;
};

/// What each graph op takes on each server node, as the scenario's cost model prices it
/// (sim/pricing.hpp): the work(v) of eq. 10 on that node.
struct GraphOpPrices {
  std::string pricing;  ///< the cost model's name ("roofline", "profile for CPU devices (...)", ...)
  /// Per server node (Scenario::nodes order): seconds of each op (indexed by op id), shared by
  /// the nodes of one device.
  std::vector<std::shared_ptr<const std::vector<double>>> per_node;
};

/// Prices every op of sc.graph on every server node's device with sc's cost model. Requires sc.graph.
GraphOpPrices price_graph_ops(const Scenario& sc);

/// The whole graph's work on one server device: what a request costs a server holding every op.
struct GraphWork {
  std::string device;  ///< the device's catalog name
  int servers = 0;     ///< server nodes with this device
  double seconds = 0;  ///< Σ work(v) over the graph's ops, as `prices` priced them (s)
};

/// Per distinct server device (in the scenario's order), the graph's work per request there; and
/// in `kernels` the ops that run a kernel (graph inputs do not). Requires sc.graph.
std::vector<GraphWork> graph_work_per_device(const Scenario& sc, const GraphOpPrices& prices, int& kernels);

struct PipelinePlan {
  GraphOpPrices op_prices;             ///< work(v) on each server node
  partition::MtppParams reference;     ///< what the partitioner priced against (the median server)
  partition::Partition partition;
  partition::PartitionQuality quality; ///< quality under `reference`
  partition::Placement placement;
  /// costs[b][j]: f(P_b) on node j, eq. 10 on j's own links with the client's tensors: what the
  /// placement chose from, and what a failover picks a spare by (s).
  partition::PlacementCosts costs;
  /// The partitioner's cut was improved by cutting its order again with each block priced on its
  /// own node (heterogeneous SliceGraph, partition/node_slicing.hpp).
  bool node_sliced = false;
  std::vector<PipelineStage> stages;   ///< in pipeline (topological) order
  double predicted_bottleneck_s = 0;   ///< max over placed stages of predicted_cost_s: eq. 11, nothing overlaps (s)
  double client_link_s = 0;            ///< the busiest client link's time per request of the pipeline: its share of the requests x inputs over its uplink or outputs over its downlink (s)
  /// The pipeline's resource bound when transfers overlap compute, as the simulated runtime does:
  /// the busiest of every stage's service time, every access link and the client's links (s).
  double overlap_bottleneck_s = 0;
  /// With policy.partitioner.objective: every distinct plan the planner scored (each stage count's
  /// placement, and with optimal placement the best cut onto every set of servers, counted by
  /// kind, when there are at most partition::kMaxSlicingStates such sets), and which one runs.
  /// Empty without an objective.
  std::vector<PlanScore> candidates;
  int chosen = -1;                     ///< index into candidates
  /// Per server node: switched off for the run (objective.unused_nodes "off" and no stage here).
  std::vector<char> switched_off;
};

/// The placement view of a server node: its device's ops priced as `op_seconds` (GraphOpPrices),
/// its roofline GEMM rate (what ranks nodes by speed), usable memory, links.
partition::PlacementNode placement_node(const NodeSpec& node, const OverheadSpec& overheads,
                                        std::shared_ptr<const std::vector<double>> op_seconds);

/// Stage `stage`'s terms (work, overflow, parameter and peak bytes) if it ran on server node `node`:
/// what placing it there, or moving it there after a failure, costs per request.
partition::BlockCost stage_terms_on_node(const Scenario& sc, const PipelinePlan& plan, int stage, int node);

/// The server nodes' up links (`up`) or down links as the scenario gives them (bytes/s), in node order.
std::vector<double> server_link_rates(const Scenario& sc, bool up);

/// costs[b][j] of `plan`'s stages with server node j's access links at up_Bps[j] and
/// down_Bps[j] (bytes/s) instead of the scenario's: eq. 10 as plan.costs prices it (which it equals
/// for the scenario's links), for a migration to re-price the stages on a congested network.
partition::PlacementCosts stage_costs_with_links(const Scenario& sc, const PipelinePlan& plan, const std::vector<double>& up_Bps,
                                                 const std::vector<double>& down_Bps);

/// Where planning is: it partitions for every stage count up to the scenario's (BRKGA can take
/// minutes on large graphs or populations).
struct PlanProgress {
  int stages = 0, max_stages = 0;  ///< the stage count being partitioned, of how many
  int generation = -1;             ///< BRKGA's generation, -1 for the other methods
  int generations = 0;             ///< BRKGA's generation limit
  double best_s = 0;               ///< BRKGA's best bottleneck so far (s)
};

/// "partitioning <graph> (<method>): 2 of 6 stage counts, generation 17/40, best 7.45 ms", for
/// progress lines (the stage counts only when max_stages > 0, the generation only for BRKGA).
std::string plan_progress_text(const std::string& graph, partition::Method method, const PlanProgress& p);

/// The predicted figures of `plan` on sc's servers (PlanScore), feasibility and the front unset;
/// `latencies` is sc's (LatencyTable(sc)), built once for every plan scored.
PlanScore score_plan(const Scenario& sc, const PipelinePlan& plan, const LatencyTable& latencies);

/// metrics.json's partition.objective of a plan chosen by an objective (plan.candidates set): what
/// it minimizes and its bounds, the number of candidates scored, the chosen one's predicted
/// figures, the Pareto front's (most throughput first) and the nodes switched off.
nlohmann::json plan_objective_json(const Scenario& sc, const PipelinePlan& plan);

/// The least capacity a plan must have under sc's objective (requests/s): its min_throughput, or
/// unset, the arrivals' rate (0 when every request arrives at once).
double least_throughput(const Scenario& sc);

/// Requests per second the workload offers: 1 / interval, the Poisson rate, a trace's arrivals
/// over its span, the busiest phase's rate; infinite when every request arrives at once.
double offered_requests_per_s(const WorkloadSpec& w);

/// Partitions sc.graph with sc.policy.partitioner and places the stages. Requires sc.graph.
/// With policy.partitioner.objective, scores every candidate plan and runs the one it asks for;
/// throws ScenarioError (at policy.partitioner.objective, naming each bound and the best any plan
/// reaches) when no candidate meets the objective's bounds.
/// `on_progress`, when set, is told before each stage count and after each BRKGA generation.
PipelinePlan plan_pipeline(const Scenario& sc, const std::function<void(const PlanProgress&)>& on_progress = {});

/// One offered load of a schedule: a request rate, and how long it lasts.
struct OfferedLoad {
  double requests_per_s = 0;  ///< Poisson arrivals at this rate (requests/s)
  double hours = 0;           ///< how long the load lasts (h); 0: not given (no totals over the schedule)
};

/// The plan an objective chooses for one offered load, and the fixed plan's figures at it.
struct LoadPlan {
  OfferedLoad load;
  /// The objective's choice with the load as its least throughput (its other bounds kept);
  /// empty when no plan meets them, `none_because` saying why.
  std::optional<PlanScore> following;
  std::string none_because;
  /// The plan chosen for the highest load that has one, run at this load (no bound checked but
  /// keeping up: `feasible` is false where it serves less than the load); empty when no load has a plan.
  std::optional<PlanScore> fixed;
};

/// Going from one load's plan to the next's: the servers that load ops they do not hold, and
/// what that costs before the new plan serves (the old one serves meanwhile).
struct PlanSwitch {
  int from = -1, to = -1;          ///< indices into LoadSchedule::loads
  std::vector<int> loading;        ///< servers that load parameters of ops they will hold and do not, ascending
  std::vector<int> switched_off;   ///< the old plan's servers without a stage in the new one, ascending
  double load_s = 0;               ///< the longest of those loads: how long the switch takes (s)
  double param_bytes = 0;          ///< parameters loaded, over all servers (bytes)
  /// Servers powered only to load (off before, with unused_nodes "off"): their idle draw over
  /// their load time (J) and their rent and that energy's price over it (money).
  double joules = 0, cost = 0;
};

/// Load-following plans (docs/partitioning.md, "Plans for a range of loads"): the objective's
/// choice at each offered load, against one plan sized for the peak and run at every load.
struct LoadSchedule {
  std::vector<LoadPlan> loads;  ///< in the order given
  int peak = -1;                ///< index of the load whose plan is the fixed one; -1 when none has a plan
  /// Each change of plan between consecutive loads that both have one, and from the last load
  /// back to the first (the schedule repeats); none where the plan stays.
  std::vector<PlanSwitch> switches;
  /// Totals over one pass of the schedule, when every load has hours and a plan (else unset): the
  /// servers' energy (J) and cost (money), the switches' included for following the load, and the
  /// requests offered.
  std::optional<double> following_joules, fixed_joules, following_cost, fixed_cost, requests;
};

/// Mean power of the servers a plan powers at the rate it serves (W): J per request x served rate.
inline double plan_power_w(const PlanScore& s) { return s.joules_per_request * s.served_requests_per_s; }

/// Plans sc's graph once and, for each load, chooses by sc's objective (sc.policy.partitioner.objective,
/// which must be set) as plan_pipeline would for Poisson arrivals at that rate with min_throughput
/// the rate; then scores the peak's plan at every load. Requires sc.graph and at least one load.
LoadSchedule plan_for_loads(const Scenario& sc, const std::vector<OfferedLoad>& loads,
                            const std::function<void(const PlanProgress&)>& on_progress = {});

/// metrics-style JSON of a schedule: per load the chosen plan (or why none) and the fixed plan's
/// figures, the power of each, and the totals when known.
nlohmann::json load_schedule_json(const Scenario& sc, const LoadSchedule& schedule);

}  // namespace swarmsim::sim
