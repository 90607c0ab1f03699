// swarmsim-gui --screenshot under Xvfb: the PNG is written, is not blank, and shows each node's
// marker at the pixel its coordinates project to (the projection and layout functions of
// gui/view_geometry.hpp, the ones the renderer uses); a failed node is drawn down; a Fisher
// B-tree's splits and merges are outlined; bad input is reported in the window and on stderr with
// a non-zero exit, never a crash.
//
// These tests need an X display: they run the GUI through `xvfb-run -a` (scripts/setup.sh installs
// xvfb), or on $DISPLAY when xvfb-run is missing. With neither they FAIL, they do not skip: CI
// has xvfb, so a missing one is a broken set-up, not a reason to pass.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <stb_image.h>

#include "gui/tree_layout.hpp"
#include "gui/view_geometry.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/gui/tree_run_lines.hpp"

using namespace swarmsim;
namespace fs = std::filesystem;

namespace {

const std::string kSource = SWARMSIM_SOURCE_DIR;
const std::string kScenario = kSource + "/scenarios/table2/llama3-8b-1gbps-rtt5ms.json";
constexpr int kW = 1280, kH = 800;

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool on_path(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

struct Result {
  int code = -1;
  std::string err;
};

/// Runs `program args` (under xvfb-run when `display`), returns its exit code and stderr.
Result run(const std::string& program, const std::vector<std::string>& args, bool display, const fs::path& dir) {
  std::string cmd;
  if (display) {
    if (on_path("xvfb-run")) {
      // Our own auth file: xvfb-run then makes no temporary directory, whose removal raced with
      // the exiting X server and made xvfb-run exit 5 ("problem while cleaning up").
      cmd = "xvfb-run -a -f " + quote((dir / "Xauthority").string()) + " -s '-screen 0 1600x1000x24' ";
    } else if (std::getenv("DISPLAY") == nullptr || std::string(std::getenv("DISPLAY")).empty()) {
      ADD_FAILURE() << "no X display: neither xvfb-run nor $DISPLAY is available. Install xvfb (scripts/setup.sh) "
                       "to run the GUI screenshot tests.";
      return {};
    }
  }
  cmd += quote(program);
  for (const std::string& a : args) cmd += " " + quote(a);
  const fs::path err = dir / "stderr.txt";
  cmd += " >" + quote((dir / "stdout.txt").string()) + " 2>" + quote(err.string());
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  std::ifstream in(err);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

struct Image {
  int w = 0, h = 0;
  std::vector<unsigned char> rgb;
  const unsigned char* at(int x, int y) const { return &rgb[(static_cast<std::size_t>(y) * w + x) * 3]; }
};

Image load_png(const fs::path& file) {
  Image img;
  int n = 0;
  unsigned char* data = stbi_load(file.string().c_str(), &img.w, &img.h, &n, 3);
  if (!data) return img;
  img.rgb.assign(data, data + static_cast<std::size_t>(img.w) * img.h * 3);
  stbi_image_free(data);
  return img;
}

/// Pixels unlike the most common colour, and the number of distinct colours (coarse).
void content(const Image& img, double& non_background, std::size_t& colours) {
  std::map<unsigned, std::size_t> hist;
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < img.w; ++x) {
      const unsigned char* p = img.at(x, y);
      ++hist[(p[0] >> 3) << 10 | (p[1] >> 3) << 5 | (p[2] >> 3)];
    }
  std::size_t top = 0;
  for (const auto& [c, n] : hist) top = std::max(top, n);
  non_background = 1.0 - static_cast<double>(top) / (static_cast<double>(img.w) * img.h);
  colours = hist.size();
}

/// Whether a pixel within `radius` of (x, y) has colour `abgr` (0xAABBGGRR) within `tol` per channel.
bool colour_near(const Image& img, float x, float y, std::uint32_t abgr, int radius = 3, int tol = 12) {
  const int r = abgr & 0xFF, g = (abgr >> 8) & 0xFF, b = (abgr >> 16) & 0xFF;
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx) {
      const int px = static_cast<int>(std::lround(x)) + dx, py = static_cast<int>(std::lround(y)) + dy;
      if (px < 0 || py < 0 || px >= img.w || py >= img.h) continue;
      const unsigned char* p = img.at(px, py);
      if (std::abs(p[0] - r) <= tol && std::abs(p[1] - g) <= tol && std::abs(p[2] - b) <= tol) return true;
    }
  return false;
}

/// Pixels inside `r` of colour `abgr` (0xAABBGGRR) within `tol` per channel.
int count_colour(const Image& img, const gui::PixelRect& r, std::uint32_t abgr, int tol = 12) {
  const int cr = abgr & 0xFF, cg = (abgr >> 8) & 0xFF, cb = (abgr >> 16) & 0xFF;
  int n = 0;
  for (int y = std::max(0, static_cast<int>(r.y)); y < std::min(img.h, static_cast<int>(r.y + r.h)); ++y)
    for (int x = std::max(0, static_cast<int>(r.x)); x < std::min(img.w, static_cast<int>(r.x + r.w)); ++x) {
      const unsigned char* p = img.at(x, y);
      n += std::abs(p[0] - cr) <= tol && std::abs(p[1] - cg) <= tol && std::abs(p[2] - cb) <= tol;
    }
  return n;
}

/// Expected marker centre of every host (servers then clients), as the renderer computes it.
std::vector<std::pair<float, float>> expected_centres(const sim::Scenario& sc) {
  std::vector<const topology::GeoPoint*> locs;
  for (const auto& n : sc.nodes) locs.push_back(n.location ? &*n.location : nullptr);
  for (const auto& c : sc.clients) locs.push_back(c.location ? &*c.location : nullptr);
  bool schematic = false;
  const auto pos = gui::host_positions(locs, schematic);
  const gui::MapView view = gui::fit_map_view(pos, gui::compute_layout(kW, kH).world);
  std::vector<std::pair<float, float>> out;
  for (const auto& p : pos) {
    float x, y;
    gui::project(view, p, x, y);
    out.emplace_back(x, y);
  }
  return out;
}

std::vector<std::string> size_args() { return {"--size", std::to_string(kW) + "x" + std::to_string(kH)}; }

}  // namespace

