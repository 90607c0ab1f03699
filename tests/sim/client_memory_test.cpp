#include <gtest/gtest.h>

#include <tuple>

#include <nlohmann/json.hpp>

#include "gpu/model_catalog.hpp"
#include "sim/flow/flow_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/client_memory.hpp"
#include "tests/sim/two_cities.hpp"
#include "tests/sim/flow_run.hpp"

using namespace swarmsim::sim;

// Known answers from the models' configs: Llama-3-8B's embedding and untied head are each
// 128,256 x 4,096 BF16 values; BLOOM-176B ties them (250,880 x 14,336, once); LLM.int8 blocks
// keep a 16-bit embedding.
TEST(ClientMemory, TheEmbeddingAndHeadAreTheModelsVocabularyTimesItsWidth) {
  const auto& llama = *swarmsim::gpu::find_model("Llama-3-8B");
  EXPECT_EQ(client_head_bytes(llama), 2.0 * 128256 * 4096 * 2);
  const auto& bloom = *swarmsim::gpu::find_model("BLOOM-176B");
  EXPECT_EQ(client_head_bytes(bloom), 250880.0 * 14336 * 2);
  swarmsim::gpu::TransformerSpec int8 = llama;
  int8.weight_dtype = swarmsim::gpu::DType::Int8;
  EXPECT_EQ(client_head_bytes(int8), client_head_bytes(llama));
  int8.weight_dtype = swarmsim::gpu::DType::F32;
  EXPECT_EQ(client_head_bytes(int8), 2 * client_head_bytes(llama));
}

TEST(ClientMemory, TheLedgerKeepsEachClientsPeakAndWhenItCame) {
  Scenario sc = load_scenario_text(swarmsim::test::kTwoCities, "two.json", {});
  sc.clients.push_back(sc.clients[0]);
  sc.clients[1].name = "other";
  ClientMemoryLedger ledger(sc);
  const double fixed = client_head_bytes(sc.model);
  EXPECT_EQ(ledger.peak(0).bytes, fixed);
  ledger.start(0, 1.0, 100);
  ledger.start(0, 2.0, 300);
  ledger.start(1, 2.5, 50);
  ledger.end(0, 100);
  ledger.end(0, 300);
  ledger.start(0, 5.0, 200);  // two small sessions at once later stay below the peak
  ledger.start(0, 6.0, 150);
  EXPECT_EQ(ledger.peak(0).bytes, fixed + 400);
  EXPECT_EQ(ledger.peak(0).sessions, 2);
  EXPECT_EQ(ledger.peak(0).at_s, 2.0);
  ledger.start(0, 7.0, 10);  // a third at once: more sessions, fewer bytes than the peak
  EXPECT_EQ(ledger.peak(0).bytes, fixed + 400);
  EXPECT_EQ(ledger.peak(0).sessions_peak, 3);
  EXPECT_EQ(ledger.peak(1).bytes, fixed + 50);
  EXPECT_EQ(ledger.peak(1).at_s, 2.5);
}

// The gate by hand: client 0 has room for 1,000 bytes beside its fixed bytes. Sessions wait in
// arrival order (a small one behind a big one waits too), an end lets in as many of the line's
// front as fit, a session alone is admitted whatever its size, and client 1 is not held up.
TEST(ClientMemory, TheGateAdmitsInArrivalOrderWhatFitsAndLetsTheLineInAsSessionsEnd) {
  Scenario sc = load_scenario_text(swarmsim::test::kTwoCities, "two.json", {});
  sc.clients.push_back(sc.clients[0]);
  sc.clients[1].name = "other";
  const double room = 1000.0;
  sc.overheads.runtime_memory_bytes = sc.clients[0].device->memory_bytes - client_fixed_bytes(sc) - room;
  ClientMemoryGate gate(sc);
  std::vector<int> in;
  EXPECT_TRUE(gate.admit(0, 0, 600));
  EXPECT_TRUE(gate.admit(0, 1, 400));   // exactly full
  EXPECT_FALSE(gate.admit(0, 2, 700));
  EXPECT_FALSE(gate.admit(0, 3, 100));  // would fit, but 2 waits ahead of it
  EXPECT_TRUE(gate.admit(1, 4, 900));   // another client's memory
  EXPECT_EQ(gate.waiting(0), 2u);
  gate.release(0, 400, in);  // 600 held: 2 (700) does not fit, so neither does 3 get in
  EXPECT_TRUE(in.empty());
  gate.release(0, 600, in);  // empty: 2 and 3 (800)
  EXPECT_EQ(in, (std::vector<int>{2, 3}));
  EXPECT_EQ(gate.waiting(0), 0u);
  in.clear();
  gate.release(0, 700, in);
  gate.release(0, 100, in);
  EXPECT_TRUE(gate.admit(0, 5, 5000));   // alone: admitted though it cannot fit
  EXPECT_FALSE(gate.admit(0, 6, 1));     // but nothing else beside it
  gate.release(0, 5000, in);
  EXPECT_EQ(in, (std::vector<int>{6}));
}

