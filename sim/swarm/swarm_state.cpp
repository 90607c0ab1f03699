#include "sim/swarm/swarm_state.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "sim/rng.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/uptime_estimate.hpp"

namespace swarmsim::sim {

SwarmState::SwarmState(const Scenario& sc, const gpu::ShardCostModel& cost)
    : sc_(sc), servers_(sc.nodes.size()), assigned_up_(swarm_block_load(sc)) {
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) {
    // Heartbeats of different servers are not synchronized.
    Rng phase = Rng(sc.seed).split(0xBEA7000ULL + static_cast<std::uint64_t>(i));
    servers_[i].heartbeat_phase = phase.uniform() * sc.policy.faults.heartbeat_s;
    throughput_.push_back(server_throughput(sc.nodes[i], sc.model, cost));
    declared_.push_back({sc.nodes[i].device, std::clamp(sc.nodes[i].uptime, 0.0, 1.0)});
  }
}

void SwarmState::add_busy(int host, double now, double device_seconds) {
  if (host >= size()) return;
  ServerLoad& load = servers_[static_cast<std::size_t>(host)].load;
  load.add_busy(now, device_seconds);
  if (!cached_.empty()) {  // routing_view's copy follows without recomputing the server
    cached_[static_cast<std::size_t>(host)].busy_rate = load.rate;
    cached_[static_cast<std::size_t>(host)].busy_at_s = load.time;
  }
}

std::vector<NodeSummary> SwarmState::summaries(double now) const {
  std::vector<NodeSummary> out(servers_.size());
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    const ServerState& st = servers_[i];
    NodeSummary& n = out[i];
    n.blocks = st.blocks;
    n.weights_bytes = st.weights_bytes;
    n.kv_peak_bytes = st.kv_peak;
    n.up_seconds = st.up_seconds + (st.up && st.joined_at >= 0 ? now - st.up_since : 0.0);
    n.failures = st.failures;
  }
  return out;
}

double SwarmState::uptime_estimate(int i, double now) const {
  const ServerState& s = (*this)[i];
  // A server that never failed has been up for all the time watched: the observed share is
  // exactly 1 and the estimate its declaration (routers ask for every server at every route).
  if (s.failures == 0 && s.up && sc_.policy.reputation.estimate == UptimeEstimate::DeclaredTimesObserved)
    return declared_[static_cast<std::size_t>(i)].uptime;
  double up = 0.0;
  double watched = 0.0;
  if (s.joined_at >= 0 && now > s.joined_at) {
    up = s.up_seconds + (s.up ? now - s.up_since : 0.0);
    // A crash the swarm has not noticed yet (no heartbeat missed) still looks like time up.
    if (!s.up && s.stale_alive && !declared_dead(i, now)) up += now - s.down_since;
    watched = now - s.joined_at;
  }
  return estimated_uptime(sc_.policy.reputation, sc_.nodes[static_cast<std::size_t>(i)].uptime, up, watched);
}

double SwarmState::death_notice_time(int i, double now) const {
  const ServerState& s = (*this)[i];
  if (s.up) return now;
  const double hb = sc_.policy.faults.heartbeat_s;
  const double last = s.heartbeat_phase + std::floor((s.down_since - s.heartbeat_phase) / hb) * hb;
  return last + hb * sc_.policy.faults.heartbeat_misses;
}

bool SwarmState::serves(int i, BlockRange blocks) const {
  const ServerState& s = (*this)[i];
  return s.loaded && !s.moving && !s.banned() && s.blocks.start <= blocks.start && blocks.end <= s.blocks.end;
}

void SwarmState::fill(int i, double now, ServerView& x, const std::vector<double>* reliability) const {
  const ServerState& s = (*this)[i];
  x.host = i;
  x.blocks = s.blocks;
  x.alive = !s.banned() && ((s.up && s.loaded && !s.moving) || (!s.up && s.stale_alive && !declared_dead(i, now)));
  x.device = declared_[static_cast<std::size_t>(i)].device;
  x.free_kv_bytes = s.kv_capacity - s.kv_reserved;
  x.active_sessions = s.active;
  x.busy_rate = s.load.rate;
  x.busy_at_s = s.load.time;
  x.uptime = uptime_estimate(i, now);
  if (reliability) x.uptime *= (*reliability)[static_cast<std::size_t>(i)];  // seed 002, section 3.1
}

