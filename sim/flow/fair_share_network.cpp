#include "sim/flow/fair_share_network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace swarmsim::sim::flow {

SharingParams sharing_params(NetworkModel model) {
  if (model == NetworkModel::Exact) return SharingParams{};
  // SimGrid 3.32's LV08 (network_cm02.cpp): bandwidth factor 0.97, weight-S 20537, cross-traffic
  // on, and the default network/TCP-gamma of 4 MiB.
  return SharingParams{0.97, 0.05, 20537.0, 4194304.0};
}

std::vector<double> access_rates(const Scenario& sc, bool up) {
  std::vector<double> r;
  for (const NodeSpec& n : sc.nodes) r.push_back(up ? n.uplink_Bps : n.downlink_Bps);
  for (const ClientSpec& c : sc.clients) r.push_back(up ? c.uplink_Bps : c.downlink_Bps);
  return r;
}

FairShareNetwork::FairShareNetwork(std::vector<double> up_Bps, std::vector<double> down_Bps, SharingParams params,
                                   EventQueue& queue)
    : params_(params), queue_(queue) {
  if (up_Bps.size() != down_Bps.size()) throw std::invalid_argument("FairShareNetwork: as many up as down links");
  links_.resize(2 * up_Bps.size());
  capacity_.resize(2 * up_Bps.size());
  for (std::size_t h = 0; h < up_Bps.size(); ++h) {
    capacity_[2 * h] = up_Bps[h];
    capacity_[2 * h + 1] = down_Bps[h];
  }
}

FairShareNetwork::FlowId FairShareNetwork::start(double now, int from, int to, double bytes, double delay_s, double latency_s,
                                                 std::uint64_t token) {
  solve_pending(now);
  int id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<int>(flows_.size());
    flows_.emplace_back();
  }
  Flow& f = flows_[static_cast<std::size_t>(id)];
  const std::uint32_t version = f.version + 1, generation = f.generation + 1;
  f = Flow{};
  f.version = version;
  f.generation = generation;
  f.live = true;
  f.token = token;
  f.from = from;
  f.to = to;
  f.remaining = bytes;
  f.last = now;
  const int up_from = 2 * from, down_to = 2 * to + 1;
  f.link[0] = up_from;
  f.link[1] = down_to;
  f.weight[0] = f.weight[1] = 1.0;
  f.n_links = 2;
  if (params_.crosstraffic_weight > 0) {  // the ACKs flow back over up(to) and down(from)
    f.link[2] = 2 * to;
    f.link[3] = 2 * from + 1;
    f.weight[2] = f.weight[3] = params_.crosstraffic_weight;
    f.n_links = 4;
  }
  // SimGrid's CM02 family: the bound is the route's slowest link, tightened by the TCP window;
  // the penalty is the route's latency plus weight_S / bandwidth per link (1 without latency).
  const double slowest = std::min(capacity(up_from), capacity(down_to));
  f.bound = slowest;
  if (params_.tcp_gamma_bytes > 0 && latency_s > 0) f.bound = std::min(f.bound, params_.tcp_gamma_bytes / (2.0 * latency_s));
  f.penalty = latency_s;
  if (params_.weight_S_bytes > 0)
    f.penalty += params_.weight_S_bytes / capacity(up_from) + params_.weight_S_bytes / capacity(down_to);
  if (!(f.penalty > 0)) f.penalty = 1.0;
  ++in_flight_;
  queue_.push(now + delay_s, EventKind::FlowActive, static_cast<std::uint64_t>(id), f.version);
  return FlowId{id, f.generation};
}

void FairShareNetwork::remove(double now, int id) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  int touched[4];
  const int n = f.sharing ? f.n_links : 0;
  std::copy(f.link, f.link + n, touched);
  if (f.sharing) detach(id);
  f.live = false;
  ++f.version;
  free_ids_.push_back(id);
  --in_flight_;
  // Only the flows left on its links can speed up; most flows leave none.
  if (std::any_of(touched, touched + n, [this](int l) { return !links_[static_cast<std::size_t>(l)].flows.empty(); }))
    solve_later(now, touched, n);
}

