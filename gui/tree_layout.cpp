#include "gui/tree_layout.hpp"

#include <algorithm>
#include <unordered_map>

namespace swarmsim::gui {

TreeLayout layout_tree(const std::vector<TreeNodeView>& nodes, const TreeLayoutStyle& st) {
  TreeLayout l;
  const std::size_t n = nodes.size();
  if (n == 0) return l;
  std::unordered_map<int, std::size_t> at;  // id -> index
  for (std::size_t i = 0; i < n; ++i) at.emplace(nodes[i].id, i);
  std::vector<std::vector<std::size_t>> children(n);
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < n; ++i) {
    const auto p = at.find(nodes[i].parent);
    if (nodes[i].parent >= 0 && p != at.end() && p->second < i) {
      children[p->second].push_back(i);
    } else {
      roots.push_back(i);  // the root, or a node whose parent is missing (or listed after it)
    }
  }
  for (auto& c : children)
    std::stable_sort(c.begin(), c.end(), [&](std::size_t a, std::size_t b) { return nodes[a].lo < nodes[b].lo; });

  // Post-order walk without recursion (a degenerate tree can be as deep as it has nodes): a leaf
  // takes the next column, a parent the middle of its first and last child.
  std::vector<int> depth(n, 0);
  std::vector<float> column(n, 0.0f);
  struct Frame {
    std::size_t node, next_child;
  };
  std::vector<Frame> stack;
  for (std::size_t r : roots) {
    stack.push_back({r, 0});
    while (!stack.empty()) {
      Frame& f = stack.back();
      const std::vector<std::size_t>& c = children[f.node];
      if (f.next_child < c.size()) {
        const std::size_t child = c[f.next_child++];
        depth[child] = depth[f.node] + 1;
        stack.push_back({child, 0});
        continue;
      }
      column[f.node] = c.empty() ? static_cast<float>(l.columns++) : 0.5f * (column[c.front()] + column[c.back()]);
      l.levels = std::max(l.levels, depth[f.node] + 1);
      stack.pop_back();
    }
  }

  l.boxes.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    TreeBox& b = l.boxes[i];
    b.id = nodes[i].id;
    b.depth = depth[i];
    b.rect = {st.margin + column[i] * (st.box_w + st.h_gap), st.margin + static_cast<float>(depth[i]) * (st.box_h + st.v_gap),
              st.box_w, st.box_h};
    for (std::size_t c : children[i]) l.edges.emplace_back(static_cast<int>(i), static_cast<int>(c));
  }
  l.width = 2 * st.margin + static_cast<float>(l.columns) * st.box_w + static_cast<float>(l.columns - 1) * st.h_gap;
  l.height = 2 * st.margin + static_cast<float>(l.levels) * st.box_h + static_cast<float>(l.levels - 1) * st.v_gap;
  return l;
}

std::vector<TreeMark> tree_marks(const TreeState& tree, double now, double recent_s) {
  std::vector<TreeMark> marks(tree.nodes.size(), TreeMark::None);
  for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
    const TreeNodeView& n = tree.nodes[i];
    if (n.failed) {
      marks[i] = TreeMark::Failed;
      continue;
    }
    if (n.loading) {
      marks[i] = TreeMark::Loading;
      continue;
    }
    bool created = false, merged = false, split = false;
    for (const TreeChange& c : tree.history) {
      if (c.t <= now - recent_s || c.t > now) continue;
      const bool is_split = c.what == TreeChangeKind::Split || c.what == TreeChangeKind::SplitStarted;
      created |= is_split && std::find(c.created.begin(), c.created.end(), n.id) != c.created.end();
      merged |= c.what == TreeChangeKind::Merge && c.node == n.id;
      split |= is_split && c.node == n.id;
    }
    marks[i] = created ? TreeMark::Created : merged ? TreeMark::Merged : split ? TreeMark::Split : TreeMark::None;
  }
  return marks;
}

std::uint32_t tree_mark_color(TreeMark m) {
  const auto rgb = [](std::uint32_t r, std::uint32_t g, std::uint32_t b) { return 0xFF000000u | b << 16 | g << 8 | r; };
  switch (m) {
    case TreeMark::None: return rgb(120, 140, 170);
    case TreeMark::Loading: return rgb(150, 150, 150);
    case TreeMark::Created: return rgb(70, 230, 110);
    case TreeMark::Merged: return rgb(255, 150, 40);
    case TreeMark::Split: return rgb(240, 220, 60);
    case TreeMark::Failed: return rgb(235, 60, 60);
  }
  return rgb(255, 255, 255);
}

}  // namespace swarmsim::gui
