// Replay is faithful: the GUI's state model, fed a run's events.jsonl (and trace.json) or its live
// event stream, reports at time T what the simulator itself said through its signals up to T:
// which nodes are up, which serve which blocks, which chains and sessions are in flight.
//
// The run is the shipped Table 2 Llama-3-8B swarm with churn added through overrides (no shipped
// scenario has failures): 8 sessions 2 s apart, l4-1 (the only holder of blocks 8-15) down from
// 35 s to 38 s, and gtx1650-0's link slowed at 33 s. Sessions in flight at 35 s fail; sessions
// arriving while l4-1 is down wait for it to reload and form their chain on a later attempt.
//
// Each TEST runs one simulation in its own process (gtest_discover_tests: SimGrid allows one
// simulation per process).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <unistd.h>

#include "gui/event_stream.hpp"
#include "gui/run_loader.hpp"
#include "gui/swarm_state.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim;
using gui::ChainHop;

namespace {

sim::Scenario churn_scenario() {
  return sim::load_scenario_file(
      std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/table2/llama3-8b-1gbps-rtt5ms.json",
      {{"workload.sessions", "8"},
       {"workload.arrival", R"({"process": "fixed", "interval": "2s"})"},
       {"events", R"([{"at": "33s", "action": "set_bandwidth", "node": "gtx1650-0", "bandwidth": "100Mbps"},
                      {"at": "35s", "action": "node_down", "node": "l4-1"},
                      {"at": "38s", "action": "node_up", "node": "l4-1"}])"}});
}

/// What the simulator said up to some time, from its signals alone.
struct Truth {
  std::vector<bool> up;
  std::vector<bool> serving;
  std::vector<sim::BlockRange> blocks;
  std::vector<double> kv;                        // KV memory reserved per server (bytes)
  std::map<int, std::vector<ChainHop>> chains;  // session -> hops, while in flight
  std::set<int> sessions;                        // started, not ended
  int failed = 0, done = 0;
  int disrupted = 0;  // recoveries and failed transfer attempts
};

/// Records Truth snapshots at the times asked: a snapshot at T holds every signal with t <= T.
class TruthRecorder {
 public:
  TruthRecorder(const sim::Scenario& sc, std::vector<double> times) : times_(std::move(times)) {
    std::sort(times_.begin(), times_.end());
    const std::size_t S = sc.nodes.size();
    now_.up.assign(S, true);
    now_.serving.assign(S, false);
    now_.blocks.assign(S, {});
    now_.kv.assign(S, 0.0);
  }
  void connect(sim::SimSignals& s) {
    s.on_node_joined.connect([this](const sim::NodeJoined& e) {
      at(e.t);
      now_.serving[e.node] = now_.up[e.node];
      now_.blocks[e.node] = e.blocks;
    });
    s.on_node_state.connect([this](const sim::NodeStateChanged& e) {
      at(e.t);
      now_.up[e.node] = e.up;
      if (!e.up) now_.serving[e.node] = false;
    });
    s.on_session_started.connect([this](const sim::SessionStarted& e) {
      at(e.t);
      now_.sessions.insert(e.session);
    });
    s.on_chain_formed.connect([this](const sim::ChainFormed& e) {
      at(e.t);
      std::vector<ChainHop> hops;
      for (std::size_t i = 0; i < e.servers.size(); ++i) hops.push_back({e.servers[i], e.ranges[i]});
      now_.chains[e.session] = hops;
    });
    s.on_session_ended.connect([this](const sim::SessionEnded& e) {
      at(e.t);
      now_.sessions.erase(e.session);
      now_.chains.erase(e.session);
      (e.completed ? now_.done : now_.failed)++;
    });
    s.on_session_recovered.connect([this](const sim::SessionRecovered& e) {
      at(e.t);
      ++now_.disrupted;
      auto it = now_.chains.find(e.session);
      if (it == now_.chains.end()) return;
      auto& hops = it->second;
      for (std::size_t i = 0; i < hops.size(); ++i)
        if (hops[i].node == e.failed_server && hops[i].blocks == e.span) {
          hops.erase(hops.begin() + static_cast<long>(i));
          for (std::size_t k = 0; k < e.servers.size(); ++k)
            hops.insert(hops.begin() + static_cast<long>(i + k), ChainHop{e.servers[k], e.ranges[k]});
          break;
        }
    });
    s.on_blocks_moved.connect([this](const sim::BlocksMoved& e) {
      at(e.t);
      now_.serving[e.node] = false;
      now_.blocks[e.node] = e.to;
    });
    s.on_transfer_retried.connect([this](const sim::TransferRetried& e) {
      at(e.t);
      ++now_.disrupted;
    });
    s.on_kv_changed.connect([this](const sim::KvChanged& e) {
      at(e.t);
      now_.kv[e.node] = e.bytes;
    });
    s.on_step.connect([this](const sim::StepCompleted& e) { at(e.t); });
    s.on_compute.connect([this](const sim::ComputeSpan& e) { at(e.end); });
    s.on_transfer.connect([this](const sim::TransferSpan& e) { at(e.end); });
  }
  /// Takes the snapshots of the times not reached by any signal.
  void finish() { at(1e300); }
  const std::map<double, Truth>& snapshots() const { return snaps_; }

 private:
  void at(double t) {
    while (next_ < times_.size() && times_[next_] < t) snaps_[times_[next_++]] = now_;
  }
  std::vector<double> times_;
  std::size_t next_ = 0;
  Truth now_;
  std::map<double, Truth> snaps_;
};

void expect_matches(const Truth& truth, const gui::SwarmState& s, const gui::SwarmInfo& info, double T,
                    const char* source) {
  SCOPED_TRACE(std::string(source) + " at T = " + std::to_string(T));
  const int S = info.n_servers;
  ASSERT_EQ(S, static_cast<int>(truth.up.size()));
  for (int i = 0; i < S; ++i) {
    EXPECT_EQ(s.nodes[i].up, truth.up[i]) << info.hosts[i].name << " up";
    EXPECT_EQ(s.nodes[i].serving, truth.serving[i]) << info.hosts[i].name << " serving";
    EXPECT_DOUBLE_EQ(s.nodes[i].kv_bytes, truth.kv[i]) << info.hosts[i].name << " KV memory";
  }
  // Block coverage, block by block.
  const auto cov = s.coverage(info.n_blocks, S);
  for (int b = 0; b < info.n_blocks; ++b)
    for (int i = 0; i < S; ++i)
      EXPECT_EQ(cov[b][i], truth.serving[i] && truth.blocks[i].contains(b)) << "block " << b << " on " << info.hosts[i].name;
  // Chains and sessions in flight.
  std::map<int, std::vector<ChainHop>> chains;
  std::set<int> sessions;
  for (const auto& [k, f] : s.sessions) {
    sessions.insert(k);
    if (!f.chain.empty()) chains[k] = f.chain;
  }
  EXPECT_EQ(sessions, truth.sessions);
  EXPECT_EQ(chains, truth.chains);
  EXPECT_EQ(s.sessions_failed, truth.failed);
  EXPECT_EQ(s.sessions_done, truth.done);
  int in_flight_hops = 0, node_counts = 0;
  for (const auto& [k, hops] : truth.chains) in_flight_hops += static_cast<int>(hops.size());
  for (int i = 0; i < S; ++i) node_counts += s.nodes[i].sessions_in_flight;
  EXPECT_EQ(node_counts, in_flight_hops);
}

/// Runs `sc` (writing its run directory to `out` unless empty) and reads its live event stream
/// into `live`, as the GUI does; `error` says why the reader stopped, if it did. `observe` may
/// connect more observers to the signals first.
sim::RunReport run_live(const sim::Scenario& sc, gui::Timeline& live, std::string& error, const std::filesystem::path& out = {},
                        const std::function<void(sim::SimSignals&)>& observe = {}) {
  sim::SwarmSimulation simulation(sc, sim::make_cost_model(sc));
  if (observe) observe(simulation.signals());
  gui::EventLineReader reader("live");
  gui::EventStreamWriter writer(sc, [&](const std::string& line) { reader.feed(line, live); });
  writer.connect(simulation.signals());
  sim::RunOptions options;
  options.out_dir = out;
  options.progress = sim::RunOptions::Progress::Never;
  const sim::RunReport report = simulation.run(options);
  writer.finish(report.simulated_time);
  if (reader.failed()) error = reader.error();
  return report;
}

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// A shipped scenario (`file` under scenarios/, with `overrides`) run once in a fresh directory:
/// its report, the timeline its live stream built and the run directory written beside it.
struct LiveAndReplayed {
  sim::RunReport report;
  gui::Timeline live;
  gui::RunDirectory run;
  std::string error;  ///< the live stream's, empty when it read
  /// Both timelines, the live one first.
  std::vector<const gui::Timeline*> timelines() const { return {&live, &run.timeline}; }
  const char* label(const gui::Timeline* t) const { return t == &live ? "live stream" : "run directory"; }
};

LiveAndReplayed live_and_replayed(const std::string& file, const std::vector<sim::Override>& overrides = {}) {
  LiveAndReplayed r;
  const auto dir = fresh_dir("gui-" + std::filesystem::path(file).stem().string());
  r.report = run_live(sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + file, overrides), r.live, r.error, dir);
  r.run = gui::load_run_directory(dir);
  std::filesystem::remove_all(dir);
  return r;
}

const std::vector<double> kTimes = {0.0, 0.5, 1.0, 2.0, 31.0, 33.0, 34.9, 35.0, 35.5, 37.0, 38.5, 39.9,
                                    41.0, 43.0, 45.0, 48.0, 52.0, 60.0, 1e6};

}  // namespace

