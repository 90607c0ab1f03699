#include "sim/pipeline_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "sim/metrics/run_cost.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/output/request_report.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/rng.hpp"
#include "sim/swarm/arrivals.hpp"
#include "sim/units.hpp"

namespace swarmsim::sim {

StageInputs::StageInputs(int requests, int expected)
    : expected_(expected),
      got_(static_cast<std::size_t>(requests), 0),
      seen_(got_.size(), -1),
      first_(got_.size(), -1),
      bytes_(got_.size(), 0) {}

bool StageInputs::take(const StageMessage& msg, double t) {
  const auto r = static_cast<std::size_t>(msg.request);
  if (msg.attempt < seen_[r]) return false;  // an older attempt's input: the client sent the request again
  if (msg.attempt > seen_[r]) {
    seen_[r] = msg.attempt;
    got_[r] = 0;
    bytes_[r] = 0;
    first_[r] = t;
  }
  bytes_[r] += msg.bytes;
  return ++got_[r] >= expected_;
}

std::vector<StageMessage> StageInputs::take_incomplete() {
  std::vector<StageMessage> held;
  for (std::size_t r = 0; r < got_.size(); ++r)
    for (; got_[r] > 0 && got_[r] < expected_; --got_[r]) {
      const double each = bytes_[r] / got_[r];
      bytes_[r] -= each;
      held.push_back(StageMessage{static_cast<int>(r), seen_[r], each});
    }
  return held;
}

PipelineRun::PipelineRun(const Scenario& s, const RunOptions& options, SimSignals& sig) : sc(s), signals(sig), energy(s) {
  energy.observe(signals);
  const auto plan0 = std::chrono::steady_clock::now();
  // BRKGA on a large graph or population can take minutes: say where planning is.
  ProgressLine planning(options.progress, 0);
  plan = plan_pipeline(sc, [&](const PlanProgress& p) {
    planning.status([&] { return plan_progress_text(sc.graph->name(), sc.policy.partitioner.method, p); });
  });
  planning.finish();
  plan_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - plan0).count();
  requests = sc.workload.sessions;
  sent.assign(static_cast<std::size_t>(requests), -1);
  done.assign(static_cast<std::size_t>(requests), -1);
  stage.assign(plan.stages.size(), StageRun{});
  RunWriters writers = open_run_writers(sc, options, signals, pipeline_run_start_json(sc, sc.graph->name(), static_cast<int>(plan.stages.size())));
  trace = std::move(writers.trace);
  log = std::move(writers.log);
  for (int s = 0; s < static_cast<int>(plan.stages.size()); ++s) outputs_expected += returns_to_client(s) ? 1 : 0;
  Rng root(sc.seed);
  arrival = draw_arrivals(sc.workload, root);
  attempt.assign(static_cast<std::size_t>(requests), 0);
  node_up.assign(sc.nodes.size(), 1);
  node_taken.assign(sc.nodes.size(), -1);
  for (const PipelineStage& st : plan.stages) {
    stage_node.push_back(st.node);
    stage_compute_s.push_back(st.compute_s);
    node_taken[static_cast<std::size_t>(st.node)] = static_cast<int>(stage_node.size()) - 1;
  }
  stage_serving.assign(plan.stages.size(), 1);
  stage_life.assign(plan.stages.size(), 0);
  sent_epoch.assign(static_cast<std::size_t>(requests), 0);
  drain.assign(plan.stages.size(), StageDrain{});
  node_uplink_Bps = server_link_rates(sc, true);
  node_downlink_Bps = server_link_rates(sc, false);
  priced_now_ = plan.costs;  // eq. 10 on the scenario's links, until one changes
  signals.on_pipeline_planned(PipelinePlanned{static_cast<int>(plan.stages.size()), sc.graph->name()});
  for (int s = 0; s < static_cast<int>(plan.stages.size()); ++s) {  // the stages serve from the start
    NodeJoined joined{0.0, stage_node[static_cast<std::size_t>(s)], BlockRange{s, s + 1}, 0.0};
    joined.pipeline_stage = true;
    signals.on_node_joined(joined);
  }
  for (int n = 0; n < static_cast<int>(sc.nodes.size()); ++n)  // the plan leaves them off: no draw, no rent, no spare
    if (switched_off(n)) {
      node_up[static_cast<std::size_t>(n)] = 0;
      signals.on_node_state(NodeStateChanged{0.0, n, false});
    }
}