// The gate tells its observer a client's sessions' bytes (its fixed bytes left out) and the
// sessions waiting, after each change and only then.
TEST(ClientMemory, TheGateReportsEachClientsSessionsBytesAndItsLine) {
  Scenario sc = load_scenario_text(swarmsim::test::kTwoCities, "two.json", {});
  sc.overheads.runtime_memory_bytes = sc.clients[0].device->memory_bytes - client_fixed_bytes(sc) - 1000.0;
  ClientMemoryGate gate(sc);
  std::vector<std::tuple<int, double, int>> seen;
  gate.on_changed = [&](int c, double bytes, int waiting) { seen.emplace_back(c, bytes, waiting); };
  std::vector<int> in;
  gate.admit(0, 0, 700);
  gate.admit(0, 1, 0);    // nothing held, nothing to say
  gate.admit(0, 2, 500);  // waits
  gate.release(0, 700, in);
  gate.release(0, 0, in);
  gate.release(0, 500, in);
  EXPECT_EQ(seen, (std::vector<std::tuple<int, double, int>>{{0, 700.0, 0}, {0, 700.0, 1}, {0, 500.0, 0}, {0, 0.0, 0}}));
}

namespace {

/// The clients' entries of a flow-engine run of the two-city scenario with `more` overrides.
nlohmann::json clients_of(const std::vector<Override>& more) {
  const Scenario sc = load_scenario_text(swarmsim::test::kTwoCities, "two.json", more);
  const RunReport r = swarmsim::test::flow_run(sc);
  EXPECT_EQ(r.metrics["sessions"]["completed"].get<int>(), sc.workload.sessions) << r.metrics.dump();
  return r.metrics["clients"];
}

}  // namespace

// Under split learning a client holds, besides the embedding and head, 2 blocks' weights and each
// session's KV cache of them (eq. 4: 2 x 128 x 8 KV heads x 2 B = 4,096 B per token and block,
// for 8 + 2 tokens): three sessions at once hold three caches, three sessions 100 s apart one.
TEST(ClientMemory, ARunReportsWhatEachClientHeldAtItsPeak) {
  const double head = 2.0 * 128256 * 4096 * 2, blocks = 2 * 436224000.0, cache = 2 * 4096.0 * 10;
  const Override split = parse_override("policy.privacy.client_blocks=2");
  const nlohmann::json together = clients_of({split, parse_override("workload.sessions=3")});
  ASSERT_EQ(together.size(), 1u);
  EXPECT_EQ(together[0]["memory_fixed_bytes"].get<double>(), head + blocks);
  EXPECT_EQ(together[0]["memory_peak_bytes"].get<double>(), head + blocks + 3 * cache);
  EXPECT_EQ(together[0]["memory_peak_sessions"].get<int>(), 3);
  EXPECT_EQ(together[0]["sessions_in_flight_peak"].get<int>(), 3);
  EXPECT_EQ(together[0]["memory_peak_at_s"].get<double>(), 0.0);
  EXPECT_GT(together[0]["memory_usable_bytes"].get<double>(), 60.0 * (1 << 30));  // cpu-generic: 64 GiB

  const nlohmann::json apart =
      clients_of({split, parse_override("workload.sessions=3"), parse_override(R"(workload.arrival={"process": "fixed", "interval": "100s"})")});
  EXPECT_EQ(apart[0]["memory_peak_bytes"].get<double>(), head + blocks + cache);
  EXPECT_EQ(apart[0]["sessions_in_flight_peak"].get<int>(), 1);

  // Without split learning the sessions hold nothing on the client beyond the embedding and head.
  const nlohmann::json whole = clients_of({parse_override("workload.sessions=3")});
  EXPECT_EQ(whole[0]["memory_peak_bytes"].get<double>(), head);
  EXPECT_EQ(whole[0]["sessions_in_flight_peak"].get<int>(), 3);
}

// A client that cannot hold the embedding and head of the model is refused, at its device.
TEST(ClientMemory, AClientTooSmallForTheEmbeddingAndHeadIsRefused) {
  try {
    load_scenario_text(swarmsim::test::kTwoCities, "two.json",
                       {parse_override(R"(model={"name": "BLOOM-176B"})"), parse_override(R"(clients[0].device="GTX-1650")")});
    FAIL() << "a GTX-1650 client accepted for BLOOM-176B";
  } catch (const ScenarioError& e) {
    bool found = false;
    for (const Diagnostic& d : e.diagnostics())
      if (d.path == "clients[0].device") {
        found = true;
        EXPECT_EQ(d.message, "the embedding and LM head of BLOOM-176B (6.70 GiB) need 6.70 GiB on every client, but clients[0] "
                             "(london, GTX-1650) has 3.50 GiB usable (device memory minus overheads.runtime_memory)");
      }
    EXPECT_TRUE(found) << e.what();
  }
}