void SwarmState::view(double now, std::vector<ServerView>& v, const std::vector<double>* reliability) const {
  v.resize(servers_.size());
  for (int i = 0; i < size(); ++i) fill(i, now, v[static_cast<std::size_t>(i)], reliability);
}

const std::vector<ServerView>& SwarmState::routing_view(double now, const std::vector<double>* reliability) {
  // A server that never failed sees its uptime estimate fixed at its declaration (uptime_estimate);
  // reliability multipliers and the other estimates follow the clock for every server.
  const bool incremental = reliability == nullptr && sc_.policy.reputation.estimate == UptimeEstimate::DeclaredTimesObserved;
  static std::atomic<std::uint64_t> layouts{0};  // unique in the process: routers key what they keep on it
  // The layout changes when a server's blocks do (a first view is a new layout).
  bool moved = false;
  const auto refill = [&](int i, const std::vector<double>* r) {
    ServerView& x = cached_[static_cast<std::size_t>(i)];
    const BlockRange before = x.blocks;
    fill(i, now, x, r);
    moved = moved || x.blocks != before;
  };
  if (!incremental || cached_.empty()) {
    moved = cached_.empty();
    cached_.resize(servers_.size());
    for (int i = 0; i < size(); ++i) refill(i, reliability);
    marked_.assign(servers_.size(), 0);
    dirty_.clear();
    if (moved) layout_ = ++layouts;
    return cached_;
  }
  // Servers failed at least once are recomputed at every call; the others when they changed.
  for (const int i : dirty_) {
    marked_[static_cast<std::size_t>(i)] = 0;
    if (servers_[static_cast<std::size_t>(i)].failures == 0) refill(i, nullptr);
  }
  dirty_.clear();
  for (const int i : failed_once_) refill(i, nullptr);
  if (moved) layout_ = ++layouts;
  return cached_;
}

void SwarmState::assign_blocks(int i) {
  ServerState& st = changed(i);
  if (st.assigned) return;
  const NodeSpec& node = sc_.nodes[static_cast<std::size_t>(i)];
  st.blocks = join_range(node, sc_.model, sc_.overheads, assigned_up_);  // i is not in it yet
  st.assigned = true;
  if (st.up && !st.banned()) assigned_up_.add(st.blocks, throughput(i));
  st.weights_bytes = st.blocks.size() * sc_.model.block_weight_bytes();
  st.kv_capacity = usable_memory_bytes(*node.device, sc_.overheads) - st.weights_bytes;
}

BlockMove SwarmState::rebalance_move(double now, double balance_quality) const {
  BlockLoad served = swarm_block_load(sc_);
  std::vector<int> who;
  for (int i = 0; i < size(); ++i) {
    const ServerState& st = (*this)[i];
    const bool known_serving =
        !st.banned() && ((st.up && st.loaded && !st.moving) || (!st.up && st.stale_alive && !declared_dead(i, now)));
    if (!known_serving) continue;
    served.add(st.blocks, throughput(i));
    who.push_back(i);
  }
  const std::vector<double> tp = served.tokens_per_s();
  BlockMove best;
  best.before = *std::min_element(tp.begin(), tp.end());
  best.after = best.before;
  for (const int i : who) {
    const ServerState& st = (*this)[i];
    if (sc_.nodes[static_cast<std::size_t>(i)].blocks || !st.up) continue;  // fixed ranges stay where the scenario put them
    BlockLoad moved = served;
    moved.remove(st.blocks, throughput(i));
    const int span = st.blocks.size();
    const int start = choose_least_served_start(moved.tokens_per_s(), span);
    if (start == st.blocks.start) continue;
    moved.add(BlockRange{start, start + span}, throughput(i));
    const std::vector<double> after_tp = moved.tokens_per_s();
    const double after = *std::min_element(after_tp.begin(), after_tp.end());
    const bool worth = (best.before <= 0 && after > 0) || after * balance_quality > best.before;
    if (worth && after > best.after) {
      best.server = i;
      best.after = after;
      best.to = BlockRange{start, start + span};
    }
  }
  return best;
}

