// The GUI's state model without a simulation: reading events.jsonl, what it reports at time T,
// bad input (missing directory, truncated or malformed lines), seeking, and the map projection.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "gui/app.hpp"
#include "gui/run_loader.hpp"
#include "gui/swarm_state.hpp"
#include "gui/view_geometry.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/client_outages.hpp"
#include "tests/gui/run_files.hpp"

using namespace swarmsim::gui;
namespace fs = std::filesystem;

using swarmsim::test::write_run;

namespace {

// Two servers (a holds blocks 0-3, b blocks 4-7) and one client. b goes down at 5 s while session
// 0 runs through both; session 1 waits for b to come back (up at 6 s, loaded at 6.5 s).
//
//   t   0.5 a joins   0.8 b joins   1 s0 starts, chain a>b   5 b down, s0 fails
//   5.5 s1 starts     6 b up        6.5 b joins              7 s1 chain a>b   9 s1 done
const char* kRun[] = {
    R"({"t":0.0,"type":"run_start","scenario":"tiny","seed":1,"model":"m","n_blocks":8,)"
    R"("nodes":[{"name":"a","gpu":"L4","memory_bytes":25769803776.0,"uplink_Bps":1e8,"downlink_Bps":1e8,"location":{"lat":50,"lon":8}},)"
    R"({"name":"b","gpu":"GTX-1650","memory_bytes":4294967296.0,"uplink_Bps":1e8,"downlink_Bps":1e8,"location":{"lat":48.8,"lon":2.3}}],)"
    R"("clients":[{"name":"c","device":"cpu-generic","location":{"lat":52.5,"lon":13.4}}]})",
    R"({"t":0.5,"type":"node_join","node":"a","blocks":{"start":0,"end":4},"load_started":0.0})",
    R"({"t":0.8,"type":"node_join","node":"b","blocks":{"start":4,"end":8},"load_started":0.0})",
    R"({"t":1.0,"type":"session_start","session":0,"client":"c"})",
    R"({"t":1.0,"type":"chain_formed","session":0,"attempt":1,"hops":[{"node":"a","blocks":{"start":0,"end":4}},{"node":"b","blocks":{"start":4,"end":8}}],"cost":1.5})",
    R"({"t":2.0,"type":"link_change","action":"set_bandwidth","node":"a","direction":"up","bandwidth_Bps":1e6})",
    R"({"t":5.0,"type":"node_down","node":"b"})",
    R"({"t":5.0,"type":"session_failed","session":0,"tokens":3,"reason":"b went down during decode step 3"})",
    R"({"t":5.5,"type":"session_start","session":1,"client":"c"})",
    R"({"t":6.0,"type":"node_up","node":"b"})",
    R"({"t":6.5,"type":"node_join","node":"b","blocks":{"start":4,"end":8},"load_started":6.0})",
    R"({"t":7.0,"type":"chain_formed","session":1,"attempt":3,"hops":[{"node":"a","blocks":{"start":0,"end":4}},{"node":"b","blocks":{"start":4,"end":8}}],"cost":1.7})",
    R"({"t":9.0,"type":"session_done","session":1,"tokens":8})",
    R"({"t":9.0,"type":"run_end"})",
};
constexpr int kLines = sizeof kRun / sizeof kRun[0];

bool any_contains(const std::vector<std::string>& messages, const std::string& part) {
  return std::any_of(messages.begin(), messages.end(), [&](const std::string& m) { return m.find(part) != std::string::npos; });
}

std::string lines(int first, int last) {  // kRun[first..last), each with '\n'
  std::string s;
  for (int i = first; i < last; ++i) s += std::string(kRun[i]) + "\n";
  return s;
}


/// Appends `n` events 10 ms apart to `tl`, each filled in by `fill(k, e)` once its time is set;
/// returns them, for replay_until.
std::vector<SwarmEvent> append_every_10ms(Timeline& tl, int n, const std::function<void(int, SwarmEvent&)>& fill) {
  std::vector<SwarmEvent> all;
  double t = 0;
  for (int k = 0; k < n; ++k) {
    SwarmEvent e;
    e.t = (t += 0.01);
    fill(k, e);
    all.push_back(e);
    EXPECT_TRUE(tl.append(e)) << "event " << k;
  }
  return all;
}

/// Servers a and b (L4) and client c, for timelines built event by event: 4 blocks.
SwarmInfo two_servers_and_a_client() {
  SwarmInfo info;
  info.n_blocks = 4;
  info.n_servers = 2;
  info.hosts = {{"a", "L4", true, 1e9, 1e8, 1e8, {}}, {"b", "L4", true, 1e9, 1e8, 1e8, {}}, {"c", "cpu", false, 0, 1e8, 1e8, {}}};
  return info;
}

/// The state at T by replaying every event of `all` from the start: what seeking must equal.
SwarmState replay_until(const SwarmInfo& info, const std::vector<SwarmEvent>& all, double T) {
  SwarmState full = initial_state(info);
  for (const SwarmEvent& e : all)
    if (e.t <= T) apply_event(full, info, e);
  return full;
}

}  // namespace

