#include "gui/event_stream.hpp"

#include <nlohmann/json.hpp>

#include "sim/output/event_log.hpp"

namespace swarmsim::gui {

using nlohmann::json;

namespace {
json range_json(const sim::BlockRange& r) { return json{{"start", r.start}, {"end", r.end}}; }
}  // namespace

EventStreamWriter::EventStreamWriter(const sim::Scenario& scenario, std::function<void(const std::string&)> sink)
    : sc_(scenario), sink_(std::move(sink)) {}

std::string EventStreamWriter::host_name(int host) const {
  const int S = static_cast<int>(sc_.nodes.size());
  return host < S ? sc_.nodes[static_cast<std::size_t>(host)].name : sc_.clients[static_cast<std::size_t>(host - S)].name;
}

void EventStreamWriter::connect(sim::SimSignals& s) {
  if (sc_.tree) {
    sink_(sim::tree_run_start_json(sc_).dump());  // the same header as a tree run's events.jsonl
  } else if (sc_.coded) {
    sink_(sim::coded_run_start_json(sc_).dump());  // the same header as a coded run's events.jsonl
  } else if (!sc_.graph) {
    sink_(sim::run_start_json(sc_).dump());  // the same header as events.jsonl
  }
  // A graph pipeline's stages are its blocks; their number is known once it is planned.
  s.on_pipeline_planned.connect([this](const sim::PipelinePlanned& p) {
    sink_(sim::pipeline_run_start_json(sc_, p.model, p.stages).dump());
  });

  s.on_node_joined.connect([this](const sim::NodeJoined& e) {
    sink_(json{{"t", e.t}, {"type", "node_join"}, {"node", host_name(e.node)}, {"blocks", range_json(e.blocks)},
               {"load_started", e.load_started}}
              .dump());
  });
  s.on_node_state.connect([this](const sim::NodeStateChanged& e) {
    sink_(json{{"t", e.t}, {"type", e.up ? "node_up" : "node_down"}, {"node", host_name(e.node)}}.dump());
  });
  s.on_link_changed.connect([this](const sim::LinkChanged& e) {
    json j{{"t", e.t}, {"type", "link_change"}, {"action", sim::to_string(e.action)}, {"node", host_name(e.node)}};
    if (e.peer >= 0) j["peer"] = host_name(e.peer);
    if (e.action == sim::EventAction::SetBandwidth) {
      j["direction"] = e.direction == sim::LinkDirection::Up ? "up" : e.direction == sim::LinkDirection::Down ? "down" : "both";
      j["bandwidth_Bps"] = e.value;
    } else {
      j["latency_s"] = e.value;
    }
    sink_(j.dump());
  });
  s.on_session_started.connect([this](const sim::SessionStarted& e) {
    sink_(json{{"t", e.t}, {"type", "session_start"}, {"session", e.session}, {"client", host_name(e.client)}}.dump());
  });
  s.on_chain_formed.connect([this](const sim::ChainFormed& e) {
    json hops = json::array();
    for (std::size_t i = 0; i < e.servers.size(); ++i)
      hops.push_back({{"node", host_name(e.servers[i])}, {"blocks", range_json(e.ranges[i])}});
    sink_(json{{"t", e.t}, {"type", "chain_formed"}, {"session", e.session}, {"attempt", e.attempt}, {"hops", hops},
               {"cost", e.cost}}
              .dump());
  });
  s.on_transfer_retried.connect([this](const sim::TransferRetried& e) {
    sink_(json{{"t", e.t}, {"type", "transfer_retry"}, {"session", e.session}, {"step", e.step}, {"from", host_name(e.from)},
               {"to", host_name(e.to)}, {"attempt", e.attempt}, {"reason", e.reason}, {"given_up", e.given_up}}
              .dump());
  });
  s.on_session_recovered.connect([this](const sim::SessionRecovered& e) {
    json hops = json::array();
    for (std::size_t i = 0; i < e.servers.size(); ++i)
      hops.push_back({{"node", host_name(e.servers[i])}, {"blocks", range_json(e.ranges[i])}});
    sink_(json{{"t", e.t}, {"type", "session_recovered"}, {"session", e.session}, {"step", e.step},
               {"failed_node", host_name(e.failed_server)}, {"blocks", range_json(e.span)}, {"hops", hops},
               {"replayed_tokens", e.replayed_tokens}, {"detected_after", e.detected_after}}
              .dump());
  });
  s.on_adapters_synced.connect([this](const sim::AdaptersSynced& e) { sink_(sim::adapters_synced_json(e).dump()); });
  s.on_training_loss.connect([this](const sim::TrainingLossMeasured& e) { sink_(sim::training_loss_json(e).dump()); });
  s.on_adapters_moved.connect([this](const sim::AdaptersMoved& e) {
    sink_(sim::adapters_moved_json(e, [this](int host) { return host_name(host); }).dump());
  });
  s.on_server_banned.connect([this](const sim::ServerBanned& e) {
    sink_(sim::server_banned_json(e, [this](int host) { return host_name(host); }).dump());
  });
  s.on_blocks_moved.connect([this](const sim::BlocksMoved& e) {
    sink_(json{{"t", e.t}, {"type", "blocks_moved"}, {"node", host_name(e.node)}, {"from", range_json(e.from)},
               {"to", range_json(e.to)}, {"min_throughput_before", e.min_throughput_before},
               {"min_throughput_after", e.min_throughput_after}}
              .dump());
  });
  s.on_tree_changed.connect(
      [this](const sim::TreeChanged& e) { sink_(sim::tree_changed_json(e, [this](int host) { return host_name(host); }).dump()); });
  s.on_kv_changed.connect([this](const sim::KvChanged& e) { sink_(sim::kv_changed_json(e, [this](int host) { return host_name(host); }).dump()); });
  s.on_session_ended.connect([this](const sim::SessionEnded& e) { sink_(sim::session_ended_json(e).dump()); });
  s.on_compute.connect([this](const sim::ComputeSpan& e) {
    json j{{"t", e.end}, {"type", "compute"}, {"host", host_name(e.host)}, {"start", e.start},
           {"session", e.session}, {"step", e.step}, {"what", e.what}};
    if (!e.blocks.empty()) j["blocks"] = range_json(e.blocks);
    sink_(j.dump());
  });
  s.on_transfer.connect([this](const sim::TransferSpan& e) {
    sink_(json{{"t", e.end}, {"type", "transfer"}, {"from", host_name(e.from)}, {"to", host_name(e.to)},
               {"start", e.start}, {"session", e.session}, {"step", e.step}, {"bytes", e.bytes}}
              .dump());
  });
  s.on_step.connect([this](const sim::StepCompleted& e) {
    sink_(json{{"t", e.t}, {"type", "step"}, {"session", e.session}, {"step", e.step}, {"latency", e.latency}}.dump());
  });
}

void EventStreamWriter::finish(double simulated_time) {
  sink_(json{{"t", simulated_time}, {"type", "run_end"}}.dump());
}

}  // namespace swarmsim::gui