void PipelineRun::request_sent(int r, double t) {
  const int a = attempt[static_cast<std::size_t>(r)];
  if (sent[static_cast<std::size_t>(r)] >= 0 && done[static_cast<std::size_t>(r)] < 0) request_leaves_drains(r, t);  // sent again
  sent_epoch[static_cast<std::size_t>(r)] = epoch;
  if (a == 0) sent[static_cast<std::size_t>(r)] = t;
  event(t, a == 0 ? "request_sent" : "request_resent", -1, r);
  if (a == 0) signals.on_session_started(SessionStarted{t, r, static_cast<int>(sc.nodes.size()) + client_of(r)});
  ChainFormed chain{t, r, a + 1, stage_node, {}, 0.0};
  for (int s = 0; s < static_cast<int>(stage_node.size()); ++s) chain.ranges.push_back(BlockRange{s, s + 1});
  signals.on_chain_formed(chain);
}

void PipelineRun::request_done(int r, double t) {
  request_leaves_drains(r, t);
  done[static_cast<std::size_t>(r)] = t;
  ++answered;
  event(t, "request_done", -1, r);
  signals.on_step(StepCompleted{t, r, 0, t - sent[static_cast<std::size_t>(r)]});
  signals.on_session_ended(SessionEnded{t, r, true, "", sc.workload.batch_size});
}



int PipelineRun::node_down(int node, double t) {
  node_up[static_cast<std::size_t>(node)] = 0;
  signals.on_node_state(NodeStateChanged{t, node, false});
  const int s = node_taken[static_cast<std::size_t>(node)];
  node_taken[static_cast<std::size_t>(node)] = -1;
  // A spare, or a node loading s for a failover in progress (which then picks again).
  if (s < 0 || !stage_serving[static_cast<std::size_t>(s)] || stage_node[static_cast<std::size_t>(s)] != node) return -1;
  stage_serving[static_cast<std::size_t>(s)] = 0;
  ++stage_life[static_cast<std::size_t>(s)];
  StageFailover f;
  f.stage = s;
  f.from_node = node;
  f.failed_at_s = t;
  f.detected_at_s = sc.policy.faults.detected_at(t);
  failovers.push_back(f);
  node_event(t, "stage_down", s, node);
  return static_cast<int>(failovers.size()) - 1;
}

void PipelineRun::node_back(int node, double t) {
  node_up[static_cast<std::size_t>(node)] = 1;
  signals.on_node_state(NodeStateChanged{t, node, true});
}

int PipelineRun::replacement_for(int s) const {
  int best = -1;
  for (int n = 0; n < static_cast<int>(sc.nodes.size()); ++n) {
    if (!node_up[static_cast<std::size_t>(n)] || node_taken[static_cast<std::size_t>(n)] >= 0) continue;
    const auto& cost = plan.costs[static_cast<std::size_t>(s)];
    if (best < 0 || cost[static_cast<std::size_t>(n)] < cost[static_cast<std::size_t>(best)]) best = n;
  }
  return best;
}

double PipelineRun::load_s(int s, int node) const {
  return plan.stages[static_cast<std::size_t>(s)].param_bytes / sc.nodes[static_cast<std::size_t>(node)].weights_load_Bps;
}

double PipelineRun::move_stage(int s, int node, double t, double loading_since) {
  const partition::BlockCost c = stage_terms_on_node(sc, plan, s, node);
  stage_node[static_cast<std::size_t>(s)] = node;
  stage_compute_s[static_cast<std::size_t>(s)] = c.work_s + c.overflow_s;
  stage_serving[static_cast<std::size_t>(s)] = 1;
  NodeJoined joined{t, node, BlockRange{s, s + 1}, loading_since};
  joined.pipeline_stage = true;
  signals.on_node_joined(joined);
  node_event(t, "stage_ready", s, node);
  return stage_compute_s[static_cast<std::size_t>(s)];
}

void PipelineRun::stage_moved(int s, int node, double t, int failover) {
  StageFailover& f = failovers[static_cast<std::size_t>(failover)];
  f.to_node = node;
  f.ready_at_s = t;
  f.compute_s = move_stage(s, node, t, t - load_s(s, node));
}