void FairShareNetwork::solve_later(double now, const int* links, int n) {
  pending_links_.insert(pending_links_.end(), links, links + n);
  if (solve_pending_) return;
  solve_pending_ = true;
  solve_at_ = now;
  queue_.push(now, EventKind::FlowSolve, 0, ++solve_version_);
}

void FairShareNetwork::solve_pending(double now) {
  // A caller at a later instant that has not played the FlowSolve event (a test driving the
  // network by hand) gets the shares as they were from the instant of the changes on.
  if (solve_pending_ && now > solve_at_) solve_marked();
}

void FairShareNetwork::solve_marked() {
  solve_pending_ = false;
  solve(solve_at_, pending_links_.data(), static_cast<int>(pending_links_.size()));
  pending_links_.clear();
}

bool FairShareNetwork::cancel(double now, FlowId fid, std::uint64_t& token) {
  if (!in_flight(fid)) return false;
  solve_pending(now);
  token = flows_[static_cast<std::size_t>(fid.id)].token;
  remove(now, fid.id);
  return true;
}

void FairShareNetwork::fail_host(double now, int host, std::vector<std::uint64_t>& tokens) {
  solve_pending(now);
  for (std::size_t id = 0; id < flows_.size(); ++id) {
    const Flow& f = flows_[id];
    if (!f.live || (f.from != host && f.to != host)) continue;
    tokens.push_back(f.token);
    remove(now, static_cast<int>(id));
  }
}

void FairShareNetwork::set_capacity(double now, int link, double Bps) {
  solve_pending(now);
  // SimGrid 3.32's LV08 moves the weight-S term of every flow on the link to the new bandwidth
  // (NetworkCm02Link::set_bandwidth). It also wakes flows still paying their latency, which then
  // never finish (a stall the SimGrid engine works around with timeouts); here they keep waiting
  // out their latency.
  if (params_.weight_S_bytes > 0) {
    const double delta = params_.weight_S_bytes / Bps - params_.weight_S_bytes / capacity(link);
    for (Flow& f : flows_)
      if (f.live)
        for (int k = 0; k < f.n_links; ++k)
          if (f.link[k] == link) f.penalty += delta;
  }
  capacity_[static_cast<std::size_t>(link)] = Bps;
  solve_later(now, &link, 1);
}

bool FairShareNetwork::on_event(const TimedEvent& e, std::uint64_t& token) {
  if (e.kind == EventKind::FlowSolve) {
    if (solve_pending_ && e.version == solve_version_) solve_marked();  // else solved already
    return false;
  }
  solve_pending(e.t);
  const int id = static_cast<int>(e.payload);
  Flow& f = flows_[static_cast<std::size_t>(id)];
  if (!f.live || f.version != e.version) return false;  // stale: its rate changed since
  if (e.kind == EventKind::FlowActive) {
    f.last = e.t;
    if (f.remaining <= 0) {  // nothing to carry: delivered once the latency is paid
      queue_.push(e.t, EventKind::FlowDone, e.payload, f.version);
      return false;
    }
    attach(id);
    if (alone(f))
      solve_alone(e.t, id);
    else
      solve_later(e.t, f.link, f.n_links);
    return false;
  }
  // FlowDone: its last byte arrived (a change of rate would have made this event stale).
  token = f.token;
  remove(e.t, id);
  return true;
}

double FairShareNetwork::rate_of(std::uint64_t token) const {
  for (const Flow& f : flows_)
    if (f.live && f.token == token) return f.sharing ? f.value * params_.rate_factor : 0.0;
  return 0.0;
}

void FairShareNetwork::attach(int id) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  for (int k = 0; k < f.n_links; ++k) {
    auto& list = links_[static_cast<std::size_t>(f.link[k])].flows;
    f.slot[k] = static_cast<int>(list.size());
    list.emplace_back(id, k);
  }
  f.sharing = true;
}

