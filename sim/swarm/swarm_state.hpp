#pragma once
// The live state of a swarm's servers, as both engines keep it: who is up and loaded, which blocks
// each serves, the KV memory sessions hold on it, how busy it has been, and what a router sees of
// it (a crashed server still looks alive until it misses its heartbeats). Plain data; every time
// is passed in (s), so the SimGrid engine and the flow engine share one implementation.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "gpu/shard_cost_model.hpp"
#include "sim/routing/swarm_view.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/block_range.hpp"
#include "sim/swarm/node_summary.hpp"
#include "sim/swarm/server_load.hpp"

namespace swarmsim::sim {

/// Live state of one server. What a router's view reads of a server that never failed comes
/// first, in one cache line: routing reads it for every server per chain.
struct alignas(64) ServerState {
  BlockRange blocks;           ///< range served (assigned at first join for "auto" nodes)
  bool up = true;              ///< host on
  bool loaded = false;         ///< weights loaded: routable
  bool moving = false;         ///< rebalancing: unloading its range and loading another
  bool stale_alive = false;    ///< down but not yet declared dead: routers still see it (no heartbeat missed yet)
  int active = 0;              ///< sessions whose chain uses the node
  int failures = 0;            ///< times it went down
  double kv_capacity = 0.0;    ///< usable memory minus weights
  double kv_reserved = 0.0;
  ServerLoad load;             ///< recent busy fraction, as routers see it
  double banned_at = -1.0;     ///< when a spot check's majority banned it (policy.verification); -1: never
  // (end of the first cache line)
  bool assigned = false;       ///< blocks chosen
  int epoch = 0;               ///< incremented each time the node goes down or moves (its KV caches are lost)
  double weights_bytes = 0.0;
  double kv_peak = 0.0;
  double joined_at = -1.0;     ///< first time it finished loading
  double up_since = 0.0;
  double up_seconds = 0.0;     ///< closed up intervals
  double down_since = -1.0;    ///< when it last went down
  double heartbeat_phase = 0.0;  ///< its heartbeats go out at phase + m x period
  int incarnation = 0;         ///< times it finished loading blocks (a restarted server is a new incarnation)
  bool banned() const { return banned_at >= 0; }
};
static_assert(offsetof(ServerState, banned_at) + sizeof(double) <= 64, "a router's view reads one line per server");

/// KV memory a session holds on one server, valid while the server's epoch is unchanged.
struct Reservation {
  int server;
  int epoch;
  double bytes;
  int incarnation = 0;  ///< the server's incarnation when the session started using it
};

/// A move of rebalancing: `server` to the blocks `to`, raising the swarm's weakest block throughput
/// from `before` to `after` (tokens/s).
struct BlockMove {
  int server = -1;  ///< -1: no move is worth it
  BlockRange to;
  double before = 0, after = 0;
};

class SwarmState {
 public:
  /// The servers of `scenario` (borrowed), none assigned yet, heartbeat phases drawn from its seed.
  SwarmState(const Scenario& scenario, const gpu::ShardCostModel& cost);

  /// Called with a server and its KV memory reserved (bytes) whenever that changes; the engines
  /// stamp it with their clock and emit SimSignals::on_kv_changed.
  std::function<void(int server, double reserved)> on_kv_changed;

  int size() const { return static_cast<int>(servers_.size()); }
  /// Server i's state. Changed only through the members below, which keep routing_view current.
  const ServerState& operator[](int i) const { return servers_[static_cast<std::size_t>(i)]; }
  const std::vector<ServerState>& servers() const { return servers_; }

  /// Block throughputs of the servers assigned and up: what a joining "auto" server sees.
  const BlockLoad& assigned_up_load() const { return assigned_up_; }

  /// server_throughput of node i (tokens/s per block), computed once per run.
  double throughput(int i) const { return throughput_[static_cast<std::size_t>(i)]; }

  /// Busy fraction of server i at `now`, in [0, 1].
  double utilization(int i, double now) const { return (*this)[i].load.utilization(now); }
  /// Counts device work that ended at `now` on `host` (clients are not tracked).
  void add_busy(int host, double now, double device_seconds);

  /// Each server's end-of-run state for metrics.json, its up time counted to `now`.
  std::vector<NodeSummary> summaries(double now) const;

  /// Server i's uptime as routers read it at `now`, by policy.reputation (`estimated_uptime`): a
  /// crash not yet declared dead (heartbeats, policy.faults) still counts as time up.
  double uptime_estimate(int i, double now) const;
  /// When the swarm declares server i dead for its current failure (its last heartbeat before
  /// going down plus heartbeat_misses periods); `now` if it is up.
  double death_notice_time(int i, double now) const;
  /// Whether the swarm has noticed that server i is down.
  bool declared_dead(int i, double now) const { return !(*this)[i].up && now >= death_notice_time(i, now); }
  /// Whether server i serves `blocks` now (a moving server answers "not serving" at once).
  bool serves(int i, BlockRange blocks) const;