std::vector<std::vector<int>> PipelineRun::resend_unanswered(int& count, int drained_stage) {
  std::vector<std::vector<int>> lost(static_cast<std::size_t>(clients()));
  count = 0;
  const int before = drained_stage < 0 ? epoch + 1 : drain[static_cast<std::size_t>(drained_stage)].epoch;
  for (int r = 0; r < requests; ++r)
    if (sent[static_cast<std::size_t>(r)] >= 0 && done[static_cast<std::size_t>(r)] < 0 && sent_epoch[static_cast<std::size_t>(r)] < before) {
      lost[static_cast<std::size_t>(client_of(r))].push_back(r);
      ++attempt[static_cast<std::size_t>(r)];
      ++count;
    }
  resent += count;
  return lost;
}

std::vector<std::vector<int>> PipelineRun::take_requests_to_resend(int failover) {
  return resend_unanswered(failovers[static_cast<std::size_t>(failover)].requests_resent);
}

bool PipelineRun::being_moved(int s) const {
  if (drain[static_cast<std::size_t>(s)].node >= 0) return true;  // its old node still finishes requests
  for (std::size_t n = 0; n < node_taken.size(); ++n)
    if (node_taken[n] == s && static_cast<int>(n) != stage_node[static_cast<std::size_t>(s)]) return true;
  return false;
}

StageFailback& PipelineRun::start_move(int s, int node, double t, bool migration) {
  node_taken[static_cast<std::size_t>(node)] = s;
  StageFailback b;
  b.stage = s;
  b.from_node = stage_node[static_cast<std::size_t>(s)];
  b.to_node = node;
  b.started_at_s = t;
  b.migration = migration;
  failbacks.push_back(b);
  node_event(t, migration ? "migration_loading" : "failback_loading", s, node);
  return failbacks.back();
}

int PipelineRun::failback_start(int node, double t) {
  if (!sc.policy.faults.failback || !node_up[static_cast<std::size_t>(node)] || node_taken[static_cast<std::size_t>(node)] >= 0) return -1;
  const int stages = static_cast<int>(plan.stages.size());
  for (int s = 0; s < stages; ++s)
    if (!stage_serving[static_cast<std::size_t>(s)]) return -1;  // a failover is under way: the node is its spare
  int best = -1;
  double best_gain = 0;
  for (int s = 0; s < stages; ++s) {
    const bool moving = being_moved(s);  // another node is loading it already
    const auto& cost = plan.costs[static_cast<std::size_t>(s)];
    const double gain = cost[static_cast<std::size_t>(stage_node[static_cast<std::size_t>(s)])] - cost[static_cast<std::size_t>(node)];
    if (!moving && gain > best_gain) {
      best_gain = gain;
      best = s;
    }
  }
  if (best < 0) return -1;
  start_move(best, node, t, false);
  return static_cast<int>(failbacks.size()) - 1;
}

bool PipelineRun::failback_switch(int index, double t) {
  StageFailback& b = failbacks[static_cast<std::size_t>(index)];
  const auto n = static_cast<std::size_t>(b.to_node), s = static_cast<std::size_t>(b.stage);
  if (!node_up[n] || node_taken[n] != b.stage || !stage_serving[s] || stage_node[s] != b.from_node) {
    if (node_taken[n] == b.stage) node_taken[n] = -1;
    b.dropped = true;
    node_event(t, b.migration ? "migration_dropped" : "failback_dropped", b.stage, b.to_node);
    return false;
  }
  int unanswered = 0;
  for (int r = 0; r < requests; ++r) unanswered += sent[static_cast<std::size_t>(r)] >= 0 && done[static_cast<std::size_t>(r)] < 0;
  if (sc.policy.partitioner.handover != Handover::Resend && unanswered > 0) {
    // Seed 003, "Dynamic Repartitioning": graceful migration. The old node stays reserved and
    // finishes (drain) or sends on (forward) what was sent before now; later attempts go to the
    // new node.
    StageDrain& d = drain[s];
    d.node = b.from_node;
    d.life = stage_life[s];
    d.epoch = ++epoch;
    d.left = unanswered;
    d.move = index;
    b.requests_drained = unanswered;
  } else {
    node_taken[static_cast<std::size_t>(b.from_node)] = -1;  // the node it leaves turns spare
    signals.on_blocks_moved(BlocksMoved{t, b.from_node, BlockRange{b.stage, b.stage + 1}, BlockRange{b.stage, b.stage}});
  }
  ++stage_life[s];
  b.ready_at_s = t;
  b.compute_s = move_stage(b.stage, b.to_node, t, b.started_at_s);
  return true;
}

