// A Fisher B-tree run (seed 000) in the GUI's state model: the tree and its recent changes fed by
// the simulator's on_tree_changed signal through the live stream, the same run read back from a
// hand-written events.jsonl (tree_run_lines.hpp), malformed "tree" lines refused with their line,
// and the Tree panel's layout and highlights (gui/tree_layout.hpp).
#include <gtest/gtest.h>

#include <functional>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "gpu/device_catalog.hpp"
#include "gui/event_stream.hpp"
#include "gui/run_loader.hpp"
#include "gui/swarm_state.hpp"
#include "gui/tree_layout.hpp"
#include "tests/gui/run_files.hpp"
#include "tests/gui/tree_run_lines.hpp"

using namespace swarmsim::gui;
using swarmsim::test::kTreeRun;
using swarmsim::test::kTreeRunLines;
namespace fs = std::filesystem;
namespace sim = swarmsim::sim;

using swarmsim::test::write_run;

namespace {

/// The hosts of kTreeRun as a scenario whose model is a 16-key tree.
sim::Scenario tree_scenario() {
  sim::Scenario sc;
  sc.name = "tree-tiny";
  sc.model.name = "fisher-btree";
  for (const auto& [name, gpu] : {std::pair{"a100-a", "A100-80GB"}, {"rtx-a", "RTX-4090"}, {"rtx-b", "RTX-4090"}, {"rtx-c", "RTX-3090"}}) {
    sim::NodeSpec n;
    n.name = name;
    n.device = swarmsim::gpu::find_device(gpu);
    sc.nodes.push_back(n);
  }
  sim::ClientSpec c;
  c.name = "client";
  c.device = swarmsim::gpu::find_device("cpu-generic");
  sc.clients.push_back(c);
  sim::FisherTreeSpec tree;
  tree.classes = 16;
  sc.tree = tree;
  return sc;
}

sim::TreeNodeView node(int id, int parent, int lo, int hi, int server, const char* state, double fisher, double load) {
  return sim::TreeNodeView{id, parent, lo, hi, server, state, fisher, load};
}

/// The signals `emit` sends, through the live stream writer, read back by the line reader the
/// live window uses; the run ends at `end` (s).
Timeline live_run(const std::function<void(sim::SimSignals&)>& emit, double end) {
  const sim::Scenario sc = tree_scenario();
  Timeline tl;
  EventLineReader reader("live run");
  EventStreamWriter writer(sc, [&](const std::string& line) { EXPECT_TRUE(reader.feed(line, tl)) << reader.error(); });
  sim::SimSignals s;
  writer.connect(s);
  emit(s);
  writer.finish(end);
  EXPECT_FALSE(reader.failed()) << reader.error();
  return tl;
}

/// kTreeRun's run as the simulator reports it.
Timeline live_tree_run() {
  return live_run([](sim::SimSignals& s) {
    s.on_node_joined(sim::NodeJoined{0.0, 0, {0, 16}, 0.0});
    s.on_tree_changed({0.0, "planned", -1, {},
                       {node(0, -1, 0, 16, 0, "serving", 0, 0), node(1, 0, 0, 8, 1, "serving", 0, 0), node(2, 0, 8, 16, 2, "serving", 0, 0)}});
    s.on_session_started({0.5, 0, 4});
    s.on_step({0.6, 0, 0, 0.1});
    s.on_session_ended({0.6, 0, true, "", 1});
    s.on_tree_changed({1.0, "balance", -1, {},
                       {node(0, -1, 0, 16, 0, "serving", 12.5, 0.4), node(1, 0, 0, 8, 1, "serving", 3, 0.2),
                        node(2, 0, 8, 16, 2, "serving", 55, 0.9)}});
    s.on_tree_changed({1.0, "split_started", 2, {3},
                       {node(0, -1, 0, 16, 0, "serving", 12.5, 0.4), node(1, 0, 0, 8, 1, "serving", 3, 0.2),
                        node(2, 0, 8, 12, 2, "serving", 55, 0.9), node(3, 0, 12, 16, 3, "loading", 0, 0)}});
    s.on_tree_changed({1.4, "split", 2, {3},
                       {node(0, -1, 0, 16, 0, "serving", 12.5, 0.4), node(1, 0, 0, 8, 1, "serving", 3, 0.2),
                        node(2, 0, 8, 12, 2, "serving", 55, 0.9), node(3, 0, 12, 16, 3, "serving", 0, 0)}});
    s.on_tree_changed({3.0, "merge", 1, {},
                       {node(0, -1, 0, 16, 0, "serving", 10, 0.3), node(1, 0, 0, 12, 1, "serving", 2, 0.1),
                        node(3, 0, 12, 16, 3, "serving", 20, 0.5)}});
  }, 4.0);
}

std::string tree_run_text(int first, int last) {  // kTreeRun[first..last), each with '\n'
  std::string s;
  for (int i = first; i < last; ++i) s += std::string(kTreeRun[i]) + "\n";
  return s;
}

std::vector<int> ids(const TreeState& t) {
  std::vector<int> out;
  for (const TreeNodeView& n : t.nodes) out.push_back(n.id);
  return out;
}

/// Whether two boxes share any area.
bool overlap(const PixelRect& a, const PixelRect& b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

float centre_x(const TreeBox& b) { return b.rect.x + b.rect.w * 0.5f; }

/// The invariants every layout must have: children below their parent, a parent between its
/// first and last child, leaves left to right in key order, no two boxes overlapping, everything
/// inside width x height.
void expect_tidy(const std::vector<TreeNodeView>& nodes, const TreeLayout& l) {
  ASSERT_EQ(l.boxes.size(), nodes.size());
  std::vector<std::vector<int>> children(nodes.size());
  for (const auto& [p, c] : l.edges) {
    const TreeBox &parent = l.boxes[static_cast<std::size_t>(p)], &child = l.boxes[static_cast<std::size_t>(c)];
    EXPECT_EQ(nodes[static_cast<std::size_t>(c)].parent, parent.id);
    EXPECT_GE(child.rect.y, parent.rect.y + parent.rect.h) << "#" << child.id << " not below #" << parent.id;
    EXPECT_EQ(child.depth, parent.depth + 1);
    children[static_cast<std::size_t>(p)].push_back(c);
  }
  std::vector<std::pair<int, float>> leaves;  // (lo, centre x)
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::vector<int>& c = children[i];
    if (c.empty()) {
      leaves.emplace_back(nodes[i].lo, centre_x(l.boxes[i]));
      continue;
    }
    float lo = 1e30f, hi = -1e30f;
    for (int k : c) {
      lo = std::min(lo, centre_x(l.boxes[static_cast<std::size_t>(k)]));
      hi = std::max(hi, centre_x(l.boxes[static_cast<std::size_t>(k)]));
    }
    EXPECT_GE(centre_x(l.boxes[i]), lo) << "#" << nodes[i].id;
    EXPECT_LE(centre_x(l.boxes[i]), hi) << "#" << nodes[i].id;
  }
  std::sort(leaves.begin(), leaves.end());
  for (std::size_t k = 1; k < leaves.size(); ++k)
    EXPECT_LT(leaves[k - 1].second, leaves[k].second) << "leaf with keys from " << leaves[k].first << " is not right of the previous";
  EXPECT_EQ(l.columns, static_cast<int>(leaves.size()));
  for (std::size_t a = 0; a < l.boxes.size(); ++a) {
    const PixelRect& r = l.boxes[a].rect;
    EXPECT_TRUE(r.x >= 0 && r.y >= 0 && r.x + r.w <= l.width && r.y + r.h <= l.height) << "#" << l.boxes[a].id << " outside";
    for (std::size_t b = a + 1; b < l.boxes.size(); ++b)
      EXPECT_FALSE(overlap(r, l.boxes[b].rect)) << "#" << l.boxes[a].id << " overlaps #" << l.boxes[b].id;
  }
}

TreeNodeView tn(int id, int parent, int lo, int hi) { return TreeNodeView{id, parent, lo, hi, 0, false, 0, 0}; }

}  // namespace