// events.jsonl + trace.json, read back by the GUI, give the simulator's truth at every T; so does
// the live stream (event_stream.hpp) the GUI reads from a child process.
TEST(GuiReplay, StateAtTMatchesTheSimulatorsSignals) {
  const sim::Scenario sc = churn_scenario();
  const auto dir = fresh_dir("gui-replay");
  TruthRecorder truth(sc, kTimes);
  gui::Timeline live;
  std::string error;
  const sim::RunReport report = run_live(sc, live, error, dir, [&](sim::SimSignals& s) { truth.connect(s); });
  truth.finish();

  // The scenario did what it is for: l4-1 went down while sessions ran through it, and they
  // failed, or recovered, or retried their transfers (which, depends on the simulator's fault
  // handling); every session ended.
  const Truth& during = truth.snapshots().at(37.0);
  ASSERT_FALSE(during.up[1]) << "l4-1 should be down at 37 s";
  ASSERT_FALSE(truth.snapshots().at(34.9).chains.empty()) << "sessions should run when l4-1 goes down";
  const Truth& end = truth.snapshots().at(1e6);
  ASSERT_GT(end.failed + end.disrupted, 0) << "the failure of l4-1 disturbed no session";
  ASSERT_EQ(end.failed + end.done, 8);

  gui::RunDirectory run = gui::load_run_directory(dir);
  ASSERT_TRUE(run.ok()) << run.errors.front();
  ASSERT_TRUE(run.has_spans);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_TRUE(live.ended());

  for (const auto& [T, snap] : truth.snapshots()) {
    expect_matches(snap, run.timeline.state_at(T), run.timeline.info(), T, "events.jsonl");
    expect_matches(snap, live.state_at(T), live.info(), T, "live stream");
  }

  // End-of-run totals agree with metrics.json.
  const auto& m = report.metrics;
  for (const gui::Timeline* t : {&run.timeline, &live}) {
    const gui::SwarmState end = t->state_at(1e9);
    EXPECT_EQ(end.sessions_done, m["sessions"]["completed"].get<int>());
    EXPECT_EQ(end.sessions_failed, m["sessions"]["failed"].get<int>());
    EXPECT_DOUBLE_EQ(end.tokens, m["throughput"]["tokens_generated"].get<double>());
    EXPECT_EQ(end.hops, m["network"]["hops"].get<long>());
    EXPECT_NEAR(end.bytes_moved, m["network"]["bytes_moved"].get<double>(), 1.0 * end.hops);  // trace rounds bytes
    EXPECT_EQ(static_cast<std::uint64_t>(end.ttft.total), m["latency_s"]["time_to_first_token"]["count"].get<std::uint64_t>());
    EXPECT_EQ(static_cast<std::uint64_t>(end.per_token.total), m["latency_s"]["per_token"]["count"].get<std::uint64_t>());
    for (int i = 0; i < t->info().n_servers; ++i) {
      EXPECT_EQ(end.nodes[i].chains, m["nodes"][i]["chains"].get<int>()) << t->info().hosts[i].name;
      EXPECT_EQ(end.nodes[i].failures, m["nodes"][i]["failures"].get<int>()) << t->info().hosts[i].name;
      EXPECT_DOUBLE_EQ(end.nodes[i].kv_peak_bytes, m["nodes"][i]["kv_peak_bytes"].get<double>()) << t->info().hosts[i].name;
      EXPECT_EQ(end.nodes[i].kv_bytes, 0.0) << t->info().hosts[i].name << " holds KV caches after every session ended";
    }
    ASSERT_TRUE(t->has_kv());
    // The blocks without a server, as metrics.json lists them: l4-1 alone holds blocks 8-15.
    const auto& listed = m["resilience"]["unserved_blocks"];
    const std::vector<sim::UnservedRange> shown = end.unserved_ranges();
    ASSERT_EQ(shown.size(), listed.size()) << gui::unserved_text(end);
    ASSERT_FALSE(shown.empty()) << "l4-1's failure left blocks 8-15 without a server";
    for (std::size_t k = 0; k < shown.size(); ++k) {
      EXPECT_EQ(shown[k].blocks.start, listed[k]["blocks"]["start"].get<int>());
      EXPECT_EQ(shown[k].blocks.end, listed[k]["blocks"]["end"].get<int>());
      EXPECT_NEAR(shown[k].unserved_s, listed[k]["unserved_s"].get<double>(), 1e-6);
    }
    EXPECT_NE(gui::unserved_text(end).find("blocks 8-15"), std::string::npos) << gui::unserved_text(end);
    // Before the failure no block went without one; while l4-1 reloads, the time grows.
    EXPECT_EQ(gui::unserved_text(t->state_at(34.9)), "no block without a server since the workload started");
    EXPECT_LT(t->state_at(37.0).unserved_ranges().at(0).unserved_s, shown[0].unserved_s);
  }
  std::filesystem::remove_all(dir);
}

