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
#include <simgrid/s4u/ConditionVariable.hpp>
#include <simgrid/s4u/Mutex.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/swarm/latency_table.hpp"
#include "sim/engine/pipeline_simulation.hpp"
#include "sim/engine/coded_simulation.hpp"
#include "sim/engine/tree_simulation.hpp"
#include "sim/engine/swarm_dht.hpp"
#include "sim/flow/flow_pipeline.hpp"
#include "sim/flow/flow_coded.hpp"
#include "sim/flow/flow_tree.hpp"
#include "sim/flow/flow_simulation.hpp"
#include "sim/topology_monitor.hpp"
#include "sim/engine/swarm_platform.hpp"
#include "sim/metrics/run_metrics.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/output/chrome_trace.hpp"
#include "sim/output/event_log.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/real_execution.hpp"
#include "sim/rng.hpp"
#include "sim/routing/chain_router.hpp"
#include "sim/swarm/arrivals.hpp"
#include "sim/swarm/client_memory.hpp"
#include "sim/swarm/client_outages.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/request_queue.hpp"
#include "sim/swarm/server_load.hpp"
#include "sim/swarm/swarm_state.hpp"
#include "sim/swarm/session_plan.hpp"
#include "sim/swarm/training_step.hpp"
#include "sim/units.hpp"
#include "sim/verification/spot_check.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {
namespace {

/// A hop could not proceed because a host on it is down (detected before SimGrid would abort).
struct HostDown {
  int host;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// [SECTION] State
// ---------------------------------------------------------------------------------------------

/// A transfer ended without delivering: the receiver (or the sender) is gone.
enum class Delivery { Ok, ReceiverFailed, SenderFailed };

/// The server of hop `hop` of a session's chain failed; thrown inside a step, caught by recovery.
struct HopFailed {
  int hop;
  double since;  ///< when the session first saw it fail
};

/// Where the sessions of a data-parallel fine-tuning job meet (workload.fine_tuning.replicas):
/// each arrival waits until every session still training has arrived.
struct JobBarrier {
  int active = 0;       ///< sessions of the job still training
  int arrived = 0;      ///< of them, waiting at the barrier now
  long generation = 0;  ///< meetings completed
  sg4::MutexPtr mutex;
  sg4::ConditionVariablePtr cv;
};

struct SwarmSimulation::Impl {
  Scenario sc;
  ClientOutages outages;  ///< when each client is down: its sessions end with it
  std::shared_ptr<const gpu::ShardCostModel> cost;
  SimSignals signals;
  int S = 0, C = 0;
  std::unique_ptr<SwarmState> swarm;  ///< the servers' state (sim/swarm/swarm_state.hpp)
  std::unique_ptr<LatencyTable> latencies;
  std::unique_ptr<SwarmPlatform> platform;
  std::unique_ptr<ChainRouter> router;
  std::unique_ptr<SwarmDht> dht;  ///< policy.dht.enabled: servers are found through the DHT
  std::unique_ptr<TopologyMonitor> topology;  ///< policy.topology (sim/topology_monitor.hpp)
  Rng root_rng{1};
  std::vector<double> arrivals;
  std::vector<char> session_ended;
  std::unique_ptr<ClientMemoryGate> client_gate;   ///< sessions admitted to their client's memory (split learning)
  std::vector<double> client_bytes;                ///< per session: what it holds on its client, -1 until admitted
  std::vector<sg4::SemaphorePtr> memory_waiter;    ///< per session: released when its client's memory lets it in
  int sessions_ended = 0;
  double last_session_end = 0.0;  ///< when the last session ended: the run's simulated duration
  std::uint64_t hops = 0;
  /// No replayed event (bandwidth, latency, node down/up): no message can be lost or stall.
  bool static_network = false;
  int verbosity = 0;
  int orchestrator = -1;
  // --execute real
  std::unique_ptr<gpu::Backend> backend;
  std::unique_ptr<RealModel> real;
  std::vector<ValueEffect> effects;            ///< of completed sessions
  // data-parallel fine-tuning (workload.fine_tuning.replicas > 1)
  std::vector<JobBarrier> jobs;                ///< per job
  std::vector<const Chain*> training_chains;   ///< per session: its chain while it trains, else nullptr
  double real_measured_seconds = 0.0;          ///< wall time spent in real kernels

  Impl(Scenario s, std::shared_ptr<const gpu::ShardCostModel> c) : sc(std::move(s)), outages(sc), cost(std::move(c)) {
    S = static_cast<int>(sc.nodes.size());
    C = static_cast<int>(sc.clients.size());
    root_rng = Rng(sc.seed);
    static_network = sc.events.empty();
  }

  static double now() { return sg4::Engine::get_clock(); }

  double throughput(int i) const { return swarm->throughput(i); }

  std::string host_name(int h) const { return sim::host_name(sc, h); }

