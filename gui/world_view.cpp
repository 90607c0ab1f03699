// The world map: nodes at their geographic positions on an equirectangular graticule, links
// coloured by latency or utilization, chains in flight as paths with their messages moving, failed
// nodes crossed out. Drawn with ImDrawList; pan by dragging, zoom with the wheel.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <imgui.h>

#include "gui/app.hpp"
#include "topology/geo.hpp"

namespace swarmsim::gui {

namespace {

ImU32 lerp_color(float f) {  // green -> yellow -> red
  f = std::clamp(f, 0.0f, 1.0f);
  const float r = f < 0.5f ? 2 * f : 1.0f, g = f < 0.5f ? 1.0f : 2 * (1 - f);
  return IM_COL32(static_cast<int>(60 + 195 * r), static_cast<int>(60 + 195 * g), 60, 200);
}

ImU32 session_color(int session) {
  static const ImU32 colors[] = {IM_COL32(90, 200, 255, 230), IM_COL32(255, 170, 60, 230), IM_COL32(180, 120, 255, 230),
                                 IM_COL32(255, 110, 160, 230), IM_COL32(120, 255, 200, 230), IM_COL32(255, 240, 110, 230)};
  return colors[static_cast<unsigned>(session) % 6];
}

/// One-way base latency between hosts i and j (s): a replayed pair latency, else great-circle distance
/// at 200000 km/s with a route inflation of 2 (the scenario defaults; access latencies not included).
double pair_latency(const SwarmState& s, const std::vector<topology::GeoPoint>& pos, int i, int j) {
  auto it = s.pair_latency_s.find({std::min(i, j), std::max(i, j)});
  if (it != s.pair_latency_s.end()) return it->second;
  return topology::propagation_delay_s(topology::great_circle_km(pos[static_cast<std::size_t>(i)], pos[static_cast<std::size_t>(j)]),
                                       200000.0, 2.0);
}

}  // namespace

void draw_world_view(AppState& st, const PixelRect& r) {
  ImGui::SetNextWindowPos(ImVec2(r.x, r.y));
  ImGui::SetNextWindowSize(ImVec2(r.w, r.h));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowBorderSize, 0.0f);
  ImGui::PushStyleVar(ImGuiStyleVar_WindowRounding, 0.0f);
  ImGui::Begin("World", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoScrollWithMouse);
  ImGui::PopStyleVar(3);

  const SwarmInfo& info = st.timeline.info();
  const SwarmState& s = st.snapshot;
  std::vector<const topology::GeoPoint*> locs;
  for (const HostInfo& h : info.hosts) locs.push_back(h.location ? &*h.location : nullptr);
  bool schematic = false;
  const std::vector<topology::GeoPoint> pos = host_positions(locs, schematic);
  if (!st.map_fitted || st.map.rect.w != r.w || st.map.rect.h != r.h || st.map.rect.x != r.x || st.map.rect.y != r.y) {
    if (!st.map_fitted || st.screenshot_mode) st.map = fit_map_view(pos, r);
    st.map.rect = r;
    st.map_fitted = !info.hosts.empty();
  }
  MapView& v = st.map;

