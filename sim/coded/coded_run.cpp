#include "sim/coded/coded_run.hpp"

#include <algorithm>

#include "gpu/shard_cost_model.hpp"
#include "sim/metrics/run_cost.hpp"
#include "sim/output/request_report.hpp"
#include "sim/rng.hpp"
#include "sim/swarm/arrivals.hpp"
#include "sim/swarm/spare_servers.hpp"

namespace swarmsim::sim {

namespace {
constexpr std::uint64_t kTaskStream = 0xC0DEDAB1E5ULL;
constexpr std::uint64_t kStraggleStream = 0x57A6611E5ULL;

/// Index of the largest of n values (the first on ties).
int argmax(const double* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }
}  // namespace

CodedRun::CodedRun(const Scenario& s, const RunOptions& options, SimSignals& sig)
    : sc(s), spec(*s.coded), ensemble(*s.coded, s.seed), signals(sig), energy(s) {
  energy.observe(signals);
  if (ensemble.has_coded()) offline = ensemble.evaluate(spec.test_samples);
  const gpu::RooflineCostModel roofline;
  for (const NodeSpec& n : sc.nodes)  // a forward pass: its FLOPs, and its parameters read once
    server_compute_s.push_back(roofline.op_seconds(*n.device, gpu::OpCost{"coded_model", gpu::OpClass::Gemm, spec.node_flops, spec.node_param_bytes}));
  server_up.assign(sc.nodes.size(), 1);
  server_downs.assign(sc.nodes.size(), 0);
  for (int m = 0; m < spec.models + spec.parity; ++m) {
    CodedMember member;
    member.server = m;
    member.compute_s = server_compute_s[static_cast<std::size_t>(m)];
    members.push_back(member);
  }
  for (int s = n_members(); s < static_cast<int>(sc.nodes.size()); ++s) spares.push_back(s);
  sort_fastest_first(spares, server_compute_s);
  requests = sc.workload.sessions;
  const auto R = static_cast<std::size_t>(requests);
  sent.assign(R, -1);
  done.assign(R, -1);
  decoded_outputs.assign(R, 0);
  task_decoded.assign(R, 0);
  correct.assign(R, 0);
  exact_correct.assign(R, 0);
  state.assign(R * members.size(), MemberState::Unsent);
  scratch.resize(static_cast<std::size_t>(ensemble.tasks.dim() + (2 * spec.models + spec.parity) * ensemble.tasks.classes()));
  scratch_outputs.resize(static_cast<std::size_t>(spec.models));
  scratch_coded.resize(static_cast<std::size_t>(spec.parity));
  scratch_decoded.resize(static_cast<std::size_t>(spec.models));
  for (int r = 0; r < requests; ++r) {  // its input and class are drawn when it completes (CodedTasks::sample is pure)
    Rng rng = Rng(sc.seed ^ kTaskStream).split(static_cast<std::uint64_t>(r));
    task.push_back(static_cast<int>(rng.below(static_cast<std::uint64_t>(spec.models))));
  }
  Rng root(sc.seed);
  arrival = draw_arrivals(sc.workload, root);

  RunWriters writers = open_run_writers(sc, options, signals, coded_run_start_json(sc));
  trace = std::move(writers.trace);
  log = std::move(writers.log);
  for (int m = 0; m < n_members(); ++m) signals.on_node_joined(NodeJoined{0.0, members[static_cast<std::size_t>(m)].server, BlockRange{m, m + 1}, 0.0});
}

double CodedRun::load_s(int m) const { return server_load_s(members[static_cast<std::size_t>(m)].server); }

double CodedRun::server_load_s(int server) const { return spec.node_param_bytes / sc.nodes[static_cast<std::size_t>(server)].weights_load_Bps; }

bool CodedRun::straggles(int m, int r) const {
  if (spec.straggle_probability <= 0) return false;
  Rng rng = Rng(sc.seed ^ kStraggleStream).split(static_cast<std::uint64_t>(r) * 64 + static_cast<std::uint64_t>(m));
  return rng.uniform() < spec.straggle_probability;
}

double CodedRun::compute_s(int m, int r) const {
  const double base = members[static_cast<std::size_t>(m)].compute_s;
  return straggles(m, r) ? base * spec.straggle_slowdown : base;
}

std::vector<int> CodedRun::cancel_targets(int r) {
  std::vector<int> targets;
  for (int k = 0; k < n_members(); ++k)
    if (at(r, k) == MemberState::Pending) targets.push_back(k);
  cancels += static_cast<int>(targets.size());
  return targets;
}

void CodedRun::cancel_arrived(int r, int k) {
  if (at(r, k) == MemberState::Pending) at(r, k) = MemberState::Cancelled;
}

bool CodedRun::drops(int k, int r) {
  if (at(r, k) != MemberState::Cancelled) return false;
  ++members[static_cast<std::size_t>(k)].dropped;
  return true;
}

int CodedRun::member_of(int server) const {
  for (int m = 0; m < n_members(); ++m)
    if (members[static_cast<std::size_t>(m)].server == server) return m;
  return -1;
}

void CodedRun::request_sent(int r, double t) {
  sent[static_cast<std::size_t>(r)] = t;
  for (int m = 0; m < n_members(); ++m) at(r, m) = members[static_cast<std::size_t>(m)].serving ? MemberState::Pending : MemberState::Lost;
  signals.on_session_started(SessionStarted{t, r, static_cast<int>(sc.nodes.size()) + client_of(r)});
}

void CodedRun::message_posted(int, int, double bytes) {
  bytes_moved += bytes;
  ++messages;
}

void CodedRun::computed(int m, int r, double busy_s) {
  CodedMember& member = members[static_cast<std::size_t>(m)];
  ++member.visits;
  member.busy_s += busy_s;
  if (straggles(m, r)) ++member.straggles;
}

CodedRun::Arrival CodedRun::output_arrived(int r, int m, double t) {
  if (done[static_cast<std::size_t>(r)] >= 0) return Arrival::Nothing;  // completed already: a straggler's late output
  at(r, m) = MemberState::Arrived;
  int originals = 0, coded = 0;
  for (int i = 0; i < n_members(); ++i)
    if (at(r, i) == MemberState::Arrived) ++(i < spec.models ? originals : coded);
  if (originals == spec.models) {
    complete(r, t);
    return Arrival::Completed;
  }
  // Any N of the N + N_c outputs decode the rest; the one that just arrived made it so when the
  // count is exactly N (a later coded output finds the client already decoding or waiting).
  if (originals + coded != spec.models) return Arrival::Nothing;
  if (spec.decode_wait_s > 0) return Arrival::DecodeLater;
  complete(r, t);
  return Arrival::Completed;
}

bool CodedRun::decode_deadline(int r, double t) {
  if (done[static_cast<std::size_t>(r)] >= 0) return false;  // the last outputs came in time
  complete(r, t);
  return true;
}

void CodedRun::complete(int r, double t) {
  const auto ri = static_cast<std::size_t>(r);
  // The request's task output as the client has it, arrived or decoded.
  const int N = spec.models, C = ensemble.tasks.classes();
  double* x = scratch.data();
  double* out = x + ensemble.tasks.dim();  // N model outputs, the N_c coded ones, then N decoded ones
  double* coded_out = out + N * C;
  double* decoded_out = coded_out + spec.parity * C;
  const int y = ensemble.tasks.sample(task[ri], CodedStream::Serve, static_cast<std::uint64_t>(r), x);
  int missing = 0;
  for (int i = 0; i < N; ++i) {
    ensemble.models[static_cast<std::size_t>(i)].probabilities(x, out + i * C);
    const bool arrived = at(r, i) == MemberState::Arrived;
    scratch_outputs[static_cast<std::size_t>(i)] = arrived ? out + i * C : nullptr;
    scratch_decoded[static_cast<std::size_t>(i)] = decoded_out + i * C;
    missing += !arrived;
  }
  const int own = argmax(out + task[ri] * C, C);
  exact_correct[ri] = own == y;
  correct[ri] = exact_correct[ri];
  if (missing > 0) {  // seed 001: decode the missing models' outputs from the others and the coded ones
    for (int k = 0; k < spec.parity; ++k) {
      const bool arrived = at(r, N + k) == MemberState::Arrived;
      if (arrived) ensemble.coded[static_cast<std::size_t>(k)].probabilities(x, coded_out + k * C);
      scratch_coded[static_cast<std::size_t>(k)] = arrived ? coded_out + k * C : nullptr;
    }
    decode_outputs(scratch_outputs, scratch_coded, ensemble.beta, C, scratch_decoded);
    decoded_outputs[ri] = static_cast<std::int8_t>(missing);
    outputs_decoded += missing;
    ++decoded;
    if (!scratch_outputs[static_cast<std::size_t>(task[ri])]) {
      task_decoded[ri] = 1;
      correct[ri] = argmax(decoded_out + task[ri] * C, C) == y;
      decoded_correct += correct[ri];
    }
  }
  done[ri] = t;
  ++completed;
  signals.on_step(StepCompleted{t, r, 0, t - sent[ri]});
  signals.on_session_ended(SessionEnded{t, r, true, "", 1, decoded_outputs[ri]});
}

int CodedRun::server_down(int server, double t) {
  server_up[static_cast<std::size_t>(server)] = 0;
  ++server_downs[static_cast<std::size_t>(server)];
  spares.erase(std::remove(spares.begin(), spares.end(), server), spares.end());
  signals.on_node_state(NodeStateChanged{t, server, false});
  const int m = member_of(server);
  if (m < 0 || !members[static_cast<std::size_t>(m)].up) return -1;
  CodedMember& member = members[static_cast<std::size_t>(m)];
  member.up = member.serving = false;
  ++member.failures;
  for (int r = 0; r < requests; ++r)
    if (done[static_cast<std::size_t>(r)] < 0 && at(r, m) == MemberState::Pending) at(r, m) = MemberState::Lost;
  CodedFailover f;
  f.member = m;
  f.from_server = server;
  f.failed_at_s = t;
  f.detected_at_s = sc.policy.faults.detected_at(t);
  failovers.push_back(f);
  return static_cast<int>(failovers.size()) - 1;
}

int CodedRun::server_back(int server, double t) {
  server_up[static_cast<std::size_t>(server)] = 1;
  signals.on_node_state(NodeStateChanged{t, server, true});
  const int m = member_of(server);
  if (m >= 0) {
    members[static_cast<std::size_t>(m)].up = true;  // it reloads the member's model
    return m;
  }
  spares.push_back(server);
  sort_fastest_first(spares, server_compute_s);
  return -1;
}

int CodedRun::take_spare(int) {
  if (spares.empty()) return -1;
  const int s = spares.front();
  spares.erase(spares.begin());
  return s;
}

std::optional<std::vector<std::vector<int>>> CodedRun::member_ready_on(int m, int server, double t) {
  CodedMember& member = members[static_cast<std::size_t>(m)];
  const auto srv = static_cast<std::size_t>(server);
  if (member.serving || !server_up[srv]) {  // another recovery won, or this server went down meanwhile
    if (server_up[srv] && server != member.server && std::find(spares.begin(), spares.end(), server) == spares.end()) {
      spares.push_back(server);
      sort_fastest_first(spares, server_compute_s);
    }
    return std::nullopt;
  }
  const int left = member.server;
  if (server != left) {  // moved to a spare: the server it left turns spare once it is up
    member.server = server;
    member.compute_s = server_compute_s[srv];
    if (server_up[static_cast<std::size_t>(left)]) {
      spares.push_back(left);
      sort_fastest_first(spares, server_compute_s);
    }
  }
  member.up = member.serving = true;
  member.ready_at_s = t;
  signals.on_node_joined(NodeJoined{t, server, BlockRange{m, m + 1}, t - load_s(m)});
  std::vector<std::vector<int>> lost(static_cast<std::size_t>(clients()));
  int count = 0;
  for (int r = 0; r < requests; ++r) {
    if (done[static_cast<std::size_t>(r)] >= 0 || at(r, m) != MemberState::Lost) continue;
    at(r, m) = MemberState::Pending;
    lost[static_cast<std::size_t>(client_of(r))].push_back(r);
    ++count;
  }
  resent += count;
  for (auto it = failovers.rbegin(); it != failovers.rend(); ++it)
    if (it->member == m && it->ready_at_s < 0) {
      it->to_server = server;
      it->ready_at_s = t;
      it->requests_resent = count;
      break;
    }
  return lost;
}

RunReport coded_report(CodedRun& run, double wall, const RunOptions& options) {
  const Scenario& sc = run.sc;
  const CodedSpec& spec = run.spec;
  std::vector<double> latency, completions, latency_decoded, latency_exact;
  int correct = 0, exact_correct = 0, decoded_task = 0;
  double sim_time = 0;
  for (int r = 0; r < run.requests; ++r) {
    const auto ri = static_cast<std::size_t>(r);
    if (run.done[ri] < 0) continue;
    const double l = run.done[ri] - run.arrival[ri];
    latency.push_back(l);
    (run.decoded_outputs[ri] > 0 ? latency_decoded : latency_exact).push_back(l);
    completions.push_back(run.done[ri]);
    correct += run.correct[ri];
    exact_correct += run.exact_correct[ri];
    decoded_task += run.task_decoded[ri];
    sim_time = std::max(sim_time, run.done[ri]);
  }
  std::sort(completions.begin(), completions.end());
  const int completed = run.completed;
  const double first = run.arrival.empty() ? 0.0 : run.arrival.front();
  const double span = completed > 0 ? std::max(sim_time - first, 1e-12) : 1.0;
  nlohmann::json members = nlohmann::json::array();
  for (int m = 0; m < run.n_members(); ++m) {
    const CodedMember& mb = run.members[static_cast<std::size_t>(m)];
    members.push_back({{"member", m},
                       {"role", m < spec.models ? "model" : "coded"},
                       {"node", sc.nodes[static_cast<std::size_t>(mb.server)].name},
                       {"gpu", sc.nodes[static_cast<std::size_t>(mb.server)].device->name},
                       {"compute_s", mb.compute_s},
                       {"visits", mb.visits},
                       {"straggles", mb.straggles},
                       {"failures", mb.failures},
                       {"dropped", mb.dropped},
                       {"utilization", sim_time > 0 ? mb.busy_s / sim_time : 0.0}});
  }
  nlohmann::json coding = {{"models", spec.models}, {"parity", spec.parity}, {"method", spec.method}, {"beta", run.ensemble.beta},
                           {"decode_wait_s", spec.decode_wait_s}, {"cancel", spec.cancel}, {"straggle_probability", spec.straggle_probability}, {"straggle_slowdown", spec.straggle_slowdown}};
  if (spec.method == "coin_full" || spec.method == "coin_block") coding["fisher_damping"] = fisher_damping_of(spec);
  RunReport report;
  report.metrics = {
      {"scenario", sc.name},
      {"kind", "coded"},
      {"engine", to_string(sc.engine)},
      {"seed", sc.seed},
      {"pricing", "roofline"},
      {"model", {{"coded", coding}}},
      {"requests", {{"total", run.requests}, {"completed", completed}, {"failed", run.requests - completed}, {"resent", run.resent},
                    {"decoded", run.decoded}, {"outputs_decoded", run.outputs_decoded}, {"cancels", run.cancels}, {"clients", run.clients()}, {"max_in_flight", sc.workload.max_in_flight}}},
      {"throughput", {{"requests_per_s", completed > 0 ? completed / span : 0.0}, {"steady_requests_per_s", steady_rate(completions)}}},
      {"latency_s", latency_percentiles(latency)},
      {"latency_by_path_s", {{"all_outputs", latency_percentiles(latency_exact)}, {"decoded", latency_percentiles(latency_decoded)}}},
      {"answers",
       {{"accuracy", completed > 0 ? static_cast<double>(correct) / completed : 0.0},
        {"accuracy_all_outputs", completed > 0 ? static_cast<double>(exact_correct) / completed : 0.0},
        {"decoded_share", completed > 0 ? static_cast<double>(run.decoded) / completed : 0.0},
        {"decoded_own_task", decoded_task},
        {"decoded_own_task_correct", run.decoded_correct}}},
      {"members", members},
      {"memory",
       {{"model_param_bytes", spec.node_param_bytes},
        {"server_bytes", spec.node_param_bytes + sc.overheads.runtime_memory_bytes},
        {"total_param_bytes", spec.node_param_bytes * run.n_members()}}},
      {"network", {{"bytes_moved", run.bytes_moved}, {"messages", run.messages}}},
      {"simulated_time_s", sim_time},
      {"wall_clock", {{"seconds", wall}}},
  };
  if (!sc.workload.phases.empty()) report.metrics["phases"] = request_phases_json(sc.workload, run.arrival, run.sent, run.done);
  add_request_energy_and_cost(report.metrics, sc, run.energy, std::min(first, sim_time), sim_time, completed);
  nlohmann::json failovers = nlohmann::json::array();
  for (const CodedFailover& f : run.failovers) {
    nlohmann::json j = {{"member", f.member}, {"from", sc.nodes[static_cast<std::size_t>(f.from_server)].name}, {"failed_at_s", f.failed_at_s},
                        {"detected_at_s", f.detected_at_s}};
    if (f.to_server >= 0) {  // else it did not serve again before the run ended
      j["to"] = sc.nodes[static_cast<std::size_t>(f.to_server)].name;
      j["ready_at_s"] = f.ready_at_s;
      j["requests_resent"] = f.requests_resent;
    }
    failovers.push_back(j);
  }
  report.metrics["failovers"] = failovers;
  report.metrics["spare_servers"] = run.spares.size();
  if (run.ensemble.has_coded())
    report.metrics["decoding_offline"] = {{"test_inputs_per_task", spec.test_samples},
                                          {"accuracy", run.offline.accuracy},
                                          {"decoded_accuracy", run.offline.decoded_accuracy},
                                          {"normalized", run.offline.normalized},
                                          {"decoded_agreement", run.offline.decoded_agreement},
                                          {"mean_normalized", run.offline.mean_normalized}};
  if (!run.offline.normalized_two_missing.empty()) {
    report.metrics["decoding_offline"]["normalized_two_missing"] = run.offline.normalized_two_missing;
    report.metrics["decoding_offline"]["mean_normalized_two_missing"] = run.offline.mean_normalized_two_missing;
  }
  if (completed < run.requests) report.metrics["requests"]["failure_reason"] = "time limit reached (simulation.time_limit) before every request completed";
  finish_run_report(report, sim_time, wall, run.messages, run.trace.get(), run.log.get(), sc, options);
  return report;
}

}  // namespace swarmsim::sim