std::vector<std::vector<int>> PipelineRun::take_requests_to_resend_after_failback(int index) {
  return resend_unanswered(failbacks[static_cast<std::size_t>(index)].requests_resent);
}

bool PipelineRun::to_old_node(int s, const StageMessage& msg) const {
  const StageDrain& d = drain[static_cast<std::size_t>(s)];
  const auto r = static_cast<std::size_t>(msg.request);
  if (sc.policy.partitioner.handover == Handover::Forward) return false;  // the old node sends on what reaches it
  return d.node >= 0 && (msg.attempt < attempt[r] || sent_epoch[r] < d.epoch);
}

bool PipelineRun::forwards(int s, int life) const {
  const StageDrain& d = drain[static_cast<std::size_t>(s)];
  return sc.policy.partitioner.handover == Handover::Forward && d.node >= 0 && d.life == life && stage_life[static_cast<std::size_t>(s)] != life;
}

bool PipelineRun::stage_alive(int s, int life) const {
  const auto i = static_cast<std::size_t>(s);
  return stage_life[i] == life || (drain[i].node >= 0 && drain[i].life == life);
}

void PipelineRun::request_leaves_drains(int r, double t) {
  for (int s = 0; s < static_cast<int>(drain.size()); ++s) {
    StageDrain& d = drain[static_cast<std::size_t>(s)];
    if (d.node >= 0 && sent_epoch[static_cast<std::size_t>(r)] < d.epoch && --d.left == 0) end_drain(s, t);
  }
}

void PipelineRun::end_drain(int s, double t) {
  const StageDrain d = drain[static_cast<std::size_t>(s)];
  StageFailback& b = failbacks[static_cast<std::size_t>(d.move)];
  if (node_taken[static_cast<std::size_t>(d.node)] == s) node_taken[static_cast<std::size_t>(d.node)] = -1;  // turns spare
  if (d.life >= 0) {
    b.drained_at_s = t;
    node_event(t, "stage_drained", s, d.node);
    signals.on_blocks_moved(BlocksMoved{t, d.node, BlockRange{s, s + 1}, BlockRange{s, s}});
  }
  drain[static_cast<std::size_t>(s)] = StageDrain{};
  if (drain_over) drain_over(s, d.life);
}

int PipelineRun::drain_failed(int node, double t) {
  for (int s = 0; s < static_cast<int>(drain.size()); ++s) {
    StageDrain& d = drain[static_cast<std::size_t>(s)];
    if (d.node != node || d.life < 0) continue;
    d.life = -1;  // its process is gone; its requests wait until the client notices
    d.detected_at_s = sc.policy.faults.detected_at(t);
    failbacks[static_cast<std::size_t>(d.move)].drain_failed_at_s = t;
    node_event(t, "stage_drain_failed", s, node);
    return s;
  }
  return -1;
}

std::vector<std::vector<int>> PipelineRun::take_requests_to_resend_after_lost_drain(int s, int move, double t) {
  const StageDrain& d = drain[static_cast<std::size_t>(s)];
  if (d.node < 0 || d.move != move) return std::vector<std::vector<int>>(static_cast<std::size_t>(clients()));  // it ended meanwhile
  int count = 0;
  std::vector<std::vector<int>> lost = resend_unanswered(count, s);
  failbacks[static_cast<std::size_t>(move)].requests_resent += count;
  end_drain(s, t);
  return lost;
}

void PipelineRun::link_changed(const ReplayEvent& e) {
  if (e.action != EventAction::SetBandwidth) return;
  const int node = host_index(e.node);
  if (node < 0 || node >= static_cast<int>(sc.nodes.size())) return;  // a client's link: the placement does not price it
  if (e.direction != LinkDirection::Down) node_uplink_Bps[static_cast<std::size_t>(node)] = e.value;
  if (e.direction != LinkDirection::Up) node_downlink_Bps[static_cast<std::size_t>(node)] = e.value;
  links_changed_ = true;
}

