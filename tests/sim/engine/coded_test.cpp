// Erasure-coded inference on SimGrid (seed 001, model.coded): a request's latency worked out by
// hand, a slow model whose output the coded model stands in for, the decode wait, and a failed
// server that stalls uncoded requests but not coded ones.
#include <gtest/gtest.h>

#include <string>

#include "sim/engine/isolated_run.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;

namespace {

/// Model 0, model 1 and the coded model on `gpus` (three names; a fourth is "coded-1"), a client, 10 Gbit/s links with
/// 100 µs access latency, the exact network model and no per-message overheads.
Scenario coded(const std::string& extra, const std::string& workload, const std::string& gpus = R"("L4", "L4", "L4")",
               const std::string& events = "[]") {
  std::string nodes;
  const std::string names[4] = {"model-0", "model-1", "coded", "coded-1"};
  std::size_t pos = 0;
  for (int i = 0; i < 4; ++i) {  // three GPUs, or four for a second coded model
    const std::size_t a = gpus.find('"', pos), b = gpus.find('"', a + 1);
    if (a == std::string::npos) break;
    pos = b + 1;
    nodes += std::string(i ? "," : "") + R"({"name": ")" + names[i] + R"(", "gpu": ")" + gpus.substr(a + 1, b - a - 1) +
             R"(", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"})";
  }
  const std::string text = R"({
    "name": "coded-engine-test",
    "model": {"coded": {"models": 2, "pretrain_steps": 100, "finetune_steps": 50, "test_samples": 100,
                        "node_work": "100GFLOP", "node_params": "200MB", "input": "125KB", "output": "1KB")" + extra + R"(}},
    "nodes": [)" + nodes + R"(],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps",
                 "access_latency": "100us"}],
    "network": {"model": "exact"},
    "overheads": {"rpc": "0ms", "serialization_bandwidth": "1TBps", "message_header": "0B"},
    "workload": )" + workload + R"(,
    "events": )" + events + R"(
  })";
  return load_scenario_text(text, "coded-engine-test.json");
}

RunReport run(const Scenario& sc) {
  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  return run_isolated(sc, opts);
}

TEST(CodedEngine, ARequestsLatencyIsItsInputsSharingTheUplinkAComputeAndAnOutput) {
  const RunReport r = run(coded("", R"({"sessions": 1})"));
  const auto& m = r.metrics;
  ASSERT_EQ(m["requests"]["completed"], 1);
  const double compute = m["members"][0]["compute_s"].get<double>();
  EXPECT_EQ(m["members"][2]["compute_s"].get<double>(), compute) << "three L4s";
  const double bw = 10e9 / 8, hop = 2 * 100e-6;  // two access links per message, no distance
  // The three inputs leave together and share the client's uplink; the outputs (1 KB each) share its downlink.
  const double expected = hop + 3 * 125000 / bw + compute + hop + 3 * 1000 / bw;
  EXPECT_NEAR(m["latency_s"]["p50"].get<double>(), expected, 2e-6);
  EXPECT_EQ(m["network"]["messages"], 6);
  // The coded model's input left last, so both task outputs arrive before its output: nothing is decoded.
  EXPECT_EQ(m["requests"]["decoded"], 0);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(m["members"][k]["visits"], 1);
}

TEST(CodedEngine, TheCodedModelStandsInForASlowModelAndItsDecodedAnswersAreCounted) {
  // Model 1 on a GTX-1650 takes far longer than the L4s: with the coded model every request
  // completes from model 0 and the coded output, without it each waits for the GTX-1650.
  const std::string workload = R"({"sessions": 200, "max_in_flight": 4, "arrival": {"process": "fixed", "interval": "200ms"}})";
  const std::string gpus = R"("L4", "GTX-1650", "L4")";
  const RunReport with = run(coded("", workload, gpus));
  const RunReport without = run(coded(R"(, "parity": 0)", workload, gpus));
  const auto& w = with.metrics;
  const auto& wo = without.metrics;
  ASSERT_EQ(w["requests"]["completed"], 200);
  ASSERT_EQ(wo["requests"]["completed"], 200);
  const double fast = w["members"][0]["compute_s"].get<double>(), slow = w["members"][1]["compute_s"].get<double>();
  ASSERT_GT(slow, 5 * fast);
  EXPECT_EQ(w["requests"]["decoded"], 200) << "model 1's output is always the missing one";
  EXPECT_EQ(wo["requests"]["decoded"], 0);
  EXPECT_LT(w["latency_s"]["p50"].get<double>(), fast + 0.005);
  EXPECT_GT(wo["latency_s"]["p50"].get<double>(), slow);
  // The same requests: the accuracy with every output is the uncoded run's accuracy.
  EXPECT_DOUBLE_EQ(w["answers"]["accuracy_all_outputs"].get<double>(), wo["answers"]["accuracy"].get<double>());
  // Half the requests (task 1) are answered by model 1's decoded output, so coding costs accuracy.
  EXPECT_GT(w["answers"]["decoded_own_task"].get<int>(), 70);
  EXPECT_LT(w["answers"]["decoded_own_task"].get<int>(), 130);
  EXPECT_LE(w["answers"]["accuracy"].get<double>(), w["answers"]["accuracy_all_outputs"].get<double>());
}