// Seeking anywhere, in any order, gives the state that replaying every event from the start gives:
// the checkpoints change the cost of state_at, never its answer.
TEST(GuiReplay, SeekingFromCheckpointsEqualsReplayFromTheStart) {
  gui::Timeline live;
  std::string error;
  run_live(churn_scenario(), live, error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_GT(live.events().size(), 4 * gui::Timeline::kCheckpointEvery) << "the test needs several checkpoints";

  const double end = live.end_time();
  for (double T : {end, 0.3 * end, 0.9 * end, 0.0, 0.75 * end, 0.5 * end, 0.95 * end, 0.1 * end}) {
    SCOPED_TRACE("T = " + std::to_string(T));
    const gui::SwarmState seek = live.state_at(T);
    gui::SwarmState full = gui::initial_state(live.info());
    for (const gui::SwarmEvent& e : live.events())
      if (e.t <= T) gui::apply_event(full, live.info(), e);
    EXPECT_EQ(seek.steps, full.steps);
    EXPECT_EQ(seek.hops, full.hops);
    EXPECT_DOUBLE_EQ(seek.bytes_moved, full.bytes_moved);
    EXPECT_EQ(seek.sessions.size(), full.sessions.size());
    EXPECT_EQ(seek.sessions_failed, full.sessions_failed);
    for (std::size_t i = 0; i < full.nodes.size(); ++i) {
      EXPECT_EQ(seek.nodes[i].up, full.nodes[i].up);
      EXPECT_EQ(seek.nodes[i].serving, full.nodes[i].serving);
      EXPECT_DOUBLE_EQ(seek.nodes[i].busy_seconds, full.nodes[i].busy_seconds);
      EXPECT_EQ(seek.nodes[i].block_steps, full.nodes[i].block_steps);
    }
  }
}

// A graph pipeline streams live, and writes its run directory, in the same vocabulary: its stages
// are the blocks (stage s is block s), its requests the sessions. unet-sd-failover: the U-Net
// stage (block 1) runs on the A100 until it fails at 2 s, nothing serves it until the RTX 4090
// that took it over has loaded it (3.857 s), and every request is answered in the end.
TEST(GuiReplay, APipelinesLiveStreamAndRunDirectoryShowItsStagesAndTheFailover) {
  const LiveAndReplayed r = live_and_replayed("pipeline/unet-sd-failover.json");
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  // Its own lines (request_sent, stage_start, stage_down, ...) are known and drawn from the generic ones: no warning.
  EXPECT_TRUE(r.run.warnings.empty()) << ::testing::PrintToString(r.run.warnings);
  const auto& m = r.report.metrics;
  for (const gui::Timeline* t : r.timelines()) {
    SCOPED_TRACE(r.label(t));
    const gui::SwarmInfo& info = t->info();
    ASSERT_EQ(info.n_blocks, static_cast<int>(m["stages"].size()));
    ASSERT_EQ(info.n_blocks, 2);
    const int a100 = info.host_index("a100-a"), spare = info.host_index("rtx4090-b"), first = info.host_index("rtx4090-a");

    const gui::SwarmState before = t->state_at(1.9);
    EXPECT_EQ(before.servers_of_block(0), std::vector<int>{first});
    EXPECT_EQ(before.servers_of_block(1), std::vector<int>{a100});
    EXPECT_EQ(before.sessions.size(), 8u) << "a window of 8 requests in flight";
    for (const auto& [session, flight] : before.sessions) {
      ASSERT_EQ(flight.chain.size(), 2u) << session;
      EXPECT_EQ(flight.chain[1].node, a100) << session;
    }
    const gui::SwarmState outage = t->state_at(3.5);
    EXPECT_FALSE(outage.nodes[static_cast<std::size_t>(a100)].up);
    EXPECT_TRUE(outage.servers_of_block(1).empty()) << "no node serves the U-Net while the spare loads it";
    const gui::SwarmState after = t->state_at(3.9);
    EXPECT_EQ(after.servers_of_block(1), std::vector<int>{spare});

    const gui::SwarmState end = t->state_at(1e9);
    EXPECT_EQ(end.sessions_started, m["requests"]["total"].get<int>());
    EXPECT_EQ(end.sessions_done, m["requests"]["completed"].get<int>());
    EXPECT_EQ(end.chains_formed, m["requests"]["total"].get<int>() + m["requests"]["resent"].get<int>());
    // One step per request answered, with its latency since it was first sent.
    EXPECT_EQ(static_cast<std::uint64_t>(end.ttft.total), static_cast<std::uint64_t>(m["requests"]["completed"].get<int>()));
    EXPECT_EQ(end.steps, m["requests"]["completed"].get<long>());
  }

}

// With failback, the A100 that comes back at 6 s loads the U-Net stage while the RTX 4090 serves
// on, then takes it back (6.857 s): the GUI shows block 1 on the spare, then on the A100 only.
TEST(GuiReplay, APipelinesFailbackMovesItsBlockBack) {
  const LiveAndReplayed r = live_and_replayed("pipeline/unet-sd-failover.json", {{"policy.faults.failback", "true"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.report.metrics["failbacks"].size(), 1u);
  const double moved = r.report.metrics["failbacks"][0]["ready_at_s"].get<double>();
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  for (const gui::Timeline* t : r.timelines()) {
    SCOPED_TRACE(r.label(t));
    const int a100 = t->info().host_index("a100-a"), spare = t->info().host_index("rtx4090-b");
    const gui::SwarmState loading = t->state_at(moved - 0.1);
    EXPECT_TRUE(loading.nodes[static_cast<std::size_t>(a100)].up);
    EXPECT_EQ(loading.servers_of_block(1), std::vector<int>{spare}) << "the spare serves while the A100 loads";
    const gui::SwarmState back = t->state_at(moved + 0.01);
    EXPECT_EQ(back.servers_of_block(1), std::vector<int>{a100});
    EXPECT_TRUE(back.nodes[static_cast<std::size_t>(spare)].blocks.empty()) << "the spare runs no stage any more";
  }
}

// A pipeline's replayed network changes reach the GUI as they reach a swarm's: the link's new
// bandwidth and the client's new access latency from their time on.
TEST(GuiReplay, APipelinesLinkChangesAreShown) {
  gui::Timeline live;
  std::string error;
  run_live(sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/pipeline/unet-sd-6gpu.json",
                                   {{"events", R"([{"at": "1.3s", "action": "set_bandwidth", "node": "a100-a", "bandwidth": "50Mbps", "direction": "up"},
                                                   {"at": "1.6s", "action": "set_latency", "node": "client", "latency": "20ms"}])"}}),
           live, error);
  ASSERT_TRUE(error.empty()) << error;
  const int a100 = live.info().host_index("a100-a"), client = live.info().host_index("client");
  EXPECT_DOUBLE_EQ(live.state_at(1.2).nodes[static_cast<std::size_t>(a100)].uplink_Bps, 25e9 / 8);
  EXPECT_DOUBLE_EQ(live.state_at(1.4).nodes[static_cast<std::size_t>(a100)].uplink_Bps, 50e6 / 8);
  EXPECT_DOUBLE_EQ(live.state_at(1.4).nodes[static_cast<std::size_t>(a100)].downlink_Bps, 25e9 / 8);
  EXPECT_LT(live.state_at(1.5).nodes[static_cast<std::size_t>(client)].access_latency_override_s, 0.0);
  EXPECT_DOUBLE_EQ(live.state_at(1.7).nodes[static_cast<std::size_t>(client)].access_latency_override_s, 0.020);
}

// Erasure-coded inference streams live, and writes its run directory, in the same vocabulary:
// member m is block m (the coded model last), its requests the sessions. coin-failover: model 1's
// server fails at 10 s; the failure is detected at 11 s and the spare serves model 1 from 11.3 s.
TEST(GuiReplay, ACodedRunShowsItsMembersAndTheModelThatIsDown) {
  const LiveAndReplayed r = live_and_replayed("coded/coin-failover.json", {{"workload.sessions", "1000"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  const auto& m = r.report.metrics;
  for (const gui::Timeline* t : r.timelines()) {
    SCOPED_TRACE(r.label(t));
    const gui::SwarmInfo& info = t->info();
    EXPECT_EQ(info.coded_models, 2);
    EXPECT_EQ(info.coded_parity, 1);
    ASSERT_EQ(info.n_blocks, 3);
    const int model1 = info.host_index("model-1"), coded = info.host_index("coded"), spare = info.host_index("spare");
    EXPECT_EQ(t->state_at(5).servers_of_block(1), std::vector<int>{model1});
    EXPECT_EQ(t->state_at(5).servers_of_block(2), std::vector<int>{coded});
    const gui::SwarmState outage = t->state_at(11.2);
    EXPECT_FALSE(outage.nodes[static_cast<std::size_t>(model1)].up);
    EXPECT_TRUE(outage.servers_of_block(1).empty()) << "the spare loads model 1 until 11.3 s";
    EXPECT_EQ(t->state_at(11.4).servers_of_block(1), std::vector<int>{spare});
    EXPECT_EQ(t->state_at(19).servers_of_block(1), std::vector<int>{spare}) << "model-1's server is back as a spare";
    const gui::SwarmState end = t->state_at(1e9);
    EXPECT_EQ(end.sessions_done, m["requests"]["completed"].get<int>());
    EXPECT_EQ(end.steps, m["requests"]["completed"].get<long>()) << "one step per request";
    // The latency plot of a request-based run shows whole requests (a swarm's shows decode steps).
    const gui::TimeSeries lat = t->token_latency(20.0, 20);
    float highest = 0;
    for (const float v : lat.values) highest = std::max(highest, v);
    EXPECT_GT(highest, m["latency_s"]["p50"].get<double>() * 0.5);
    EXPECT_LE(highest, m["latency_s"]["max"].get<double>() * 1.0001);
    // Requests decode model 1's output while it is down and until the spare serves it (10 s to 11.3 s), and only then.
    EXPECT_EQ(end.sessions_decoded, m["requests"]["decoded"].get<int>());
    EXPECT_GT(end.sessions_decoded, 0);
    const gui::TimeSeries dec = t->decoded_share(20.0, 40);  // half-second bins
    EXPECT_GT(dec.values[20], 0.9f) << "10.0-10.5 s: model 1 is down";
    EXPECT_GT(dec.values[21], 0.9f) << "10.5-11.0 s";
    for (const int b : {0, 5, 19, 23, 30, 39}) EXPECT_EQ(dec.values[static_cast<std::size_t>(b)], 0.0f) << "bin " << b;
  }
}

TEST(GuiReplay, ACodedRunWithTwoCodedModelsHasFourMembers) {
  // The spare of coin-failover serves as the second coded model: blocks 2 and 3 are coded.
  const LiveAndReplayed r = live_and_replayed("coded/coin-failover.json", {{"workload.sessions", "300"}, {"model.coded.parity", "2"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  for (const gui::Timeline* t : r.timelines()) {
    SCOPED_TRACE(r.label(t));
    const gui::SwarmInfo& info = t->info();
    EXPECT_EQ(info.coded_models, 2);
    EXPECT_EQ(info.coded_parity, 2);
    ASSERT_EQ(info.n_blocks, 4);
    EXPECT_EQ(t->state_at(5).servers_of_block(3), std::vector<int>{info.host_index("spare")});
  }
}

// Split learning: both the live stream and the run directory say the clients run blocks 0-1, and
// the session's chain starts at block 2, so the GUI does not report those blocks as uncovered.
TEST(GuiReplay, ASplitLearningRunShowsTheClientsBlocks) {
  const LiveAndReplayed r = live_and_replayed("privacy/split-learning-llama3-8b.json");
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  for (const gui::Timeline* t : r.timelines()) {
    SCOPED_TRACE(r.label(t));
    EXPECT_EQ(t->info().client_blocks, 2);
    const gui::SwarmState s = t->state_at(34.0);
    EXPECT_TRUE(s.servers_of_block(1).empty());
    EXPECT_EQ(s.servers_of_block(2), std::vector<int>{t->info().host_index("l4-0")});
    ASSERT_EQ(s.sessions.size(), 1u);
    EXPECT_EQ(s.sessions.begin()->second.chain.front().blocks.start, 2);
  }
}

// A ban (policy.verification): both timelines mark l4-a1 banned from the metrics' ban time on,
// and it no longer counts among the servers of its blocks.
TEST(GuiReplay, ABannedServerStopsServingInBothTimelines) {
  const LiveAndReplayed r = live_and_replayed("verification/dishonest-server.json");
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  const auto& bans = r.report.metrics["verification"]["banned"];
  ASSERT_EQ(bans.size(), 1u);
  const double t = bans[0]["t"].get<double>();
  for (const gui::Timeline* tl : r.timelines()) {
    SCOPED_TRACE(r.label(tl));
    const int liar = tl->info().host_index("l4-a1");
    const gui::SwarmState before = tl->state_at(t - 1e-6), after = tl->state_at(t + 1e-6);
    EXPECT_FALSE(before.nodes[static_cast<std::size_t>(liar)].banned);
    EXPECT_TRUE(after.nodes[static_cast<std::size_t>(liar)].banned);
    const auto ban = std::find_if(tl->events().begin(), tl->events().end(),
                                  [](const gui::SwarmEvent& e) { return e.type == gui::EventType::ServerBanned; });
    ASSERT_NE(ban, tl->events().end());
    EXPECT_FALSE(ban->honest);  // l4-a1 did cheat
    EXPECT_EQ(after.bans, 1);
    const std::vector<int> holders = after.servers_of_block(0);
    EXPECT_EQ(std::count(holders.begin(), holders.end(), liar), 0);
    EXPECT_EQ(before.servers_of_block(0).size(), 3u);
  }
}

// Split learning on a GTX-1650 client that holds one of two sessions arriving at 30 s: both
// timelines show the client's KV caches of its blocks and the session waiting, then none.
TEST(GuiReplay, AClientHoldingASessionBackShowsItsMemoryAndItsLine) {
  const LiveAndReplayed r = live_and_replayed("privacy/split-learning-llama3-8b.json",
                                              {{"clients[0].device", "\"GTX-1650\""}, {"workload.sessions", "2"},
                                               {"workload.batch_size", "64"}, {"workload.prompt_tokens", "1024"},
                                               {"workload.new_tokens", "2"}, {"workload.arrival", R"({"process": "all_at_start"})"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  const auto& c = r.report.metrics["clients"][0];
  ASSERT_EQ(c["memory_waits"].get<int>(), 1);
  const double session_bytes = c["memory_peak_bytes"].get<double>() - c["memory_fixed_bytes"].get<double>();
  for (const gui::Timeline* tl : r.timelines()) {
    SCOPED_TRACE(r.label(tl));
    const int client = tl->info().host_index("client");
    ASSERT_TRUE(tl->has_kv(client));
    const gui::NodeState at_start = tl->state_at(30.0).nodes[static_cast<std::size_t>(client)];
    EXPECT_DOUBLE_EQ(at_start.kv_bytes, session_bytes);
    EXPECT_EQ(at_start.memory_waiting, 1);
    const gui::NodeState end = tl->state_at(1e9).nodes[static_cast<std::size_t>(client)];
    EXPECT_EQ(end.kv_bytes, 0.0);
    EXPECT_EQ(end.memory_waiting, 0);
    EXPECT_DOUBLE_EQ(end.kv_peak_bytes, session_bytes);  // one session at a time
  }
}

// A cartel of l4-a1 and l4-a2 outvotes honest l4-a0: its ban line says it was honest.
TEST(GuiReplay, AnHonestServerOutvotedByACartelIsMarkedHonest) {
  const LiveAndReplayed r = live_and_replayed("verification/dishonest-server.json",
                                              {{"nodes[1].dishonest", R"({"from": "40s", "cartel": "c"})"},
                                               {"nodes[2].dishonest", R"({"from": "40s", "cartel": "c"})"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  for (const gui::Timeline* tl : r.timelines()) {
    SCOPED_TRACE(r.label(tl));
    const auto ban = std::find_if(tl->events().begin(), tl->events().end(),
                                  [](const gui::SwarmEvent& e) { return e.type == gui::EventType::ServerBanned; });
    ASSERT_NE(ban, tl->events().end());
    EXPECT_EQ(ban->node, tl->info().host_index("l4-a0"));
    EXPECT_TRUE(ban->honest);
  }
}

// Fine-tuning (workload.fine_tuning): both timelines count the trained tokens, and the adapters
// saved and restored (with the updates lost) that metrics.json reports.
TEST(GuiReplay, AFineTuningRunShowsTrainedTokensAndItsCheckpoints) {
  const LiveAndReplayed r = live_and_replayed("fine-tuning/lora-llama3-8b.json", {{"workload.fine_tuning.loss", "null"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  const auto& f = r.report.metrics["fine_tuning"];
  ASSERT_GT(f["checkpoints"]["restored"].get<int>(), 0);
  for (const gui::Timeline* tl : r.timelines()) {
    SCOPED_TRACE(r.label(tl));
    EXPECT_TRUE(tl->info().training);
    const gui::SwarmState end = tl->state_at(tl->end_time());
    EXPECT_DOUBLE_EQ(end.tokens, f["trained_tokens"].get<double>());
    EXPECT_EQ(end.adapters_saved, f["checkpoints"]["saved"].get<int>());
    EXPECT_EQ(end.adapters_restored, f["checkpoints"]["restored"].get<int>());
    EXPECT_EQ(end.updates_lost, f["checkpoints"]["updates_lost"].get<int>());
    const auto restore = std::find_if(tl->events().begin(), tl->events().end(),
                                      [](const gui::SwarmEvent& e) { return e.type == gui::EventType::AdaptersMoved && e.restored; });
    ASSERT_NE(restore, tl->events().end());
    EXPECT_EQ(restore->blocks, (sim::BlockRange{16, 32}));
    EXPECT_GT(restore->value, 0.0);  // from a checkpoint
  }
}

// The fine-tuning loss proxy (workload.fine_tuning.loss): both timelines carry each step's loss,
// the state holds every session's last one as metrics.json does, and the series has them over time.
TEST(GuiReplay, TheLossProxysStepLossesReachBothTimelines) {
  const LiveAndReplayed r = live_and_replayed("fine-tuning/lora-llama3-8b.json", {{"workload.fine_tuning.steps", "6"},
                                                                                  {"workload.fine_tuning.loss", R"({"sequences": 1, "tokens": 8})"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  const auto& sessions = r.report.metrics["fine_tuning"]["loss"]["sessions"];
  ASSERT_EQ(sessions.size(), 4u);
  for (const gui::Timeline* tl : r.timelines()) {
    SCOPED_TRACE(r.label(tl));
    ASSERT_TRUE(tl->has_loss());
    const long losses = std::count_if(tl->events().begin(), tl->events().end(), [](const gui::SwarmEvent& e) { return e.type == gui::EventType::Loss; });
    EXPECT_EQ(losses, 24);  // 4 sessions x 6 steps
    const gui::SwarmState end = tl->state_at(tl->end_time());
    ASSERT_EQ(end.loss.size(), 4u);
    for (const auto& s : sessions) EXPECT_DOUBLE_EQ(end.loss.at(s["session"].get<int>()), s["step_losses"].back().get<double>());
    const gui::TimeSeries series = tl->training_loss(tl->end_time(), 60);
    EXPECT_GT(*std::max_element(series.values.begin(), series.values.end()), 0.0f);
  }
}

// A data-parallel fine-tuning job: both timelines count each session's part in its job's
// averagings, as metrics.json does.
TEST(GuiReplay, ADataParallelJobsAveragingsAreCounted) {
  const LiveAndReplayed r = live_and_replayed("fine-tuning/lora-llama3-8b.json",
                                              {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.sync_every", "5"},
                                               {"workload.fine_tuning.loss", "null"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  const int averagings = r.report.metrics["fine_tuning"]["sync"]["averagings"].get<int>();
  ASSERT_GT(averagings, 0);
  for (const gui::Timeline* tl : r.timelines()) {
    SCOPED_TRACE(r.label(tl));
    EXPECT_EQ(tl->state_at(tl->end_time()).adapter_syncs, averagings);
  }
}

// Under ZeRO the run's start says so, and both timelines know it: the event list then describes a
// synchronization as the job's mean gradient, not an averaging.
TEST(GuiReplay, AZeroJobsTimelinesKnowItsStage) {
  const LiveAndReplayed r = live_and_replayed("fine-tuning/lora-llama3-8b.json",
                                              {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.zero", "2"},
                                               {"workload.fine_tuning.steps", "6"}, {"workload.fine_tuning.loss", "null"}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.run.ok()) << r.run.errors.front();
  const int syncs = r.report.metrics["fine_tuning"]["sync"]["averagings"].get<int>();
  ASSERT_EQ(syncs, 4 * 6);
  for (const gui::Timeline* tl : r.timelines()) {
    SCOPED_TRACE(r.label(tl));
    EXPECT_EQ(tl->info().zero, 2);
    EXPECT_EQ(tl->state_at(tl->end_time()).adapter_syncs, syncs);
  }
}
