// The Tree tab of a Fisher B-tree run (seed 000): the tree at the time shown, top-down, leaves in
// key order. Each box says its keys [lo,hi), its server, its Fisher information I and its load;
// a loading node is dashed and dim; a split's new nodes, a merge's kept node and a node that
// just split are outlined in their mark's colour (tree_layout.hpp). Drawn with ImDrawList at the
// positions layout_tree() computes, scaled down to fit (to half size, then scrolled). Hover a box
// for its details; click it to inspect its server.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <imgui.h>

#include "gui/app.hpp"
#include "gui/tree_layout.hpp"

namespace swarmsim::gui {

namespace {

/// A dashed rectangle outline (ImDrawList has none).
void dashed_rect(ImDrawList* dl, ImVec2 a, ImVec2 b, ImU32 col, float dash, float thickness) {
  const auto line = [&](ImVec2 p, ImVec2 q) {
    const float len = std::hypot(q.x - p.x, q.y - p.y);
    for (float s = 0; s < len; s += 2 * dash) {
      const float e = std::min(len, s + dash);
      dl->AddLine(ImVec2(p.x + (q.x - p.x) * s / len, p.y + (q.y - p.y) * s / len),
                  ImVec2(p.x + (q.x - p.x) * e / len, p.y + (q.y - p.y) * e / len), col, thickness);
    }
  };
  line(a, ImVec2(b.x, a.y));
  line(ImVec2(b.x, a.y), b);
  line(b, ImVec2(a.x, b.y));
  line(ImVec2(a.x, b.y), a);
}

const char* mark_text(TreeMark m) {
  switch (m) {
    case TreeMark::None: return "";
    case TreeMark::Loading: return "loading its parameters (a split's new node)";
    case TreeMark::Created: return "created by a recent split";
    case TreeMark::Merged: return "kept by a recent merge";
    case TreeMark::Split: return "split recently";
    case TreeMark::Failed: return "its server is down: until heartbeats reveal it, requests sent to it are lost; then its parent answers "
                                  "in its place until a spare has loaded it";
  }
  return "";
}

}  // namespace

void draw_tree_view(AppState& st) {
  const SwarmInfo& info = st.timeline.info();
  const TreeState& tree = st.snapshot.tree;
  if (tree.nodes.empty()) {
    ImGui::TextDisabled("no tree yet at t = %.3f s", st.snapshot.time);
    return;
  }
  const TreeLayout l = layout_tree(tree.nodes);
  const std::vector<TreeMark> marks = tree_marks(tree, st.snapshot.time, st.tree_highlight_s);
  const auto loading = std::count_if(tree.nodes.begin(), tree.nodes.end(), [](const TreeNodeView& n) { return n.loading; });
  ImGui::Text("%zu nodes, %d leaves, depth %d", tree.nodes.size(), l.columns, l.levels);
  if (loading) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(0.7f, 0.7f, 0.7f, 1), "(%d loading)", static_cast<int>(loading));
  }
  if (!tree.history.empty()) {
    const TreeChange& c = tree.history.back();
    ImGui::SameLine();
    ImGui::TextDisabled("| last change: %s at %.3f s", to_string(c.what), c.t);
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(90);
  ImGui::SliderFloat("highlight s", &st.tree_highlight_s, 0.1f, 100.0f, "%.1f", ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Outline a split's new nodes (green), a merge's kept node (orange) and a node that split (yellow) for "
                      "this many simulated seconds. Dashed: loading. Red: its server is down. I: Fisher information tr(F) of the last balance "
                      "period; load: its server's busy fraction.");

  ImGui::BeginChild("tree", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float scale = std::clamp(std::min(avail.x / l.width, avail.y / l.height), 0.5f, 1.0f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float x0 = origin.x + std::max(0.0f, (avail.x - l.width * scale) * 0.5f), y0 = origin.y;
  ImGui::Dummy(ImVec2(l.width * scale, l.height * scale));  // the scrolled extent
  const auto corner = [&](const PixelRect& r, float fx, float fy) {
    return ImVec2(x0 + (r.x + r.w * fx) * scale, y0 + (r.y + r.h * fy) * scale);
  };
  ImDrawList* dl = ImGui::GetWindowDrawList();
  for (const auto& [p, c] : l.edges) {
    const bool dim = tree.nodes[static_cast<std::size_t>(c)].loading;
    dl->AddLine(corner(l.boxes[static_cast<std::size_t>(p)].rect, 0.5f, 1.0f), corner(l.boxes[static_cast<std::size_t>(c)].rect, 0.5f, 0.0f),
                dim ? IM_COL32(120, 120, 120, 140) : IM_COL32(150, 160, 180, 220), 1.5f);
  }
  const float font = ImGui::GetFontSize() * scale, line_h = font + 1;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  int hovered = -1;
  for (std::size_t i = 0; i < l.boxes.size(); ++i) {
    const TreeNodeView& n = tree.nodes[i];
    const TreeMark m = marks[i];
    const ImVec2 a = corner(l.boxes[i].rect, 0, 0), b = corner(l.boxes[i].rect, 1, 1);
    dl->AddRectFilled(a, b, n.failed ? IM_COL32(70, 26, 26, 255) : n.loading ? IM_COL32(26, 28, 34, 255) : IM_COL32(32, 40, 56, 255), 3.0f);
    // The server's busy fraction as a bar along the bottom.
    const float load = static_cast<float>(std::clamp(n.load, 0.0, 1.0));
    dl->AddRectFilled(ImVec2(a.x + 2, b.y - 4 * scale), ImVec2(a.x + 2 + (b.x - a.x - 4) * load, b.y - 2),
                      n.load > 0.85 ? IM_COL32(230, 90, 70, 255) : IM_COL32(90, 170, 230, 255));
    const ImU32 outline = tree_mark_color(m);
    if (m == TreeMark::Loading) dashed_rect(dl, a, b, outline, 5 * scale, 1.5f);
    else dl->AddRect(a, b, outline, 3.0f, 0, m == TreeMark::None ? 1.0f : 3.0f);
    const ImU32 text = n.loading ? IM_COL32(150, 150, 150, 255) : IM_COL32(230, 230, 230, 255);
    const std::string server = n.server >= 0 && n.server < static_cast<int>(info.hosts.size())
                                   ? info.hosts[static_cast<std::size_t>(n.server)].name : "?";
    char lines[3][64];
    std::snprintf(lines[0], sizeof lines[0], "[%d,%d)  #%d", n.lo, n.hi, n.id);
    std::snprintf(lines[1], sizeof lines[1], "%s", server.c_str());
    std::snprintf(lines[2], sizeof lines[2], "I %.3g  load %.0f%%", n.fisher, n.load * 100);
    dl->PushClipRect(a, b, true);
    for (int k = 0; k < 3; ++k) dl->AddText(ImGui::GetFont(), font, ImVec2(a.x + 4 * scale, a.y + 2 * scale + k * line_h), text, lines[k]);
    dl->PopClipRect();
    if (mouse.x >= a.x && mouse.x < b.x && mouse.y >= a.y && mouse.y < b.y) hovered = static_cast<int>(i);
  }
  if (hovered >= 0 && ImGui::IsWindowHovered() && !st.screenshot_mode) {
    const TreeNodeView& n = tree.nodes[static_cast<std::size_t>(hovered)];
    const std::string server = n.server >= 0 && n.server < static_cast<int>(info.hosts.size())
                                   ? info.hosts[static_cast<std::size_t>(n.server)].name : "?";
    ImGui::SetTooltip("node #%d, keys [%d, %d), parent %s\non %s, %s\nFisher information I = %.4g, load %.1f%%%s%s", n.id, n.lo,
                      n.hi, n.parent < 0 ? "none (root)" : ("#" + std::to_string(n.parent)).c_str(), server.c_str(),
                      n.failed ? "failed" : n.loading ? "loading" : "serving", n.fisher, n.load * 100, marks[static_cast<std::size_t>(hovered)] == TreeMark::None ? "" : "\n",
                      mark_text(marks[static_cast<std::size_t>(hovered)]));
    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left) && n.server >= 0) {  // inspect its server
      st.selected_host = n.server;
      st.side_tab = 1;
    }
  }
  ImGui::EndChild();
}

}  // namespace swarmsim::gui