TEST(CodedEngine, ADecodeWaitLongerThanTheSlowModelMeansNothingIsDecoded) {
  const std::string workload = R"({"sessions": 50, "max_in_flight": 4, "arrival": {"process": "fixed", "interval": "300ms"}})";
  const std::string gpus = R"("L4", "GTX-1650", "L4")";
  const RunReport patient = run(coded(R"(, "decode_wait": "1s")", workload, gpus));
  const RunReport eager = run(coded(R"(, "decode_wait": "1ms")", workload, gpus));
  EXPECT_EQ(patient.metrics["requests"]["decoded"], 0);
  EXPECT_EQ(eager.metrics["requests"]["decoded"], 50);
  const double fast = eager.metrics["members"][0]["compute_s"].get<double>();
  EXPECT_LT(eager.metrics["latency_s"]["max"].get<double>(), fast + 0.001 + 0.005) << "decoded 1 ms after the coded output";
  // Waiting for the GTX-1650 costs what the uncoded run costs, plus the coded model's input sharing the uplink.
  const double uncoded = run(coded(R"(, "parity": 0)", workload, gpus)).metrics["latency_s"]["p50"].get<double>();
  EXPECT_NEAR(patient.metrics["latency_s"]["p50"].get<double>(), uncoded + 125000 / (10e9 / 8), 1e-6);
}

TEST(CodedEngine, AFailedServerStallsUncodedRequestsUntilItHasReloadedButCodedOnesCompleteByDecoding) {
  // Model 1's server is down from 1 s to 3 s and reloads 200 MB at the default 2 GB/s (0.1 s).
  const std::string workload = R"({"sessions": 400, "max_in_flight": 16, "arrival": {"process": "fixed", "interval": "10ms"}})";
  const std::string events = R"([{"at": "1s", "action": "node_down", "node": "model-1"}, {"at": "3s", "action": "node_up", "node": "model-1"}])";
  const RunReport coded_run = run(coded("", workload, R"("L4", "L4", "L4")", events));
  const RunReport uncoded_run = run(coded(R"(, "parity": 0)", workload, R"("L4", "L4", "L4")", events));
  const auto& c = coded_run.metrics;
  const auto& u = uncoded_run.metrics;
  ASSERT_EQ(c["requests"]["completed"], 400);
  ASSERT_EQ(u["requests"]["completed"], 400);
  // Uncoded: the 16 requests of the window wait from about 1 s until model 1 serves again at 3.1 s.
  EXPECT_GT(u["latency_s"]["max"].get<double>(), 2.0);
  EXPECT_EQ(u["requests"]["resent"], 16);
  // Coded: the requests sent while model 1 is down decode its output; none waits long.
  EXPECT_LT(c["latency_s"]["max"].get<double>(), 0.05);
  EXPECT_GE(c["requests"]["decoded"].get<int>(), 195);  // 200 requests arrive while it is down or reloading
  EXPECT_EQ(c["members"][1]["failures"], 1);
  EXPECT_LT(c["members"][1]["visits"].get<int>(), 400);
}

