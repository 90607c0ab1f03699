// Erasure-coded inference's bookkeeping (seed 001, model.coded), without SimGrid: which arrivals
// complete a request, which output is decoded, the decode wait, and what a failed member loses
// and is sent again.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/coded/coded_run.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::sim {
namespace {

/// Two task models and a coded one on three L4s, one or two clients, small fast-to-train models.
Scenario coded_scenario(const std::string& extra = "", int clients = 1, int requests = 10, int servers = 3) {
  std::string client_list;
  for (int c = 0; c < clients; ++c)
    client_list += std::string(c ? "," : "") + R"({"name": "c)" + std::to_string(c) +
                   R"(", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"})";
  const std::string text = R"({
    "name": "coded-test",
    "model": {"coded": {"models": 2, "pretrain_steps": 50, "finetune_steps": 20, "test_samples": 50)" + extra + R"(}},
    "nodes": [{"name": "s", "count": )" + std::to_string(servers) + R"(, "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "clients": [)" + client_list + R"(],
    "workload": {"sessions": )" + std::to_string(requests) + R"(}
  })";
  return load_scenario_text(text, "coded-test.json");
}

struct Fixture {
  Scenario sc;
  SimSignals signals;
  CodedRun run;
  explicit Fixture(Scenario s) : sc(std::move(s)), run(sc, RunOptions{}, signals) {}
};

/// Request r completed by decoding model j's output alone: the one missing, and its answer when j is its task.
void expect_decoded_alone(const CodedRun& m, int r, int j) {
  const auto ri = static_cast<std::size_t>(r);
  EXPECT_EQ(m.decoded_outputs[ri], 1) << "request " << r;
  EXPECT_NE(m.at(r, j), MemberState::Arrived) << "request " << r;
  EXPECT_EQ(m.task_decoded[ri], m.task[ri] == j) << "request " << r;
}

