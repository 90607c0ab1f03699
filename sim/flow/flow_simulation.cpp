#include "sim/flow/flow_simulation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <coroutine>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
#include "sim/flow/process.hpp"
#include "sim/flow/processor_sharing.hpp"
#include "sim/metrics/run_metrics.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/rng.hpp"
#include "sim/routing/chain_router.hpp"
#include "sim/swarm/arrivals.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/block_directory.hpp"
#include "sim/swarm/request_queue.hpp"
#include "sim/swarm/server_load.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/swarm/swarm_state.hpp"
#include "sim/swarm/session_plan.hpp"
#include "sim/swarm/client_memory.hpp"
#include "sim/swarm/client_outages.hpp"
#include "sim/swarm/training_step.hpp"
#include "sim/topology_monitor.hpp"
#include "sim/units.hpp"
#include "sim/verification/spot_check.hpp"

namespace swarmsim::sim::flow {
namespace {

/// Latency and bandwidth estimates for routers: the latency table and the links as they are now.
class LiveNetwork final : public NetworkEstimate {
 public:
  LiveNetwork(const LatencyTable& latencies, const FairShareNetwork& links) : latencies_(latencies), links_(links) {}
  double latency_s(int from, int to) const override { return latencies_.one_way(from, to); }
  double bandwidth_Bps(int from, int to) const override {
    return std::min(links_.capacity(FairShareNetwork::up_link(from)), links_.capacity(FairShareNetwork::down_link(to)));
  }
  bool has_cheap_latency_floor() const override { return latencies_.floor_is_cheaper(); }
  double latency_floor_s(int from, int to) const override { return latencies_.one_way_floor(from, to); }
  int regions() const override { return latencies_.regions(); }
  std::span<const int> host_regions() const override { return latencies_.host_regions(); }
  double latency_floor_to_region_s(int from, int region) const override { return latencies_.one_way_floor_to_region(from, region); }

 private:
  const LatencyTable& latencies_;
  const FairShareNetwork& links_;
};

/// A message ended without delivering: the receiver (or the sender) is gone.
enum class Delivery { Ok, ReceiverFailed, SenderFailed };

/// The server of hop `hop` of a session's chain failed; thrown inside a step, handled by recovery.
struct HopFailed {
  int hop;
  double since;  ///< when the session first saw it fail
};

/// A host on a hop was down when the session needed it (the session ends).
struct HostDown {
  int host;
};


// ---------------------------------------------------------------------------------------------
// [SECTION] The engine
// ---------------------------------------------------------------------------------------------

class FlowSwarm {
 public:
  FlowSwarm(const Scenario& sc, std::shared_ptr<const gpu::ShardCostModel> cost, SimSignals& signals, int verbosity)
      : sc_(sc),
        cost_(std::move(cost)),
        signals_(signals),
        verbosity_(verbosity),
        S_(static_cast<int>(sc.nodes.size())),
        C_(static_cast<int>(sc.clients.size())),
        latencies_(sc),
        links_(access_rates(sc, true), access_rates(sc, false), sharing_params(sc.network.model), queue_),
        network_(latencies_, links_),
        devices_(S_ + C_, queue_),
        router_(make_router(sc.policy)),
        root_rng_(sc.seed),
        lat_factor_(latency_factor(sc.network.model)),
        static_network_(sc.events.empty()),
        nodes_fail_(std::any_of(sc.events.begin(), sc.events.end(), [](const ReplayEvent& e) { return e.action == EventAction::NodeDown; })),
        swarm_(sc, *cost_),
        outages_(sc),
        life_(static_cast<std::size_t>(S_), 0),
        topology_(sc.policy.topology.period_s > 0 ? std::make_unique<TopologyMonitor>(sc, *cost_) : nullptr) {
    session_ended_.assign(static_cast<std::size_t>(sc.workload.sessions), 0);
    arrived_at_.assign(static_cast<std::size_t>(sc.workload.sessions), 0.0);
    client_bytes_.assign(static_cast<std::size_t>(sc.workload.sessions), -1.0);
    memory_waiter_.assign(static_cast<std::size_t>(sc.workload.sessions), nullptr);
    swarm_.on_kv_changed = [this](int server, double bytes) { signals_.on_kv_changed(KvChanged{now_, server, bytes}); };
    client_gate_.on_changed = [this](int c, double bytes, int waiting) { signals_.on_kv_changed(KvChanged{now_, S_ + c, bytes, waiting}); };
    if (const auto& ft = sc.workload.fine_tuning; ft && ft->replicas > 1) {  // data-parallel jobs meet at barriers
      jobs_.resize(static_cast<std::size_t>(sc.workload.sessions / ft->replicas));
      for (JobBarrier& j : jobs_) j.active = ft->replicas;
      training_chains_.assign(static_cast<std::size_t>(sc.workload.sessions), nullptr);
    }
    // A transfer's timeout that comes up after the transfer ended is dropped before the heap.
    queue_.deadline_still_pending = [this](const TimedEvent& e) {
      return links_.in_flight({static_cast<int>(e.payload), e.version});
    };
    arrivals_ = draw_arrivals(sc.workload, root_rng_);
    if (sc.policy.dht.enabled)
      dht_ = std::make_unique<BlockDirectory>(
          sc, [this](int from, int to, std::unique_ptr<DhtEnvelope> env, double bytes) { start_now(dht_message(from, to, env.release(), bytes)); },
          [this](double delay, std::function<void(double)> fn) { start_now(dht_timer(delay, std::move(fn))); },
          [this](int h) { return is_on(h); });
  }

  /// Plays the scenario; returns the simulated duration.
  double run(ProgressLine& progress) {
    if (dht_)  // every host's node starts at 0 and joins through the ones before it
      for (int h = 0; h < S_ + C_; ++h) {
        dht_->start_node(h, 0.0);
        spawn(dht_republish(h, h < S_ ? life_[static_cast<std::size_t>(h)] : 0), 0.0);
      }
    for (int i = 0; i < S_; ++i) spawn(server(i, 0), sc_.nodes[static_cast<std::size_t>(i)].join_at_s);
    if (sc_.policy.scheduler.kind != SchedulerKind::Shared) {
      queues_.resize(static_cast<std::size_t>(S_));
      for (int i = 0; i < S_; ++i) spawn(worker(i, 0), 0.0);
    }
    if (!sc_.events.empty()) spawn(replay(), 0.0);
    if (topology_) spawn(monitor_topology(), 0.0);
    if (sc_.policy.rebalance.period_s > 0) spawn(rebalance(), 0.0);
    spawn_next_session();
    std::vector<std::uint64_t> done;
    // Servers, replays and rebalancing are daemons, as in the SimGrid engine: the run ends with
    // its last session.
    while (!queue_.empty() && sessions_ended_ < sc_.workload.sessions) {
      const TimedEvent e = queue_.pop();
      if (e.t > sc_.time_limit_s) break;
      now_ = e.t;
      std::uint64_t token = 0;
      switch (e.kind) {
        case EventKind::Resume: waiter_of(e.payload).handle.resume(); break;  // its outcome is already set
        case EventKind::FlowActive:
        case EventKind::FlowDone:
        case EventKind::FlowSolve:
          if (links_.on_event(e, token)) resume(token, Outcome::Done);
          break;
        case EventKind::FlowTimeout:
          if (links_.cancel(e.t, {static_cast<int>(e.payload), e.version}, token)) resume(token, Outcome::TimedOut);
          break;
        case EventKind::ExecDone:
          done.clear();
          devices_.on_event(e, done);
          for (const std::uint64_t t : done) resume(t, Outcome::Done);
          break;
      }
      progress.tick(now_, sessions_ended_, hops_);
    }
    const bool all_ended = sessions_ended_ == sc_.workload.sessions;
    const double sim_time = all_ended ? last_session_end_ : sc_.time_limit_s;
    now_ = sim_time;
    for (int k = 0; k < sc_.workload.sessions; ++k)
      if (!session_ended_[static_cast<std::size_t>(k)])
        end_session(k, false,
                    arrivals_[static_cast<std::size_t>(k)] > sim_time ? "time limit reached before the session arrived"
                                                                      : "time limit reached",
                    0);
    return sim_time;
  }

  std::vector<NodeSummary> node_summaries(double sim_time) const { return swarm_.summaries(sim_time); }

  std::uint64_t hops() const { return hops_; }
  /// The "topology" block of metrics.json, or null without monitoring.
  nlohmann::json topology_metrics() const { return topology_ ? topology_->metrics() : nlohmann::json(); }
  /// The "dht" block of metrics.json, or null without the DHT.
  nlohmann::json dht_metrics() const { return dht_ ? dht_->metrics() : nlohmann::json(); }

 private:
  std::string host_name(int h) const { return sim::host_name(sc_, h); }
  bool is_on(int host) const { return host >= S_ || swarm_[host].up; }

  void log(int level, const std::string& who, const std::string& msg) const {
    if (verbosity_ >= level) std::fprintf(stderr, "[%12.6f] (%s) %s\n", now_, who.c_str(), msg.c_str());
  }

  static void resume(std::uint64_t token, Outcome outcome) {
    Waiter& w = waiter_of(token);
    w.outcome = outcome;
    w.handle.resume();
  }

  void spawn(Process p, double at) { processes_.spawn(p, queue_, now_, at); }

  void start_now(Process p) { processes_.start_now(p); }

