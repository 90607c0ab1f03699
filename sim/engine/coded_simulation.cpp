#include "sim/engine/coded_simulation.hpp"

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/coded/coded_run.hpp"
#include "sim/engine/inbox.hpp"
#include "sim/engine/swarm_platform.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/swarm/latency_table.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {
namespace {

/// The run's actors: one per member on its server, each client's sender and one receiver per
/// (client, member), the inboxes' carriers, and one per failure. SimGrid kills a server's actors
/// and cuts its messages when it goes down.
struct CodedActors {
  CodedRun& m;
  const Scenario& sc;
  SwarmPlatform& platform;
  LatencyTable& latencies;
  InboxPost post;
  std::vector<std::shared_ptr<Inbox>> member_inbox;               ///< per member
  std::vector<std::shared_ptr<Inbox>> cancel_inbox;               ///< per member: cancels, taken as they arrive (model.coded.cancel)
  std::vector<std::vector<std::shared_ptr<Inbox>>> client_inbox;  ///< per client, per member
  std::vector<sg4::SemaphorePtr> window;                          ///< per client: its max_in_flight window
  std::vector<sg4::SemaphorePtr> finished;                        ///< per client: one unit per request completed

  CodedActors(CodedRun& run, const Scenario& scenario, SwarmPlatform& p, LatencyTable& l)
      : m(run), sc(scenario), platform(p), latencies(l), post(scenario, p, l, run.signals) {
    member_inbox.resize(static_cast<std::size_t>(m.n_members()));
    cancel_inbox.resize(static_cast<std::size_t>(m.n_members()));
    for (int c = 0; c < m.clients(); ++c) {
      client_inbox.emplace_back();
      for (int k = 0; k < m.n_members(); ++k) client_inbox.back().push_back(std::make_shared<Inbox>());
      window.push_back(sg4::Semaphore::create(static_cast<unsigned>(sc.workload.max_in_flight)));
      finished.push_back(sg4::Semaphore::create(0));
    }
  }

  static double now() { return sg4::Engine::get_clock(); }
  int client_host(int c) const { return static_cast<int>(sc.nodes.size()) + c; }
  int server(int k) const { return m.members[static_cast<std::size_t>(k)].server; }

  /// Serializes at the sending end, then posts request r's message from host `from` to host
  /// `to` into inbox `in` (held by value: a member that comes back gets a new inbox).
  void send(int from, int to, std::shared_ptr<Inbox> in, int r, int k, double bytes) {
    const double wire = bytes + sc.overheads.header_bytes, sent_at = now();
    sg4::this_actor::sleep_for(m.endpoint_s(bytes));  // serialization at the sending end
    m.message_posted(r, k, wire);
    post.carry(from, to, in, StageMessage{r, 0}, static_cast<std::uint64_t>(std::ceil(wire)), sent_at, m.endpoint_s(bytes));
  }

  /// Member k on its server: one request at a time, in the order they arrive.
  void member_actor(int k) {
    const std::shared_ptr<Inbox> in = member_inbox[static_cast<std::size_t>(k)];  // held on the stack: see Gate
    while (true) {
      const StageMessage msg = InboxPost::receive(*in);
      if (m.drops(k, msg.request)) continue;  // completed, and its cancel came first
      const double start = now();
      sg4::this_actor::sleep_for(m.endpoint_s(m.spec.input_bytes));  // deserialize the input
      const double computing = now(), compute = m.compute_s(k, msg.request);
      sg4::this_actor::sleep_for(compute);
      m.signals.on_compute(ComputeSpan{computing, now(), server(k), msg.request, 0, BlockRange{k, k + 1}, "coded_model",
                                       m.members[static_cast<std::size_t>(k)].compute_s});
      const int c = m.client_of(msg.request);
      send(server(k), client_host(c), client_inbox[static_cast<std::size_t>(c)][static_cast<std::size_t>(k)], msg.request, k,
           m.spec.output_bytes);
      m.computed(k, msg.request, now() - start);
    }
  }

