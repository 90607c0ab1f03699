#pragma once
// Writes swarm events (joins, failures, network changes, chain choices, session ends) as JSON
// lines, the input of the GUI's replay. Format: traces/README.md.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "sim/output/atomic_file.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

/// The "run_start" line of an event log: the scenario, its model, and every node and client with
/// its device, links and location (what a replay needs to draw the swarm).
nlohmann::json run_start_json(const Scenario& sc);
/// The "run_start" line of a Fisher B-tree run (sc.tree set): a tree node's keys play the part of
/// a server's blocks, so n_blocks is the classes.
nlohmann::json tree_run_start_json(const Scenario& sc);
/// The "run_start" line of a graph model's pipeline: its `stages` are its blocks, `model` the graph's name.
nlohmann::json pipeline_run_start_json(const Scenario& sc, const std::string& model, int stages);
/// The "run_start" line of an erasure-coded inference run (sc.coded set): member m (the N task
/// models, then the coded one) plays the part of block m, so n_blocks is the members.
nlohmann::json coded_run_start_json(const Scenario& sc);
/// A "tree" line: the tree's shape after `e`, servers named by `host_name` (a host index's name).
template <class HostName>
nlohmann::json tree_changed_json(const TreeChanged& e, const HostName& host_name) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const TreeNodeView& n : e.nodes)
    nodes.push_back(nlohmann::json{{"id", n.id}, {"parent", n.parent}, {"keys", {n.lo, n.hi}}, {"server", host_name(n.server)},
                                   {"state", n.state}, {"fisher", n.fisher}, {"load", n.load}});
  return nlohmann::json{{"t", e.t}, {"type", "tree"}, {"what", e.what}, {"node", e.node}, {"created", e.created}, {"nodes", nodes}};
}

/// A "server_banned" line: the node (named by `host_name`), whether it was honest (outvoted by a
/// cartel), and the check that banned it.
template <class HostName>
nlohmann::json server_banned_json(const ServerBanned& e, const HostName& host_name) {
  return nlohmann::json{{"t", e.t},           {"type", "server_banned"}, {"node", host_name(e.node)},
                        {"honest", e.honest}, {"session", e.session},     {"step", e.step}};
}

/// A "kv" line: the KV memory reserved on a node (named by `host_name`) after a change, and on a
/// client the sessions waiting for its memory.
template <class HostName>
nlohmann::json kv_changed_json(const KvChanged& e, const HostName& host_name) {
  nlohmann::json j{{"t", e.t}, {"type", "kv"}, {"node", host_name(e.node)}, {"bytes", e.bytes}};
  if (e.waiting >= 0) j["waiting"] = e.waiting;  // a client's sessions held back for its memory
  return j;
}

/// An "adapters_saved" or "adapters_restored" line of a fine-tuning session (workload.fine_tuning):
/// a server's adapters of `blocks` went to the client, or from it into a replacement server.
template <class HostName>
nlohmann::json adapters_moved_json(const AdaptersMoved& e, const HostName& host_name) {
  nlohmann::json j{{"t", e.t},
                   {"type", e.restored ? "adapters_restored" : "adapters_saved"},
                   {"session", e.session},
                   {"step", e.step},
                   {"node", host_name(e.server)},
                   {"blocks", {{"start", e.blocks.start}, {"end", e.blocks.end}}},
                   {"bytes", e.bytes}};
  if (e.restored) j["updates_lost"] = e.updates_lost;
  if (e.from_peer) j["from_peer"] = true;  // copied from a peer replica of the session's job
  return j;
}

/// An "adapters_synced" line: a session of a data-parallel fine-tuning job took part in an averaging.
inline nlohmann::json adapters_synced_json(const AdaptersSynced& e) {
  return nlohmann::json{{"t", e.t}, {"type", "adapters_synced"}, {"session", e.session}, {"step", e.step}, {"bytes", e.bytes}, {"seconds", e.seconds}};
}

/// A "loss" line: the fine-tuning loss proxy's loss at a session's step (workload.fine_tuning.loss).
inline nlohmann::json training_loss_json(const TrainingLossMeasured& e) {
  return nlohmann::json{{"t", e.t}, {"type", "loss"}, {"session", e.session}, {"step", e.step}, {"loss", e.loss}};
}

/// A "session_done" or "session_failed" line ("decoded" only when outputs were decoded).
nlohmann::json session_ended_json(const SessionEnded& e);

class EventLogWriter {
 public:
  /// Opens `path` and writes the "run_start" line describing the swarm. `scenario` is borrowed.
  EventLogWriter(const Scenario& scenario, const std::filesystem::path& path);
  /// The same with a "run_start" line of the caller's (a graph pipeline's, whose blocks are its stages).
  EventLogWriter(const Scenario& scenario, const std::filesystem::path& path, const nlohmann::json& run_start);
  EventLogWriter(const EventLogWriter&) = delete;
  EventLogWriter& operator=(const EventLogWriter&) = delete;

  void connect(SimSignals& signals);
  /// Writes a line of the caller's own (a graph pipeline's events), in time order with the rest.
  void line(const std::string& json_text);
  /// Writes the "run_end" line and renames the file into place.
  void finish(double simulated_time);

 private:
  std::string host_name(int host) const;
  const Scenario& sc_;
  AtomicFile file_;
};

}  // namespace swarmsim::sim
