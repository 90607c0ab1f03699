#pragma once
// Verifying the servers of a swarm (seed 002, section 6: "model verification to prove the nodes
// execute the designated models ... where adversarial participants may return random results",
// and consensus-based verification of their outputs). Dishonest servers return wrong hidden states
// for some steps; a client spot-checks a hop by having another server recompute it from the same
// inputs and, when the two outputs differ, a third one, whose majority names the wrong server.
// Pure functions, no SimGrid: both engines call them, so their draws and verdicts agree.
#include <cstdint>
#include <span>

#include "sim/routing/swarm_view.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

/// A uniform number in [0, 1) fixed by (seed, stream, a, b): the same whatever order an engine
/// plays its events in.
double hashed_unit(std::uint64_t seed, std::uint64_t stream, std::uint64_t a, std::uint64_t b);

/// Whether server `node` returns a wrong output for step `step` of session `session`, computed at
/// `now`: never for an honest node; for a dishonest one, from its `from` time on, with its rate.
bool returns_wrong_output(const Scenario& sc, int node, int session, int step, double now);

/// Whether the client checks the hop that `server` ran for step `step` of session `session`
/// (policy.verification.rate).
bool spot_checks(const Scenario& sc, int session, int step, int server);

/// What a check found. Honest servers compute the same output; a wrong output is unrelated to any
/// other (a dishonest server returns random or malicious values), so it agrees with none.
enum class Verdict {
  Agreed,        ///< the server's and the verifier's outputs are the same
  ServerWrong,   ///< they differ and the tie-breaker agrees with the verifier
  VerifierWrong, ///< they differ and the tie-breaker agrees with the server
  Inconclusive,  ///< they differ and no two of the three outputs agree
};
const char* to_string(Verdict v);

/// Whether two outputs agree: only when both are right.
inline bool outputs_agree(bool a_wrong, bool b_wrong) { return !a_wrong && !b_wrong; }

/// The majority of three outputs, once the server's and the verifier's disagreed.
Verdict majority(bool server_wrong, bool verifier_wrong, bool tie_breaker_wrong);

/// A server to recompute `blocks` for a check: among the servers alive in `view` that serve all of
/// `blocks` and are not in `exclude`, the one picked by `draw` in [0, 1) (so checks spread over
/// the candidates). -1 when there is none.
int pick_verifier(std::span<const ServerView> view, BlockRange blocks, std::span<const int> exclude, double draw);

/// A hop a client checks: what the check needs from the session's step.
struct SpotCheck {
  int client = 0, session = 0, step = 0;
  int server = 0;             ///< the server whose hop is checked
  BlockRange blocks;          ///< the hop's blocks
  int tokens = 1;             ///< positions of the step
  int kv_len = 0;             ///< positions before them (the verifier recomputes them too: it has no KV cache)
  bool server_wrong = false;  ///< the truth: the server's output was wrong
};

/// The random sub-stream of a check's messages (checksum corruption draws).
std::uint64_t spot_check_stream(const SpotCheck& c);
/// The draw that picks a check's verifier (`which` = 0) or tie-breaker (1).
double verifier_draw(const Scenario& sc, const SpotCheck& c, int which);
/// The server a verdict finds wrong (the checked server or the verifier), -1 for none.
int wrong_by_majority(const SpotCheck& c, const SpotChecked& r, Verdict v);

}  // namespace swarmsim::sim
