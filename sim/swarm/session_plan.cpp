#include "sim/swarm/session_plan.hpp"

#include <algorithm>
#include <limits>

#include "sim/rng.hpp"
#include "sim/swarm/training_step.hpp"
#include "sim/units.hpp"

namespace swarmsim::sim {

SessionShape session_shape(const Scenario& sc, int k, double arrival) {
  const WorkloadSpec& w = sc.workload;
  SessionShape s;
  s.client = static_cast<int>(sc.nodes.size()) + k % static_cast<int>(sc.clients.size());
  s.prompt_tokens = w.prompt_tokens;
  s.new_tokens = w.new_tokens;
  if (w.arrival == ArrivalProcess::Trace) {  // a trace may set each session's own lengths and priority
    const TraceArrival& a = w.trace[static_cast<std::size_t>(k)];
    if (a.prompt_tokens > 0) s.prompt_tokens = a.prompt_tokens;
    if (a.new_tokens > 0) s.new_tokens = a.new_tokens;
    s.priority = a.priority;
  }
  s.request = RouteRequest{s.client, w.batch_size, s.prompt_tokens, s.new_tokens};
  s.request.first_block = sc.first_served_block();  // split learning: the client runs the blocks before
  if (w.fine_tuning) {  // a training session holds its adapters' state and its saved inputs, not a KV cache
    s.new_tokens = w.fine_tuning->steps;
    s.request.new_tokens = 1;
    s.request.training_bytes_per_block = training_bytes_per_block(sc);
  }
  s.kv_per_block = s.request.kv_bytes_per_block(sc.model);
  s.deadline = w.deadline_s > 0 ? arrival + w.deadline_s : std::numeric_limits<double>::infinity();
  if (w.abandon_share > 0 && !w.fine_tuning) {
    Rng leave = Rng(sc.seed).split(0xAB4D0000ULL + static_cast<std::uint64_t>(k));
    if (leave.uniform() < w.abandon_share) s.abandon_step = static_cast<int>(leave.below(static_cast<std::uint64_t>(s.new_tokens)));
  }
  return s;
}

std::string abandon_reason(int step) {
  return std::string("abandoned by its user before ") + (step == 0 ? "prefill" : "decode step " + std::to_string(step));
}

std::string host_name(const Scenario& sc, int host) {
  const auto S = static_cast<int>(sc.nodes.size());
  return host < S ? sc.nodes[static_cast<std::size_t>(host)].name : sc.clients[static_cast<std::size_t>(host - S)].name;
}

ChainFormed chain_formed_event(double now, int session, int attempt, const Chain& chain) {
  ChainFormed formed{now, session, attempt, {}, {}, chain.cost};
  for (const ChainHop& hop : chain.hops) {
    formed.servers.push_back(hop.server);
    formed.ranges.push_back(hop.blocks);
  }
  return formed;
}

std::string chain_text(const Scenario& sc, const Chain& chain) {
  std::string text;
  for (const ChainHop& hop : chain.hops) text += (text.empty() ? "" : " > ") + host_name(sc, hop.server) + "[" + hop.blocks.str() + "]";
  return text;
}

double hidden_state_bytes(const Scenario& sc, int tokens) {
  return sc.policy.compression.message_bytes(static_cast<double>(sc.workload.batch_size) * tokens * sc.model.hidden,
                                             gpu::dtype_bytes(sc.model.activation_dtype));
}

double admission_wait_s(const Scenario& sc, Rng& rng) {
  const PolicySpec& p = sc.policy;
  if (p.admission_jitter <= 0) return p.admission_retry_s;
  return p.admission_retry_s * (1.0 + p.admission_jitter * (2.0 * rng.uniform() - 1.0));
}

std::string admission_failure(const Scenario& sc, int attempts, double waited_s) {
  const int first = sc.first_served_block();
  return "no chain of alive servers with free KV memory covers " +
         (first > 0 ? "blocks " + BlockRange{first, sc.model.n_layers}.str() + " (the client runs the " + std::to_string(first) + " before)"
                    : "all " + std::to_string(sc.model.n_layers) + " blocks") +
         " (" + std::to_string(attempts) + " attempts over " + format_duration(waited_s) + ")";
}

ChainRepair begin_repair(SwarmState& swarm, const RouteRequest& request, const Chain& chain, int failed_hop,
                         std::vector<Reservation>& reservations, std::vector<std::pair<int, int>>& failed_seen) {
  ChainRepair r;
  r.hop = std::max(0, failed_hop);
  const auto f = static_cast<std::size_t>(r.hop);
  r.lost = chain.hops[f];
  int used_incarnation = swarm[r.lost.server].incarnation;
  for (const Reservation& res : reservations)
    if (res.server == r.lost.server) used_incarnation = res.incarnation;
  failed_seen.emplace_back(r.lost.server, used_incarnation);  // avoided until it restarts
  swarm.release_one(r.lost.server, reservations);
  r.span = request;
  r.span.first_block = r.lost.blocks.start;
  r.span.end_block = r.lost.blocks.end;
  r.span.entry_host = f > 0 ? chain.hops[f - 1].server : request.client_host;
  r.span.exit_host = f + 1 < chain.hops.size() ? chain.hops[f + 1].server : request.client_host;
  return r;
}

void splice_repair(Chain& chain, std::vector<char>& needs_replay, const ChainRepair& repair, const Chain& sub, int kv_len) {
  chain.hops.erase(chain.hops.begin() + repair.hop);
  chain.hops.insert(chain.hops.begin() + repair.hop, sub.hops.begin(), sub.hops.end());
  needs_replay.erase(needs_replay.begin() + repair.hop);
  needs_replay.insert(needs_replay.begin() + repair.hop, sub.hops.size(), static_cast<char>(kv_len > 0));
}

std::string repair_failure(const std::string& server_name, int step, BlockRange blocks, bool training) {
  if (training)
    return server_name + " failed at training step " + std::to_string(step) +
           " and no alive server with free memory for the session's adapters could take blocks " + blocks.str();
  return server_name + " failed at " + (step == 0 ? std::string("prefill") : "decode step " + std::to_string(step)) +
         " and no alive server with free KV memory could take blocks " + blocks.str();
}

SessionRecovered recovered_event(double now, int session, int step, int kv_len, int batch, const ChainRepair& repair,
                                 const Chain& sub, const ServerState& lost, double since) {
  SessionRecovered rec{now, session, step, repair.lost.server, repair.lost.blocks, {}, {}, kv_len * batch, 0.0};
  rec.detected_after = lost.down_since >= 0 && !lost.up ? now - lost.down_since : now - since;
  for (const ChainHop& hop : sub.hops) {
    rec.servers.push_back(hop.server);
    rec.ranges.push_back(hop.blocks);
  }
  return rec;
}

}  // namespace swarmsim::sim
