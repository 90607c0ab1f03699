// What the GUI reads is user input too: a run directory (events.jsonl, trace.json, metrics.json)
// from another machine or an older simulator, or the live stream of a child process. Real runs of
// shipped scenarios on the flow engine, with their trace.json and live stream, are mutated at
// random (a value changed inside a line, a line deleted, duplicated, swapped or cut short) and
// read back. Reading never throws; problems name the file and line; and whatever was accepted
// gives states the panels can draw: every host, block range and chain hop inside the run's
// hosts and blocks, finite non-negative series, transfer progress in [0, 1].
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <typeinfo>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "gui/event_stream.hpp"
#include "gui/run_loader.hpp"
#include "gui/swarm_state.hpp"
#include "gui/tree_layout.hpp"
#include "sim/flow/flow_simulation.hpp"
#include "sim/flow/flow_tree.hpp"
#include "sim/output/chrome_trace.hpp"
#include "sim/pricing.hpp"
#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/json_mutation.hpp"

using namespace swarmsim::gui;
using nlohmann::json;
namespace fs = std::filesystem;
namespace sim = swarmsim::sim;

namespace {

/// A real run's files: events.jsonl and trace.json lines, and the live stream's lines.
struct RecordedRun {
  std::vector<std::string> events, live;
  json trace, metrics;
};

std::vector<std::string> read_lines(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// Runs `scenario` (shipped) on the flow engine, writing events.jsonl and trace.json and
/// recording the live stream.
RecordedRun record(const std::string& scenario, const std::vector<sim::Override>& overrides) {
  sim::Scenario sc = sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + scenario, overrides);
  sc.engine = sim::EngineKind::Flow;
  const fs::path dir = fs::path(::testing::TempDir()) / ("replay-fuzz-src-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  RecordedRun run;
  sim::SimSignals signals;
  EventStreamWriter live(sc, [&](const std::string& line) { run.live.push_back(line); });
  live.connect(signals);
  sim::RunOptions options;
  options.out_dir = dir;
  options.progress = sim::RunOptions::Progress::Never;
  sim::RunReport r;
  if (sc.tree) {
    r = sim::flow::run_flow_tree(sc, options, signals);  // it writes its own trace.json
  } else {
    sim::ChromeTraceWriter trace(sc, dir / "trace.json");
    trace.connect(signals);
    r = sim::flow::run_flow_engine(sc, sim::make_cost_model(sc), signals, options);
    trace.finish();
  }
  live.finish(r.simulated_time);
  run.events = read_lines(dir / "events.jsonl");
  std::ifstream t(dir / "trace.json");
  run.trace = json::parse(t);
  run.metrics = r.metrics;
  return run;
}

/// One random change to a list of JSON lines: a value inside a line mutated, or a line deleted,
/// duplicated, swapped with its neighbour, or cut short.
std::string mutate_lines(std::vector<std::string>& lines, sim::Rng& rng) {
  const std::size_t i = rng.below(lines.size());
  const double u = rng.uniform();
  const std::string at = "line " + std::to_string(i + 1) + ": ";
  if (u < 0.6) {
    json doc = json::parse(lines[i], nullptr, false);
    if (doc.is_discarded()) return at + "kept (an earlier mutation cut it short)";
    const std::string what = swarmsim::testing::mutate_json(doc, rng);
    lines[i] = doc.dump();
    return at + what;
  }
  if (u < 0.7) {
    lines.erase(lines.begin() + static_cast<long>(i));
    return at + "deleted";
  }
  if (u < 0.8) {
    lines.insert(lines.begin() + static_cast<long>(i), lines[i]);
    return at + "duplicated";
  }
  if (u < 0.9 && i + 1 < lines.size()) {
    std::swap(lines[i], lines[i + 1]);
    return at + "swapped with the next";
  }
  lines[i] = lines[i].substr(0, rng.below(lines[i].size() + 1));
  return at + "cut short";
}

/// What the panels rely on, checked on the states and series of `tl` at a few times.
void expect_drawable(const Timeline& tl, const std::string& where) {
  const SwarmInfo& info = tl.info();
  const int H = static_cast<int>(info.hosts.size());
  ASSERT_LE(info.n_servers, H) << where;
  const auto in_blocks = [&](const BlockRange& r) { return r.start >= 0 && r.start <= r.end && r.end <= info.n_blocks; };
  const double end = tl.end_time();
  ASSERT_TRUE(std::isfinite(end)) << where;
  for (const double T : {0.0, end / 3, end / 2, end, end + 1}) {
    const SwarmState s = tl.state_at(T);
    ASSERT_EQ(static_cast<int>(s.nodes.size()), H) << where << " at " << T;
    for (int i = 0; i < H; ++i) {
      EXPECT_TRUE(in_blocks(s.nodes[i].blocks)) << where << " at " << T << ": host " << i << " blocks ["
                                                << s.nodes[i].blocks.start << ", " << s.nodes[i].blocks.end << ")";
      EXPECT_GE(s.nodes[i].sessions_in_flight, 0) << where << " at " << T << ": host " << i;
      EXPECT_TRUE(std::isfinite(s.up_seconds(i)) && s.up_seconds(i) >= 0) << where << " at " << T << ": host " << i;
      EXPECT_TRUE(std::isfinite(s.nodes[i].kv_bytes) && s.nodes[i].kv_bytes >= 0 && s.nodes[i].kv_peak_bytes >= s.nodes[i].kv_bytes)
          << where << " at " << T << ": host " << i << " KV " << s.nodes[i].kv_bytes << " peak " << s.nodes[i].kv_peak_bytes;
      for (const float v : tl.kv_use(i, T, 20).values) EXPECT_TRUE(std::isfinite(v) && v >= 0) << where << " at " << T << ": host " << i << " KV " << v;
    }
    for (const auto& [id, session] : s.sessions) {
      EXPECT_TRUE(session.client >= -1 && session.client < H) << where << " at " << T << ": session " << id;
      for (const ChainHop& hop : session.chain) {
        EXPECT_TRUE(hop.node >= 0 && hop.node < info.n_servers) << where << " at " << T << ": session " << id << " hop " << hop.node;
        EXPECT_TRUE(in_blocks(hop.blocks)) << where << " at " << T << ": session " << id;
      }
    }
    for (const auto& [pair, traffic] : s.traffic) {
      EXPECT_TRUE(pair.first >= 0 && pair.first < H && pair.second >= 0 && pair.second < H) << where << " at " << T;
      EXPECT_TRUE(std::isfinite(traffic.bytes) && traffic.bytes >= 0) << where << " at " << T;
    }
    const auto coverage = s.coverage(info.n_blocks, info.n_servers);
    EXPECT_EQ(static_cast<int>(coverage.size()), info.n_blocks) << where;
    for (int b = 0; b < info.n_blocks; ++b)
      for (const int server : s.servers_of_block(b)) EXPECT_TRUE(server >= 0 && server < info.n_servers) << where;
    // A tree's nodes: keys among the run's keys, servers among its servers, and a layout with a
    // box per node.
    for (const TreeNodeView& n : s.tree.nodes) {
      EXPECT_TRUE(n.lo >= 0 && n.lo < n.hi && n.hi <= info.n_blocks) << where << " at " << T << ": tree node " << n.id;
      EXPECT_TRUE(n.server >= 0 && n.server < info.n_servers) << where << " at " << T << ": tree node " << n.id;
    }
    EXPECT_EQ(layout_tree(s.tree.nodes).boxes.size(), s.tree.nodes.size()) << where << " at " << T;
    for (const TimeSeries& series : {tl.throughput(T, 50), tl.token_latency(T, 50)})
      for (const float v : series.values) EXPECT_TRUE(std::isfinite(v) && v >= 0) << where << " at " << T << ": " << v;
    for (const Timeline::ActiveTransfer& a : tl.transfers_at(T)) {
      EXPECT_TRUE(a.progress >= 0 && a.progress <= 1) << where << " at " << T << ": progress " << a.progress;
      EXPECT_TRUE(a.from >= 0 && a.from < H && a.to >= 0 && a.to < H) << where << " at " << T;
    }
  }
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  return text;
}

/// Shipped runs with failures, transfer retries and recoveries, link changes and flapping nodes,
/// cut to 8 new tokens per session so that a mutant reads in milliseconds; and a Fisher B-tree
/// that splits and fails over, cut to 600 requests at 50/s (still past both failures).
const std::vector<RecordedRun>& recorded_runs() {
  static const std::vector<RecordedRun> runs{
      record("routing/churn.json", {{"workload.new_tokens", "8"}}),
      record("routing/congested-link.json", {{"workload.new_tokens", "8"}}),
      record("routing/flapping-node.json", {{"workload.new_tokens", "8"}}),
      record("tree/fisher-btree-failures.json", {{"workload.sessions", "600"}, {"workload.arrival.rate", "\"50/s\""}}),
  };
  return runs;
}

}  // namespace

TEST(GuiReplayFuzz, MutatedRunDirectoriesLoadOrNameTheLineAndStayDrawable) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("replay-fuzz-" + std::to_string(::getpid()));
  sim::Rng rng = swarmsim::testing::fuzz_rng(43);
  int clean = 0, with_errors = 0;
  const int n = swarmsim::testing::fuzz_mutants(150);
  for (const RecordedRun& source : recorded_runs()) {
    ASSERT_GT(source.events.size(), 50u);
    for (int k = 0; k < n; ++k) {
      std::vector<std::string> events = source.events;
      json trace = source.trace, metrics = source.metrics;
      std::string where;
      const double u = rng.uniform();
      if (u < 0.6) {
        where = "events.jsonl " + mutate_lines(events, rng);
        if (rng.uniform() < 0.3) where += "; " + mutate_lines(events, rng);
      } else if (u < 0.9) {
        where = "trace.json " + swarmsim::testing::mutate_json_once_or_twice(trace, rng);
      } else {
        where = "metrics.json " + swarmsim::testing::mutate_json(metrics, rng);
      }
      fs::remove_all(dir);
      fs::create_directories(dir);
      std::ofstream(dir / "events.jsonl", std::ios::binary) << join_lines(events);
      std::ofstream(dir / "trace.json", std::ios::binary) << trace.dump();
      std::ofstream(dir / "metrics.json", std::ios::binary) << metrics.dump();
      try {
        const RunDirectory run = load_run_directory(dir);
        (run.ok() ? clean : with_errors)++;
        for (const std::string& e : run.errors) EXPECT_EQ(e.rfind((dir / "events.jsonl").string() + ":", 0), 0u) << where << ": " << e;
        expect_drawable(run.timeline, where);
      } catch (const std::exception& e) {
        ADD_FAILURE() << where << ": threw " << typeid(e).name() << ": " << e.what();
      }
    }
  }
  std::printf("%d mutated run directories loaded cleanly, %d with errors\n", clean, with_errors);
  if (n >= 150) {
    EXPECT_GT(clean, 100);
    EXPECT_GT(with_errors, 50);
  }
}

