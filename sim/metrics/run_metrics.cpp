#include "sim/metrics/run_metrics.hpp"

#include "sim/metrics/run_cost.hpp"
#include "sim/swarm/client_outages.hpp"

#include <algorithm>
#include <limits>
#include <string_view>

#include "gpu/model_catalog.hpp"
#include "sim/output/request_report.hpp"
#include "sim/privacy/gaussian_mechanism.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/session_plan.hpp"
#include "sim/swarm/training_step.hpp"

namespace swarmsim::sim {

using nlohmann::json;

RunMetrics::RunMetrics(const Scenario& scenario, std::string pricing)
    : sc_(scenario),
      coverage_(BlockRange{scenario.first_served_block(), scenario.model.n_layers}, static_cast<int>(scenario.nodes.size()),
                scenario.workload.start_s),
      pricing_(std::move(pricing)),
      sessions_(static_cast<std::size_t>(scenario.workload.sessions)),
      phase_clock_(scenario.workload),
      phase_tokens_(scenario.workload.phases.size(), 0),
      phase_token_latency_(scenario.workload.phases.size(), LatencyHistogram(64)),
      chains_through_(scenario.nodes.size(), 0),
      energy_(scenario) {  // a server is on from its join_at, when it starts loading its blocks
  const bool dishonest = std::any_of(scenario.nodes.begin(), scenario.nodes.end(), [](const NodeSpec& n) { return n.dishonest.has_value(); });
  const auto& ft = scenario.workload.fine_tuning;
  dishonest_training_ = ft && dishonest;
  // The loss proxy follows the legs for the dishonest servers' outputs and for the wire's quantizer.
  if (dishonest_training_ || (ft && ft->loss && scenario.policy.compression.hidden_states))
    forward_legs_ = std::make_unique<ForwardLegs>(scenario);
  if (ft && ft->loss) loss_ = std::make_unique<TrainingLoss>(scenario, forward_legs_.get());
  if (!scenario.graph && !scenario.tree && !scenario.coded && !scenario.clients.empty()) {
    clients_memory_.emplace(scenario);
    client_gate_.emplace(scenario);
    memory_waits_.assign(scenario.clients.size(), 0);
    memory_wait_s_.assign(scenario.clients.size(), 0.0);
  }
}

namespace {
/// How much `span` exceeds `part`, with rounding noise (1e-12 relative) taken as none.
double beyond(double span, double part) {
  const double d = span - part;
  return d > 1e-12 * std::max(span, 1e-3) ? d : 0.0;
}
/// What the clients run and release under policy.privacy (seed 002, section 6.3.1).
json privacy_json(const Scenario& sc) {
  const PrivacySpec& p = sc.policy.privacy;
  json j{{"client_blocks", p.client_blocks},
         {"client_weight_bytes", client_block_weight_bytes(sc)},
         {"swarm_blocks", {{"start", sc.first_served_block()}, {"end", sc.model.n_layers}}},
         {"differential_privacy", nullptr}};
  if (p.noisy()) {
    const double c = p.clip_for(sc.model.hidden);
    const double sigma = gaussian_mechanism_sigma(p.epsilon, p.delta, clipped_sensitivity(c));  // seed 002, eq. 25
    j["differential_privacy"] = {{"epsilon", p.epsilon},
                                 {"delta", p.delta},
                                 {"clip_norm", c},
                                 {"sensitivity", clipped_sensitivity(c)},
                                 {"sigma", sigma},
                                 {"noise_norm_over_clip", sigma * std::sqrt(static_cast<double>(sc.model.hidden)) / c}};
  }
  return j;
}

}  // namespace

void RunMetrics::connect(SimSignals& s) {
  if (forward_legs_) forward_legs_->connect(s);  // before the loss proxy: a step's forward legs come before its update anyway
  if (dishonest_training_) {
    s.on_adapters_updated.connect([this](const AdaptersUpdated& e) { poisoned_steps_ += !forward_legs_->wrong(e.session, e.step).empty(); });
  }
  if (loss_) loss_->connect(s);
  s.on_session_started.connect([this](const SessionStarted& e) {
    SessionRecord& r = sessions_[static_cast<std::size_t>(e.session)];
    r.arrival = e.t;
    r.phase = phase_clock_.phase_at(e.t);
    if (clients_memory_) {
      r.client = e.client - static_cast<int>(sc_.nodes.size());
      r.client_bytes = client_session_bytes(sc_, session_shape(sc_, e.session, e.t));
      if (client_gate_->admit(r.client, e.session, r.client_bytes)) clients_memory_->start(r.client, e.t, r.client_bytes);
    }
  });
  s.on_chain_formed.connect([this](const ChainFormed& e) {
    ++chains_;
    for (int server : e.servers) ++chains_through_[static_cast<std::size_t>(server)];
  });
  s.on_compute.connect([this](const ComputeSpan& e) {
    energy_.computed(e);
    if (e.check()) verification_.check_device_seconds += e.device_seconds;
    if (e.check() || e.session < 0 || e.session >= static_cast<int>(sessions_.size())) return;
    LatencyParts& p = sessions_[static_cast<std::size_t>(e.session)].open;
    (e.blocks.empty() ? p.client_compute : p.server_compute) += e.device_seconds;
    if (sc_.workload.fine_tuning) {
      const std::string_view what(e.what);
      if (what == "forward") training_.forward_s += e.device_seconds;
      if (what == "backward") training_.backward_s += e.device_seconds;
      if (what == "loss") training_.loss_s += e.device_seconds;
      if (what == "client_forward") training_.client_forward_s += e.device_seconds;
      if (what == "client_backward") training_.client_backward_s += e.device_seconds;
    }
    p.contention += beyond(e.end - e.start, e.device_seconds);
  });
  s.on_transfer.connect([this](const TransferSpan& e) {
    ++hops_;
    bytes_ += e.bytes;
    if (e.check) verification_.check_bytes += e.bytes;
    if (e.check || e.session < 0 || e.session >= static_cast<int>(sessions_.size())) return;
    LatencyParts& p = sessions_[static_cast<std::size_t>(e.session)].open;
    p.propagation += e.latency_s;
    p.software += e.software_s;
    p.transmission += beyond(e.end - e.start, e.latency_s + e.software_s);
  });
  s.on_step.connect([this](const StepCompleted& e) {
    SessionRecord& r = sessions_[static_cast<std::size_t>(e.session)];
    if (sc_.workload.fine_tuning) {  // a training step: no token generated
      training_.step_time.record(e.latency);
      training_.steps.parts += r.open;
      training_.steps.latency += e.latency;
      ++training_.steps.steps;
      r.open = {};
      r.last_token = e.t;
      return;
    }
    if (e.step == 0) {
      r.first_token = e.t;
      r.ttft = e.latency;
      ttft_.record(e.latency);
    } else {
      ++r.decode_steps;
      r.token_latency_s += e.latency;
      per_token_.record(e.latency);
      if (r.phase >= 0) phase_token_latency_[static_cast<std::size_t>(r.phase)].record(e.latency);  // by the session's arrival phase
    }
    StepBreakdown& b = e.step == 0 ? prefill_ : decode_;
    b.parts += r.open;
    b.latency += e.latency;
    ++b.steps;
    r.open = {};
    r.last_token = e.t;
    tokens_ += static_cast<std::uint64_t>(sc_.workload.batch_size);
    if (phase_clock_.phases() > 0)
      if (const int p = phase_clock_.phase_at(e.t); p >= 0) phase_tokens_[static_cast<std::size_t>(p)] += static_cast<std::uint64_t>(sc_.workload.batch_size);
    verification_.corrupted_steps += e.corrupted;
  });
  s.on_spot_checked.connect([this](const SpotChecked& e) {
    ++verification_.checks[e.verdict];
    verification_.wrong_outputs_checked += e.server_was_wrong;
    verification_.wrong_outputs_passed += e.server_was_wrong && std::string_view(e.verdict) == "agreed";
  });
  s.on_server_banned.connect([this](const ServerBanned& e) {
    verification_.bans.push_back(e);
    coverage_.stop(e.t, e.node);
  });
  s.on_adapters_synced.connect([this](const AdaptersSynced& e) {
    ++training_.syncs;
    training_.sync_bytes += e.bytes;
    training_.sync_seconds += e.seconds;
  });
  s.on_adapters_moved.connect([this](const AdaptersMoved& e) {
    if (e.restored) {
      ++training_.restored;
      training_.restored_from_peers += e.from_peer;
      training_.restored_bytes += e.bytes;
      training_.updates_lost += e.updates_lost;
    } else {
      ++training_.saved;
      training_.saved_bytes += e.bytes;
    }
  });
  s.on_transfer_retried.connect([this](const TransferRetried& e) {
    ++retries_;
    if (e.reason == "checksum") ++checksum_failures_;
    if (e.given_up) ++given_up_;
  });
  s.on_session_recovered.connect([this](const SessionRecovered& e) {
    ++recoveries_;
    replayed_tokens_ += static_cast<std::uint64_t>(e.replayed_tokens);
  });
  s.on_blocks_moved.connect([this](const BlocksMoved& e) {
    ++moves_;
    coverage_.stop(e.t, e.node);  // it serves its new range once loaded (its node_joined)
  });
  s.on_node_joined.connect([this](const NodeJoined& e) {
    if (!e.pipeline_stage) coverage_.serve(e.t, e.node, e.blocks);
  });
  s.on_node_state.connect([this](const NodeStateChanged& e) {
    if (!e.up) coverage_.stop(e.t, e.node);
    energy_.node_state(e.node, e.up, e.t);
  });
  s.on_session_ended.connect([this](const SessionEnded& e) {
    SessionRecord& r = sessions_[static_cast<std::size_t>(e.session)];
    if (clients_memory_ && r.client >= 0 && r.end < 0) {  // one that never arrived held nothing
      clients_memory_->end(r.client, r.client_bytes);
      admitted_.clear();
      client_gate_->release(r.client, r.client_bytes, admitted_);
      for (const int a : admitted_) {  // the sessions its end let in, as the engines do
        const SessionRecord& w = sessions_[static_cast<std::size_t>(a)];
        clients_memory_->start(w.client, e.t, w.client_bytes);
        ++memory_waits_[static_cast<std::size_t>(w.client)];
        memory_wait_s_[static_cast<std::size_t>(w.client)] += e.t - w.arrival;
      }
    }
    r.end = e.t;
    if (e.completed) {
      ++completed_;
      r.completed = true;
      session_latency_.record(e.t - r.arrival);
    } else if (e.abandoned) {
      ++abandoned_;
    } else if (e.client_lost) {
      ++lost_with_client_;
    } else {
      ++failed_;
      failures_.emplace_back(e.session, e.reason);
    }
  });
}

LatencyParts& LatencyParts::operator+=(const LatencyParts& o) {
  server_compute += o.server_compute;
  client_compute += o.client_compute;
  contention += o.contention;
  propagation += o.propagation;
  software += o.software;
  transmission += o.transmission;
  return *this;
}

json RunMetrics::StepBreakdown::to_json() const {
  const double n = steps > 0 ? static_cast<double>(steps) : 1.0;  // means per step; zeros without steps
  return json{{"steps", steps},
              {"latency", latency / n},
              {"server_compute", parts.server_compute / n},
              {"client_compute", parts.client_compute / n},
              {"contention", parts.contention / n},
              {"propagation", parts.propagation / n},
              {"software", parts.software / n},
              {"transmission", parts.transmission / n},
              {"waiting", beyond(latency, parts.sum()) / n}};
}

namespace {
/// resilience.unserved_blocks: each run of blocks without a serving server for the same time.
json unserved_blocks_json(const std::vector<UnservedRange>& ranges) {
  json out = json::array();
  for (const UnservedRange& r : ranges)
    out.push_back({{"blocks", {{"start", r.blocks.start}, {"end", r.blocks.end}}}, {"unserved_s", r.unserved_s}});
  return out;
}

json summary(const LatencyHistogram& h) {
  return json{{"count", h.count()},      {"mean", h.mean()},           {"p50", h.percentile(50)},
              {"p95", h.percentile(95)}, {"p99", h.percentile(99)},    {"min", h.min()},
              {"max", h.max()}};
}
}  // namespace

json RunMetrics::phases_json() const {
  const WorkloadSpec& w = sc_.workload;
  struct Tally {
    int arrived = 0, completed = 0;
    std::vector<double> ttft, session;
    double token_s = 0.0;
    long tokens = 0;
  };
  std::vector<Tally> tally(w.phases.size());
  for (const SessionRecord& r : sessions_) {
    const int p = r.phase;
    if (p < 0) continue;
    Tally& t = tally[static_cast<std::size_t>(p)];
    ++t.arrived;
    if (r.ttft >= 0) t.ttft.push_back(r.ttft);
    if (r.completed) {
      ++t.completed;
      t.session.push_back(r.end - r.arrival);
    }
    t.token_s += r.token_latency_s;
    t.tokens += r.decode_steps;
  }
  json out = json::array();
  for (std::size_t i = 0; i < tally.size(); ++i) {
    const Tally& t = tally[i];
    out.push_back({{"phase", i},
                   {"rate_per_s", w.phases[i].rate_per_s},
                   {"duration_s", w.phases[i].duration_s},
                   {"sessions_arrived", t.arrived},
                   {"sessions_completed", t.completed},
                   {"tokens_generated", phase_tokens_[i]},
                   {"latency_s",
                    {{"time_to_first_token", latency_percentiles(t.ttft)},
                     {"per_token_mean", t.tokens > 0 ? t.token_s / static_cast<double>(t.tokens) : 0.0},
                     {"per_token", {{"p50", phase_token_latency_[i].percentile(50)}, {"p90", phase_token_latency_[i].percentile(90)},
                                    {"p99", phase_token_latency_[i].percentile(99)}, {"max", phase_token_latency_[i].max()}}},
                     {"session", latency_percentiles(t.session)}}}});
  }
  return out;
}

json RunMetrics::to_json(double simulated_time, const std::vector<NodeSummary>& nodes, const WallClock& wall) const {
  // Throughput over the generation window: first arrival to last token of any session.
  double first_arrival = std::numeric_limits<double>::infinity(), last_token = 0.0;
  double steps_rate_sum = 0.0;
  int steps_rate_n = 0;
  for (const SessionRecord& r : sessions_) {
    if (r.arrival >= 0) first_arrival = std::min(first_arrival, r.arrival);
    if (r.last_token >= 0) last_token = std::max(last_token, r.last_token);
    if (r.decode_steps > 0 && r.last_token > r.first_token) {
      steps_rate_sum += r.decode_steps / (r.last_token - r.first_token);  // generation steps/s of the session
      ++steps_rate_n;
    }
  }
  const double window = last_token > first_arrival ? last_token - first_arrival : 0.0;

  json failures = json::array();
  for (const auto& [session, reason] : failures_) failures.push_back({{"session", session}, {"reason", reason}});

  // Energy over the serving window: from the first arrival to the end of the run, so that the
  // swarm's warm-up before any session (loading, idling) is not charged to its tokens.
  const double energy_from = std::isfinite(first_arrival) ? std::min(first_arrival, simulated_time) : simulated_time;
  const EnergyReport energy = energy_.report(energy_from, simulated_time);

  json node_list = json::array();
  const double horizon = std::max(simulated_time, 1e-300);
  for (std::size_t i = 0; i < sc_.nodes.size(); ++i) {
    const NodeSpec& n = sc_.nodes[i];
    const NodeSummary& s = nodes.at(i);
    const double energy_j = energy.host_joules[i];
    node_list.push_back({{"name", n.name},
                         {"gpu", n.device->name},
                         {"blocks", s.blocks.empty() ? json(nullptr) : json{{"start", s.blocks.start}, {"end", s.blocks.end}}},
                         {"utilization", energy_.busy_s(static_cast<int>(i)) / horizon},
                         {"busy_device_seconds", energy_.busy_s(static_cast<int>(i))},
                         {"chains", chains_through_[i]},
                         {"weights_bytes", s.weights_bytes},
                         {"kv_peak_bytes", s.kv_peak_bytes},
                         {"memory_peak_bytes", s.weights_bytes + s.kv_peak_bytes},
                         {"up_seconds", s.up_seconds},
                         {"failures", s.failures},
                         {"energy_joules", energy_j}});
  }
  json client_list = json::array();
  for (std::size_t c = 0; c < sc_.clients.size(); ++c) {
    const std::size_t host = sc_.nodes.size() + c;
    const double energy_j = energy.host_joules[host];
    client_list.push_back({{"name", sc_.clients[c].name},
                           {"device", sc_.clients[c].device->name},
                           {"utilization", energy_.busy_s(static_cast<int>(host)) / horizon},
                           {"busy_device_seconds", energy_.busy_s(static_cast<int>(host))},
                           {"energy_joules", energy_j}});
    if (clients_memory_) {  // the embedding and head, its own blocks, its sessions' state on them
      const ClientPeak& p = clients_memory_->peak(static_cast<int>(c));
      json& j = client_list.back();
      j["memory_fixed_bytes"] = client_fixed_bytes(sc_);
      j["memory_peak_bytes"] = p.bytes;
      j["memory_peak_sessions"] = p.sessions;
      j["memory_peak_at_s"] = p.at_s;
      j["sessions_in_flight_peak"] = p.sessions_peak;
      j["memory_usable_bytes"] = usable_memory_bytes(*sc_.clients[c].device, sc_.overheads);
      if (sc_.first_served_block() > 0) {  // split learning: sessions wait for the client's memory
        j["memory_waits"] = memory_waits_[c];
        j["memory_wait_seconds"] = memory_wait_s_[c];
      }
    }
  }

  json out{
      {"scenario", sc_.name},
      {"seed", sc_.seed},
      {"model", sc_.model.name},
      {"router", to_string(sc_.policy.router)},
      {"pricing", pricing_},
      {"network_model", to_string(sc_.network.model)},
      {"engine", to_string(sc_.engine)},
      {"simulated_time_s", simulated_time},
      {"sessions",
       {{"total", sc_.workload.sessions}, {"completed", completed_}, {"failed", failed_}, {"failures", failures}}},
      {"throughput",
       {{"tokens_generated", tokens_},
        {"tokens_per_s", window > 0 ? static_cast<double>(tokens_) / window : 0.0},
        {"generation_steps_per_s", steps_rate_n ? steps_rate_sum / steps_rate_n : 0.0},
        {"window_s", window}}},
      {"latency_s",
       {{"time_to_first_token", summary(ttft_)}, {"per_token", summary(per_token_)}, {"session", summary(session_latency_)}}},
      {"latency_breakdown_s", {{"time_to_first_token", prefill_.to_json()}, {"per_token", decode_.to_json()}}},
      {"network", {{"hops", hops_}, {"bytes_moved", bytes_}, {"chains_formed", chains_}}},
      {"resilience",
       {{"transfer_retries", retries_}, {"corrupted_messages", checksum_failures_}, {"servers_given_up", given_up_},
        {"recoveries", recoveries_}, {"replayed_tokens", replayed_tokens_}, {"blocks_moved", moves_},
        {"model_unserved_s", coverage_.unserved_s(simulated_time)},
        {"unserved_blocks", unserved_blocks_json(coverage_.unserved_ranges(simulated_time))}}},
      {"energy", energy.to_json("joules_per_token", static_cast<double>(tokens_))},
      {"nodes", node_list},
      {"clients", client_list},
      {"wall_clock", {{"seconds", wall.seconds}, {"hops_per_second", wall.seconds > 0 ? hops_ / wall.seconds : 0.0}}},
  };
  if (sc_.priced()) out["cost"] = run_cost_json(sc_, energy, "per_million_tokens", static_cast<double>(tokens_), 1e6);
  if (!sc_.workload.phases.empty()) {
    out["phases"] = phases_json();
    add_phase_energy(out["phases"], energy_.phase_energy(energy_from, simulated_time), "tokens_generated", "per_token");
  }
  if (sc_.workload.abandon_share > 0) {  // users who left: neither completed nor failed by the swarm
    out["sessions"]["abandoned"] = abandoned_;
    out["sessions"]["session_timeout_s"] = sc_.policy.faults.session_timeout_s;
  }
  if (ClientOutages(sc_).any()) {  // sessions whose client went down: neither completed nor failed by the swarm
    out["sessions"]["lost_with_client"] = lost_with_client_;
    out["sessions"]["session_timeout_s"] = sc_.policy.faults.session_timeout_s;
  }
  if (sc_.policy.privacy.client_blocks > 0 || sc_.policy.privacy.noisy()) out["privacy"] = privacy_json(sc_);
  if (const auto& ft = sc_.workload.fine_tuning) {
    const TrainingTally& t = training_;
    const double trained = static_cast<double>(t.steps.steps) * sc_.workload.batch_size * sc_.workload.prompt_tokens;
    json targets = json::array();
    if (ft->adapter.kind == gpu::AdapterKind::Lora)
      for (const auto& [bit, name] : {std::pair{gpu::kLoraQkv, "qkv"}, {gpu::kLoraO, "o"}, {gpu::kLoraGateUp, "gate_up"}, {gpu::kLoraDown, "down"}})
        if (ft->adapter.targets & bit) targets.push_back(name);
    out["fine_tuning"] = {
        {"adapter", ft->adapter.kind == gpu::AdapterKind::Lora ? "lora" : "bottleneck"},
        {"rank", ft->adapter.rank},
        {"targets", targets},
        {"optimizer", ft->optimizer == gpu::Optimizer::Adam ? "adam" : "sgd"},
        {"params_per_block", gpu::adapter_params_per_block(sc_.model, ft->adapter)},
        {"training_bytes_per_block", training_bytes_per_block(sc_)},
        {"steps", t.steps.steps},
        {"trained_tokens", trained},
        {"trained_tokens_per_s", window > 0 ? trained / window : 0.0},
        {"step_time_s", summary(t.step_time)},
        {"step_breakdown_s", t.steps.to_json()},
        {"device_seconds", {{"forward", t.forward_s}, {"backward", t.backward_s}, {"loss", t.loss_s}}},
        {"checkpoints",
         {{"every", ft->checkpoint_every}, {"saved", t.saved}, {"saved_bytes", t.saved_bytes}, {"restored", t.restored},
          {"restored_bytes", t.restored_bytes}, {"updates_lost", t.updates_lost}}}};
    // Training generates no tokens: its energy and cost are per token trained.
    out["energy"]["joules_per_trained_token"] = trained > 0 ? json(energy.joules() / trained) : json(nullptr);
    if (out.contains("cost"))
      out["cost"]["per_million_trained_tokens"] = trained > 0 ? json(out["cost"]["total"].get<double>() * 1e6 / trained) : json(nullptr);
    if (sc_.first_served_block() > 0) {  // split learning: the clients trained their own blocks (seed 002, eq. 24)
      out["fine_tuning"]["device_seconds"]["client_forward"] = t.client_forward_s;
      out["fine_tuning"]["device_seconds"]["client_backward"] = t.client_backward_s;
    }
    if (loss_) out["fine_tuning"]["loss"] = loss_->to_json();
    if (dishonest_training_) out["fine_tuning"]["poisoned_steps"] = poisoned_steps_;  // dishonest servers' wrong forward outputs
    if (ft->replicas > 1)  // data-parallel jobs: their averagings (seed 002, section 2.4.2, step 3)
      out["fine_tuning"]["sync"] = {{"replicas", ft->replicas},
                                    {"every", ft->sync_every},
                                    {"zero", ft->zero},
                                    {"averagings", t.syncs},
                                    {"bytes", t.sync_bytes},
                                    {"mean_seconds", t.syncs > 0 ? t.sync_seconds / static_cast<double>(t.syncs) : 0.0},
                                    {"restored_from_peers", t.restored_from_peers}};
  }
  const bool dishonest = std::any_of(sc_.nodes.begin(), sc_.nodes.end(), [](const NodeSpec& n) { return n.dishonest.has_value(); });
  if ((dishonest && !sc_.workload.fine_tuning) || sc_.policy.verification.enabled()) {  // fine-tuning counts poisoned steps instead
    const VerificationTally& v = verification_;
    json checks = json::object();
    long total = 0;
    for (const char* verdict : {"agreed", "server_wrong", "verifier_wrong", "inconclusive", "no_tie_breaker", "unverifiable", "abandoned"}) {
      const auto it = v.checks.find(verdict);
      checks[verdict] = it == v.checks.end() ? 0 : it->second;
      total += checks[verdict].get<long>();
    }
    checks["total"] = total;
    json bans = json::array();
    long honest_banned = 0;
    for (const ServerBanned& b : v.bans) {
      const NodeSpec& n = sc_.nodes[static_cast<std::size_t>(b.node)];
      honest_banned += b.honest;
      bans.push_back({{"node", n.name},
                      {"t", b.t},
                      {"honest", b.honest},
                      {"cheating_since", n.dishonest ? json(n.dishonest->from_s) : json(nullptr)},
                      {"session", b.session},
                      {"step", b.step}});
    }
    out["verification"] = {{"rate", sc_.policy.verification.rate},
                            {"tolerance", sc_.policy.verification.tolerance},
                            {"checks", checks},
                            {"wrong_outputs_checked", v.wrong_outputs_checked},
                            {"wrong_outputs_passed", v.wrong_outputs_passed},
                            {"honest_servers_banned", honest_banned},
                            {"corrupted_steps", v.corrupted_steps},
                            {"corrupted_tokens", v.corrupted_steps * sc_.workload.batch_size},
                            {"corrupted_token_fraction", tokens_ > 0 ? static_cast<double>(v.corrupted_steps * sc_.workload.batch_size) / tokens_ : 0.0},
                            {"check_bytes", v.check_bytes},
                            {"check_device_seconds", v.check_device_seconds},
                            {"banned", bans}};
  }
  return out;
}

}  // namespace swarmsim::sim
