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
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
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
#include "sim/swarm/request_queue.hpp"
#include "sim/swarm/server_load.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/units.hpp"

namespace swarmsim::sim::flow {
namespace {

// ---------------------------------------------------------------------------------------------
// [SECTION] Processes: coroutines the event queue resumes
// ---------------------------------------------------------------------------------------------

/// A simulated process (a server joining, a session). It starts suspended; the engine schedules
/// its first resumption and owns its frame until it returns (then the frame frees itself).
struct Process {
  struct promise_type {
    std::unordered_set<void*>* live = nullptr;  ///< the engine's set of unfinished processes
    Process get_return_object() { return Process{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    auto final_suspend() noexcept {
      struct Release {
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
          if (h.promise().live) h.promise().live->erase(h.address());
          h.destroy();
        }
        void await_resume() noexcept {}
      };
      return Release{};
    }
    void return_void() {}
    void unhandled_exception() { throw; }  // a bug, not a simulated failure: stop the run
  };
  std::coroutine_handle<promise_type> handle;
};

std::uint64_t token_of(std::coroutine_handle<> h) { return reinterpret_cast<std::uint64_t>(h.address()); }
void resume_token(std::uint64_t token) { std::coroutine_handle<>::from_address(reinterpret_cast<void*>(token)).resume(); }

/// Live state of one server (the subset of the SimGrid engine's that a static swarm needs).
struct Server {
  BlockRange blocks;
  bool assigned = false;
  bool loaded = false;
  double weights_bytes = 0.0;
  double kv_capacity = 0.0;
  double kv_reserved = 0.0;
  double kv_peak = 0.0;
  int active = 0;
  ServerLoad load;
  double joined_at = -1.0;
};

/// Latency and bandwidth estimates for routers, from the scenario's static network.
class StaticNetwork final : public NetworkEstimate {
 public:
  StaticNetwork(const LatencyTable& latencies, std::vector<double> up, std::vector<double> down)
      : latencies_(latencies), up_(std::move(up)), down_(std::move(down)) {}
  double latency_s(int from, int to) const override { return latencies_.one_way(from, to); }
  double bandwidth_Bps(int from, int to) const override {
    return std::min(up_[static_cast<std::size_t>(from)], down_[static_cast<std::size_t>(to)]);
  }
  const std::vector<double>& up() const { return up_; }
  const std::vector<double>& down() const { return down_; }

 private:
  const LatencyTable& latencies_;
  std::vector<double> up_, down_;
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
        network_(latencies_, link_rates(sc, true), link_rates(sc, false)),
        links_(network_.up(), network_.down(), sharing_params(sc.network.model), queue_),
        devices_(S_ + C_, queue_),
        router_(make_router(sc.policy)),
        root_rng_(sc.seed),
        lat_factor_(latency_factor(sc.network.model)) {
    servers_.assign(static_cast<std::size_t>(S_), Server{});
    session_ended_.assign(static_cast<std::size_t>(sc.workload.sessions), 0);
    arrivals_ = draw_arrivals(sc.workload, root_rng_);
    // Routers price a block's work per device over and over: cache them per (device, shape).
    (void)0;
  }
  ~FlowSwarm() {
    for (void* p : live_) std::coroutine_handle<>::from_address(p).destroy();
  }