TEST(CodedEngine, TwoCodedModelsCarryRequestsThroughTwoFailedModelServers) {
  // Both models' servers are down from 1 s to 3 s. With two coded models every request completes
  // by decoding both outputs; with one, the requests of that window wait for the servers.
  const std::string workload = R"({"sessions": 400, "max_in_flight": 16, "arrival": {"process": "fixed", "interval": "10ms"}})";
  const std::string events = R"([{"at": "1s", "action": "node_down", "node": "model-0"}, {"at": "1s", "action": "node_down", "node": "model-1"},
      {"at": "3s", "action": "node_up", "node": "model-0"}, {"at": "3s", "action": "node_up", "node": "model-1"}])";
  const RunReport two = run(coded(R"(, "parity": 2)", workload, R"("L4", "L4", "L4", "L4")", events));
  const RunReport one = run(coded("", workload, R"("L4", "L4", "L4", "L4")", events));  // the fourth L4 is a spare here
  const auto& t = two.metrics;
  const auto& o = one.metrics;
  ASSERT_EQ(t["requests"]["completed"], 400);
  ASSERT_EQ(o["requests"]["completed"], 400);
  EXPECT_LT(t["latency_s"]["max"].get<double>(), 0.05);
  EXPECT_GE(t["requests"]["decoded"].get<int>(), 195);  // 200 requests arrive while the models are down or reloading
  EXPECT_GE(t["requests"]["outputs_decoded"].get<int>(), 2 * 195) << "both outputs decoded for each";
  EXPECT_EQ(t["members"].size(), 4u);
  EXPECT_EQ(t["members"][3]["role"], "coded");
  EXPECT_GT(o["latency_s"]["max"].get<double>(), 0.5) << "one coded model cannot stand in for two";
  EXPECT_GT(o["requests"]["resent"].get<int>(), 0);
  // Answers decoded from the two coded models alone are still mostly right.
  EXPECT_GT(t["answers"]["accuracy"].get<double>(), 0.6);
}

TEST(CodedEngine, CancelsDropTheWorkOfCompletedRequestsThatAMemberHasNotStarted) {
  // Model 1 on a GTX-1650 cannot keep up with 50 requests/s: without cancels its queue grows for
  // the whole run; with them it drops what the coded model already answered for it.
  const std::string workload = R"({"sessions": 400, "max_in_flight": 16, "arrival": {"process": "fixed", "interval": "20ms"}})";
  const std::string gpus = R"("L4", "GTX-1650", "L4")";
  const RunReport keep = run(coded("", workload, gpus));
  const RunReport cancel = run(coded(R"(, "cancel": true)", workload, gpus));
  const auto& k = keep.metrics;
  const auto& c = cancel.metrics;
  ASSERT_EQ(c["requests"]["completed"], 400);
  const double slow = c["members"][1]["compute_s"].get<double>();
  ASSERT_GT(slow, 0.020) << "the GTX-1650 is slower than the arrivals";
  EXPECT_EQ(k["members"][1]["dropped"], 0);
  const int visits = c["members"][1]["visits"].get<int>(), dropped = c["members"][1]["dropped"].get<int>();
  EXPECT_GT(dropped, 100);
  EXPECT_LE(visits + dropped, 400);
  // Every cancel is one message more: the inputs, the outputs that were computed, the cancels.
  int outputs = 0;
  for (int m = 0; m < 3; ++m) outputs += c["members"][m]["visits"].get<int>();
  EXPECT_EQ(c["network"]["messages"].get<int>(), 3 * 400 + outputs + c["requests"]["cancels"].get<int>());
  EXPECT_EQ(c["requests"]["cancels"], 400) << "each request completes with one member still holding it";
}

TEST(CodedEngine, AFailedModelMovesToASpareOnceDetectedSoUncodedRequestsWaitOnlyThatLong) {
  // Without a coded model the third L4 ("coded") is a spare. Model 1's server fails at 1.05 s for
  // good; heartbeats every 100 ms, two missed: detected at 1.2 s; the spare loads 200 MB at 2 GB/s
  // and serves model 1 from 1.3 s.
  const std::string workload = R"({"sessions": 300, "max_in_flight": 16, "arrival": {"process": "fixed", "interval": "10ms"}})";
  const std::string events = R"([{"at": "1.05s", "action": "node_down", "node": "model-1"}])";
  Scenario sc = coded(R"(, "parity": 0)", workload, R"("L4", "L4", "L4")", events);
  sc.policy.faults.heartbeat_s = 0.1;
  const RunReport r = run(sc);
  const auto& m = r.metrics;
  ASSERT_EQ(m["requests"]["completed"], 300);
  ASSERT_EQ(m["failovers"].size(), 1u);
  const auto& f = m["failovers"][0];
  EXPECT_EQ(f["from"], "model-1");
  EXPECT_EQ(f["to"], "coded");
  EXPECT_NEAR(f["detected_at_s"].get<double>(), 1.2, 1e-9);
  EXPECT_NEAR(f["ready_at_s"].get<double>(), 1.3, 1e-9);
  EXPECT_GT(f["requests_resent"].get<int>(), 0);
  EXPECT_EQ(m["members"][1]["node"], "coded");
  EXPECT_EQ(m["spare_servers"], 0);
  // The longest wait: a request sent just before the failure, until the spare serves (0.25 s) and answers.
  EXPECT_GT(m["latency_s"]["max"].get<double>(), 0.25);
  EXPECT_LT(m["latency_s"]["max"].get<double>(), 0.35);
}

}  // namespace