// A node whose server went down is listed as failed, marked red before anything else, and the
// failure's steps (failed, failure_detected, replaced) and a failback's enter the history.
TEST(GuiTree, AFailedNodeIsMarkedAndItsFailoverIsInTheHistory) {
  const std::vector<sim::TreeNodeView> serving{node(0, -1, 0, 16, 0, "serving", 0, 0), node(1, 0, 0, 8, 1, "serving", 0, 0),
                                               node(2, 0, 8, 16, 2, "serving", 0, 0)};
  std::vector<sim::TreeNodeView> failed = serving;
  failed[2].state = "failed";
  std::vector<sim::TreeNodeView> replaced = serving;
  replaced[2].server = 3;
  const Timeline tl = live_run(
      [&](sim::SimSignals& s) {
        s.on_tree_changed({0.0, "planned", -1, {}, serving});
        s.on_tree_changed({1.0, "failed", 2, {}, failed});
        s.on_tree_changed({2.0, "failure_detected", 2, {}, failed});
        s.on_tree_changed({2.8, "replaced", 2, {}, replaced});
        s.on_tree_changed({5.0, "failback_loading", 2, {}, replaced});
        s.on_tree_changed({5.8, "failback", 2, {}, serving});
      },
      6.0);
  const TreeState down = tl.state_at(1.5).tree;
  ASSERT_EQ(down.nodes.size(), 3u);
  EXPECT_TRUE(down.nodes[2].failed);
  EXPECT_FALSE(down.nodes[1].failed);
  EXPECT_EQ(tree_marks(down, 1.5, 5.0), (std::vector<TreeMark>{TreeMark::None, TreeMark::None, TreeMark::Failed}));
  const TreeState back = tl.state_at(3.0).tree;
  EXPECT_FALSE(back.nodes[2].failed);
  EXPECT_EQ(back.nodes[2].server, 3);
  ASSERT_EQ(back.history.size(), 4u);
  EXPECT_EQ(back.history[1].what, TreeChangeKind::Failed);
  EXPECT_EQ(back.history[2].what, TreeChangeKind::FailureDetected);
  EXPECT_EQ(back.history[3].what, TreeChangeKind::Replaced);
  EXPECT_EQ(back.history[3].node, 2);
  // Failback: the node serves on its spare while its server loads it, then moves back.
  EXPECT_EQ(tl.state_at(5.5).tree.nodes[2].server, 3);
  const TreeState home = tl.state_at(6.0).tree;
  EXPECT_EQ(home.nodes[2].server, 2);
  ASSERT_EQ(home.history.size(), 6u);
  EXPECT_EQ(home.history[4].what, TreeChangeKind::FailbackLoading);
  EXPECT_EQ(home.history[5].what, TreeChangeKind::Failback);
}

