#include "sim/engine/tree_simulation.hpp"

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/engine/inbox.hpp"
#include "sim/engine/swarm_platform.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/tree/tree_run.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {
namespace {

/// The tree's actors: one per tree node on its server, each client's sender and receiver, the
/// carriers of each inbox, the balancer, and one per split while its new nodes load.
struct TreeActors {
  TreeRun& m;
  const Scenario& sc;
  SwarmPlatform& platform;
  LatencyTable& latencies;
  InboxPost post;
  std::vector<std::shared_ptr<Inbox>> node_inbox;    ///< per tree node id
  std::vector<std::shared_ptr<Inbox>> client_inbox;  ///< per client
  std::vector<sg4::SemaphorePtr> window;             ///< per client: its max_in_flight window

  TreeActors(TreeRun& run, const Scenario& scenario, SwarmPlatform& p, LatencyTable& l)
      : m(run), sc(scenario), platform(p), latencies(l), post(scenario, p, l, run.signals) {
    for (int c = 0; c < m.clients(); ++c) {
      client_inbox.push_back(std::make_shared<Inbox>());
      window.push_back(sg4::Semaphore::create(static_cast<unsigned>(sc.workload.max_in_flight)));
    }
  }

  static double now() { return sg4::Engine::get_clock(); }
  int client_host(int c) const { return static_cast<int>(sc.nodes.size()) + c; }

  /// Serializes at the sending end, then posts the message to host `to`'s inbox `in` (held by
  /// value: a split's new nodes add inboxes while this actor sleeps).
  void send(int from, int to, std::shared_ptr<Inbox> in, StageMessage msg, double bytes) {
    const double wire = bytes + sc.overheads.header_bytes, sent_at = now();
    sg4::this_actor::sleep_for(m.endpoint_s(bytes));  // serialization at the sending end
    post.carry(from, to, in, msg, static_cast<std::uint64_t>(std::ceil(wire)), sent_at, m.endpoint_s(bytes));
    m.bytes_moved += wire;
    ++m.messages;
  }

  /// Tree node `id` on its server: one request at a time, in the order they arrive.
  void node_actor(int id) {
    const std::shared_ptr<Inbox> in = node_inbox[static_cast<std::size_t>(id)];  // held on the stack: see Gate
    const int server = m.tree->node(id).server;
    const double compute_s = m.node_compute_s[static_cast<std::size_t>(server)];
    while (true) {
      const StageMessage msg = InboxPost::receive(*in);
      const double start = now();
      sg4::this_actor::sleep_for(m.endpoint_s(m.spec.hidden_bytes));  // deserialize the hidden state
      const double computing = now();
      sg4::this_actor::sleep_for(compute_s);
      const KeyRange keys = m.tree->node(id).keys;
      m.signals.on_compute(ComputeSpan{computing, now(), server, msg.request, 0, BlockRange{keys.lo, keys.hi}, "tree_node", compute_s});
      const NodeDecision d = m.visit(id, msg.request);
      if (d.exits) {  // seed 000, §2.2: the answer goes back to the client
        const int c = m.client_of(msg.request);
        send(server, client_host(c), client_inbox[static_cast<std::size_t>(c)], msg, m.spec.answer_bytes);
      } else {
        const int child_server = m.tree->node(d.child).server;
        send(server, child_server, node_inbox[static_cast<std::size_t>(d.child)], msg, m.spec.hidden_bytes);
      }
      m.tree->add_busy(id, now() - start);
    }
  }

  /// Starts node `id` on its server with a new inbox. A node that moved keeps an actor on its old
  /// server, which serves what was already sent there.
  void start_node(int id) {
    if (node_inbox.size() <= static_cast<std::size_t>(id)) node_inbox.resize(static_cast<std::size_t>(id) + 1);
    node_inbox[static_cast<std::size_t>(id)] = std::make_shared<Inbox>();
    sg4::Actor::create("tree-node-" + std::to_string(id), platform.host(m.tree->node(id).server), [this, id] { node_actor(id); })->daemonize();
  }