  /// The servers as a router sees them at `now`; `reliability`, when given, multiplies each
  /// uptime (seed 002, section 3.1: topology monitoring's H0 stability).
  std::vector<ServerView> view(double now, const std::vector<double>* reliability = nullptr) const {
    std::vector<ServerView> v;
    view(now, v, reliability);
    return v;
  }
  /// The same, written into `into` (resized to the servers), so that a router's every call can
  /// reuse one buffer.
  void view(double now, std::vector<ServerView>& into, const std::vector<double>* reliability = nullptr) const;
  /// The same as view(now, reliability), field for field, kept from call to call: only the
  /// servers changed since the last call and those whose view follows the clock (failed at least
  /// once: their uptime and, while down, their liveness) are recomputed (device work updates its
  /// server's busy rate in place); everything with `reliability` or an uptime estimate other than
  /// "declared_x_observed". So a call costs the changes since the last, not the swarm's size.
  /// Valid until the next call; a swarm routes a session per call.
  const std::vector<ServerView>& routing_view(double now, const std::vector<double>* reliability = nullptr);
  /// The layout of routing_view's last result (SwarmView::layout): a new value, unique in the
  /// process, whenever a server's blocks changed since the call before.
  std::uint64_t routing_layout() const { return layout_; }

  /// Assigns the blocks of server i at its first join: fixed range, or the least-served window
  /// among the servers assigned and up (Petals' rule); sizes its weights and KV capacity.
  void assign_blocks(int i);

  /// Dynamic rebalancing R: S x P -> S' (seed 002, eq. 3), with Petals' rule: among the "auto"
  /// servers up and known to serve at `now`, the one whose move to the least-served window (of
  /// its own size, given everyone else) raises the weakest block throughput the most, if the gain
  /// beats `balance_quality` (or the move covers blocks nobody serves).
  BlockMove rebalance_move(double now, double balance_quality) const;
  /// Server i starts moving to `to`: it drops its KV caches and its old weights and loads the new
  /// ones (not routable meanwhile). Returns the range it leaves.
  BlockRange begin_move(int i, BlockRange to);
  /// Server i finished loading its new range; false if it went down meanwhile (its restart loads it).
  bool finish_move(int i);
  /// Server i finished loading its blocks at `now` (at its join or a restart): routable, a new
  /// incarnation, and up since `now` if this was its first join.
  void finish_loading(int i, double now);

  /// Server i's host went down at `now`: its caches and reservations are lost, routers keep
  /// seeing it until it misses its heartbeats.
  void host_down(int i, double now);
  /// Server i's host came back at `now` (it reloads its blocks before serving again).
  void host_up(int i, double now);
  /// Server i is banned at `now` (a spot check found it wrong): it leaves the block load and every
  /// router's view for good, and the sessions using it move off it at their next step. False if it
  /// already was.
  bool ban(int i, double now);

  /// Reserves KV memory for `hops` on their servers and records it in `reservations`.
  void reserve(const std::vector<ChainHop>& hops, double kv_per_block, std::vector<Reservation>& reservations);
  /// Whether `server` lost the session's KV cache since it was reserved (it restarted or moved).
  bool lost_cache(int server, const std::vector<Reservation>& reservations) const;
  /// Releases the reservation held on one server (it failed or left the chain).
  void release_one(int server, std::vector<Reservation>& reservations);
  /// Releases every reservation of a session.
  void release(std::vector<Reservation>& reservations);

 private:
  /// Server i lost every KV cache it held (it went down or moved).
  void drop_kv(int i);
  /// Server i's state, to be changed: routing_view recomputes it at its next call.
  ServerState& changed(int i) {
    if (!cached_.empty() && !marked_[static_cast<std::size_t>(i)]) {
      marked_[static_cast<std::size_t>(i)] = 1;
      dirty_.push_back(i);
    }
    return servers_[static_cast<std::size_t>(i)];
  }
  /// Server i as a router sees it at `now`.
  void fill(int i, double now, ServerView& x, const std::vector<double>* reliability) const;

  const Scenario& sc_;
  std::vector<ServerState> servers_;
  std::vector<double> throughput_;
  /// Each node's device and declared uptime, side by side: the view reads them for every server
  /// per chain, and a NodeSpec spreads them over its cache lines.
  struct Declared {
    const gpu::DeviceSpec* device;
    double uptime;  ///< clamped to [0, 1]
  };
  std::vector<Declared> declared_;
  BlockLoad assigned_up_;  ///< block throughputs of the servers assigned and up, kept current
  // routing_view's state: the view of its last call, the servers changed since (listed once), and
  // those failed at least once.
  std::vector<ServerView> cached_;
  std::vector<char> marked_;
  std::vector<int> dirty_;
  std::vector<int> failed_once_;
  std::uint64_t layout_ = 0;
};

}  // namespace swarmsim::sim
