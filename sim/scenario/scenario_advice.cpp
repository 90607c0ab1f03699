#include "sim/scenario/scenario_advice.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/json_diagnostics.hpp"
#include "sim/pricing.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/client_memory.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/swarm/session_plan.hpp"
#include "sim/units.hpp"
#include "sim/verification/spot_check.hpp"

namespace swarmsim::sim {
namespace {

std::string format_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

/// Whether `p` sets something that only swarms of blocks and pipelines use: a router, the DHT,
/// rebalancing, topology monitoring, compression, a scheduler or an orchestrator.
bool sets_swarm_policies(const PolicySpec& p) {
  const PolicySpec defaults;
  return p.router != defaults.router || p.dht.enabled || p.rebalance.period_s > 0 || p.topology.period_s > 0 || p.compression.hidden_states ||
         p.compression.llm_int8_weights || p.scheduler.kind != defaults.scheduler.kind || p.orchestrator;
}

}  // namespace

std::vector<Advisory> scenario_advisories(const Scenario& sc) {
  std::vector<Advisory> advice;
  if (sc.policy.dht.enabled && !sc.graph) {
    const LatencyTable latencies(sc);
    const auto [a, b] = latencies.farthest_pair();
    if (a >= 0) {
      // An RPC's request and answer each wait their latency times the model's factor before a
      // byte moves; bandwidth and queueing only add to this.
      const double factor = latency_factor(sc.network.model);
      const double there = latencies.one_way(a, b), back = latencies.one_way(b, a);
      const double rtt = factor * (there + back);
      const double timeout = sc.policy.dht.rpc_timeout_s;
      if (rtt >= timeout) {
        // 1.5 x the round trip, rounded up to 0.1 s: room for the bytes and a busy link.
        const double suggested = std::ceil(15.0 * rtt) / 10.0;
        std::string why = "an RPC's round trip between " + host_name(sc, a) + " and " + host_name(sc, b) + ", " +
                          format_duration(rtt) + " before any byte moves (one-way latency " + format_duration(there) +
                          (there == back ? " each way" : " there and " + format_duration(back) + " back");
        if (factor != 1.0)
          why += ", times the \"" + std::string(to_string(sc.network.model)) + "\" network model's latency factor of " +
                 format_number(factor);
        why += ")";
        advice.push_back({"policy.dht.rpc_timeout",
                          format_duration(timeout) + " is shorter than " + why +
                              ": every RPC between them will time out, and a node that joined through such a peer is "
                              "left without contacts until it bootstraps again. Set \"rpc_timeout\" to at least \"" +
                              format_number(suggested) + "s\"" +
                              (factor != 1.0 ? " or use \"network\": {\"model\": \"exact\"}" : "") +
                              " (docs/dht.md, \"Timeouts and the tcp model\")."});
      }
    }
  }
  if (sc.policy.faults.failback && !sc.graph && !sc.tree && !sc.coded)
    advice.push_back({"policy.faults.failback",
                      "applies to graph models' pipelines only: a swarm's servers rejoin with the blocks they held and "
                      "rebalance by policy.rebalance (docs/partitioning.md, \"Failback\")."});
  if (const int k = sc.first_served_block(); k > 0) {
    // Split learning: a node whose fixed range lies inside the clients' blocks serves nobody.
    std::string idle;
    int n_idle = 0;
    for (const NodeSpec& n : sc.nodes)
      if (n.blocks && !n.blocks->empty() && n.blocks->end <= k) {
        if (n_idle++ < 4) idle += (idle.empty() ? "" : ", ") + n.name + " (" + n.blocks->str() + ")";
      }
    if (n_idle > 0)
      advice.push_back({"policy.privacy.client_blocks",
                        "the clients run blocks 0-" + std::to_string(k - 1) + " themselves, so no session routes through " +
                            std::to_string(n_idle) + (n_idle == 1 ? " node" : " nodes") + " serving only those: " + idle +
                            (n_idle > 4 ? ", ..." : "") + ". Give them blocks from " + std::to_string(k) + " on, or \"auto\" (docs/privacy.md)."});
  }
  if (const int k = sc.first_served_block();
      k > 0 && sc.workload.arrival == ArrivalProcess::AllAtStart && !sc.clients.empty() && !sc.graph && !sc.tree && !sc.coded) {
    // Split learning with every session at once: a client holds as many as its memory allows and
    // the others wait for them (ClientMemoryGate). Sessions go to the clients in turn.
    const int C = static_cast<int>(sc.clients.size());
    const double fixed = client_fixed_bytes(sc);
    for (int c = 0; c < C; ++c) {
      const int arriving = sc.workload.sessions / C + (c < sc.workload.sessions % C ? 1 : 0);
      if (arriving < 2) continue;
      const double each = client_session_bytes(sc, session_shape(sc, c, sc.workload.start_s));
      const double room = usable_memory_bytes(*sc.clients[static_cast<std::size_t>(c)].device, sc.overheads) - fixed;
      const int fit = each > 0 ? std::max(1, static_cast<int>(std::floor(room / each))) : arriving;
      if (fit >= arriving) continue;
      advice.push_back({at_index("clients", static_cast<std::size_t>(c)),
                        sc.clients[static_cast<std::size_t>(c)].name + " (" + sc.clients[static_cast<std::size_t>(c)].device->name +
                            ") holds " + std::to_string(fit) + " of the " + std::to_string(arriving) + " sessions that arrive on it at once (" +
                            format_bytes(each) + " of KV cache each for its " + std::to_string(k) + " blocks, beside " + format_bytes(fixed) +
                            "): the others wait for its memory, in turn (docs/privacy.md, \"Memory\")."});
    }
  }
  if (sc.policy.verification.enabled() && sc.model.n_layers > 0 && !sc.graph && !sc.tree && !sc.coded) {
    // A check needs a verifier serving the hop's blocks, and a disagreement a third server.
    const std::vector<BlockRange> ranges = plan_initial_blocks(sc, *make_cost_model(sc));
    std::string thin;
    for (int b = sc.first_served_block(), run_start = -1, run_n = -1; b <= sc.model.n_layers; ++b) {
      int n = 0;
      if (b < sc.model.n_layers)
        for (const BlockRange& r : ranges) n += r.contains(b);
      const int shown = b < sc.model.n_layers && n < 3 ? n : -1;
      if (shown != run_n) {
        if (run_n >= 0)
          thin += (thin.empty() ? "" : ", ") + BlockRange{run_start, b}.str() + " (" + std::to_string(run_n) +
                  (run_n == 1 ? " server)" : " servers)");
        run_start = b;
        run_n = shown;
      }
    }
    if (!thin.empty())
      advice.push_back({"policy.verification",
                        "blocks " + thin + " have fewer than three servers when the swarm forms: a check there finds no verifier "
                        "(one server) or cannot break a disagreement (two), so a cheater serving them is never banned "
                        "(docs/verification.md)."});
    // Distribution consensus with a tolerance (seed 002, section 6.2): honest servers that round
    // differently may be outvoted, and a cheat within the tolerance passes.
    const double tol = sc.policy.verification.tolerance;
    int a = -1, b = -1;
    double widest = tol;
    for (std::size_t i = 0; i < sc.nodes.size(); ++i)
      for (std::size_t j = i + 1; j < sc.nodes.size(); ++j)
        if (std::max(ranges[i].start, ranges[j].start) >= std::min(ranges[i].end, ranges[j].end)) {
          continue;  // they serve no block in common, so neither ever checks the other
        } else if (const double d = output_distance(sc, {static_cast<int>(i), kRightOutput}, {static_cast<int>(j), kRightOutput}); d > widest) {
          widest = d;
          a = static_cast<int>(i);
          b = static_cast<int>(j);
        }
    if (a >= 0) {
      const NodeSpec& x = sc.nodes[static_cast<std::size_t>(a)];
      const NodeSpec& y = sc.nodes[static_cast<std::size_t>(b)];
      advice.push_back({"policy.verification.tolerance",
                        format_number(tol) + " is less than the " + format_number(widest) + " between honest outputs of " + x.name + " (" +
                            x.device->name + ", divergence " + format_number(x.divergence) + ") and " + y.name + " (" + y.device->name +
                            ", divergence " + format_number(y.divergence) +
                            "): checks between them disagree, and the majority of a third server can ban an honest one "
                            "(docs/verification.md, \"Tolerance\")."});
    }
    for (const NodeSpec& n : sc.nodes)
      if (n.dishonest && n.dishonest->magnitude <= tol) {
        advice.push_back({"policy.verification.tolerance",
                          format_number(tol) + " lets " + n.name + "'s wrong outputs (magnitude " + format_number(n.dishonest->magnitude) +
                              ") agree with a right output of its own device and divergence: such checks never catch it "
                              "(docs/verification.md, \"Tolerance\")."});
        break;
      }
  }
  if (sc.coded) {
    if (sets_swarm_policies(sc.policy) || sc.policy.faults.failback)
      advice.push_back({"policy",
                        "routing, the DHT, rebalancing, topology monitoring, compression, schedulers and failback apply to swarms of "
                        "blocks and pipelines; erasure-coded inference sends every request to every model and recovers from a slow "
                        "or failed one by decoding (docs/coded-inference.md)."});
    const CodedSpec& c = *sc.coded;
    if (c.fisher_damping > 0 && c.method != "coin_full" && c.method != "coin_block")
      advice.push_back({"model.coded.fisher_damping", "only methods \"coin_full\" and \"coin_block\" damp their Fisher sums; method \"" +
                                                          c.method + "\" does not use it."});
    if (c.parity == 0 && c.decode_wait_s > 0)
      advice.push_back({"model.coded.decode_wait", "without a coded model (parity 0) no output is ever decoded, so the client never waits "
                                                   "to decode: every request waits for all its outputs."});
    if (c.parity == 0 && c.cancel)
      advice.push_back({"model.coded.cancel", "without a coded model (parity 0) a request completes only once every member has answered "
                                              "it, so no member still holds it and no cancel is ever sent."});
  }
  if (sc.churn && !sc.churn->mtbf_s && !sc.churn->regional &&
      std::all_of(sc.nodes.begin(), sc.nodes.end(), [](const NodeSpec& n) { return n.uptime >= 1.0 && !n.mtbf_s; }) &&
      std::none_of(sc.clients.begin(), sc.clients.end(), [](const ClientSpec& c) { return c.mtbf_s.has_value(); }))
    advice.push_back({"churn", "draws no failure: without \"mtbf\" each server's up periods come from its uptime, and every "
                               "server declares uptime 1 (never down); lower some nodes' \"uptime\" or set churn.mtbf."});
  if (!sc.churn) {
    std::string own;
    int count = 0;
    for (const NodeSpec& n : sc.nodes)
      if (n.mtbf_s || n.mttr_s) own += (count++ ? ", " : "") + n.name;
    const int servers = count;
    for (const ClientSpec& c : sc.clients)
      if (c.mtbf_s) own += (count++ ? ", " : "") + c.name;
    if (count)
      advice.push_back({servers ? "nodes" : "clients", own + (count == 1 ? " sets its own" : " set their own") +
                                     " \"mtbf\" or \"mttr\", which only drawn churn reads, and this scenario has no top-level "
                                     "\"churn\": no failure is drawn (add \"churn\": {\"mttr\": ..., \"until\": ...} to draw them)."});
  }
  if (sc.tree) {
    if (sets_swarm_policies(sc.policy))
      advice.push_back({"policy",
                        "routing, the DHT, rebalancing, topology monitoring, compression and schedulers apply to swarms of blocks "
                        "and pipelines; a Fisher B-tree routes, splits and merges by its own rules in model.tree "
                        "(docs/fisher-btree.md)."});
  }
  if (const auto& ft = sc.workload.fine_tuning; ft && ft->checkpoint_every == 0 && ft->replicas == 1) {
    // A server's failure takes the session's adapters of its blocks with it (a job's replicas
    // could give them back instead).
    for (const ReplayEvent& e : sc.events)
      if (e.action == EventAction::NodeDown) {
        advice.push_back({"workload.fine_tuning.checkpoint_every",
                          "is 0 and " + e.node + " goes down at " + format_duration(e.at_s) +
                              ": the fine-tuning sessions on it lose every adapter update of its blocks so far, because the client holds no "
                              "checkpoint to restore into the replacement. Set \"checkpoint_every\" to save them every few steps "
                              "(docs/fine-tuning.md, \"Checkpoints\")."});
        break;
      }
  }
  if (const auto& ft = sc.workload.fine_tuning; ft && ft->replicas >= 3 && ft->sync_every == 1 && ft->zero == 0) {
    // Averaging every step is synchronous training by the costlier exchange (seed 002, section 2's ZeRO).
    const int r = ft->replicas;
    advice.push_back({"workload.fine_tuning.zero",
                      "is 0 and jobs of " + std::to_string(r) + " replicas average every step: each server sends its adapters to " +
                          std::to_string(r - 1) + " peers. ZeRO (\"zero\": 1) also synchronizes every step, on the mean gradient, " +
                          "but sends each peer a 1/" + std::to_string(r) + " shard twice (2/" + std::to_string(r) +
                          " of the bytes) and holds 1/" + std::to_string(r) + " of the optimizer state per server " +
                          "(docs/fine-tuning.md, \"ZeRO\")."});
  }
  if (const WorkloadSpec& w = sc.workload;
      w.abandon_share > 0 && sc.policy.faults.session_timeout_s > 0 && !w.fine_tuning && !sc.graph && !sc.tree && !sc.coded) {
    // Little's law: sessions left at `rate` x share, each held for the timeout, are on average
    // rate x share x timeout held at once, each with its KV caches on every block.
    const double rate = w.arrival == ArrivalProcess::Fixed && w.interval_s > 0 ? 1.0 / w.interval_s
                        : w.arrival == ArrivalProcess::Poisson                ? w.rate_per_s
                        : w.arrival == ArrivalProcess::Phases                 ? w.mean_phase_rate_per_s()
                                                                              : 0.0;
    const double held = rate * w.abandon_share * sc.policy.faults.session_timeout_s;
    const double per_block = session_shape(sc, 0, w.start_s).kv_per_block;
    if (held > 0 && per_block > 0 && sc.model.n_layers > 0) {
      // Each block's KV memory: its servers' free memory, shared among the blocks each serves.
      const std::vector<BlockRange> ranges = plan_initial_blocks(sc, *make_cost_model(sc));
      std::vector<double> room(static_cast<std::size_t>(sc.model.n_layers), 0.0);
      for (std::size_t i = 0; i < ranges.size() && i < sc.nodes.size(); ++i) {
        const int n = ranges[i].size();
        if (n <= 0) continue;
        const double free = usable_memory_bytes(*sc.nodes[i].device, sc.overheads) - n * sc.model.block_weight_bytes();
        for (int b = std::max(0, ranges[i].start); b < std::min(sc.model.n_layers, ranges[i].end); ++b)
          room[static_cast<std::size_t>(b)] += std::max(0.0, free) / n;
      }
      int tight = -1;
      for (int b = sc.first_served_block(); b < sc.model.n_layers; ++b)
        if (room[static_cast<std::size_t>(b)] > 0 && (tight < 0 || room[static_cast<std::size_t>(b)] < room[static_cast<std::size_t>(tight)])) tight = b;
      if (tight >= 0 && held * per_block >= 0.25 * room[static_cast<std::size_t>(tight)]) {
        int end = tight + 1;
        while (end < sc.model.n_layers && room[static_cast<std::size_t>(end)] == room[static_cast<std::size_t>(tight)]) ++end;
        const BlockRange blocks{tight, end};
        advice.push_back({"workload.abandon_share",
                          "at " + format_number(rate) + " sessions/s, " + format_number(100.0 * w.abandon_share) +
                              "% of users leaving and servers keeping their caches for " + format_duration(sc.policy.faults.session_timeout_s) +
                              " (policy.faults.session_timeout) hold about " + format_number(held) +
                              " abandoned sessions' KV caches at once (Little's law: rate x share x timeout), " + format_bytes(held * per_block) +
                              " per block: " + format_number(std::round(100.0 * held * per_block / room[static_cast<std::size_t>(tight)])) +
                              "% of the free memory for " + (blocks.size() == 1 ? "block " : "blocks ") + blocks.str() +
                              ". Later sessions will wait for memory or fail to find a chain; a shorter session_timeout frees it sooner "
                              "(docs/scenario-format.md, \"Users who leave\")."});
      }
    }
  }
  return advice;
}

}  // namespace swarmsim::sim