TEST(GuiStateModel, ReportsNodesCoverageAndChainsAtT) {
  const RunDirectory run = load_run_directory(write_run("tiny", lines(0, kLines)));
  ASSERT_TRUE(run.ok()) << run.errors.front();
  const Timeline& tl = run.timeline;
  ASSERT_EQ(tl.info().n_servers, 2);
  ASSERT_EQ(tl.info().hosts.size(), 3u);
  ASSERT_TRUE(tl.info().hosts[2].location);
  EXPECT_DOUBLE_EQ(tl.info().hosts[2].location->lon_deg, 13.4);

  SwarmState s = tl.state_at(0.6);  // a serves, b loading
  EXPECT_TRUE(s.nodes[0].serving);
  EXPECT_FALSE(s.nodes[1].serving);
  EXPECT_EQ(s.servers_of_block(2), std::vector<int>{0});
  EXPECT_TRUE(s.servers_of_block(5).empty());

  s = tl.state_at(3.0);  // session 0 in flight through a and b
  ASSERT_EQ(s.sessions.size(), 1u);
  EXPECT_EQ(s.sessions.at(0).chain.size(), 2u);
  EXPECT_EQ(s.nodes[0].sessions_in_flight, 1);
  EXPECT_EQ(s.nodes[1].sessions_in_flight, 1);
  EXPECT_DOUBLE_EQ(s.nodes[0].uplink_Bps, 1e6);
  EXPECT_DOUBLE_EQ(s.nodes[0].downlink_Bps, 1e8);

  EXPECT_EQ(s.nodes[1].failures, 0);
  s = tl.state_at(5.0);  // b down, session 0 failed, blocks 4-7 uncovered
  EXPECT_EQ(s.nodes[1].failures, 1);
  EXPECT_EQ(s.nodes[0].failures, 0);
  EXPECT_FALSE(s.nodes[1].up);
  EXPECT_FALSE(s.nodes[1].serving);
  EXPECT_TRUE(s.sessions.empty());
  EXPECT_EQ(s.sessions_failed, 1);
  EXPECT_EQ(s.nodes[1].sessions_in_flight, 0);
  const auto cov = s.coverage(8, 2);
  EXPECT_TRUE(cov[0][0]);
  EXPECT_FALSE(cov[5][1]);

  s = tl.state_at(6.2);  // b up again but still loading; session 1 waits without a chain
  EXPECT_TRUE(s.nodes[1].up);
  EXPECT_FALSE(s.nodes[1].serving);
  ASSERT_EQ(s.sessions.size(), 1u);
  EXPECT_TRUE(s.sessions.at(1).chain.empty());

  s = tl.state_at(8.0);
  EXPECT_TRUE(s.nodes[1].serving);
  EXPECT_EQ(s.sessions.at(1).attempt, 3);
  EXPECT_EQ(s.nodes[0].chains, 2);

  s = tl.state_at(100.0);
  EXPECT_TRUE(s.ended);
  EXPECT_EQ(s.sessions_done, 1);
  EXPECT_TRUE(s.sessions.empty());
  // b served 0.8-5 and 6.5-100 s
  EXPECT_NEAR(s.up_seconds(1), 4.2 + 93.5, 1e-9);
  EXPECT_EQ(s.nodes[1].failures, 1);
}

// The blocks without a server, counted as metrics.json counts them: from the workload's start
// (the header's workload_start_s), or from the first session when the header has none.
TEST(GuiStateModel, CountsEachBlocksTimeWithoutAServer) {
  // kRun's header has no workload start: from s0 at 1 s, only b's blocks 4-7 lack a server, 5 s to 6.5 s.
  const RunDirectory old_header = load_run_directory(write_run("tiny-unserved-old", lines(0, kLines)));
  ASSERT_TRUE(old_header.ok()) << old_header.errors.front();
  const SwarmState end = old_header.timeline.state_at(9.0);
  ASSERT_EQ(end.unserved_ranges().size(), 1u);
  EXPECT_EQ(end.unserved_ranges()[0].blocks, (swarmsim::sim::BlockRange{4, 8}));
  EXPECT_NEAR(end.unserved_ranges()[0].unserved_s, 1.5, 1e-12);
  EXPECT_EQ(unserved_text(end), "blocks 4-7 had no server for 1.500 s since the workload started");
  EXPECT_NEAR(old_header.timeline.state_at(6.0).unserved_ranges().at(0).unserved_s, 1.0, 1e-12);  // while b reloads
  EXPECT_EQ(unserved_text(old_header.timeline.state_at(4.0)), "no block without a server since the workload started");

  // With the workload starting at 0, blocks 0-3 also waited 0.5 s for a, and 4-7 0.8 s for b.
  std::string header = kRun[0];
  header.insert(header.size() - 1, R"(,"workload_start_s":0)");
  const RunDirectory from_zero = load_run_directory(write_run("tiny-unserved-new", header + "\n" + lines(1, kLines)));
  ASSERT_TRUE(from_zero.ok()) << from_zero.errors.front();
  const std::vector<swarmsim::sim::UnservedRange> ranges = from_zero.timeline.state_at(9.0).unserved_ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_NEAR(ranges[0].unserved_s, 0.5, 1e-12);
  EXPECT_NEAR(ranges[1].unserved_s, 0.8 + 1.5, 1e-12);
  EXPECT_EQ(unserved_text(from_zero.timeline.state_at(9.0)),
            "some block had no server for 2.300 s; blocks 4-7 the longest, 2.300 s (2 ranges)");

  std::string negative = kRun[0];
  negative.insert(negative.size() - 1, R"(,"workload_start_s":-1)");
  const RunDirectory bad = load_run_directory(write_run("tiny-unserved-bad", negative + "\n" + lines(1, kLines)));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(any_contains(bad.errors, "\"workload_start_s\": expected a number >= 0")) << ::testing::PrintToString(bad.errors);
}

