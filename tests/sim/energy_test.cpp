// Energy (sim/metrics/energy.hpp) and cost (sim/metrics/run_cost.hpp): known answers for the power model and the on intervals, and the
// "energy" section of whole runs on the flow engine, where servers join late, go down and come
// back, and a client goes down.
#include <gtest/gtest.h>

#include <string>

#include "sim/flow/flow_coded.hpp"
#include "sim/flow/flow_pipeline.hpp"
#include "sim/flow/flow_tree.hpp"
#include "sim/metrics/energy.hpp"
#include "sim/metrics/run_cost.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/sim/flow_run.hpp"

using namespace swarmsim::sim;

namespace {

const std::string kTwoNode = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json";

/// What loading the two-node scenario with `o` says: the error, or "loaded".
std::string error_of(const std::vector<Override>& o) {
  try {
    load_scenario_file(kTwoNode, o);
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  return std::string("loaded");
}

const nlohmann::json& host(const nlohmann::json& m, const char* list, const std::string& name) {
  for (const auto& h : m[list])
    if (h["name"] == name) return h;
  throw std::runtime_error("no host " + name);
}

}  // namespace

TEST(Energy, AHostDrawsIdlePowerWhileOnAndMoreInProportionToItsWork) {
  const PowerDraw p{20.0, 100.0};
  EXPECT_DOUBLE_EQ(host_energy_j(p, 10.0, 2.0), 20.0 * 10 + 80.0 * 2);
  EXPECT_DOUBLE_EQ(host_energy_j(p, 10.0, 0.0), 200.0);       // on and idle
  EXPECT_DOUBLE_EQ(host_energy_j(p, 10.0, 15.0), 100.0 * 10);  // at most fully used: the busy draw
  EXPECT_DOUBLE_EQ(host_energy_j(p, 0.0, 0.0), 0.0);
}

TEST(Energy, OnTimesCountOnlyTheIntervalsWithinTheWindow) {
  PowerOnTimes t(2);
  t.switch_on(0, 5.0);
  t.switch_off(0, 10.0);
  t.switch_off(0, 11.0);  // off already: nothing
  t.switch_on(0, 20.0);
  t.switch_on(0, 22.0);   // on already: still on since 20
  EXPECT_DOUBLE_EQ(t.on_seconds(0, 7.0, 25.0), 3.0 + 5.0);
  EXPECT_DOUBLE_EQ(t.on_seconds(0, 0.0, 4.0), 0.0);
  EXPECT_DOUBLE_EQ(t.on_seconds(0, 12.0, 18.0), 0.0);  // between the intervals
  EXPECT_DOUBLE_EQ(t.on_seconds(0, 0.0, 100.0), 5.0 + 80.0);
  EXPECT_DOUBLE_EQ(t.on_seconds(1, 0.0, 100.0), 0.0);  // never on
  PowerOnTimes later(1);
  later.switch_on(0, 30.0);  // a server that starts loading at 30 s, listed down at 20 s, up at 40 s
  later.switch_off(0, 20.0);
  later.switch_on(0, 40.0);
  EXPECT_DOUBLE_EQ(later.on_seconds(0, 0.0, 50.0), 10.0);
}

// One server with its own draw and the client with the catalog's cpu-generic (25 W idle, 125 W
// busy): each is charged idle power over the serving window, from the first arrival (10 s) to the
// end, and its busy draw's excess over its busy device-seconds.
TEST(Energy, ARunChargesEachHostItsDrawOverTheServingWindow) {
  const Scenario sc = load_scenario_file(kTwoNode, {{"nodes[0].power", R"({"idle": "20W", "busy": "70W"})"}});
  const nlohmann::json m = swarmsim::test::flow_run(sc).metrics;
  const double window = m["simulated_time_s"].get<double>() - 10.0;
  ASSERT_GT(window, 1.0);
  const auto& e = m["energy"];
  EXPECT_NEAR(e["window_s"].get<double>(), window, 1e-9);
  const double server_busy = host(m, "nodes", "server")["busy_device_seconds"].get<double>();
  const double client_busy = host(m, "clients", "client")["busy_device_seconds"].get<double>();
  ASSERT_GT(server_busy, 0.0);
  ASSERT_GT(client_busy, 0.0);
  const double server_j = 20.0 * window + 50.0 * server_busy, client_j = 25.0 * window + 100.0 * client_busy;
  EXPECT_NEAR(host(m, "nodes", "server")["energy_joules"].get<double>(), server_j, 1e-9 * server_j);
  EXPECT_NEAR(host(m, "clients", "client")["energy_joules"].get<double>(), client_j, 1e-9 * client_j);
  EXPECT_NEAR(e["joules"].get<double>(), server_j + client_j, 1e-9 * server_j);
  EXPECT_NEAR(e["servers_joules"].get<double>(), server_j, 1e-9 * server_j);
  EXPECT_NEAR(e["idle_share"].get<double>(), 45.0 * window / (server_j + client_j), 1e-12);
  EXPECT_NEAR(e["mean_power_w"].get<double>(), (server_j + client_j) / window, 1e-9);
  ASSERT_EQ(m["throughput"]["tokens_generated"].get<int>(), 2 * 16);
  EXPECT_NEAR(e["joules_per_token"].get<double>(), (server_j + client_j) / 32, 1e-9);
}

// A second server that starts loading at 11 s, after the first arrival, goes down at 13 s (before
// it has loaded its blocks) and restarts at 14 s is on for (13 - 11) + (end - 14) s of the window; a client down from 11 s to
// 13 s is on for all of it but those 2 s (the other one for all of it).
TEST(Energy, AHostDrawsNothingBeforeItStartsLoadingOrWhileItIsDown) {
  const Scenario sc = load_scenario_file(
      kTwoNode,
      {{"nodes", R"([{"name": "server", "gpu": "L4", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps",
                       "access_latency": "2ms", "blocks": {"start": 0, "end": 32}},
                      {"name": "late", "gpu": "RTX-3090", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps",
                       "downlink": "1Gbps", "blocks": {"start": 0, "end": 32}, "join_at": "11s"}])"},
       {"clients", R"([{"name": "fe-0", "device": "cpu-generic", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps"},
                       {"name": "fe-1", "device": "cpu-generic", "location": {"lat": 48.86, "lon": 2.35}, "uplink": "1Gbps", "downlink": "1Gbps",
                        "power": {"busy": "200W"}}])"},
       {"events", R"([{"at": "13s", "action": "node_down", "node": "late"}, {"at": "14s", "action": "node_up", "node": "late"},
                      {"at": "11s", "action": "node_down", "node": "fe-1"}, {"at": "13s", "action": "node_up", "node": "fe-1"}])"}});
  const nlohmann::json m = swarmsim::test::flow_run(sc).metrics;
  const double end = m["simulated_time_s"].get<double>();
  ASSERT_GT(end, 15.0);
  const auto energy = [&](const char* list, const std::string& name, double idle, double busy, double on_s) {
    const auto& h = host(m, list, name);
    EXPECT_NEAR(h["energy_joules"].get<double>(), idle * on_s + (busy - idle) * h["busy_device_seconds"].get<double>(), 1e-9 * busy * on_s)
        << name;
  };
  energy("nodes", "late", 25.0, 350.0, (13.0 - 11.0) + (end - 14.0));  // the RTX-3090's catalog draw
  energy("nodes", "server", 16.0, 72.0, end - 10.0);                   // the L4's, on before the window
  energy("clients", "fe-0", 25.0, 125.0, end - 10.0);
  energy("clients", "fe-1", 25.0, 200.0, end - 10.0 - 2.0);  // its own busy draw, the catalog's idle
}