  /// Member k's cancels: each marks its request dropped as it arrives, ahead of the member's queue.
  void cancel_receiver(int k) {
    const std::shared_ptr<Inbox> in = cancel_inbox[static_cast<std::size_t>(k)];  // see Gate
    while (true) m.cancel_arrived(InboxPost::receive(*in).request, k);
  }

  /// Starts member k on its server with a new inbox (and a cancel inbox, with model.coded.cancel).
  void start_member(int k) {
    member_inbox[static_cast<std::size_t>(k)] = std::make_shared<Inbox>();
    sg4::Actor::create("coded-member-" + std::to_string(k), platform.host(server(k)), [this, k] { member_actor(k); })->daemonize();
    if (!m.spec.cancel) return;
    cancel_inbox[static_cast<std::size_t>(k)] = std::make_shared<Inbox>();
    sg4::Actor::create("coded-cancels-" + std::to_string(k), platform.host(server(k)), [this, k] { cancel_receiver(k); })->daemonize();
  }

  /// Client c sends request r's input to the members that serve (the others lose it).
  void send_request(int c, int r) {
    m.request_sent(r, now());
    for (int k = 0; k < m.n_members(); ++k)
      if (m.at(r, k) == MemberState::Pending)
        send(client_host(c), server(k), member_inbox[static_cast<std::size_t>(k)], r, k, m.spec.input_bytes);
  }

  /// Client c sends its requests (r = c, c + clients, ...) as they arrive.
  void client_sender(int c) {
    for (int r = c; r < m.requests; r += m.clients()) {
      if (m.arrival[static_cast<std::size_t>(r)] > now()) sg4::this_actor::sleep_until(m.arrival[static_cast<std::size_t>(r)]);
      const sg4::SemaphorePtr keep = window[static_cast<std::size_t>(c)];  // see Gate
      keep->acquire();  // at most max_in_flight requests unfinished
      send_request(c, r);
    }
  }

  /// Client c's outputs from member k: deserialized, then counted towards their requests.
  void client_receiver(int c, int k) {
    const std::shared_ptr<Inbox> in = client_inbox[static_cast<std::size_t>(c)][static_cast<std::size_t>(k)];  // see Gate
    while (true) {
      const StageMessage msg = InboxPost::receive(*in);
      sg4::this_actor::sleep_for(m.endpoint_s(m.spec.output_bytes));  // deserialize the output
      const CodedRun::Arrival a = m.output_arrived(msg.request, k, now());
      if (a == CodedRun::Arrival::Completed) request_completed(c, msg.request);
      if (a != CodedRun::Arrival::DecodeLater) continue;
      const int r = msg.request;
      sg4::Actor::create("decode-wait", platform.host(client_host(c)), [this, c, r] {
        sg4::this_actor::sleep_for(m.spec.decode_wait_s);
        if (m.decode_deadline(r, now())) request_completed(c, r);
      })->daemonize();
    }
  }

  /// Client c's request r completed: its window has room for another, and with
  /// model.coded.cancel the members still holding r are told to drop it.
  void request_completed(int c, int r) {
    window[static_cast<std::size_t>(c)]->release();
    finished[static_cast<std::size_t>(c)]->release();
    if (!m.spec.cancel) return;
    std::vector<int> targets = m.cancel_targets(r);
    if (targets.empty()) return;
    sg4::Actor::create("cancel", platform.host(client_host(c)), [this, c, r, targets] {
      for (const int k : targets) send(client_host(c), server(k), cancel_inbox[static_cast<std::size_t>(k)], r, k, 0);
    })->daemonize();
  }

  /// Lives until client c's requests have all completed (the run ends when every such actor has).
  void client_done(int c) {
    const sg4::SemaphorePtr keep = finished[static_cast<std::size_t>(c)];  // see Gate
    for (int r = c; r < m.requests; r += m.clients()) keep->acquire();
  }

