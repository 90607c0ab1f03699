#include "sim/engine/swarm_simulation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <simgrid/Exception.hpp>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Exec.hpp>
#include <simgrid/s4u/Host.hpp>

#include "sim/swarm/latency_table.hpp"
#include "sim/engine/pipeline_simulation.hpp"
#include "sim/engine/swarm_platform.hpp"
#include "sim/metrics/run_metrics.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/real_execution.hpp"
#include "sim/rng.hpp"
#include "sim/routing/chain_router.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/units.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {
namespace {

/// Time constant of the utilization estimate routers see (s).
constexpr double kUtilizationWindow = 10.0;

/// A hop could not proceed because a host on it is down (detected before SimGrid would abort).
struct HostDown {
  int host;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// [SECTION] State
// ---------------------------------------------------------------------------------------------

/// Live state of one server; plain data read by routers through ServerView.
struct ServerState {
  BlockRange blocks;           ///< range served (assigned at first join for "auto" nodes)
  bool assigned = false;       ///< blocks chosen
  bool up = true;              ///< host on
  bool loaded = false;         ///< weights loaded: routable
  int epoch = 0;               ///< incremented each time the node goes down (its KV caches are lost)
  double weights_bytes = 0.0;
  double kv_capacity = 0.0;    ///< usable memory minus weights
  double kv_reserved = 0.0;
  double kv_peak = 0.0;
  int active = 0;              ///< sessions whose chain uses the node
  double util_rate = 0.0;      ///< decayed busy device-seconds per second
  double util_time = 0.0;      ///< when util_rate was last updated
  double joined_at = -1.0;     ///< first time it finished loading
  double up_since = 0.0;
  double up_seconds = 0.0;     ///< closed up intervals
};

struct SwarmSimulation::Impl {
  Scenario sc;
  std::shared_ptr<const gpu::ShardCostModel> cost;
  SimSignals signals;
  int S = 0, C = 0;
  std::vector<ServerState> servers;
  std::unique_ptr<LatencyTable> latencies;
  std::unique_ptr<SwarmPlatform> platform;
  std::unique_ptr<ChainRouter> router;
  Rng root_rng{1};
  std::vector<double> arrivals;
  std::vector<char> session_ended;
  int sessions_ended = 0;
  double last_session_end = 0.0;  ///< when the last session ended: the run's simulated duration
  std::uint64_t hops = 0;
  int verbosity = 0;
  int orchestrator = -1;
  // --execute real
  std::unique_ptr<gpu::Backend> backend;
  std::unique_ptr<RealModel> real;
  std::vector<CompressionEffect> effects;      ///< of completed sessions
  double real_measured_seconds = 0.0;          ///< wall time spent in real kernels

  Impl(Scenario s, std::shared_ptr<const gpu::ShardCostModel> c) : sc(std::move(s)), cost(std::move(c)) {
    S = static_cast<int>(sc.nodes.size());
    C = static_cast<int>(sc.clients.size());
    root_rng = Rng(sc.seed);
  }

  static double now() { return sg4::Engine::get_clock(); }

  std::string host_name(int h) const { return h < S ? sc.nodes[h].name : sc.clients[h - S].name; }