int PipelineRun::migration_start(double t) {
  const int stages = static_cast<int>(plan.stages.size());
  for (int s = 0; s < stages; ++s) {
    if (!stage_serving[static_cast<std::size_t>(s)]) return -1;  // a failover is under way
    if (being_moved(s)) return -1;  // a move is loading
  }
  // Seed 003, "Dynamic Repartitioning": detect the bottleneck on the network as it is now.
  if (links_changed_) {  // re-priced once per change of the links, not at every check
    priced_now_ = stage_costs_with_links(sc, plan, node_uplink_Bps, node_downlink_Bps);
    links_changed_ = false;
  }
  const partition::PlacementCosts& cost = priced_now_;
  const auto on_its_node = [&](int s) { return cost[static_cast<std::size_t>(s)][static_cast<std::size_t>(stage_node[static_cast<std::size_t>(s)])]; };
  int worst = 0;
  for (int s = 1; s < stages; ++s)
    if (on_its_node(s) > on_its_node(worst)) worst = s;
  double others = 0;  // the bottleneck of the stages that stay
  for (int s = 0; s < stages; ++s)
    if (s != worst) others = std::max(others, on_its_node(s));
  const double before = on_its_node(worst);
  int best = -1;
  for (int n = 0; n < static_cast<int>(sc.nodes.size()); ++n) {
    if (!node_up[static_cast<std::size_t>(n)] || node_taken[static_cast<std::size_t>(n)] >= 0) continue;
    if (best < 0 || cost[static_cast<std::size_t>(worst)][static_cast<std::size_t>(n)] < cost[static_cast<std::size_t>(worst)][static_cast<std::size_t>(best)])
      best = n;
  }
  if (best < 0) return -1;
  const double after = std::max(others, cost[static_cast<std::size_t>(worst)][static_cast<std::size_t>(best)]);
  if (!(after <= (1.0 - sc.policy.partitioner.migrate_min_gain) * before) || after >= before) return -1;  // not worth a move
  StageFailback& b = start_move(worst, best, t, true);
  b.bottleneck_before_s = before;
  b.bottleneck_after_s = after;
  return static_cast<int>(failbacks.size()) - 1;
}

double PipelineRun::in_bytes_per_request(int s) const {
  double bytes = plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client;
  for (const auto& other : plan.stages)
    for (const auto& [to, b] : other.sends)
      if (to == s) bytes += b;
  return bytes;
}

bool PipelineRun::has_source(int s) const {
  const PipelineStage& st = plan.stages[static_cast<std::size_t>(s)];
  int from_stages = 0;
  for (const auto& other : plan.stages)
    for (const auto& [to, bytes] : other.sends) from_stages += to == s;
  return st.inputs_expected > from_stages;
}

bool PipelineRun::returns_to_client(int s) const {
  const PipelineStage& st = plan.stages[static_cast<std::size_t>(s)];
  return st.output_bytes_to_client > 0 || st.sends.empty();
}

void PipelineRun::event(double t, const char* type, int stage_index, int request) {
  if (!log) return;
  char buf[160];
  std::snprintf(buf, sizeof buf, "{\"t\":%.9g,\"type\":\"%s\",\"stage\":%d,\"request\":%d}", t, type, stage_index, request);
  log->line(buf);
}

void PipelineRun::node_event(double t, const char* type, int stage_index, int node) {
  if (!log) return;
  char buf[96];
  std::snprintf(buf, sizeof buf, "{\"t\":%.9g,\"type\":\"%s\",\"stage\":%d,\"node\":", t, type, stage_index);
  log->line(buf + nlohmann::json(sc.nodes[static_cast<std::size_t>(node)].name).dump() + "}");
}