TEST(CodedRun, TwoOriginalsCompleteWithoutDecodingAndOneOriginalWithTheCodedOutputDecodesTheOther) {
  Fixture f(coded_scenario());
  CodedRun& m = f.run;
  ASSERT_EQ(m.n_members(), 3);
  for (int r = 0; r < 3; ++r) m.request_sent(r, 0.0);
  // Request 0: both originals, the coded output later (ignored).
  EXPECT_EQ(m.output_arrived(0, 0, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(0, 1, 2.0), CodedRun::Arrival::Completed);
  EXPECT_EQ(m.output_arrived(0, 2, 3.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.decoded_outputs[0], 0);
  EXPECT_DOUBLE_EQ(m.done[0], 2.0);
  // Request 1: model 0 and the coded model: model 1's output is decoded.
  EXPECT_EQ(m.output_arrived(1, 2, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(1, 0, 1.5), CodedRun::Arrival::Completed);
  expect_decoded_alone(m, 1, 1);
  EXPECT_EQ(m.output_arrived(1, 1, 9.0), CodedRun::Arrival::Nothing) << "a straggler's late output";
  // Request 2: the coded output and model 1: model 0's is decoded.
  EXPECT_EQ(m.output_arrived(2, 1, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(2, 2, 1.2), CodedRun::Arrival::Completed);
  expect_decoded_alone(m, 2, 0);
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.decoded, 2);
  // A decoded request counts as correct by its decoded output only when its own task's model was the one decoded.
  for (int r = 1; r < 3; ++r) {
    if (!m.task_decoded[static_cast<std::size_t>(r)]) {
      EXPECT_EQ(m.correct[static_cast<std::size_t>(r)], m.exact_correct[static_cast<std::size_t>(r)]);
    }
  }
}

TEST(CodedRun, WithTwoCodedModelsAnyTwoOfTheFourOutputsCompleteARequest) {
  Fixture f(coded_scenario(R"(, "parity": 2)", 1, 10, 4));
  CodedRun& m = f.run;
  ASSERT_EQ(m.n_members(), 4);
  ASSERT_EQ(m.ensemble.coded.size(), 2u);
  for (int r = 0; r < 4; ++r) m.request_sent(r, 0.0);
  // Request 0: the two coded outputs alone: both task outputs are decoded.
  EXPECT_EQ(m.output_arrived(0, 2, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(0, 3, 1.5), CodedRun::Arrival::Completed);
  EXPECT_EQ(m.decoded_outputs[0], 2);
  EXPECT_EQ(m.task_decoded[0], 1);
  EXPECT_EQ(m.output_arrived(0, 0, 2.0), CodedRun::Arrival::Nothing);
  // Request 1: model 1 and coded model 1: model 0's output is decoded.
  EXPECT_EQ(m.output_arrived(1, 3, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(1, 1, 1.2), CodedRun::Arrival::Completed);
  expect_decoded_alone(m, 1, 0);
  // Request 2: both task outputs first: nothing decoded.
  m.output_arrived(2, 0, 1.0);
  EXPECT_EQ(m.output_arrived(2, 1, 1.1), CodedRun::Arrival::Completed);
  EXPECT_EQ(m.decoded_outputs[2], 0);
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.decoded, 2);
  EXPECT_EQ(m.outputs_decoded, 3);
  // Where the coded models decode well, a decoded task output is as right as the model's own on most requests.
  Fixture g(coded_scenario(R"(, "parity": 2)", 1, 400, 4));
  CodedRun& n = g.run;
  int agree = 0;
  for (int r = 0; r < 400; ++r) {
    n.request_sent(r, 0.0);
    n.output_arrived(r, 2, 1.0);
    n.output_arrived(r, 3, 1.0);  // every request decodes both outputs from the coded ones
    agree += n.correct[static_cast<std::size_t>(r)] == n.exact_correct[static_cast<std::size_t>(r)];
  }
  EXPECT_EQ(n.decoded, 400);
  EXPECT_GT(agree, 200) << "both outputs decoded from two coded models: right where the model is on most requests";
}

TEST(CodedRun, WithTwoCodedModelsTheDecodeWaitStartsWhenAnyTwoOutputsAreHere) {
  Fixture f(coded_scenario(R"(, "parity": 2, "decode_wait": "5ms")", 1, 10, 4));
  CodedRun& m = f.run;
  m.request_sent(0, 0.0);
  EXPECT_EQ(m.output_arrived(0, 2, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(0, 0, 1.001), CodedRun::Arrival::DecodeLater) << "model 0 and coded 0 are enough";
  EXPECT_EQ(m.output_arrived(0, 3, 1.002), CodedRun::Arrival::Nothing) << "the client is already waiting";
  EXPECT_TRUE(m.decode_deadline(0, 1.006));
  EXPECT_EQ(m.decoded_outputs[0], 1) << "model 1's output, by least squares over both coded outputs";
  EXPECT_DOUBLE_EQ(m.done[0], 1.006);
}

TEST(CodedRun, WithoutAParityServerARequestWaitsForEveryModel) {
  Fixture f(coded_scenario(R"(, "parity": 0)"));
  CodedRun& m = f.run;
  ASSERT_EQ(m.n_members(), 2);
  EXPECT_FALSE(m.ensemble.has_coded());
  m.request_sent(0, 0.0);
  EXPECT_EQ(m.output_arrived(0, 1, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(0, 0, 4.0), CodedRun::Arrival::Completed);
  EXPECT_EQ(m.decoded, 0);
}

TEST(CodedRun, TheDecodeWaitLetsTheLastOutputComeInTimeOrDecodesWhenItRunsOut) {
  Fixture f(coded_scenario(R"(, "decode_wait": "5ms")"));
  CodedRun& m = f.run;
  m.request_sent(0, 0.0);
  m.request_sent(1, 0.0);
  EXPECT_EQ(m.output_arrived(0, 0, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(0, 2, 1.0), CodedRun::Arrival::DecodeLater);
  EXPECT_EQ(m.output_arrived(0, 1, 1.003), CodedRun::Arrival::Completed) << "in time: no decoding";
  EXPECT_FALSE(m.decode_deadline(0, 1.005));
  EXPECT_EQ(m.decoded_outputs[0], 0);
  EXPECT_EQ(m.output_arrived(1, 2, 1.0), CodedRun::Arrival::Nothing);
  EXPECT_EQ(m.output_arrived(1, 1, 1.0), CodedRun::Arrival::DecodeLater);
  EXPECT_TRUE(m.decode_deadline(1, 1.005));
  expect_decoded_alone(m, 1, 0);
  EXPECT_DOUBLE_EQ(m.done[1], 1.005);
}

TEST(CodedRun, AFailedMemberLosesWhatItHeldAndIsSentAgainOnlyTheUnfinishedRequestsPerClient) {
  Fixture f(coded_scenario("", 2, 6));
  CodedRun& m = f.run;
  for (int r = 0; r < 4; ++r) m.request_sent(r, 0.0);
  // Request 0 completed by both originals; request 1 has model 1's output; 2 and 3 wait for everything.
  m.output_arrived(0, 0, 0.5);
  m.output_arrived(0, 1, 0.5);
  m.output_arrived(1, 1, 0.5);
  EXPECT_EQ(m.server_down(1, 1.0), 0) << "member 1's server: failover 0";
  EXPECT_EQ(m.at(1, 1), MemberState::Arrived) << "an output that reached the client is not lost";
  EXPECT_EQ(m.at(2, 1), MemberState::Lost);
  EXPECT_EQ(m.at(3, 1), MemberState::Lost);
  EXPECT_EQ(m.at(2, 0), MemberState::Pending);
  m.request_sent(4, 1.5);  // sent while member 1 is down: lost at once
  EXPECT_EQ(m.at(4, 1), MemberState::Lost);
  EXPECT_EQ(m.at(4, 2), MemberState::Pending);
  // Request 2 completes meanwhile by decoding model 1's output.
  m.output_arrived(2, 0, 2.0);
  EXPECT_EQ(m.output_arrived(2, 2, 2.0), CodedRun::Arrival::Completed);
  expect_decoded_alone(m, 2, 1);
  EXPECT_EQ(m.server_back(1, 3.0), 1) << "it reloads member 1";
  const std::vector<std::vector<int>> lost = m.member_ready_on(1, 1, 3.1).value();
  ASSERT_EQ(lost.size(), 2u);
  EXPECT_EQ(lost[0], std::vector<int>{4}) << "client 0 holds requests 0, 2, 4";
  EXPECT_EQ(lost[1], std::vector<int>{3}) << "client 1 holds requests 1, 3, 5";
  EXPECT_EQ(m.resent, 2);
  EXPECT_EQ(m.at(3, 1), MemberState::Pending);
  EXPECT_EQ(m.members[1].failures, 1);
  EXPECT_EQ(m.failovers[0].to_server, 1);
  EXPECT_EQ(m.failovers[0].requests_resent, 2);
}

TEST(CodedRun, AFailedMemberMovesToTheFastestSpareAndItsServerTurnsSpareWhenBack) {
  // Three L4s for the members, then a GTX-1650 and an L4 as spares: the L4 is the faster.
  const std::string text = R"({
    "name": "coded-spares",
    "model": {"coded": {"models": 2, "pretrain_steps": 50, "finetune_steps": 20, "test_samples": 50}},
    "nodes": [{"name": "s", "count": 3, "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"},
              {"name": "slow-spare", "gpu": "GTX-1650", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"},
              {"name": "fast-spare", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "policy": {"faults": {"heartbeat": "1s", "heartbeat_misses": 2}},
    "workload": {"sessions": 4}
  })";
  Fixture f(load_scenario_text(text, "coded-spares.json"));
  CodedRun& m = f.run;
  EXPECT_EQ(m.spares, (std::vector<int>{4, 3})) << "fastest first";
  m.request_sent(0, 0.0);
  const int fo = m.server_down(0, 2.5);
  ASSERT_EQ(fo, 0);
  EXPECT_DOUBLE_EQ(m.failovers[0].detected_at_s, 4.0) << "last heartbeat at 2 s, two missed";
  EXPECT_EQ(m.take_spare(fo), 4);
  EXPECT_EQ(m.spares, std::vector<int>{3});
  const auto lost = m.member_ready_on(0, 4, 4.1);
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ((*lost)[0], std::vector<int>{0}) << "request 0's input to member 0 was lost";
  EXPECT_EQ(m.members[0].server, 4);
  EXPECT_EQ(m.member_of(4), 0);
  EXPECT_EQ(m.member_of(0), -1);
  EXPECT_EQ(m.server_back(0, 9.0), -1) << "its member moved: the server turns spare";
  EXPECT_EQ(m.spares, (std::vector<int>{0, 3}));
  // A recovery that loses the race gives its server back.
  m.server_down(4, 10.0);
  EXPECT_EQ(m.take_spare(1), 0);
  EXPECT_EQ(m.server_back(4, 10.5), 0) << "member 0's server is back and reloads it too";
  ASSERT_TRUE(m.member_ready_on(0, 4, 10.6).has_value());
  EXPECT_FALSE(m.member_ready_on(0, 0, 10.8).has_value());
  EXPECT_EQ(m.spares, (std::vector<int>{0, 3})) << "the spare that lost the race is a spare again";
}

TEST(CodedRun, ACancelReachesOnlyTheMembersStillHoldingTheRequestAndTheyDropItUnstarted) {
  Fixture f(coded_scenario(R"(, "cancel": true)"));
  CodedRun& m = f.run;
  m.request_sent(0, 0.0);
  m.output_arrived(0, 0, 1.0);
  ASSERT_EQ(m.output_arrived(0, 2, 1.1), CodedRun::Arrival::Completed);
  EXPECT_EQ(m.cancel_targets(0), std::vector<int>{1}) << "model 1 still holds it; model 0 and the coded model answered";
  EXPECT_EQ(m.cancels, 1);
  EXPECT_FALSE(m.drops(1, 0)) << "its cancel has not arrived yet";
  m.cancel_arrived(0, 1);
  EXPECT_TRUE(m.drops(1, 0));
  EXPECT_EQ(m.members[1].dropped, 1);
  m.cancel_arrived(0, 0);  // a member that answered already: nothing to drop
  EXPECT_EQ(m.at(0, 0), MemberState::Arrived);
  EXPECT_FALSE(m.drops(0, 0));
}

TEST(CodedRun, StragglesFollowTheirProbabilityAndSlowdownAndAreFixedByTheSeed) {
  Fixture f(coded_scenario(R"(, "straggle": {"probability": 0.25, "slowdown": 8})", 1, 4000));
  const CodedRun& m = f.run;
  int straggling = 0;
  for (int r = 0; r < m.requests; ++r)
    for (int k = 0; k < m.n_members(); ++k) {
      const bool s = m.straggles(k, r);
      straggling += s;
      EXPECT_DOUBLE_EQ(m.compute_s(k, r), m.members[static_cast<std::size_t>(k)].compute_s * (s ? 8.0 : 1.0));
    }
  const double share = straggling / (3.0 * m.requests);
  EXPECT_NEAR(share, 0.25, 0.02);  // 12,000 draws: 4.6 standard deviations
  Fixture again(coded_scenario(R"(, "straggle": {"probability": 0.25, "slowdown": 8})", 1, 4000));
  for (int r = 0; r < 100; ++r) EXPECT_EQ(again.run.straggles(1, r), m.straggles(1, r));
}

TEST(CodedRun, RequestsDrawTheirTasksEvenly) {
  Fixture f(coded_scenario("", 1, 4000));
  int task1 = 0;
  for (const int t : f.run.task) task1 += t;
  EXPECT_NEAR(task1 / 4000.0, 0.5, 0.03);
}

}  // namespace
}  // namespace swarmsim::sim