// A session its user left (workload.abandon_share) is counted apart from the swarm's failures.
TEST(GuiStateModel, AnAbandonedSessionIsNotAFailure) {
  std::string text = lines(0, kLines);
  const std::string failed = R"("reason":"b went down during decode step 3"})";
  ASSERT_NE(text.find(failed), std::string::npos);
  text.replace(text.find(failed), failed.size(), R"("reason":"abandoned by its user before decode step 3","abandoned":true})");
  const RunDirectory run = load_run_directory(write_run("tiny-abandoned", text));
  ASSERT_TRUE(run.ok()) << run.errors.front();
  const SwarmState end = run.timeline.state_at(9.0);
  EXPECT_EQ(end.sessions_abandoned, 1);
  EXPECT_EQ(end.sessions_failed, 0);
  EXPECT_TRUE(end.sessions.empty());
  std::string bad = lines(0, kLines);
  bad.replace(bad.find(failed), failed.size(), R"("reason":"x","abandoned":"yes"})");
  const RunDirectory refused = load_run_directory(write_run("tiny-abandoned-bad", bad));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(any_contains(refused.errors, "\"abandoned\": expected true or false")) << ::testing::PrintToString(refused.errors);
}

// The client goes down instead of b: the session ends with it, counted apart from failures, and
// the client (host 2) shows down while both servers keep serving.
TEST(GuiStateModel, ASessionLostWithItsClientIsNotAFailure) {
  std::string text = lines(0, kLines);
  const std::string down = R"({"t":5.0,"type":"node_down","node":"b"})";
  const std::string failed = R"("reason":"b went down during decode step 3"})";
  ASSERT_NE(text.find(down), std::string::npos);
  ASSERT_NE(text.find(failed), std::string::npos);
  text.replace(text.find(down), down.size(), R"({"t":5.0,"type":"node_down","node":"c"})");
  text.replace(text.find(failed), failed.size(), R"x("reason":"its client c went down at 5.000 s (decode step 3)","client_lost":true})x");
  const RunDirectory run = load_run_directory(write_run("tiny-client-lost", text));
  ASSERT_TRUE(run.ok()) << run.errors.front();
  const SwarmState mid = run.timeline.state_at(5.2);
  ASSERT_EQ(mid.nodes.size(), 3u);
  EXPECT_FALSE(mid.nodes[2].up) << "the client went down at 5 s";
  EXPECT_TRUE(mid.nodes[0].serving && mid.nodes[1].serving) << "a client's outage takes no server with it";
  EXPECT_EQ(mid.sessions_lost_with_client, 1);
  EXPECT_EQ(mid.sessions_failed, 0);
  EXPECT_TRUE(mid.sessions.empty());
  std::string bad = lines(0, kLines);
  bad.replace(bad.find(failed), failed.size(), R"("reason":"x","client_lost":1})");
  const RunDirectory refused = load_run_directory(write_run("tiny-client-lost-bad", bad));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(any_contains(refused.errors, "\"client_lost\": expected true or false")) << ::testing::PrintToString(refused.errors);
}

TEST(GuiStateModel, MissingDirectoryIsAClearError) {
  const RunDirectory run = load_run_directory("/nonexistent/swarmsim-run");
  ASSERT_EQ(run.errors.size(), 1u);
  EXPECT_NE(run.errors[0].find("/nonexistent/swarmsim-run: no such directory"), std::string::npos) << run.errors[0];
}

TEST(GuiStateModel, DirectoryWithoutEventsIsAClearError) {
  const fs::path dir = write_run("noevents", "");
  fs::remove(dir / "events.jsonl");
  const RunDirectory run = load_run_directory(dir);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.errors[0].find("events.jsonl: no such file"), std::string::npos) << run.errors[0];
}

// A file cut in the middle of line 9: the error names the file and line 9, and the state of the
// first 8 lines (up to t = 5) is still there.
TEST(GuiStateModel, TruncatedFileKeepsTheStateUpToTheLastGoodLine) {
  std::string text = lines(0, 8);
  const std::string cut = kRun[8];
  text += cut.substr(0, cut.size() / 2);  // no newline: the writer was interrupted
  const fs::path dir = write_run("truncated", text);
  const RunDirectory run = load_run_directory(dir);
  ASSERT_EQ(run.errors.size(), 1u);
  const std::string where = (dir / "events.jsonl").string() + ":9: ";
  EXPECT_EQ(run.errors[0].rfind(where, 0), 0u) << run.errors[0];
  EXPECT_NE(run.errors[0].find("cut short"), std::string::npos) << run.errors[0];
  ASSERT_EQ(run.timeline.events().size(), 7u);
  const SwarmState s = run.timeline.state_at(1e9);
  EXPECT_FALSE(s.nodes[1].up);
  EXPECT_EQ(s.sessions_failed, 1);
  EXPECT_FALSE(s.ended);
}

