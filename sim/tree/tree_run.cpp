#include "sim/tree/tree_run.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>

#include "gpu/shard_cost_model.hpp"
#include "sim/metrics/run_cost.hpp"
#include "sim/output/request_report.hpp"
#include "sim/rng.hpp"
#include "sim/swarm/arrivals.hpp"
#include "sim/swarm/spare_servers.hpp"

namespace swarmsim::sim {

namespace {
/// Server nodes fastest first for the tree's work (ties to the lower index).
std::vector<int> by_speed(const std::vector<double>& compute_s) {
  std::vector<int> order(compute_s.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return compute_s[static_cast<std::size_t>(a)] < compute_s[static_cast<std::size_t>(b)]; });
  return order;
}
}  // namespace

TreeRun::TreeRun(const Scenario& s, const RunOptions& options, SimSignals& sig)
    : sc(s), spec(*s.tree), task(*s.tree, s.seed), signals(sig), energy(s) {
  energy.observe(signals);
  const gpu::RooflineCostModel roofline;
  for (const NodeSpec& n : sc.nodes)  // f_i's work: its FLOPs, and its parameters read once per request
    node_compute_s.push_back(roofline.op_seconds(*n.device, gpu::OpCost{"tree_node", gpu::OpClass::Gemm, spec.node_flops, spec.node_param_bytes}));
  const std::vector<int> order = by_speed(node_compute_s);
  const std::size_t placed = spec.initial_children > 1 ? static_cast<std::size_t>(spec.initial_children) + 1 : 1;
  tree = std::make_unique<FisherTree>(spec, task, std::vector<int>(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(placed)));
  spares.assign(order.begin() + static_cast<std::ptrdiff_t>(placed), order.end());

  requests = sc.workload.sessions;
  sent.assign(static_cast<std::size_t>(requests), -1);
  done.assign(static_cast<std::size_t>(requests), -1);
  answer.assign(static_cast<std::size_t>(requests), -1);
  answer_depth.assign(static_cast<std::size_t>(requests), -1);
  hops.assign(static_cast<std::size_t>(requests), 0);
  attempt.assign(static_cast<std::size_t>(requests), 0);
  last_from.assign(static_cast<std::size_t>(requests), -1);
  last_to.assign(static_cast<std::size_t>(requests), -1);
  delivered.assign(static_cast<std::size_t>(requests), 0);
  server_up.assign(sc.nodes.size(), 1);
  resending.assign(sc.clients.size(), 0);
  hidden.resize(static_cast<std::size_t>(requests));
  for (int r = 0; r < requests; ++r) klass.push_back(task.class_of(static_cast<std::uint64_t>(r)));
  Rng root(sc.seed);
  arrival = draw_arrivals(sc.workload, root);

  RunWriters writers = open_run_writers(sc, options, signals, tree_run_start_json(sc));
  trace = std::move(writers.trace);
  log = std::move(writers.log);
  for (const TreeNode& n : tree->nodes()) signals.on_node_joined(NodeJoined{0.0, n.server, BlockRange{n.keys.lo, n.keys.hi}, 0.0});
  report_tree(0.0, "planned", -1);
}


double TreeRun::load_s(int server) const { return spec.node_param_bytes / sc.nodes[static_cast<std::size_t>(server)].weights_load_Bps; }

void TreeRun::request_sent(int r, double t) {
  const auto ri = static_cast<std::size_t>(r);
  hidden[ri].assign(static_cast<std::size_t>(spec.dim), 0.0);
  hops[ri] = 0;
  if (attempt[ri] > 0) return;  // sent again: its latency still counts from the first sending
  sent[ri] = t;
  signals.on_session_started(SessionStarted{t, r, static_cast<int>(sc.nodes.size()) + client_of(r)});
}

void TreeRun::message_posted(int r, int from, int to) {
  const auto ri = static_cast<std::size_t>(r);
  last_from[ri] = from;
  last_to[ri] = to;
  delivered[ri] = 0;
}


