#pragma once
// Where a Fisher B-tree's nodes go in the Tree panel, as pure functions shared by the renderer and
// the tests (like view_geometry.hpp): one box per node, top-down by depth; leaves left to right in
// key order, one column each; a parent centred over its first and last child. A node's centre
// lies between its subtree's leftmost and rightmost leaf, and subtrees of one level hold disjoint
// runs of columns, so boxes never overlap. Also which nodes the panel highlights. O(n log n) in
// the tree's nodes (children are sorted by key).
#include <cstdint>
#include <utility>
#include <vector>

#include "gui/swarm_state.hpp"
#include "gui/view_geometry.hpp"

namespace swarmsim::gui {

/// Sizes of the Tree panel's boxes (pixels at scale 1).
struct TreeLayoutStyle {
  float box_w = 132, box_h = 52;  ///< a node's box
  float h_gap = 14, v_gap = 30;   ///< between columns, between levels
  float margin = 6;               ///< around the whole tree
};

/// A node's box: `rect` relative to the layout's top-left corner.
struct TreeBox {
  int id = 0;
  int depth = 0;  ///< 0 for a root
  PixelRect rect;
};

struct TreeLayout {
  std::vector<TreeBox> boxes;              ///< one per node, in the order of the nodes given
  std::vector<std::pair<int, int>> edges;  ///< (parent box, child box), indices into `boxes`
  int levels = 0;                          ///< depth of the deepest node + 1 (0: no nodes)
  int columns = 0;                         ///< leaves
  float width = 0, height = 0;             ///< extent, margins included (px)
};

/// Lays out `nodes` (a TreeState's: parents listed before children). A node whose parent is not
/// listed is drawn as one more root, right of the others.
TreeLayout layout_tree(const std::vector<TreeNodeView>& nodes, const TreeLayoutStyle& style = {});

/// How the Tree panel marks a node, most important first when several apply.
enum class TreeMark {
  None,
  Loading,  ///< a split's new node loading its parameters: dashed and dim
  Created,  ///< made by a split (started or done) in the last `recent_s` seconds
  Merged,   ///< kept by a merge in the last `recent_s` seconds
  Split,    ///< split (kept half of its keys) in the last `recent_s` seconds
  Failed,   ///< its server is down: red, before any other mark
};

/// The mark of each node of `tree.nodes` at simulated time `now` (s), looking at the changes of
/// (now - recent_s, now].
std::vector<TreeMark> tree_marks(const TreeState& tree, double now, double recent_s);

/// Outline colour of a box with mark `m`, as 0xAABBGGRR (Dear ImGui's IM_COL32 packing).
std::uint32_t tree_mark_color(TreeMark m);

}  // namespace swarmsim::gui