  /// Sessions are created at their arrival, so memory follows the sessions in flight.
  void spawn_next_session() {
    if (next_session_ >= sc_.workload.sessions) return;
    const int k = next_session_++;
    // The SimGrid engine's workload actor creates each session's actor at its arrival: it runs
    // after the actors already woken at that instant (another session's admission retry).
    processes_.spawn_last(sc_.workload.fine_tuning ? training_session(k) : session(k), queue_, now_, arrivals_[static_cast<std::size_t>(k)]);
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Awaitables: what a process waits for
  // -------------------------------------------------------------------------------------------

  SleepUntil sleep_until(double t) { return SleepUntil{queue_, now_, t}; }
  SleepUntil sleep_for(double s) { return SleepUntil{queue_, now_, now_ + s}; }

  /// A message in flight; resumes with Done (delivered), Failed (an end went down) or TimedOut.
  struct Message {
    FlowSwarm* m;
    int from, to;
    double bytes, delay, latency;
    double timeout = -1;  ///< > 0: the sender gives up after this long
    Waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      const FairShareNetwork::FlowId id = m->links_.start(m->now_, from, to, bytes, delay, latency, token_of(w));
      if (timeout > 0) m->queue_.push_deadline(m->now_ + timeout, EventKind::FlowTimeout, static_cast<std::uint64_t>(id.id), id.generation);
    }
    Outcome await_resume() const noexcept { return w.outcome; }
  };
  /// Device work on a host, shared with everything else running there; Failed if the host went down.
  struct Work {
    FlowSwarm* m;
    int host;
    double seconds;
    Waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      m->devices_.start(m->now_, host, seconds, token_of(w));
    }
    Outcome await_resume() const noexcept { return w.outcome; }
  };
  Work compute(int host, double seconds) { return Work{this, host, seconds}; }
  /// An awaitable that is either `Direct` (an awaitable without a frame, for the common case) or,
  /// when `task` is set, that coroutine, whose frame it owns (a raw handle: GCC 12 destroys a
  /// co_await operand's non-trivial members twice).
  template <class Direct, class T>
  struct DirectOrTask {
    Direct direct;
    std::coroutine_handle<typename Task<T>::promise_type> task{};
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      if (!task) {
        direct.await_suspend(h);
        return std::noop_coroutine();
      }
      task.promise().continuation = h;
      return task;
    }
    T await_resume() {
      if (!task) return direct.await_resume();
      Task<T> owner(task);  // destroys the frame on the way out
      return owner.await_resume();
    }
  };

