#include "sim/verification/spot_check.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "sim/rng.hpp"

namespace swarmsim::sim {

double hashed_unit(std::uint64_t seed, std::uint64_t stream, std::uint64_t a, std::uint64_t b) {
  Rng r(seed ^ (stream * 0x9E3779B97F4A7C15ULL));
  r = Rng(r.next_u64() ^ (a * 0xD1B54A32D192ED03ULL));
  r = Rng(r.next_u64() ^ (b * 0xA24BAED4963EE407ULL));
  return r.uniform();
}

OutputId output_of(const Scenario& sc, int node, int session, int step, double now) {
  const NodeSpec& n = sc.nodes[static_cast<std::size_t>(node)];
  if (!n.dishonest || now < n.dishonest->from_s) return kRightOutput;
  const std::string& cartel = n.dishonest->cartel;
  if (cartel.empty()) {  // alone: its wrong outputs agree with nobody's
    const auto key = static_cast<std::uint64_t>(node) << 32 | static_cast<std::uint32_t>(session);
    const bool cheats = hashed_unit(sc.seed, 0xBAD0, key, static_cast<std::uint64_t>(step)) < n.dishonest->rate;
    return cheats ? (1ULL << 63) | static_cast<std::uint64_t>(node + 1) : kRightOutput;
  }
  // A cartel cheats on the same steps and returns the same wrong values: one draw and one value
  // per cartel (FNV-1a of its name; the top bits clear, so never a lone cheater's).
  std::uint64_t h = 14695981039346656037ULL;
  for (const char ch : cartel) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
  const auto key = (h >> 32) << 32 | static_cast<std::uint32_t>(session);
  const bool cheats = hashed_unit(sc.seed, 0xBAD1, key, static_cast<std::uint64_t>(step)) < n.dishonest->rate;
  return cheats ? (h >> 2) | 1ULL : kRightOutput;
}

bool spot_checks(const Scenario& sc, int session, int step, int server) {
  if (!sc.policy.verification.enabled()) return false;
  const auto key = static_cast<std::uint64_t>(server) << 32 | static_cast<std::uint32_t>(session);
  return hashed_unit(sc.seed, 0xC4EC, key, static_cast<std::uint64_t>(step)) < sc.policy.verification.rate;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::Agreed: return "agreed";
    case Verdict::ServerWrong: return "server_wrong";
    case Verdict::VerifierWrong: return "verifier_wrong";
    case Verdict::Inconclusive: return "inconclusive";
  }
  return "?";
}

double output_distance(const Scenario& sc, HopOutput a, HopOutput b) {
  const NodeSpec& x = sc.nodes[static_cast<std::size_t>(a.node)];
  const NodeSpec& y = sc.nodes[static_cast<std::size_t>(b.node)];
  double d2 = 0.0;
  if (x.device != y.device || x.divergence != y.divergence) d2 += x.divergence * x.divergence + y.divergence * y.divergence;
  if (a.id != b.id)
    for (const auto& [id, node] : {std::pair{a.id, &x}, std::pair{b.id, &y}})
      if (id != kRightOutput) {
        const double m = node->dishonest ? node->dishonest->magnitude : 1.0;
        d2 += m * m;
      }
  return std::sqrt(d2);
}

bool outputs_agree(const Scenario& sc, HopOutput a, HopOutput b) {
  return output_distance(sc, a, b) <= sc.policy.verification.tolerance;
}

Verdict majority(const Scenario& sc, HopOutput server, HopOutput verifier, HopOutput tie_breaker) {
  if (outputs_agree(sc, server, verifier)) return Verdict::Agreed;
  const bool with_server = outputs_agree(sc, tie_breaker, server), with_verifier = outputs_agree(sc, tie_breaker, verifier);
  if (with_server && !with_verifier) return Verdict::VerifierWrong;
  if (with_verifier && !with_server) return Verdict::ServerWrong;
  return Verdict::Inconclusive;  // the tie-breaker sides with both (it lies between them) or with neither
}

int pick_verifier(std::span<const ServerView> view, BlockRange blocks, std::span<const int> exclude, double draw) {
  std::vector<int> candidates;
  for (const ServerView& s : view)
    if (s.alive && s.blocks.start <= blocks.start && blocks.end <= s.blocks.end &&
        std::find(exclude.begin(), exclude.end(), s.host) == exclude.end())
      candidates.push_back(s.host);
  if (candidates.empty()) return -1;
  const auto i = std::min(candidates.size() - 1, static_cast<std::size_t>(draw * static_cast<double>(candidates.size())));
  return candidates[i];
}

std::uint64_t spot_check_stream(const SpotCheck& c) {
  return (static_cast<std::uint64_t>(c.session) << 40) ^ (static_cast<std::uint64_t>(c.step) << 16) ^ static_cast<std::uint64_t>(c.server);
}

double verifier_draw(const Scenario& sc, const SpotCheck& c, int which) {
  const auto key = static_cast<std::uint64_t>(c.server) << 32 | static_cast<std::uint32_t>(c.session);
  return hashed_unit(sc.seed, 0x7E41F0ULL + static_cast<std::uint64_t>(which), key, static_cast<std::uint64_t>(c.step));
}

int wrong_by_majority(const SpotCheck& c, const SpotChecked& r, Verdict v) {
  return v == Verdict::ServerWrong ? c.server : v == Verdict::VerifierWrong ? r.verifier : -1;
}

}  // namespace swarmsim::sim