  /// Client c sends its requests (r = c, c + clients, ...) to the root, in order, as they arrive.
  void client_sender(int c) {
    for (int r = c; r < m.requests; r += m.clients()) {
      if (m.arrival[static_cast<std::size_t>(r)] > now()) sg4::this_actor::sleep_until(m.arrival[static_cast<std::size_t>(r)]);
      const sg4::SemaphorePtr keep = window[static_cast<std::size_t>(c)];  // see Gate
      keep->acquire();  // at most max_in_flight requests in the tree
      m.request_sent(r, now());
      const int root = m.tree->root();
      send(client_host(c), m.tree->node(root).server, node_inbox[static_cast<std::size_t>(root)], StageMessage{r, 0}, m.spec.hidden_bytes);
    }
  }

  void client_receiver(int c) {
    const std::shared_ptr<Inbox> in = client_inbox[static_cast<std::size_t>(c)];  // see Gate
    for (int answered = 0; answered < m.requests_of(c); ++answered) {
      const StageMessage msg = InboxPost::receive(*in);
      sg4::this_actor::sleep_for(m.endpoint_s(m.spec.answer_bytes));  // deserialize the answer
      m.request_done(msg.request, now());
      window[static_cast<std::size_t>(c)]->release();
    }
  }

  /// Every balance period: measure, split and merge (seed 000, §3); a split's new nodes serve
  /// once the slowest of their servers has loaded its parameters.
  void balancer() {
    for (double t = m.spec.balance_period_s;; t += m.spec.balance_period_s) {
      sg4::this_actor::sleep_until(t);
      if (!m.balance(now())) continue;
      const double wait = m.split_load_s();
      sg4::Actor::create("tree-split", platform.control_host(), [this, wait] {
        sg4::this_actor::sleep_for(wait);
        for (const int id : m.commit_split(now())) start_node(id);
      })->daemonize();
    }
  }

  /// Replayed latency and bandwidth changes (the loader refuses node failures for trees).
  void replay() {
    for (const ReplayEvent& e : sc.events) {
      sg4::this_actor::sleep_until(e.at_s);
      const int node = m.host_index(e.node);
      const int peer = e.peer.empty() ? -1 : m.host_index(e.peer);
      if (e.action == EventAction::SetLatency) {  // SetBandwidth: the link's profile changes it at this very time
        if (peer < 0) latencies.set_access(node, e.value);
        else latencies.set_pair(node, peer, e.value);
      }
      m.signals.on_link_changed(LinkChanged{now(), node, peer, e.action, e.direction, e.value});
    }
  }
};

}  // namespace

RunReport run_tree(const Scenario& sc, const RunOptions& options, SimSignals& signals) {
  const std::unique_ptr<sg4::Engine> engine = make_engine();
  TreeRun m(sc, options, signals);
  LatencyTable latencies(sc);
  SwarmPlatform platform(sc, latencies);
  TreeActors actors(m, sc, platform, latencies);
  for (const TreeNode& n : m.tree->nodes()) actors.start_node(n.id);
  TreeActors* a = &actors;
  sg4::Actor::create("replay", platform.control_host(), [a] { a->replay(); })->daemonize();
  if (m.spec.balance_period_s > 0) sg4::Actor::create("balancer", platform.control_host(), [a] { a->balancer(); })->daemonize();
  for (int c = 0; c < m.clients(); ++c) {
    sg4::Actor::create("client-send", platform.host(actors.client_host(c)), [a, c] { a->client_sender(c); });
    sg4::Actor::create("client-receive", platform.host(actors.client_host(c)), [a, c] { a->client_receiver(c); });
  }
  ProgressLine progress(options.progress, m.requests, "requests");
  sg4::Engine::on_time_advance_cb([&](double) { progress.tick(TreeActors::now(), m.answered, m.messages); });
  const auto wall0 = std::chrono::steady_clock::now();
  engine->run_until(sc.time_limit_s);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  progress.finish();
  return tree_report(m, wall, options);
}

}  // namespace swarmsim::sim
