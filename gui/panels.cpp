// The panels around the world map.
//
// [SECTION] index
//   helpers            HelpMarker, byte and time formatting, fixed windows
//   toolbar            play / pause / step, speed, timeline scrubber, status
//   coverage           blocks x servers grid, chains in flight (a tree run: Tree and Block coverage tabs)
//   metrics            throughput and latency over time, utilization, latency histogram
//   side               tabs: events (filtered log), node inspector, what-if, run
//   errors             the error window
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <imgui.h>

#include "gui/app.hpp"
#include "sim/units.hpp"

namespace swarmsim::gui {

// ---------------------------------------------------------------------------------------------
// [SECTION] helpers
// ---------------------------------------------------------------------------------------------

namespace {

void help_marker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

std::string bytes_str(double b) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", b, units[u]);
  return buf;
}

std::string rate_str(double Bps) {
  char buf[32];
  const double bits = Bps * 8;
  if (bits >= 1e9) std::snprintf(buf, sizeof buf, "%.2f Gbit/s", bits / 1e9);
  else if (bits >= 1e6) std::snprintf(buf, sizeof buf, "%.1f Mbit/s", bits / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f kbit/s", bits / 1e3);
  return buf;
}

bool begin_fixed(const char* name, const PixelRect& r, bool screenshot, ImGuiWindowFlags extra = 0) {
  ImGui::SetNextWindowPos(ImVec2(r.x, r.y), ImGuiCond_Always);
  ImGui::SetNextWindowSize(ImVec2(r.w, r.h), ImGuiCond_Always);
  (void)screenshot;
  return ImGui::Begin(name, nullptr,
                      ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                          ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus | extra);
}

std::string hop_text(const SwarmInfo& info, const ChainHop& h) {
  const std::string name = h.node >= 0 && h.node < static_cast<int>(info.hosts.size()) ? info.hosts[static_cast<std::size_t>(h.node)].name : "?";
  return name + "[" + std::to_string(h.blocks.start) + "-" + std::to_string(h.blocks.end - 1) + "]";
}

std::string event_text(const SwarmInfo& info, const SwarmEvent& e) {
  const auto name = [&](int i) {
    return i >= 0 && i < static_cast<int>(info.hosts.size()) ? info.hosts[static_cast<std::size_t>(i)].name : std::string("?");
  };
  char buf[160];
  switch (e.type) {
    case EventType::NodeJoin:
      std::snprintf(buf, sizeof buf, "%s serves blocks %d-%d (loaded in %.2f s)", name(e.node).c_str(), e.blocks.start,
                    e.blocks.end - 1, e.t - e.start);
      return buf;
    case EventType::NodeDown: return name(e.node) + (e.node >= info.n_servers ? " went DOWN: its sessions end with it" : " went DOWN");
    case EventType::NodeUp: return name(e.node) + (e.node >= info.n_servers ? " is back up" : " is back up (reloading)");
    case EventType::LinkChange:
      if (e.text == "set_bandwidth")
        return name(e.node) + (e.direction == 'u' ? " uplink" : e.direction == 'd' ? " downlink" : " links") + " -> " + rate_str(e.value);
      std::snprintf(buf, sizeof buf, "%.2f ms", e.value * 1e3);
      return (e.peer >= 0 ? name(e.node) + " <-> " + name(e.peer) + " latency -> " : name(e.node) + " access latency -> ") + buf;
    case EventType::SessionStart:
      return (info.request_based() ? "request " : "session ") + std::to_string(e.session) + " arrives at " + name(e.client);
    case EventType::ChainFormed: {
      std::string s = (info.request_based() ? "request " : "session ") + std::to_string(e.session) + " chain";
      if (e.attempt > 1) s += " (attempt " + std::to_string(e.attempt) + ")";
      s += ":";
      for (const ChainHop& h : e.hops) s += " " + hop_text(info, h);
      return s;
    }
    case EventType::SessionDone:
      if (info.request_based())
        return "request " + std::to_string(e.session) + " answered" +
               (e.decoded > 0 ? " (" + std::to_string(e.decoded) + (e.decoded > 1 ? " outputs" : " output") + " decoded)" : "");
      return "session " + std::to_string(e.session) + " done, " + std::to_string(e.tokens) + (info.training ? " tokens trained" : " tokens");
    case EventType::SessionFailed:
      if (e.abandoned) return "session " + std::to_string(e.session) + " " + e.text;  // "abandoned by its user before ..."
      if (e.client_lost) return "session " + std::to_string(e.session) + " lost: " + e.text;  // "its client fe-1 went down at ..."
      return "session " + std::to_string(e.session) + " FAILED: " + e.text;
    case EventType::Compute:
      std::snprintf(buf, sizeof buf, "%s %s %s s%d step %d (%.2f ms)", name(e.node).c_str(), e.text.c_str(),
                    e.blocks.empty() ? "" : (std::to_string(e.blocks.start) + "-" + std::to_string(e.blocks.end - 1)).c_str(),
                    e.session, e.step, (e.t - e.start) * 1e3);
      return buf;
    case EventType::Transfer:
      return name(e.node) + " -> " + name(e.peer) + " " + bytes_str(e.value) + " (s" + std::to_string(e.session) + ")";
    case EventType::Step:
      std::snprintf(buf, sizeof buf, "session %d step %d (%.1f ms)", e.session, e.step, e.value * 1e3);
      return buf;
    case EventType::RunEnd: return "run ends";
    case EventType::TransferRetry:
      return name(e.node) + " -> " + name(e.peer) + " transfer attempt " + std::to_string(e.attempt) + " failed (" + e.text + ")" +
             (e.given_up ? ", given up" : ", retrying") + " (s" + std::to_string(e.session) + ")";
    case EventType::SessionRecovered: {
      std::string s = "session " + std::to_string(e.session) + " recovered from " + name(e.node) + ":";
      for (const ChainHop& h : e.hops) s += " " + hop_text(info, h);
      return s;
    }
    case EventType::AdaptersMoved: {
      if (e.text == "synced") {
        std::snprintf(buf, sizeof buf, " (%.2f s, waiting included)", e.t - e.start);
        if (info.zero > 0)
          return "session " + std::to_string(e.session) + " took its job's mean gradient (ZeRO-" + std::to_string(info.zero) + ") after step " +
                 std::to_string(e.step) + ": " + bytes_str(e.value) + " of gradient and parameter shards sent" + buf;
        return "session " + std::to_string(e.session) + " averaged its adapters with its job after step " + std::to_string(e.step) + ": " +
               bytes_str(e.value) + " sent" + buf;
      }
      const std::string blocks = std::to_string(e.blocks.start) + "-" + std::to_string(e.blocks.end - 1);
      if (!e.restored)
        return name(e.node) + " saved session " + std::to_string(e.session) + "'s adapters of blocks " + blocks + " to the client (" +
               bytes_str(e.value) + ")";
      return name(e.node) + " restored session " + std::to_string(e.session) + "'s adapters of blocks " + blocks +
             (e.from_peer ? " from a peer replica (" + bytes_str(e.value) + ")"
              : e.value > 0 ? " from the client's checkpoint (" + bytes_str(e.value) + ")"
                            : " from scratch (no checkpoint)") +
             ", " +
             std::to_string(e.updates_lost) + (e.updates_lost == 1 ? " update lost" : " updates lost");
    }
    case EventType::Kv:
      return name(e.node) + " holds " + bytes_str(e.value) + " of KV caches" +
             (e.waiting > 0 ? ", " + std::to_string(e.waiting) + (e.waiting == 1 ? " session waits" : " sessions wait") + " for its memory" : "");
    case EventType::Loss:
      std::snprintf(buf, sizeof buf, "%.4f", e.value);
      return "session " + std::to_string(e.session) + " step " + std::to_string(e.step) + ": loss proxy at " + buf + " nats";
    case EventType::ServerBanned:
      return name(e.node) + " banned: a spot check of session " + std::to_string(e.session) + " step " + std::to_string(e.step) +
             (e.honest ? " outvoted it (it was honest: a cartel)" : " found its output wrong");
    case EventType::BlocksMoved:
      return name(e.node) + " moves from blocks " + std::to_string(e.blocks.start) + "-" + std::to_string(e.blocks.end - 1) +
             " to " + std::to_string(e.blocks_to.start) + "-" + std::to_string(e.blocks_to.end - 1);
    case EventType::Tree: {
      if (!e.tree) return "tree";
      const TreeChange& c = e.tree->change;
      std::string ids;
      for (int id : c.created) ids += (ids.empty() ? "#" : ", #") + std::to_string(id);
      const std::string size = " (" + std::to_string(e.tree->nodes.size()) + " nodes)";
      switch (c.what) {
        case TreeChangeKind::Planned: return "tree planned" + size;
        case TreeChangeKind::SplitStarted: return "tree node #" + std::to_string(c.node) + " splits: " + ids + " loading" + size;
        case TreeChangeKind::Split: return "tree node #" + std::to_string(c.node) + " split: " + ids + " serving" + size;
        case TreeChangeKind::Merge: return "tree leaves merged into #" + std::to_string(c.node) + size;
        case TreeChangeKind::Balance: return "tree measured (Fisher, load)" + size;
        case TreeChangeKind::SplitCancelled: return "tree split of #" + std::to_string(c.node) + " cancelled (a server failed)" + size;
        case TreeChangeKind::Failed: return "tree node #" + std::to_string(c.node) + " failed (its server is down)" + size;
        case TreeChangeKind::FailureDetected: return "tree node #" + std::to_string(c.node) + " known down: its parent answers for it" + size;
        case TreeChangeKind::Replaced: return "tree node #" + std::to_string(c.node) + " serves again on a spare" + size;
        case TreeChangeKind::FailbackLoading: return "tree node #" + std::to_string(c.node) + " loading on a server that came back" + size;
        case TreeChangeKind::Failback: return "tree node #" + std::to_string(c.node) + " moved back to a faster server" + size;
        case TreeChangeKind::FailbackDropped: return "tree node #" + std::to_string(c.node) + " failback dropped" + size;
      }
      return "tree";
    }
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// [SECTION] toolbar
// ---------------------------------------------------------------------------------------------

void draw_toolbar(AppState& st, const PixelRect& r) {
  begin_fixed("##toolbar", r, st.screenshot_mode, ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar);
  const double end = known_end(st);
  if (ImGui::Button(st.playing ? "Pause" : "Play ", ImVec2(56, 0))) {
    if (!st.playing && st.time >= end) st.time = 0.0;  // play again from the start
    st.playing = !st.playing;
  }
  ImGui::SameLine();
  if (ImGui::Button("Step")) {  // to the next swarm event (spans skipped)
    st.playing = false;
    const auto& ev = st.timeline.events();
    for (std::size_t i = st.timeline.count_until(st.time); i < ev.size(); ++i) {
      const EventType t = ev[i].type;
      if (t != EventType::Compute && t != EventType::Transfer && t != EventType::Step) {
        st.time = ev[i].t;
        break;
      }
    }
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("jump to the next swarm event (join, failure, session, chain)");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(150);
  ImGui::SliderFloat("speed", &st.speed, 0.1f, 1000.0f, "%.1fx", ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp);
  help_marker("Simulated seconds per wall-clock second, 0.1x to 1000x.");
  ImGui::SameLine();
  if (ImGui::Button("Fit map")) st.map_fitted = false;
  ImGui::SameLine();
  ImGui::SetNextItemWidth(110);
  ImGui::Combo("links", &st.link_color, "latency\0utilization\0");
  ImGui::SameLine();
  ImGui::Checkbox("traffic", &st.show_traffic);
  ImGui::SameLine();
  ImGui::Checkbox("labels", &st.show_labels);
  ImGui::SameLine();
  const SwarmInfo& info = st.timeline.info();
  if (st.live)
    ImGui::TextColored(st.child.running() ? ImVec4(0.4f, 1, 0.4f, 1) : ImVec4(0.7f, 0.7f, 0.7f, 1), "%s %s",
                       st.child.running() ? "LIVE (simulating)" : "live run finished:", info.scenario.c_str());
  else
    ImGui::Text("replay: %s", info.scenario.c_str());

  // Timeline scrubber.
  float t = static_cast<float>(st.time);
  ImGui::SetNextItemWidth(r.w - 260);
  char fmt[64];
  std::snprintf(fmt, sizeof fmt, "t = %%.3f s of %.3f s", end);
  if (ImGui::SliderFloat("##time", &t, 0.0f, static_cast<float>(std::max(end, 1e-6)), fmt)) {
    st.time = t;
    st.playing = false;
  }
  ImGui::SameLine();
  if (!st.errors.empty())
    ImGui::TextColored(ImVec4(1, 0.35f, 0.35f, 1), "%d error%s (see the error window)", static_cast<int>(st.errors.size()),
                       st.errors.size() > 1 ? "s" : "");
  else
    ImGui::Text("%zu events, %d servers, %d blocks", st.timeline.events().size(), info.n_servers, info.n_blocks);
  ImGui::End();
}

// ---------------------------------------------------------------------------------------------
// [SECTION] coverage
// ---------------------------------------------------------------------------------------------

namespace {

void coverage_contents(AppState& st, const PixelRect& r) {
  const SwarmInfo& info = st.timeline.info();
  const SwarmState& s = st.snapshot;
  const int S = info.n_servers, B = info.n_blocks;
  if (S == 0 || B == 0 || s.nodes.size() != info.hosts.size()) {
    ImGui::TextDisabled("no swarm loaded");
    return;
  }
  float label_w = 60;
  for (int i = 0; i < S; ++i) label_w = std::max(label_w, ImGui::CalcTextSize(info.hosts[static_cast<std::size_t>(i)].name.c_str()).x + 8);
  const float avail = ImGui::GetContentRegionAvail().x - label_w;
  const float cw = std::max(2.0f, std::floor(avail / B));
  const float ch = std::clamp(std::floor((r.h * 0.55f - 40) / static_cast<float>(S + 1)), 6.0f, 16.0f);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 o = ImGui::GetCursorScreenPos();
  // Replicas row: how many serving servers hold each block (red = uncovered; the clients' own
  // blocks under split learning in their colour).
  dl->AddText(ImVec2(o.x, o.y), IM_COL32(200, 200, 200, 255), "replicas");
  int uncovered = 0;
  for (int b = 0; b < B; ++b) {
    const int n = static_cast<int>(s.servers_of_block(b).size());
    const bool clients = b < info.client_blocks;
    uncovered += n == 0 && !clients;
    const ImU32 c = clients ? IM_COL32(200, 200, 200, 255)
                    : n == 0 ? IM_COL32(220, 40, 40, 255)
                    : n == 1 ? IM_COL32(200, 170, 40, 255)
                             : IM_COL32(60, 180, 80, 255);
    dl->AddRectFilled(ImVec2(o.x + label_w + b * cw, o.y + 1), ImVec2(o.x + label_w + (b + 1) * cw - 1, o.y + ch - 1), c);
  }
  for (int i = 0; i < S; ++i) {
    const NodeState& n = s.nodes[static_cast<std::size_t>(i)];
    const float y = o.y + (i + 1) * ch;
    dl->AddText(ImVec2(o.x, y), n.banned ? IM_COL32(200, 120, 255, 255) : n.up ? IM_COL32(220, 220, 220, 255) : IM_COL32(255, 90, 90, 255),
                info.hosts[static_cast<std::size_t>(i)].name.c_str());
    const ImU32 on = device_color(info.hosts[static_cast<std::size_t>(i)].device);
    for (int b = 0; b < B; ++b) {
      const bool has = n.joined && n.blocks.contains(b);
      const ImU32 c = !has ? IM_COL32(40, 44, 52, 255) : n.serving ? on : n.up ? (on & 0x00FFFFFF) | 0x60000000 : IM_COL32(110, 60, 60, 255);
      dl->AddRectFilled(ImVec2(o.x + label_w + b * cw, y + 1), ImVec2(o.x + label_w + (b + 1) * cw - 1, y + ch - 1), c);
    }
  }
  ImGui::InvisibleButton("grid", ImVec2(label_w + B * cw, (S + 1) * ch));
  if (ImGui::IsItemHovered() && !st.screenshot_mode) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const int b = static_cast<int>((m.x - o.x - label_w) / cw), row = static_cast<int>((m.y - o.y) / ch) - 1;
    if (b >= 0 && b < B && row >= 0 && row < S) {
      const NodeState& n = s.nodes[static_cast<std::size_t>(row)];
      ImGui::SetTooltip("block %d on %s: %s", b, info.hosts[static_cast<std::size_t>(row)].name.c_str(),
                        !(n.joined && n.blocks.contains(b)) ? "not held" : n.serving ? "serving" : n.up ? "loading" : "node down");
    } else if (b >= 0 && b < B && row == -1) {
      if (b < info.client_blocks)
        ImGui::SetTooltip("block %d: run by the clients themselves (split learning)", b);
      else
        ImGui::SetTooltip("block %d: %zu serving replicas", b, s.servers_of_block(b).size());
    }
  }
  if (info.coded_models > 0) {  // erasure-coded inference: members, and coded ones that stand in for missing models
    int models_down = 0, coded_serving = 0;
    for (int b = 0; b < info.coded_models; ++b) models_down += s.servers_of_block(b).empty();
    for (int k = 0; k < info.coded_parity; ++k) coded_serving += !s.servers_of_block(info.coded_models + k).empty();
    ImGui::Text("%d of %d members serving", B - uncovered, B);
    if (models_down > 0) {
      ImGui::SameLine();
      if (coded_serving >= models_down && models_down == 1)
        ImGui::TextColored(ImVec4(1, 0.8f, 0.3f, 1), "(a model is down: requests decode its output from the coded one%s)",
                           coded_serving > 1 ? "s" : "");
      else if (coded_serving >= models_down)
        ImGui::TextColored(ImVec4(1, 0.8f, 0.3f, 1), "(%d models are down: requests decode their outputs from the coded ones)", models_down);
      else
        ImGui::TextColored(ImVec4(1, 0.3f, 0.3f, 1), "(%d model%s down: requests wait for %s)", models_down, models_down > 1 ? "s" : "",
                           models_down > 1 ? "them" : "it");
    }
  } else if (info.client_blocks > 0) {
    ImGui::Text("%d of %d blocks covered, %d run by the clients", B - info.client_blocks - uncovered, B - info.client_blocks,
                info.client_blocks);
  } else {
    ImGui::Text("%d of %d blocks covered", B - uncovered, B);
  }
  if (uncovered && info.coded_models == 0) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1, 0.3f, 0.3f, 1), "(%d uncovered: no chain can form)", uncovered);
  }
  if (s.unserved) {  // what metrics.json's resilience.unserved_blocks will say, up to T
    const std::string line = unserved_text(s);
    if (s.unserved->unserved_s(s.time) > 0)
      ImGui::TextColored(ImVec4(1, 0.55f, 0.4f, 1), "%s", line.c_str());
    else
      ImGui::TextDisabled("%s", line.c_str());
  }
  ImGui::Separator();
  const bool requests = info.request_based();
  ImGui::Text("%s in flight: %zu", requests ? "Requests" : "Sessions", s.sessions.size());
  ImGui::BeginChild("chains", ImVec2(0, 0), false);
  for (const auto& [k, f] : s.sessions) {
    std::string line = "s" + std::to_string(k) + ":";
    if (requests && f.chain.empty()) {  // pipelines, trees and coded runs route no chain: a request waits for its answer
      char buf[96];
      const bool known = f.client >= 0 && static_cast<std::size_t>(f.client) < info.hosts.size();
      std::snprintf(buf, sizeof buf, "request %d: sent by %s %.1f ms ago", k,
                    known ? info.hosts[static_cast<std::size_t>(f.client)].name.c_str() : "a client", (s.time - f.started) * 1e3);
      line = buf;
    } else if (f.chain.empty()) {
      line += " waiting for a chain";
    } else {
      for (const ChainHop& h : f.chain) line += " " + hop_text(info, h);
      line += "  step " + std::to_string(f.steps_done);
    }
    ImGui::TextUnformatted(line.c_str());
  }
  ImGui::EndChild();
}

}  // namespace

bool has_tree(const AppState& st) { return st.timeline.info().tree || !st.timeline.latest().tree.nodes.empty(); }

void draw_coverage_panel(AppState& st, const PixelRect& r) {
  // A Fisher B-tree run shows its tree first; its blocks are the tree's nodes.
  if (!has_tree(st)) {
    // A coded run's blocks are its members: the task models, then the coded model.
    begin_fixed(st.timeline.info().coded_models > 0 ? "Coded inference: members###bottom" : "Block coverage###bottom", r, st.screenshot_mode);
    coverage_contents(st, r);
    ImGui::End();
    return;
  }
  begin_fixed("Fisher B-tree###bottom", r, st.screenshot_mode);
  if (ImGui::BeginTabBar("bottom_tabs")) {
    if (ImGui::BeginTabItem("Tree")) {
      draw_tree_view(st);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("Block coverage")) {
      coverage_contents(st, r);
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
  ImGui::End();
}

// ---------------------------------------------------------------------------------------------
// [SECTION] metrics
// ---------------------------------------------------------------------------------------------

namespace {

void series_plots(const Timeline& tl, double T, const char* id, float width) {
  const int bins = 120;
  TimeSeries tp = tl.throughput(T, bins), lat = tl.token_latency(T, bins);
  // Token steps are discrete: average throughput over 5 bins, and bridge latency gaps of up to 3
  // bins (bins between two steps of a session hold no step of their own).
  std::vector<float> smooth(tp.values.size(), 0.0f);
  for (std::size_t i = 0; i < tp.values.size(); ++i) {
    float sum = 0;
    int n = 0;
    for (std::size_t j = i >= 4 ? i - 4 : 0; j <= i; ++j, ++n) sum += tp.values[j];
    smooth[i] = sum / static_cast<float>(n);
  }
  tp.values = smooth;
  for (std::size_t i = 1; i < lat.values.size(); ++i) {
    if (lat.values[i] != 0.0f || lat.values[i - 1] == 0.0f) continue;
    std::size_t j = i;
    while (j < lat.values.size() && j < i + 3 && lat.values[j] == 0.0f) ++j;
    if (j < lat.values.size() && lat.values[j] != 0.0f)
      for (std::size_t k = i; k < j; ++k) lat.values[k] = lat.values[i - 1];
  }
  float tp_max = 0, lat_max = 0;
  for (float x : tp.values) tp_max = std::max(tp_max, x);
  for (float x : lat.values) lat_max = std::max(lat_max, x);
  char overlay[96];
  const bool requests = tl.info().request_based();
  const bool training = tl.info().training;
  std::snprintf(overlay, sizeof overlay, "%s (max %.1f, %.2f s window), 0..%.1f s",
                requests ? "requests/s" : training ? "trained tokens/s" : "tokens/s", tp_max, 5 * tp.dt, T);
  ImGui::PushID(id);
  ImGui::PlotLines("##tp", tp.values.data(), static_cast<int>(tp.values.size()), 0, overlay, 0.0f, std::max(1e-6f, tp_max * 1.1f),
                   ImVec2(width, 62));
  std::snprintf(overlay, sizeof overlay, "%s (max %.1f ms)", requests ? "request latency" : training ? "step time" : "per-token latency",
                lat_max * 1e3);
  ImGui::PlotLines("##lat", lat.values.data(), static_cast<int>(lat.values.size()), 0, overlay, 0.0f,
                   std::max(1e-6f, lat_max * 1.1f), ImVec2(width, 62));
  if (training && tl.has_loss()) {  // workload.fine_tuning.loss: the proxy's step losses over time
    TimeSeries loss = tl.training_loss(T, bins);
    for (std::size_t i = 1; i < loss.values.size(); ++i)  // bins between two steps hold none: carry the last
      if (loss.values[i] == 0.0f) loss.values[i] = loss.values[i - 1];
    float loss_max = 0;
    for (float x : loss.values) loss_max = std::max(loss_max, x);
    std::snprintf(overlay, sizeof overlay, "loss proxy, nats (max %.3f)", loss_max);
    ImGui::PlotLines("##loss", loss.values.data(), static_cast<int>(loss.values.size()), 0, overlay, 0.0f, std::max(1e-6f, loss_max * 1.1f),
                     ImVec2(width, 62));
  }
  if (tl.info().coded_models > 0 && tl.info().coded_parity > 0) {  // how often coded models stood in for missing outputs
    const TimeSeries dec = tl.decoded_share(T, bins);
    float dec_max = 0;
    for (float x : dec.values) dec_max = std::max(dec_max, x);
    std::snprintf(overlay, sizeof overlay, "requests decoded (max %.0f%%)", 100.0f * dec_max);
    ImGui::PlotHistogram("##dec", dec.values.data(), static_cast<int>(dec.values.size()), 0, overlay, 0.0f, 1.0f, ImVec2(width, 40));
  }
  ImGui::PopID();
}

/// "3 abandoned, 5 lost with their clients, ": the sessions that ended unclosed, apart from failures.
std::string unclosed_text(const SwarmState& s) {
  std::string out;
  if (s.sessions_abandoned > 0) out += std::to_string(s.sessions_abandoned) + " abandoned, ";
  if (s.sessions_lost_with_client > 0) out += std::to_string(s.sessions_lost_with_client) + " lost with their clients, ";
  return out;
}

}  // namespace

void draw_metrics_panel(AppState& st, const PixelRect& r) {
  begin_fixed("Metrics", r, st.screenshot_mode);
  const SwarmInfo& info = st.timeline.info();
  const SwarmState& s = st.snapshot;
  if (info.request_based())  // a pipeline's, a tree's or a coded run's sessions are requests, with no tokens
    ImGui::Text("requests %d sent, %d answered%s, %d failed, %zu in flight | %ld messages, %s moved", s.sessions_started, s.sessions_done,
                info.coded_parity > 0 ? (" (" + std::to_string(s.sessions_decoded) + " decoded)").c_str() : "", s.sessions_failed,
                s.sessions.size(), s.hops, bytes_str(s.bytes_moved).c_str());
  else if (info.training)  // fine-tuning: steps train on tokens and generate none
    ImGui::Text("sessions %d started, %d done, %d failed, %zu in flight | %.0f tokens trained, %ld hops, %s moved | adapters %d saved, "
                "%d restored, %d updates lost, %d averaged",
                s.sessions_started, s.sessions_done, s.sessions_failed, s.sessions.size(), s.tokens, s.hops, bytes_str(s.bytes_moved).c_str(),
                s.adapters_saved, s.adapters_restored, s.updates_lost, s.adapter_syncs);
  if (info.training && !s.loss.empty()) {  // workload.fine_tuning.loss
    double sum = 0.0;
    for (const auto& [session, loss] : s.loss) sum += loss;
    ImGui::Text("loss proxy: %.4f nats, the mean of %zu sessions' last step losses", sum / static_cast<double>(s.loss.size()), s.loss.size());
  }
  else if (s.sessions_abandoned > 0 || s.sessions_lost_with_client > 0)  // users who left and crashed clients count apart from failures
    ImGui::Text("sessions %d started, %d done, %d failed, %s%zu in flight | %.0f tokens, %ld hops, %s moved", s.sessions_started,
                s.sessions_done, s.sessions_failed, unclosed_text(s).c_str(), s.sessions.size(), s.tokens, s.hops,
                bytes_str(s.bytes_moved).c_str());
  else
    ImGui::Text("sessions %d started, %d done, %d failed, %zu in flight | %.0f tokens, %ld hops, %s moved", s.sessions_started,
                s.sessions_done, s.sessions_failed, s.sessions.size(), s.tokens, s.hops, bytes_str(s.bytes_moved).c_str());
  const float w = ImGui::GetContentRegionAvail().x;
  if (st.previous) {
    // The previous run's curves next to this run's, each over its own time.
    if (ImGui::BeginTable("compare", 2, ImGuiTableFlags_SizingStretchSame)) {
      ImGui::TableNextColumn();
      ImGui::TextColored(ImVec4(0.5f, 1, 0.5f, 1), "this run%s", st.whatif.applied.empty() ? "" : " (what-if)");
      series_plots(st.timeline, st.time, "now", ImGui::GetContentRegionAvail().x);
      ImGui::TableNextColumn();
      ImGui::TextColored(ImVec4(0.8f, 0.8f, 0.8f, 1), "%s", st.previous->label.c_str());
      series_plots(st.previous->timeline, std::min(st.time, st.previous->timeline.end_time()), "prev",
                   ImGui::GetContentRegionAvail().x);
      ImGui::EndTable();
    }
  } else {
    series_plots(st.timeline, st.time, "now", w);
  }

  // Per-node utilization: device-busy time / elapsed time.
  const int S = info.n_servers;
  if (S > 0 && s.nodes.size() == info.hosts.size()) {
    std::vector<float> util(static_cast<std::size_t>(S));
    for (int i = 0; i < S; ++i) util[static_cast<std::size_t>(i)] = static_cast<float>(s.nodes[static_cast<std::size_t>(i)].busy_seconds / std::max(1e-9, s.time));
    const float umax = std::max(0.01f, *std::max_element(util.begin(), util.end()));
    char overlay[64];
    std::snprintf(overlay, sizeof overlay, "utilization per server (max %.1f%%)", umax * 100);
    ImGui::PlotHistogram("##util", util.data(), S, 0, overlay, 0.0f, umax * 1.1f, ImVec2(w * 0.5f - 4, 62));
    if (ImGui::IsItemHovered()) {
      const float f = (ImGui::GetIO().MousePos.x - ImGui::GetItemRectMin().x) / std::max(1.0f, ImGui::GetItemRectSize().x);
      const int i = std::clamp(static_cast<int>(f * S), 0, S - 1);
      ImGui::SetTooltip("%s: %.2f%% busy", info.hosts[static_cast<std::size_t>(i)].name.c_str(), util[static_cast<std::size_t>(i)] * 100);
    }
    ImGui::SameLine();
    const LatencyBins& h = s.per_token.total ? s.per_token : s.ttft;
    std::snprintf(overlay, sizeof overlay, "%s latency, 1 ms..100 s (log bins, n=%llu)", s.per_token.total ? "per-token" : "TTFT",
                  static_cast<unsigned long long>(h.total));
    ImGui::PlotHistogram("##hist", h.counts.data(), LatencyBins::kBins, 0, overlay, 0.0f, FLT_MAX, ImVec2(-1, 62));
    if (ImGui::IsItemHovered()) {
      const float f = (ImGui::GetIO().MousePos.x - ImGui::GetItemRectMin().x) / std::max(1.0f, ImGui::GetItemRectSize().x);
      const int b = std::clamp(static_cast<int>(f * LatencyBins::kBins), 0, LatencyBins::kBins - 1);
      ImGui::SetTooltip("%.1f - %.1f ms: %.0f", LatencyBins::edge(b) * 1e3, LatencyBins::edge(b + 1) * 1e3, h.counts[static_cast<std::size_t>(b)]);
    }
    if (ImGui::BeginTable("nodes", 4, ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingStretchProp)) {
      ImGui::TableSetupScrollFreeze(0, 1);
      ImGui::TableSetupColumn("server");
      ImGui::TableSetupColumn("busy");
      ImGui::TableSetupColumn("in flight");
      ImGui::TableSetupColumn("sent");
      ImGui::TableHeadersRow();
      for (int i = 0; i < S; ++i) {
        const NodeState& n = s.nodes[static_cast<std::size_t>(i)];
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        if (ImGui::Selectable(info.hosts[static_cast<std::size_t>(i)].name.c_str(), st.selected_host == i, ImGuiSelectableFlags_SpanAllColumns)) {
          st.selected_host = i;
          st.side_tab = 1;
        }
        ImGui::TableNextColumn();
        char pct[16];
        std::snprintf(pct, sizeof pct, "%.1f%%", util[static_cast<std::size_t>(i)] * 100);
        ImGui::ProgressBar(util[static_cast<std::size_t>(i)] / umax, ImVec2(-1, 0), pct);
        ImGui::TableNextColumn();
        ImGui::Text("%d", n.sessions_in_flight);
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(bytes_str(n.bytes_sent).c_str());
      }
      ImGui::EndTable();
    }
  }
  ImGui::End();
}

// ---------------------------------------------------------------------------------------------
// [SECTION] side: events, node inspector, what-if, run
// ---------------------------------------------------------------------------------------------

namespace {

void events_tab(AppState& st) {
  EventLogFilter& f = st.log_filter;
  static const char* names[] = {"join", "down", "up", "link", "start", "chain", "done", "failed", "compute", "transfer",
                                "step", "end", "retry", "recovered", "moved", "tree", "banned", "adapters", "loss", "kv"};
  static_assert(std::size(names) == kEventTypes, "one filter name per EventType");
  const ImGuiStyle& style = ImGui::GetStyle();
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  for (int i = 0; i < kEventTypes; ++i) {  // as many a row as fit
    const float w = ImGui::GetFrameHeight() + style.ItemInnerSpacing.x + ImGui::CalcTextSize(names[i]).x;
    if (i > 0 && ImGui::GetItemRectMax().x + style.ItemSpacing.x + w <= right) ImGui::SameLine();
    ImGui::Checkbox(names[i], &f.show[i]);
  }
  ImGui::SetNextItemWidth(-1);
  ImGui::InputTextWithHint("##filter", "text filter (node name, session...)", f.text, sizeof f.text);
  const SwarmInfo& info = st.timeline.info();
  const auto& ev = st.timeline.events();
  const std::size_t n = st.timeline.count_until(st.time);
  // Newest first; only events up to the time shown.
  std::vector<std::size_t> rows;
  const std::string needle = f.text;
  for (std::size_t i = n; i-- > 0 && rows.size() < 20000;) {
    if (!f.show[static_cast<int>(ev[i].type)]) continue;
    if (!needle.empty() && event_text(info, ev[i]).find(needle) == std::string::npos) continue;
    rows.push_back(i);
  }
  ImGui::BeginChild("log", ImVec2(0, 0), true);
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(rows.size()));
  while (clipper.Step())
    for (int k = clipper.DisplayStart; k < clipper.DisplayEnd; ++k) {
      const SwarmEvent& e = ev[rows[static_cast<std::size_t>(k)]];
      const bool bad = e.type == EventType::NodeDown || (e.type == EventType::SessionFailed && !e.abandoned && !e.client_lost) ||
                       e.type == EventType::TransferRetry;
      ImGui::TextColored(bad ? ImVec4(1, 0.45f, 0.45f, 1) : ImVec4(0.85f, 0.85f, 0.85f, 1), "%10.4f  %s", e.t,
                         event_text(info, e).c_str());
    }
  ImGui::EndChild();
}

void inspector_tab(AppState& st) {
  const SwarmInfo& info = st.timeline.info();
  const SwarmState& s = st.snapshot;
  if (st.selected_host < 0 || st.selected_host >= static_cast<int>(info.hosts.size()) || s.nodes.size() != info.hosts.size()) {
    ImGui::TextDisabled("click a node on the map (or a row of the utilization table)");
    return;
  }
  const int i = st.selected_host;
  const HostInfo& h = info.hosts[static_cast<std::size_t>(i)];
  const NodeState& n = s.nodes[static_cast<std::size_t>(i)];
  ImGui::Text("%s  (%s, %s)", h.name.c_str(), h.is_server ? "server" : "client", h.device.c_str());
  if (h.location) ImGui::Text("location %.3f, %.3f", h.location->lat_deg, h.location->lon_deg);
  if (h.memory_bytes > 0) ImGui::Text("device memory %s", bytes_str(h.memory_bytes).c_str());
  ImGui::Text("links: up %s, down %s", rate_str(n.uplink_Bps).c_str(), rate_str(n.downlink_Bps).c_str());
  if (n.access_latency_override_s >= 0) ImGui::Text("access latency set to %.2f ms", n.access_latency_override_s * 1e3);
  ImGui::Separator();
  if (h.is_server) {
    ImGui::TextColored(n.up ? ImVec4(0.5f, 1, 0.5f, 1) : ImVec4(1, 0.4f, 0.4f, 1), "%s", !n.up ? "DOWN" : n.serving ? "up, serving" : n.joined ? "up, reloading its blocks" : "up, loading its blocks");
    ImGui::SameLine();
    ImGui::Text("since %.3f s", n.serving ? n.serving_since : n.state_since);
    if (n.joined) ImGui::Text("blocks %d-%d (%d blocks)", n.blocks.start, n.blocks.end - 1, n.blocks.size());
    ImGui::Text("serving time %.2f s of %.2f s (%.1f%%)", s.up_seconds(i), s.time, 100.0 * s.up_seconds(i) / std::max(1e-9, s.time));
    ImGui::Text("failures so far: %d", n.failures);
    ImGui::Text("chains through it: %d so far, %d in flight", n.chains, n.sessions_in_flight);
    std::string sess;
    for (const auto& [k, f] : s.sessions)
      for (const ChainHop& hop : f.chain)
        if (hop.node == i) sess += (sess.empty() ? "" : ", ") + std::to_string(k);
    if (!sess.empty()) ImGui::TextWrapped("sessions in flight: %s", sess.c_str());
    ImGui::Text("block-steps executed: %ld", n.block_steps);
  }
  ImGui::Text("device busy %.3f s (load %.2f%%)", n.busy_seconds, 100.0 * n.busy_seconds / std::max(1e-9, s.time));
  ImGui::Text("sent %s, received %s", bytes_str(n.bytes_sent).c_str(), bytes_str(n.bytes_received).c_str());
  // KV caches over time, from the run's "kv" events (a client's: of its own blocks, split learning).
  if ((h.is_server && st.timeline.has_kv()) || st.timeline.has_kv(i)) {
    ImGui::Separator();
    ImGui::Text("KV caches%s: %s now, %s at most so far", h.is_server ? "" : " of its blocks", bytes_str(n.kv_bytes).c_str(),
                bytes_str(n.kv_peak_bytes).c_str());
    if (!h.is_server) ImGui::Text("sessions waiting for its memory: %d", n.memory_waiting);
    const TimeSeries kv = st.timeline.kv_use(i, s.time, 120);
    const float top = std::max(1.0f, *std::max_element(kv.values.begin(), kv.values.end()));
    char overlay[96];
    std::snprintf(overlay, sizeof overlay, "KV held (max %s), 0..%.1f s", bytes_str(top).c_str(), s.time);
    ImGui::PlotLines("##kv", kv.values.data(), static_cast<int>(kv.values.size()), 0, overlay, 0.0f, top * 1.1f,
                     ImVec2(ImGui::GetContentRegionAvail().x, 60));  // PlotLines takes no negative width
    if (h.memory_bytes > 0) {
      char o[48];
      std::snprintf(o, sizeof o, "KV now %.1f%% of device memory", 100.0 * n.kv_bytes / h.memory_bytes);
      ImGui::ProgressBar(static_cast<float>(n.kv_bytes / h.memory_bytes), ImVec2(-1, 0), o);
    }
  }
  // Weights and memory peaks exist only at the end of a run (metrics.json).
  if (st.summary.present && h.is_server && i < static_cast<int>(st.summary.nodes.size())) {
    const RunSummary::Node& m = st.summary.nodes[static_cast<std::size_t>(i)];
    ImGui::Separator();
    ImGui::TextDisabled("end of run (metrics.json)");
    const double weights = std::isfinite(m.weights_bytes) ? m.weights_bytes : 0.0;
    const double kv = std::isfinite(m.kv_peak_bytes) ? m.kv_peak_bytes : 0.0;
    const bool memory = std::isfinite(m.weights_bytes) || std::isfinite(m.kv_peak_bytes);  // a request run has neither
    if (memory) ImGui::Text("weights %s, KV peak %s", bytes_str(weights).c_str(), bytes_str(kv).c_str());
    if (memory && h.memory_bytes > 0) {
      char o[48];
      std::snprintf(o, sizeof o, "memory peak %.1f%%", 100.0 * (weights + kv) / h.memory_bytes);
      ImGui::ProgressBar(static_cast<float>((weights + kv) / h.memory_bytes), ImVec2(-1, 0), o);
    }
    if (std::isfinite(m.utilization)) ImGui::Text("utilization %.2f%% (device seconds / run time)", 100.0 * m.utilization);
    if (std::isfinite(m.energy_joules)) ImGui::Text("energy %s over the serving window", sim::format_energy(m.energy_joules).c_str());
  }
}

void whatif_tab(AppState& st) {
  WhatIfEdits& w = st.whatif;
  if (st.scenario_path.empty()) {
    ImGui::TextWrapped("What-if restarts need the scenario: open SCENARIO.json (or a run directory holding scenario.json).");
    return;
  }
  const SwarmInfo& info = st.timeline.info();
  ImGui::SetNextItemWidth(160);
  ImGui::Combo("router", &w.router, "eq18\0shortest_path\0random\0");
  help_marker("eq18: seed 002's greedy recursive selection (eq. 2 + 18); shortest_path: Petals' Dijkstra; random: uniform.");
  ImGui::SetNextItemWidth(160);
  ImGui::SliderFloat("gamma", &w.gamma, -4.0f, 4.0f, "%.2f");
  help_marker("eq. 18 exponent of the transfer term.");
  ImGui::SetNextItemWidth(160);
  ImGui::SliderFloat("beta", &w.beta, -4.0f, 4.0f, "%.2f");
  help_marker("eq. 18 exponent of the GPU availability / load ratio.");
  ImGui::SetNextItemWidth(160);
  ImGui::SliderFloat("alpha", &w.alpha, -4.0f, 4.0f, "%.2f");
  help_marker("eq. 18 exponent of the reliability term.");
  ImGui::SetNextItemWidth(160);
  ImGui::Combo("uptime estimate", &w.uptime_estimate, "declared x observed\0posterior\0");
  help_marker("How routers estimate a server's uptime for eq. 18's reliability term: the declared uptime times the share "
              "of time seen up, or (declared x prior + time up) / (prior + time since joining).");
  if (w.uptime_estimate == 1) {
    ImGui::SetNextItemWidth(160);
    ImGui::DragFloat("prior (s)", &w.uptime_prior_s, 5.0f, 0.0f, 86400.0f, "%.0f");
    help_marker("Seconds of watching the declared uptime counts as (0: the observed share alone).");
  }
  if (!info.request_based() && !info.training) {
    ImGui::Separator();
    ImGui::TextDisabled("users");
    ImGui::SetNextItemWidth(160);
    ImGui::SliderFloat("leave mid-session", &w.abandon_share, 0.0f, 1.0f, "%.2f");
    help_marker("workload.abandon_share: the share of sessions whose user leaves before the last token without closing it.");
    ImGui::SetNextItemWidth(160);
    ImGui::DragFloat("session timeout (s)", &w.session_timeout_s, 5.0f, 0.0f, 86400.0f, "%.0f");
    help_marker("policy.faults.session_timeout: how long servers keep a left session's KV caches (Petals' chat client: 300 s).");
  }
  const auto host_combo = [&](const char* label, int* index, bool servers_only) {
    const int n = servers_only ? info.n_servers : static_cast<int>(info.hosts.size());
    if (n == 0) return;
    *index = std::clamp(*index, 0, n - 1);
    ImGui::SetNextItemWidth(160);
    if (ImGui::BeginCombo(label, info.hosts[static_cast<std::size_t>(*index)].name.c_str())) {
      for (int i = 0; i < n; ++i)
        if (ImGui::Selectable(info.hosts[static_cast<std::size_t>(i)].name.c_str(), i == *index)) *index = i;
      ImGui::EndCombo();
    }
  };
  ImGui::Separator();
  ImGui::TextDisabled("link");
  host_combo("host##link", &w.link_node, false);
  ImGui::Checkbox("bandwidth", &w.change_bandwidth);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120);
  ImGui::DragFloat("Mbit/s", &w.link_bandwidth_mbps, 1.0f, 0.1f, 100000.0f, "%.1f", ImGuiSliderFlags_Logarithmic);
  ImGui::Checkbox("access latency", &w.change_latency);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120);
  ImGui::DragFloat("ms", &w.link_latency_ms, 0.1f, 0.0f, 1000.0f, "%.2f");
  ImGui::SetNextItemWidth(120);
  ImGui::DragFloat("from (s)##link", &w.link_at_s, 0.5f, 0.0f, 1e6f, "%.1f");
  ImGui::Separator();
  ImGui::TextDisabled("failure");
  ImGui::Checkbox("take down", &w.fail);
  ImGui::SameLine();
  host_combo("##fail", &w.fail_node, info.request_based() || info.training);  // a client, where sessions generate tokens
  ImGui::SetNextItemWidth(100);
  ImGui::DragFloat("down at (s)", &w.down_at_s, 0.5f, 0.0f, 1e6f, "%.1f");
  ImGui::Checkbox("back up at (s)", &w.come_back);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(100);
  ImGui::DragFloat("##up", &w.up_at_s, 0.5f, 0.0f, 1e6f, "%.1f");
  ImGui::Spacing();
  if (ImGui::Button("Restart live run with these changes")) {
    w.applied.clear();
    static const char* routers[] = {"eq18", "shortest_path", "random"};
    char buf[160];
    std::snprintf(buf, sizeof buf, "router %s, gamma %.2f, beta %.2f, alpha %.2f", routers[w.router], w.gamma, w.beta, w.alpha);
    w.applied.push_back(buf);
    if (w.uptime_estimate == 1) {
      std::snprintf(buf, sizeof buf, "uptime: posterior, prior %.0f s", w.uptime_prior_s);
      w.applied.push_back(buf);
    }
    if (w.abandon_share > 0 && !info.request_based() && !info.training) {
      std::snprintf(buf, sizeof buf, "%.0f%% of users leave; caches kept %.0f s", 100.0 * w.abandon_share, w.session_timeout_s);
      w.applied.push_back(buf);
    }
    if (w.fail) w.applied.push_back("node down: " + info.hosts[static_cast<std::size_t>(w.fail_node)].name);
    const std::vector<sim::Override> o = whatif_overrides(st);
    st.errors.clear();
    st.live = true;
    start_live(st, o, true);
  }
  help_marker("Runs the scenario again in a fresh process with these overrides; the current run's curves stay "
              "in the metrics panel for comparison.");
  for (const std::string& a : w.applied) ImGui::BulletText("%s", a.c_str());
}

void run_tab(AppState& st) {
  const SwarmInfo& info = st.timeline.info();
  ImGui::Text("input: %s", st.input.c_str());
  ImGui::Text("scenario %s, model %s, seed %llu", info.scenario.c_str(), info.model.c_str(), static_cast<unsigned long long>(info.seed));
  for (const std::string& wmsg : st.warnings) ImGui::TextColored(ImVec4(1, 0.8f, 0.3f, 1), "%s", wmsg.c_str());
  if (st.summary.present) {
    const RunSummary& m = st.summary;
    ImGui::Separator();
    ImGui::TextDisabled("metrics.json");
    ImGui::Text("router %s, network %s, simulated %.3f s", m.router.c_str(), m.network_model.c_str(), m.simulated_time_s);
    if (std::isfinite(m.tokens_per_s)) ImGui::Text("tokens/s %.3f", m.tokens_per_s);
    if (const RunSummary::Energy& e = m.energy; std::isfinite(e.joules) && e.window_s > 0) {
      ImGui::Text("energy %s over %.1f s, %s mean, %.0f%% of it idle draw", sim::format_energy(e.joules).c_str(), e.window_s,
                  sim::format_power(e.mean_power_w).c_str(), 100.0 * e.idle_share);
      if (std::isfinite(e.joules_per_token)) ImGui::Text("  %s per token", sim::format_energy(e.joules_per_token).c_str());
      if (std::isfinite(e.joules_per_request)) ImGui::Text("  %s per request", sim::format_energy(e.joules_per_request).c_str());
    }
    if (const RunSummary::Cost& c = m.cost; !c.currency.empty() && std::isfinite(c.total)) {
      ImGui::Text("cost %s %.4g", c.currency.c_str(), c.total);
      if (std::isfinite(c.per_million_tokens)) ImGui::Text("  %s %.4g per million tokens", c.currency.c_str(), c.per_million_tokens);
      if (std::isfinite(c.per_thousand_requests)) ImGui::Text("  %s %.4g per thousand requests", c.currency.c_str(), c.per_thousand_requests);
    }
    for (const RunSummary::Latency& l : m.latency)
      ImGui::Text("%s: p50 %.1f ms, p99 %.1f ms", l.name.c_str(), l.p50_s * 1e3, l.p99_s * 1e3);
    if (m.token_latency > 0) {
      ImGui::Text("a decode step, %.1f ms on average:", m.token_latency * 1e3);
      for (const auto& [name, seconds] : m.token_parts)
        if (seconds >= 5e-4 * m.token_latency) {
          char label[96];
          std::snprintf(label, sizeof label, "%s %.1f ms", name.c_str(), seconds * 1e3);
          ImGui::ProgressBar(static_cast<float>(seconds / m.token_latency), ImVec2(-1, 0), label);
        }
    }
  }
}

}  // namespace