// The live stream carries on_tree_changed: the loading node appears with split_started, serves
// with split, the merge's retired node disappears, balance updates the measurements without a
// history entry, and the marks follow the history.
TEST(GuiTree, SignalsBuildTheTreeAndItsHistory) {
  const Timeline tl = live_tree_run();
  ASSERT_TRUE(tl.info().tree);
  EXPECT_EQ(tl.info().n_blocks, 16);
  EXPECT_EQ(tl.info().model, "fisher-btree");

  TreeState t = tl.state_at(0.5).tree;
  EXPECT_EQ(ids(t), (std::vector<int>{0, 1, 2}));
  ASSERT_EQ(t.history.size(), 1u);
  EXPECT_EQ(t.history[0].what, TreeChangeKind::Planned);
  EXPECT_DOUBLE_EQ(t.measured_at, -1.0);

  t = tl.state_at(1.2).tree;  // the split's new node loads
  EXPECT_EQ(ids(t), (std::vector<int>{0, 1, 2, 3}));
  const TreeNodeView* created = t.find(3);
  ASSERT_NE(created, nullptr);
  EXPECT_TRUE(created->loading);
  EXPECT_EQ(created->server, 3);
  EXPECT_EQ(created->parent, 0);
  EXPECT_EQ(std::pair(created->lo, created->hi), std::pair(12, 16));
  EXPECT_EQ(std::pair(t.find(2)->lo, t.find(2)->hi), std::pair(8, 12));
  EXPECT_DOUBLE_EQ(t.find(2)->fisher, 55.0);
  EXPECT_DOUBLE_EQ(t.find(2)->load, 0.9);
  EXPECT_DOUBLE_EQ(t.measured_at, 1.0);
  ASSERT_EQ(t.history.size(), 2u) << "balance is not a change";
  EXPECT_EQ(t.history[1], (TreeChange{1.0, TreeChangeKind::SplitStarted, 2, {3}}));
  EXPECT_EQ(tree_marks(t, 1.2, 5.0), (std::vector<TreeMark>{TreeMark::None, TreeMark::None, TreeMark::Split, TreeMark::Loading}));

  t = tl.state_at(1.4).tree;  // it serves
  EXPECT_FALSE(t.find(3)->loading);
  EXPECT_EQ(t.history.back(), (TreeChange{1.4, TreeChangeKind::Split, 2, {3}}));
  EXPECT_EQ(tree_marks(t, 1.4, 5.0), (std::vector<TreeMark>{TreeMark::None, TreeMark::None, TreeMark::Split, TreeMark::Created}));
  EXPECT_EQ(tree_marks(t, 6.4, 5.0), std::vector<TreeMark>(4, TreeMark::None)) << "5 s after the split, nothing is recent";

  t = tl.state_at(3.0).tree;  // #1 and #2 merged into #1
  EXPECT_EQ(ids(t), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(t.find(2), nullptr);
  EXPECT_EQ(std::pair(t.find(1)->lo, t.find(1)->hi), std::pair(0, 12));
  ASSERT_EQ(t.history.size(), 4u);
  EXPECT_EQ(t.history.back(), (TreeChange{3.0, TreeChangeKind::Merge, 1, {}}));
  EXPECT_EQ(tree_marks(t, 3.0, 1.0), (std::vector<TreeMark>{TreeMark::None, TreeMark::Merged, TreeMark::None}));
  EXPECT_EQ(tree_marks(t, 3.0, 5.0), (std::vector<TreeMark>{TreeMark::None, TreeMark::Merged, TreeMark::Created}));
  EXPECT_TRUE(tl.ended());
}

// The history keeps the last TreeState::kHistory changes, oldest first.
TEST(GuiTree, HistoryKeepsTheLastChanges) {
  SwarmInfo info;
  info.n_blocks = 16;
  Timeline tl(info);
  const int n = static_cast<int>(TreeState::kHistory) + 9;
  for (int k = 0; k < n; ++k) {
    SwarmEvent e;
    e.t = k;
    e.type = EventType::Tree;
    auto snap = std::make_shared<TreeSnapshot>();
    snap->change = {e.t, k % 2 ? TreeChangeKind::Merge : TreeChangeKind::Split, k, {}};
    snap->nodes = {tn(k, -1, 0, 16)};
    e.tree = snap;
    ASSERT_TRUE(tl.append(e));
  }
  const TreeState& t = tl.latest().tree;
  ASSERT_EQ(t.history.size(), TreeState::kHistory);
  EXPECT_EQ(t.history.front().node, n - static_cast<int>(TreeState::kHistory));
  EXPECT_EQ(t.history.back().node, n - 1);
  EXPECT_EQ(ids(t), std::vector<int>{n - 1});
  // Seeking (from checkpoints or not) gives the history as it was then.
  EXPECT_EQ(tl.state_at(3.0).tree.history.size(), 4u);
}

// The hand-written events.jsonl, replayed from a run directory, is the live stream's state at
// every time: the same nodes, fields, history and measurement time.
TEST(GuiTree, ReplayedRunDirectoryEqualsTheLiveStream) {
  const RunDirectory run = load_run_directory(write_run("tree-run", tree_run_text(0, kTreeRunLines)));
  ASSERT_TRUE(run.ok()) << run.errors.front();
  const Timeline live = live_tree_run();
  EXPECT_TRUE(run.timeline.info().tree);
  EXPECT_EQ(run.timeline.info().n_blocks, live.info().n_blocks);
  for (double T : {0.0, 0.5, 1.0, 1.2, 1.4, 2.0, 3.0, 4.0}) {
    const TreeState a = run.timeline.state_at(T).tree, b = live.state_at(T).tree;
    EXPECT_EQ(a.nodes, b.nodes) << "T = " << T;
    EXPECT_EQ(a.history, b.history) << "T = " << T;
    EXPECT_DOUBLE_EQ(a.measured_at, b.measured_at) << "T = " << T;
    EXPECT_FALSE(a.nodes.empty());
  }
  EXPECT_EQ(run.timeline.state_at(1.2).tree.find(3)->loading, true);
  // A request is one step, answered when its session is done, as the live stream says.
  const SwarmState a = run.timeline.state_at(4.0), b = live.state_at(4.0);
  EXPECT_EQ(a.steps, 1);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_DOUBLE_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.ttft.total, b.ttft.total);
  EXPECT_EQ(a.sessions_done, 1);
}

