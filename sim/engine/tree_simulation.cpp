#include "sim/engine/tree_simulation.hpp"

#include <cmath>
#include <deque>
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
/// carriers of each inbox, the balancer, one per split while its new nodes load, and one per
/// failover. SimGrid kills a server's actors and cuts its messages when it goes down.
struct TreeActors {
  TreeRun& m;
  const Scenario& sc;
  SwarmPlatform& platform;
  LatencyTable& latencies;
  InboxPost post;
  std::vector<std::shared_ptr<Inbox>> node_inbox;    ///< per tree node id
  std::vector<std::shared_ptr<Inbox>> client_inbox;  ///< per client
  std::vector<sg4::SemaphorePtr> window;             ///< per client: its max_in_flight window
  Gate root_back;  ///< senders wait here while the clients know the root is down
  std::deque<Gate> resends_done;  ///< per client: its new requests wait here while it sends lost ones again
  Gate spare_up;   ///< failovers without a spare wait here for a server to come back

  TreeActors(TreeRun& run, const Scenario& scenario, SwarmPlatform& p, LatencyTable& l)
      : m(run), sc(scenario), platform(p), latencies(l), post(scenario, p, l, run.signals) {
    for (int c = 0; c < m.clients(); ++c) {
      client_inbox.push_back(std::make_shared<Inbox>());
      window.push_back(sg4::Semaphore::create(static_cast<unsigned>(sc.workload.max_in_flight)));
      resends_done.emplace_back();
    }
    post.on_delivered = [this](const StageMessage& msg) {
      if (!m.stale(msg.request, msg.attempt)) m.message_delivered(msg.request);
    };
  }

  static double now() { return sg4::Engine::get_clock(); }
  int client_host(int c) const { return static_cast<int>(sc.nodes.size()) + c; }

