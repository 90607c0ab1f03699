#include "sim/output/event_log.hpp"

#include <nlohmann/json.hpp>

namespace swarmsim::sim {

using nlohmann::json;

namespace {
json range_json(const BlockRange& r) { return json{{"start", r.start}, {"end", r.end}}; }
}  // namespace

json run_start_json(const Scenario& sc) {
  json nodes = json::array(), clients = json::array();
  for (const NodeSpec& n : sc.nodes) {
    json j{{"name", n.name}, {"gpu", n.device->name}, {"memory_bytes", n.device->memory_bytes},
           {"uplink_Bps", n.uplink_Bps}, {"downlink_Bps", n.downlink_Bps}};
    if (n.location) j["location"] = {{"lat", n.location->lat_deg}, {"lon", n.location->lon_deg}};
    nodes.push_back(j);
  }
  for (const ClientSpec& c : sc.clients) {
    json j{{"name", c.name}, {"device", c.device->name}, {"uplink_Bps", c.uplink_Bps}, {"downlink_Bps", c.downlink_Bps}};
    if (c.location) j["location"] = {{"lat", c.location->lat_deg}, {"lon", c.location->lon_deg}};
    clients.push_back(j);
  }
  json start{{"t", 0.0},
             {"type", "run_start"},
             {"scenario", sc.name},
             {"seed", sc.seed},
             {"model", sc.model.name},
             {"n_blocks", sc.model.n_layers},
             {"nodes", nodes},
             {"clients", clients},
             {"tokens_per_step", sc.workload.batch_size},
             {"workload_start_s", sc.workload.start_s}};  // resilience.unserved_blocks counts from here
  if (sc.first_served_block() > 0) start["client_blocks"] = sc.first_served_block();  // split learning
  if (const auto& ft = sc.workload.fine_tuning) {  // a step trains on batch x prompt tokens and generates none
    start["tokens_per_step"] = sc.workload.batch_size * sc.workload.prompt_tokens;
    start["fine_tuning"] = {{"steps", ft->steps}, {"checkpoint_every", ft->checkpoint_every}};
    if (ft->zero > 0) start["fine_tuning"]["zero"] = ft->zero;  // a job's synchronizations apply its mean gradient
  }
  return start;
}

json tree_run_start_json(const Scenario& sc) {
  json start = run_start_json(sc);
  start["model"] = "fisher-btree";
  start["n_blocks"] = sc.tree ? sc.tree->classes : 0;
  start["tree"] = true;
  return start;
}

json pipeline_run_start_json(const Scenario& sc, const std::string& model, int stages) {
  json start = run_start_json(sc);
  start["model"] = model;
  start["n_blocks"] = stages;
  start["pipeline"] = true;
  return start;
}

json coded_run_start_json(const Scenario& sc) {
  json start = run_start_json(sc);
  start["model"] = sc.coded && sc.coded->parity > 0 ? "coded-inference" : "uncoded-inference";
  start["n_blocks"] = sc.coded ? sc.coded->models + sc.coded->parity : 0;
  start["coded"] = {{"models", sc.coded ? sc.coded->models : 0}, {"parity", sc.coded ? sc.coded->parity : 0}};
  return start;
}

EventLogWriter::EventLogWriter(const Scenario& sc, const std::filesystem::path& path)
    : EventLogWriter(sc, path, run_start_json(sc)) {}

EventLogWriter::EventLogWriter(const Scenario& sc, const std::filesystem::path& path, const json& run_start)
    : sc_(sc), file_(path) {
  line(run_start.dump());
}

std::string EventLogWriter::host_name(int host) const {
  const int S = static_cast<int>(sc_.nodes.size());
  return host < S ? sc_.nodes[host].name : sc_.clients[host - S].name;
}

void EventLogWriter::line(const std::string& text) { file_.stream() << text << '\n'; }

void EventLogWriter::connect(SimSignals& s) {
  s.on_node_joined.connect([this](const NodeJoined& e) {
    line(json{{"t", e.t}, {"type", "node_join"}, {"node", host_name(e.node)}, {"blocks", range_json(e.blocks)},
              {"load_started", e.load_started}}
             .dump());
  });
  s.on_node_state.connect([this](const NodeStateChanged& e) {
    line(json{{"t", e.t}, {"type", e.up ? "node_up" : "node_down"}, {"node", host_name(e.node)}}.dump());
  });
  s.on_link_changed.connect([this](const LinkChanged& e) {
    json j{{"t", e.t}, {"type", "link_change"}, {"action", to_string(e.action)}, {"node", host_name(e.node)}};
    if (e.peer >= 0) j["peer"] = host_name(e.peer);
    if (e.action == EventAction::SetBandwidth) {
      j["direction"] = e.direction == LinkDirection::Up ? "up" : e.direction == LinkDirection::Down ? "down" : "both";
      j["bandwidth_Bps"] = e.value;
    } else {
      j["latency_s"] = e.value;
    }
    line(j.dump());
  });
  s.on_session_started.connect([this](const SessionStarted& e) {
    line(json{{"t", e.t}, {"type", "session_start"}, {"session", e.session}, {"client", host_name(e.client)}}.dump());
  });
  s.on_chain_formed.connect([this](const ChainFormed& e) {
    json hops = json::array();
    for (std::size_t i = 0; i < e.servers.size(); ++i)
      hops.push_back({{"node", host_name(e.servers[i])}, {"blocks", range_json(e.ranges[i])}});
    line(json{{"t", e.t}, {"type", "chain_formed"}, {"session", e.session}, {"attempt", e.attempt}, {"hops", hops},
              {"cost", e.cost}}
             .dump());
  });
  s.on_transfer_retried.connect([this](const TransferRetried& e) {
    line(json{{"t", e.t}, {"type", "transfer_retry"}, {"session", e.session}, {"step", e.step}, {"from", host_name(e.from)},
              {"to", host_name(e.to)}, {"attempt", e.attempt}, {"reason", e.reason}, {"given_up", e.given_up}}
             .dump());
  });
  s.on_session_recovered.connect([this](const SessionRecovered& e) {
    json hops = json::array();
    for (std::size_t i = 0; i < e.servers.size(); ++i)
      hops.push_back({{"node", host_name(e.servers[i])}, {"blocks", range_json(e.ranges[i])}});
    line(json{{"t", e.t}, {"type", "session_recovered"}, {"session", e.session}, {"step", e.step},
              {"failed_node", host_name(e.failed_server)}, {"blocks", range_json(e.span)}, {"hops", hops},
              {"replayed_tokens", e.replayed_tokens}, {"detected_after", e.detected_after}}
             .dump());
  });
  s.on_tree_changed.connect(
      [this](const TreeChanged& e) { line(tree_changed_json(e, [this](int host) { return host_name(host); }).dump()); });
  if (sc_.workload.fine_tuning)  // a training step ends with no "head" span in the trace to mark it: say so here
    s.on_step.connect([this](const StepCompleted& e) {
      line(json{{"t", e.t}, {"type", "step"}, {"session", e.session}, {"step", e.step}, {"latency", e.latency}}.dump());
    });
  s.on_adapters_synced.connect([this](const AdaptersSynced& e) { line(adapters_synced_json(e).dump()); });
  s.on_training_loss.connect([this](const TrainingLossMeasured& e) { line(training_loss_json(e).dump()); });
  s.on_adapters_moved.connect([this](const AdaptersMoved& e) {
    line(adapters_moved_json(e, [this](int host) { return host_name(host); }).dump());
  });
  s.on_server_banned.connect([this](const ServerBanned& e) {
    line(server_banned_json(e, [this](int host) { return host_name(host); }).dump());
  });
  s.on_blocks_moved.connect([this](const BlocksMoved& e) {
    line(json{{"t", e.t}, {"type", "blocks_moved"}, {"node", host_name(e.node)}, {"from", range_json(e.from)},
              {"to", range_json(e.to)}, {"min_throughput_before", e.min_throughput_before},
              {"min_throughput_after", e.min_throughput_after}}
             .dump());
  });
  s.on_kv_changed.connect([this](const KvChanged& e) { line(kv_changed_json(e, [this](int host) { return host_name(host); }).dump()); });
  s.on_session_ended.connect([this](const SessionEnded& e) { line(session_ended_json(e).dump()); });
}

json session_ended_json(const SessionEnded& e) {
  json j{{"t", e.t}, {"type", e.completed ? "session_done" : "session_failed"}, {"session", e.session}, {"tokens", e.tokens}};
  if (!e.completed) j["reason"] = e.reason;
  if (e.abandoned) j["abandoned"] = true;  // its user left: the swarm did not fail it
  if (e.client_lost) j["client_lost"] = true;  // its client went down: the swarm did not fail it
  if (e.decoded > 0) j["decoded"] = e.decoded;
  return j;
}

void EventLogWriter::finish(double simulated_time) {
  line(json{{"t", simulated_time}, {"type", "run_end"}}.dump());
  file_.commit();
}

}  // namespace swarmsim::sim