TEST(GuiReplayFuzz, MutatedLiveStreamsStopAtTheFirstBadLineAndStayDrawable) {
  sim::Rng rng = swarmsim::testing::fuzz_rng(47);
  int clean = 0, stopped = 0;
  const int n = swarmsim::testing::fuzz_mutants(150);
  for (const RecordedRun& source : recorded_runs()) {
    ASSERT_GT(source.live.size(), 200u);
    for (int k = 0; k < n; ++k) {
      std::vector<std::string> lines = source.live;
      std::string where = "live " + mutate_lines(lines, rng);
      if (rng.uniform() < 0.3) where += "; " + mutate_lines(lines, rng);
      try {
        Timeline tl;
        EventLineReader reader("live run");
        for (const std::string& line : lines)
          if (!reader.feed(line, tl)) break;
        if (reader.failed()) {
          ++stopped;
          EXPECT_EQ(reader.error().rfind("live run:", 0), 0u) << where << ": " << reader.error();
        } else {
          ++clean;
        }
        expect_drawable(tl, where);
      } catch (const std::exception& e) {
        ADD_FAILURE() << where << ": threw " << typeid(e).name() << ": " << e.what();
      }
    }
  }
  std::printf("%d mutated live streams read to the end, %d stopped at a bad line\n", clean, stopped);
  if (n >= 150) {
    EXPECT_GT(clean, 50);
    EXPECT_GT(stopped, 50);
  }
}