TEST(GuiStateModel, MalformedLineNamesFileAndLine) {
  std::string text = lines(0, 4) + "{\"t\": 1.5, \"type\": \"node_join\", \"node\": \"zz\", \"blocks\": {\"start\":0,\"end\":1}}\n" +
                     lines(4, kLines);
  const RunDirectory run = load_run_directory(write_run("unknown-host", text));
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.errors[0].find("events.jsonl:5: \"node\": unknown host \"zz\""), std::string::npos) << run.errors[0];
  EXPECT_EQ(run.timeline.events().size(), 3u);

  const RunDirectory bad_json = load_run_directory(write_run("bad-json", lines(0, 3) + "{oops\n" + lines(3, kLines)));
  ASSERT_FALSE(bad_json.ok());
  EXPECT_NE(bad_json.errors[0].find("events.jsonl:4: not valid JSON"), std::string::npos) << bad_json.errors[0];

  const RunDirectory no_start = load_run_directory(write_run("no-start", lines(1, kLines)));
  ASSERT_FALSE(no_start.ok());
  EXPECT_NE(no_start.errors[0].find("events.jsonl:1: the first line must be the \"run_start\" event"), std::string::npos)
      << no_start.errors[0];

  // An older graph-model pipeline's run directory (no run_start) says what it is and what to do.
  const RunDirectory pipeline = load_run_directory(
      write_run("pipeline", "{\"t\":1,\"type\":\"request_sent\",\"stage\":-1,\"request\":0}\n"));
  ASSERT_FALSE(pipeline.ok());
  EXPECT_NE(pipeline.errors[0].find("events.jsonl:1: a graph-model pipeline's events without a \"run_start\" line"),
            std::string::npos)
      << pipeline.errors[0];
  EXPECT_NE(pipeline.errors[0].find("run the scenario again"), std::string::npos) << pipeline.errors[0];

  const RunDirectory no_end = load_run_directory(write_run("no-end", lines(0, kLines - 1)));
  ASSERT_FALSE(no_end.ok());
  EXPECT_NE(no_end.errors[0].find(":" + std::to_string(kLines) + ": the file ends without a \"run_end\" line"),
            std::string::npos)
      << no_end.errors[0];
  EXPECT_EQ(no_end.timeline.state_at(1e9).sessions_done, 1);
}

// Values the panels would index or draw with are checked where they are read: each bad line is
// refused with its file, line and what was expected (the fuzz test, replay_fuzz_test.cpp, found
// chains with block ranges like {5, 2} or {65536, 8} drawn as given).
TEST(GuiStateModel, OutOfRangeValuesAreRefusedWithTheLine) {
  const std::string start = kRun[0];
  struct Case {
    std::string line;  // replaces line 5 (the first chain_formed)
    const char* message;
  };
  const Case cases[] = {
      {R"({"t":1.0,"type":"chain_formed","session":0,"hops":[{"node":"a","blocks":{"start":5,"end":2}}]})",
       "\"blocks\": blocks {start: 5, end: 2} are not a range of the model's 8 blocks (expected 0 <= start <= end <= 8)"},
      {R"({"t":1.0,"type":"chain_formed","session":0,"hops":[{"node":"a","blocks":{"start":0,"end":9}}]})",
       "are not a range of the model's 8 blocks"},
      {R"({"t":1.0,"type":"chain_formed","session":0,"hops":[{"node":"c","blocks":{"start":0,"end":4}}]})",
       "\"hops\": \"c\" is a client, not a server"},
      {R"({"t":1.0,"type":"chain_formed","session":0,"hops":{"node":"a"}})", "\"hops\": expected an array of {node, blocks}"},
      {R"({"t":1.0,"type":"chain_formed","session":0,"attempt":"2","hops":[]})", "\"attempt\": expected an integer, got \"2\""},
      {R"({"t":1.0,"type":"session_start","session":4294967296,"client":"c"})", "\"session\": expected an integer, got 4294967296"},
      {R"({"t":1e13,"type":"node_down","node":"a"})", "\"t\": expected seconds in [0, 1e12], got 10000000000000.0"},
      {R"({"t":1.0,"type":"link_change","action":"set_bandwidth","node":"a","bandwidth_Bps":-5})",
       "\"bandwidth_Bps\": expected a number >= 0, got -5"},
      {R"({"t":1.0,"type":"transfer_retry","from":"a","to":"b","given_up":"yes"})", "\"given_up\": expected true or false, got \"yes\""},
      {R"({"t":1.0,"type":"kv","node":"a","bytes":-1})", "\"bytes\": expected a number >= 0, got -1"},
      {R"({"t":1.0,"type":"kv","node":"a","bytes":1e300})", "\"bytes\": expected at most 1e18, got 1e+300"},
      {R"({"t":1.0,"type":"kv","node":"zz","bytes":10})", "\"node\": unknown host \"zz\""},
      {R"({"t":1.0,"type":"kv","node":"a","bytes":10,"waiting":2})", "\"waiting\": \"a\" is a server; only a client's sessions wait"},
      {R"({"t":1.0,"type":"kv","node":"c","bytes":10,"waiting":-1})", "\"waiting\": expected a count >= 0, got -1"},
  };
  for (const Case& c : cases) {
    const std::string text = lines(0, 4) + c.line + "\n" + lines(5, kLines);
    const fs::path dir = write_run("out-of-range", text);
    const RunDirectory run = load_run_directory(dir);
    ASSERT_FALSE(run.ok()) << c.line;
    EXPECT_EQ(run.errors[0].rfind((dir / "events.jsonl").string() + ":5: ", 0), 0u) << run.errors[0];
    EXPECT_NE(run.errors[0].find(c.message), std::string::npos) << run.errors[0];
    EXPECT_EQ(run.timeline.events().size(), 3u) << c.line;  // the events before line 5
  }
  // The header: blocks, host locations and names.
  const std::pair<std::string, const char*> headers[] = {
      {std::string(start).replace(start.find("\"n_blocks\":8"), 12, "\"n_blocks\":0"), "\"n_blocks\": expected 1 to 100000, got 0"},
      {std::string(start).replace(start.find("\"lat\":50"), 8, "\"lat\":95"), "\"location\": expected lat in [-90, 90]"},
      {std::string(start).replace(start.find("\"name\":\"b\""), 10, "\"name\":\"a\""), "two hosts share a name"},
      // A coded run's models and parity must add up to its blocks (its members).
      {std::string(start).replace(start.find("\"n_blocks\":8"), 12, "\"n_blocks\":8,\"coded\":{\"models\":2,\"parity\":1}"),
       "\"coded\": expected at least 2 models and a parity in [0, min(models, 4)] that add up to n_blocks (8)"},
      {std::string(start).replace(start.find("\"n_blocks\":8"), 12, "\"n_blocks\":8,\"coded\":3"), "\"coded\": expected an object"},
  };
  for (const auto& [header, message] : headers) {
    const RunDirectory run = load_run_directory(write_run("bad-header", header + "\n" + lines(1, kLines)));
    ASSERT_FALSE(run.ok()) << header;
    EXPECT_NE(run.errors[0].find(std::string("events.jsonl:1: ") + message), std::string::npos) << run.errors[0];
  }
}