void FairShareNetwork::detach(int id) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  for (int k = 0; k < f.n_links; ++k) {
    auto& list = links_[static_cast<std::size_t>(f.link[k])].flows;
    const auto pos = static_cast<std::size_t>(f.slot[k]);
    list[pos] = list.back();
    flows_[static_cast<std::size_t>(list[pos].first)].slot[list[pos].second] = static_cast<int>(pos);
    list.pop_back();
  }
  f.sharing = false;
}

bool FairShareNetwork::alone(const Flow& f) const {
  for (int k = 0; k < f.n_links; ++k)
    if (links_[static_cast<std::size_t>(f.link[k])].flows.size() != 1) return false;
  return true;
}

void FairShareNetwork::solve_alone(double now, int id) {
  // solve()'s progressive filling on a group of one flow, operation for operation (so the
  // results are the same to the bit): one level, the lowest of its links' and its bound's.
  Flow& f = flows_[static_cast<std::size_t>(id)];
  catch_up(f, now);
  const double old_value = f.value;
  double level = std::numeric_limits<double>::infinity();
  for (int k = 0; k < f.n_links; ++k)
    level = std::min(level, std::max(0.0, capacity(f.link[k])) / (f.weight[k] / f.penalty));
  level = std::min(level, f.bound * f.penalty);
  f.value = std::min(level / f.penalty, f.bound);
  reschedule(id, old_value, now);
}

void FairShareNetwork::catch_up(Flow& f, double now) {
  f.remaining = std::max(0.0, f.remaining - f.value * params_.rate_factor * (now - f.last));
  f.last = now;
}

void FairShareNetwork::reschedule(int id, double old_value, double now) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  if (f.value == old_value && f.value > 0) return;  // its pending event still holds
  ++f.version;
  const double rate = f.value * params_.rate_factor;
  if (rate > 0) queue_.push(now + f.remaining / rate, EventKind::FlowDone, static_cast<std::uint64_t>(id), f.version);
}