int TreeRun::node_down(int server, double t) {
  server_up[static_cast<std::size_t>(server)] = 0;
  signals.on_node_state(NodeStateChanged{t, server, false});
  if (tree->pending_split()) {  // its new nodes may be loading on this server: the tree stays as it is
    tree->cancel_split(spares);
    report_tree(t, "split_cancelled", tree->splits().back().node);
  }
  spares.erase(std::remove_if(spares.begin(), spares.end(), [&](int s) { return !server_up[static_cast<std::size_t>(s)]; }), spares.end());
  sort_fastest_first(spares, node_compute_s);
  for (const TreeNode& n : tree->nodes()) {
    if (n.server != server || n.state != TreeNodeState::Serving) continue;
    tree->fail(n.id);
    TreeFailover f;
    f.node = n.id;
    f.from_server = server;
    f.failed_at_s = t;
    f.detected_at_s = sc.policy.faults.detected_at(t);
    failovers.push_back(f);
    report_tree(t, "failed", n.id);
    return static_cast<int>(failovers.size()) - 1;
  }
  return -1;
}

void TreeRun::node_up(int server, double t) {
  server_up[static_cast<std::size_t>(server)] = 1;
  signals.on_node_state(NodeStateChanged{t, server, true});
  if (std::find(spares.begin(), spares.end(), server) == spares.end()) spares.push_back(server);
  sort_fastest_first(spares, node_compute_s);
}

std::vector<std::vector<int>> TreeRun::failure_detected(int f, double t) {
  TreeFailover& fo = failovers[static_cast<std::size_t>(f)];
  tree->detect(fo.node);
  std::vector<std::vector<int>> lost(static_cast<std::size_t>(clients()));
  for (int r = 0; r < requests; ++r) {
    const auto ri = static_cast<std::size_t>(r);
    if (sent[ri] < 0 || done[ri] >= 0) continue;
    if (last_to[ri] == fo.node || (last_from[ri] == fo.node && !delivered[ri])) {
      ++attempt[ri];
      lost[static_cast<std::size_t>(client_of(r))].push_back(r);
      ++resending[static_cast<std::size_t>(client_of(r))];
      ++fo.requests_resent;
    }
  }
  resent += fo.requests_resent;
  report_tree(t, "failure_detected", fo.node);
  return lost;
}

int TreeRun::take_replacement(int) {
  for (auto it = spares.begin(); it != spares.end(); ++it)
    if (server_up[static_cast<std::size_t>(*it)]) {
      const int s = *it;
      spares.erase(it);
      return s;
    }
  return -1;
}

bool TreeRun::replaced(int f, int server, double t) {
  if (!server_up[static_cast<std::size_t>(server)]) return false;
  TreeFailover& fo = failovers[static_cast<std::size_t>(f)];
  tree->replace(fo.node, server, t);
  fo.to_server = server;
  fo.ready_at_s = t;
  const TreeNode& n = tree->node(fo.node);
  signals.on_node_joined(NodeJoined{t, server, BlockRange{n.keys.lo, n.keys.hi}, t - load_s(server)});
  report_tree(t, "replaced", fo.node);
  return true;
}

int TreeRun::failback_start(int server, double t) {
  const auto srv = static_cast<std::size_t>(server);
  const auto spare = std::find(spares.begin(), spares.end(), server);
  if (!sc.policy.faults.failback || !server_up[srv] || spare == spares.end() || tree->pending_split() || tree->any_failed()) return -1;
  for (const TreeFailback& b : failbacks)
    if (b.ready_at_s < 0 && !b.dropped) return -1;  // one move at a time
  int best = -1;
  double best_gain = 0;
  for (const TreeNode& n : tree->nodes()) {
    if (n.state != TreeNodeState::Serving) continue;
    const double gain = node_compute_s[static_cast<std::size_t>(n.server)] - node_compute_s[srv];
    if (gain > best_gain) best_gain = gain, best = n.id;
  }
  if (best < 0) return -1;
  spares.erase(spare);
  failbacks.push_back(TreeFailback{best, tree->node(best).server, server, t});
  report_tree(t, "failback_loading", best);
  return static_cast<int>(failbacks.size()) - 1;
}