// trace.json and metrics.json are optional: a bad span drops every span with a warning naming the
// span, and a figure of the wrong type is a warning and NaN; the run's events still load.
TEST(GuiStateModel, BadTraceOrMetricsAreWarningsNotCrashes) {
  const fs::path dir = write_run("bad-trace", lines(0, kLines));
  const auto span = [](const std::string& name, double ts, double dur, const char* args) {
    return R"({"ph":"X","cat":"compute","name":")" + name + R"(","pid":1,"tid":0,"ts":)" + std::to_string(ts) +
           R"(,"dur":)" + std::to_string(dur) + R"(,"args":)" + args + "}";
  };
  const std::string good = span("blocks 0-3", 1.5e6, 1e5, R"({"session":0,"step":0})");
  const std::pair<std::string, const char*> traces[] = {
      {span("blocks 0-3", 1.5e6, 1e5, R"({"session":"zero"})"), "traceEvents[1]: \"session\": expected an integer"},
      {span("blocks 0-3", 1.5e6, 1e5, "5"), "traceEvents[1]: \"args\": expected an object, got 5"},
      {span("blocks 6-9", 1.5e6, 1e5, "{}"), "traceEvents[1]: \"name\": \"blocks 6-9\" names blocks outside the model's 8"},
      {span("backward blocks 5-8", 1.5e6, 1e5, "{}"), "traceEvents[1]: \"name\": \"backward blocks 5-8\" names blocks outside the model's 8"},
      {span("blocks 0-3", 1.5e6, 1e20, "{}"), "traceEvents[1]: the span [1.500000, 100000000000001.500000] s is not inside [0, 1e12] s"},
      {span("head", 0.5e6, 1e5, R"({"session":0,"step":0})"), "the \"head\" span of session 0 ends at t = 0.600000 s, before the session started"},
  };
  for (const auto& [bad, message] : traces) {
    std::ofstream(dir / "trace.json") << R"({"traceEvents":[)" << good << "," << bad << "]}";
    const RunDirectory run = load_run_directory(dir);
    EXPECT_TRUE(run.ok()) << bad;
    EXPECT_FALSE(run.has_spans) << bad;
    EXPECT_TRUE(any_contains(run.warnings, (dir / "trace.json").string() + ": " + message)) << ::testing::PrintToString(run.warnings);
    EXPECT_EQ(run.timeline.events().size(), static_cast<std::size_t>(kLines - 1)) << bad;
  }
  std::ofstream(dir / "trace.json") << R"({"traceEvents":[)" << good << "]}";
  std::ofstream(dir / "metrics.json") << R"({"router":5,"throughput":{"tokens_per_s":"fast","tokens_generated":8},)"
                                      << R"("latency_s":{"per_token":{"p50":0.25,"p99":[1]}},"nodes":[{"utilization":0.5,"energy_joules":12},7],)"
                                      << R"("energy":{"window_s":4,"joules":100,"mean_power_w":25,"idle_share":"most","joules_per_token":null,"joules_per_request":2.5},)"
                                      << R"("cost":{"currency":"EUR","total":0.5,"per_million_tokens":12,"per_thousand_requests":null},)"
                                      << R"("latency_breakdown_s":{"per_token":{"latency":0.3,"software":0.2,"propagation":"x","waiting":0.1}}})";
  const RunDirectory run = load_run_directory(dir);
  EXPECT_TRUE(run.has_spans);
  ASSERT_TRUE(run.summary.present);
  EXPECT_EQ(run.summary.router, "");
  EXPECT_TRUE(std::isnan(run.summary.tokens_per_s));
  EXPECT_EQ(run.summary.tokens_generated, 8.0);
  ASSERT_EQ(run.summary.latency.size(), 1u);
  EXPECT_EQ(run.summary.latency[0].p50_s, 0.25);
  EXPECT_TRUE(std::isnan(run.summary.latency[0].p99_s));
  ASSERT_EQ(run.summary.nodes.size(), 2u);
  EXPECT_EQ(run.summary.nodes[0].utilization, 0.5);
  EXPECT_TRUE(std::isnan(run.summary.nodes[1].utilization));
  EXPECT_EQ(run.summary.nodes[0].energy_joules, 12.0);
  EXPECT_EQ(run.summary.energy.joules, 100.0);
  EXPECT_EQ(run.summary.energy.mean_power_w, 25.0);
  EXPECT_TRUE(std::isnan(run.summary.energy.idle_share));        // a word: warned
  EXPECT_TRUE(std::isnan(run.summary.energy.joules_per_token));  // null: no tokens, no warning
  EXPECT_EQ(run.summary.energy.joules_per_request, 2.5);
  EXPECT_EQ(run.summary.cost.currency, "EUR");
  EXPECT_EQ(run.summary.cost.total, 0.5);
  EXPECT_EQ(run.summary.cost.per_million_tokens, 12.0);
  EXPECT_TRUE(std::isnan(run.summary.cost.per_thousand_requests));  // null: none
  EXPECT_EQ(run.summary.token_latency, 0.3);
  EXPECT_EQ(run.summary.token_parts, (std::vector<std::pair<std::string, double>>{{"software", 0.2}, {"waiting", 0.1}}));
  for (const char* w : {": router: expected a string, got 5", ": throughput.tokens_per_s: expected a number, got \"fast\"",
                        ": latency_s.per_token.p99: expected a number, got [1]", ": nodes[1]: expected an object",
                        ": latency_breakdown_s.per_token.propagation: expected a number, got \"x\"",
                        ": energy.idle_share: expected a number, got \"most\""})
    EXPECT_TRUE(any_contains(run.warnings, (dir / "metrics.json").string() + w)) << w << " in " << ::testing::PrintToString(run.warnings);
}

