#include "gui/app.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::gui {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// [SECTION] Opening inputs
// ---------------------------------------------------------------------------------------------

namespace {

/// Validates the scenario in this process (no SimGrid: scenario_loader is pure) so its
/// diagnostics show at once, and keeps what the what-if editor starts from.
bool check_scenario(AppState& st, const std::string& path, const std::vector<sim::Override>& overrides) {
  try {
    const sim::Scenario sc = sim::load_scenario_file(path, overrides);
    st.whatif.router = sc.policy.router == sim::RouterKind::Eq18 ? 0 : sc.policy.router == sim::RouterKind::ShortestPath ? 1 : 2;
    st.whatif.gamma = static_cast<float>(sc.policy.gamma);
    st.whatif.beta = static_cast<float>(sc.policy.beta);
    st.whatif.alpha = static_cast<float>(sc.policy.alpha);
    st.whatif.uptime_estimate = sc.policy.reputation.estimate == sim::UptimeEstimate::Posterior ? 1 : 0;
    st.whatif.uptime_prior_s = static_cast<float>(sc.policy.reputation.prior_s);
    st.whatif.abandon_share = static_cast<float>(sc.workload.abandon_share);
    st.whatif.session_timeout_s = static_cast<float>(sc.policy.faults.session_timeout_s);
  } catch (const sim::ScenarioError& e) {
    for (const sim::Diagnostic& d : e.diagnostics()) st.errors.push_back(d.str());
    if (e.diagnostics().empty()) st.errors.push_back(path + ": " + e.what());
    return false;
  } catch (const std::exception& e) {
    st.errors.push_back(path + ": " + e.what());
    return false;
  }
  // The raw "events" array: what-if restarts append to it (an override replaces the whole array).
  st.scenario_events = json::array();
  try {
    std::ifstream in(path, std::ios::binary);
    const json doc = json::parse(in);
    if (doc.contains("events") && doc["events"].is_array()) st.scenario_events = doc["events"];
    for (const sim::Override& o : overrides)
      if (o.path == "events") st.scenario_events = json::parse(o.value);
  } catch (const std::exception&) {
    // Validated above; a failure here only costs the what-if editor the original events.
  }
  return true;
}

}  // namespace

void open_input(AppState& st, const std::string& path, const std::vector<sim::Override>& overrides,
                const std::string& program) {
  st.input = path;
  st.program = program;
  st.errors.clear();
  st.warnings.clear();
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    st.live = false;
    RunDirectory run = load_run_directory(path);
    st.timeline = std::move(run.timeline);
    st.summary = run.summary;
    st.errors = run.errors;
    st.warnings = run.warnings;
    if (!run.scenario.empty()) {
      AppState probe;
      if (check_scenario(probe, run.scenario.string(), {})) {
        st.scenario_path = run.scenario.string();
        st.whatif = probe.whatif;
        st.scenario_events = probe.scenario_events;
      }
    } else {
      st.warnings.push_back(path + ": holds no scenario.json, so what-if restarts are off (open the scenario file to run it live)");
    }
    st.time = st.timeline.end_time();
    st.playing = false;
    return;
  }
  if (!fs::exists(path, ec)) {
    st.errors.push_back(path + ": no such file or directory (expected a scenario .json file or a run directory)");
    return;
  }
  st.live = true;
  st.scenario_path = path;
  if (!check_scenario(st, path, overrides)) return;
  start_live(st, overrides, false);
}

void start_live(AppState& st, const std::vector<sim::Override>& overrides, bool keep_previous) {
  if (keep_previous && !st.timeline.events().empty())
    st.previous = PreviousRun{st.whatif.applied.empty() ? "previous run" : "previous run (" + st.whatif.applied.front() + ")",
                              st.timeline};
  st.overrides = overrides;
  std::vector<std::string> args = {"--emit-events", st.scenario_path};
  for (const sim::Override& o : overrides) {
    args.push_back("--set");
    args.push_back(o.path + "=" + o.value);
  }
  st.timeline = Timeline();
  st.reader.emplace("live run of " + st.scenario_path);
  st.time = 0.0;
  st.playing = true;
  st.snapshot_time = -1.0;
  std::string error;
  if (!st.child.start(st.program, args, error)) st.errors.push_back(error);
}

namespace {

void feed_lines(AppState& st, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    if (!st.reader->feed(line, st.timeline)) break;
  }
}

void collect_child_end(AppState& st) {
  if (!st.child.finished()) return;
  if (st.reader && st.reader->failed() &&
      std::find(st.errors.begin(), st.errors.end(), st.reader->error()) == st.errors.end())
    st.errors.push_back(st.reader->error());
  if (st.child.exit_code() != 0) {
    std::string msg = "the simulation process exited with status " + std::to_string(st.child.exit_code());
    std::string err = st.child.stderr_text();
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    if (!err.empty()) msg += ": " + err;
    if (std::find(st.errors.begin(), st.errors.end(), msg) == st.errors.end()) st.errors.push_back(msg);
  }
}

}  // namespace