bool TreeRun::failback_switch(int index, double t) {
  TreeFailback& b = failbacks[static_cast<std::size_t>(index)];
  const TreeNode& n = tree->node(b.node);
  if (!server_up[static_cast<std::size_t>(b.to_server)] || n.state != TreeNodeState::Serving || n.server != b.from_server) {
    b.dropped = true;
    if (server_up[static_cast<std::size_t>(b.to_server)]) spares.push_back(b.to_server);
    sort_fastest_first(spares, node_compute_s);
    report_tree(t, "failback_dropped", b.node);
    return false;
  }
  tree->move(b.node, b.to_server, t);
  b.ready_at_s = t;
  spares.push_back(b.from_server);  // the server it leaves turns spare
  sort_fastest_first(spares, node_compute_s);
  signals.on_blocks_moved(BlocksMoved{t, b.from_server, BlockRange{n.keys.lo, n.keys.hi}, BlockRange{n.keys.lo, n.keys.lo}});
  signals.on_node_joined(NodeJoined{t, b.to_server, BlockRange{n.keys.lo, n.keys.hi}, b.started_at_s});
  report_tree(t, "failback", b.node);
  return true;
}

bool TreeRun::root_down() const {
  const TreeNode& r = tree->node(tree->root());
  return r.state == TreeNodeState::Failed && r.failure_detected;
}

NodeDecision TreeRun::visit(int id, int r) {
  const auto ri = static_cast<std::size_t>(r);
  std::vector<double>& sum = hidden[ri];
  const int looks = ++hops[ri];
  task.add_look(static_cast<std::uint64_t>(r), looks - 1, klass[ri], sum.data());  // seed 000, §2.2: h_i = FeatureExtractor_i(x)
  std::vector<double>& h = scratch_h;  // reused: one visit at a time
  h.resize(sum.size());
  for (std::size_t i = 0; i < sum.size(); ++i) h[i] = sum[i] / looks;
  const NodeDecision d = tree->decide(id, h.data(), looks, klass[ri]);
  tree->record_visit(id, d);
  if (d.exits) {
    early_exits += tree->node(id).leaf() || d.degraded ? 0 : 1;
    degraded += d.degraded ? 1 : 0;
    answer[ri] = d.argmax;
    answer_depth[ri] = tree->depth(id);
    ++period_answered;
    period_correct += d.argmax == klass[ri] ? 1 : 0;
    period_log_p += d.log_p;
    std::vector<double>().swap(sum);  // the hidden state is no longer needed
  }
  return d;
}

void TreeRun::request_done(int r, double t) {
  done[static_cast<std::size_t>(r)] = t;
  ++answered;
  signals.on_step(StepCompleted{t, r, 0, t - sent[static_cast<std::size_t>(r)]});
  signals.on_session_ended(SessionEnded{t, r, true, "", 1});
}

bool TreeRun::balance(double t) {
  const std::size_t before = tree->merges().size();
  const std::vector<TreeNode> old = tree->nodes();
  const bool failback_loading =
      std::any_of(failbacks.begin(), failbacks.end(), [](const TreeFailback& b) { return b.ready_at_s < 0 && !b.dropped; });
  BalancePeriod p = tree->balance(t, spec.balance_period_s, spares, period_answered, period_correct, period_log_p, !failback_loading);
  period_answered = period_correct = 0;
  period_log_p = 0;
  sort_fastest_first(spares, node_compute_s);  // freed servers rejoin the spares, fastest first
  periods.push_back(p);
  report_tree(t, "balance", -1);
  for (std::size_t m = before; m < tree->merges().size(); ++m) {
    const TreeMerge& mg = tree->merges()[m];
    const TreeNode& kept = tree->node(mg.kept);
    const TreeNode& gone = tree->node(mg.retired);
    const TreeNode& was = old[static_cast<std::size_t>(mg.kept)];
    signals.on_blocks_moved(BlocksMoved{t, gone.server, BlockRange{gone.keys.lo, gone.keys.hi}, BlockRange{gone.keys.lo, gone.keys.lo}});
    signals.on_blocks_moved(BlocksMoved{t, kept.server, BlockRange{was.keys.lo, was.keys.hi}, BlockRange{kept.keys.lo, kept.keys.hi}});
    if (mg.collapsed_into >= 0)
      signals.on_blocks_moved(BlocksMoved{t, kept.server, BlockRange{kept.keys.lo, kept.keys.hi}, BlockRange{kept.keys.lo, kept.keys.lo}});
    report_tree(t, "merge", mg.kept);
  }
  if (!tree->pending_split() || p.splits == 0) return false;
  report_tree(t, "split_started", tree->pending_split()->node, tree->pending_split()->created);
  return true;
}