TEST(Energy, PowerIsChecked) {
  EXPECT_NE(error_of({{"nodes[0].power", "{}"}}).find("nodes[0].power: expected \"idle\" and/or \"busy\""), std::string::npos);
  EXPECT_NE(error_of({{"clients[0].power", R"({"busy": "0W"})"}}).find("clients[0].power.busy: must be positive"),
            std::string::npos);
  EXPECT_NE(error_of({{"nodes[0].power", R"({"idle": "30"})"}}).find("nodes[0].power.idle: \"30\" has no unit; expected a power such as \"350W\""),
            std::string::npos);
}

namespace {

/// Each host's energy in a request run's "energy.hosts" is its idle draw over the seconds it was
/// on in the window plus its busy excess over its device-seconds; the totals add up; joules per
/// request divides by the completed requests. `on_s(name)` is the seconds each host was on.
template <class OnSeconds>
void expect_request_energy(const nlohmann::json& m, const Scenario& sc, OnSeconds on_s) {
  const auto& e = m["energy"];
  ASSERT_TRUE(e.contains("hosts")) << m["kind"];
  ASSERT_EQ(e["hosts"].size(), sc.nodes.size() + sc.clients.size());
  double total = 0, servers = 0, idle = 0;
  for (std::size_t h = 0; h < e["hosts"].size(); ++h) {
    const auto& j = e["hosts"][h];
    const bool server = h < sc.nodes.size();
    const PowerDraw p = server ? power_draw(sc.nodes[h]) : power_draw(sc.clients[h - sc.nodes.size()]);
    const std::string name = j["name"];
    const double on = on_s(name), busy = j["busy_device_seconds"].get<double>();
    const double want = p.idle_w * on + (p.busy_w - p.idle_w) * std::min(busy, on);
    EXPECT_NEAR(j["energy_joules"].get<double>(), want, 1e-9 * want + 1e-9) << m["kind"] << " " << name;
    total += want;
    idle += p.idle_w * on;
    if (server) servers += want;
  }
  EXPECT_NEAR(e["joules"].get<double>(), total, 1e-9 * total);
  EXPECT_NEAR(e["servers_joules"].get<double>(), servers, 1e-9 * total);
  EXPECT_NEAR(e["idle_share"].get<double>(), idle / total, 1e-12);
  const int completed = m["requests"]["completed"].get<int>();
  ASSERT_GT(completed, 0);
  EXPECT_NEAR(e["joules_per_request"].get<double>(), total / completed, 1e-9 * total);
}

RunOptions quiet_options() {
  RunOptions quiet;
  quiet.progress = RunOptions::Progress::Never;
  return quiet;
}

Scenario on_flow(Scenario sc) {
  sc.engine = EngineKind::Flow;
  sc.outputs.trace = sc.outputs.events = false;
  return sc;
}

}  // namespace