void FairShareNetwork::solve(double now, const int* seeds, int n) {
  // Gather the connected group: flows reachable from the seed links through shared links.
  ++mark_;
  comp_links_.clear();
  comp_flows_.clear();
  stack_.clear();
  for (int i = 0; i < n; ++i) {
    Link& l = links_[static_cast<std::size_t>(seeds[i])];
    if (l.mark == mark_) continue;
    l.mark = mark_;
    stack_.push_back(seeds[i]);
  }
  while (!stack_.empty()) {
    const int li = stack_.back();
    stack_.pop_back();
    comp_links_.push_back(li);
    for (const auto& [fi, k] : links_[static_cast<std::size_t>(li)].flows) {
      Flow& f = flows_[static_cast<std::size_t>(fi)];
      if (f.mark == mark_) continue;
      f.mark = mark_;
      f.mark_pos = static_cast<int>(comp_flows_.size());
      comp_flows_.push_back(fi);
      for (int j = 0; j < f.n_links; ++j) {
        Link& o = links_[static_cast<std::size_t>(f.link[j])];
        if (o.mark == mark_) continue;
        o.mark = mark_;
        stack_.push_back(f.link[j]);
      }
    }
  }
  if (comp_flows_.empty()) return;
  ++solves_;

  // Bring every flow's remaining bytes up to now at its old rate.
  for (const int fi : comp_flows_) catch_up(flows_[static_cast<std::size_t>(fi)], now);

  // Weighted max-min by progressive filling: a level L rises, every unfixed flow has value
  // L / penalty; a link saturates when its capacity is used up, a flow when it reaches its bound.
  // The flows of a saturated link, and the bounded ones, are fixed at the level; repeat.
  for (const int li : comp_links_) {
    Link& l = links_[static_cast<std::size_t>(li)];
    l.free = capacity(li);
    l.weight = 0;
    l.unfixed = static_cast<int>(l.flows.size());
    for (const auto& [fi, k] : l.flows) {
      const Flow& f = flows_[static_cast<std::size_t>(fi)];
      l.weight += f.weight[k] / f.penalty;
    }
  }
  // Each round computes every link's saturation level once, flags the unfixed flows of the links
  // at the level, then walks the unfixed flows in the group's order with no link lookups; the
  // walk also finds the next round's lowest bound. The flows are fixed, and their links updated,
  // in the group's order whatever the round's links, so the sums are the same to the bit.
  old_values_.clear();
  unfixed_.clear();
  unfixed_bound_.clear();
  double lowest_bound = std::numeric_limits<double>::infinity();
  for (std::size_t p = 0; p < comp_flows_.size(); ++p) {
    const Flow& f = flows_[static_cast<std::size_t>(comp_flows_[p])];
    old_values_.push_back(f.value);
    unfixed_.push_back(static_cast<int>(p));
    unfixed_bound_.push_back(f.bound * f.penalty);
    lowest_bound = std::min(lowest_bound, unfixed_bound_.back());
  }
  on_saturated_link_.assign(comp_flows_.size(), 0);
  constexpr double kTie = 1e-12;
  while (!unfixed_.empty()) {
    double level = lowest_bound;
    for (const int li : comp_links_) {
      Link& l = links_[static_cast<std::size_t>(li)];
      if (l.unfixed > 0) {
        l.level = std::max(0.0, l.free) / l.weight;
        level = std::min(level, l.level);
      }
    }
    const double cut = level * (1.0 + kTie);
    // Flag the flows of the links saturated at this level: on each, every flow is unfixed or was
    // fixed in an earlier round, and a link saturates once.
    for (const int li : comp_links_) {
      const Link& l = links_[static_cast<std::size_t>(li)];
      if (l.unfixed > 0 && l.level <= cut)
        for (const auto& [fi, k] : l.flows) on_saturated_link_[static_cast<std::size_t>(flows_[static_cast<std::size_t>(fi)].mark_pos)] = 1;
    }
    // Fix the flows that saturate at this level: on a saturated link, or at their bound.
    fixed_.clear();
    lowest_bound = std::numeric_limits<double>::infinity();
    std::size_t kept = 0;
    for (std::size_t u = 0; u < unfixed_.size(); ++u) {
      const int p = unfixed_[u];
      const double bound = unfixed_bound_[u];
      if (bound <= cut || on_saturated_link_[static_cast<std::size_t>(p)]) {
        Flow& f = flows_[static_cast<std::size_t>(comp_flows_[static_cast<std::size_t>(p)])];
        f.value = std::min(level / f.penalty, f.bound);
        fixed_.push_back(comp_flows_[static_cast<std::size_t>(p)]);
      } else {
        unfixed_[kept] = p;
        unfixed_bound_[kept++] = bound;
        lowest_bound = std::min(lowest_bound, bound);
      }
    }
    unfixed_.resize(kept);
    unfixed_bound_.resize(kept);
    if (fixed_.empty()) {  // rounding left no link at the level: the rest share it (never seen)
      for (const int p : unfixed_) {
        Flow& f = flows_[static_cast<std::size_t>(comp_flows_[static_cast<std::size_t>(p)])];
        f.value = std::min(level / f.penalty, f.bound);
      }
      break;
    }
    // Fixed flows leave their links' weights and take their share of the capacity.
    for (const int fi : fixed_) {
      const Flow& f = flows_[static_cast<std::size_t>(fi)];
      for (int j = 0; j < f.n_links; ++j) {
        Link& l = links_[static_cast<std::size_t>(f.link[j])];
        l.free -= f.weight[j] * f.value;
        l.weight -= f.weight[j] / f.penalty;
        if (--l.unfixed == 0) l.weight = 0;
      }
    }
  }

  // New completion events for the flows whose rate changed.
  for (std::size_t i = 0; i < comp_flows_.size(); ++i) reschedule(comp_flows_[i], old_values_[i], now);
}

}  // namespace swarmsim::sim::flow