RunReport pipeline_report(PipelineRun& run, double wall, const RunOptions& options) {
  const Scenario& sc = run.sc;
  const double plan_wall = run.plan_wall_s;
  // Results.
  std::vector<double> latency, completions;
  int completed = 0;
  double last = 0;
  for (int r = 0; r < run.requests; ++r)
    if (run.done[r] >= 0) {
      ++completed;
      latency.push_back(run.done[r] - run.sent[r]);
      completions.push_back(run.done[r]);
      last = std::max(last, run.done[r]);
    }
  std::sort(completions.begin(), completions.end());
  const double sim_time = completed == run.requests ? last : sc.time_limit_s;
  const double first_arrival = run.requests > 0 ? run.arrival[0] : 0.0;
  const double steady = steady_rate(completions);
  const partition::ModelGraph& g = *sc.graph;
  nlohmann::json stages = nlohmann::json::array();
  const double span = std::max(1e-12, sim_time - first_arrival);
  for (std::size_t s = 0; s < run.plan.stages.size(); ++s) {
    const PipelineStage& st = run.plan.stages[s];
    const NodeSpec& node = sc.nodes[static_cast<std::size_t>(st.node)];
    stages.push_back({{"stage", s},
                      {"node", node.name},
                      {"device", node.device->name},
                      {"ops", st.ops},
                      {"compute_s", st.compute_s},
                      {"param_bytes", st.param_bytes},
                      {"peak_activation_bytes", st.peak_bytes},
                      {"predicted_cost_s", st.predicted_cost_s},
                      {"service_s", st.service_s},
                      {"link_in_s", st.link_in_s},
                      {"link_out_s", st.link_out_s},
                      {"busy_s", run.stage[s].busy_s},
                      {"utilization", run.stage[s].busy_s / span},
                      {"requests", run.stage[s].requests},
                      {"bytes_in", run.stage[s].bytes_in},
                      {"bytes_out", run.stage[s].bytes_out},
                      {"max_input_wait_s", run.stage[s].max_queue_wait_s}});
  }
  nlohmann::json failovers = nlohmann::json::array();
  for (const StageFailover& f : run.failovers) {
    nlohmann::json j = {{"stage", f.stage},
                        {"from", sc.nodes[static_cast<std::size_t>(f.from_node)].name},
                        {"failed_at_s", f.failed_at_s},
                        {"detected_at_s", f.detected_at_s},
                        {"requests_resent", f.requests_resent}};
    if (f.to_node >= 0) {  // else no spare was ready before the run ended
      j["to"] = sc.nodes[static_cast<std::size_t>(f.to_node)].name;
      j["ready_at_s"] = f.ready_at_s;
      j["compute_s"] = f.compute_s;
    }
    failovers.push_back(j);
  }
  nlohmann::json failbacks = nlohmann::json::array(), migrations = nlohmann::json::array();
  const Handover handover = sc.policy.partitioner.handover;
  const bool drains = handover != Handover::Resend;
  for (const StageFailback& b : run.failbacks) {
    nlohmann::json j = {{"stage", b.stage},
                        {"from", sc.nodes[static_cast<std::size_t>(b.from_node)].name},
                        {"to", sc.nodes[static_cast<std::size_t>(b.to_node)].name},
                        {"started_at_s", b.started_at_s},
                        {"requests_resent", b.requests_resent}};
    if (b.ready_at_s >= 0) {
      j["ready_at_s"] = b.ready_at_s;
      j["compute_s"] = b.compute_s;
      j["handover"] = handover == Handover::Drain ? "drain" : handover == Handover::Forward ? "forward" : "resend";
    }
    if (drains && b.ready_at_s >= 0) {
      j["requests_drained"] = b.requests_drained;
      if (b.drained_at_s >= 0) j["drained_at_s"] = b.drained_at_s;
      if (b.drain_failed_at_s >= 0) j["drain_failed_at_s"] = b.drain_failed_at_s;
      if (handover == Handover::Forward) j["messages_forwarded"] = b.messages_forwarded;
    }
    if (b.dropped) j["dropped"] = true;
    if (b.migration) {
      j["bottleneck_before_s"] = b.bottleneck_before_s;
      j["bottleneck_after_s"] = b.bottleneck_after_s;
    }
    (b.migration ? migrations : failbacks).push_back(j);
  }
  const auto& q = run.plan.quality;
  nlohmann::json convergence = nlohmann::json::array();
  for (const auto& gen : run.plan.partition.convergence) convergence.push_back({gen.generation, gen.best_s, gen.mean_s});
  RunReport report;
  report.metrics = {
      {"scenario", sc.name},
      {"kind", "pipeline"},
      {"engine", to_string(sc.engine)},
      {"seed", sc.seed},
      {"pricing", run.plan.op_prices.pricing},
      {"model", {{"graph", g.name()}, {"source", sc.graph_source}, {"ops", g.size()}, {"edges", g.edge_count()},
                 {"flops", g.total_flops()}, {"param_bytes", g.total_param_bytes()}}},
      {"partition",
       {{"method", partition::to_string(run.plan.partition.method)},
        {"recut_onto_nodes", run.plan.node_sliced},
        {"stages", run.plan.partition.blocks},
        {"reference_bottleneck_s", q.bottleneck_s},
        {"stages_allowed", sc.policy.partitioner.stages > 0 ? sc.policy.partitioner.stages : static_cast<int>(sc.nodes.size())},
        {"lower_bound_s", partition::bottleneck_lower_bound(
                              g, sc.policy.partitioner.stages > 0 ? sc.policy.partitioner.stages : static_cast<int>(sc.nodes.size()),
                              run.plan.reference)},
        {"load_stddev_s", q.load_stddev_s},
        {"communication_bytes", q.communication_bytes},
        {"critical_path_blocks", q.critical_path_blocks},
        {"critical_path_s", q.critical_path_s},
        {"peak_memory_bytes", q.peak_memory_bytes},
        {"brkga_convergence", convergence}}},
      {"placement",
       {{"kind", sc.policy.partitioner.placement == PlacementKind::Optimal ? "optimal" : "greedy"},
        {"predicted_bottleneck_s", run.plan.predicted_bottleneck_s},
        {"predicted_requests_per_s", run.plan.predicted_bottleneck_s > 0 ? 1.0 / run.plan.predicted_bottleneck_s : 0.0},
        {"client_link_s", run.plan.client_link_s},
        {"overlap_bottleneck_s", run.plan.overlap_bottleneck_s},
        {"overlap_bound_requests_per_s", run.plan.overlap_bottleneck_s > 0 ? 1.0 / run.plan.overlap_bottleneck_s : 0.0}}},
      {"stages", stages},
      {"failovers", failovers},
      {"requests", {{"total", run.requests}, {"completed", completed}, {"failed", run.requests - completed},
                    {"resent", run.resent}, {"clients", run.clients()}, {"max_in_flight", sc.workload.max_in_flight}}},
      {"throughput",
       {{"requests_per_s", completed > 0 ? completed / span : 0.0},
        {"steady_requests_per_s", steady},
        {"samples_per_s", completed > 0 ? completed * static_cast<double>(sc.workload.batch_size) / span : 0.0}}},
      {"latency_s", latency_percentiles(latency)},
      {"network", {{"bytes_moved", run.bytes_moved}, {"messages", run.messages}}},
      {"simulated_time_s", sim_time},
      {"wall_clock", {{"seconds", wall}, {"partition_seconds", plan_wall}}},
  };
  if (!sc.workload.phases.empty()) report.metrics["phases"] = request_phases_json(sc.workload, run.arrival, run.sent, run.done);
  add_request_energy_and_cost(report.metrics, sc, run.energy, std::min(first_arrival, sim_time), sim_time, completed);
  if (completed < run.requests) {
    std::string reason = "time limit reached (simulation.time_limit) before every request completed";
    for (const StageFailover& f : run.failovers)
      if (f.to_node < 0) {  // the pipeline stalled: say why
        char buf[160];
        std::snprintf(buf, sizeof buf, "stage %d lost its node at %s and no spare node was up before the time limit (simulation.time_limit)",
                      f.stage, format_duration(f.failed_at_s).c_str());
        reason = buf;
        break;
      }
    report.metrics["requests"]["failure_reason"] = reason;
  }
  if (!run.plan.candidates.empty()) report.metrics["partition"]["objective"] = plan_objective_json(sc, run.plan);
  if (sc.policy.faults.failback) report.metrics["failbacks"] = failbacks;
  if (sc.policy.partitioner.migrate_period_s > 0) report.metrics["migrations"] = migrations;
  finish_run_report(report, sim_time, wall, run.messages, run.trace.get(), run.log.get(), sc, options);
  return report;
}

}  // namespace swarmsim::sim