// A graph pipeline whose A100 fails at 2 s and is back at 6 s (its stage moved to a spare): every
// host draws from the first arrival to the end, the A100 not while down; the spares that took no
// stage draw idle power only.
TEST(Energy, AGraphPipelineChargesItsServersIdleWhileUpAndTheirStagesWork) {
  const Scenario sc = on_flow(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/pipeline/unet-sd-failover.json",
                                                 {{"nodes[1].power", R"({"idle": "30W", "busy": "300W"})"}}));
  SimSignals signals;
  const nlohmann::json m = swarmsim::sim::flow::run_flow_pipeline(sc, quiet_options(), signals).metrics;
  const double end = m["simulated_time_s"].get<double>(), window = m["energy"]["window_s"].get<double>();
  ASSERT_GT(end, 6.0);
  EXPECT_NEAR(window, end - 1.0, 1e-9);  // the requests all arrive at 1 s
  expect_request_energy(m, sc, [&](const std::string& name) { return name == "a100-a" ? window - 4.0 : window; });
  int idle_spares = 0;
  for (const auto& h : m["energy"]["hosts"]) idle_spares += h["busy_device_seconds"].get<double>() == 0.0;
  EXPECT_GE(idle_spares, 2);  // the client and at least one server without a stage
  const auto& own = m["energy"]["hosts"][1];  // its own draw, not the catalog's
  ASSERT_EQ(own["name"], sc.nodes[1].name);
  const double on = sc.nodes[1].name == "a100-a" ? window - 4.0 : window;
  EXPECT_NEAR(own["energy_joules"].get<double>(), 30.0 * on + 270.0 * own["busy_device_seconds"].get<double>(), 1e-6);
}