double TreeRun::split_load_s() const {
  double s = 0;
  const TreeSplit& split = *tree->pending_split();
  for (const int id : split.created) s = std::max(s, load_s(tree->pending_nodes()[static_cast<std::size_t>(id)].server));
  for (const int id : split.moved) s = std::max(s, load_s(tree->pending_nodes()[static_cast<std::size_t>(id)].server));
  return s;
}

std::vector<int> TreeRun::commit_split(double t) {
  const std::vector<TreeNode> old = tree->nodes();
  const TreeSplit s = tree->commit_split(t);
  std::vector<int> started = s.created;
  for (std::size_t i = 0; i < old.size(); ++i) {
    const TreeNode& now = tree->nodes()[i];
    if (old[i].server != now.server) {  // the old root's half, on a spare now: its old server hosts the new root
      started.push_back(now.id);
      signals.on_node_joined(NodeJoined{t, now.server, BlockRange{now.keys.lo, now.keys.hi}, s.at_s});
    } else if (!(old[i].keys == now.keys)) {
      signals.on_blocks_moved(BlocksMoved{t, now.server, BlockRange{old[i].keys.lo, old[i].keys.hi}, BlockRange{now.keys.lo, now.keys.hi}});
    }
  }
  for (const int id : s.created) {
    const TreeNode& n = tree->node(id);
    signals.on_node_joined(NodeJoined{t, n.server, BlockRange{n.keys.lo, n.keys.hi}, s.at_s});
  }
  report_tree(t, "split", s.node, s.created);
  return started;
}

void TreeRun::report_tree(double t, const char* what, int node, const std::vector<int>& created) {
  TreeChanged e;
  e.t = t;
  e.what = what;
  e.node = node;
  e.created = created;
  // Parents before children, children in key order: a walk from the root. While a split loads,
  // the tree as it will be, its new nodes loading.
  const bool pending = tree->pending_split().has_value();
  const std::vector<TreeNode>& shape = pending ? tree->pending_nodes() : tree->nodes();
  std::vector<int> stack{pending ? tree->pending_root() : tree->root()};
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    const TreeNode& n = shape[static_cast<std::size_t>(id)];
    const bool live = static_cast<std::size_t>(id) < tree->nodes().size();
    e.nodes.push_back(TreeNodeView{n.id, n.parent, n.keys.lo, n.keys.hi, n.server, to_string(n.state),
                                   live ? tree->node(id).fisher : 0.0, live ? tree->node(id).load : 0.0});
    for (auto it = n.children.rbegin(); it != n.children.rend(); ++it) stack.push_back(*it);
  }
  int resident = 0;
  for (const TreeNodeView& v : e.nodes) resident += std::string_view(v.state) == "failed" ? 0 : 1;
  resident_peak = std::max(resident_peak, resident);
  signals.on_tree_changed(e);
}