// A request run (pipeline, tree, coded) has no "nodes": the inspector's per-host energy comes
// from energy.hosts, and a host there that is not an object is warned about and left unknown.
TEST(GuiStateModel, ARequestRunsHostEnergyComesFromItsEnergySection) {
  const nlohmann::json metrics = nlohmann::json::parse(
      R"({"kind":"pipeline","energy":{"joules":30,"joules_per_request":1.5,"hosts":[{"name":"a","energy_joules":20},"b",{"name":"c","energy_joules":10}]}})");
  std::vector<std::string> warnings;
  const RunSummary r = read_run_summary(metrics, "m.json", warnings);
  ASSERT_EQ(r.nodes.size(), 3u);
  EXPECT_EQ(r.nodes[0].energy_joules, 20.0);
  EXPECT_TRUE(std::isnan(r.nodes[1].energy_joules));
  EXPECT_EQ(r.nodes[2].energy_joules, 10.0);
  EXPECT_TRUE(std::isnan(r.nodes[0].weights_bytes)) << "a pipeline's stages report no weights or KV per node";
  EXPECT_EQ(warnings, (std::vector<std::string>{"m.json: energy.hosts[1]: expected an object"}));
  // A swarm's "nodes" win: energy.hosts is not read then.
  const nlohmann::json swarm = nlohmann::json::parse(R"({"nodes":[{"energy_joules":7}],"energy":{"hosts":[{"energy_joules":1},{"energy_joules":2}]}})");
  warnings.clear();
  const RunSummary s = read_run_summary(swarm, "s.json", warnings);
  ASSERT_EQ(s.nodes.size(), 1u);
  EXPECT_EQ(s.nodes[0].energy_joules, 7.0);
}

TEST(GuiStateModel, LineReaderStopsAtTheFirstBadLine) {
  Timeline tl;
  EventLineReader reader("live run");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(reader.feed(kRun[i], tl));
  EXPECT_FALSE(reader.feed(R"({"t": 0.1, "type": "node_down", "node": "a"})", tl));  // goes back in time
  EXPECT_EQ(reader.error().rfind("live run:6: t = ", 0), 0u) << reader.error();
  EXPECT_FALSE(reader.feed(kRun[5], tl));
  EXPECT_EQ(tl.events().size(), 4u);
}

// Seeking backwards and forwards over many checkpoints equals a replay from the start.
TEST(GuiStateModel, SeekingUsesCheckpointsWithoutChangingAnswers) {
  const SwarmInfo info = two_servers_and_a_client();
  Timeline tl(info);
  const std::vector<SwarmEvent> all = append_every_10ms(tl, 3000, [](int k, SwarmEvent& e) {
    if (k % 500 == 0) {
      e.type = (k / 500) % 2 ? EventType::NodeDown : EventType::NodeJoin;
      e.node = 1;
      e.blocks = {2, 4};
    } else {
      e.type = EventType::Transfer;
      e.node = k % 3;
      e.peer = (k + 1) % 3;
      e.start = e.t - 0.005;
      e.value = k;
    }
  });
  for (double T : {29.0, 3.0, 17.5, 0.0, 12.34, 29.99, 5.0}) {
    const SwarmState full = replay_until(info, all, T);
    const SwarmState seek = tl.state_at(T);
    EXPECT_DOUBLE_EQ(seek.bytes_moved, full.bytes_moved) << T;
    EXPECT_EQ(seek.hops, full.hops) << T;
    EXPECT_EQ(seek.nodes[1].serving, full.nodes[1].serving) << T;
  }
  // A transfer [t - 0.005, t] is in flight half-way through.
  const auto active = tl.transfers_at(all[1].t - 0.0025);
  ASSERT_EQ(active.size(), 1u);
  EXPECT_NEAR(active[0].progress, 0.5, 1e-6);
}

