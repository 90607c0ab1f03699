#include "sim/verification/spot_check.hpp"

#include <algorithm>
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

Verdict majority(OutputId server, OutputId verifier, OutputId tie_breaker) {
  if (server == verifier) return Verdict::Agreed;
  if (tie_breaker == server) return Verdict::VerifierWrong;
  if (tie_breaker == verifier) return Verdict::ServerWrong;
  return Verdict::Inconclusive;  // three different outputs
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
