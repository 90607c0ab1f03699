#pragma once
// swarmsim-gui's application state and panels (Dear ImGui, immediate mode).
//
// [SECTION] index
//   AppState           one plain struct: the run shown, playback, the map view, panel state
//   app.cpp            opening a scenario (live) or a run directory (replay), live polling,
//                      playback, what-if restarts
//   panels.cpp         toolbar, coverage, metrics, events / node inspector / what-if tabs
//   world_view.cpp     the world map (ImDrawList)
//   tree_view.cpp      a Fisher B-tree run's Tree tab (ImDrawList; geometry in tree_layout.hpp)
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gui/live_run.hpp"
#include "gui/run_loader.hpp"
#include "gui/swarm_state.hpp"
#include "gui/view_geometry.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::gui {

/// A finished or running run kept for comparison after a what-if restart.
struct PreviousRun {
  std::string label;
  Timeline timeline;
};

/// The what-if editor: changes applied to the scenario on the next restart.
struct WhatIfEdits {
  int router = 0;                 ///< 0 eq18, 1 shortest_path, 2 random
  float gamma = 1.0f, beta = -1.0f, alpha = -1.0f;
  int uptime_estimate = 0;        ///< policy.reputation.estimate: 0 declared_x_observed, 1 posterior
  float uptime_prior_s = 600.0f;  ///< policy.reputation.prior (s), posterior only
  float abandon_share = 0.0f;     ///< workload.abandon_share: users who leave mid-session (token sessions only)
  float session_timeout_s = 300.0f;  ///< policy.faults.session_timeout (s): how long servers keep a left session's caches
  int link_node = 0;              ///< host index for the link change
  float link_bandwidth_mbps = 100.0f;
  float link_latency_ms = 1.0f;
  float link_at_s = 0.0f;
  bool change_bandwidth = false, change_latency = false;
  int fail_node = 0;              ///< host index to take down: a server, or a client where sessions generate tokens
  float down_at_s = 10.0f, up_at_s = 20.0f;
  bool fail = false, come_back = true;
  std::vector<std::string> applied;  ///< descriptions of the changes of the current run
};

/// Which events the log shows.
struct EventLogFilter {
  bool show[kEventTypes] = {true, true, true, true, true, true, true, true, false, false, false, true,
                            true, true, true, true, true, true, false, false};  ///< by EventType (spans, steps, losses and KV changes hidden at first)
  char text[64] = "";
};

struct AppState {
  // ---- What is shown ----
  std::string input;                    ///< the SCENARIO.json or RUN_DIR given
  bool live = false;                    ///< a scenario run in a child process
  std::string scenario_path;            ///< for live runs and what-if restarts ("" when unknown)
  std::vector<sim::Override> overrides; ///< --set overrides of the current live run
  nlohmann::json scenario_events = nlohmann::json::array();  ///< the scenario's "events" (what-if adds to them)
  Timeline timeline;
  RunSummary summary;                   ///< metrics.json's figures of a replayed run (summary.present: false otherwise)
  std::vector<std::string> errors;      ///< shown in red in the window and printed on stderr
  std::vector<std::string> warnings;
  std::optional<PreviousRun> previous;

  // ---- Live run ----
  LiveRun child;
  std::optional<EventLineReader> reader;
  std::string program;                  ///< this executable, started with --emit-events

  // ---- Playback ----
  double time = 0.0;                    ///< simulated time shown (s)
  bool playing = true;
  float speed = 1.0f;                   ///< simulated seconds per wall second
  SwarmState snapshot;                  ///< state_at(time), cached
  double snapshot_time = -1.0;
  std::size_t snapshot_events = 0;

  // ---- Views ----
  MapView map;
  bool map_fitted = false;
  int link_color = 0;                   ///< 0: by latency, 1: by utilization
  bool show_links = true, show_traffic = true, show_labels = true;
  int selected_host = -1;
  EventLogFilter log_filter;
  int side_tab = 0;                     ///< set to select a tab programmatically (-1: leave it)
  float tree_highlight_s = 5.0f;        ///< the Tree tab highlights splits and merges this recent (simulated s)
  WhatIfEdits whatif;
  bool screenshot_mode = false;         ///< fixed layout, no interaction
};

/// Opens `path`: a run directory is replayed, a scenario file validated and started live.
/// Problems go to state.errors (never thrown). `program` is this executable for live runs.
void open_input(AppState& state, const std::string& path, const std::vector<sim::Override>& overrides,
                const std::string& program);
/// (Re)starts the live run of state.scenario_path with `overrides`; the current run becomes "previous"
/// when `keep_previous`.
void start_live(AppState& state, const std::vector<sim::Override>& overrides, bool keep_previous);
/// Reads what the live child wrote; advances playback by `wall_dt` seconds x speed.
void app_tick(AppState& state, double wall_dt);
/// Blocks until the live child finished (screenshot mode), reading all its events.
void finish_live(AppState& state);
/// Refreshes state.snapshot for state.time when needed.
void refresh_snapshot(AppState& state);
/// Seconds up to which the timeline is known (the live edge, or the run's end).
double known_end(const AppState& state);
/// Overrides the what-if editor turns into (router, eq. 18 exponents, added events).
std::vector<sim::Override> whatif_overrides(const AppState& state);

/// Draws every panel for a framebuffer of `width` x `height` pixels.
void draw_app(AppState& state, int width, int height);

// Panels (panels.cpp, world_view.cpp); each is one ImGui window at its PanelLayout rectangle.
void draw_toolbar(AppState& state, const PixelRect& r);
void draw_world_view(AppState& state, const PixelRect& r);
void draw_coverage_panel(AppState& state, const PixelRect& r);
void draw_metrics_panel(AppState& state, const PixelRect& r);
void draw_side_panel(AppState& state, const PixelRect& r);
/// The Tree tab's content, in the current window: the tree at state.time (tree_view.cpp).
void draw_tree_view(AppState& state);
/// Whether the run shown has a Fisher B-tree: its run_start says "tree": true, or a "tree" event was read.
bool has_tree(const AppState& state);
void draw_error_window(AppState& state, int width, int height);

}  // namespace swarmsim::gui