// A shipped scenario, run live in the GUI's child process, rendered at t = 35 s (the session in
// flight): the PNG has the window's size, real content, and every node's marker, in its GPU
// kind's colour, where its latitude and longitude project.
TEST(GuiScreenshot, ShippedScenarioShowsNodeMarkersAtTheirCoordinates) {
  const fs::path dir = fresh_dir("gui-shot");
  const fs::path png = dir / "table2.png";
  std::vector<std::string> args = {kScenario, "--screenshot", png.string(), "--at", "35"};
  for (const auto& a : size_args()) args.push_back(a);
  const Result r = run(SWARMSIM_GUI_EXE, args, true, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(png)) << r.err;
  const Image img = load_png(png);
  ASSERT_EQ(img.w, kW);
  ASSERT_EQ(img.h, kH);
  double non_bg = 0;
  std::size_t colours = 0;
  content(img, non_bg, colours);
  EXPECT_GT(non_bg, 0.2) << "the image is mostly one colour";
  EXPECT_GT(colours, 40u) << "the image has almost no distinct colours";

  const sim::Scenario sc = sim::load_scenario_file(kScenario);
  const auto centres = expected_centres(sc);
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) {
    const auto [x, y] = centres[i];
    EXPECT_TRUE(gui::compute_layout(kW, kH).world.contains(x, y));
    EXPECT_TRUE(colour_near(img, x, y, gui::device_color(sc.nodes[i].device->name)))
        << sc.nodes[i].name << " (" << sc.nodes[i].device->name << ") not drawn at (" << x << ", " << y << ")";
  }
  const auto [cx, cy] = centres[sc.nodes.size()];
  EXPECT_TRUE(colour_near(img, cx, cy, gui::device_color(sc.clients[0].device->name))) << "client marker";
  // No temporary file left behind by the atomic write.
  for (const auto& f : fs::directory_iterator(dir)) EXPECT_EQ(f.path().string().find(".tmp-"), std::string::npos) << f.path();
}