// Each malformed "tree" line is refused with its file, line and what was expected, and the
// tree read before it stays.
TEST(GuiTree, MalformedTreeLineNamesTheLine) {
  const std::string planned = kTreeRun[2];
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string s = planned;
    const std::size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
  };
  const std::string serving1 = R"({"id":1,"parent":0,"keys":[0,8],"server":"rtx-a","state":"serving")";
  const struct {
    std::string line, expected;
  } cases[] = {
      {with(R"("what":"planned")", R"("what":"grow")"), R"("what": expected "planned", "split_started", "split", "merge", "balance", "split_cancelled", "failed", "failure_detected", "replaced", "failback_loading", "failback" or "failback_dropped", got "grow")"},
      {with(R"("id":1,"parent":0)", R"("id":1,"parent":7)"), R"(nodes[1]: "parent": node 7 is not listed before it)"},
      {with(R"("id":2,"parent":0)", R"("id":1,"parent":0)"), R"(nodes[2]: "id": node 1 is listed twice)"},
      {with(R"("keys":[0,8])", R"("keys":[8,4])"), R"(nodes[1]: "keys": expected [lo, hi] with integers 0 <= lo < hi <= 16 (the run's keys), got [8,4])"},
      {with(R"("keys":[8,16])", R"("keys":[8,40])"), R"(nodes[2]: "keys": expected [lo, hi] with integers 0 <= lo < hi <= 16)"},
      {with(R"("server":"rtx-a")", R"("server":"rtx-z")"), R"(nodes[1]: "server": unknown host "rtx-z" (not in run_start))"},
      {with(R"("server":"rtx-a")", R"("server":"client")"), R"(nodes[1]: "server": "client" is a client, not a server)"},
      {with(serving1, R"({"id":1,"parent":0,"keys":[0,8],"server":"rtx-a","state":"warm")"), R"(nodes[1]: "state": expected "loading", "serving" or "failed", got "warm")"},
      {with(R"("load":0.0}]})", R"("load":-1}]})"), R"(nodes[2]: "load": expected a number >= 0, got -1)"},
      {with(R"("created":[])", R"("created":[9])"), R"("created": 9 is not the id of a listed node)"},
      {with(R"("nodes":[)", R"("nodez":[)"), R"(missing key "nodes")"},
  };
  for (const auto& c : cases) {
    // Line 4 is bad; line 3 (planned) was read.
    const std::string text = tree_run_text(0, 3) + c.line + "\n" + tree_run_text(4, kTreeRunLines);
    const RunDirectory run = load_run_directory(write_run("tree-bad", text));
    ASSERT_FALSE(run.ok()) << c.line;
    EXPECT_NE(run.errors[0].find("events.jsonl:4: " + c.expected), std::string::npos) << run.errors[0];
    EXPECT_EQ(ids(run.timeline.latest().tree), (std::vector<int>{0, 1, 2})) << "the tree before the bad line stays";

    Timeline tl;
    EventLineReader reader("live run");
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader.feed(kTreeRun[i], tl));
    EXPECT_FALSE(reader.feed(c.line, tl));
    EXPECT_EQ(reader.error().rfind("live run:4: " + c.expected, 0), 0u) << reader.error();
  }
}

