#include "sim/metrics/forward_legs.hpp"

#include <algorithm>
#include <string_view>

#include "sim/verification/spot_check.hpp"

namespace swarmsim::sim {

void ForwardLegs::connect(SimSignals& s) {
  s.on_compute.connect([this](const ComputeSpan& c) { leg(c); });
}

void ForwardLegs::leg(const ComputeSpan& c) {
  if (std::string_view(c.what) != "forward" || c.blocks.empty()) return;
  StepLegs& s = sessions_[c.session];
  if (s.step != c.step) {  // a new step: the session's earlier legs are done with
    s.step = c.step;
    s.legs.clear();
  }
  s.legs.push_back(Leg{c.host, c.blocks, c.start});
}

std::vector<ForwardLegs::Leg> ForwardLegs::used(int session, int step) const {
  std::vector<Leg> out;
  const auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.step != step) return out;
  const std::vector<Leg>& legs = it->second.legs;
  for (std::size_t i = 0; i < legs.size(); ++i) {
    bool used = true;  // its output reached the next hop unless a later leg produced the same block's output again
    for (std::size_t j = i + 1; j < legs.size() && used; ++j) used = !legs[j].blocks.contains(legs[i].blocks.end - 1);
    if (used) out.push_back(legs[i]);
  }
  std::stable_sort(out.begin(), out.end(), [](const Leg& a, const Leg& b) { return a.blocks.start < b.blocks.start; });
  return out;
}

std::vector<gpu::ActivationPerturbation> ForwardLegs::wrong(int session, int step) const {
  std::vector<gpu::ActivationPerturbation> out;
  for (const Leg& l : used(session, step)) {
    const NodeSpec& node = sc_.nodes[static_cast<std::size_t>(l.host)];
    if (!node.dishonest) continue;
    const OutputId id = output_of(sc_, l.host, session, step, l.start);
    if (id == kRightOutput) continue;
    // A cartel's members return the same values: the direction comes from the output's id.
    const std::uint64_t stream = id * 0x9E3779B97F4A7C15ULL ^ (static_cast<std::uint64_t>(session) << 32) ^ static_cast<std::uint64_t>(step);
    out.push_back(gpu::ActivationPerturbation{l.blocks.end, node.dishonest->magnitude, stream});
  }
  return out;
}

std::vector<int> ForwardLegs::arrivals(int session, int step) const {
  std::vector<int> out;
  for (const Leg& l : used(session, step)) out.push_back(l.blocks.start);
  if (!out.empty()) out.push_back(sc_.model.n_layers);
  return out;
}

}  // namespace swarmsim::sim