  /// Serializes at the sending end, then posts request msg's message from tree node `from_node`
  /// (-1: its client) on host `from` to tree node `to_node` (-1: the client) on host `to`, into
  /// inbox `in` (held by value: a split's new nodes add inboxes while this actor sleeps).
  void send(int from, int from_node, int to, int to_node, std::shared_ptr<Inbox> in, StageMessage msg, double bytes) {
    const double wire = bytes + sc.overheads.header_bytes, sent_at = now();
    sg4::this_actor::sleep_for(m.endpoint_s(bytes));  // serialization at the sending end
    m.message_posted(msg.request, from_node, to_node);
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
      if (m.stale(msg.request, msg.attempt)) continue;  // the client sent the request again
      const double start = now();
      sg4::this_actor::sleep_for(m.endpoint_s(m.spec.hidden_bytes));  // deserialize the hidden state
      const double computing = now();
      sg4::this_actor::sleep_for(compute_s);
      const KeyRange keys = m.tree->node(id).keys;
      m.signals.on_compute(ComputeSpan{computing, now(), server, msg.request, 0, BlockRange{keys.lo, keys.hi}, "tree_node", compute_s});
      const NodeDecision d = m.visit(id, msg.request);
      if (d.exits) {  // seed 000, §2.2: the answer goes back to the client
        const int c = m.client_of(msg.request);
        send(server, id, client_host(c), -1, client_inbox[static_cast<std::size_t>(c)], msg, m.spec.answer_bytes);
      } else {
        const int child_server = m.tree->node(d.child).server;
        send(server, id, child_server, d.child, node_inbox[static_cast<std::size_t>(d.child)], msg, m.spec.hidden_bytes);
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

  /// Client c sends request r (its current attempt) to the root, once the root serves; a new
  /// request also waits for the client's lost ones to be sent again.
  void send_to_root(int c, int r, bool resend = false) {
    while (true) {
      if (m.root_down()) root_back.wait();
      else if (!resend && m.resending[static_cast<std::size_t>(c)] > 0) resends_done[static_cast<std::size_t>(c)].wait();
      else break;
    }
    m.request_sent(r, now());
    const int root = m.tree->root();
    send(client_host(c), -1, m.tree->node(root).server, root, node_inbox[static_cast<std::size_t>(root)],
         StageMessage{r, m.attempt[static_cast<std::size_t>(r)]}, m.spec.hidden_bytes);
  }

  /// Client c sends its requests (r = c, c + clients, ...) to the root, in order, as they arrive.
  void client_sender(int c) {
    for (int r = c; r < m.requests; r += m.clients()) {
      if (m.arrival[static_cast<std::size_t>(r)] > now()) sg4::this_actor::sleep_until(m.arrival[static_cast<std::size_t>(r)]);
      const sg4::SemaphorePtr keep = window[static_cast<std::size_t>(c)];  // see Gate
      keep->acquire();  // at most max_in_flight requests in the tree
      send_to_root(c, r);
    }
  }

  void client_receiver(int c) {
    const std::shared_ptr<Inbox> in = client_inbox[static_cast<std::size_t>(c)];  // see Gate
    for (int answered = 0; answered < m.requests_of(c);) {
      const StageMessage msg = InboxPost::receive(*in);
      sg4::this_actor::sleep_for(m.endpoint_s(m.spec.answer_bytes));  // deserialize the answer
      if (m.stale(msg.request, msg.attempt) || m.done[static_cast<std::size_t>(msg.request)] >= 0) continue;
      m.request_done(msg.request, now());
      window[static_cast<std::size_t>(c)]->release();
      ++answered;
    }
  }

  /// Every balance period: measure, split and merge (seed 000, §3); a split's new nodes serve
  /// once the slowest of their servers has loaded its parameters, unless a failure cancelled it.
  void balancer() {
    for (double t = m.spec.balance_period_s;; t += m.spec.balance_period_s) {
      sg4::this_actor::sleep_until(t);
      if (!m.balance(now())) continue;
      const double wait = m.split_load_s();
      const int split = m.tree->splits_planned();
      sg4::Actor::create("tree-split", platform.control_host(), [this, wait, split] {
        sg4::this_actor::sleep_for(wait);
        if (!m.tree->pending_split() || m.tree->splits_planned() != split) return;
        for (const int id : m.commit_split(now())) start_node(id);
      })->daemonize();
    }
  }

  /// Failover f: once heartbeats reveal the failure, the node's parent answers in its place and
  /// the clients send what the node held again; the fastest spare loads the node's parameters and
  /// the node serves there.
  void failover(int f) {
    sg4::this_actor::sleep_until(m.failovers[static_cast<std::size_t>(f)].detected_at_s);
    const std::vector<std::vector<int>> lost = m.failure_detected(f, now());
    for (int c = 0; c < m.clients(); ++c) {
      const std::vector<int>& mine = lost[static_cast<std::size_t>(c)];
      if (mine.empty()) continue;
      sg4::Actor::create("resend", platform.host(client_host(c)), [this, c, mine] {
        for (const int r : mine) {
          send_to_root(c, r, true);
          --m.resending[static_cast<std::size_t>(c)];
        }
        resends_done[static_cast<std::size_t>(c)].open();  // the client's new requests may go now
      })->daemonize();
    }
    while (true) {
      const int server = m.take_replacement(f);
      if (server < 0) {  // no spare: wait for a server to come back
        spare_up.wait();
        continue;
      }
      sg4::this_actor::sleep_for(m.load_s(server));
      if (m.replaced(f, server, now())) break;
    }
    start_node(m.failovers[static_cast<std::size_t>(f)].node);
    root_back.open();
  }

  /// Failback b: the server that came back loads the node's parameters while it serves on; then
  /// the node starts there with a new inbox, and its old actor serves what was sent to it.
  void failback(int b) {
    sg4::this_actor::sleep_for(m.load_s(m.failbacks[static_cast<std::size_t>(b)].to_server));
    if (m.failback_switch(b, now())) start_node(m.failbacks[static_cast<std::size_t>(b)].node);
    spare_up.open();  // either way a server turned spare
  }

  /// Replayed changes (bandwidth changes and the hosts' states are the platform's profiles; a
  /// server's host is off from the same instant).
  void replay() {
    for (const ReplayEvent& e : sc.events) {
      sg4::this_actor::sleep_until(e.at_s);
      const int node = m.host_index(e.node);
      if (e.action == EventAction::NodeDown) {
        if (!m.server_up[static_cast<std::size_t>(node)]) continue;
        if (const int f = m.node_down(node, now()); f >= 0)
          sg4::Actor::create("failover", platform.control_host(), [this, f] { failover(f); })->daemonize();
        continue;
      }
      if (e.action == EventAction::NodeUp) {
        if (m.server_up[static_cast<std::size_t>(node)]) continue;
        m.node_up(node, now());
        if (const int b = m.failback_start(node, now()); b >= 0)
          sg4::Actor::create("failback", platform.control_host(), [this, b] { failback(b); })->daemonize();
        spare_up.open();
        continue;
      }
      replay_link_change(e, node, e.peer.empty() ? -1 : m.host_index(e.peer), now(), latencies, m.signals);
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
  const double wall = run_requests(*engine, sc.time_limit_s, progress, [&] { return m.answered; }, [&] { return m.messages; });
  return tree_report(m, wall, options);
}

}  // namespace swarmsim::sim