void app_tick(AppState& st, double wall_dt) {
  if (st.live && st.reader && (st.child.running() || !st.child.finished())) {
    std::vector<std::string> lines;
    st.child.poll(lines);
    feed_lines(st, lines);
    collect_child_end(st);
  }
  const double end = known_end(st);
  if (st.playing) {
    st.time = std::min(end, st.time + wall_dt * st.speed);
    const bool finished = st.timeline.ended() || (st.live && st.child.finished()) || !st.live;
    if (st.time >= end && finished) st.playing = false;
  }
  st.time = std::clamp(st.time, 0.0, std::max(0.0, end));
}

void finish_live(AppState& st) {
  if (!st.live || !st.reader) return;
  std::vector<std::string> lines;
  st.child.wait(lines);
  feed_lines(st, lines);
  collect_child_end(st);
}

double known_end(const AppState& st) { return st.timeline.end_time(); }

void refresh_snapshot(AppState& st) {
  if (st.snapshot_time == st.time && st.snapshot_events == st.timeline.events().size() &&
      st.snapshot.nodes.size() == st.timeline.info().hosts.size())
    return;
  st.snapshot = st.timeline.state_at(st.time);
  st.snapshot_time = st.time;
  st.snapshot_events = st.timeline.events().size();
}

std::vector<sim::Override> whatif_overrides(const AppState& st) {
  const WhatIfEdits& w = st.whatif;
  static const char* routers[] = {"eq18", "shortest_path", "random"};
  std::vector<sim::Override> o;
  // Keep the --set overrides of the first run except those the editor owns (its own come after,
  // so a whole "policy" object set at launch keeps its other keys).
  const auto owned = [](const std::string& path) {
    for (const char* k : {"events", "policy.router", "policy.gamma", "policy.beta", "policy.alpha", "policy.reputation",
                          "workload.abandon_share", "policy.faults.session_timeout"})
      if (path == k || path.rfind(std::string(k) + ".", 0) == 0) return true;
    return false;
  };
  for (const sim::Override& x : st.overrides)
    if (!owned(x.path)) o.push_back(x);
  o.push_back({"policy.router", routers[std::clamp(w.router, 0, 2)]});
  o.push_back({"policy.gamma", json(w.gamma).dump()});
  o.push_back({"policy.beta", json(w.beta).dump()});
  o.push_back({"policy.alpha", json(w.alpha).dump()});
  json reputation = {{"estimate", w.uptime_estimate == 1 ? "posterior" : "declared_x_observed"}};
  if (w.uptime_estimate == 1) reputation["prior"] = std::to_string(std::max(0.0f, w.uptime_prior_s)) + "s";
  o.push_back({"policy.reputation", reputation.dump()});
  // Users who leave: sessions that generate tokens only (the loader refuses the share elsewhere).
  const SwarmInfo& info = st.timeline.info();
  if (!info.request_based() && !info.training) {
    o.push_back({"workload.abandon_share", json(std::clamp(w.abandon_share, 0.0f, 1.0f)).dump()});
    o.push_back({"policy.faults.session_timeout", json(std::to_string(std::max(0.0f, w.session_timeout_s)) + "s").dump()});
  }
  json events = st.scenario_events;
  const auto& hosts = st.timeline.info().hosts;
  const auto name = [&](int i) { return i >= 0 && i < static_cast<int>(hosts.size()) ? hosts[static_cast<std::size_t>(i)].name : std::string(); };
  const auto secs = [](float s) { return json(std::to_string(s) + "s"); };
  if (w.change_bandwidth && !name(w.link_node).empty())
    events.push_back({{"at", secs(w.link_at_s)}, {"action", "set_bandwidth"}, {"node", name(w.link_node)},
                      {"bandwidth", std::to_string(w.link_bandwidth_mbps) + "Mbps"}});
  if (w.change_latency && !name(w.link_node).empty())
    events.push_back({{"at", secs(w.link_at_s)}, {"action", "set_latency"}, {"node", name(w.link_node)},
                      {"latency", std::to_string(w.link_latency_ms) + "ms"}});
  if (w.fail && !name(w.fail_node).empty()) {
    events.push_back({{"at", secs(w.down_at_s)}, {"action", "node_down"}, {"node", name(w.fail_node)}});
    if (w.come_back && w.up_at_s > w.down_at_s)
      events.push_back({{"at", secs(w.up_at_s)}, {"action", "node_up"}, {"node", name(w.fail_node)}});
  }
  // The loader applies events by time (stable), so appending keeps the scenario's own order.
  o.push_back({"events", events.dump()});
  return o;
}

}  // namespace swarmsim::gui