  /// Software time of one message of `bytes` bytes from `from` to `to`: the per-message RPC cost,
  /// (de)serialization at both ends, the protocol's extra round trips, and FNV-1a checksums at
  /// both ends when `checked`.
  double software_s(double bytes, double latency, bool checked) const {
    const OverheadSpec& o = sc_.overheads;
    double s = o.rpc_s + 2.0 * bytes / o.serialization_Bps + o.round_trips * 2.0 * latency;
    if (checked) s += 2.0 * bytes / sc_.policy.faults.checksum_Bps;
    return s;
  }
  /// A message whose software time and latency (times the model's factor) pass before its bytes
  /// flow, as the SimGrid engine folds them into the message's latency.
  Message message(int from, int to, double bytes, double software, double latency, double timeout = -1) {
    return Message{this, from, to, bytes, lat_factor_ * latency + software, latency, timeout};
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Priced work, memoized: a swarm asks for the same few shapes again and again
  // -------------------------------------------------------------------------------------------

  struct WorkKey {
    const gpu::DeviceSpec* device;
    int kind, batch, tokens, kv_len, blocks;
    bool operator==(const WorkKey&) const = default;
    std::size_t hash() const {
      std::uint64_t h = reinterpret_cast<std::uintptr_t>(device);
      for (const int v : {kind, batch, tokens, kv_len, blocks}) h = (h ^ static_cast<std::uint32_t>(v)) * 0x9E3779B97F4A7C15ULL;
      return static_cast<std::size_t>(h ^ (h >> 29));
    }
  };
  /// Priced work by shape, in one flat table (linear probing, at most half full): every hop
  /// looks its work up, and a node-based map's pointer chase was 5% of a 1,000-node run.
  class PricedWork {
   public:
    template <class Price>
    double get(const WorkKey& key, Price price) {
      if (2 * (size_ + 1) > slots_.size()) grow();
      Slot* s = find(key);
      if (!s->used) {
        *s = Slot{key, price(), true};
        ++size_;
      }
      return s->seconds;
    }

   private:
    struct Slot {
      WorkKey key{};
      double seconds = 0;
      bool used = false;
    };
    Slot* find(const WorkKey& key) {
      const std::size_t mask = slots_.size() - 1;
      std::size_t i = key.hash() & mask;
      while (slots_[i].used && !(slots_[i].key == key)) i = (i + 1) & mask;
      return &slots_[i];
    }
    void grow() {
      std::vector<Slot> old(std::max<std::size_t>(64, 2 * slots_.size()));
      old.swap(slots_);
      for (const Slot& s : old)
        if (s.used) *find(s.key) = s;
    }
    std::vector<Slot> slots_;
    std::size_t size_ = 0;
  };
  template <class Price>
  double priced(const WorkKey& key, Price price) {
    return priced_.get(key, price);
  }
  double blocks_seconds(const gpu::DeviceSpec& dev, const gpu::BlockWork& work, int blocks) {
    return priced({&dev, 0, work.batch, work.new_tokens, work.kv_len, blocks},
                  [&] { return cost_->blocks_seconds(dev, sc_.model, work, blocks); });
  }
  double embed_seconds(const gpu::DeviceSpec& dev, int batch, int tokens) {
    return priced({&dev, 1, batch, tokens, 0, 0}, [&] { return cost_->embed_seconds(dev, sc_.model, batch, tokens); });
  }
  double head_seconds(const gpu::DeviceSpec& dev, int batch) {
    return priced({&dev, 2, batch, 0, 0, 0}, [&] { return cost_->head_seconds(dev, sc_.model, batch); });
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Servers and replayed events
  // -------------------------------------------------------------------------------------------

  /// Loads server i's blocks and serves them; `life` is the server's count of failures when this
  /// process started: a failure meanwhile ends it (SimGrid kills the actor; node_up restarts it).
  Process server(int i, int life) {
    const NodeSpec& node = sc_.nodes[static_cast<std::size_t>(i)];
    if (now_ < node.join_at_s) co_await sleep_until(node.join_at_s);
    if (life_[static_cast<std::size_t>(i)] != life || !swarm_[i].up) co_return;
    swarm_.assign_blocks(i);
    const ServerState& st = swarm_[i];
    const double started = now_;
    log(1, "server@" + node.name, "loading blocks " + st.blocks.str() + " (" + format_bytes(st.weights_bytes) + ")");
    co_await sleep_for(st.weights_bytes / node.weights_load_Bps);
    if (life_[static_cast<std::size_t>(i)] != life) co_return;  // it went down while loading
    swarm_.finish_loading(i, now_);
    log(1, "server@" + node.name, "serving blocks " + st.blocks.str());
    signals_.on_node_joined(NodeJoined{now_, i, st.blocks, started});
    if (dht_) dht_->announce(i, st.blocks, swarm_.throughput(i), now_);
  }

  /// Replays the scenario's events at their times: node failures and restarts, bandwidth and
  /// latency changes.
  Process replay() {
    std::vector<std::uint64_t> cut;
    std::vector<char> client_down(static_cast<std::size_t>(C_), 0);  // as replayed so far, for the signals
    for (const ReplayEvent& e : sc_.events) {
      co_await SleepUntil{queue_, now_, e.at_s, true};
      const int node = host_index(e.node);
      const int peer = e.peer.empty() ? -1 : host_index(e.peer);
      if (node >= S_ && (e.action == EventAction::NodeDown || e.action == EventAction::NodeUp)) {
        // A client's: its sessions notice it (ClientOutages), as in the SimGrid engine.
        char& down = client_down[static_cast<std::size_t>(node - S_)];
        if (down == (e.action == EventAction::NodeDown)) continue;
        down = e.action == EventAction::NodeDown;
        log(1, "swarm", host_name(node) + (down ? " is down" : " is up"));
        signals_.on_node_state(NodeStateChanged{now_, node, !down});
        continue;
      }
      switch (e.action) {
        case EventAction::NodeDown:
          if (!swarm_[node].up) break;
          swarm_.host_down(node, now_);
          ++life_[static_cast<std::size_t>(node)];
          log(1, "swarm", host_name(node) + " is down");
          signals_.on_node_state(NodeStateChanged{now_, node, false});
          // Its messages and its work end unfinished; their waiters hear it now.
          cut.clear();
          links_.fail_host(now_, node, cut);
          devices_.fail_host(now_, node, cut);
          for (const std::uint64_t t : cut) {
            waiter_of(t).outcome = Outcome::Failed;
            queue_.push(now_, EventKind::Resume, t);
          }
          if (!queues_.empty())  // an idle worker dies with its host too
            if (ServerQueue& q = queues_[static_cast<std::size_t>(node)]; q.idle_worker) {
              queue_.push(now_, EventKind::Resume, token_of(*q.idle_worker));
              q.idle_worker = nullptr;
            }
          continue;
        case EventAction::NodeUp:
          if (swarm_[node].up) break;
          swarm_.host_up(node, now_);
          log(1, "swarm", host_name(node) + " is up");
          signals_.on_node_state(NodeStateChanged{now_, node, true});
          spawn(server(node, life_[static_cast<std::size_t>(node)]), now_);  // it reloads its blocks
          if (!queues_.empty()) spawn(worker(node, life_[static_cast<std::size_t>(node)]), now_);
          if (dht_) {  // its DHT node starts afresh
            dht_->start_node(node, now_);
            spawn(dht_republish(node, life_[static_cast<std::size_t>(node)]), now_);
          }
          continue;
        case EventAction::SetBandwidth:
          if (e.direction != LinkDirection::Down) links_.set_capacity(now_, FairShareNetwork::up_link(node), e.value);
          if (e.direction != LinkDirection::Up) links_.set_capacity(now_, FairShareNetwork::down_link(node), e.value);
          break;
        case EventAction::SetLatency:
          if (peer < 0)
            latencies_.set_access(node, e.value);
          else
            latencies_.set_pair(node, peer, e.value);
          break;
      }
      if (e.action == EventAction::SetBandwidth || e.action == EventAction::SetLatency) {
        log(1, "replay", std::string(to_string(e.action)) + " " + e.node + (peer >= 0 ? " <-> " + e.peer : ""));
        signals_.on_link_changed(LinkChanged{now_, node, peer, e.action, e.direction, e.value});
      }
    }
  }

  /// Dynamic rebalancing (seed 002, eq. 3): every period, the best move by Petals' rule, if any.
  Process rebalance() {
    while (true) {
      co_await sleep_for(sc_.policy.rebalance.period_s);
      const BlockMove m = swarm_.rebalance_move(now_, sc_.policy.rebalance.balance_quality);
      if (m.server >= 0) move_server(m, "rebalance");
    }
  }

  /// Topology monitoring (seed 002, sections 2.7 and 3.1): a snapshot every period; the state's
  /// scheme moves the "auto" servers when the state changes.
  Process monitor_topology() {
    const auto bandwidth = [this](int from, int to) { return network_.bandwidth_Bps(from, to); };
    while (true) {
      for (const BlockMove& m : topology_->observe(now_, swarm_, latencies_, bandwidth)) move_server(m, "topology");
      co_await sleep_for(sc_.policy.topology.period_s);
    }
  }

  /// A server drops its caches and range and loads `m.to` (a blocks_moved event).
  void move_server(const BlockMove& m, const char* why) {
    const BlockRange from = swarm_.begin_move(m.server, m.to);
    log(1, why, host_name(m.server) + " moves from blocks " + from.str() + " to " + m.to.str());
    signals_.on_blocks_moved(BlocksMoved{now_, m.server, from, m.to, m.before, m.after});
    if (dht_) dht_->withdraw(m.server, from);
    spawn(reload(m.server, life_[static_cast<std::size_t>(m.server)], now_), now_);
  }

  /// Server i loads the range it moved to, and serves it (unless its host went down meanwhile:
  /// its restart loads the new range).
  Process reload(int i, int life, double started) {
    co_await sleep_for(swarm_[i].weights_bytes / sc_.nodes[static_cast<std::size_t>(i)].weights_load_Bps);
    if (life_[static_cast<std::size_t>(i)] != life || !swarm_.finish_move(i)) co_return;
    log(1, "server@" + host_name(i), "serving blocks " + swarm_[i].blocks.str());
    signals_.on_node_joined(NodeJoined{now_, i, swarm_[i].blocks, started});
    if (dht_) dht_->announce(i, swarm_[i].blocks, swarm_.throughput(i), now_);
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] The DHT (sim/swarm/block_directory.hpp): its messages, timers and republishing
  // -------------------------------------------------------------------------------------------

  /// A DHT RPC or answer: its bytes cross the network like any message (latency times the
  /// model's factor, then a fair share of the links), then the receiving node handles it. Lost
  /// when an end goes down; the sender's timeout reports it.
  Process dht_message(int from, int to, DhtEnvelope* raw, double bytes) {
    std::unique_ptr<DhtEnvelope> env(raw);  // owned from here
    if (co_await message(from, to, bytes, 0.0, latencies_.one_way(from, to)) != Outcome::Done) co_return;
    dht_->receive(to, std::move(env), now_);
  }
  Process dht_timer(double delay, std::function<void(double)> fn) {
    co_await sleep_for(delay);
    fn(now_);
  }
  /// Host h republishes its records when due, until the host fails (its restart starts another).
  Process dht_republish(int h, int life) {
    while (true) {
      const double next = dht_->next_republish_s(h, now_);
      if (next > now_) co_await sleep_until(next);
      if (h < S_ && life_[static_cast<std::size_t>(h)] != life) co_return;
      dht_->republish_due(h, now_);
    }
  }

  /// Resumes a session once its client's block lookups have all ended.
  struct LookupsDone {
    Waiter** slot;  ///< where the lookups' last callback finds the waiter (a plain pointer: GCC 12
                    ///< destroys a co_await operand's non-trivial members twice)
    Waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      *slot = &w;
    }
    void await_resume() const noexcept {}
  };
  /// The servers client host `h` finds in the DHT for every block (its cache unless `refresh`):
  /// one FIND_VALUE per block, all in flight at once. Clients never go down, so unlike the SimGrid
  /// engine this need not poll for a restart of the client's node.
  Task<std::vector<DhtServerRecord>> servers_for(int h, bool refresh) {
    if (const auto* cache = dht_->cached(h, refresh, now_)) co_return *cache;
    auto slot = std::make_shared<Waiter*>(nullptr);
    const std::shared_ptr<BlockLookup> lookup = dht_->find_servers(h, BlockRange{sc_.first_served_block(), sc_.model.n_layers}, now_, [this, slot] {
      if (*slot) queue_.push(now_, EventKind::Resume, token_of(**slot));
      *slot = nullptr;
    });
    if (!lookup) co_return std::vector<DhtServerRecord>{};
    if (lookup->remaining > 0) co_await LookupsDone{slot.get()};
    co_return dht_->finish_lookup(h, *lookup, now_);
  }

  int host_index(const std::string& name) const {
    for (int h = 0; h < S_ + C_; ++h)
      if (host_name(h) == name) return h;
    throw std::logic_error("unknown host " + name);  // the loader checked every name
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Server schedulers (fcfs, priority, batch), as the SimGrid engine's scheduler actor
  // -------------------------------------------------------------------------------------------

  /// One request for device time waiting in a server's queue, and the session waiting for it.
  /// Shared by the session, and by its poll on swarms whose nodes fail: the last one frees it.
  struct Job : QueuedRequest {
    using QueuedRequest::QueuedRequest;
    Waiter* waiter = nullptr;  ///< the session, until the job is done or failed
    bool done = false, failed = false;
    double queued_at = 0;
    int refs = 1;
  };
  static void release(Job* j) {
    if (--j->refs == 0) delete j;
  }
  /// Wakes the session waiting for `j` (once).
  void wake(Job* j) {
    if (!j->waiter) return;
    queue_.push(now_, EventKind::Resume, token_of(*j->waiter));
    j->waiter = nullptr;
  }
  void fail(Job* j) {
    j->failed = true;
    wake(j);
  }
  struct ServerQueue {
    std::vector<Job*> jobs;
    std::uint64_t next_seq = 0;
    Waiter* idle_worker = nullptr;  ///< the worker waiting for work, null when it is busy
  };

  /// Queues `job` on server `host` and waits until its worker has run it, or it is lost with the
  /// server (job->failed).
  struct Queued {
    FlowSwarm* m;
    int host;
    Job* job;
    Waiter w{};
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      ServerQueue& q = m->queues_[static_cast<std::size_t>(host)];
      job->waiter = &w;
      job->seq = q.next_seq++;
      q.jobs.push_back(job);
      if (q.idle_worker) {
        m->queue_.push_last(m->now_, EventKind::Resume, token_of(*q.idle_worker));
        q.idle_worker = nullptr;
      }
    }
    void await_resume() const noexcept {}
  };
  struct WaitForJobs {
    FlowSwarm* m;
    int host;
    Waiter w{};
    bool await_ready() const noexcept { return !m->queues_[static_cast<std::size_t>(host)].jobs.empty(); }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      m->queues_[static_cast<std::size_t>(host)].idle_worker = &w;
    }
    void await_resume() const noexcept {}
  };

  /// A session waiting for queued work cannot hear from a crashed worker: every second it checks
  /// whether the server went down since the job was queued (as the SimGrid engine's session polls
  /// its semaphore), and if so the job is lost.
  Process poll(Job* job, int host) {
    while (!job->done && !job->failed) {
      co_await sleep_for(1.0);
      if (job->done || job->failed) break;
      if (is_on(host) && swarm_[host].down_since < job->queued_at) continue;
      std::vector<Job*>& jobs = queues_[static_cast<std::size_t>(host)].jobs;  // its worker is gone
      if (const auto it = std::find(jobs.begin(), jobs.end(), job); it != jobs.end()) jobs.erase(it);
      fail(job);
    }
    release(job);
  }

