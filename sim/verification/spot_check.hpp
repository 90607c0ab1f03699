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

/// What a server returns for a step, as far as comparing outputs can tell: kRightOutput when it ran
/// the model; otherwise a value only the members of its cartel share (a lone cheater's agrees with
/// nobody's: it returns random or malicious values).
using OutputId = std::uint64_t;
inline constexpr OutputId kRightOutput = 0;

/// What server `node` returns for step `step` of session `session`, computed at `now`: the right
/// output for an honest node; for a dishonest one, from its `from` time on, a wrong one at its
/// rate (a cartel's members cheat on the same steps, with the same values).
OutputId output_of(const Scenario& sc, int node, int session, int step, double now);
/// Whether `node`, having returned `output`, skips the work of it: a lazy cheater's wrong outputs
/// take it no device time.
inline bool skips_work(const Scenario& sc, int node, OutputId output) {
  return output != kRightOutput && sc.nodes[static_cast<std::size_t>(node)].dishonest->lazy;
}
/// Whether that output is wrong.
inline bool returns_wrong_output(const Scenario& sc, int node, int session, int step, double now) {
  return output_of(sc, node, session, step, now) != kRightOutput;
}

/// Whether the client checks the hop that `server` ran for step `step` of session `session`
/// (policy.verification.rate).
bool spot_checks(const Scenario& sc, int session, int step, int server);

/// One server's output of a hop: who computed it and what it returned.
struct HopOutput {
  int node = 0;
  OutputId id = kRightOutput;
};

/// Relative L2 distance between two outputs of the same hop, from what each is made of: the
/// rounding of the node's arithmetic (its `divergence`; identical outputs on the same device with
/// the same divergence), and a wrong output's error (its `magnitude`; shared by a cartel). The
/// parts are independent directions of a wide hidden state, so their squares add:
///   d^2 = [other device or divergence] (div_a^2 + div_b^2) + [ids differ] (sum of the wrong ones' magnitude^2)
/// Consensus-based distribution verification (seed 002, section 6.2) compares outputs this way.
double output_distance(const Scenario& sc, HopOutput a, HopOutput b);
/// Whether two outputs agree: their distance is at most policy.verification.tolerance.
bool outputs_agree(const Scenario& sc, HopOutput a, HopOutput b);

/// What a check found by comparing outputs: the server's and the verifier's, and when those do not
/// agree, the tie-breaker's. The verdict is the majority's, which a cartel, or a tolerance too
/// tight for honest servers' rounding, can make wrong.
enum class Verdict {
  Agreed,        ///< the server's and the verifier's outputs agree
  ServerWrong,   ///< they do not, and the tie-breaker agrees with the verifier only
  VerifierWrong, ///< they do not, and the tie-breaker agrees with the server only
  Inconclusive,  ///< they do not, and the tie-breaker agrees with both or with neither
};
const char* to_string(Verdict v);

/// The majority of the server's, the verifier's and (when those two do not agree) the tie-breaker's outputs.
Verdict majority(const Scenario& sc, HopOutput server, HopOutput verifier, HopOutput tie_breaker);

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
  OutputId server_output = kRightOutput;  ///< what the server returned
};

/// The random sub-stream of a check's messages (checksum corruption draws).
std::uint64_t spot_check_stream(const SpotCheck& c);
/// The draw that picks a check's verifier (`which` = 0) or tie-breaker (1).
double verifier_draw(const Scenario& sc, const SpotCheck& c, int which);
/// The server a verdict finds wrong (the checked server or the verifier), -1 for none.
int wrong_by_majority(const SpotCheck& c, const SpotChecked& r, Verdict v);

}  // namespace swarmsim::sim