// A run directory written by `swarmsim run --out`, with l4-1 and the client failing at 35 s: at
// 36 s the GUI draws both down (grey, crossed out) and the other servers in their colours.
TEST(GuiScreenshot, ReplayedRunDrawsAFailedNodeDown) {
  const fs::path dir = fresh_dir("gui-replay-shot");
  const fs::path run_dir = dir / "run";
  const Result sim_run = run(SWARMSIM_CLI_EXE,
                             {"run", kScenario, "--out", run_dir.string(), "--set",
                              R"(events=[{"at": "35s", "action": "node_down", "node": "l4-1"}, {"at": "35s", "action": "node_down", "node": "client"}])"},
                             false, dir);
  ASSERT_EQ(sim_run.code, 0) << sim_run.err;
  const fs::path png = dir / "down.png";
  std::vector<std::string> args = {run_dir.string(), "--screenshot", png.string(), "--at", "36"};
  for (const auto& a : size_args()) args.push_back(a);
  const Result r = run(SWARMSIM_GUI_EXE, args, true, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const Image img = load_png(png);
  ASSERT_EQ(img.w, kW);
  const sim::Scenario sc = sim::load_scenario_file(kScenario);
  const auto centres = expected_centres(sc);
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) {
    const auto [x, y] = centres[i];
    const bool down = sc.nodes[i].name == "l4-1";
    EXPECT_EQ(colour_near(img, x, y, gui::device_color(sc.nodes[i].device->name), 2), !down) << sc.nodes[i].name;
    if (down) {
      EXPECT_TRUE(colour_near(img, x, y, 0xFF3232FFu, 4, 30)) << "l4-1 red cross";
    }
  }
  const auto [cx, cy] = centres[sc.nodes.size()];
  EXPECT_FALSE(colour_near(img, cx, cy, gui::device_color(sc.clients[0].device->name), 2)) << "the client is down, not in its colour";
  EXPECT_TRUE(colour_near(img, cx, cy, 0xFF3232FFu, 3, 30)) << "client red cross";
}

// A Fisher B-tree run (tests/gui/tree_run_lines.hpp, hand-written): the Tree tab, in the taller
// bottom-left panel of a tree run, outlines the node that is splitting in yellow while its new
// node loads (1.2 s), the new node in green once it serves (1.5 s), and the merge's kept node in
// orange (3.5 s); each outline only when it applies.
TEST(GuiScreenshot, TreeRunHighlightsSplitsAndMerges) {
  const fs::path dir = fresh_dir("gui-tree");
  const fs::path run_dir = dir / "run";
  fs::create_directories(run_dir);
  {
    std::ofstream out(run_dir / "events.jsonl");
    for (int i = 0; i < test::kTreeRunLines; ++i) out << test::kTreeRun[i] << '\n';
  }
  const gui::PixelRect tree = gui::compute_layout(kW, kH, true).coverage;
  const auto shot = [&](const char* at) {
    const fs::path png = dir / (std::string("tree-") + at + ".png");
    std::vector<std::string> args = {run_dir.string(), "--screenshot", png.string(), "--at", at};
    for (const auto& a : size_args()) args.push_back(a);
    const Result r = run(SWARMSIM_GUI_EXE, args, true, dir);
    EXPECT_EQ(r.code, 0) << r.err;
    return load_png(png);
  };
  const std::uint32_t split = gui::tree_mark_color(gui::TreeMark::Split), created = gui::tree_mark_color(gui::TreeMark::Created),
                      merged = gui::tree_mark_color(gui::TreeMark::Merged);
  const Image loading = shot("1.2");
  ASSERT_EQ(loading.w, kW);
  EXPECT_GT(count_colour(loading, tree, split), 100) << "#2 splitting, outlined in yellow";
  EXPECT_EQ(count_colour(loading, tree, created), 0) << "#3 still loading: dashed grey, not green";
  const Image serving = shot("1.5");
  EXPECT_GT(count_colour(serving, tree, created), 100) << "#3 serving, outlined in green";
  EXPECT_EQ(count_colour(serving, tree, merged), 0);
  const Image merge = shot("3.5");
  EXPECT_GT(count_colour(merge, tree, merged), 100) << "#1 kept by the merge, outlined in orange";
}