// Children below parents, parents over their children, leaves left to right in key order even
// when listed otherwise, no overlap, at mixed depths.
//
//            #0 [0,16)
//     ┌────────┼──────────┐
//  #1 [0,4)  #2 [4,12)   #3 [12,16)
//            ┌──┴───┐
//        #4 [4,8) #5 [8,12)
TEST(GuiTreeLayout, ChildrenBelowLeavesInKeyOrderNoOverlap) {
  const std::vector<TreeNodeView> nodes = {tn(0, -1, 0, 16), tn(3, 0, 12, 16), tn(2, 0, 4, 12), tn(1, 0, 0, 4),
                                           tn(5, 2, 8, 12), tn(4, 2, 4, 8)};  // children listed against key order
  const TreeLayoutStyle style;
  const TreeLayout l = layout_tree(nodes, style);
  expect_tidy(nodes, l);
  EXPECT_EQ(l.levels, 3);
  EXPECT_EQ(l.columns, 4);
  EXPECT_FLOAT_EQ(l.width, 2 * style.margin + 4 * style.box_w + 3 * style.h_gap);
  EXPECT_FLOAT_EQ(l.height, 2 * style.margin + 3 * style.box_h + 2 * style.v_gap);
  EXPECT_EQ(l.edges.size(), 5u);
  // #1 is a leaf at depth 1 in the first column; #4 and #5 at depth 2 in the next two.
  EXPECT_FLOAT_EQ(l.boxes[3].rect.x, style.margin);
  EXPECT_EQ(l.boxes[5].depth, 2);
  EXPECT_LT(centre_x(l.boxes[5]), centre_x(l.boxes[4]));
}

