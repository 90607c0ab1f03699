#include "sim/metrics/wrong_forwards.hpp"

#include <algorithm>
#include <string_view>

#include "sim/verification/spot_check.hpp"

namespace swarmsim::sim {

void WrongForwards::connect(SimSignals& s) {
  s.on_compute.connect([this](const ComputeSpan& c) { leg(c); });
}

void WrongForwards::leg(const ComputeSpan& c) {
  if (std::string_view(c.what) != "forward" || c.blocks.empty()) return;
  StepLegs& s = sessions_[c.session];
  if (s.step != c.step) {  // a new step: the session's earlier legs are done with
    s.step = c.step;
    s.legs.clear();
  }
  s.legs.push_back(Leg{c.host, c.blocks, c.start});
}

std::vector<gpu::ActivationPerturbation> WrongForwards::wrong(int session, int step) const {
  std::vector<gpu::ActivationPerturbation> out;
  const auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.step != step) return out;
  const std::vector<Leg>& legs = it->second.legs;
  for (std::size_t i = 0; i < legs.size(); ++i) {
    const Leg& l = legs[i];
    bool used = true;  // its output reached the next hop unless a later leg produced the same block's output again
    for (std::size_t j = i + 1; j < legs.size() && used; ++j) used = !legs[j].blocks.contains(l.blocks.end - 1);
    const NodeSpec& node = sc_.nodes[static_cast<std::size_t>(l.host)];
    if (!used || !node.dishonest) continue;
    const OutputId id = output_of(sc_, l.host, session, step, l.start);
    if (id == kRightOutput) continue;
    // A cartel's members return the same values: the direction comes from the output's id.
    const std::uint64_t stream = id * 0x9E3779B97F4A7C15ULL ^ (static_cast<std::uint64_t>(session) << 32) ^ static_cast<std::uint64_t>(step);
    out.push_back(gpu::ActivationPerturbation{l.blocks.end, node.dishonest->magnitude, stream});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.after_block < b.after_block; });
  return out;
}

}  // namespace swarmsim::sim