// A directory that does not exist: the error is on stderr and in the window; exit code 2.
TEST(GuiScreenshot, MissingRunDirectoryIsReportedNotCrashed) {
  const fs::path dir = fresh_dir("gui-missing");
  const fs::path png = dir / "missing.png";
  const Result r = run(SWARMSIM_GUI_EXE, {"/nonexistent/swarmsim-run-dir", "--screenshot", png.string()}, true, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/swarmsim-run-dir: no such file or directory"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(png)) << "the error is rendered into the screenshot";
  double non_bg = 0;
  std::size_t colours = 0;
  content(load_png(png), non_bg, colours);
  EXPECT_GT(colours, 5u);
  // The error window's red title bar (ImVec4(0.6, 0.1, 0.1)) is in the picture.
  const Image img = load_png(png);
  bool red_title = false;
  for (int y = 0; y < img.h && !red_title; ++y)
    for (int x = 0; x < img.w && !red_title; ++x) {
      const unsigned char* p = img.at(x, y);
      red_title = std::abs(p[0] - 153) <= 3 && std::abs(p[1] - 26) <= 3 && std::abs(p[2] - 26) <= 3;
    }
  EXPECT_TRUE(red_title) << "no error window in the screenshot";
}

// A screenshot path that cannot be written is an error before anything runs (it used to abort
// with an uncaught filesystem_error after the run).
TEST(GuiScreenshot, UnwritableScreenshotPathIsAnErrorBeforeTheRun) {
  const fs::path dir = fresh_dir("gui-unwritable");
  const std::string scenario = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json";
  const std::string png = scenario + "/shot.png";  // under a regular file: no directory can be made there
  const Result r = run(SWARMSIM_GUI_EXE, {scenario, "--screenshot", png}, true, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("swarmsim-gui: --screenshot " + png + ": cannot create the directory"), std::string::npos) << r.err;
}

// --select names a host of the run: an unknown one exits 2 before any window opens.
TEST(GuiScreenshot, SelectingAnUnknownHostIsAnError) {
  const fs::path dir = fresh_dir("gui-select");
  const Result r = run(SWARMSIM_GUI_EXE, {kScenario, "--select", "nobody", "--screenshot", (dir / "x.png").string()}, true, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("swarmsim-gui: --select nobody: no host of that name in the run"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "x.png"));
}

// events.jsonl cut in the middle of a line: the message names the file and the line, the run is
// shown up to the last good line, and the exit code is 2.
TEST(GuiScreenshot, TruncatedEventsFileNamesFileAndLine) {
  const fs::path dir = fresh_dir("gui-truncated");
  const fs::path run_dir = dir / "run";
  ASSERT_EQ(run(SWARMSIM_CLI_EXE, {"run", kScenario, "--out", run_dir.string()}, false, dir).code, 0);
  std::ifstream in(run_dir / "events.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  in.close();
  ASSERT_GT(lines.size(), 5u);
  {
    std::ofstream out(run_dir / "events.jsonl", std::ios::trunc);
    for (int i = 0; i < 4; ++i) out << lines[static_cast<std::size_t>(i)] << '\n';
    out << lines[4].substr(0, lines[4].size() / 2);  // line 5 cut short
  }
  const fs::path png = dir / "truncated.png";
  const Result r = run(SWARMSIM_GUI_EXE, {run_dir.string(), "--screenshot", png.string()}, true, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find((run_dir / "events.jsonl").string() + ":5: "), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(png));
}

// A scenario with errors: the loader's diagnostics (file: JSON path: message) on stderr, exit 2.
TEST(GuiScreenshot, ScenarioWithErrorsShowsItsDiagnostics) {
  const fs::path dir = fresh_dir("gui-bad-scenario");
  const std::string bad = kSource + "/tests/data/bad_scenarios/16_event_unknown_node.json";
  const fs::path png = dir / "bad.png";
  const Result r = run(SWARMSIM_GUI_EXE, {bad, "--screenshot", png.string()}, true, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("16_event_unknown_node.json: events[0].node"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(png));
}