  /// The worker of server i's queue: one request (or one batch) at a time, picked by the policy.
  /// It dies with its host (`life` is the host's count of failures when it started) and the
  /// restart starts another, as SimGrid restarts the scheduler actor.
  Process worker(int i, int life) {
    ServerQueue& q = queues_[static_cast<std::size_t>(i)];
    const auto alive = [this, i, life] { return life_[static_cast<std::size_t>(i)] == life; };
    // A restart finds the work queued before the crash lost with the device's state.
    for (Job* j : q.jobs) fail(j);
    q.jobs.clear();
    const SchedulerSpec& spec = sc_.policy.scheduler;
    const gpu::DeviceSpec& dev = *sc_.nodes[static_cast<std::size_t>(i)].device;
    while (true) {
      co_await WaitForJobs{this, i};
      if (!alive()) co_return;
      if (waits_for_batch(q.jobs, spec)) {
        co_await sleep_for(spec.batch_wait_s);  // let a batch fill
        if (!alive()) co_return;
      }
      if (q.jobs.empty()) continue;
      const std::vector<Job*> batch = take_next(q.jobs, spec);
      const double seconds = batch_seconds(batch, dev, sc_.model, *cost_);
      const double t0 = now_;
      if (co_await compute(i, seconds) != Outcome::Done) co_return;  // the host went down: the batch is lost
      swarm_.add_busy(i, now_, seconds);
      const double share = seconds / static_cast<double>(batch.size());
      for (Job* j : batch) {
        signals_.on_compute(ComputeSpan{t0, now_, i, j->session, j->step, j->blocks, j->what, share});
        j->done = true;
        wake(j);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Sessions (as the SimGrid engine's session actor; see swarm_simulation.cpp)
  // -------------------------------------------------------------------------------------------

  /// A message in flight that cannot fail; Delivery::Ok once its last byte arrived.
  struct Delivered {
    Message message;
    double cpu, t0;  ///< software time of the message (s), when it started (s)
    int session, step;
    bool check;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { message.await_suspend(h); }
    Delivery await_resume() const {
      if (message.await_resume() != Outcome::Done) return Delivery::ReceiverFailed;  // not in a swarm without events
      message.m->count_delivery(t0, message.from, message.to, message.bytes, message.latency, cpu, session, step, check);
      return Delivery::Ok;
    }
  };
  /// Counts a delivered message and signals its span.
  void count_delivery(double t0, int from, int to, double bytes, double latency, double cpu, int session, int step, bool check) {
    ++hops_;
    signals_.on_transfer(TransferSpan{t0, now_, from, to, session, step, bytes, lat_factor_ * latency, cpu, check});
  }
  /// Moves `payload` bytes from `from` to `to` as a checked message (seed 003, "Error Handling"):
  /// an attempt the receiver does not acknowledge within the transfer timeout is retried after an
  /// exponential backoff, up to retry_attempts; a message whose FNV-1a checksum does not match
  /// (corruption drawn at corruption_rate) is sent again at once. A sender that is down cannot
  /// send at all. The client pays the timeouts: a crashed host answers nothing.
  ///
  /// Where nothing can go wrong (no replayed event can take a host down or slow a link, no
  /// corruption, both ends up) a delivery is one message, awaited without a coroutine frame.
  DirectOrTask<Delivered, Delivery> deliver(int from, int to, double payload, double latency, int session, int step, Rng& rng,
                                             bool check = false) {
    const double bytes = payload + sc_.overheads.header_bytes;
    const double cpu = software_s(bytes, latency, true);
    DirectOrTask<Delivered, Delivery> d{Delivered{message(from, to, bytes, cpu, latency), cpu, now_, session, step, check}};
    if (!static_network_ || sc_.policy.faults.corruption_rate > 0 || !is_on(from) || !is_on(to))
      d.task = checked_delivery(from, to, bytes, cpu, latency, session, step, rng, check).release();
    return d;
  }
  /// deliver() with timeouts, retries and checksums, for `bytes` (header included) taking `cpu`
  /// seconds of software time.
  Task<Delivery> checked_delivery(int from, int to, double bytes, double cpu, double latency, int session, int step, Rng& rng,
                                  bool check) {
    const FaultToleranceSpec& f = sc_.policy.faults;
    // A transfer is late once it exceeds twice its expected time on the replayed network plus
    // the configured grace (static swarms lose nothing: no timeout there).
    const auto timeout_s = [&] {  // from the network as it is now
      return f.transfer_timeout_s + 2.0 * (latencies_.one_way(from, to) + bytes / network_.bandwidth_Bps(from, to));
    };
    int attempt = 1;
    for (int resent = 0; attempt <= f.retry_attempts;) {
      if (!is_on(from)) co_return Delivery::SenderFailed;
      const double t0 = now_;
      bool delivered = false;
      if (is_on(to)) {
        const Outcome o = co_await message(from, to, bytes, cpu, latency, static_network_ ? -1.0 : cpu + timeout_s());
        if (o == Outcome::Done) delivered = true;
        if (o == Outcome::Failed && !is_on(from)) co_return Delivery::SenderFailed;
      }
      if (delivered) {
        count_delivery(t0, from, to, bytes, latency, cpu, session, step, check);
        if (f.corruption_rate > 0 && rng.uniform() < f.corruption_rate && resent < 16) {
          ++resent;  // the receiver's FNV-1a differs: it asks for the message again
          signals_.on_transfer_retried(TransferRetried{now_, from, to, session, step, attempt, "checksum", false});
          continue;
        }
        co_return Delivery::Ok;
      }
      // Not acknowledged: the sender waits out the timeout, then backs off.
      const double waited = now_ - t0;
      if (const double timeout = timeout_s(); waited < timeout) co_await sleep_for(timeout - waited);
      const bool last = attempt == f.retry_attempts;
      signals_.on_transfer_retried(TransferRetried{now_, from, to, session, step, attempt, "timeout", last});
      if (last) break;
      co_await sleep_for(f.retry_backoff_s * std::pow(2.0, attempt - 1));
      ++attempt;
    }
    co_return Delivery::ReceiverFailed;
  }

  /// An unchecked message (the orchestrator's round trip); HostDown if an end is or goes down.
  Task<bool> transfer(int from, int to, int session) {
    const double t0 = now_, bytes = sc_.overheads.header_bytes, lat = latencies_.one_way(from, to);
    const double cpu = software_s(bytes, lat, false);
    if (!is_on(from)) throw HostDown{from};
    if (!is_on(to)) throw HostDown{to};
    if (co_await message(from, to, bytes, cpu, lat) != Outcome::Done) throw HostDown{is_on(from) ? to : from};
    ++hops_;
    signals_.on_transfer(TransferSpan{t0, now_, from, to, session, -1, bytes, lat_factor_ * lat, cpu});
    co_return true;
  }

  /// Routes a chain (or a span of one), retrying until the admission timeout counted from `since`.
  /// A server the session saw fail is avoided until it restarts (a new incarnation reloaded its blocks).
  Task<std::optional<Chain>> route_with_retries(RouteRequest req, Rng& rng, double since, int& attempt, int client, int k,
                                                const std::vector<std::pair<int, int>>* failed_seen = nullptr) {
    while (true) {
      if (client_gone(k, client)) co_return std::nullopt;  // nobody is left to route for
      ++attempt;
      if (sc_.policy.orchestrator) {  // one request/response round trip to the most central alive server
        if (orchestrator_ < 0 || !swarm_[orchestrator_].up)
          orchestrator_ = most_central_server(latencies_, S_, [this](int i) { return swarm_[i].up; });
        if (orchestrator_ >= 0) {
          const int o = orchestrator_;
          co_await transfer(client, o, k);
          co_await transfer(o, client, k);
        }
      }
      req.avoid.clear();
      if (failed_seen)
        for (const auto& [server, incarnation] : *failed_seen)
          if (swarm_[server].incarnation == incarnation) req.avoid.push_back(server);
      std::vector<DhtServerRecord> known;
      if (dht_) known = co_await servers_for(client, attempt > 1 || !req.avoid.empty());
      // Routing does not suspend: one view serves every session, kept current from call to call
      // (copied and masked with the DHT's records).
      const std::vector<ServerView>* views = &swarm_.routing_view(now_, topology_ ? &topology_->reliability() : nullptr);
      std::uint64_t layout = swarm_.routing_layout();
      if (dht_) {
        views_ = *views;
        mask_by_directory(views_, known);
        views = &views_;
        layout = 0;  // each lookup finds its own servers
      }
      std::optional<Chain> chain = router_->route(
          SwarmView{*views, &network_, &sc_.model, cost_.get(), &sc_.overheads, &sc_.policy.compression, layout, now_}, req, rng);
      if (chain) co_return chain;
      const double wait = admission_wait_s(sc_, rng);
      if (now_ + wait > since + sc_.policy.admission_timeout_s) co_return std::nullopt;
      co_await sleep_for(wait);
    }
  }

  /// Device work of a session on `host`, straight on its device: true once done (its busy time
  /// counted and its span signalled), false if the host went down first. An awaitable, not a
  /// coroutine: every hop of a session awaits one, and a coroutine frame per hop was 5% of a
  /// 1,000-node run.
  struct Computed {
    Work work;
    double t0;
    int session, step;
    BlockRange blocks;
    const char* what;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { work.await_suspend(h); }
    bool await_resume() const {
      if (work.await_resume() != Outcome::Done) return false;
      FlowSwarm& m = *work.m;
      m.swarm_.add_busy(work.host, m.now_, work.seconds);
      m.signals_.on_compute(ComputeSpan{t0, m.now_, work.host, session, step, blocks, what, work.seconds});
      return true;
    }
  };
  Computed computed(int host, double seconds, int session, int step, BlockRange blocks, const char* what) {
    return Computed{compute(host, seconds), now_, session, step, blocks, what};
  }

  /// Work of a session on a server that is up: through the server's queue with a queueing
  /// scheduler (a coroutine), else straight on its device (no frame). True once done, false when
  /// the server went down before it ended.
  DirectOrTask<Computed, bool> server_work(int host, double seconds, int session, int step, BlockRange blocks, const char* what,
                                           const gpu::BlockWork* work, const SessionShape& shape) {
    DirectOrTask<Computed, bool> w{computed(host, seconds, session, step, blocks, what)};  // starts nothing until awaited
    if (sc_.policy.scheduler.kind != SchedulerKind::Shared)
      w.task = queued_work(host, seconds, session, step, blocks, what, work, shape).release();
    return w;
  }
  Task<bool> queued_work(int host, double seconds, int session, int step, BlockRange blocks, const char* what,
                         const gpu::BlockWork* work, const SessionShape& shape) {
    Job* job = new Job(seconds, session, step, blocks, what, work, shape.deadline, shape.priority);
    job->queued_at = now_;
    if (nodes_fail_) {
      ++job->refs;
      start_now(poll(job, host));
    }
    co_await Queued{this, host, job};  // the worker signals the span and counts the busy time
    const bool done = !job->failed;
    release(job);
    co_return done;
  }

  /// Petals' recovery, as the SimGrid engine's recover(): the hop the step resumes at, or -1 when
  /// no replacement was found and the session has ended.
  Task<int> recover(const SessionRoute& s, HopFailed failed, int step, int kv_len, bool training, std::vector<char>& needs_replay,
                    std::string& stage, int tokens) {
    const ChainRepair repair = begin_repair(swarm_, s.req, s.chain, failed.hop, s.reservations, s.failed_seen);
    const ChainHop lost = repair.lost;
    stage = "recovery of " + host_name(lost.server) + " at " + stage;
    std::optional<Chain> sub = co_await route_with_retries(repair.span, s.rng, now_, s.attempt, s.client, s.k, &s.failed_seen);
    if (!sub && client_gone(s.k, s.client)) {
      lose_with_client(s.k, s.client, stage, s.reservations, tokens);
      co_return -1;
    }
    if (!sub) {
      swarm_.release(s.reservations);
      if (training) leave_job(s.k);
      end_session(s.k, false, repair_failure(host_name(lost.server), step, lost.blocks, training), tokens);
      co_return -1;
    }
    swarm_.reserve(sub->hops, s.held_per_block, s.reservations);
    splice_repair(s.chain, needs_replay, repair, *sub, training ? 1 : kv_len);  // training: every replacement restores adapters
    signals_.on_session_recovered(recovered_event(now_, s.k, step, training ? 0 : kv_len, sc_.workload.batch_size, repair, *sub,
                                                  swarm_[lost.server], failed.since));
    log(1, s.who, "recovered from " + host_name(lost.server) + " with " + std::to_string(sub->hops.size()) + " replacement hop(s)");
    co_return repair.hop;
  }

  Process session(int k) {
    spawn_next_session();  // the next arrival waits in the queue, not in memory ahead of time
    Rng rng = root_rng_.split(static_cast<std::uint64_t>(k));
    const WorkloadSpec& w = sc_.workload;
    const double arrival = now_;
    const SessionShape shape = session_shape(sc_, k, arrival);
    const int client = shape.client;
    const std::string who = "session-" + std::to_string(k) + "@" + host_name(client);
    signals_.on_session_started(SessionStarted{arrival, k, client});
    arrived_at_[static_cast<std::size_t>(k)] = arrival;
    std::vector<Reservation> reservations;
    if (client_gone(k, client)) co_return lose_with_client(k, client, "arrival", reservations, 0);
    co_await client_memory(k, shape);
    if (client_gone(k, client)) co_return lose_with_client(k, client, "waiting for its client's memory", reservations, 0);
    const int prompt_tokens = shape.prompt_tokens, new_tokens = shape.new_tokens;
    const RouteRequest& req = shape.request;
    const double kv_per_block = shape.kv_per_block;
    std::optional<Chain> chain;
    int attempt = 0;
    int tokens = 0;
    std::vector<std::pair<int, int>> failed_seen;  // (server, incarnation) this session saw fail
    std::string stage = "routing";
    try {
      // Admission: a chain of alive servers with KV memory, retried until the timeout.
      chain = co_await route_with_retries(req, rng, arrival, attempt, client, k);
      if (!chain && client_gone(k, client)) co_return lose_with_client(k, client, stage, reservations, 0);
      if (!chain) {
        end_session(k, false, admission_failure(sc_, attempt, now_ - arrival), 0);
        co_return;
      }
      swarm_.reserve(chain->hops, kv_per_block, reservations);
      signals_.on_chain_formed(chain_formed_event(now_, k, attempt, *chain));
      if (verbosity_ >= 1) log(1, who, "chain " + chain_text(sc_, *chain));

      // Prefill (step 0) then decode steps 1..new_tokens-1; each step goes client -> chain -> client.
      const gpu::DeviceSpec& client_dev = *sc_.clients[static_cast<std::size_t>(k % C_)].device;
      double last_token = arrival;
      std::vector<char> needs_replay(chain->hops.size(), 0);
      const SessionRoute route{k, client, req, kv_per_block, rng, *chain, reservations, failed_seen, attempt, who};
      std::vector<double> hop_latency;  // of the message into hop h (the last: back to the client)
      const auto chain_latencies = [&] {
        hop_latency.clear();
        for (std::size_t h = 0, prev = static_cast<std::size_t>(client); h <= chain->hops.size(); ++h) {
          const int to = h == chain->hops.size() ? client : chain->hops[h].server;
          hop_latency.push_back(latencies_.one_way(static_cast<int>(prev), to));
          prev = static_cast<std::size_t>(to);
        }
      };
      chain_latencies();
      for (int step = 0; step < new_tokens; ++step) {
        stage = step == 0 ? "prefill" : "decode step " + std::to_string(step);
        if (client_gone(k, client)) co_return lose_with_client(k, client, "before " + stage, reservations, tokens);
        if (step == shape.abandon_step) {
          abandon(k, step, reservations, tokens);
          co_return;
        }
        const int t = step == 0 ? prompt_tokens : 1;
        const int kv_len = step == 0 ? 0 : prompt_tokens + step - 1;
        bool corrupted = false;  // a dishonest server returned a wrong output on this step's chain
        // Hidden states of the step, compressed on the wire when the policy says so (seed 002, section 4).
        const double payload = hidden_state_bytes(sc_, t);
        const double embed_s = embed_seconds(client_dev, w.batch_size, t);
        if (embed_s > 0) co_await computed(client, embed_s, k, step, {}, "embed");
        if (const int mine = sc_.first_served_block(); mine > 0) {  // split learning: the client runs blocks [0, k) (seed 002, eq. 22)
          const double mine_s = blocks_seconds(client_dev, gpu::BlockWork{w.batch_size, t, kv_len}, mine);
          if (mine_s > 0) co_await computed(client, mine_s, k, step, {}, "client_blocks");
        }
        int prev = client;
        std::size_t h = 0;
        while (h <= chain->hops.size()) {
          const bool to_client = h == chain->hops.size();
          std::optional<HopFailed> failed;
          // A replayed latency change applies to messages that start after it.
          const double lat = static_network_ ? hop_latency[h] : latencies_.one_way(prev, to_client ? client : chain->hops[h].server);
          if (to_client) {  // the last server returns the hidden states of every input position
            if (co_await deliver(prev, client, payload, lat, k, step, rng) != Delivery::Ok) failed = HopFailed{static_cast<int>(h) - 1, now_};
            if (!failed) break;
          } else {
            const ChainHop hop = chain->hops[h];
            if (is_on(hop.server) && (!swarm_.serves(hop.server, hop.blocks) || swarm_.lost_cache(hop.server, reservations)))
              failed = HopFailed{static_cast<int>(h), now_};  // it moved its blocks or restarted: it says so at once
            if (!failed && needs_replay[h]) {
              // Rebuild the KV cache of a replacement server: the client replays the inputs of every
              // position before this step from its cache, and the server runs them as a prefill.
              const double replay_bytes = hidden_state_bytes(sc_, kv_len);
              if (co_await deliver(client, hop.server, replay_bytes, latencies_.one_way(client, hop.server), k, step, rng) != Delivery::Ok)
                failed = HopFailed{static_cast<int>(h), now_};
              if (!failed) {
                const gpu::DeviceSpec& dev = *sc_.nodes[static_cast<std::size_t>(hop.server)].device;
                const double replay_s = blocks_seconds(dev, gpu::BlockWork{w.batch_size, kv_len, 0}, hop.blocks.size());
                if (replay_s > 0 && !is_on(hop.server)) throw HostDown{hop.server};
                if (replay_s > 0 && !co_await server_work(hop.server, replay_s, k, step, hop.blocks, "replay", nullptr, shape))
                  throw HostDown{hop.server};
                needs_replay[h] = 0;
              }
            }
            if (!failed) {
              const Delivery d = co_await deliver(prev, hop.server, payload, lat, k, step, rng);
              if (d == Delivery::SenderFailed) failed = HopFailed{static_cast<int>(h) - 1, now_};
              if (d == Delivery::ReceiverFailed) failed = HopFailed{static_cast<int>(h), now_};
            }
            OutputId output = kRightOutput;
            if (!failed) {
              const gpu::BlockWork work{w.batch_size, t, kv_len};
              const gpu::DeviceSpec& dev = *sc_.nodes[static_cast<std::size_t>(hop.server)].device;
              double blocks_s = blocks_seconds(dev, work, hop.blocks.size());
              // Seed 002, section 6: a dishonest server may return a wrong output, a lazy one without computing.
              output = output_of(sc_, hop.server, k, step, now_);
              if (skips_work(sc_, hop.server, output)) blocks_s = 0;
              bool crashed = false;
              if (blocks_s > 0) crashed = !is_on(hop.server) || !co_await server_work(hop.server, blocks_s, k, step, hop.blocks, "blocks", &work, shape);
              if (crashed) {
                // The client hears nothing: it gives up when its response timeout expires or when the
                // swarm declares the server dead (missed heartbeats), whichever comes first.
                const double since = now_;
                const double notice = std::min(since + sc_.policy.faults.transfer_timeout_s, swarm_.death_notice_time(hop.server, now_));
                if (notice > now_) co_await sleep_until(notice);
                failed = HopFailed{static_cast<int>(h), since};
              }
            }
            if (!failed) {
              // The client spot-checks some hops off the critical path.
              corrupted = corrupted || output != kRightOutput;
              if (spot_checks(sc_, k, step, hop.server))
                start_now(check(SpotCheck{client, k, step, hop.server, hop.blocks, t, kv_len, output}, shape));
              prev = hop.server;
              ++h;
              continue;
            }
          }
          // Petals' recovery: the client replays its cached inputs into the replacement servers.
          const int resume = co_await recover(route, *failed, step, kv_len, false, needs_replay, stage, tokens);
          if (resume < 0) co_return;
          chain_latencies();
          stage = step == 0 ? "prefill" : "decode step " + std::to_string(step);
          h = static_cast<std::size_t>(resume);
          prev = client;  // the client resends this step's input to the new span from its cache
        }
        if (client_gone(k, client)) co_return lose_with_client(k, client, stage, reservations, tokens);  // its answer finds nobody
        const double head_s = head_seconds(client_dev, w.batch_size);
        if (head_s > 0) co_await computed(client, head_s, k, step, {}, "head");
        tokens += w.batch_size;
        signals_.on_step(StepCompleted{now_, k, step, now_ - last_token, corrupted});
        if (verbosity_ >= 2) log(2, who, stage + " done");
        last_token = now_;
      }
      swarm_.release(reservations);
      end_session(k, true, "", tokens);
    } catch (const HostDown& d) {
      swarm_.release(reservations);
      end_session(k, false, host_name(d.host) + " was down at " + stage, tokens);
    }
  }

  /// Where the sessions of a data-parallel fine-tuning job meet, as the SimGrid engine's JobBarrier;
  /// also counts a session's adapter senders down.
  struct JobBarrier {
    int active = 0, arrived = 0;
    std::vector<Waiter*> waiting;
  };
  void release_job(JobBarrier& b) {
    b.arrived = 0;
    for (Waiter* w : b.waiting) queue_.push(now_, EventKind::Resume, token_of(*w));
    b.waiting.clear();
  }
  /// Waits at a barrier until every session still training is there (the last one goes on at once).
  struct Meet {
    FlowSwarm* m;
    JobBarrier* b;
    Waiter w{};
    bool await_ready() {
      if (++b->arrived < b->active) return false;
      m->release_job(*b);
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      b->waiting.push_back(&w);
    }
    void await_resume() const noexcept {}
  };
  void leave_job(int k) {
    if (jobs_.empty()) return;
    training_chains_[static_cast<std::size_t>(k)] = nullptr;
    JobBarrier& b = jobs_[static_cast<std::size_t>(sc_.workload.fine_tuning->job_of(k))];
    --b.active;
    if (b.arrived > 0 && b.arrived >= b.active) release_job(b);
  }
  /// One server's messages of a synchronization round, one after another; counts `done` down at the end.
  Process sync_sender(const std::vector<AdapterExchange>* sends, std::size_t i, int k, int step, const TrainingStep* price, double* sent,
                      JobBarrier* done, int with, int round, std::vector<int>* unreachable) {
    Rng rng = Rng(sc_.seed ^ 0x5F4C0000ULL).split((static_cast<std::uint64_t>(k) << 32) ^ static_cast<std::uint64_t>(step)).split(i);
    if (round > 0) rng = rng.split(static_cast<std::uint64_t>(round));
    const std::vector<AdapterExchange>& s = *sends;
    for (std::size_t j = i; j < s.size() && s[j].from == s[i].from; ++j) {
      if (std::find(unreachable->begin(), unreachable->end(), s[j].to) != unreachable->end()) continue;
      const double bytes = price->sync_bytes(s[j].blocks.size(), with);
      const Delivery d = co_await deliver(s[j].from, s[j].to, bytes, latencies_.one_way(s[j].from, s[j].to), k, step, rng);
      if (d == Delivery::Ok) *sent += bytes;
      if (d == Delivery::ReceiverFailed) unreachable->push_back(s[j].to);
    }
    if (++done->arrived >= done->active) release_job(*done);
  }
  /// Session k's part of its job's averaging, as the SimGrid engine's sync_adapters.
  Task<bool> sync_adapters(int k, int step, const Chain& chain, const TrainingStep& price) {
    const FineTuningSpec& ft = *sc_.workload.fine_tuning;
    JobBarrier& job = jobs_[static_cast<std::size_t>(ft.job_of(k))];
    const double t0 = now_;
    co_await Meet{this, &job};
    std::vector<AdapterExchange> sends;
    int with = 1;  // the sessions still training: each is at this meeting
    const int mine = sc_.first_served_block();  // split learning: the clients' blocks too
    for (int p = ft.job_of(k) * ft.replicas; p < (ft.job_of(k) + 1) * ft.replicas; ++p)
      if (const Chain* peer = training_chains_[static_cast<std::size_t>(p)]; p != k && peer) {
        ++with;
        for (const AdapterExchange& x : adapter_exchanges(with_client_blocks(chain, S_ + k % C_, mine), with_client_blocks(*peer, S_ + p % C_, mine)))
          sends.push_back(x);
      }
    std::stable_sort(sends.begin(), sends.end(), [](const AdapterExchange& a, const AdapterExchange& b) { return a.from < b.from; });
    double sent = 0.0;
    std::vector<int> unreachable;  // servers that acknowledged nothing: not sent to again in this synchronization
    for (int round = 0; round < price.sync_rounds(); ++round) {
      if (round > 0) co_await Meet{this, &job};  // ZeRO: each shard's owner has every gradient of it and updates it
      JobBarrier done;
      done.active = 1;  // this session, then one per sending server
      for (std::size_t i = 0; i < sends.size(); ++i)
        if (i == 0 || sends[i].from != sends[i - 1].from) ++done.active;
      for (std::size_t i = 0; i < sends.size(); ++i)
        if (i == 0 || sends[i].from != sends[i - 1].from) start_now(sync_sender(&sends, i, k, step, &price, &sent, &done, with, round, &unreachable));
      co_await Meet{this, &done};
    }
    co_await Meet{this, &job};  // every server now holds its peers' adapters (or shards) and averages (or takes) them
    signals_.on_adapters_synced(AdaptersSynced{now_, k, step, sent, now_ - t0, ft.job_of(k), with});
    co_return true;
  }

  /// As the SimGrid engine's copies_from_a_peer.
  std::optional<PeerCopies> copies_from_a_peer(int k, const ChainHop& hop) const {
    if (jobs_.empty()) return std::nullopt;
    const FineTuningSpec& ft = *sc_.workload.fine_tuning;
    for (int p = ft.job_of(k) * ft.replicas; p < (ft.job_of(k) + 1) * ft.replicas; ++p) {
      const Chain* peer = training_chains_[static_cast<std::size_t>(p)];
      if (p == k || !peer) continue;
      auto copies = peer_copies(*peer, hop.server, hop.blocks);
      if (copies && std::all_of(copies->begin(), copies->end(), [&](const AdapterExchange& x) { return is_on(x.from); }))
        return PeerCopies{p, std::move(*copies)};
    }
    return std::nullopt;
  }

  /// As the SimGrid engine's restore_adapters: false when the replacement did not receive them.
  Task<bool> restore_adapters(int k, int step, ChainHop hop, AdapterLedger& adapters, const TrainingStep& price, Rng& rng) {
    if (const auto copies = copies_from_a_peer(k, hop)) {
      double bytes = 0.0;
      Delivery d = Delivery::Ok;
      for (std::size_t i = 0; i < copies->messages.size() && d == Delivery::Ok; ++i) {
        const AdapterExchange& x = copies->messages[i];
        d = co_await deliver(x.from, x.to, price.checkpoint_bytes(x.blocks.size()), latencies_.one_way(x.from, x.to), k, step, rng);
        if (d == Delivery::Ok) bytes += price.checkpoint_bytes(x.blocks.size());
      }
      if (d == Delivery::ReceiverFailed) co_return false;
      if (d == Delivery::Ok) {
        const int lost = adapters.restore_from_peer(hop.blocks);
        signals_.on_adapters_moved(AdaptersMoved{now_, k, step - 1, hop.server, hop.blocks, bytes, true, lost, true, copies->peer});
        co_return true;
      }
    }
    const AdapterLedger::Restore r = adapters.restore(hop.blocks);
    const double bytes = price.checkpoint_bytes(r.checkpointed_blocks);
    const int client = S_ + k % C_;
    if (bytes > 0 && co_await deliver(client, hop.server, bytes, latencies_.one_way(client, hop.server), k, step, rng) != Delivery::Ok)
      co_return false;
    signals_.on_adapters_moved(AdaptersMoved{now_, k, step - 1, hop.server, hop.blocks, bytes, true, r.updates_lost});
    co_return true;
  }

  /// A fine-tuning session, as the SimGrid engine's training_session_actor (swarm_simulation.cpp):
  /// forward legs to the loss, backward legs in reverse, checkpoints, and Petals' recovery with the
  /// adapters restored from the client's checkpoint.
  Process training_session(int k) {
    spawn_next_session();
    Rng rng = root_rng_.split(static_cast<std::uint64_t>(k));
    const FineTuningSpec& ft = *sc_.workload.fine_tuning;
    const double arrival = now_;
    const SessionShape shape = session_shape(sc_, k, arrival);
    const int client = shape.client;
    const std::string who = "session-" + std::to_string(k) + "@" + host_name(client);
    signals_.on_session_started(SessionStarted{arrival, k, client});
    arrived_at_[static_cast<std::size_t>(k)] = arrival;  // the loader refuses a training client's outage
    co_await client_memory(k, shape);
    const RouteRequest& req = shape.request;
    const TrainingStep price(sc_, *cost_);
    AdapterLedger adapters(sc_.model.n_layers, ft.checkpoint_every);
    std::optional<Chain> chain;
    int attempt = 0, tokens = 0;
    std::vector<Reservation> reservations;
    std::vector<std::pair<int, int>> failed_seen;
    std::string stage = "routing";
    try {
      chain = co_await route_with_retries(req, rng, arrival, attempt, client, k);
      if (!chain) {
        leave_job(k);
        end_session(k, false, admission_failure(sc_, attempt, now_ - arrival), 0);
        co_return;
      }
      swarm_.reserve(chain->hops, shape.kv_per_block, reservations);
      if (!training_chains_.empty()) training_chains_[static_cast<std::size_t>(k)] = &*chain;  // its job's averagings read it
      signals_.on_chain_formed(chain_formed_event(now_, k, attempt, *chain));
      if (verbosity_ >= 1) log(1, who, "chain " + chain_text(sc_, *chain));
      const gpu::DeviceSpec& client_dev = *sc_.clients[static_cast<std::size_t>(k % C_)].device;
      std::vector<char> restore(chain->hops.size(), 0);  // a replacement's adapters come from the client first
      const SessionRoute route{k, client, req, shape.kv_per_block, rng, *chain, reservations, failed_seen, attempt, who};
      double last_step = arrival;
      const int mine = sc_.first_served_block();  // split learning: the client trains blocks [0, mine) itself (seed 002, eq. 24)
      for (int step = 0; step < ft.steps; ++step) {
        stage = "training step " + std::to_string(step);
        if (const double embed_s = price.embed_s(client_dev); embed_s > 0) co_await computed(client, embed_s, k, step, {}, "embed");
        if (mine > 0) co_await computed(client, price.forward_s(client_dev, mine), k, step, {}, "client_forward");
        bool backward = false;
        std::size_t h = 0;  // forward: the next hop; backward: one past the next hop
        int prev = client;
        while (true) {
          std::optional<HopFailed> failed;
          const std::size_t n = chain->hops.size();
          if (!backward && h == n) {
            if (co_await deliver(prev, client, price.activation_bytes(), latencies_.one_way(prev, client), k, step, rng) != Delivery::Ok) {
              failed = HopFailed{static_cast<int>(n) - 1, now_};
            } else {
              if (const double loss_s = price.loss_s(client_dev); loss_s > 0) co_await computed(client, loss_s, k, step, {}, "loss");
              backward = true;
              prev = client;
              continue;
            }
          } else if (backward && h == 0) {  // with split learning the first server sends the client its gradient
            if (co_await deliver(prev, client, mine > 0 ? price.gradient_bytes() : 0.0, latencies_.one_way(prev, client), k, step, rng) ==
                Delivery::Ok) {
              if (mine > 0) co_await computed(client, price.backward_s(client_dev, mine), k, step, {}, "client_backward");
              break;
            }
            failed = HopFailed{0, now_};
          } else {
            const std::size_t at = backward ? h - 1 : h;
            const ChainHop hop = chain->hops[at];
            if (!backward && restore[at]) {
              if (co_await restore_adapters(k, step, hop, adapters, price, rng))
                restore[at] = 0;
              else
                failed = HopFailed{static_cast<int>(at), now_};
            }
            if (!failed && is_on(hop.server) && (!swarm_.serves(hop.server, hop.blocks) || swarm_.lost_cache(hop.server, reservations)))
              failed = HopFailed{static_cast<int>(at), now_};
            if (!failed) {
              const int sender_hop = backward ? static_cast<int>(std::min(h, n - 1)) : static_cast<int>(h) - 1;
              const double payload = backward ? price.gradient_bytes() : price.activation_bytes();
              const Delivery d = co_await deliver(prev, hop.server, payload, latencies_.one_way(prev, hop.server), k, step, rng);
              if (d == Delivery::SenderFailed) failed = HopFailed{sender_hop, now_};
              if (d == Delivery::ReceiverFailed) failed = HopFailed{static_cast<int>(at), now_};
            }
            if (!failed) {
              const gpu::DeviceSpec& dev = *sc_.nodes[static_cast<std::size_t>(hop.server)].device;
              const double seconds = backward ? price.backward_s(dev, hop.blocks.size()) : price.forward_s(dev, hop.blocks.size());
              bool crashed = false;
              if (seconds > 0)
                crashed = !is_on(hop.server) || !co_await server_work(hop.server, seconds, k, step, hop.blocks, backward ? "backward" : "forward", nullptr, shape);
              if (crashed) {
                const double since = now_;
                const double notice = std::min(since + sc_.policy.faults.transfer_timeout_s, swarm_.death_notice_time(hop.server, now_));
                if (notice > now_) co_await sleep_until(notice);
                failed = HopFailed{static_cast<int>(at), since};
              }
            }
            if (!failed) {
              prev = hop.server;
              if (backward)
                --h;
              else
                ++h;
              continue;
            }
          }
          const int resume = co_await recover(route, *failed, step, 0, true, restore, stage, tokens);
          if (resume < 0) co_return;
          stage = "training step " + std::to_string(step);
          backward = false;  // the step's forward restarts at the replacement from the client's cached inputs
          h = static_cast<std::size_t>(resume);
          prev = client;
        }
        adapters.updated(BlockRange{sc_.first_served_block(), sc_.model.n_layers});
        signals_.on_adapters_updated(AdaptersUpdated{now_, k, step});
        if (ft.replicas > 1 && (step + 1) % ft.sync_every == 0) {
          co_await sync_adapters(k, step, *chain, price);
          adapters.synced(BlockRange{sc_.first_served_block(), sc_.model.n_layers});
        }
        if (adapters.checkpoint_due(step))
          for (const ChainHop& hop : chain->hops) {
            const double bytes = price.checkpoint_bytes(hop.blocks.size());
            if (co_await deliver(hop.server, client, bytes, latencies_.one_way(hop.server, client), k, step, rng) != Delivery::Ok) continue;
            adapters.saved(hop.blocks);
            signals_.on_adapters_moved(AdaptersMoved{now_, k, step, hop.server, hop.blocks, bytes, false, 0});
          }
        tokens += sc_.workload.batch_size * sc_.workload.prompt_tokens;
        signals_.on_step(StepCompleted{now_, k, step, now_ - last_step, false});
        if (verbosity_ >= 2) log(2, who, stage + " done");
        last_step = now_;
      }
      swarm_.release(reservations);
      leave_job(k);
      end_session(k, true, "", tokens);
    } catch (const HostDown& d) {
      swarm_.release(reservations);
      leave_job(k);
      end_session(k, false, host_name(d.host) + " was down at " + stage, tokens);
    }
  }

  /// A client's spot check of one hop, as the SimGrid engine's check_actor (swarm_simulation.cpp).
  Process check(const SpotCheck c, const SessionShape shape) {
    Rng rng = Rng(sc_.seed ^ 0xC4EC0000ULL).split(spot_check_stream(c));
    SpotChecked r{0.0, c.session, c.step, c.server, -1, -1, "", c.server_output != kRightOutput};
    const auto finish = [&](const char* verdict) {
      r.t = now_;
      r.verdict = verdict;
      signals_.on_spot_checked(r);
    };
    const double input_bytes = hidden_state_bytes(sc_, c.kv_len + c.tokens), output_bytes = hidden_state_bytes(sc_, c.tokens);
    if (co_await deliver(c.server, c.client, output_bytes, latencies_.one_way(c.server, c.client), c.session, c.step, rng, true) != Delivery::Ok) {
      finish("abandoned");
      co_return;
    }
    std::vector<int> exclude{c.server};
    OutputId outputs[2] = {kRightOutput, kRightOutput};  // the verifier's and the tie-breaker's
    for (int which = 0; which < 2; ++which) {
      const int v = pick_verifier(swarm_.view(now_), c.blocks, exclude, verifier_draw(sc_, c, which));
      (which == 0 ? r.verifier : r.tie_breaker) = v;
      if (v < 0) {
        finish(which == 0 ? "unverifiable" : "no_tie_breaker");
        co_return;
      }
      // The verifier recomputes the hop from the client's cached inputs of every position so far.
      bool ok = co_await deliver(c.client, v, input_bytes, latencies_.one_way(c.client, v), c.session, c.step, rng, true) == Delivery::Ok;
      if (ok) {
        const gpu::DeviceSpec& dev = *sc_.nodes[static_cast<std::size_t>(v)].device;
        double s = blocks_seconds(dev, gpu::BlockWork{sc_.workload.batch_size, c.kv_len + c.tokens, 0}, c.blocks.size());
        outputs[which] = output_of(sc_, v, c.session, c.step, now_);  // as a hop's: a lazy cheater skips the work
        if (skips_work(sc_, v, outputs[which])) s = 0;
        ok = s <= 0 || (is_on(v) && co_await server_work(v, s, c.session, c.step, c.blocks, "check", nullptr, shape));
      }
      ok = ok && co_await deliver(v, c.client, output_bytes, latencies_.one_way(v, c.client), c.session, c.step, rng, true) == Delivery::Ok;
      if (!ok) {
        finish("abandoned");
        co_return;
      }
      if (which == 0 && outputs_agree(sc_, {c.server, c.server_output}, {v, outputs[0]})) {
        finish("agreed");
        co_return;
      }
      exclude.push_back(v);
    }
    const Verdict v = majority(sc_, {c.server, c.server_output}, {r.verifier, outputs[0]}, {r.tie_breaker, outputs[1]});
    finish(to_string(v));
    if (const int liar = wrong_by_majority(c, r, v); liar >= 0 && sc_.policy.verification.ban && swarm_.ban(liar, now_)) {
      signals_.on_server_banned(ServerBanned{now_, liar, c.session, c.step, !sc_.nodes[static_cast<std::size_t>(liar)].dishonest});
      log(1, "swarm", host_name(liar) + " banned: a spot check's majority found its output wrong");
    }
  }

  /// Waits until session k's client can hold it (ClientMemoryGate, as the SimGrid engine's
  /// take_client_memory): at once unless its earlier sessions fill the client's memory.
  struct ClientMemory {
    FlowSwarm* self;
    int k;
    bool admitted;
    Waiter w{};
    bool await_ready() const noexcept { return admitted; }
    void await_suspend(std::coroutine_handle<> h) {
      w.handle = h;
      self->memory_waiter_[static_cast<std::size_t>(k)] = &w;
    }
    void await_resume() const noexcept {}
  };
  ClientMemory client_memory(int k, const SessionShape& shape) {
    const double bytes = client_session_bytes(sc_, shape);
    client_bytes_[static_cast<std::size_t>(k)] = bytes;
    return ClientMemory{this, k, client_gate_.admit(shape.client - S_, k, bytes)};
  }

  /// Session k's user left before `step` without closing it: the client sends nothing more, and
  /// its servers hold the session's KV caches until their step timeout (policy.faults.session_timeout).
  void abandon(int k, int step, std::vector<Reservation>& reservations, int tokens) {
    end_session(k, false, abandon_reason(step), tokens, true);
    hold_until_step_timeout(reservations);
  }
  /// Whether session k's client went down since it arrived (ClientOutages), as the SimGrid engine's client_gone.
  bool client_gone(int k, int client) const { return outages_.down_within(client, arrived_at_[static_cast<std::size_t>(k)], now_); }
  /// Session k ends with its client, as the SimGrid engine's lose_with_client.
  void lose_with_client(int k, int client, const std::string& stage, std::vector<Reservation>& reservations, int tokens) {
    const double since = outages_.down_since(client, arrived_at_[static_cast<std::size_t>(k)], now_);
    end_session(k, false, client_lost_reason(host_name(client), since, stage), tokens, false, true);
    hold_until_step_timeout(reservations);
  }
  /// A session's servers free its reservations after their step timeout (policy.faults.session_timeout).
  void hold_until_step_timeout(std::vector<Reservation>& reservations) {
    if (sc_.policy.faults.session_timeout_s <= 0) {
      swarm_.release(reservations);
      return;
    }
    spawn(release_after_timeout(std::move(reservations)), now_ + sc_.policy.faults.session_timeout_s);
  }
  Process release_after_timeout(std::vector<Reservation> held) {
    swarm_.release(held);
    co_return;
  }

  void end_session(int k, bool completed, const std::string& reason, int tokens, bool abandoned = false, bool client_lost = false) {
    if (session_ended_[static_cast<std::size_t>(k)]) return;
    session_ended_[static_cast<std::size_t>(k)] = 1;
    ++sessions_ended_;
    // Its client's memory lets the sessions waiting for it in, in their order.
    admitted_.clear();
    if (client_bytes_[static_cast<std::size_t>(k)] >= 0)
      client_gate_.release(k % C_, client_bytes_[static_cast<std::size_t>(k)], admitted_);
    for (const int a : admitted_) {
      Waiter*& w = memory_waiter_[static_cast<std::size_t>(a)];
      queue_.push_last(now_, EventKind::Resume, token_of(*w));  // as a SimGrid actor woken by a semaphore
      w = nullptr;
    }
    last_session_end_ = now_;
    if (!completed) log(1, "session-" + std::to_string(k), (abandoned || client_lost ? "" : "failed: ") + reason);
    signals_.on_session_ended(SessionEnded{now_, k, completed, reason, tokens, 0, abandoned, client_lost});
  }

  const Scenario& sc_;
  std::shared_ptr<const gpu::ShardCostModel> cost_;
  SimSignals& signals_;
  int verbosity_;
  int S_, C_;
  LatencyTable latencies_;
  EventQueue queue_;
  FairShareNetwork links_;
  LiveNetwork network_;
  ProcessorSharing devices_;
  std::unique_ptr<ChainRouter> router_;
  Rng root_rng_;
  double lat_factor_;
  bool static_network_;
  bool nodes_fail_;  ///< the scenario replays node failures: sessions poll their queued work
  SwarmState swarm_;
  ClientOutages outages_;            ///< when each client is down: its sessions end with it
  std::vector<int> life_;            ///< failures per server: a server process started before the last one ends
  std::unique_ptr<TopologyMonitor> topology_;  ///< policy.topology
  std::unique_ptr<BlockDirectory> dht_;        ///< policy.dht: clients find servers by lookups
  double now_ = 0.0;
  std::vector<double> arrivals_;
  std::vector<char> session_ended_;
  std::vector<double> arrived_at_;  ///< per session: when it arrived (its client must stay up from then on)
  ClientMemoryGate client_gate_{sc_};        ///< sessions admitted to their client's memory (split learning)
  std::vector<double> client_bytes_;         ///< per session: what it holds on its client, -1 until admitted
  std::vector<Waiter*> memory_waiter_;       ///< per session: its process while it waits for its client's memory
  std::vector<int> admitted_;                ///< scratch of end_session
  std::vector<JobBarrier> jobs_;               ///< data-parallel fine-tuning: per job
  std::vector<const Chain*> training_chains_;  ///< per session: its chain while it trains, else nullptr
  int sessions_ended_ = 0, next_session_ = 0;
  double last_session_end_ = 0.0;
  std::uint64_t hops_ = 0;
  int orchestrator_ = -1;
  PricedWork priced_;
  std::vector<ServerView> views_;  ///< route_with_retries' view of the servers masked by the DHT, reused
  std::vector<ServerQueue> queues_;
  Processes processes_;  ///< last: its frames go before the state they use
};

}  // namespace

RunReport run_flow_engine(const Scenario& sc, std::shared_ptr<const gpu::ShardCostModel> cost, SimSignals& signals,
                          const RunOptions& options) {
  if (options.execute_real)
    throw std::invalid_argument(sc.source_file + ": --execute real runs the kernels inside SimGrid actors; it needs "
                                "\"simulation.engine\": \"simgrid\", not \"flow\"");
  RunMetrics metrics(sc, cost->pricing());
  metrics.connect(signals);
  std::unique_ptr<ChromeTraceWriter> trace;
  std::unique_ptr<EventLogWriter> events;
  if (!options.out_dir.empty()) {
    std::filesystem::create_directories(options.out_dir);
    if (sc.outputs.trace) {
      trace = std::make_unique<ChromeTraceWriter>(sc, options.out_dir / "trace.json");
      trace->connect(signals);
    }
    if (sc.outputs.events) {
      events = std::make_unique<EventLogWriter>(sc, options.out_dir / "events.jsonl");
      events->connect(signals);
    }
  }
  FlowSwarm swarm(sc, std::move(cost), signals, options.verbosity);
  ProgressLine progress(options.progress, sc.workload.sessions);
  const auto wall0 = std::chrono::steady_clock::now();
  const double sim_time = swarm.run(progress);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  progress.finish();

  RunReport report;
  report.metrics = metrics.to_json(sim_time, swarm.node_summaries(sim_time), WallClock{wall});
  if (const nlohmann::json t = swarm.topology_metrics(); !t.is_null()) report.metrics["topology"] = t;
  if (const nlohmann::json d = swarm.dht_metrics(); !d.is_null()) report.metrics["dht"] = d;
  report.simulated_time = sim_time;
  report.wall_seconds = wall;
  report.hops = swarm.hops();
  if (trace) {
    if (trace->dropped() > 0) report.metrics["trace_dropped_events"] = trace->dropped();
    trace->finish();
  }
  if (events) events->finish(sim_time);
  if (!options.out_dir.empty() && sc.outputs.metrics)
    write_file_atomically(options.out_dir / "metrics.json", report.metrics.dump(2) + "\n");
  return report;
}

}  // namespace swarmsim::sim::flow