  // Interaction: an invisible button over the whole map takes the mouse.
  ImGui::SetCursorScreenPos(ImVec2(r.x, r.y));
  ImGui::InvisibleButton("map", ImVec2(std::max(1.0f, r.w), std::max(1.0f, r.h)));
  const bool hovered = ImGui::IsItemHovered();
  ImGuiIO& io = ImGui::GetIO();
  if (!st.screenshot_mode) {
    if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 2.0f)) {
      v.center_lon -= io.MouseDelta.x * v.deg_per_px;
      v.center_lat += io.MouseDelta.y * v.deg_per_px;
    }
    if (hovered && io.MouseWheel != 0.0f) zoom_at(v, io.MousePos.x, io.MousePos.y, std::pow(1.2, io.MouseWheel));
  }

  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(ImVec2(r.x, r.y), ImVec2(r.x + r.w, r.y + r.h), true);
  dl->AddRectFilled(ImVec2(r.x, r.y), ImVec2(r.x + r.w, r.y + r.h), IM_COL32(14, 22, 38, 255));

  // Graticule, clipped to the globe, with degree labels.
  const topology::GeoPoint top_left = unproject(v, r.x, r.y), bottom_right = unproject(v, r.x + r.w, r.y + r.h);
  const double step = graticule_step_deg(v);
  const double lat_lo = std::max(-90.0, bottom_right.lat_deg), lat_hi = std::min(90.0, top_left.lat_deg);
  const double lon_lo = std::max(-180.0, top_left.lon_deg), lon_hi = std::min(180.0, bottom_right.lon_deg);
  const ImU32 grid = IM_COL32(60, 80, 110, 255), grid_text = IM_COL32(110, 130, 160, 255);
  char label[48];
  const int digits = step >= 1 ? 0 : step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3;
  if (lat_lo < lat_hi && lon_lo < lon_hi) {
    float gx0, gy0, gx1, gy1;
    project(v, {lat_hi, lon_lo}, gx0, gy0);
    project(v, {lat_lo, lon_hi}, gx1, gy1);
    dl->AddRectFilled(ImVec2(gx0, gy0), ImVec2(gx1, gy1), IM_COL32(20, 32, 54, 255));
    for (double lon = std::ceil(lon_lo / step) * step; lon <= lon_hi + 1e-9; lon += step) {
      float x, y;
      project(v, {0, lon}, x, y);
      dl->AddLine(ImVec2(x, gy0), ImVec2(x, gy1), grid);
      std::snprintf(label, sizeof label, "%.*f°%c", digits, std::fabs(lon), lon < 0 ? 'W' : 'E');
      dl->AddText(ImVec2(x + 2, std::max(gy0, r.y) + 2), grid_text, label);
    }
    for (double lat = std::ceil(lat_lo / step) * step; lat <= lat_hi + 1e-9; lat += step) {
      float x, y;
      project(v, {lat, 0}, x, y);
      dl->AddLine(ImVec2(gx0, y), ImVec2(gx1, y), grid);
      std::snprintf(label, sizeof label, "%.*f°%c", digits, std::fabs(lat), lat < 0 ? 'S' : 'N');
      dl->AddText(ImVec2(std::max(gx0, r.x) + 2, y + 1), grid_text, label);
    }
    dl->AddRect(ImVec2(gx0, gy0), ImVec2(gx1, gy1), IM_COL32(90, 110, 150, 255));
  }

  std::vector<ImVec2> px(pos.size());
  for (std::size_t i = 0; i < pos.size(); ++i) project(v, pos[i], px[i].x, px[i].y);
  const bool have_state = s.nodes.size() == info.hosts.size();

  // Links that carried traffic up to now, one line per host pair.
  if (have_state && st.show_links) {
    std::map<std::pair<int, int>, PairTraffic> pairs;
    for (const auto& [key, p] : s.traffic) {
      PairTraffic& q = pairs[{std::min(key.first, key.second), std::max(key.first, key.second)}];
      q.bytes += p.bytes;
      q.busy_seconds += p.busy_seconds;
      q.messages += p.messages;
    }
    for (const auto& [key, p] : pairs) {
      const auto [i, j] = key;
      if (i < 0 || j < 0 || i >= static_cast<int>(px.size()) || j >= static_cast<int>(px.size()) || i == j) continue;
      float f;
      if (st.link_color == 0) {
        f = static_cast<float>(std::log10(std::max(1e-4, pair_latency(s, pos, i, j)) / 1e-4) / 3.0);  // 0.1 ms .. 100 ms
      } else {
        const double cap = std::max(1.0, std::min(s.nodes[static_cast<std::size_t>(i)].uplink_Bps,
                                                   s.nodes[static_cast<std::size_t>(j)].downlink_Bps));
        f = static_cast<float>(p.bytes / std::max(1e-9, s.time) / cap * 20.0);  // 5% average load = full red
      }
      dl->AddLine(px[static_cast<std::size_t>(i)], px[static_cast<std::size_t>(j)], lerp_color(f), 1.5f);
    }
  }

  // Chains in flight: client > hop 1 > ... > hop n > client.
  if (have_state) {
    for (const auto& [session, f] : s.sessions) {
      if (f.chain.empty() || f.client < 0 || f.client >= static_cast<int>(px.size())) continue;
      std::vector<ImVec2> path{px[static_cast<std::size_t>(f.client)]};
      for (const ChainHop& h : f.chain)
        if (h.node >= 0 && h.node < static_cast<int>(px.size())) path.push_back(px[static_cast<std::size_t>(h.node)]);
      path.push_back(px[static_cast<std::size_t>(f.client)]);
      dl->AddPolyline(path.data(), static_cast<int>(path.size()), (session_color(session) & 0x00FFFFFF) | 0x90000000, 0, 3.0f);
    }
    // Messages in flight at this instant, moving along their hop.
    if (st.show_traffic)
      for (const Timeline::ActiveTransfer& t : st.timeline.transfers_at(st.time, 2000)) {
        if (t.from < 0 || t.to < 0 || t.from >= static_cast<int>(px.size()) || t.to >= static_cast<int>(px.size())) continue;
        const ImVec2 a = px[static_cast<std::size_t>(t.from)], b = px[static_cast<std::size_t>(t.to)];
        const float p = static_cast<float>(std::clamp(t.progress, 0.0, 1.0));
        dl->AddCircleFilled(ImVec2(a.x + (b.x - a.x) * p, a.y + (b.y - a.y) * p), 3.0f, session_color(t.session));
      }
  }

  // Nodes: servers as discs (colour = GPU kind, size = memory), clients as squares.
  int hovered_host = -1;
  float best = 1e9f;
  for (std::size_t i = 0; i < info.hosts.size(); ++i) {
    const HostInfo& h = info.hosts[i];
    const ImVec2 c = px[i];
    const float rad = h.is_server ? node_radius(h.memory_bytes) : kClientRadius;
    const float d = std::hypot(io.MousePos.x - c.x, io.MousePos.y - c.y);
    if (hovered && d <= rad + 4 && d < best) {
      best = d;
      hovered_host = static_cast<int>(i);
    }
    const NodeState* n = have_state ? &s.nodes[i] : nullptr;
    const ImU32 fill = device_color(h.device);
    if (!h.is_server) {  // a square; a client that went down (its sessions ended with it): grey, crossed out in red
      const bool down = n && !n->up;
      dl->AddRectFilled(ImVec2(c.x - rad, c.y - rad), ImVec2(c.x + rad, c.y + rad), down ? IM_COL32(90, 90, 90, 255) : fill);
      dl->AddRect(ImVec2(c.x - rad, c.y - rad), ImVec2(c.x + rad, c.y + rad), IM_COL32(20, 20, 20, 255));
      if (down) {
        dl->AddLine(ImVec2(c.x - rad, c.y - rad), ImVec2(c.x + rad, c.y + rad), IM_COL32(255, 50, 50, 255), 2.0f);
        dl->AddLine(ImVec2(c.x - rad, c.y + rad), ImVec2(c.x + rad, c.y - rad), IM_COL32(255, 50, 50, 255), 2.0f);
      }
    } else if (n && !n->up) {  // down: grey, crossed out in red
      dl->AddCircleFilled(c, rad, IM_COL32(90, 90, 90, 255));
      const float k = rad * 0.9f;
      dl->AddLine(ImVec2(c.x - k, c.y - k), ImVec2(c.x + k, c.y + k), IM_COL32(255, 50, 50, 255), 3.0f);
      dl->AddLine(ImVec2(c.x - k, c.y + k), ImVec2(c.x + k, c.y - k), IM_COL32(255, 50, 50, 255), 3.0f);
    } else if (n && !n->serving) {  // up, loading its blocks (or not joined yet): a ring
      dl->AddCircleFilled(c, rad, (fill & 0x00FFFFFF) | 0x50000000);
      dl->AddCircle(c, rad, fill, 0, 2.0f);
    } else {
      dl->AddCircleFilled(c, rad, fill);
      dl->AddCircle(c, rad, IM_COL32(15, 15, 15, 255), 0, 1.0f);
    }
    if (static_cast<int>(i) == st.selected_host) dl->AddCircle(c, rad + 4, IM_COL32(255, 255, 0, 255), 0, 2.0f);
  }

  // Labels on top, none over another: the selected host first, then clients, then servers.
  if (st.show_labels) {
    std::vector<std::size_t> order;
    if (st.selected_host >= 0 && st.selected_host < static_cast<int>(info.hosts.size()))
      order.push_back(static_cast<std::size_t>(st.selected_host));
    for (int pass = 0; pass < 2; ++pass)
      for (std::size_t i = 0; i < info.hosts.size(); ++i)
        if (info.hosts[i].is_server == (pass == 1) && static_cast<int>(i) != st.selected_host) order.push_back(i);
    std::vector<PixelRect> boxes;
    boxes.reserve(order.size());
    for (const std::size_t i : order) {
      const HostInfo& h = info.hosts[i];
      const float rad = h.is_server ? node_radius(h.memory_bytes) : kClientRadius;
      const ImVec2 size = ImGui::CalcTextSize(h.name.c_str());
      boxes.push_back({px[i].x + rad + 4, px[i].y - 7, size.x, size.y});
    }
    const std::vector<char> drawn = place_labels(boxes);
    for (std::size_t k = 0; k < order.size(); ++k) {
      if (!drawn[k]) continue;
      const std::size_t i = order[k];
      const bool down = have_state && !s.nodes[i].up;
      dl->AddText(ImVec2(boxes[k].x, boxes[k].y), down ? IM_COL32(255, 120, 120, 255) : IM_COL32(230, 230, 230, 255),
                  info.hosts[i].name.c_str());
    }
  }

  // Legend: one line at the bottom.
  {
    float x = r.x + 8;
    const float y = r.y + r.h - 20;
    std::vector<std::string> kinds;
    for (const HostInfo& h : info.hosts)
      if (std::find(kinds.begin(), kinds.end(), h.device) == kinds.end()) kinds.push_back(h.device);
    dl->AddRectFilled(ImVec2(r.x, y - 4), ImVec2(r.x + r.w, r.y + r.h), IM_COL32(10, 14, 24, 220));
    for (const std::string& k : kinds) {
      dl->AddCircleFilled(ImVec2(x + 5, y + 7), 5, device_color(k));
      dl->AddText(ImVec2(x + 13, y), IM_COL32(220, 220, 220, 255), k.c_str());
      x += 24 + ImGui::CalcTextSize(k.c_str()).x;
    }
    const char* scale = st.link_color == 0 ? "links: latency 0.1 ms (green) .. 100 ms (red)"
                                           : "links: utilization 0 (green) .. 5% (red)";
    dl->AddText(ImVec2(x + 12, y), IM_COL32(180, 180, 180, 255), scale);
    if (schematic) dl->AddText(ImVec2(r.x + 8, r.y + 6), IM_COL32(255, 200, 80, 255), "some hosts have no location: placed on a ring");
  }
  dl->PopClipRect();

  if (!st.screenshot_mode && hovered_host >= 0) {
    const HostInfo& h = info.hosts[static_cast<std::size_t>(hovered_host)];
    ImGui::BeginTooltip();
    ImGui::Text("%s (%s)", h.name.c_str(), h.device.c_str());
    if (have_state) {
      const NodeState& n = s.nodes[static_cast<std::size_t>(hovered_host)];
      ImGui::Text("%s%s", n.up ? "up" : "DOWN", n.up && h.is_server ? (n.serving ? ", serving" : ", loading / not joined") : "");
      if (h.is_server && n.joined) ImGui::Text("blocks %d-%d, %d sessions in flight", n.blocks.start, n.blocks.end - 1, n.sessions_in_flight);
    }
    ImGui::TextDisabled("click to inspect");
    ImGui::EndTooltip();
    if (ImGui::IsMouseReleased(ImGuiMouseButton_Left) && io.MouseDragMaxDistanceSqr[0] < 16.0f) {
      st.selected_host = hovered_host;
      st.side_tab = 1;
    }
  }
  ImGui::End();
}

}  // namespace swarmsim::gui