TEST(Energy, FisherTreesAndCodedRunsReportEnergyPerRequest) {
  const Scenario tree = on_flow(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/tree/fisher-btree-merge.json"));
  SimSignals ts;
  const nlohmann::json t = swarmsim::sim::flow::run_flow_tree(tree, quiet_options(), ts).metrics;
  expect_request_energy(t, tree, [&](const std::string&) { return t["energy"]["window_s"].get<double>(); });

  // A member's server is down for a while (the scenario's node_down and node_up).
  const Scenario coded = on_flow(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/coded/coin-failover.json"));
  SimSignals cs;
  const nlohmann::json c = swarmsim::sim::flow::run_flow_coded(coded, quiet_options(), cs).metrics;
  double down_s = 0;
  for (const ReplayEvent& e : coded.events) down_s += (e.action == EventAction::NodeDown ? -1 : 1) * e.at_s;
  ASSERT_GT(down_s, 0.0);
  expect_request_energy(c, coded, [&](const std::string& name) {
    return c["energy"]["window_s"].get<double>() - (name == coded.events[0].node ? down_s : 0.0);
  });
}

// Cost (sim/metrics/run_cost.hpp): each host's rent over the seconds it was on in the window and
// its electricity price times its joules, a host's own prices in place of the scenario's in part.
TEST(Cost, EachHostPaysRentWhileOnAndItsElectricity) {
  const Scenario sc = load_scenario_file(kTwoNode, {{"costs", R"({"currency": "EUR", "rent": "0.36/h", "electricity": "0.18/kWh"})"},
                                                    {"nodes[0].costs", R"({"rent": "3.6/h"})"},
                                                    {"clients[0].costs", R"({"electricity": "0/kWh"})"}});
  ASSERT_TRUE(sc.priced());
  const nlohmann::json m = swarmsim::test::flow_run(sc).metrics;
  const double window = m["energy"]["window_s"].get<double>();
  const double server_j = host(m, "nodes", "server")["energy_joules"].get<double>();
  ASSERT_GT(window, 1.0);
  const auto& c = m["cost"];
  EXPECT_EQ(c["currency"], "EUR");
  // The server: its own rent (3.6 per hour = 0.001 per second), the scenario's electricity; the
  // client: the scenario's rent (0.0001 per second), its own free electricity.
  const double rent = 0.001 * window + 0.0001 * window, electricity = 0.18 / 3.6e6 * server_j;
  EXPECT_NEAR(c["rent"].get<double>(), rent, 1e-12);
  EXPECT_NEAR(c["electricity"].get<double>(), electricity, 1e-12);
  EXPECT_NEAR(c["total"].get<double>(), rent + electricity, 1e-12);
  EXPECT_NEAR(c["per_million_tokens"].get<double>(), (rent + electricity) * 1e6 / 32, 1e-9);

  // Without prices there is no cost section (an unknown cost is not 0).
  const Scenario unpriced = load_scenario_file(kTwoNode);
  EXPECT_FALSE(unpriced.priced());
  EXPECT_FALSE(swarmsim::test::flow_run(unpriced).metrics.contains("cost"));
}

TEST(Cost, RequestRunsPayPerThousandRequestsAndADownHostNoRent) {
  // The coded run's model-1 server is down for a while: it pays no rent then.
  const Scenario coded = on_flow(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/coded/coin-failover.json",
                                                    {{"costs", R"({"rent": "3.6/h"})"}}));
  SimSignals cs;
  const nlohmann::json c = swarmsim::sim::flow::run_flow_coded(coded, quiet_options(), cs).metrics;
  double down_s = 0;
  for (const ReplayEvent& e : coded.events) down_s += (e.action == EventAction::NodeDown ? -1 : 1) * e.at_s;
  const double window = c["energy"]["window_s"].get<double>();
  const double hosts = static_cast<double>(coded.nodes.size() + coded.clients.size());
  const double rent = 0.001 * (hosts * window - down_s);
  EXPECT_NEAR(c["cost"]["rent"].get<double>(), rent, 1e-9);
  EXPECT_EQ(c["cost"]["electricity"].get<double>(), 0.0);
  EXPECT_NEAR(c["cost"]["per_thousand_requests"].get<double>(), rent * 1e3 / c["requests"]["completed"].get<double>(), 1e-9);
  EXPECT_EQ(c["cost"]["currency"], "USD");  // the default
}

TEST(Cost, PricesAreChecked) {
  EXPECT_NE(error_of({{"costs", R"({"rent": "1.20"})"}}).find("costs.rent: \"1.20\" has no unit; expected a price per time such as \"1.20/h\""),
            std::string::npos);
  EXPECT_NE(error_of({{"costs", R"({"electricity": "0.3kWh"})"}}).find("costs.electricity:"), std::string::npos);
  EXPECT_NE(error_of({{"costs", R"({"rent": 1.2})"}}).find("(units go inside the string, e.g. \"1.2/h\")"), std::string::npos);
  EXPECT_NE(error_of({{"costs", R"({"electricity": 0.3})"}}).find("e.g. \"0.3/kWh\""), std::string::npos);
  EXPECT_NE(error_of({{"costs", R"({"currency": "US$"})"}}).find("costs.currency: \"US$\" is not a currency name"), std::string::npos);
  EXPECT_NE(error_of({{"nodes[0].costs", R"({"rent": "-1/h"})"}}).find("nodes[0].costs.rent:"), std::string::npos);
  EXPECT_NE(error_of({{"clients[0].costs", "{}"}}).find("clients[0].costs: expected \"rent\" and/or \"electricity\""), std::string::npos);
  EXPECT_NE(error_of({{"nodes[0].costs", R"({"currency": "EUR"})"}}).find("nodes[0].costs.currency: unknown key"), std::string::npos);
}

// Fine-tuning generates no tokens: its energy and cost are per trained token.
TEST(Energy, FineTuningIsChargedPerTrainedToken) {
  const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/fine-tuning/lora-llama3-8b.json",
                                         {{"costs", R"({"rent": "1/h"})"}, {"workload.fine_tuning.steps", "8"}});
  const nlohmann::json m = swarmsim::test::flow_run(sc).metrics;
  const double trained = m["fine_tuning"]["trained_tokens"].get<double>();
  ASSERT_GT(trained, 0.0);
  EXPECT_TRUE(m["energy"]["joules_per_token"].is_null());
  EXPECT_NEAR(m["energy"]["joules_per_trained_token"].get<double>(), m["energy"]["joules"].get<double>() / trained, 1e-12);
  EXPECT_NEAR(m["cost"]["per_million_trained_tokens"].get<double>(), m["cost"]["total"].get<double>() * 1e6 / trained, 1e-9);
}