  void log(int level, const std::string& who, const std::string& msg) const {
    if (verbosity >= level) std::fprintf(stderr, "[%12.6f] (%s) %s\n", now(), who.c_str(), msg.c_str());
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Server state helpers
  // -------------------------------------------------------------------------------------------

  double utilization(int i) const { return swarm->utilization(i, now()); }
  void add_busy(int host, double device_seconds) { swarm->add_busy(host, now(), device_seconds); }
  bool declared_dead(int i) const { return swarm->declared_dead(i, now()); }
  double death_notice_time(int i) const { return swarm->death_notice_time(i, now()); }
  bool serves(int i, BlockRange blocks) const { return swarm->serves(i, blocks); }

  /// The servers as a router sees them; with the DHT, only those a lookup found, with the blocks
  /// they announced (a stale record leads to a server that no longer serves them).
  std::vector<ServerView> make_view(const std::vector<DhtServerRecord>* known = nullptr) const {
    std::vector<ServerView> v = swarm->view(now(), topology ? &topology->reliability() : nullptr);
    if (known) mask_by_directory(v, *known);
    return v;
  }

  SwarmView swarm_view(const std::vector<ServerView>& views) const {
    return SwarmView{views, platform.get(), &sc.model, cost.get(), &sc.overheads, &sc.policy.compression, 0, now()};
  }

  void assign_blocks(int i) { swarm->assign_blocks(i); }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Actors
  // -------------------------------------------------------------------------------------------

  /// Runs on the server's own host; SimGrid kills it when the host goes down and restarts it
  /// (auto-restart) when the host comes back, so a restarted node reloads its weights.
  void server_actor(int i) {
    const NodeSpec& node = sc.nodes[static_cast<std::size_t>(i)];
    if (now() < node.join_at_s) sg4::this_actor::sleep_until(node.join_at_s);
    assign_blocks(i);
    const ServerState& st = (*swarm)[i];
    const double started = now();
    log(1, "server@" + node.name, "loading blocks " + st.blocks.str() + " (" + format_bytes(st.weights_bytes) + ")");
    sg4::this_actor::sleep_for(st.weights_bytes / node.weights_load_Bps);
    swarm->finish_loading(i, now());
    log(1, "server@" + node.name, "serving blocks " + st.blocks.str());
    signals.on_node_joined(NodeJoined{now(), i, st.blocks, started});
    if (dht) dht->announce(i, st.blocks, throughput(i));
    // Stay alive (a daemon does not keep the run going) so that SimGrid restarts this actor,
    // and the node reloads its blocks, when its host comes back up after a failure.
    sg4::this_actor::suspend();
  }

  /// Dynamic rebalancing R: S x P -> S' (seed 002, eq. 3), with Petals' rule: every period, the
  /// "auto" server whose move to the least-served window (of its own size, given everyone else)
  /// raises the swarm's weakest block throughput the most moves, if the gain beats balance_quality
  /// (or the move covers blocks nobody serves). One move per period, so the swarm does not thrash.
  /// The mover drops its KV caches (its sessions recover elsewhere) and loads the new weights.
  void rebalance_actor() {
    while (true) {
      sg4::this_actor::sleep_for(sc.policy.rebalance.period_s);
      const BlockMove m = swarm->rebalance_move(now(), sc.policy.rebalance.balance_quality);
      if (m.server >= 0) move_server(m.server, m.to, m.before, m.after, "rebalance");
    }
  }

  /// Server `i` drops its KV caches and range, loads `to`, and serves it once loaded (a move of
  /// rebalancing or of a topology scheme); every move is a blocks_moved event.
  void move_server(int i, BlockRange to, double before, double after, const char* why) {
    const BlockRange from = swarm->begin_move(i, to);
    log(1, why, host_name(i) + " moves from blocks " + from.str() + " to " + to.str());
    signals.on_blocks_moved(BlocksMoved{now(), i, from, to, before, after});
    if (dht) dht->withdraw(i, from);
    const double started = now();
    sg4::Actor::create("reload-" + host_name(i), platform->host(i), [this, i, started] {
      const ServerState& s = (*swarm)[i];
      sg4::this_actor::sleep_for(s.weights_bytes / sc.nodes[static_cast<std::size_t>(i)].weights_load_Bps);
      if (!swarm->finish_move(i)) return;  // it went down meanwhile; its restart loads the new range
      log(1, "server@" + host_name(i), "serving blocks " + s.blocks.str());
      signals.on_node_joined(NodeJoined{now(), i, s.blocks, started});
      if (dht) dht->announce(i, s.blocks, throughput(i));
    })->daemonize();
  }

  /// Seed 002, sections 2.7 and 3.1: every period the swarm is snapshot (servers up, latency and
  /// bandwidth now), its PH features classified into a topology state, and that state's
  /// precomputed scheme applied to the "auto" servers; the H0 stability of each node becomes its
  /// reliability multiplier in eq. 18. Regret: the best precomputed scheme's throughput on this
  /// snapshot minus the chosen one's.
  void topology_actor() {
    while (true) {
      const auto bandwidth = [this](int from, int to) { return platform->bandwidth_Bps(from, to); };
      for (const BlockMove& m : topology->observe(now(), *swarm, *latencies, bandwidth))
        move_server(m.server, m.to, m.before, m.after, "topology");
      sg4::this_actor::sleep_for(sc.policy.topology.period_s);
    }
  }


  /// Applies the replayed latency changes at their time and reports every network change.
  void replay_actor() {
    std::vector<char> client_down(static_cast<std::size_t>(C), 0);
    for (const ReplayEvent& e : sc.events) {
      const bool state = e.action == EventAction::NodeDown || e.action == EventAction::NodeUp;
      if (state && host_index(e.node) < S) continue;  // a server's: its host state profile
      sg4::this_actor::sleep_until(e.at_s);
      const int node = host_index(e.node);
      if (state) {  // a client's: its sessions notice it (ClientOutages); the host itself stays on
        char& down = client_down[static_cast<std::size_t>(node - S)];
        if (down == (e.action == EventAction::NodeDown)) continue;
        down = e.action == EventAction::NodeDown;
        log(1, "swarm", host_name(node) + (down ? " is down" : " is up"));
        signals.on_node_state(NodeStateChanged{now(), node, !down});
        continue;
      }
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
      if (sc.workload.fine_tuning)
        sg4::Actor::create("session-" + std::to_string(k), platform->host(client), [this, k] { training_session_actor(k); });
      else
        sg4::Actor::create("session-" + std::to_string(k), platform->host(client), [this, k] { session_actor(k); });
    }
  }

  /// Software time of one message of `bytes` bytes from `from` to `to` before its bytes flow: the
  /// per-message RPC cost, (de)serialization at both ends, and the protocol's extra round trips.
  double software_s(int from, int to, double bytes) const {
    const OverheadSpec& o = sc.overheads;
    return o.rpc_s + 2.0 * bytes / o.serialization_Bps + o.round_trips * 2.0 * platform->latency_s(from, to);
  }

  /// Moves `payload` bytes of hidden states from host `from` to host `to`: the sender and the
  /// receiver (de)serialize and pay the per-message overhead, then SimGrid carries the bytes.
  void transfer(int from, int to, double payload, int session, int step) {
    const double t0 = now();
    const double bytes = payload + sc.overheads.header_bytes;
    const double cpu = software_s(from, to, bytes);
    const double latency = latency_factor(sc.network.model) * platform->latency_s(from, to);  // as SimGrid scales it
    const auto size = static_cast<std::uint64_t>(bytes);
    // The software time rides in the message's latency (one SimGrid activity instead of a sleep
    // and a send) unless the pair has no latency to scale.
    const bool fold = cpu > 0 && platform->can_fold_into_latency(from, to);
    if (cpu > 0 && !fold) sg4::this_actor::sleep_for(cpu);
    // SimGrid 3.32 aborts when a communication starts towards a host that is off: check first.
    if (!platform->host(from)->is_on()) throw HostDown{from};
    if (!platform->host(to)->is_on()) throw HostDown{to};
    if (fold) platform->fold_into_latency(from, to, size, cpu);
    try {
      sg4::Comm::sendto(platform->host(from), platform->host(to), size);
    } catch (const simgrid::Exception&) {
      throw HostDown{platform->host(from)->is_on() ? to : from};  // it went down on the way
    }
    ++hops;
    signals.on_transfer(TransferSpan{t0, now(), from, to, session, step, bytes, latency, cpu});
  }

  /// Moves `payload` bytes from `from` to `to` as a checked message (seed 003, "Error Handling"):
  /// an attempt the receiver does not acknowledge within the transfer timeout is retried after an
  /// exponential backoff, up to retry_attempts; a message whose FNV-1a checksum does not match
  /// (corruption drawn at corruption_rate) is sent again at once. A sender that is down cannot
  /// send at all. The client pays the timeouts: a crashed host answers nothing.
  Delivery deliver(int from, int to, double payload, int session, int step, Rng& rng, bool check = false) {
    const FaultToleranceSpec& f = sc.policy.faults;
    const double bytes = payload + sc.overheads.header_bytes;
    const double cpu = software_s(from, to, bytes) + 2.0 * bytes / f.checksum_Bps;  // FNV-1a at both ends
    // A transfer is late once it exceeds twice its expected time on the replayed network plus
    // the configured grace: big prefill messages are not cut off by a timeout sized for decode.
    const auto timeout_s = [&] {  // from the network as it is now
      return f.transfer_timeout_s + 2.0 * (platform->latency_s(from, to) + bytes / platform->bandwidth_Bps(from, to));
    };
    const auto size = static_cast<std::uint64_t>(bytes);
    int attempt = 1;
    for (int resent = 0; attempt <= f.retry_attempts;) {
      if (!platform->host(from)->is_on()) return Delivery::SenderFailed;
      const double t0 = now();
      const double latency = latency_factor(sc.network.model) * platform->latency_s(from, to);  // as SimGrid scales it
      // The software time rides in the message's latency (one SimGrid activity, not two) unless
      // the pair has no latency to scale; then the sender sleeps it first.
      const bool fold = cpu > 0 && platform->can_fold_into_latency(from, to);
      const double folded = fold ? cpu : 0.0;
      if (cpu > 0 && !fold) {
        sg4::this_actor::sleep_for(cpu);
        if (!platform->host(from)->is_on()) return Delivery::SenderFailed;
      }
      bool delivered = false;
      if (platform->host(to)->is_on()) {
        if (fold) platform->fold_into_latency(from, to, size, cpu);
        // SimGrid fails a send the instant an end goes down. On a replayed network the timed
        // wait also catches a transfer that never completes (SimGrid 3.32's LV08 model can stall
        // a flow whose link bandwidth changes twice while it is in flight), which is then retried
        // like a lost one; on a static network nothing can be lost, and a plain wait is cheaper.
        sg4::CommPtr comm = sg4::Comm::sendto_async(platform->host(from), platform->host(to), size);
        try {
          if (static_network)
            comm->wait();
          else
            comm->wait_for(folded + timeout_s());
          delivered = true;
        } catch (const simgrid::TimeoutException&) {
          comm->cancel();
        } catch (const simgrid::Exception&) {
          if (!platform->host(from)->is_on()) return Delivery::SenderFailed;
        }
      }
      if (delivered) {
        ++hops;
        signals.on_transfer(TransferSpan{t0, now(), from, to, session, step, bytes, latency, cpu, check});
        if (f.corruption_rate > 0 && rng.uniform() < f.corruption_rate && resent < 16) {
          ++resent;  // the receiver's FNV-1a differs: it asks for the message again
          signals.on_transfer_retried(TransferRetried{now(), from, to, session, step, attempt, "checksum", false});
          continue;
        }
        return Delivery::Ok;
      }
      // Not acknowledged: the sender waits out the timeout, then backs off.
      const double waited = now() - t0;
      if (const double timeout = timeout_s(); waited < timeout) sg4::this_actor::sleep_for(timeout - waited);
      const bool last = attempt == f.retry_attempts;
      signals.on_transfer_retried(TransferRetried{now(), from, to, session, step, attempt, "timeout", last});
      if (last) break;
      sg4::this_actor::sleep_for(f.retry_backoff_s * std::pow(2.0, attempt - 1));
      ++attempt;
    }
    return Delivery::ReceiverFailed;
  }

  /// Runs `device_seconds` of work on host `host`'s device, shared with its other work.
  void compute(int host, double device_seconds, int session, int step, BlockRange blocks, const char* what,
               const gpu::BlockWork* work = nullptr) {
    if (device_seconds <= 0) return;
    if (!platform->host(host)->is_on()) throw HostDown{host};
    if (host < S && sc.policy.scheduler.kind != SchedulerKind::Shared) {
      queued_compute(host, device_seconds, session, step, blocks, what, work);
      return;
    }
    const double t0 = now();
    sg4::Host* h = platform->host(host);
    sg4::this_actor::exec_init(device_seconds * h->get_speed())->set_host(h)->wait();
    add_busy(host, device_seconds);
    signals.on_compute(ComputeSpan{t0, now(), host, session, step, blocks, what, device_seconds});
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Server schedulers (fcfs, priority, batch)
  // -------------------------------------------------------------------------------------------

  /// One request for device time on a server, waiting in its queue.
  struct Job : QueuedRequest {
    using QueuedRequest::QueuedRequest;
    bool done = false, failed = false;
    sg4::SemaphorePtr ready = sg4::Semaphore::create(0);
  };
  struct ServerQueue {
    std::vector<std::shared_ptr<Job>> jobs;
    sg4::SemaphorePtr pending = sg4::Semaphore::create(0);  ///< one unit per queued job
    std::uint64_t next_seq = 0;
  };
  std::vector<ServerQueue> queues;
  std::vector<double> session_deadline;
  std::vector<double> session_arrival;  ///< per session: when it arrived (its client must stay up from then on)
  std::vector<int> session_priority;

  /// Puts the work in server `host`'s queue and waits for its worker to run it. A server that
  /// goes down fails its queued work: the session sees HostDown.
  void queued_compute(int host, double seconds, int session, int step, BlockRange blocks, const char* what,
                      const gpu::BlockWork* work) {
    ServerQueue& q = queues[static_cast<std::size_t>(host)];
    auto job = std::make_shared<Job>(seconds, session, step, blocks, what, work, session_deadline[static_cast<std::size_t>(session)],
                                     session_priority[static_cast<std::size_t>(session)]);
    job->seq = q.next_seq++;
    q.jobs.push_back(job);
    q.pending->release();
    const double queued_at = now();
    while (!job->done && !job->failed) {
      job->ready->acquire_timeout(1.0);  // polls: a crashed worker cannot release anyone
      // Lost if the server went down since (also when it is back: the batch it was running died with it).
      if (!job->done && (!platform->host(host)->is_on() || (*swarm)[host].down_since >= queued_at)) job->failed = true;
    }
    if (job->failed) throw HostDown{host};
  }

  /// The worker of server i's queue: runs on the server's host (killed with it, restarted with it).
  void scheduler_actor(int i) {
    ServerQueue& q = queues[static_cast<std::size_t>(i)];
    // A restart finds the work queued before the crash lost with the device's state.
    for (auto& j : q.jobs) {
      j->failed = true;
      j->ready->release();
    }
    q.jobs.clear();
    while (!q.pending->would_block()) q.pending->acquire();
    const SchedulerSpec& spec = sc.policy.scheduler;
    sg4::Host* h = platform->host(i);
    const gpu::DeviceSpec& dev = *sc.nodes[static_cast<std::size_t>(i)].device;
    while (true) {
      q.pending->acquire();
      if (q.jobs.empty()) continue;
      if (waits_for_batch(q.jobs, spec)) sg4::this_actor::sleep_for(spec.batch_wait_s);  // let a batch fill
      const std::vector<std::shared_ptr<Job>> batch = take_next(q.jobs, spec);
      for (std::size_t b = 1; b < batch.size(); ++b)
        if (!q.pending->would_block()) q.pending->acquire();  // its unit: it is served in this batch
      const double seconds = batch_seconds(batch, dev, sc.model, *cost);
      const double t0 = now();
      sg4::this_actor::exec_init(seconds * h->get_speed())->set_host(h)->wait();
      add_busy(i, seconds);
      const double share = seconds / static_cast<double>(batch.size());
      for (const auto& j : batch) {
        signals.on_compute(ComputeSpan{t0, now(), i, j->session, j->step, j->blocks, j->what, share});
        j->done = true;
        j->ready->release();
      }
    }
  }

  /// Chains are built by the most central alive server when the policy asks for an orchestrator:
  /// the client pays one request/response round trip to it.
  void orchestrator_round_trip(int client, int session) {
    if (orchestrator < 0 || !(*swarm)[orchestrator].up)
      orchestrator = most_central_server(*latencies, S, [this](int i) { return (*swarm)[i].up; });
    if (orchestrator < 0) return;
    transfer(client, orchestrator, 0.0, session, -1);
    transfer(orchestrator, client, 0.0, session, -1);
  }

  void end_session(int k, bool completed, const std::string& reason, int tokens, bool abandoned = false, bool client_lost = false) {
    if (session_ended[static_cast<std::size_t>(k)]) return;
    session_ended[static_cast<std::size_t>(k)] = 1;
    ++sessions_ended;
    last_session_end = now();
    if (!completed) log(1, "session-" + std::to_string(k), (abandoned || client_lost ? "" : "failed: ") + reason);
    signals.on_session_ended(SessionEnded{now(), k, completed, reason, tokens, 0, abandoned, client_lost});
    // Its client's memory lets the sessions waiting for it in, in their order.
    std::vector<int> admitted;
    if (client_bytes[static_cast<std::size_t>(k)] >= 0)
      client_gate->release(k % C, client_bytes[static_cast<std::size_t>(k)], admitted);
    for (const int a : admitted) memory_waiter[static_cast<std::size_t>(a)]->release();
  }

  /// Session k's user left before `step` without closing it: the client sends nothing more, and
  /// its servers hold the session's KV caches until their step timeout (policy.faults.session_timeout).
  void abandon(int k, int step, std::vector<Reservation>& reservations, int tokens) {
    end_session(k, false, abandon_reason(step), tokens, true);
    hold_until_step_timeout(k, reservations);
  }

  /// Whether session k's client, host `client`, went down since the session arrived (ClientOutages),
  /// even if it is back: the session ends with it at its next step, routing attempt or answer.
  bool client_gone(int k, int client) const { return outages.down_within(client, session_arrival[static_cast<std::size_t>(k)], now()); }

  /// Session k ends with its client, which went down during `stage`: nothing more comes from it,
  /// and its servers hold the session's KV caches until their step timeout, as for a user who left.
  void lose_with_client(int k, int client, const std::string& stage, std::vector<Reservation>& reservations, int tokens) {
    const double since = outages.down_since(client, session_arrival[static_cast<std::size_t>(k)], now());
    end_session(k, false, client_lost_reason(host_name(client), since, stage), tokens, false, true);
    hold_until_step_timeout(k, reservations);
  }

  /// The servers of session k, which ended without closing, free its reservations after their step
  /// timeout (policy.faults.session_timeout).
  void hold_until_step_timeout(int k, std::vector<Reservation>& reservations) {
    const double timeout = sc.policy.faults.session_timeout_s;
    if (timeout <= 0) {
      release(reservations);
      return;
    }
    auto held = std::make_shared<std::vector<Reservation>>(std::move(reservations));
    sg4::Actor::create("timeout-" + std::to_string(k), platform->control_host(), [this, held, timeout] {
      sg4::this_actor::sleep_for(timeout);
      release(*held);
    })->daemonize();
  }

  /// Waits until session k's client can hold it (ClientMemoryGate): at once unless its earlier
  /// sessions fill the client's memory.
  void take_client_memory(int k, const SessionShape& shape) {
    const double bytes = client_session_bytes(sc, shape);
    client_bytes[static_cast<std::size_t>(k)] = bytes;
    if (client_gate->admit(shape.client - S, k, bytes)) return;
    sg4::SemaphorePtr& wake = memory_waiter[static_cast<std::size_t>(k)];
    wake = sg4::Semaphore::create(0);
    wake->acquire();
  }

  /// Counts a real kernel's measured wall time; returns it.
  double measure(double seconds) {
    real_measured_seconds += seconds;
    return seconds;
  }


  void reserve(const std::vector<ChainHop>& hops, double kv_per_block, std::vector<Reservation>& reservations) {
    swarm->reserve(hops, kv_per_block, reservations);
  }
  bool lost_cache(int server, const std::vector<Reservation>& reservations) const { return swarm->lost_cache(server, reservations); }
  void release_one(int server, std::vector<Reservation>& reservations) { swarm->release_one(server, reservations); }
  void release(std::vector<Reservation>& reservations) { swarm->release(reservations); }

  /// Routes a chain (or a span of one), retrying until the admission timeout counted from `since`.
  /// A server the session saw fail is avoided until it restarts (a new incarnation reloaded its blocks).
  std::optional<Chain> route_with_retries(RouteRequest req, Rng& rng, double since, int& attempt, int client, int k,
                                          const std::vector<std::pair<int, int>>* failed_seen = nullptr) {
    while (true) {
      if (client_gone(k, client)) return std::nullopt;  // nobody is left to route for
      ++attempt;
      if (sc.policy.orchestrator) orchestrator_round_trip(client, k);
      req.avoid.clear();
      if (failed_seen)
        for (const auto& [server, incarnation] : *failed_seen)
          if ((*swarm)[server].incarnation == incarnation) req.avoid.push_back(server);
      std::vector<DhtServerRecord> known;
      if (dht) known = dht->servers_for(client, BlockRange{sc.first_served_block(), sc.model.n_layers}, attempt > 1 || !req.avoid.empty());
      std::optional<Chain> chain;
      if (dht) {  // each lookup finds its own servers
        const std::vector<ServerView> views = make_view(&known);
        chain = router->route(swarm_view(views), req, rng);
      } else {  // the swarm's view kept from route to route (routing does not yield to other actors)
        SwarmView view = swarm_view(swarm->routing_view(now(), topology ? &topology->reliability() : nullptr));
        view.layout = swarm->routing_layout();
        chain = router->route(view, req, rng);
      }
      if (chain) return chain;
      const double wait = admission_wait_s(sc, rng);
      if (now() + wait > since + sc.policy.admission_timeout_s) return std::nullopt;
      sg4::this_actor::sleep_for(wait);
    }
  }

  /// Petals' recovery after `failed` at step `step`: drops the failed server, routes a replacement
  /// for its span between its neighbours, and splices it into the chain, its hops marked in
  /// `needs_replay`. An inference session's replacements replay `kv_len` tokens from the client's
  /// cache; a training session's (`training`) restore the adapters instead. Returns the hop the
  /// step resumes at, from the client, or -1 when no replacement was found: the session has ended.
  int recover(const SessionRoute& s, const HopFailed& failed, int step, int kv_len, bool training, std::vector<char>& needs_replay,
              std::string& stage, int tokens) {
    const ChainRepair repair = begin_repair(*swarm, s.req, s.chain, failed.hop, s.reservations, s.failed_seen);
    const ChainHop lost = repair.lost;
    stage = "recovery of " + host_name(lost.server) + " at " + stage;
    std::optional<Chain> sub = route_with_retries(repair.span, s.rng, now(), s.attempt, s.client, s.k, &s.failed_seen);
    if (!sub && client_gone(s.k, s.client)) {
      lose_with_client(s.k, s.client, stage, s.reservations, tokens);
      return -1;
    }
    if (!sub) {
      release(s.reservations);
      if (training) leave_job(s.k);
      end_session(s.k, false, repair_failure(host_name(lost.server), step, lost.blocks, training), tokens);
      return -1;
    }
    reserve(sub->hops, s.held_per_block, s.reservations);
    splice_repair(s.chain, needs_replay, repair, *sub, training ? 1 : kv_len);  // training: every replacement restores adapters
    signals.on_session_recovered(recovered_event(now(), s.k, step, training ? 0 : kv_len, sc.workload.batch_size, repair, *sub,
                                                 (*swarm)[lost.server], failed.since));
    log(1, s.who, "recovered from " + host_name(lost.server) + " with " + std::to_string(sub->hops.size()) + " replacement hop(s)");
    return repair.hop;
  }

  /// Session k arrives now: what it asks for, announced to the observers and to the schedulers.
  SessionShape arrive(int k) {
    const SessionShape shape = session_shape(sc, k, now());
    signals.on_session_started(SessionStarted{now(), k, shape.client});
    session_deadline[static_cast<std::size_t>(k)] = shape.deadline;
    session_arrival[static_cast<std::size_t>(k)] = now();
    session_priority[static_cast<std::size_t>(k)] = shape.priority;
    return shape;
  }

  void session_actor(int k) {
    Rng rng = root_rng.split(static_cast<std::uint64_t>(k));
    const WorkloadSpec& w = sc.workload;
    const double arrival = now();
    const SessionShape shape = arrive(k);
    const int client = shape.client;
    std::vector<Reservation> reservations;
    if (client_gone(k, client)) return lose_with_client(k, client, "arrival", reservations, 0);
    take_client_memory(k, shape);
    if (client_gone(k, client)) return lose_with_client(k, client, "waiting for its client's memory", reservations, 0);
    const std::string who = "session-" + std::to_string(k) + "@" + host_name(client);
    const int prompt_tokens = shape.prompt_tokens, new_tokens = shape.new_tokens;
    const RouteRequest& req = shape.request;
    const double kv_per_block = shape.kv_per_block;
    std::optional<Chain> chain;
    int attempt = 0;
    int tokens = 0;
    std::vector<std::pair<int, int>> failed_seen;  // (server, incarnation) this session saw fail
    std::string stage = "routing";
    try {
      // Admission: find a chain of alive servers with KV memory, retrying until the timeout.
      chain = route_with_retries(req, rng, arrival, attempt, client, k);
      if (!chain && client_gone(k, client)) return lose_with_client(k, client, stage, reservations, 0);
      if (!chain) {
        end_session(k, false, admission_failure(sc, attempt, now() - arrival), 0);
        return;
      }
      reserve(chain->hops, kv_per_block, reservations);
      signals.on_chain_formed(chain_formed_event(now(), k, attempt, *chain));
      if (verbosity >= 1) log(1, who, "chain " + chain_text(sc, *chain));

      // Prefill (step 0) then decode steps 1..new_tokens-1; each step goes client -> chain -> client.
      // With --execute real the values are computed too, and the measured times, scaled to each
      // simulated device, replace the priced ones.
      std::unique_ptr<RealModel::Session> values = real ? real->open(k) : nullptr;
      const gpu::DeviceSpec& client_dev = *sc.clients[static_cast<std::size_t>(k % C)].device;
      double last_token = arrival;
      std::vector<char> needs_replay(chain->hops.size(), 0);
      const SessionRoute route{k, client, req, kv_per_block, rng, *chain, reservations, failed_seen, attempt, who};
      for (int step = 0; step < new_tokens; ++step) {
        stage = (step == 0 ? "prefill" : "decode step " + std::to_string(step));
        if (client_gone(k, client)) return lose_with_client(k, client, "before " + stage, reservations, tokens);
        if (step == shape.abandon_step) {
          abandon(k, step, reservations, tokens);
          return;
        }
        const int t = step == 0 ? prompt_tokens : 1;
        const int kv_len = step == 0 ? 0 : prompt_tokens + step - 1;
        bool corrupted = false;  // a dishonest server returned a wrong output on this step's chain
        // Hidden states of the step, compressed on the wire when the policy says so (seed 002, section 4).
        const double payload = hidden_state_bytes(sc, t);
        double embed_s = cost->embed_seconds(client_dev, sc.model, w.batch_size, t);
        if (values) embed_s = real->scale_embed(measure(real->embed(*values, step)), client_dev, w.batch_size, t);
        compute(client, embed_s, k, step, {}, "embed");
        if (const int mine = sc.first_served_block(); mine > 0) {  // split learning: the client runs blocks [0, k) (seed 002, eq. 22)
          const gpu::BlockWork work{w.batch_size, t, kv_len};
          double mine_s = cost->blocks_seconds(client_dev, sc.model, work, mine);
          if (values)
            mine_s = real->scale_blocks(measure(real->run_blocks(*values, BlockRange{0, mine}, step)), client_dev, work, mine);
          compute(client, mine_s, k, step, {}, "client_blocks");
        }
        if (values) real->release(*values);  // with differential privacy, clipped and noised (eq. 25)
        int prev = client;
        std::size_t h = 0;
        while (h <= chain->hops.size()) {
          const bool to_client = h == chain->hops.size();
          try {
            if (to_client) {  // the last server returns the hidden states of every input position
              if (values) real->wire(*values);
              const Delivery d = deliver(prev, client, payload, k, step, rng);
              if (d != Delivery::Ok) throw HopFailed{static_cast<int>(h) - 1, now()};
              break;
            }
            const ChainHop hop = chain->hops[h];
            if (platform->host(hop.server)->is_on() && (!serves(hop.server, hop.blocks) || lost_cache(hop.server, reservations)))
              throw HopFailed{static_cast<int>(h), now()};  // it moved its blocks or restarted: it says so at once
            if (needs_replay[h]) {
              // Rebuild the KV cache of a replacement server: the client replays the inputs of every
              // position before this step from its cache, and the server runs them as a prefill.
              const double replay_bytes = hidden_state_bytes(sc, kv_len);
              if (deliver(client, hop.server, replay_bytes, k, step, rng) != Delivery::Ok) throw HopFailed{static_cast<int>(h), now()};
              const gpu::DeviceSpec& dev = *sc.nodes[static_cast<std::size_t>(hop.server)].device;
              try {
                compute(hop.server, cost->blocks_seconds(dev, sc.model, gpu::BlockWork{w.batch_size, kv_len, 0}, hop.blocks.size()), k,
                        step, hop.blocks, "replay");
              } catch (const simgrid::Exception&) {
                throw HostDown{hop.server};  // it went down while rebuilding the cache: the session ends
              }
              needs_replay[h] = 0;
            }
            if (values) real->wire(*values);
            const Delivery d = deliver(prev, hop.server, payload, k, step, rng);
            if (d == Delivery::SenderFailed) throw HopFailed{static_cast<int>(h) - 1, now()};
            if (d == Delivery::ReceiverFailed) throw HopFailed{static_cast<int>(h), now()};
            const gpu::BlockWork work{w.batch_size, t, kv_len};
            const gpu::DeviceSpec& dev = *sc.nodes[static_cast<std::size_t>(hop.server)].device;
            double blocks_s = cost->blocks_seconds(dev, sc.model, work, hop.blocks.size());
            if (values)
              blocks_s = real->scale_blocks(measure(real->run_blocks(*values, hop.blocks, step)), dev, work, hop.blocks.size());
            // Seed 002, section 6: a dishonest server may return a wrong output, a lazy one without computing.
            const OutputId output = output_of(sc, hop.server, k, step, now());
            const bool wrong = output != kRightOutput;
            if (skips_work(sc, hop.server, output)) blocks_s = 0;
            bool crashed = false;
            try {
              compute(hop.server, blocks_s, k, step, hop.blocks, "blocks", &work);
            } catch (const HostDown&) {
              crashed = true;
            } catch (const simgrid::Exception&) {
              crashed = true;
            }
            if (crashed) {
              // The client hears nothing: it gives up when its response timeout expires or when the
              // swarm declares the server dead (missed heartbeats), whichever comes first.
              const double since = now();
              const double notice = std::min(since + sc.policy.faults.transfer_timeout_s, death_notice_time(hop.server));
              if (notice > now()) sg4::this_actor::sleep_until(notice);
              throw HopFailed{static_cast<int>(h), since};
            }
            // The client spot-checks some hops off the critical path.
            corrupted = corrupted || wrong;
            if (spot_checks(sc, k, step, hop.server)) {
              const SpotCheck c{client, k, step, hop.server, hop.blocks, t, kv_len, output};
              sg4::Actor::create("check-" + std::to_string(k), platform->host(client), [this, c] { check_actor(c); });
            }
            prev = hop.server;
            ++h;
          } catch (const HopFailed& failed) {
            const int resume = recover(route, failed, step, kv_len, false, needs_replay, stage, tokens);
            if (resume < 0) return;
            stage = (step == 0 ? "prefill" : "decode step " + std::to_string(step));
            h = static_cast<std::size_t>(resume);
            prev = client;  // the client resends this step's input to the new span from its cache
          }
        }
        if (client_gone(k, client)) return lose_with_client(k, client, stage, reservations, tokens);  // its answer finds nobody
        double head_s = cost->head_seconds(client_dev, sc.model, w.batch_size);
        if (values) head_s = real->scale_head(measure(real->head(*values)), client_dev, w.batch_size);
        compute(client, head_s, k, step, {}, "head");
        tokens += w.batch_size;
        signals.on_step(StepCompleted{now(), k, step, now() - last_token, corrupted});
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
      release(reservations);
      end_session(k, false, host_name(client) + " failed during " + stage, tokens);
    }
  }

  /// Waits at `b` until every session of the job still training is there.
  static void job_arrive(JobBarrier& b) {
    std::unique_lock<sg4::Mutex> lock(*b.mutex);
    const long generation = b.generation;
    if (++b.arrived >= b.active) {
      b.arrived = 0;
      ++b.generation;
      b.cv->notify_all();
      return;
    }
    while (generation == b.generation) b.cv->wait(lock);
  }
  /// A session leaves its job for good (it ended): the others stop waiting for it.
  static void job_leave(JobBarrier& b) {
    std::unique_lock<sg4::Mutex> lock(*b.mutex);
    --b.active;
    if (b.arrived > 0 && b.arrived >= b.active) {
      b.arrived = 0;
      ++b.generation;
      b.cv->notify_all();
    }
  }

  /// Session k stops training (it ended): its job no longer waits for it or reads its chain.
  void leave_job(int k) {
    if (jobs.empty()) return;
    training_chains[static_cast<std::size_t>(k)] = nullptr;
    job_leave(jobs[static_cast<std::size_t>(sc.workload.fine_tuning->job_of(k))]);
  }

  /// Session k's part of its job's synchronization after step `step` (seed 002, section 2.4.2, step
  /// 3): it waits for the job's other sessions, its servers send their adapters to the servers of
  /// the other sessions' chains that hold the same blocks (each server its messages one after
  /// another, all servers at once), and it waits until every session's messages arrived. Under
  /// ZeRO (seed 002, section 2) that happens twice: gradient shards, then parameter shards.
  void sync_adapters(int k, int step, const Chain& chain, const TrainingStep& price) {
    const FineTuningSpec& ft = *sc.workload.fine_tuning;
    JobBarrier& job = jobs[static_cast<std::size_t>(ft.job_of(k))];
    const double t0 = now();
    job_arrive(job);
    std::vector<AdapterExchange> sends;
    int with = 1;  // the sessions still training: each is at this meeting
    const int mine = sc.first_served_block();  // split learning: the clients' blocks too
    for (int p = ft.job_of(k) * ft.replicas; p < (ft.job_of(k) + 1) * ft.replicas; ++p)
      if (const Chain* peer = training_chains[static_cast<std::size_t>(p)]; p != k && peer) {
        ++with;
        for (const AdapterExchange& x : adapter_exchanges(with_client_blocks(chain, S + k % C, mine), with_client_blocks(*peer, S + p % C, mine)))
          sends.push_back(x);
      }
    std::stable_sort(sends.begin(), sends.end(), [](const AdapterExchange& a, const AdapterExchange& b) { return a.from < b.from; });
    double sent = 0.0;
    std::vector<int> unreachable;  // servers that acknowledged nothing: not sent to again in this synchronization
    for (int round = 0; round < price.sync_rounds(); ++round) {
      if (round > 0) job_arrive(job);  // ZeRO: each shard's owner has every gradient of it and updates it
      std::vector<sg4::ActorPtr> senders;
      for (std::size_t i = 0; i < sends.size(); ++i) {
        if (i > 0 && sends[i].from == sends[i - 1].from) continue;  // the first message of each server
        senders.push_back(sg4::Actor::create("sync-" + std::to_string(k), platform->host(S + k % C),
                                             [this, &sends, &sent, &unreachable, &price, i, k, step, with, round] {
          Rng rng = Rng(sc.seed ^ 0x5F4C0000ULL).split((static_cast<std::uint64_t>(k) << 32) ^ static_cast<std::uint64_t>(step)).split(i);
          if (round > 0) rng = rng.split(static_cast<std::uint64_t>(round));
          for (std::size_t j = i; j < sends.size() && sends[j].from == sends[i].from; ++j) {
            if (std::find(unreachable.begin(), unreachable.end(), sends[j].to) != unreachable.end()) continue;
            const double bytes = price.sync_bytes(sends[j].blocks.size(), with);
            const Delivery d = deliver(sends[j].from, sends[j].to, bytes, k, step, rng);
            if (d == Delivery::Ok) sent += bytes;
            if (d == Delivery::ReceiverFailed) unreachable.push_back(sends[j].to);
          }
        }));
      }
      for (const sg4::ActorPtr& a : senders) a->join();
    }
    job_arrive(job);  // every server now holds its peers' adapters (or shards) and averages (or takes) them
    signals.on_adapters_synced(AdaptersSynced{now(), k, step, sent, now() - t0, ft.job_of(k), with});
  }

  /// How replacement `hop` of session k can copy its adapters from a peer replica: the messages
  /// from the first other session of its job whose chain holds all of the hop's blocks on servers
  /// that are up; nullopt when none does (or the session has no job).
  std::optional<PeerCopies> copies_from_a_peer(int k, const ChainHop& hop) const {
    if (jobs.empty()) return std::nullopt;
    const FineTuningSpec& ft = *sc.workload.fine_tuning;
    for (int p = ft.job_of(k) * ft.replicas; p < (ft.job_of(k) + 1) * ft.replicas; ++p) {
      const Chain* peer = training_chains[static_cast<std::size_t>(p)];
      if (p == k || !peer) continue;
      auto copies = peer_copies(*peer, hop.server, hop.blocks);
      if (copies && std::all_of(copies->begin(), copies->end(), [&](const AdapterExchange& x) { return platform->host(x.from)->is_on(); }))
        return PeerCopies{p, std::move(*copies)};
    }
    return std::nullopt;
  }

  /// Gives replacement `hop` of session k the session's adapters of its blocks: a peer replica's
  /// (data-parallel jobs), which loses only the session's updates since the job's last averaging,
  /// else the client's last checkpoint, or a fresh start without one. False when the replacement
  /// did not receive them (it failed).
  bool restore_adapters(int k, int step, const ChainHop& hop, AdapterLedger& adapters, const TrainingStep& price, Rng& rng) {
    if (const auto copies = copies_from_a_peer(k, hop)) {
      double bytes = 0.0;
      Delivery d = Delivery::Ok;
      for (std::size_t i = 0; i < copies->messages.size() && d == Delivery::Ok; ++i) {
        const AdapterExchange& x = copies->messages[i];
        d = deliver(x.from, x.to, price.checkpoint_bytes(x.blocks.size()), k, step, rng);
        if (d == Delivery::Ok) bytes += price.checkpoint_bytes(x.blocks.size());
      }
      if (d == Delivery::ReceiverFailed) return false;
      if (d == Delivery::Ok) {  // a peer that failed on the way leaves it to the client's checkpoint
        const int lost = adapters.restore_from_peer(hop.blocks);
        signals.on_adapters_moved(AdaptersMoved{now(), k, step - 1, hop.server, hop.blocks, bytes, true, lost, true, copies->peer});
        return true;
      }
    }
    const AdapterLedger::Restore r = adapters.restore(hop.blocks);
    const double bytes = price.checkpoint_bytes(r.checkpointed_blocks);
    if (bytes > 0 && deliver(S + k % C, hop.server, bytes, k, step, rng) != Delivery::Ok) return false;
    signals.on_adapters_moved(AdaptersMoved{now(), k, step - 1, hop.server, hop.blocks, bytes, true, r.updates_lost});
    return true;
  }

  /// A fine-tuning session (workload.fine_tuning, seed 002 section 2.4). Each training step runs
  /// forward legs client -> hop 0 -> ... -> hop H-1 -> client (the loss), then backward legs
  /// client -> hop H-1 -> ... -> hop 0 -> client (an acknowledgement: the embeddings are frozen).
  /// A server that fails is replaced as in inference (Petals' recovery); the replacement restores
  /// the adapters of its blocks from the client's last checkpoint, and the step restarts its
  /// forward pass at the replaced hop from the client's cached inputs. Servers whose backward leg
  /// had finished before the failure apply a second update on the retried step.
  void training_session_actor(int k) {
    Rng rng = root_rng.split(static_cast<std::uint64_t>(k));
    const FineTuningSpec& ft = *sc.workload.fine_tuning;
    const double arrival = now();
    const SessionShape shape = arrive(k);
    take_client_memory(k, shape);
    const int client = shape.client;
    const std::string who = "session-" + std::to_string(k) + "@" + host_name(client);
    const RouteRequest& req = shape.request;
    const TrainingStep price(sc, *cost);
    AdapterLedger adapters(sc.model.n_layers, ft.checkpoint_every);
    std::optional<Chain> chain;
    int attempt = 0, tokens = 0;
    std::vector<Reservation> reservations;
    std::vector<std::pair<int, int>> failed_seen;
    std::string stage = "routing";
    try {
      chain = route_with_retries(req, rng, arrival, attempt, client, k);
      if (!chain) {
        leave_job(k);
        end_session(k, false, admission_failure(sc, attempt, now() - arrival), 0);
        return;
      }
      reserve(chain->hops, shape.kv_per_block, reservations);
      if (!training_chains.empty()) training_chains[static_cast<std::size_t>(k)] = &*chain;  // its job's averagings read it
      signals.on_chain_formed(chain_formed_event(now(), k, attempt, *chain));
      if (verbosity >= 1) log(1, who, "chain " + chain_text(sc, *chain));
      const gpu::DeviceSpec& client_dev = *sc.clients[static_cast<std::size_t>(k % C)].device;
      std::vector<char> restore(chain->hops.size(), 0);  // a replacement's adapters come from the client first
      const SessionRoute route{k, client, req, shape.kv_per_block, rng, *chain, reservations, failed_seen, attempt, who};
      double last_step = arrival;
      // One leg: `payload` from `from` to hop `h`'s server, then `seconds` of work there. A failure
      // throws HopFailed naming the hop to replace (`sender_hop` when the sender failed).
      const auto leg = [&](int from, int sender_hop, std::size_t h, double payload, double seconds, const char* what, int step) {
        const ChainHop hop = chain->hops[h];
        if (platform->host(hop.server)->is_on() && (!serves(hop.server, hop.blocks) || lost_cache(hop.server, reservations)))
          throw HopFailed{static_cast<int>(h), now()};  // it moved its blocks or restarted: it says so at once
        const Delivery d = deliver(from, hop.server, payload, k, step, rng);
        if (d == Delivery::SenderFailed) throw HopFailed{sender_hop, now()};
        if (d == Delivery::ReceiverFailed) throw HopFailed{static_cast<int>(h), now()};
        bool crashed = false;
        try {
          compute(hop.server, seconds, k, step, hop.blocks, what);
        } catch (const HostDown&) {
          crashed = true;
        } catch (const simgrid::Exception&) {
          crashed = true;
        }
        if (crashed) {  // the client hears nothing until its timeout or the swarm's notice
          const double since = now();
          const double notice = std::min(since + sc.policy.faults.transfer_timeout_s, death_notice_time(hop.server));
          if (notice > now()) sg4::this_actor::sleep_until(notice);
          throw HopFailed{static_cast<int>(h), since};
        }
      };
      const int mine = sc.first_served_block();  // split learning: the client trains blocks [0, mine) itself (seed 002, eq. 24)
      for (int step = 0; step < ft.steps; ++step) {
        stage = "training step " + std::to_string(step);
        compute(client, price.embed_s(client_dev), k, step, {}, "embed");
        if (mine > 0) compute(client, price.forward_s(client_dev, mine), k, step, {}, "client_forward");
        bool backward = false;
        std::size_t h = 0;  // forward: the next hop; backward: one past the next hop
        int prev = client;
        while (true) {
          try {
            const std::size_t n = chain->hops.size();
            if (!backward && h == n) {  // the last server returns the activations; the client computes the loss
              if (deliver(prev, client, price.activation_bytes(), k, step, rng) != Delivery::Ok) throw HopFailed{static_cast<int>(n) - 1, now()};
              compute(client, price.loss_s(client_dev), k, step, {}, "loss");
              backward = true;
              prev = client;
            } else if (!backward) {
              const ChainHop hop = chain->hops[h];
              if (restore[h]) {
                if (!restore_adapters(k, step, hop, adapters, price, rng)) throw HopFailed{static_cast<int>(h), now()};
                restore[h] = 0;
              }
              const gpu::DeviceSpec& dev = *sc.nodes[static_cast<std::size_t>(hop.server)].device;
              leg(prev, static_cast<int>(h) - 1, h, price.activation_bytes(), price.forward_s(dev, hop.blocks.size()), "forward", step);
              prev = hop.server;
              ++h;
            } else if (h > 0) {
              const ChainHop hop = chain->hops[h - 1];
              const gpu::DeviceSpec& dev = *sc.nodes[static_cast<std::size_t>(hop.server)].device;
              leg(prev, static_cast<int>(std::min(h, n - 1)), h - 1, price.gradient_bytes(), price.backward_s(dev, hop.blocks.size()), "backward", step);
              prev = hop.server;
              --h;
            } else {  // the first server acknowledges the step (with split learning: sends the client its gradient)
              if (deliver(prev, client, mine > 0 ? price.gradient_bytes() : 0.0, k, step, rng) != Delivery::Ok) throw HopFailed{0, now()};
              if (mine > 0) compute(client, price.backward_s(client_dev, mine), k, step, {}, "client_backward");
              break;
            }
          } catch (const HopFailed& failed) {
            const int resume = recover(route, failed, step, 0, true, restore, stage, tokens);
            if (resume < 0) return;
            stage = "training step " + std::to_string(step);
            backward = false;  // the step's forward restarts at the replacement from the client's cached inputs
            h = static_cast<std::size_t>(resume);
            prev = client;
          }
        }
        adapters.updated(BlockRange{sc.first_served_block(), sc.model.n_layers});
        signals.on_adapters_updated(AdaptersUpdated{now(), k, step});
        if (ft.replicas > 1 && (step + 1) % ft.sync_every == 0) {
          sync_adapters(k, step, *chain, price);
          adapters.synced(BlockRange{sc.first_served_block(), sc.model.n_layers});
        }
        if (adapters.checkpoint_due(step))  // part of the step: the client waits for every server's adapters
          for (const ChainHop& hop : chain->hops) {  // a failed save is found by the next step's forward pass
            const double bytes = price.checkpoint_bytes(hop.blocks.size());
            if (deliver(hop.server, client, bytes, k, step, rng) != Delivery::Ok) continue;
            adapters.saved(hop.blocks);
            signals.on_adapters_moved(AdaptersMoved{now(), k, step, hop.server, hop.blocks, bytes, false, 0});
          }
        tokens += sc.workload.batch_size * sc.workload.prompt_tokens;
        signals.on_step(StepCompleted{now(), k, step, now() - last_step, false});
        log(2, who, stage + " done");
        last_step = now();
      }
      release(reservations);
      leave_job(k);
      end_session(k, true, "", tokens);
    } catch (const HostDown& d) {
      release(reservations);
      leave_job(k);
      end_session(k, false, host_name(d.host) + " was down at " + stage, tokens);
    } catch (const simgrid::Exception&) {
      release(reservations);
      leave_job(k);
      end_session(k, false, host_name(client) + " failed during " + stage, tokens);
    }
  }

  /// A client's spot check of one hop (policy.verification, seed 002 section 6), off the
  /// session's critical path: the checked server's output is copied to the client, a verifier
  /// that serves the hop's blocks recomputes them from the client's cached inputs of every
  /// position so far (it holds no KV cache of the session), and when the two outputs differ a
  /// tie-breaker does the same; the majority's verdict bans the wrong server.
  void check_actor(const SpotCheck c) {
    Rng rng = Rng(sc.seed ^ 0xC4EC0000ULL).split(spot_check_stream(c));
    SpotChecked r{0.0, c.session, c.step, c.server, -1, -1, "", c.server_output != kRightOutput};
    const auto finish = [&](const char* verdict) {
      r.t = now();
      r.verdict = verdict;
      signals.on_spot_checked(r);
    };
    const double input_bytes = hidden_state_bytes(sc, c.kv_len + c.tokens), output_bytes = hidden_state_bytes(sc, c.tokens);
    // Whether v's recomputation came back, and in `returned` what it returned (drawn as it starts,
    // as a hop's: a lazy cheater skips the work).
    const auto recompute = [&](int v, OutputId& returned) {
      if (deliver(c.client, v, input_bytes, c.session, c.step, rng, true) != Delivery::Ok) return false;
      const gpu::DeviceSpec& dev = *sc.nodes[static_cast<std::size_t>(v)].device;
      returned = output_of(sc, v, c.session, c.step, now());
      try {
        if (!skips_work(sc, v, returned))
          compute(v, cost->blocks_seconds(dev, sc.model, gpu::BlockWork{sc.workload.batch_size, c.kv_len + c.tokens, 0}, c.blocks.size()),
                  c.session, c.step, c.blocks, "check");
      } catch (const HostDown&) {
        return false;
      } catch (const simgrid::Exception&) {
        return false;
      }
      return deliver(v, c.client, output_bytes, c.session, c.step, rng, true) == Delivery::Ok;
    };
    if (deliver(c.server, c.client, output_bytes, c.session, c.step, rng, true) != Delivery::Ok) return finish("abandoned");
    std::vector<int> exclude{c.server};
    r.verifier = pick_verifier(swarm->view(now()), c.blocks, exclude, verifier_draw(sc, c, 0));
    if (r.verifier < 0) return finish("unverifiable");
    OutputId verifier_output = kRightOutput, tie_breaker_output = kRightOutput;
    if (!recompute(r.verifier, verifier_output)) return finish("abandoned");
    if (outputs_agree(sc, {c.server, c.server_output}, {r.verifier, verifier_output})) return finish("agreed");
    exclude.push_back(r.verifier);
    r.tie_breaker = pick_verifier(swarm->view(now()), c.blocks, exclude, verifier_draw(sc, c, 1));
    if (r.tie_breaker < 0) return finish("no_tie_breaker");
    if (!recompute(r.tie_breaker, tie_breaker_output)) return finish("abandoned");
    const Verdict v = majority(sc, {c.server, c.server_output}, {r.verifier, verifier_output}, {r.tie_breaker, tie_breaker_output});
    finish(to_string(v));
    if (const int liar = wrong_by_majority(c, r, v); liar >= 0 && sc.policy.verification.ban && swarm->ban(liar, now())) {
      signals.on_server_banned(ServerBanned{now(), liar, c.session, c.step, !sc.nodes[static_cast<std::size_t>(liar)].dishonest});
      log(1, "swarm", host_name(liar) + " banned: a spot check's majority found its output wrong");
    }
  }

  // -------------------------------------------------------------------------------------------
  // [SECTION] Run
  // -------------------------------------------------------------------------------------------

  void on_host_state(const sg4::Host& h) {
    const int i = platform->index_of(&h);
    if (i < 0 || i >= S) return;
    // After the last session the run is over (its end time is set): a profile's later changes are
    // not part of it, as in the flow engine, and would come after run_end in events.jsonl.
    if (sessions_ended >= sc.workload.sessions) return;
    const ServerState& st = (*swarm)[i];
    if (h.is_on() == st.up) return;
    if (h.is_on())
      swarm->host_up(i, now());
    else
      swarm->host_down(i, now());
    log(1, "swarm", host_name(i) + (st.up ? " is up" : " is down"));
    signals.on_node_state(NodeStateChanged{now(), i, st.up});
  }

  void draw_arrivals() { arrivals = sim::draw_arrivals(sc.workload, root_rng); }

};

SwarmSimulation::SwarmSimulation(Scenario scenario, std::shared_ptr<const gpu::ShardCostModel> cost)
    : impl_(std::make_unique<Impl>(std::move(scenario), std::move(cost))) {}

SwarmSimulation::~SwarmSimulation() = default;

SimSignals& SwarmSimulation::signals() { return impl_->signals; }

RunReport SwarmSimulation::run(const RunOptions& options) {
  Impl& m = *impl_;
  if (m.sc.coded)  // erasure-coded inference over N models and a coded one (seed 001)
    return m.sc.engine == EngineKind::Flow ? flow::run_flow_coded(m.sc, options, m.signals) : run_coded(m.sc, options, m.signals);
  if (m.sc.tree)  // a Fisher B-tree of nodes that answer early, split and merge
    return m.sc.engine == EngineKind::Flow ? flow::run_flow_tree(m.sc, options, m.signals) : run_tree(m.sc, options, m.signals);
  if (m.sc.graph)  // a graph model runs as a pipeline of stages
    return m.sc.engine == EngineKind::Flow ? flow::run_flow_pipeline(m.sc, options, m.signals) : run_pipeline(m.sc, options, m.signals);
  if (m.sc.engine == EngineKind::Flow) return flow::run_flow_engine(m.sc, m.cost, m.signals, options);
  m.verbosity = options.verbosity;

  const std::unique_ptr<sg4::Engine> engine = make_engine();

  m.latencies = std::make_unique<LatencyTable>(m.sc);
  m.platform = std::make_unique<SwarmPlatform>(m.sc, *m.latencies);
  m.router = make_router(m.sc.policy);
  if (m.sc.policy.topology.period_s > 0) m.topology = std::make_unique<TopologyMonitor>(m.sc, *m.cost);
  if (m.sc.policy.dht.enabled) {
    m.dht = std::make_unique<SwarmDht>(m.sc, *m.platform);
    m.dht->start();
  }
  if (options.execute_real) {
    m.backend = gpu::make_backend(options.backend);
    m.real = std::make_unique<RealModel>(m.sc, *m.backend, m.cost, local_device_of(*m.backend));
  }
  m.swarm = std::make_unique<SwarmState>(m.sc, *m.cost);
  m.swarm->on_kv_changed = [&m](int server, double bytes) { m.signals.on_kv_changed(KvChanged{Impl::now(), server, bytes}); };
  m.session_ended.assign(static_cast<std::size_t>(m.sc.workload.sessions), 0);
  m.client_gate = std::make_unique<ClientMemoryGate>(m.sc);
  m.client_gate->on_changed = [&m](int c, double bytes, int waiting) { m.signals.on_kv_changed(KvChanged{Impl::now(), m.S + c, bytes, waiting}); };
  m.client_bytes.assign(static_cast<std::size_t>(m.sc.workload.sessions), -1.0);
  m.memory_waiter.assign(static_cast<std::size_t>(m.sc.workload.sessions), nullptr);
  m.session_deadline.assign(static_cast<std::size_t>(m.sc.workload.sessions), std::numeric_limits<double>::infinity());
  m.session_arrival.assign(static_cast<std::size_t>(m.sc.workload.sessions), 0.0);
  m.session_priority.assign(static_cast<std::size_t>(m.sc.workload.sessions), 0);
  if (const auto& ft = m.sc.workload.fine_tuning; ft && ft->replicas > 1) {  // data-parallel jobs meet at barriers
    m.jobs.resize(static_cast<std::size_t>(m.sc.workload.sessions / ft->replicas));
    for (JobBarrier& j : m.jobs) {
      j.active = ft->replicas;
      j.mutex = sg4::Mutex::create();
      j.cv = sg4::ConditionVariable::create();
    }
    m.training_chains.assign(static_cast<std::size_t>(m.sc.workload.sessions), nullptr);
  }
  m.queues.resize(static_cast<std::size_t>(m.S));
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
  if (m.sc.policy.scheduler.kind != SchedulerKind::Shared)
    for (int i = 0; i < m.S; ++i) {
      sg4::ActorPtr a = sg4::Actor::create("scheduler-" + m.sc.nodes[static_cast<std::size_t>(i)].name, m.platform->host(i),
                                           [&m, i] { m.scheduler_actor(i); });
      a->daemonize();
      a->set_auto_restart(true);
    }
  if (m.topology) sg4::Actor::create("topology", m.platform->control_host(), [&m] { m.topology_actor(); })->daemonize();
  if (m.sc.policy.rebalance.period_s > 0)
    sg4::Actor::create("rebalance", m.platform->control_host(), [&m] { m.rebalance_actor(); })->daemonize();
  sg4::Actor::create("workload", m.platform->control_host(), [&m] { m.workload_actor(); });

  const auto wall0 = std::chrono::steady_clock::now();
  engine->run_until(m.sc.time_limit_s);
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

  RunReport report;
  report.metrics = metrics.to_json(sim_time, m.swarm->summaries(sim_time), WallClock{wall});
  if (m.real) {
    // The effect of compression and privacy noise on values, against the exact reference run
    // (with the same tokens).
    nlohmann::json effect = nullptr;
    if (m.real->compares()) {
      double err_sum = 0, err_max = 0, kl_sum = 0, kl_max = 0;
      long released = 0, clipped = 0, tokens = 0, agreeing = 0;
      double norms = 0;
      for (const ValueEffect& e : m.effects) {
        err_sum += e.hidden_relative_error;
        kl_sum += e.logits_kl;
        err_max = std::max(err_max, e.hidden_relative_error);
        kl_max = std::max(kl_max, e.logits_kl);
        released += e.noise.vectors;
        clipped += e.noise.clipped;
        norms += e.noise.norm_sum;
        tokens += e.tokens;
        agreeing += e.tokens_agreeing;
      }
      const double n = static_cast<double>(m.effects.size());
      // No completed session (every one failed or was abandoned): nothing was compared, so no figure.
      const auto stat = [&](double sum, double max) { return n > 0 ? nlohmann::json{{"mean", sum / n}, {"max", max}} : nlohmann::json(nullptr); };
      effect = {{"sessions", m.effects.size()},
                {"hidden_relative_error", stat(err_sum, err_max)},
                {"logits_kl", stat(kl_sum, kl_max)},
                {"token_agreement", tokens > 0 ? nlohmann::json(static_cast<double>(agreeing) / tokens) : nlohmann::json(nullptr)}};
      if (m.real->noise_sigma() > 0)
        effect["privacy_noise"] = {{"sigma", m.real->noise_sigma()},
                                   {"vectors_released", released},
                                   {"mean_norm_before_clip", released > 0 ? norms / released : 0.0},
                                   {"clipped_fraction", released > 0 ? static_cast<double>(clipped) / released : 0.0}};
    }
    report.metrics["real_execution"] = {{"backend", m.backend->name()},
                                        {"device", m.backend->device_name()},
                                        {"value_effect", effect}};
    if (m.real->int8_block_bytes() > 0) report.metrics["real_execution"]["int8_block_bytes"] = m.real->int8_block_bytes();
    report.metrics["wall_clock"]["real_kernel_seconds"] = m.real_measured_seconds;
  }
  if (m.dht) report.metrics["dht"] = m.dht->metrics();
  if (m.topology) report.metrics["topology"] = m.topology->metrics();
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