// A server's KV memory over time, by hand: 0 until 1 s, 300 B over [1, 2.5), 100 B over [2.5, 3.2),
// a peak of 500 B at 3.2 s, then 0 from 3.6 s on. Each bin shows the most held in it.
TEST(GuiStateModel, KvUseIsTheMostHeldInEachBinAndTheNodeKnowsItsPeak) {
  const SwarmInfo info = two_servers_and_a_client();
  Timeline tl(info);
  for (const auto& [t, bytes] : std::vector<std::pair<double, double>>{{1.0, 300}, {2.5, 100}, {3.2, 500}, {3.6, 0}}) {
    SwarmEvent e;
    e.t = t;
    e.type = EventType::Kv;
    e.node = 1;
    e.value = bytes;
    ASSERT_TRUE(tl.append(e));
  }
  ASSERT_TRUE(tl.has_kv());
  const TimeSeries ts = tl.kv_use(1, 5.0, 5);  // bins of 1 s
  EXPECT_EQ(ts.values, (std::vector<float>{0, 300, 300, 500, 0}));
  const TimeSeries early = tl.kv_use(1, 3.0, 3);  // only what happened by 3 s
  EXPECT_EQ(early.values, (std::vector<float>{0, 300, 300}));
  EXPECT_EQ(tl.kv_use(0, 5.0, 5).values, (std::vector<float>{0, 0, 0, 0, 0}));  // server a never held any
  const SwarmState at3 = tl.state_at(3.3), end = tl.state_at(10.0);
  EXPECT_EQ(at3.nodes[1].kv_bytes, 500.0);
  EXPECT_EQ(end.nodes[1].kv_bytes, 0.0);
  EXPECT_EQ(end.nodes[1].kv_peak_bytes, 500.0);
  EXPECT_EQ(tl.state_at(2.0).nodes[1].kv_peak_bytes, 300.0);
}

// A 2,000-host swarm: checkpoints are spaced by the state's size, so 20,000 events make about
// ten of them (not 78 copies of 2,000 hosts), seeking still equals a full replay, and host names
// resolve through the index.
TEST(GuiStateModel, CheckpointsOfABigSwarmGrowWithEventsNotHosts) {
  SwarmInfo info;
  info.n_blocks = 4;
  info.n_servers = 1999;
  for (int i = 0; i < 2000; ++i) info.hosts.push_back({"h" + std::to_string(i), "L4", i < 1999, 1e9, 1e8, 1e8, {}});
  info.index_hosts();
  EXPECT_EQ(info.host_index("h1234"), 1234);
  EXPECT_EQ(info.host_index("h1999"), 1999);
  EXPECT_EQ(info.host_index("nobody"), -1);
  Timeline tl(info);
  const std::vector<SwarmEvent> all = append_every_10ms(tl, 20000, [](int k, SwarmEvent& e) {
    e.type = EventType::Transfer;
    e.node = k % 7;
    e.peer = 1999;
    e.start = e.t - 0.005;
    e.value = 1000;
  });
  EXPECT_GE(tl.checkpoints(), 5u);
  EXPECT_LE(tl.checkpoints(), 20000u / 2000u + 1u) << "one checkpoint per 2,000+ events at most";
  for (double T : {199.0, 3.0, 123.456, 0.0, 77.7}) {
    const SwarmState full = replay_until(info, all, T);
    const SwarmState seek = tl.state_at(T);
    EXPECT_EQ(seek.hops, full.hops) << T;
    EXPECT_DOUBLE_EQ(seek.bytes_moved, full.bytes_moved) << T;
    EXPECT_DOUBLE_EQ(seek.nodes[3].bytes_sent, full.nodes[3].bytes_sent) << T;
  }
}

// Labels never overlap: the first of each overlapping group (priority order) is drawn, and 500
// labels at one spot give one.
TEST(GuiViewGeometry, LabelsAreDrawnOnlyWhereTheyDoNotOverlap) {
  const std::vector<PixelRect> boxes{{10, 10, 40, 12}, {30, 15, 40, 12}, {60, 10, 40, 12}, {10, 30, 40, 12}, {49.9f, 21.9f, 5, 5}};
  // 1 overlaps 0; 2 starts at 60 (0 ends at 50, 1 is not drawn); 3 is below 0; 4 touches 0's corner.
  EXPECT_EQ(place_labels(boxes), (std::vector<char>{1, 0, 1, 1, 0}));
  EXPECT_EQ(place_labels(boxes, 4.0f), place_labels(boxes, 300.0f)) << "the grid only speeds the search up";
  std::vector<PixelRect> city(500, PixelRect{200, 100, 35, 12});
  const std::vector<char> one = place_labels(city);
  EXPECT_EQ(std::count(one.begin(), one.end(), 1), 1);
  EXPECT_EQ(one[0], 1);
}

TEST(GuiViewGeometry, ProjectionIsEquirectangularAndInvertible) {
  MapView v;
  v.rect = {100, 50, 400, 200};
  v.center_lat = 10;
  v.center_lon = 20;
  v.deg_per_px = 0.5;
  float x, y;
  project(v, {10, 20}, x, y);
  EXPECT_FLOAT_EQ(x, 300);
  EXPECT_FLOAT_EQ(y, 150);
  project(v, {20, 30}, x, y);  // 10 degrees east and north: 20 px right, 20 px up
  EXPECT_FLOAT_EQ(x, 320);
  EXPECT_FLOAT_EQ(y, 130);
  const auto p = unproject(v, x, y);
  EXPECT_NEAR(p.lat_deg, 20, 1e-9);
  EXPECT_NEAR(p.lon_deg, 30, 1e-9);
  zoom_at(v, 320, 130, 2.0);
  project(v, {20, 30}, x, y);  // the point under the cursor stays put
  EXPECT_NEAR(x, 320, 1e-3);
  EXPECT_NEAR(y, 130, 1e-3);
}

