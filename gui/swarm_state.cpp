#include "gui/swarm_state.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "sim/units.hpp"

namespace swarmsim::gui {

void SwarmInfo::index_hosts() {
  by_name.clear();
  for (std::size_t i = 0; i < hosts.size(); ++i) by_name.emplace(hosts[i].name, static_cast<int>(i));
}

int SwarmInfo::host_index(const std::string& name) const {
  if (by_name.size() == hosts.size()) {
    const auto it = by_name.find(name);
    return it == by_name.end() ? -1 : it->second;
  }
  for (std::size_t i = 0; i < hosts.size(); ++i)  // hosts changed since index_hosts()
    if (hosts[i].name == name) return static_cast<int>(i);
  return -1;
}

const char* to_string(EventType t) {
  switch (t) {
    case EventType::NodeJoin: return "node_join";
    case EventType::NodeDown: return "node_down";
    case EventType::NodeUp: return "node_up";
    case EventType::LinkChange: return "link_change";
    case EventType::SessionStart: return "session_start";
    case EventType::ChainFormed: return "chain_formed";
    case EventType::SessionDone: return "session_done";
    case EventType::SessionFailed: return "session_failed";
    case EventType::Compute: return "compute";
    case EventType::Transfer: return "transfer";
    case EventType::Step: return "step";
    case EventType::RunEnd: return "run_end";
    case EventType::TransferRetry: return "transfer_retry";
    case EventType::SessionRecovered: return "session_recovered";
    case EventType::BlocksMoved: return "blocks_moved";
    case EventType::Tree: return "tree";
    case EventType::ServerBanned: return "server_banned";
    case EventType::AdaptersMoved: return "adapters";
    case EventType::Loss: return "loss";
    case EventType::Kv: return "kv";
  }
  return "?";
}

const char* to_string(TreeChangeKind k) {
  switch (k) {
    case TreeChangeKind::Planned: return "planned";
    case TreeChangeKind::SplitStarted: return "split_started";
    case TreeChangeKind::Split: return "split";
    case TreeChangeKind::Merge: return "merge";
    case TreeChangeKind::Balance: return "balance";
    case TreeChangeKind::SplitCancelled: return "split_cancelled";
    case TreeChangeKind::Failed: return "failed";
    case TreeChangeKind::FailureDetected: return "failure_detected";
    case TreeChangeKind::Replaced: return "replaced";
    case TreeChangeKind::FailbackLoading: return "failback_loading";
    case TreeChangeKind::Failback: return "failback";
    case TreeChangeKind::FailbackDropped: return "failback_dropped";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// [SECTION] Latency bins
// ---------------------------------------------------------------------------------------------

double LatencyBins::edge(int i) {
  return kMin * std::pow(kMax / kMin, static_cast<double>(i) / kBins);
}

void LatencyBins::add(double seconds) {
  int b = 0;
  if (seconds > kMin) b = static_cast<int>(std::floor(std::log(seconds / kMin) / std::log(kMax / kMin) * kBins));
  b = std::clamp(b, 0, kBins - 1);
  counts[static_cast<std::size_t>(b)] += 1.0f;
  ++total;
}

// ---------------------------------------------------------------------------------------------
// [SECTION] State
// ---------------------------------------------------------------------------------------------

std::vector<int> SwarmState::servers_of_block(int b) const {
  std::vector<int> out;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].serving && nodes[i].blocks.contains(b)) out.push_back(static_cast<int>(i));
  return out;
}

std::vector<std::vector<bool>> SwarmState::coverage(int n_blocks, int n_servers) const {
  std::vector<std::vector<bool>> c(static_cast<std::size_t>(std::max(0, n_blocks)),
                                   std::vector<bool>(static_cast<std::size_t>(std::max(0, n_servers)), false));
  for (int i = 0; i < n_servers && i < static_cast<int>(nodes.size()); ++i) {
    const NodeState& n = nodes[static_cast<std::size_t>(i)];
    if (!n.serving) continue;
    for (int b = std::max(0, n.blocks.start); b < std::min(n_blocks, n.blocks.end); ++b)
      c[static_cast<std::size_t>(b)][static_cast<std::size_t>(i)] = true;
  }
  return c;
}

const TreeNodeView* TreeState::find(int id) const {
  for (const TreeNodeView& n : nodes)
    if (n.id == id) return &n;
  return nullptr;
}

double SwarmState::up_seconds(int i) const {
  const NodeState& n = nodes.at(static_cast<std::size_t>(i));
  return n.up_seconds + (n.serving ? std::max(0.0, time - n.serving_since) : 0.0);
}

std::vector<sim::UnservedRange> SwarmState::unserved_ranges() const {
  return unserved ? unserved->unserved_ranges(time) : std::vector<sim::UnservedRange>{};
}

std::string unserved_text(const SwarmState& s) {
  if (!s.unserved) return "";
  const double total = s.unserved->unserved_s(s.time);
  if (!(total > 0)) return "no block without a server since the workload started";
  const std::vector<sim::UnservedRange> ranges = s.unserved_ranges();
  if (ranges.size() == 1)
    return (ranges[0].blocks.size() == 1 ? "block " : "blocks ") + ranges[0].blocks.str() + " had no server for " +
           sim::format_duration(ranges[0].unserved_s) + " since the workload started";
  std::string out = "some block had no server for " + sim::format_duration(total);
  if (const sim::UnservedRange* r = sim::longest_unserved(ranges))
    out += std::string("; ") + (r->blocks.size() == 1 ? "block " : "blocks ") + r->blocks.str() + " the longest, " +
           sim::format_duration(r->unserved_s);
  if (ranges.size() > 1) out += " (" + std::to_string(ranges.size()) + " ranges)";
  return out;
}

namespace {

/// The meter of time without a server for some block, counting from `from_s`: a swarm of blocks
/// only (pipelines, trees and coded runs route no chain of blocks).
std::optional<sim::ModelCoverage> unserved_meter(const SwarmInfo& info, double from_s) {
  if (info.request_based() || info.n_blocks <= 0) return std::nullopt;
  return sim::ModelCoverage(sim::BlockRange{info.client_blocks, info.n_blocks}, info.n_servers, from_s);
}

}  // namespace

SwarmState initial_state(const SwarmInfo& info) {
  SwarmState s;
  if (info.workload_start_s >= 0) s.unserved = unserved_meter(info, info.workload_start_s);
  s.nodes.resize(info.hosts.size());
  for (std::size_t i = 0; i < info.hosts.size(); ++i) {
    s.nodes[i].uplink_Bps = info.hosts[i].uplink_Bps;
    s.nodes[i].downlink_Bps = info.hosts[i].downlink_Bps;
  }
  return s;
}

namespace {

NodeState* node_at(SwarmState& s, int i) {
  if (i < 0 || i >= static_cast<int>(s.nodes.size())) return nullptr;
  return &s.nodes[static_cast<std::size_t>(i)];
}

void end_session(SwarmState& s, int session) {
  auto it = s.sessions.find(session);
  if (it == s.sessions.end()) return;
  for (const ChainHop& h : it->second.chain)
    if (NodeState* n = node_at(s, h.node)) n->sessions_in_flight = std::max(0, n->sessions_in_flight - 1);
  s.sessions.erase(it);
}

void stop_serving(SwarmState& s, int node, double t) {
  NodeState& n = s.nodes[static_cast<std::size_t>(node)];
  if (n.serving) n.up_seconds += std::max(0.0, t - n.serving_since);
  n.serving = false;
  if (s.unserved) s.unserved->stop(t, node);
}

}  // namespace

void apply_event(SwarmState& s, const SwarmInfo& info, const SwarmEvent& e) {
  s.time = std::max(s.time, e.t);
  switch (e.type) {
    case EventType::NodeJoin:
      if (NodeState* n = node_at(s, e.node)) {
        n->joined = true;
        n->blocks = e.blocks;
        n->joined_at = e.t;
        if (n->up && !n->serving && !n->banned) {
          n->serving = true;
          n->serving_since = e.t;
        }
        if (n->serving && s.unserved) s.unserved->serve(e.t, e.node, n->blocks);
      }
      break;
    case EventType::NodeDown:
      if (NodeState* n = node_at(s, e.node)) {
        if (n->up) ++n->failures;
        stop_serving(s, e.node, e.t);
        n->up = false;
        n->state_since = e.t;
      }
      break;
    case EventType::NodeUp:
      if (NodeState* n = node_at(s, e.node)) {
        n->up = true;  // serves again once it has reloaded its blocks (its next node_join)
        n->state_since = e.t;
      }
      break;
    case EventType::LinkChange:
      if (e.text == "set_bandwidth") {
        if (NodeState* n = node_at(s, e.node)) {
          if (e.direction != 'd') n->uplink_Bps = e.value;
          if (e.direction != 'u') n->downlink_Bps = e.value;
        }
      } else if (e.peer >= 0) {
        s.pair_latency_s[{std::min(e.node, e.peer), std::max(e.node, e.peer)}] = e.value;
      } else if (NodeState* n = node_at(s, e.node)) {
        n->access_latency_override_s = e.value;
      }
      break;
    case EventType::SessionStart: {
      // A header without the workload's start: count from the first session, with what serves then.
      if (s.sessions_started == 0 && !s.unserved && info.workload_start_s < 0 && (s.unserved = unserved_meter(info, e.t)))
        for (std::size_t i = 0; i < s.nodes.size() && static_cast<int>(i) < info.n_servers; ++i)
          if (s.nodes[i].serving) s.unserved->serve(e.t, static_cast<int>(i), s.nodes[i].blocks);
      ++s.sessions_started;
      SessionInFlight f;
      f.client = e.client;
      f.started = e.t;
      s.sessions[e.session] = f;
      break;
    }
    case EventType::ChainFormed: {
      ++s.chains_formed;
      SessionInFlight& f = s.sessions[e.session];
      for (const ChainHop& h : f.chain)  // a new chain replaces an old one (not emitted today)
        if (NodeState* n = node_at(s, h.node)) n->sessions_in_flight = std::max(0, n->sessions_in_flight - 1);
      f.chain = e.hops;
      f.attempt = e.attempt;
      f.chain_formed_at = e.t;
      for (const ChainHop& h : e.hops)
        if (NodeState* n = node_at(s, h.node)) {
          ++n->chains;
          ++n->sessions_in_flight;
        }
      break;
    }
    case EventType::SessionDone:
      ++s.sessions_done;
      s.sessions_decoded += e.decoded > 0;
      end_session(s, e.session);
      break;
    case EventType::SessionFailed:
      ++(e.abandoned ? s.sessions_abandoned : e.client_lost ? s.sessions_lost_with_client : s.sessions_failed);
      end_session(s, e.session);
      break;
    case EventType::Compute:
      if (NodeState* n = node_at(s, e.node)) {
        n->busy_seconds += std::max(0.0, e.t - e.start);
        n->block_steps += std::max(0, e.blocks.size());
      }
      break;
    case EventType::Transfer: {
      if (NodeState* n = node_at(s, e.node)) n->bytes_sent += e.value;
      if (NodeState* n = node_at(s, e.peer)) n->bytes_received += e.value;
      PairTraffic& p = s.traffic[{e.node, e.peer}];
      p.bytes += e.value;
      p.busy_seconds += std::max(0.0, e.t - e.start);
      ++p.messages;
      s.bytes_moved += e.value;
      ++s.hops;
      break;
    }
    case EventType::Step: {
      ++s.steps;
      s.tokens += info.tokens_per_step;
      auto it = s.sessions.find(e.session);
      if (it != s.sessions.end()) it->second.steps_done = e.step + 1;
      (e.step == 0 ? s.ttft : s.per_token).add(e.value);
      break;
    }
    case EventType::RunEnd:
      s.ended = true;
      break;
    case EventType::TransferRetry:
      ++s.transfer_retries;
      if (NodeState* n = node_at(s, e.node)) ++n->transfer_retries;
      break;
    case EventType::SessionRecovered: {
      ++s.recoveries;
      auto it = s.sessions.find(e.session);
      if (it == s.sessions.end()) break;
      std::vector<ChainHop>& chain = it->second.chain;
      // The failed server's hop for `blocks` is replaced, in place, by the replacement hops.
      auto lost = std::find_if(chain.begin(), chain.end(), [&](const ChainHop& h) { return h.node == e.node && h.blocks == e.blocks; });
      if (lost == chain.end())
        lost = std::find_if(chain.begin(), chain.end(), [&](const ChainHop& h) { return h.node == e.node; });
      if (lost == chain.end()) break;
      if (NodeState* n = node_at(s, lost->node)) n->sessions_in_flight = std::max(0, n->sessions_in_flight - 1);
      const auto at = chain.erase(lost);
      chain.insert(at, e.hops.begin(), e.hops.end());
      for (const ChainHop& h : e.hops)  // `chains` counts chosen chains only, as metrics.json does
        if (NodeState* n = node_at(s, h.node)) ++n->sessions_in_flight;
      break;
    }
    case EventType::AdaptersMoved:
      if (e.text == "synced") {
        ++s.adapter_syncs;
      } else if (e.restored) {
        ++s.adapters_restored;
        s.updates_lost += e.updates_lost;
      } else {
        ++s.adapters_saved;
      }
      break;
    case EventType::Loss:
      s.loss[e.session] = e.value;
      break;
    case EventType::Kv:
      if (NodeState* n = node_at(s, e.node)) {
        n->kv_bytes = e.value;
        n->kv_peak_bytes = std::max(n->kv_peak_bytes, e.value);
        if (e.waiting >= 0) n->memory_waiting = e.waiting;
      }
      break;
    case EventType::ServerBanned:
      ++s.bans;
      if (NodeState* n = node_at(s, e.node)) {
        stop_serving(s, e.node, e.t);
        n->banned = true;
      }
      break;
    case EventType::BlocksMoved:
      ++s.block_moves;
      if (NodeState* n = node_at(s, e.node)) {
        stop_serving(s, e.node, e.t);  // it loads the new range and serves again at its next node_join
        n->blocks = e.blocks_to;
        ++n->moves;
      }
      break;
    case EventType::Tree:
      if (!e.tree) break;
      s.tree.nodes = e.tree->nodes;
      if (e.tree->change.what == TreeChangeKind::Balance) {
        s.tree.measured_at = e.t;
      } else {
        if (s.tree.history.size() == TreeState::kHistory) s.tree.history.erase(s.tree.history.begin());
        s.tree.history.push_back(e.tree->change);
        s.tree.history.back().t = e.t;
      }
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// [SECTION] Timeline
// ---------------------------------------------------------------------------------------------

std::size_t state_entries(const SwarmState& s) {
  return s.nodes.size() + s.sessions.size() + s.traffic.size() + s.pair_latency_s.size() + s.tree.nodes.size() +
         s.tree.history.size();
}

Timeline::Timeline(SwarmInfo info) : info_(std::move(info)), head_(initial_state(info_)) {
  checkpoints_.emplace_back(0, head_);
}

void Timeline::advance_head(const SwarmEvent& e) {
  const std::size_t index = events_.size() - 1;
  if (e.type == EventType::Step) steps_.push_back(index);
  if (e.type == EventType::Loss) losses_.push_back(index);
  if (e.type == EventType::Kv && e.node >= 0) {
    if (kv_.size() <= static_cast<std::size_t>(e.node)) kv_.resize(static_cast<std::size_t>(e.node) + 1);
    kv_[static_cast<std::size_t>(e.node)].push_back(index);
    has_kv_ = true;
  }
  if (e.type == EventType::SessionDone) done_.push_back(index);
  if (e.type == EventType::Transfer) {
    transfers_.push_back(index);
    longest_transfer_ = std::max(longest_transfer_, e.t - e.start);
  }
  apply_event(head_, info_, e);
  // A checkpoint copies the whole state, so they are spaced by at least the state's size: the
  // copies cost O(1) per event and their memory grows with the events, not events x hosts.
  const std::size_t since = events_.size() - checkpoints_.back().first;
  if (since >= std::max(kCheckpointEvery, state_entries(head_))) checkpoints_.emplace_back(events_.size(), head_);
}

bool Timeline::append(const SwarmEvent& e) {
  if (checkpoints_.empty()) {
    head_ = initial_state(info_);
    checkpoints_.emplace_back(0, head_);
  }
  if (!events_.empty() && e.t < events_.back().t) return false;
  events_.push_back(e);
  advance_head(events_.back());
  return true;
}

void Timeline::assign(std::vector<SwarmEvent> events) {
  // Spans and steps are recorded at their end, before the swarm events of the same instant (the
  // simulator emits a session's last step before its end, and a head span before its step).
  const auto rank = [](EventType t) {
    return t == EventType::Compute || t == EventType::Transfer ? 0 : t == EventType::Step ? 1 : t == EventType::RunEnd ? 3 : 2;
  };
  std::stable_sort(events.begin(), events.end(), [&](const SwarmEvent& a, const SwarmEvent& b) {
    return a.t != b.t ? a.t < b.t : rank(a.type) < rank(b.type);
  });
  events_.clear();
  steps_.clear();
  losses_.clear();
  kv_.clear();
  has_kv_ = false;
  done_.clear();
  transfers_.clear();
  longest_transfer_ = 0.0;
  head_ = initial_state(info_);
  checkpoints_.clear();
  checkpoints_.emplace_back(0, head_);
  events_.reserve(events.size());
  for (SwarmEvent& e : events) {
    events_.push_back(std::move(e));
    advance_head(events_.back());
  }
}

std::size_t Timeline::count_until(double T) const {
  return static_cast<std::size_t>(
      std::upper_bound(events_.begin(), events_.end(), T, [](double t, const SwarmEvent& e) { return t < e.t; }) -
      events_.begin());
}

SwarmState Timeline::state_at(double T) const {
  const std::size_t n = count_until(T);
  if (checkpoints_.empty()) {
    SwarmState s = initial_state(info_);
    s.time = T;
    return s;
  }
  auto cp = std::upper_bound(checkpoints_.begin(), checkpoints_.end(), n,
                             [](std::size_t v, const auto& c) { return v < c.first; });
  --cp;  // the last checkpoint with at most n events applied (the first one has 0)
  SwarmState s = cp->second;
  for (std::size_t i = cp->first; i < n; ++i) apply_event(s, info_, events_[i]);
  s.time = T;
  return s;
}

namespace {

/// `bins` (at least 1) zeroed bins over [0, T].
TimeSeries empty_series(double T, int& bins) {
  TimeSeries ts;
  bins = std::max(1, bins);
  ts.dt = T > 0 ? T / bins : 1.0;
  ts.values.assign(static_cast<std::size_t>(bins), 0.0f);
  return ts;
}

/// The mean per bin over [0, T] of `value(e)` over the events `indices` lists (in time order) up to
/// T; an event `value` gives nothing for is left out, and a bin without events stays 0.
template <class Value>
TimeSeries mean_per_bin(const std::vector<SwarmEvent>& events, const std::vector<std::size_t>& indices, double T, int bins,
                        Value value) {
  TimeSeries ts = empty_series(T, bins);
  std::vector<int> n(static_cast<std::size_t>(bins), 0);
  for (std::size_t i : indices) {
    const SwarmEvent& e = events[i];
    if (e.t > T) break;
    const std::optional<float> v = value(e);
    if (!v) continue;
    const auto b = static_cast<std::size_t>(std::clamp(static_cast<int>(e.t / ts.dt), 0, bins - 1));
    ts.values[b] += *v;
    ++n[b];
  }
  for (std::size_t b = 0; b < ts.values.size(); ++b)
    if (n[b] > 0) ts.values[b] /= static_cast<float>(n[b]);
  return ts;
}

}  // namespace

TimeSeries Timeline::throughput(double T, int bins) const {
  TimeSeries ts = empty_series(T, bins);
  for (std::size_t i : steps_) {
    const SwarmEvent& e = events_[i];
    if (e.t > T) break;
    const int b = std::clamp(static_cast<int>(e.t / ts.dt), 0, bins - 1);
    ts.values[static_cast<std::size_t>(b)] += static_cast<float>(info_.tokens_per_step / ts.dt);
  }
  return ts;
}

TimeSeries Timeline::token_latency(double T, int bins) const {
  const bool swarm = !info_.request_based();
  return mean_per_bin(events_, steps_, T, bins, [swarm](const SwarmEvent& e) -> std::optional<float> {
    if (e.step == 0 && swarm) return std::nullopt;  // a swarm's prefill is TTFT, not a token's latency
    return static_cast<float>(e.value);
  });
}

TimeSeries Timeline::decoded_share(double T, int bins) const {
  return mean_per_bin(events_, done_, T, bins, [](const SwarmEvent& e) -> std::optional<float> { return e.decoded > 0 ? 1.0f : 0.0f; });
}

TimeSeries Timeline::training_loss(double T, int bins) const {
  return mean_per_bin(events_, losses_, T, bins, [](const SwarmEvent& e) -> std::optional<float> { return static_cast<float>(e.value); });
}

TimeSeries Timeline::kv_use(int host, double T, int bins) const {
  TimeSeries ts = empty_series(T, bins);
  if (host < 0 || static_cast<std::size_t>(host) >= kv_.size()) return ts;
  double held = 0.0;  // before its first event a server holds none
  int filled = 0;     // bins before this one have their value
  for (std::size_t i : kv_[static_cast<std::size_t>(host)]) {
    const SwarmEvent& e = events_[i];
    if (e.t > T) break;
    const int b = std::clamp(static_cast<int>(e.t / ts.dt), 0, bins - 1);
    for (; filled <= b; ++filled) ts.values[static_cast<std::size_t>(filled)] = std::max(ts.values[static_cast<std::size_t>(filled)], static_cast<float>(held));
    filled = b;  // bin b also holds what comes after this event
    held = e.value;
    ts.values[static_cast<std::size_t>(b)] = std::max(ts.values[static_cast<std::size_t>(b)], static_cast<float>(held));
  }
  for (; filled < bins; ++filled) ts.values[static_cast<std::size_t>(filled)] = std::max(ts.values[static_cast<std::size_t>(filled)], static_cast<float>(held));
  return ts;
}

std::vector<Timeline::ActiveTransfer> Timeline::transfers_at(double T, std::size_t limit) const {
  std::vector<ActiveTransfer> out;
  auto it = std::lower_bound(transfers_.begin(), transfers_.end(), T,
                             [this](std::size_t i, double t) { return events_[i].t < t; });
  for (; it != transfers_.end() && out.size() < limit; ++it) {
    const SwarmEvent& e = events_[*it];
    if (e.t > T + longest_transfer_) break;
    if (e.start > T) continue;
    const double dur = e.t - e.start;
    out.push_back({e.node, e.peer, e.session, dur > 0 ? (T - e.start) / dur : 1.0});
  }
  return out;
}

}  // namespace swarmsim::gui