// A B-tree cascade that splits the root adds a level: the old root moves under the new one.
TEST(GuiTreeLayout, ARootSplitAddsALevel) {
  const std::vector<TreeNodeView> before = {tn(0, -1, 0, 16), tn(1, 0, 0, 4), tn(2, 0, 4, 8), tn(3, 0, 8, 12), tn(4, 0, 12, 16)};
  const std::vector<TreeNodeView> after = {tn(6, -1, 0, 16), tn(0, 6, 0, 8),  tn(1, 0, 0, 4),  tn(2, 0, 4, 8),
                                           tn(5, 6, 8, 16),  tn(3, 5, 8, 12), tn(4, 5, 12, 16)};
  const TreeLayout a = layout_tree(before), b = layout_tree(after);
  expect_tidy(before, a);
  expect_tidy(after, b);
  EXPECT_EQ(a.levels, 2);
  EXPECT_EQ(b.levels, 3);
  EXPECT_EQ(b.boxes[0].depth, 0);  // the new root
  EXPECT_EQ(b.boxes[1].depth, 1);  // the old one, under it
  EXPECT_EQ(b.boxes[2].depth, 2);
  EXPECT_GT(b.height, a.height);
}

// No nodes, a node whose parent is missing (drawn as one more root), and a degenerate chain as
// deep as it has nodes (no recursion to overflow).
TEST(GuiTreeLayout, EdgeCases) {
  const TreeLayout none = layout_tree({});
  EXPECT_TRUE(none.boxes.empty());
  EXPECT_EQ(none.levels, 0);

  const std::vector<TreeNodeView> orphan = {tn(0, -1, 0, 8), tn(1, 0, 0, 8), tn(2, 9, 8, 16)};
  const TreeLayout o = layout_tree(orphan);
  expect_tidy({tn(0, -1, 0, 8), tn(1, 0, 0, 8), tn(2, -1, 8, 16)}, o);
  EXPECT_EQ(o.boxes[2].depth, 0);
  EXPECT_GT(o.boxes[2].rect.x, o.boxes[0].rect.x);

  std::vector<TreeNodeView> chain;
  for (int i = 0; i < 5000; ++i) chain.push_back(tn(i, i - 1, 0, 16));
  const TreeLayout c = layout_tree(chain);
  EXPECT_EQ(c.levels, 5000);
  EXPECT_EQ(c.columns, 1);
  EXPECT_FLOAT_EQ(c.boxes.back().rect.x, c.boxes.front().rect.x);
}