TEST(GuiViewGeometry, FitShowsEveryPointInsideTheRect) {
  const std::vector<swarmsim::topology::GeoPoint> pts = {{50.11, 8.68}, {50.06, 8.62}, {50.13, 8.70}, {50.10, 8.66}};
  const PixelRect r = compute_layout(1280, 800).world;
  const MapView v = fit_map_view(pts, r);
  for (const auto& p : pts) {
    float x, y;
    project(v, p, x, y);
    EXPECT_TRUE(r.contains(x, y)) << x << "," << y;
  }
  const MapView world = fit_map_view({}, r);
  float x0, y0, x1, y1;
  project(world, {90, -180}, x0, y0);
  project(world, {-90, 180}, x1, y1);
  EXPECT_GE(x0, r.x - 0.5f);
  EXPECT_LE(x1, r.x + r.w + 0.5f);
  EXPECT_NE(device_color("L4"), device_color("GTX-1650"));
  EXPECT_LT(node_radius(4.0 * (1 << 30)), node_radius(24.0 * (1 << 30)));
}

// The what-if editor's changes become scenario overrides that the loader accepts and that say
// what the editor said: router and eq. 18 exponents, a link change and a node failure added to
// the scenario's own events.
TEST(GuiWhatIf, EditsBecomeValidScenarioOverrides) {
  const std::string scenario = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/table2/llama3-8b-1gbps-rtt5ms.json";
  AppState st;
  st.scenario_path = scenario;
  const swarmsim::sim::Scenario original = swarmsim::sim::load_scenario_file(scenario);
  SwarmInfo info;
  for (const auto& n : original.nodes) info.hosts.push_back({n.name, n.device->name, true, 0, 0, 0, {}});
  info.n_servers = static_cast<int>(info.hosts.size());
  for (const auto& c : original.clients) info.hosts.push_back({c.name, c.device->name, false, 0, 0, 0, {}});
  st.timeline = Timeline(info);
  st.scenario_events = nlohmann::json::array({{{"at", "5s"}, {"action", "set_bandwidth"}, {"node", "client"}, {"bandwidth", "1Gbps"}}});
  st.overrides = {{"workload.new_tokens", "8"}, {"policy.router", "\"random\""}, {"policy.faults.heartbeat", "\"2s\""},
                  {"policy.reputation.estimate", "\"declared_x_observed\""}};
  WhatIfEdits& w = st.whatif;
  w.router = 1;
  w.gamma = 2.0f;
  w.beta = -0.5f;
  w.alpha = 0.0f;
  w.uptime_estimate = 1;
  w.uptime_prior_s = 120.0f;
  w.change_bandwidth = true;
  w.link_node = info.n_servers;  // the client
  w.link_bandwidth_mbps = 10.0f;
  w.link_at_s = 12.0f;
  w.fail = true;
  w.fail_node = 2;
  w.down_at_s = 31.0f;
  w.up_at_s = 33.0f;
  w.abandon_share = 0.25f;
  w.session_timeout_s = 45.0f;
  const swarmsim::sim::Scenario sc = swarmsim::sim::load_scenario_file(scenario, whatif_overrides(st));
  EXPECT_DOUBLE_EQ(sc.workload.abandon_share, 0.25);
  EXPECT_DOUBLE_EQ(sc.policy.faults.session_timeout_s, 45.0);
  EXPECT_EQ(sc.policy.router, swarmsim::sim::RouterKind::ShortestPath);
  EXPECT_DOUBLE_EQ(sc.policy.gamma, 2.0);
  EXPECT_DOUBLE_EQ(sc.policy.beta, -0.5);
  EXPECT_DOUBLE_EQ(sc.policy.alpha, 0.0);
  EXPECT_EQ(sc.policy.reputation.estimate, swarmsim::sim::UptimeEstimate::Posterior);
  EXPECT_DOUBLE_EQ(sc.policy.reputation.prior_s, 120.0);
  EXPECT_EQ(sc.workload.new_tokens, 8);  // the run's own --set overrides are kept
  EXPECT_DOUBLE_EQ(sc.policy.faults.heartbeat_s, 2.0);  // policy keys the editor does not own included
  ASSERT_EQ(sc.events.size(), 4u);
  EXPECT_DOUBLE_EQ(sc.events[0].at_s, 5.0);  // the scenario's own event stays
  EXPECT_EQ(sc.events[1].action, swarmsim::sim::EventAction::SetBandwidth);
  EXPECT_EQ(sc.events[1].node, "client");
  EXPECT_NEAR(sc.events[1].value, 10e6 / 8, 1e-6);
  EXPECT_EQ(sc.events[2].action, swarmsim::sim::EventAction::NodeDown);
  EXPECT_EQ(sc.events[2].node, original.nodes[2].name);
  EXPECT_DOUBLE_EQ(sc.events[2].at_s, 31.0);
  EXPECT_EQ(sc.events[3].action, swarmsim::sim::EventAction::NodeUp);
  // Taking the client down instead: its sessions end with it from 31 s to 33 s.
  w.fail_node = info.n_servers;
  const swarmsim::sim::Scenario client_down = swarmsim::sim::load_scenario_file(scenario, whatif_overrides(st));
  ASSERT_EQ(client_down.events.size(), 4u);
  EXPECT_EQ(client_down.events[2].node, "client");
  const swarmsim::sim::ClientOutages outages(client_down);
  EXPECT_TRUE(outages.down(info.n_servers, 32.0));
  EXPECT_FALSE(outages.down(info.n_servers, 33.0));
}