  void log(int level, const std::string& who, const std::string& msg) const {
    if (verbosity >= level) std::fprintf(stderr, "[%12.6f] (%s) %s\n", now(), who.c_str(), msg.c_str());
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Server state helpers
  // -------------------------------------------------------------------------------------------

  double utilization(int i) const {
    const ServerState& s = servers[static_cast<std::size_t>(i)];
    return std::clamp(s.util_rate * std::exp(-(now() - s.util_time) / kUtilizationWindow), 0.0, 1.0);
  }

  void add_busy(int host, double device_seconds) {
    if (host >= S) return;
    ServerState& s = servers[static_cast<std::size_t>(host)];
    const double t = now();
    s.util_rate = s.util_rate * std::exp(-(t - s.util_time) / kUtilizationWindow) + device_seconds / kUtilizationWindow;
    s.util_time = t;
  }

  /// Fraction of time up since the node first joined, times its declared uptime.
  double uptime_estimate(int i) const {
    const ServerState& s = servers[static_cast<std::size_t>(i)];
    double observed = 1.0;
    if (s.joined_at >= 0 && now() > s.joined_at) {
      const double up = s.up_seconds + (s.up ? now() - s.up_since : 0.0);
      observed = std::clamp(up / (now() - s.joined_at), 0.0, 1.0);
    }
    return sc.nodes[static_cast<std::size_t>(i)].uptime * observed;
  }

  std::vector<ServerView> make_view() const {
    std::vector<ServerView> v(static_cast<std::size_t>(S));
    for (int i = 0; i < S; ++i) {
      const ServerState& s = servers[static_cast<std::size_t>(i)];
      ServerView& x = v[static_cast<std::size_t>(i)];
      x.host = i;
      x.blocks = s.blocks;
      x.alive = s.up && s.loaded;
      x.device = sc.nodes[static_cast<std::size_t>(i)].device;
      x.free_kv_bytes = s.kv_capacity - s.kv_reserved;
      x.active_sessions = s.active;
      x.utilization = utilization(i);
      x.uptime = uptime_estimate(i);
    }
    return v;
  }

  SwarmView swarm_view(const std::vector<ServerView>& views) const {
    return SwarmView{views, platform.get(), &sc.model, cost.get(), &sc.overheads, &sc.policy.compression};
  }

  /// Assigns the blocks of server i at its first join: fixed range, or the least-served window
  /// among the servers alive or loading now (Petals' rule).
  void assign_blocks(int i) {
    ServerState& st = servers[static_cast<std::size_t>(i)];
    if (st.assigned) return;
    const NodeSpec& node = sc.nodes[static_cast<std::size_t>(i)];
    if (node.blocks) {
      st.blocks = *node.blocks;
    } else {
      std::vector<ServedRange> served;
      for (int j = 0; j < S; ++j) {
        const ServerState& o = servers[static_cast<std::size_t>(j)];
        if (j != i && o.assigned && o.up)
          served.push_back({o.blocks, server_throughput(sc.nodes[static_cast<std::size_t>(j)], sc.model, *cost)});
      }
      const int span = blocks_that_fit(node, sc.model, sc.overheads);
      const int start = choose_least_served_start(block_throughputs(sc.model.n_layers, served), span);
      st.blocks = BlockRange{start, start + span};
    }
    st.assigned = true;
    st.weights_bytes = st.blocks.size() * sc.model.block_weight_bytes();
    st.kv_capacity = usable_memory_bytes(*node.device, sc.overheads) - st.weights_bytes;
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Actors
  // -------------------------------------------------------------------------------------------

  /// Runs on the server's own host; SimGrid kills it when the host goes down and restarts it
  /// (auto-restart) when the host comes back, so a restarted node reloads its weights.
  void server_actor(int i) {
    const NodeSpec& node = sc.nodes[static_cast<std::size_t>(i)];
    if (now() < node.join_at_s) sg4::this_actor::sleep_until(node.join_at_s);
    assign_blocks(i);
    ServerState& st = servers[static_cast<std::size_t>(i)];
    const double started = now();
    log(1, "server@" + node.name, "loading blocks " + st.blocks.str() + " (" + format_bytes(st.weights_bytes) + ")");
    sg4::this_actor::sleep_for(st.weights_bytes / node.weights_load_Bps);
    st.loaded = true;
    if (st.joined_at < 0) {
      st.joined_at = now();
      st.up_since = now();
    }
    log(1, "server@" + node.name, "serving blocks " + st.blocks.str());
    signals.on_node_joined(NodeJoined{now(), i, st.blocks, started});
    // Stay alive (a daemon does not keep the run going) so that SimGrid restarts this actor,
    // and the node reloads its blocks, when its host comes back up after a failure.
    sg4::this_actor::suspend();
  }

  /// Applies the replayed latency changes at their time and reports every network change.
  void replay_actor() {
    for (const ReplayEvent& e : sc.events) {
      if (e.action == EventAction::NodeDown || e.action == EventAction::NodeUp) continue;  // host state profiles
      sg4::this_actor::sleep_until(e.at_s);
      const int node = host_index(e.node);
      const int peer = e.peer.empty() ? -1 : host_index(e.peer);
      if (e.action == EventAction::SetLatency) {
        if (peer < 0)
          latencies->set_access(node, e.value);
        else
          latencies->set_pair(node, peer, e.value);
      }  // SetBandwidth: SimGrid's bandwidth profile changes the link at this very time
      log(1, "replay", std::string(to_string(e.action)) + " " + e.node + (peer >= 0 ? " <-> " + e.peer : ""));
      signals.on_link_changed(LinkChanged{now(), node, peer, e.action, e.direction, e.value});
    }
  }

  int host_index(const std::string& name) const {
    for (int h = 0; h < S + C; ++h)
      if (host_name(h) == name) return h;
    throw std::logic_error("unknown host " + name);  // the loader checked every name
  }

  /// Spawns each session on its client host at its arrival time, so memory follows the sessions
  /// in flight rather than the sessions of the whole run.
  void workload_actor() {
    for (int k = 0; k < sc.workload.sessions; ++k) {
      sg4::this_actor::sleep_until(arrivals[static_cast<std::size_t>(k)]);
      const int client = S + k % C;
      sg4::Actor::create("session-" + std::to_string(k), platform->host(client), [this, k] { session_actor(k); });
    }
  }

  /// Moves `payload` bytes of hidden states from host `from` to host `to`: the sender and the
  /// receiver (de)serialize and pay the per-message overhead, then SimGrid carries the bytes.
  void transfer(int from, int to, double payload, int session, int step) {
    const double t0 = now();
    const double bytes = payload + sc.overheads.header_bytes;
    const double cpu = sc.overheads.rpc_s + 2.0 * bytes / sc.overheads.serialization_Bps;
    if (cpu > 0) sg4::this_actor::sleep_for(cpu);
    // SimGrid 3.32 aborts when a communication starts towards a host that is off: check first.
    if (!platform->host(from)->is_on()) throw HostDown{from};
    if (!platform->host(to)->is_on()) throw HostDown{to};
    sg4::Comm::sendto(platform->host(from), platform->host(to), static_cast<std::uint64_t>(bytes));
    ++hops;
    signals.on_transfer(TransferSpan{t0, now(), from, to, session, step, bytes});
  }

  /// Runs `device_seconds` of work on host `host`'s device, shared with its other work.
  void compute(int host, double device_seconds, int session, int step, BlockRange blocks, const char* what) {
    if (device_seconds <= 0) return;
    if (!platform->host(host)->is_on()) throw HostDown{host};
    const double t0 = now();
    sg4::Host* h = platform->host(host);
    sg4::this_actor::exec_init(device_seconds * h->get_speed())->set_host(h)->wait();
    add_busy(host, device_seconds);
    signals.on_compute(ComputeSpan{t0, now(), host, session, step, blocks, what, device_seconds});
  }

  /// Chains are built by the most central alive server when the policy asks for an orchestrator:
  /// the client pays one request/response round trip to it.
  void orchestrator_round_trip(int client, int session) {
    if (orchestrator < 0 || !servers[static_cast<std::size_t>(orchestrator)].up) {
      orchestrator = -1;
      double best = std::numeric_limits<double>::infinity();
      for (int i = 0; i < S; ++i) {
        if (!servers[static_cast<std::size_t>(i)].up) continue;
        double sum = 0.0;
        for (int j = 0; j < S + C; ++j) sum += latencies->one_way(i, j);
        if (sum < best) {
          best = sum;
          orchestrator = i;
        }
      }
    }
    if (orchestrator < 0) return;
    transfer(client, orchestrator, 0.0, session, -1);
    transfer(orchestrator, client, 0.0, session, -1);
  }

  void end_session(int k, bool completed, const std::string& reason, int tokens) {
    if (session_ended[static_cast<std::size_t>(k)]) return;
    session_ended[static_cast<std::size_t>(k)] = 1;
    ++sessions_ended;
    last_session_end = now();
    if (!completed) log(1, "session-" + std::to_string(k), "failed: " + reason);
    signals.on_session_ended(SessionEnded{now(), k, completed, reason, tokens});
  }

  /// Counts a real kernel's measured wall time; returns it.
  double measure(double seconds) {
    real_measured_seconds += seconds;
    return seconds;
  }

  /// KV memory a session holds on one server, valid while the server's epoch is unchanged.
  struct Reservation {
    int server;
    int epoch;
    double bytes;
  };

  void session_actor(int k) {
    Rng rng = root_rng.split(static_cast<std::uint64_t>(k));
    const WorkloadSpec& w = sc.workload;
    const int client = S + k % C;
    const double arrival = now();
    const std::string who = "session-" + std::to_string(k) + "@" + host_name(client);
    signals.on_session_started(SessionStarted{arrival, k, client});

    const RouteRequest req{client, w.batch_size, w.prompt_tokens, w.new_tokens};
    const double kv_per_block = req.kv_bytes_per_block(sc.model);
    const double act_bytes = gpu::dtype_bytes(sc.model.activation_dtype);
    std::optional<Chain> chain;
    int attempt = 0;
    int tokens = 0;
    std::vector<Reservation> reservations;
    std::string stage = "routing";
    try {
      // Admission: find a chain of alive servers with KV memory, retrying until the timeout.
      while (true) {
        ++attempt;
        if (sc.policy.orchestrator) orchestrator_round_trip(client, k);
        const std::vector<ServerView> views = make_view();
        chain = router->route(swarm_view(views), req, rng);
        if (chain) break;
        if (now() + sc.policy.admission_retry_s > arrival + sc.policy.admission_timeout_s) {
          end_session(k, false,
                      "no chain of alive servers with free KV memory covers all " + std::to_string(sc.model.n_layers) +
                          " blocks (" + std::to_string(attempt) + " attempts over " +
                          format_duration(now() - arrival) + ")",
                      0);
          return;
        }
        sg4::this_actor::sleep_for(sc.policy.admission_retry_s);
      }
      ChainFormed formed{now(), k, attempt, {}, {}, chain->cost};
      for (const ChainHop& hop : chain->hops) {
        ServerState& st = servers[static_cast<std::size_t>(hop.server)];
        const double bytes = kv_per_block * hop.blocks.size();
        st.kv_reserved += bytes;
        st.kv_peak = std::max(st.kv_peak, st.kv_reserved);
        ++st.active;
        reservations.push_back({hop.server, st.epoch, bytes});
        formed.servers.push_back(hop.server);
        formed.ranges.push_back(hop.blocks);
      }
      signals.on_chain_formed(formed);
      if (verbosity >= 1) {
        std::string text;
        for (const ChainHop& hop : chain->hops) text += (text.empty() ? "" : " > ") + host_name(hop.server) + "[" + hop.blocks.str() + "]";
        log(1, who, "chain " + text);
      }

      // Prefill (step 0) then decode steps 1..new_tokens-1; each step goes client -> chain -> client.
      // With --execute real the values are computed too, and the measured times, scaled to each
      // simulated device, replace the priced ones.
      std::unique_ptr<RealModel::Session> values = real ? real->open(k) : nullptr;
      const gpu::DeviceSpec& client_dev = *sc.clients[static_cast<std::size_t>(k % C)].device;
      double last_token = arrival;
      for (int step = 0; step < w.new_tokens; ++step) {
        const int t = step == 0 ? w.prompt_tokens : 1;
        const int kv_len = step == 0 ? 0 : w.prompt_tokens + step - 1;
        // Hidden states of the step, compressed on the wire when the policy says so (seed 002, section 4).
        const double payload =
            sc.policy.compression.message_bytes(static_cast<double>(w.batch_size) * t * sc.model.hidden, act_bytes);
        stage = (step == 0 ? "prefill" : "decode step " + std::to_string(step));
        double embed_s = cost->embed_seconds(client_dev, sc.model, w.batch_size, t);
        if (values) embed_s = real->scale_embed(measure(real->embed(*values, step)), client_dev, w.batch_size, t);
        compute(client, embed_s, k, step, {}, "embed");
        int prev = client;
        for (const ChainHop& hop : chain->hops) {
          if (values) real->wire(*values);
          transfer(prev, hop.server, payload, k, step);
          const gpu::BlockWork work{w.batch_size, t, kv_len};
          const gpu::DeviceSpec& dev = *sc.nodes[static_cast<std::size_t>(hop.server)].device;
          double blocks_s = cost->blocks_seconds(dev, sc.model, work, hop.blocks.size());
          if (values)
            blocks_s = real->scale_blocks(measure(real->run_blocks(*values, hop.blocks, step)), dev, work, hop.blocks.size());
          compute(hop.server, blocks_s, k, step, hop.blocks, "blocks");
          prev = hop.server;
        }
        if (values) real->wire(*values);
        transfer(prev, client, payload, k, step);  // Petals returns the hidden states of every input position
        double head_s = cost->head_seconds(client_dev, sc.model, w.batch_size);
        if (values) head_s = real->scale_head(measure(real->head(*values)), client_dev, w.batch_size);
        compute(client, head_s, k, step, {}, "head");
        tokens += w.batch_size;
        signals.on_step(StepCompleted{now(), k, step, now() - last_token});
        log(2, who, stage + " done");
        last_token = now();
      }
      if (values && real->compares()) effects.push_back(real->effect(*values));
      release(reservations);
      end_session(k, true, "", tokens);
    } catch (const HostDown& d) {
      release(reservations);
      end_session(k, false, host_name(d.host) + " was down at " + stage, tokens);
    } catch (const simgrid::Exception&) {
      // SimGrid fails the activity at the instant a host on it goes off: name the chain hosts that
      // are off now.
      release(reservations);
      std::string down;
      if (chain)
        for (const ChainHop& hop : chain->hops)
          if (!platform->host(hop.server)->is_on()) down += (down.empty() ? "" : ", ") + host_name(hop.server);
      if (down.empty()) down = host_name(client);
      end_session(k, false, down + " went down during " + stage, tokens);
    }
  }

  void release(std::vector<Reservation>& reservations) {
    for (const Reservation& r : reservations) {
      ServerState& st = servers[static_cast<std::size_t>(r.server)];
      if (st.epoch != r.epoch) continue;  // the node went down since: its caches are already gone
      st.kv_reserved = std::max(0.0, st.kv_reserved - r.bytes);
      --st.active;
    }
    reservations.clear();
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Run
  // -------------------------------------------------------------------------------------------

  void on_host_state(const sg4::Host& h) {
    const int i = platform->index_of(&h);
    if (i < 0 || i >= S) return;
    ServerState& st = servers[static_cast<std::size_t>(i)];
    if (h.is_on() == st.up) return;
    st.up = h.is_on();
    if (!st.up) {
      if (st.joined_at >= 0) st.up_seconds += now() - st.up_since;
      st.loaded = false;
      ++st.epoch;
      st.kv_reserved = 0.0;
      st.active = 0;
    } else {
      st.up_since = now();
    }
    log(1, "swarm", host_name(i) + (st.up ? " is up" : " is down"));
    signals.on_node_state(NodeStateChanged{now(), i, st.up});
  }

  void draw_arrivals() {
    Rng rng = root_rng.split(0xA771u);
    arrivals.resize(static_cast<std::size_t>(sc.workload.sessions));
    double t = sc.workload.start_s;
    for (int k = 0; k < sc.workload.sessions; ++k) {
      switch (sc.workload.arrival) {
        case ArrivalProcess::AllAtStart: t = sc.workload.start_s; break;
        case ArrivalProcess::Fixed: t = sc.workload.start_s + k * sc.workload.interval_s; break;
        case ArrivalProcess::Poisson:
          if (k > 0) t += rng.exponential(sc.workload.rate_per_s);
          break;
      }
      arrivals[static_cast<std::size_t>(k)] = t;
    }
  }
};

// ---------------------------------------------------------------------------------------------
// [SECTION] Progress line
// ---------------------------------------------------------------------------------------------

namespace {

/// Prints "simulated time, sessions done, hops" to stderr at most twice a second once a run has
/// lasted a second; a terminal gets one updating line, a pipe a line every five seconds.
class ProgressLine {
 public:
  ProgressLine(RunOptions::Progress mode, int sessions)
      : enabled_(mode != RunOptions::Progress::Never),
        tty_(::isatty(2) != 0),
        sessions_(sessions),
        start_(std::chrono::steady_clock::now()) {}

  void tick(double sim_time, int done, std::uint64_t hops) {
    if (!enabled_ || (++calls_ & 1023) != 0) return;
    const auto t = std::chrono::steady_clock::now();
    const double wall = std::chrono::duration<double>(t - start_).count();
    const double every = tty_ ? 0.5 : 5.0;
    if (wall < 1.0 || wall - last_ < every) return;
    last_ = wall;
    shown_ = true;
    std::fprintf(stderr, "%s[swarmsim] simulated %s | sessions %d/%d done | %llu hops | %.1f s wall%s",
                 tty_ ? "\r" : "", format_duration(sim_time).c_str(), done, sessions_,
                 static_cast<unsigned long long>(hops), wall, tty_ ? "   " : "\n");
  }
  void finish() {
    if (shown_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_, tty_;
  int sessions_;
  std::chrono::steady_clock::time_point start_;
  std::uint64_t calls_ = 0;
  double last_ = 0.0;
  bool shown_ = false;
};

}  // namespace

SwarmSimulation::SwarmSimulation(Scenario scenario, std::shared_ptr<const gpu::ShardCostModel> cost)
    : impl_(std::make_unique<Impl>(std::move(scenario), std::move(cost))) {}

SwarmSimulation::~SwarmSimulation() = default;

SimSignals& SwarmSimulation::signals() { return impl_->signals; }

RunReport SwarmSimulation::run(const RunOptions& options) {
  Impl& m = *impl_;
  if (m.sc.graph) return run_pipeline(m.sc, options);  // a graph model runs as a pipeline of stages
  m.verbosity = options.verbosity;

  // SimGrid parses its own options from argv; keep its logging to warnings and above.
  std::vector<std::string> args{"swarmsim", "--log=root.thres:warning", "--log=xbt_cfg.thres:warning",
                                "--cfg=contexts/stack-size:512"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  sg4::Engine engine(&argc, argv.data());

  m.latencies = std::make_unique<LatencyTable>(m.sc);
  m.platform = std::make_unique<SwarmPlatform>(m.sc, *m.latencies);
  m.router = make_router(m.sc.policy);
  if (options.execute_real) {
    m.backend = gpu::make_backend(options.backend);
    m.real = std::make_unique<RealModel>(m.sc, *m.backend, m.cost, local_device_of(*m.backend));
  }
  m.servers.assign(static_cast<std::size_t>(m.S), ServerState{});
  m.session_ended.assign(static_cast<std::size_t>(m.sc.workload.sessions), 0);
  m.draw_arrivals();

  // Outputs subscribe to the signals like any other observer.
  RunMetrics metrics(m.sc, m.cost->pricing());
  metrics.connect(m.signals);
  std::unique_ptr<ChromeTraceWriter> trace;
  std::unique_ptr<EventLogWriter> events;
  if (!options.out_dir.empty()) {
    std::filesystem::create_directories(options.out_dir);
    if (m.sc.outputs.trace) {
      trace = std::make_unique<ChromeTraceWriter>(m.sc, options.out_dir / "trace.json");
      trace->connect(m.signals);
    }
    if (m.sc.outputs.events) {
      events = std::make_unique<EventLogWriter>(m.sc, options.out_dir / "events.jsonl");
      events->connect(m.signals);
    }
  }

  sg4::Host::on_state_change_cb([&m](const sg4::Host& h) { m.on_host_state(h); });
  ProgressLine progress(options.progress, m.sc.workload.sessions);
  sg4::Engine::on_time_advance_cb([&](double) { progress.tick(Impl::now(), m.sessions_ended, m.hops); });

  for (int i = 0; i < m.S; ++i) {
    sg4::ActorPtr a = sg4::Actor::create("server-" + m.sc.nodes[static_cast<std::size_t>(i)].name, m.platform->host(i),
                                         [&m, i] { m.server_actor(i); });
    a->daemonize();
    a->set_auto_restart(true);
  }
  sg4::Actor::create("replay", m.platform->control_host(), [&m] { m.replay_actor(); })->daemonize();
  sg4::Actor::create("workload", m.platform->control_host(), [&m] { m.workload_actor(); });

  const auto wall0 = std::chrono::steady_clock::now();
  engine.run_until(m.sc.time_limit_s);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  progress.finish();

  // SimGrid's run_until moves its clock to the limit even when the last actor finished earlier:
  // the run lasts until its last session ended, or until the limit when one was cut short.
  const bool all_ended = m.sessions_ended == m.sc.workload.sessions;
  const double sim_time = all_ended ? m.last_session_end : m.sc.time_limit_s;
  // Sessions the time limit cut short are failures with a reason, never silently lost.
  for (int k = 0; k < m.sc.workload.sessions; ++k)
    if (!m.session_ended[static_cast<std::size_t>(k)])
      m.end_session(k, false,
                    m.arrivals[static_cast<std::size_t>(k)] > sim_time ? "time limit reached before the session arrived"
                                                                       : "time limit reached",
                    0);

  std::vector<NodeSummary> nodes(static_cast<std::size_t>(m.S));
  for (int i = 0; i < m.S; ++i) {
    const ServerState& st = m.servers[static_cast<std::size_t>(i)];
    NodeSummary& n = nodes[static_cast<std::size_t>(i)];
    n.blocks = st.blocks;
    n.weights_bytes = st.weights_bytes;
    n.kv_peak_bytes = st.kv_peak;
    n.up_seconds = st.up_seconds + (st.up && st.joined_at >= 0 ? sim_time - st.up_since : 0.0);
  }
  RunReport report;
  report.metrics = metrics.to_json(sim_time, nodes, WallClock{wall});
  if (m.real) {
    // Compression's effect on values, against the uncompressed reference run (with the same tokens).
    nlohmann::json effect = nullptr;
    if (m.real->compares()) {
      double err_sum = 0, err_max = 0, kl_sum = 0, kl_max = 0;
      for (const CompressionEffect& e : m.effects) {
        err_sum += e.hidden_relative_error;
        kl_sum += e.logits_kl;
        err_max = std::max(err_max, e.hidden_relative_error);
        kl_max = std::max(kl_max, e.logits_kl);
      }
      const double n = std::max<std::size_t>(1, m.effects.size());
      effect = {{"sessions", m.effects.size()},
                {"hidden_relative_error", {{"mean", err_sum / n}, {"max", err_max}}},
                {"logits_kl", {{"mean", kl_sum / n}, {"max", kl_max}}}};
    }
    report.metrics["real_execution"] = {{"backend", m.backend->name()},
                                        {"device", m.backend->device_name()},
                                        {"compression_effect", effect}};
    if (m.real->int8_block_bytes() > 0) report.metrics["real_execution"]["int8_block_bytes"] = m.real->int8_block_bytes();
    report.metrics["wall_clock"]["real_kernel_seconds"] = m.real_measured_seconds;
  }
  report.simulated_time = sim_time;
  report.wall_seconds = wall;
  report.hops = m.hops;
  if (trace) {
    if (trace->dropped() > 0) report.metrics["trace_dropped_events"] = trace->dropped();
    trace->finish();
  }
  if (events) events->finish(sim_time);
  if (!options.out_dir.empty() && m.sc.outputs.metrics)
    write_file_atomically(options.out_dir / "metrics.json", report.metrics.dump(2) + "\n");
  return report;
}

}  // namespace swarmsim::sim