void draw_side_panel(AppState& st, const PixelRect& r) {
  begin_fixed("Details", r, st.screenshot_mode);
  if (ImGui::BeginTabBar("tabs")) {
    const int want = st.side_tab;
    st.side_tab = -1;
    if (ImGui::BeginTabItem("Events", nullptr, want == 0 ? ImGuiTabItemFlags_SetSelected : 0)) {
      events_tab(st);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("Node", nullptr, want == 1 ? ImGuiTabItemFlags_SetSelected : 0)) {
      inspector_tab(st);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("What-if", nullptr, want == 2 ? ImGuiTabItemFlags_SetSelected : 0)) {
      whatif_tab(st);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("Run", nullptr, want == 3 ? ImGuiTabItemFlags_SetSelected : 0)) {
      run_tab(st);
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
  ImGui::End();
}

// ---------------------------------------------------------------------------------------------
// [SECTION] errors
// ---------------------------------------------------------------------------------------------

void draw_error_window(AppState& st, int width, int height) {
  if (st.errors.empty()) return;
  const float w = std::min(760.0f, width * 0.8f);
  ImGui::SetNextWindowPos(ImVec2(width * 0.5f, height * 0.45f), ImGuiCond_Always, ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowSize(ImVec2(w, 0), ImGuiCond_Always);
  ImGui::PushStyleColor(ImGuiCol_TitleBgActive, ImVec4(0.6f, 0.1f, 0.1f, 1));
  ImGui::PushStyleColor(ImGuiCol_TitleBg, ImVec4(0.6f, 0.1f, 0.1f, 1));
  ImGui::Begin("Error", nullptr, ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_AlwaysAutoResize);
  ImGui::PushTextWrapPos(w - 16);
  for (const std::string& e : st.errors) ImGui::TextColored(ImVec4(1, 0.5f, 0.5f, 1), "%s", e.c_str());
  ImGui::PopTextWrapPos();
  if (!st.timeline.events().empty())
    ImGui::TextDisabled("The run is shown up to the last good event (t = %.3f s).", st.timeline.end_time());
  if (!st.screenshot_mode && ImGui::Button("Dismiss")) st.errors.clear();
  ImGui::End();
  ImGui::PopStyleColor(2);
}

void draw_app(AppState& st, int width, int height) {
  refresh_snapshot(st);
  const PanelLayout l = compute_layout(width, height, has_tree(st));
  draw_toolbar(st, l.toolbar);
  draw_world_view(st, l.world);
  draw_coverage_panel(st, l.coverage);
  draw_metrics_panel(st, l.metrics);
  draw_side_panel(st, l.side);
  draw_error_window(st, width, height);
}

}  // namespace swarmsim::gui