  /// Plays the scenario; returns the simulated duration.
  double run(ProgressLine& progress) {
    for (int i = 0; i < S_; ++i) spawn(server(i), sc_.nodes[static_cast<std::size_t>(i)].join_at_s);
    if (sc_.policy.scheduler.kind != SchedulerKind::Shared) {
      queues_.resize(static_cast<std::size_t>(S_));
      for (int i = 0; i < S_; ++i) spawn(worker(i), 0.0);
    }
    spawn_next_session();
    std::vector<std::uint64_t> done;
    while (!queue_.empty()) {
      const TimedEvent e = queue_.pop();
      if (e.t > sc_.time_limit_s) break;
      now_ = e.t;
      switch (e.kind) {
        case EventKind::Resume: resume_token(e.payload); break;
        case EventKind::FlowActive:
        case EventKind::FlowDone: {
          std::uint64_t token = 0;
          if (links_.on_event(e, token)) resume_token(token);
          break;
        }
        case EventKind::ExecDone:
          done.clear();
          devices_.on_event(e, done);
          for (const std::uint64_t t : done) resume_token(t);
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

  std::vector<NodeSummary> node_summaries(double sim_time) const {
    std::vector<NodeSummary> nodes(static_cast<std::size_t>(S_));
    for (int i = 0; i < S_; ++i) {
      const Server& st = servers_[static_cast<std::size_t>(i)];
      NodeSummary& n = nodes[static_cast<std::size_t>(i)];
      n.blocks = st.blocks;
      n.weights_bytes = st.weights_bytes;
      n.kv_peak_bytes = st.kv_peak;
      n.up_seconds = st.joined_at >= 0 ? sim_time - st.joined_at : 0.0;  // never down on a static swarm
    }
    return nodes;
  }

  std::uint64_t hops() const { return hops_; }

 private:
  static std::vector<double> link_rates(const Scenario& sc, bool up) {
    std::vector<double> r;
    for (const NodeSpec& n : sc.nodes) r.push_back(up ? n.uplink_Bps : n.downlink_Bps);
    for (const ClientSpec& c : sc.clients) r.push_back(up ? c.uplink_Bps : c.downlink_Bps);
    return r;
  }

  std::string host_name(int h) const { return h < S_ ? sc_.nodes[static_cast<std::size_t>(h)].name : sc_.clients[static_cast<std::size_t>(h - S_)].name; }

  void log(int level, const std::string& who, const std::string& msg) const {
    if (verbosity_ >= level) std::fprintf(stderr, "[%12.6f] (%s) %s\n", now_, who.c_str(), msg.c_str());
  }

  void spawn(Process p, double at) {
    p.handle.promise().live = &live_;
    live_.insert(p.handle.address());
    queue_.push(std::max(at, now_), EventKind::Resume, token_of(p.handle));
  }

  /// Sessions are created at their arrival, so memory follows the sessions in flight.
  void spawn_next_session() {
    if (next_session_ >= sc_.workload.sessions) return;
    const int k = next_session_++;
    spawn(session(k), arrivals_[static_cast<std::size_t>(k)]);
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Awaitables: what a process waits for
  // -------------------------------------------------------------------------------------------

  struct SleepUntil {
    FlowSwarm* m;
    double t;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { m->queue_.push(std::max(t, m->now_), EventKind::Resume, token_of(h)); }
    void await_resume() const noexcept {}
  };
  struct Message {
    FlowSwarm* m;
    int from, to;
    double bytes, delay, latency;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { m->links_.start(m->now_, from, to, bytes, delay, latency, token_of(h)); }
    void await_resume() const noexcept {}
  };
  struct Work {
    FlowSwarm* m;
    int host;
    double seconds;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { m->devices_.start(m->now_, host, seconds, token_of(h)); }
    void await_resume() const noexcept {}
  };

  /// A message of `bytes` on the wire from `from` to `to`: its software time (RPC, serialization,
  /// extra round trips, checksums when `checked`) and the latency times the model's factor pass
  /// before its bytes flow, exactly as the SimGrid engine folds them into the message's latency.
  Message message(int from, int to, double bytes, bool checked) { return message(from, to, bytes, checked, latencies_.one_way(from, to)); }
  Message message(int from, int to, double bytes, bool checked, double lat) {
    const OverheadSpec& o = sc_.overheads;
    double software = o.rpc_s + 2.0 * bytes / o.serialization_Bps + o.round_trips * 2.0 * lat;
    if (checked) software += 2.0 * bytes / sc_.policy.faults.checksum_Bps;  // FNV-1a at both ends
    return Message{this, from, to, bytes, lat_factor_ * lat + software, lat};
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Priced work, memoized: a static swarm asks for the same few shapes again and again
  // -------------------------------------------------------------------------------------------

  struct WorkKey {
    const gpu::DeviceSpec* device;
    int kind, batch, tokens, kv_len, blocks;
    bool operator==(const WorkKey&) const = default;
  };
  struct WorkKeyHash {
    std::size_t operator()(const WorkKey& k) const {
      std::uint64_t h = reinterpret_cast<std::uintptr_t>(k.device);
      for (const int v : {k.kind, k.batch, k.tokens, k.kv_len, k.blocks}) h = (h ^ static_cast<std::uint32_t>(v)) * 0x9E3779B97F4A7C15ULL;
      return static_cast<std::size_t>(h ^ (h >> 29));
    }
  };
  template <class Price>
  double priced(const WorkKey& key, Price price) {
    const auto [it, inserted] = priced_.try_emplace(key, 0.0);
    if (inserted) it->second = price();
    return it->second;
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
  // [SECTION] Server state (as the SimGrid engine keeps it; see swarm_simulation.cpp)
  // -------------------------------------------------------------------------------------------

  double utilization(int i) const { return servers_[static_cast<std::size_t>(i)].load.utilization(now_); }
  void add_busy(int host, double device_seconds) {
    if (host < S_) servers_[static_cast<std::size_t>(host)].load.add_busy(now_, device_seconds);
  }

  std::vector<ServerView> make_view() const {
    std::vector<ServerView> v(static_cast<std::size_t>(S_));
    for (int i = 0; i < S_; ++i) {
      const Server& s = servers_[static_cast<std::size_t>(i)];
      ServerView& x = v[static_cast<std::size_t>(i)];
      x.host = i;
      x.blocks = s.blocks;
      x.alive = s.loaded;
      x.device = sc_.nodes[static_cast<std::size_t>(i)].device;
      x.free_kv_bytes = s.kv_capacity - s.kv_reserved;
      x.active_sessions = s.active;
      x.utilization = utilization(i);
      x.uptime = sc_.nodes[static_cast<std::size_t>(i)].uptime;  // observed uptime is 1 on a static swarm
    }
    return v;
  }

  /// server_throughput of node i, computed once: it depends on the node and the model only.
  double throughput(int i) {
    if (throughputs_.empty())
      for (const NodeSpec& n : sc_.nodes) throughputs_.push_back(server_throughput(n, sc_.model, *cost_));
    return throughputs_[static_cast<std::size_t>(i)];
  }

  /// Fixed range, or the least-served window among the servers assigned so far (Petals' rule).
  void assign_blocks(int i) {
    Server& st = servers_[static_cast<std::size_t>(i)];
    const NodeSpec& node = sc_.nodes[static_cast<std::size_t>(i)];
    std::vector<ServedRange> served;
    if (!node.blocks)
      for (int j = 0; j < S_; ++j)
        if (j != i && servers_[static_cast<std::size_t>(j)].assigned)
          served.push_back({servers_[static_cast<std::size_t>(j)].blocks, throughput(j)});
    st.blocks = join_range(node, sc_.model, sc_.overheads, served);
    st.assigned = true;
    st.weights_bytes = st.blocks.size() * sc_.model.block_weight_bytes();
    st.kv_capacity = usable_memory_bytes(*node.device, sc_.overheads) - st.weights_bytes;
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Processes
  // -------------------------------------------------------------------------------------------

  Process server(int i) {
    const NodeSpec& node = sc_.nodes[static_cast<std::size_t>(i)];
    assign_blocks(i);
    Server& st = servers_[static_cast<std::size_t>(i)];
    const double started = now_;
    log(1, "server@" + node.name, "loading blocks " + st.blocks.str() + " (" + format_bytes(st.weights_bytes) + ")");
    co_await SleepUntil{this, now_ + st.weights_bytes / node.weights_load_Bps};
    st.loaded = true;
    st.joined_at = now_;
    log(1, "server@" + node.name, "serving blocks " + st.blocks.str());
    signals_.on_node_joined(NodeJoined{now_, i, st.blocks, started});
  }

  /// Device work on `host`, shared with everything else running there.
  Work compute(int host, double seconds) { return Work{this, host, seconds}; }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Server schedulers (fcfs, priority, batch), as the SimGrid engine's scheduler actor
  // -------------------------------------------------------------------------------------------

  /// One request for device time waiting in a server's queue, and the session waiting for it.
  struct Job : QueuedRequest {
    std::uint64_t waiter = 0;
  };
  struct ServerQueue {
    std::vector<Job*> jobs;
    std::uint64_t next_seq = 0;
    std::uint64_t idle_worker = 0;  ///< the worker waiting for work, 0 when it is busy
  };

  /// Queues `job` on server `host` and waits until its worker has run it.
  struct Queued {
    FlowSwarm* m;
    int host;
    Job* job;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const {
      ServerQueue& q = m->queues_[static_cast<std::size_t>(host)];
      job->waiter = token_of(h);
      job->seq = q.next_seq++;
      q.jobs.push_back(job);
      if (q.idle_worker != 0) {
        m->queue_.push(m->now_, EventKind::Resume, q.idle_worker);
        q.idle_worker = 0;
      }
    }
    void await_resume() const noexcept {}
  };
  struct WaitForJobs {
    FlowSwarm* m;
    int host;
    bool await_ready() const noexcept { return !m->queues_[static_cast<std::size_t>(host)].jobs.empty(); }
    void await_suspend(std::coroutine_handle<> h) const { m->queues_[static_cast<std::size_t>(host)].idle_worker = token_of(h); }
    void await_resume() const noexcept {}
  };

  /// The worker of server i's queue: one request (or one batch) at a time, picked by the policy.
  Process worker(int i) {
    ServerQueue& q = queues_[static_cast<std::size_t>(i)];
    const SchedulerSpec& spec = sc_.policy.scheduler;
    const gpu::DeviceSpec& dev = *sc_.nodes[static_cast<std::size_t>(i)].device;
    while (true) {
      co_await WaitForJobs{this, i};
      if (waits_for_batch(q.jobs, spec)) co_await SleepUntil{this, now_ + spec.batch_wait_s};  // let a batch fill
      const std::vector<Job*> batch = take_next(q.jobs, spec);
      const double seconds = batch_seconds(batch, dev, sc_.model, *cost_);
      const double t0 = now_;
      co_await compute(i, seconds);
      add_busy(i, seconds);
      const double share = seconds / static_cast<double>(batch.size());
      for (const Job* j : batch) {
        signals_.on_compute(ComputeSpan{t0, now_, i, j->session, j->step, j->blocks, "blocks", share});
        queue_.push(now_, EventKind::Resume, j->waiter);
      }
    }
  }
  void computed(int host, double t0, double seconds, int session, int step, BlockRange blocks, const char* what) {
    add_busy(host, seconds);
    signals_.on_compute(ComputeSpan{t0, now_, host, session, step, blocks, what, seconds});
  }

  /// Counts a delivered message; returns true when its checksum failed and it must be sent again.
  bool delivered(int from, int to, double t0, double bytes, int session, int step, Rng& rng, int& resent) {
    ++hops_;
    signals_.on_transfer(TransferSpan{t0, now_, from, to, session, step, bytes});
    const double rate = sc_.policy.faults.corruption_rate;
    if (rate > 0 && rng.uniform() < rate && resent < 16) {
      ++resent;
      signals_.on_transfer_retried(TransferRetried{now_, from, to, session, step, 1, "checksum", false});
      return true;
    }
    return false;
  }

  /// The most central server, for policy.orchestrator (as the SimGrid engine picks it).
  int orchestrator() {
    if (orchestrator_ < 0) orchestrator_ = most_central_server(latencies_, S_, [](int) { return true; });
    return orchestrator_;
  }

  Process session(int k) {
    spawn_next_session();  // the next arrival waits in the queue, not in memory ahead of time
    Rng rng = root_rng_.split(static_cast<std::uint64_t>(k));
    const WorkloadSpec& w = sc_.workload;
    const int client = S_ + k % C_;
    const double arrival = now_;
    signals_.on_session_started(SessionStarted{arrival, k, client});
    const double deadline = w.deadline_s > 0 ? arrival + w.deadline_s : std::numeric_limits<double>::infinity();
    const int priority = w.arrival == ArrivalProcess::Trace ? w.trace[static_cast<std::size_t>(k)].priority : 0;
    int prompt_tokens = w.prompt_tokens, new_tokens = w.new_tokens;
    if (w.arrival == ArrivalProcess::Trace) {
      const TraceArrival& a = w.trace[static_cast<std::size_t>(k)];
      if (a.prompt_tokens > 0) prompt_tokens = a.prompt_tokens;
      if (a.new_tokens > 0) new_tokens = a.new_tokens;
    }
    const RouteRequest req{client, w.batch_size, prompt_tokens, new_tokens};

    // Admission: a chain of loaded servers with KV memory, retried until the timeout.
    std::optional<Chain> chain;
    int attempt = 0;
    while (true) {
      ++attempt;
      if (sc_.policy.orchestrator) {  // one request/response round trip to the orchestrator
        const int o = orchestrator();
        for (const auto& [a, b] : {std::pair{client, o}, std::pair{o, client}}) {
          const double t0 = now_;
          co_await message(a, b, sc_.overheads.header_bytes, false);
          ++hops_;
          signals_.on_transfer(TransferSpan{t0, now_, a, b, k, -1, sc_.overheads.header_bytes});
        }
      }
      const std::vector<ServerView> views = make_view();
      chain = router_->route(SwarmView{views, &network_, &sc_.model, cost_.get(), &sc_.overheads, &sc_.policy.compression}, req, rng);
      if (chain) break;
      if (now_ + sc_.policy.admission_retry_s > arrival + sc_.policy.admission_timeout_s) {
        end_session(k, false,
                    "no chain of alive servers with free KV memory covers all " + std::to_string(sc_.model.n_layers) + " blocks (" +
                        std::to_string(attempt) + " attempts over " + format_duration(now_ - arrival) + ")",
                    0);
        co_return;
      }
      co_await SleepUntil{this, now_ + sc_.policy.admission_retry_s};
    }
    const double kv_per_block = req.kv_bytes_per_block(sc_.model);
    ChainFormed formed{now_, k, attempt, {}, {}, chain->cost};
    for (const ChainHop& hop : chain->hops) {
      Server& st = servers_[static_cast<std::size_t>(hop.server)];
      st.kv_reserved += kv_per_block * hop.blocks.size();
      st.kv_peak = std::max(st.kv_peak, st.kv_reserved);
      ++st.active;
      formed.servers.push_back(hop.server);
      formed.ranges.push_back(hop.blocks);
    }
    signals_.on_chain_formed(formed);
    const std::string who = "session-" + std::to_string(k) + "@" + host_name(client);
    if (verbosity_ >= 1) {
      std::string text;
      for (const ChainHop& hop : chain->hops) text += (text.empty() ? "" : " > ") + host_name(hop.server) + "[" + hop.blocks.str() + "]";
      log(1, who, "chain " + text);
    }
    std::vector<double> hop_latency;  // of the message into hop h (the last: back to the client)
    for (std::size_t h = 0, prev = static_cast<std::size_t>(client); h <= chain->hops.size(); ++h) {
      const int to = h == chain->hops.size() ? client : chain->hops[h].server;
      hop_latency.push_back(latencies_.one_way(static_cast<int>(prev), to));
      prev = static_cast<std::size_t>(to);
    }

    // Prefill (step 0), then decode steps: client -> chain -> client, as in the SimGrid engine.
    const double act_bytes = gpu::dtype_bytes(sc_.model.activation_dtype);
    const gpu::DeviceSpec& client_dev = *sc_.clients[static_cast<std::size_t>(k % C_)].device;
    double last_token = arrival;
    int tokens = 0;
    for (int step = 0; step < new_tokens; ++step) {
      const int t = step == 0 ? prompt_tokens : 1;
      const int kv_len = step == 0 ? 0 : prompt_tokens + step - 1;
      const double payload = sc_.policy.compression.message_bytes(static_cast<double>(w.batch_size) * t * sc_.model.hidden, act_bytes);
      const double bytes = payload + sc_.overheads.header_bytes;
      double t0 = now_;
      const double embed_s = embed_seconds(client_dev, w.batch_size, t);
      if (embed_s > 0) {
        co_await compute(client, embed_s);
        computed(client, t0, embed_s, k, step, {}, "embed");
      }
      int prev = client;
      for (std::size_t h = 0; h <= chain->hops.size(); ++h) {
        const int to = h == chain->hops.size() ? client : chain->hops[h].server;
        for (int resent = 0;;) {
          t0 = now_;
          co_await message(prev, to, bytes, true, hop_latency[h]);
          if (!delivered(prev, to, t0, bytes, k, step, rng, resent)) break;
        }
        if (to == client) break;
        const ChainHop& hop = chain->hops[h];
        const gpu::DeviceSpec& dev = *sc_.nodes[static_cast<std::size_t>(hop.server)].device;
        const gpu::BlockWork work{w.batch_size, t, kv_len};
        const double blocks_s = blocks_seconds(dev, work, hop.blocks.size());
        if (blocks_s > 0 && sc_.policy.scheduler.kind != SchedulerKind::Shared) {
          Job job;
          job.seconds = blocks_s;
          job.session = k;
          job.step = step;
          job.blocks = hop.blocks;
          job.work = work;
          job.batchable = work.new_tokens == 1;
          job.deadline = deadline;
          job.priority = priority;
          co_await Queued{this, hop.server, &job};  // the worker signals the span and counts the busy time
        } else if (blocks_s > 0) {
          t0 = now_;
          co_await compute(hop.server, blocks_s);
          computed(hop.server, t0, blocks_s, k, step, hop.blocks, "blocks");
        }
        prev = hop.server;
      }
      const double head_s = head_seconds(client_dev, w.batch_size);
      if (head_s > 0) {
        t0 = now_;
        co_await compute(client, head_s);
        computed(client, t0, head_s, k, step, {}, "head");
      }
      tokens += w.batch_size;
      signals_.on_step(StepCompleted{now_, k, step, now_ - last_token});
      if (verbosity_ >= 2) log(2, who, step == 0 ? std::string("prefill done") : "decode step " + std::to_string(step) + " done");
      last_token = now_;
    }
    for (const ChainHop& hop : chain->hops) {
      Server& st = servers_[static_cast<std::size_t>(hop.server)];
      st.kv_reserved = std::max(0.0, st.kv_reserved - kv_per_block * hop.blocks.size());
      --st.active;
    }
    end_session(k, true, "", tokens);
  }

  void end_session(int k, bool completed, const std::string& reason, int tokens) {
    if (session_ended_[static_cast<std::size_t>(k)]) return;
    session_ended_[static_cast<std::size_t>(k)] = 1;
    ++sessions_ended_;
    last_session_end_ = now_;
    if (!completed) log(1, "session-" + std::to_string(k), "failed: " + reason);
    signals_.on_session_ended(SessionEnded{now_, k, completed, reason, tokens});
  }

  const Scenario& sc_;
  std::shared_ptr<const gpu::ShardCostModel> cost_;
  SimSignals& signals_;
  int verbosity_;
  int S_, C_;
  LatencyTable latencies_;
  StaticNetwork network_;
  EventQueue queue_;
  FairShareNetwork links_;
  ProcessorSharing devices_;
  std::unique_ptr<ChainRouter> router_;
  Rng root_rng_;
  double lat_factor_;
  double now_ = 0.0;
  std::vector<Server> servers_;
  std::vector<double> arrivals_;
  std::vector<char> session_ended_;
  int sessions_ended_ = 0, next_session_ = 0;
  double last_session_end_ = 0.0;
  std::uint64_t hops_ = 0;
  int orchestrator_ = -1;
  std::unordered_set<void*> live_;
  std::unordered_map<WorkKey, double, WorkKeyHash> priced_;
  std::vector<ServerQueue> queues_;
  std::vector<double> throughputs_;
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