RunReport tree_report(TreeRun& run, double wall, const RunOptions& options) {
  const Scenario& sc = run.sc;
  const FisherTreeSpec& spec = run.spec;
  const FisherTree& tree = *run.tree;
  std::vector<double> latency, completions;
  int completed = 0, correct = 0;
  double last = 0, hops = 0;
  std::vector<int> depth_answered, depth_correct;
  for (int r = 0; r < run.requests; ++r) {
    const auto ri = static_cast<std::size_t>(r);
    if (run.done[ri] < 0) continue;
    ++completed;
    latency.push_back(run.done[ri] - run.sent[ri]);
    completions.push_back(run.done[ri]);
    last = std::max(last, run.done[ri]);
    hops += run.hops[ri];
    const bool ok = run.answer[ri] == run.klass[ri];
    correct += ok ? 1 : 0;
    const auto d = static_cast<std::size_t>(run.answer_depth[ri]);
    if (depth_answered.size() <= d) depth_answered.resize(d + 1, 0), depth_correct.resize(d + 1, 0);
    ++depth_answered[d];
    depth_correct[d] += ok ? 1 : 0;
  }
  std::sort(completions.begin(), completions.end());
  const double sim_time = completed == run.requests ? last : sc.time_limit_s;
  const double first_arrival = run.requests > 0 ? run.arrival[0] : 0.0;
  const double span = std::max(1e-12, sim_time - first_arrival);
  const double steady = steady_rate(completions);
  nlohmann::json by_depth = nlohmann::json::array();
  for (std::size_t d = 0; d < depth_answered.size(); ++d)
    by_depth.push_back({{"depth", d}, {"answered", depth_answered[d]}, {"correct", depth_correct[d]}});
  nlohmann::json nodes = nlohmann::json::array();
  for (const TreeNode& n : tree.nodes()) {
    nodes.push_back({{"id", n.id},
                     {"parent", n.parent},
                     {"keys", {n.keys.lo, n.keys.hi}},
                     {"children", n.children},
                     {"node", sc.nodes[static_cast<std::size_t>(n.server)].name},
                     {"device", sc.nodes[static_cast<std::size_t>(n.server)].device->name},
                     {"state", to_string(n.state)},
                     {"depth", n.state == TreeNodeState::Retired ? -1 : tree.depth(n.id)},
                     {"created_at_s", n.created_at_s},
                     {"ready_at_s", n.ready_at_s},
                     {"visits", n.visits},
                     {"exits", n.exits},
                     {"busy_s", n.busy_s},
                     {"compute_s", run.node_compute_s[static_cast<std::size_t>(n.server)]},
                     {"fisher", n.fisher},
                     {"load", n.load}});
  }
  nlohmann::json splits = nlohmann::json::array();
  for (const TreeSplit& s : tree.splits()) {
    nlohmann::json j = {{"node", s.node}, {"at_s", s.at_s}, {"created", s.created}, {"cascaded", s.cascaded},
                        {"fisher", s.fisher}, {"load_ratio", s.load_ratio}};
    if (s.cancelled)
      j["cancelled"] = true;  // a server failed while its new nodes loaded
    else
      j["ready_at_s"] = s.ready_s;
    splits.push_back(j);
  }
  if (const auto& p = tree.pending_split())  // still loading when the run ended
    splits.push_back({{"node", p->node}, {"at_s", p->at_s}, {"created", p->created}, {"cascaded", p->cascaded},
                      {"fisher", p->fisher}, {"load_ratio", p->load_ratio}});
  nlohmann::json merges = nlohmann::json::array();
  for (const TreeMerge& m : tree.merges()) {
    nlohmann::json j = {{"kept", m.kept}, {"retired", m.retired}, {"at_s", m.at_s}, {"mean_fisher", m.mean_fisher}};
    if (m.collapsed_into >= 0) j["collapsed_into"] = m.collapsed_into;
    merges.push_back(j);
  }
  nlohmann::json periods = nlohmann::json::array();
  for (const BalancePeriod& p : run.periods)
    periods.push_back({{"end_s", p.end_s},
                       {"nodes", p.nodes},
                       {"mean_load", p.mean_load},
                       {"loss_balance", p.loss_balance},
                       {"loss_fisher", p.loss_fisher},
                       {"loss_accuracy", p.loss_accuracy},
                       {"answered", p.answered},
                       {"correct", p.correct},
                       {"splits", p.splits},
                       {"merges", p.merges},
                       {"skipped", p.skipped}});
  nlohmann::json failovers = nlohmann::json::array();
  for (const TreeFailover& f : run.failovers) {
    nlohmann::json j = {{"node", f.node}, {"from", sc.nodes[static_cast<std::size_t>(f.from_server)].name}, {"failed_at_s", f.failed_at_s},
                        {"detected_at_s", f.detected_at_s}, {"requests_resent", f.requests_resent}};
    if (f.to_server >= 0) {  // else no spare was ready before the run ended
      j["to"] = sc.nodes[static_cast<std::size_t>(f.to_server)].name;
      j["ready_at_s"] = f.ready_at_s;
    }
    failovers.push_back(j);
  }
  nlohmann::json failbacks = nlohmann::json::array();
  for (const TreeFailback& b : run.failbacks) {
    nlohmann::json j = {{"node", b.node}, {"from", sc.nodes[static_cast<std::size_t>(b.from_server)].name},
                        {"to", sc.nodes[static_cast<std::size_t>(b.to_server)].name}, {"started_at_s", b.started_at_s}};
    if (b.ready_at_s >= 0) j["ready_at_s"] = b.ready_at_s;
    if (b.dropped) j["dropped"] = true;
    failbacks.push_back(j);
  }
  int depth_max = 0;
  for (const TreeNode& n : tree.nodes())
    if (n.state == TreeNodeState::Serving) depth_max = std::max(depth_max, tree.depth(n.id));
  RunReport report;
  report.metrics = {
      {"scenario", sc.name},
      {"kind", "tree"},
      {"engine", to_string(sc.engine)},
      {"seed", sc.seed},
      {"pricing", "roofline"},
      {"model",
       {{"tree",
         {{"classes", spec.classes}, {"dim", spec.dim}, {"noise", spec.noise}, {"separation", spec.separation},
          {"class_skew", spec.class_skew}, {"order", spec.order}, {"threshold", spec.threshold}, {"alpha", spec.alpha},
          {"balance_period_s", spec.balance_period_s}, {"split_fisher", spec.split_fisher}, {"split_load", spec.split_load},
          {"merge_fisher", spec.merge_fisher}, {"node_flops", spec.node_flops}, {"node_param_bytes", spec.node_param_bytes}}}}},
      {"requests", {{"total", run.requests}, {"completed", completed}, {"failed", run.requests - completed}, {"resent", run.resent},
                    {"clients", run.clients()}, {"max_in_flight", sc.workload.max_in_flight}}},
      {"throughput", {{"requests_per_s", completed > 0 ? completed / span : 0.0}, {"steady_requests_per_s", steady}}},
      {"latency_s", latency_percentiles(latency)},
      {"answers",
       {{"accuracy", completed > 0 ? static_cast<double>(correct) / completed : 0.0},
        {"mean_nodes_visited", completed > 0 ? hops / completed : 0.0},
        {"early_exits", run.early_exits},
        {"degraded", run.degraded},
        {"by_depth", by_depth}}},
      {"tree", {{"serving_nodes", tree.serving()}, {"depth", depth_max}, {"root", tree.root()}, {"spare_servers", run.spares.size()},
                {"nodes", nodes}, {"splits", splits}, {"merges", merges}, {"failovers", failovers}}},
      {"memory",
       {{"node_param_bytes", spec.node_param_bytes},
        {"server_bytes", spec.node_param_bytes + sc.overheads.runtime_memory_bytes},
        {"resident_nodes_peak", run.resident_peak},
        {"resident_param_bytes_peak", run.resident_peak * spec.node_param_bytes},
        {"serving_param_bytes_end", tree.serving() * spec.node_param_bytes}}},
      {"balance", periods},
      {"network", {{"bytes_moved", run.bytes_moved}, {"messages", run.messages}}},
      {"simulated_time_s", sim_time},
      {"wall_clock", {{"seconds", wall}}},
  };
  if (!sc.workload.phases.empty()) report.metrics["phases"] = request_phases_json(sc.workload, run.arrival, run.sent, run.done);
  add_request_energy_and_cost(report.metrics, sc, run.energy, std::min(first_arrival, sim_time), sim_time, completed);
  if (sc.policy.faults.failback) report.metrics["tree"]["failbacks"] = failbacks;
  if (completed < run.requests) report.metrics["requests"]["failure_reason"] = "time limit reached (simulation.time_limit) before every request completed";
  finish_run_report(report, sim_time, wall, run.messages, run.trace.get(), run.log.get(), sc, options);
  return report;
}

}  // namespace swarmsim::sim
