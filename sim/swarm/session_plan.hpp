#pragma once
// The parts of a session that do not depend on how time passes, shared by both engines: what a
// session asks for, and how Petals' recovery replaces a failed server in its chain (seed 002,
// section 3; Petals' fault tolerance). Plain functions over plain data.
#include <string>
#include <utility>
#include <vector>

#include "sim/rng.hpp"
#include "sim/routing/swarm_view.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"
#include "sim/swarm/swarm_state.hpp"

namespace swarmsim::sim {

/// What session k asks for.
struct SessionShape {
  int client = 0;             ///< host index of its client
  int prompt_tokens = 1, new_tokens = 1;  ///< the workload's, or its trace entry's (fine-tuning: new_tokens = training steps)
  RouteRequest request;       ///< the whole model, from the client back to it
  double kv_per_block = 0;    ///< bytes it reserves on each block it uses: KV cache, or training state (fine-tuning)
  double deadline = 0;        ///< arrival + workload.deadline (inf when none)
  int priority = 0;           ///< its trace priority (0 without a trace)
  /// Its user leaves before this step (0: right after its chain formed) and never closes it; -1:
  /// it runs to the end. Drawn for a workload.abandon_share of the sessions, uniformly over
  /// [0, new_tokens), from the scenario's seed and k alone (the same in every engine and router).
  int abandon_step = -1;
};
SessionShape session_shape(const Scenario& sc, int k, double arrival);

/// The reason an abandoned session's end gives: "abandoned by its user before decode step 5".
std::string abandon_reason(int step);

/// The name of host `host`: a server node's, then a client's.
std::string host_name(const Scenario& sc, int host);

/// The chain_formed signal of a chain found at `now` after `attempt` routing attempts.
ChainFormed chain_formed_event(double now, int session, int attempt, const Chain& chain);
/// "a[0-7] > b[8-31]": the chain's servers and their blocks, for logs.
std::string chain_text(const Scenario& sc, const Chain& chain);

/// Bytes on the wire of `tokens` hidden states per sequence of a session (compressed when the
/// policy says so, seed 002 section 4), without the message header.
double hidden_state_bytes(const Scenario& sc, int tokens);

/// The wait before a session's next attempt to find a chain: policy.admission_retry, spread by
/// policy.admission_jitter with a draw from the session's `rng` (none without jitter).
double admission_wait_s(const Scenario& sc, Rng& rng);

/// Why a session found no chain: "no chain of alive servers ... (N attempts over T)".
std::string admission_failure(const Scenario& sc, int attempts, double waited_s);

/// A session's routing state, which Petals' recovery works on in either engine: references into
/// the session's actor (SimGrid) or coroutine frame (flow), which outlive every recovery.
struct SessionRoute {
  int k, client;
  const RouteRequest& req;
  double held_per_block;  ///< bytes reserved per block: KV cache, or training state
  Rng& rng;
  Chain& chain;
  std::vector<Reservation>& reservations;
  std::vector<std::pair<int, int>>& failed_seen;  ///< (server, incarnation) the session saw fail
  int& attempt;
  const std::string& who;
};

/// A failed server of a session's chain and the recovery under way.
struct ChainRepair {
  int hop = 0;                 ///< index in the chain of the failed server
  ChainHop lost;               ///< the failed server and the blocks it ran for the session
  RouteRequest span;           ///< the replacement to route: its blocks, between its neighbours
};

/// Starts Petals' recovery of hop `failed_hop` (clamped to 0): the server is remembered in
/// `failed_seen` with the incarnation the session used (avoided until it restarts), its KV
/// reservation is released, and the span between its neighbours is to be routed again.
ChainRepair begin_repair(SwarmState& swarm, const RouteRequest& request, const Chain& chain, int failed_hop,
                         std::vector<Reservation>& reservations, std::vector<std::pair<int, int>>& failed_seen);

/// Puts the replacement `sub` in place of the failed hop; its hops need the KV cache replayed
/// (`needs_replay`) when the session had generated tokens (`kv_len` > 0).
void splice_repair(Chain& chain, std::vector<char>& needs_replay, const ChainRepair& repair, const Chain& sub, int kv_len);

/// Why a recovery failed: "<server> failed at <stage> and no alive server ... could take blocks ...";
/// `training`: the stage is a fine-tuning session's training step.
std::string repair_failure(const std::string& server_name, int step, BlockRange blocks, bool training = false);

/// The signal of a completed recovery: detection time counts from the failure when the server is
/// still down, else from when the session first saw it fail (`since`).
SessionRecovered recovered_event(double now, int session, int step, int kv_len, int batch, const ChainRepair& repair,
                                 const Chain& sub, const ServerState& lost, double since);

}  // namespace swarmsim::sim