  /// Member k's model loads on server node `target` (its own server back, or a spare); then, unless
  /// `target` went down meanwhile or another recovery won, k serves there and is sent again what it lost.
  void recover(int k, int target) {
    const int downs = m.server_downs[static_cast<std::size_t>(target)];
    sg4::this_actor::sleep_for(m.server_load_s(target));
    if (m.server_downs[static_cast<std::size_t>(target)] != downs) return;  // down again while loading: a later recovery takes over
    const std::optional<std::vector<std::vector<int>>> ready = m.member_ready_on(k, target, now());
    if (!ready) return;
    const std::vector<std::vector<int>>& lost = *ready;
    start_member(k);
    for (int c = 0; c < m.clients(); ++c) {
      const std::vector<int>& mine = lost[static_cast<std::size_t>(c)];
      if (mine.empty()) continue;
      sg4::Actor::create("resend", platform.host(client_host(c)), [this, c, k, mine] {
        for (const int r : mine)
          if (m.done[static_cast<std::size_t>(r)] < 0)
            send(client_host(c), server(k), member_inbox[static_cast<std::size_t>(k)], r, k, m.spec.input_bytes);
      })->daemonize();
    }
  }

  /// Failover f: once heartbeats reveal the failure, the fastest spare that is up (if any) loads
  /// the member's model; the member serves wherever its model is ready first.
  void failover(int f) {
    sg4::this_actor::sleep_until(m.failovers[static_cast<std::size_t>(f)].detected_at_s);
    const int k = m.failovers[static_cast<std::size_t>(f)].member;
    if (m.members[static_cast<std::size_t>(k)].serving) return;  // its server came back and reloaded first
    if (const int spare = m.take_spare(f); spare >= 0) recover(k, spare);
  }

  /// Replayed changes (bandwidth changes and the hosts' states are the platform's profiles).
  void replay() {
    for (const ReplayEvent& e : sc.events) {
      sg4::this_actor::sleep_until(e.at_s);
      const int node = host_index(sc, e.node);
      if (e.action == EventAction::NodeDown) {
        if (node >= static_cast<int>(sc.nodes.size()) || !m.server_up[static_cast<std::size_t>(node)]) continue;
        if (const int f = m.server_down(node, now()); f >= 0)
          sg4::Actor::create("failover", platform.control_host(), [this, f] { failover(f); })->daemonize();
        continue;
      }
      if (e.action == EventAction::NodeUp) {
        if (node >= static_cast<int>(sc.nodes.size()) || m.server_up[static_cast<std::size_t>(node)]) continue;
        if (const int k = m.server_back(node, now()); k >= 0)
          sg4::Actor::create("recover", platform.control_host(), [this, k, node] { recover(k, node); })->daemonize();
        continue;
      }
      replay_link_change(e, node, e.peer.empty() ? -1 : host_index(sc, e.peer), now(), latencies, m.signals);
    }
  }
};

}  // namespace

RunReport run_coded(const Scenario& sc, const RunOptions& options, SimSignals& signals) {
  const std::unique_ptr<sg4::Engine> engine = make_engine();
  CodedRun m(sc, options, signals);
  LatencyTable latencies(sc);
  SwarmPlatform platform(sc, latencies);
  CodedActors actors(m, sc, platform, latencies);
  for (int k = 0; k < m.n_members(); ++k) actors.start_member(k);
  CodedActors* a = &actors;
  sg4::Actor::create("replay", platform.control_host(), [a] { a->replay(); })->daemonize();
  for (int c = 0; c < m.clients(); ++c) {
    sg4::Actor::create("client-send", platform.host(actors.client_host(c)), [a, c] { a->client_sender(c); });
    sg4::Actor::create("client-done", platform.host(actors.client_host(c)), [a, c] { a->client_done(c); });
    for (int k = 0; k < m.n_members(); ++k)
      sg4::Actor::create("client-receive", platform.host(actors.client_host(c)), [a, c, k] { a->client_receiver(c, k); })->daemonize();
  }
  ProgressLine progress(options.progress, m.requests, "requests");
  const double wall = run_requests(*engine, sc.time_limit_s, progress, [&] { return m.completed; }, [&] { return m.messages; });
  return coded_report(m, wall, options);
}

}  // namespace swarmsim::sim