BlockRange SwarmState::begin_move(int i, BlockRange to) {
  ServerState& st = changed(i);
  const BlockRange from = st.blocks;
  if (st.assigned && st.up && !st.banned()) {
    assigned_up_.remove(from, throughput(i));
    assigned_up_.add(to, throughput(i));
  }
  st.moving = true;
  st.loaded = false;
  ++st.epoch;  // its KV caches are dropped with the old weights
  drop_kv(i);
  st.blocks = to;
  st.weights_bytes = to.size() * sc_.model.block_weight_bytes();
  return from;
}

void SwarmState::finish_loading(int i, double now) {
  ServerState& st = changed(i);
  st.loaded = true;
  ++st.incarnation;
  if (st.joined_at < 0) {
    st.joined_at = now;
    st.up_since = now;
  }
}

bool SwarmState::finish_move(int i) {
  ServerState& st = changed(i);
  if (!st.moving) return false;
  st.moving = false;
  st.loaded = true;
  ++st.incarnation;
  return true;
}

void SwarmState::host_down(int i, double now) {
  ServerState& st = changed(i);
  if (st.assigned && st.up && !st.banned()) assigned_up_.remove(st.blocks, throughput(i));
  st.up = false;
  if (st.failures++ == 0) failed_once_.push_back(i);
  if (st.joined_at >= 0) st.up_seconds += now - st.up_since;
  st.stale_alive = st.loaded && !st.moving;
  st.down_since = now;
  st.moving = false;
  st.loaded = false;
  ++st.epoch;
  drop_kv(i);
}

void SwarmState::host_up(int i, double now) {
  ServerState& st = changed(i);
  if (st.assigned && !st.up && !st.banned()) assigned_up_.add(st.blocks, throughput(i));
  st.up = true;
  st.up_since = now;
}

bool SwarmState::ban(int i, double now) {
  ServerState& st = changed(i);
  if (st.banned()) return false;
  if (st.assigned && st.up) assigned_up_.remove(st.blocks, throughput(i));
  st.banned_at = now;
  return true;
}

void SwarmState::reserve(const std::vector<ChainHop>& hops, double kv_per_block, std::vector<Reservation>& reservations) {
  for (const ChainHop& hop : hops) {
    ServerState& st = changed(hop.server);
    const double bytes = kv_per_block * hop.blocks.size();
    st.kv_reserved += bytes;
    st.kv_peak = std::max(st.kv_peak, st.kv_reserved);
    ++st.active;
    reservations.push_back({hop.server, st.epoch, bytes, st.incarnation});
    if (bytes != 0.0 && on_kv_changed) on_kv_changed(hop.server, st.kv_reserved);
  }
}

bool SwarmState::lost_cache(int server, const std::vector<Reservation>& reservations) const {
  for (const Reservation& r : reservations)
    if (r.server == server) return (*this)[server].epoch != r.epoch;
  return false;
}

void SwarmState::release_one(int server, std::vector<Reservation>& reservations) {
  for (auto it = reservations.begin(); it != reservations.end(); ++it)
    if (it->server == server) {
      std::vector<Reservation> one{*it};
      reservations.erase(it);
      release(one);
      return;
    }
}

void SwarmState::release(std::vector<Reservation>& reservations) {
  for (const Reservation& r : reservations) {
    ServerState& st = changed(r.server);
    if (st.epoch != r.epoch) continue;  // the node went down since: its caches are already gone
    const double before = st.kv_reserved;
    st.kv_reserved = std::max(0.0, st.kv_reserved - r.bytes);
    --st.active;
    if (st.kv_reserved != before && on_kv_changed) on_kv_changed(r.server, st.kv_reserved);
  }
  reservations.clear();
}

void SwarmState::drop_kv(int i) {
  ServerState& st = changed(i);
  const bool held = st.kv_reserved != 0.0;
  st.kv_reserved = 0.0;
  st.active = 0;
  if (held && on_kv_changed) on_kv_changed(i, 0.0);
}

}  // namespace swarmsim::sim
