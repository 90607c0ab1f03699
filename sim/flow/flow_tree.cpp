#include "sim/flow/flow_tree.hpp"

#include <chrono>
#include <cmath>
#include <deque>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
#include "sim/flow/message_flow.hpp"
#include "sim/flow/process.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/pipeline_run.hpp"
#include "sim/tree/tree_run.hpp"

namespace swarmsim::sim::flow {
namespace {

class FlowTree {
 public:
  FlowTree(const Scenario& sc, TreeRun& run)
      : sc_(sc),
        m_(run),
        latencies_(sc),
        links_(access_rates(sc, true), access_rates(sc, false), sharing_params(sc.network.model), queue_),
        lat_factor_(latency_factor(sc.network.model)),
        client_inbox_(sc.clients.size()),
        windows_(sc.clients.size(), sc.workload.max_in_flight),
        host_life_(sc.nodes.size(), 0),
        resends_done_(sc.clients.size()) {
    for (int c = 0; c < static_cast<int>(client_inbox_.size()); ++c) client_inbox_[static_cast<std::size_t>(c)] = open_inbox(client_host(c));
  }

  void run(ProgressLine& progress) {
    for (const TreeNode& n : m_.tree->nodes()) start_node(n.id);
    if (!sc_.events.empty()) spawn(replay());
    if (m_.spec.balance_period_s > 0) spawn(balancer());
    for (int c = 0; c < m_.clients(); ++c) {
      spawn(client_sender(c));
      spawn(client_receiver(c));
    }
    // The tree's nodes and its balancer are daemons, as on SimGrid: the run ends when the
    // clients have every answer.
    play_events(queue_, links_, now_, sc_.time_limit_s, [this] { return m_.answered >= m_.requests; },
                [&] { progress.tick(now_, m_.answered, m_.messages); });
  }

 private:
  // ---- awaitables -------------------------------------------------------------------------

  SleepUntil sleep_for(double s) { return SleepUntil{queue_, now_, now_ + s}; }
  SleepUntil sleep_until(double t) { return SleepUntil{queue_, now_, t}; }

  // ---- processes ----------------------------------------------------------------------------

  void spawn(Process p) { processes_.spawn(p, queue_, now_, now_); }
  int client_host(int c) const { return static_cast<int>(sc_.nodes.size()) + c; }
  bool is_server(int host) const { return host < static_cast<int>(sc_.nodes.size()); }
  /// A process on server `host` started in its life `life` has died with it.
  bool dead(int host, int life) const { return is_server(host) && host_life_[static_cast<std::size_t>(host)] != life; }
  int life_of(int host) const { return is_server(host) ? host_life_[static_cast<std::size_t>(host)] : 0; }
  int open_inbox(int host) {
    inboxes_.emplace_back().host = host;
    return static_cast<int>(inboxes_.size()) - 1;
  }

  /// The message itself, detached from its sender: its bytes cross the network, then it waits in
  /// inbox `box`. Inboxes go by index: GCC 12 built this coroutine with an Inbox* parameter into
  /// one that trapped (ud2) on its first resumption.
  Process carry(int from, int to, int box, StageMessage msg, double wire, double sent_at, double software_s) {
    if (co_await Transfer{links_, latencies_, lat_factor_, now_, from, to, wire} != Outcome::Done) co_return;
    m_.signals.on_transfer(TransferSpan{sent_at, now_, from, to, msg.request, msg.attempt, wire, lat_factor_ * latencies_.one_way(from, to),
                                        software_s});
    // Queued here, not through a helper taking the message by reference: GCC 12 built that call
    // into a trap (ud2) in this coroutine.
    HostInbox& in = inboxes_[static_cast<std::size_t>(box)];
    in.messages.push_back(msg);
    if (!m_.stale(msg.request, msg.attempt)) m_.message_delivered(msg.request);
    if (in.waiting) {
      queue_.push(now_, EventKind::Resume, token_of(*in.waiting));
      in.waiting = nullptr;
    }
  }
  /// Serializes at the sending end, then posts request msg's message from tree node `from_node`
  /// (-1: its client) on host `from` to tree node `to_node` (-1: the client) on host `to`, into
  /// inbox `box`, as SimGrid's carrier does. False when the sender's server went down meanwhile
  /// (its life `life`); a message to a server that is down is lost.
  Task<bool> send(int from, int from_node, int to, int to_node, int box, StageMessage msg, double bytes, int life = 0) {
    const double wire = bytes + sc_.overheads.header_bytes, sent_at = now_;
    co_await sleep_for(m_.endpoint_s(bytes));
    if (dead(from, life)) co_return false;
    m_.message_posted(msg.request, from_node, to_node);
    if (!is_server(to) || m_.server_up[static_cast<std::size_t>(to)])
      processes_.start_now(carry(from, to, box, msg, std::ceil(wire), sent_at, m_.endpoint_s(bytes)));
    m_.bytes_moved += wire;
    ++m_.messages;
    co_return true;
  }

  /// Tree node `id` on its server: one request at a time, in the order they arrive.
  Process node(int id, int box) {
    const int server = m_.tree->node(id).server, life = life_of(server);
    const double compute_s = m_.node_compute_s[static_cast<std::size_t>(server)];
    while (true) {
      const StageMessage msg = co_await ReceiveFrom{&inboxes_[static_cast<std::size_t>(box)]};
      if (dead(server, life)) co_return;
      if (m_.stale(msg.request, msg.attempt)) continue;  // the client sent the request again
      const double start = now_;
      co_await sleep_for(m_.endpoint_s(m_.spec.hidden_bytes));  // deserialize the hidden state
      if (dead(server, life)) co_return;
      const double computing = now_;
      co_await sleep_for(compute_s);
      if (dead(server, life)) co_return;
      const KeyRange keys = m_.tree->node(id).keys;
      m_.signals.on_compute(ComputeSpan{computing, now_, server, msg.request, 0, BlockRange{keys.lo, keys.hi}, "tree_node", compute_s});
      const NodeDecision d = m_.visit(id, msg.request);
      if (d.exits) {  // seed 000, §2.2: the answer goes back to the client
        const int c = m_.client_of(msg.request);
        if (!co_await send(server, id, client_host(c), -1, client_inbox_[static_cast<std::size_t>(c)], msg, m_.spec.answer_bytes, life))
          co_return;
      } else {
        if (!co_await send(server, id, m_.tree->node(d.child).server, d.child, node_inbox_[static_cast<std::size_t>(d.child)], msg,
                           m_.spec.hidden_bytes, life))
          co_return;
      }
      m_.tree->add_busy(id, now_ - start);
    }
  }

  /// Starts node `id` on its server with a new inbox.
  void start_node(int id) {
    if (node_inbox_.size() <= static_cast<std::size_t>(id)) node_inbox_.resize(static_cast<std::size_t>(id) + 1);
    node_inbox_[static_cast<std::size_t>(id)] = open_inbox(m_.tree->node(id).server);
    spawn(node(id, node_inbox_[static_cast<std::size_t>(id)]));
  }

  /// Client c sends request r (its current attempt) to the root, once the root serves; a new
  /// request also waits for the client's lost ones to be sent again.
  Task<bool> send_to_root(int c, int r, bool resend = false) {
    while (true) {
      if (m_.root_down()) co_await WaitAt{root_back_};
      else if (!resend && m_.resending[static_cast<std::size_t>(c)] > 0) co_await WaitAt{resends_done_[static_cast<std::size_t>(c)]};
      else break;
    }
    m_.request_sent(r, now_);
    const int root = m_.tree->root();
    co_await send(client_host(c), -1, m_.tree->node(root).server, root, node_inbox_[static_cast<std::size_t>(root)],
                  StageMessage{r, m_.attempt[static_cast<std::size_t>(r)]}, m_.spec.hidden_bytes);
    co_return true;
  }

  /// Client c sends its requests (r = c, c + clients, ...) to the root, in order, as they arrive.
  Process client_sender(int c) {
    for (int r = c; r < m_.requests; r += m_.clients()) {
      if (m_.arrival[static_cast<std::size_t>(r)] > now_) co_await sleep_until(m_.arrival[static_cast<std::size_t>(r)]);
      co_await windows_.acquire(c);
      co_await send_to_root(c, r);
    }
  }

  Process client_receiver(int c) {
    HostInbox* in = &inboxes_[static_cast<std::size_t>(client_inbox_[static_cast<std::size_t>(c)])];
    for (int answered = 0; answered < m_.requests_of(c);) {
      const StageMessage msg = co_await ReceiveFrom{in};
      co_await sleep_for(m_.endpoint_s(m_.spec.answer_bytes));  // deserialize the answer
      if (m_.stale(msg.request, msg.attempt) || m_.done[static_cast<std::size_t>(msg.request)] >= 0) continue;
      m_.request_done(msg.request, now_);
      windows_.release(c, queue_, now_);
      ++answered;
    }
  }

  /// Failover f (as SimGrid's): at detection the clients send what the node held again; the
  /// fastest spare loads the node's parameters and the node serves there.
  Process failover(int f) {
    co_await sleep_until(m_.failovers[static_cast<std::size_t>(f)].detected_at_s);
    std::vector<std::vector<int>> lost = m_.failure_detected(f, now_);
    for (int c = 0; c < m_.clients(); ++c)
      if (!lost[static_cast<std::size_t>(c)].empty()) spawn(resend(c, std::move(lost[static_cast<std::size_t>(c)])));
    while (true) {
      const int server = m_.take_replacement(f);
      if (server < 0) {  // no spare: wait for a server to come back
        co_await WaitAt{spare_up_};
        continue;
      }
      co_await sleep_for(m_.load_s(server));
      if (m_.replaced(f, server, now_)) break;
    }
    start_node(m_.failovers[static_cast<std::size_t>(f)].node);
    root_back_.open(queue_, now_);
  }
  /// Failback b (as SimGrid's): the node moves once the server that came back has loaded it.
  Process failback(int b) {
    co_await sleep_for(m_.load_s(m_.failbacks[static_cast<std::size_t>(b)].to_server));
    if (m_.failback_switch(b, now_)) start_node(m_.failbacks[static_cast<std::size_t>(b)].node);
    spare_up_.open(queue_, now_);  // either way a server turned spare
  }
  /// Client c sends its requests that a failed node held again, in order.
  Process resend(int c, std::vector<int> requests) {
    for (const int r : requests) {
      co_await send_to_root(c, r, true);
      --m_.resending[static_cast<std::size_t>(c)];
    }
    resends_done_[static_cast<std::size_t>(c)].open(queue_, now_);  // the client's new requests may go now
  }

  /// Every balance period: measure, split and merge (seed 000, §3).
  Process balancer() {
    for (double t = m_.spec.balance_period_s;; t += m_.spec.balance_period_s) {
      co_await sleep_until(t);
      if (m_.balance(now_)) spawn(split(m_.split_load_s(), m_.tree->splits_planned()));
    }
  }
  /// A split's new nodes serve once the slowest of their servers has loaded its parameters,
  /// unless a failure cancelled it (split: the split's number among those planned).
  Process split(double wait, int split) {
    co_await sleep_for(wait);
    if (!m_.tree->pending_split() || m_.tree->splits_planned() != split) co_return;
    for (const int id : m_.commit_split(now_)) start_node(id);
  }

  /// Replayed events, before the other events of their time (as SimGrid applies its profiles).
  Process replay() {
    for (const ReplayEvent& e : sc_.events) {
      co_await SleepUntil{queue_, now_, e.at_s, true};
      const int node = m_.host_index(e.node);
      if (e.action == EventAction::NodeDown) {
        if (!m_.server_up[static_cast<std::size_t>(node)]) continue;
        const int f = m_.node_down(node, now_);
        // Its processes die and its messages end unfinished (SimGrid kills a host's actors and
        // fails its communications the instant it goes down); what waited in its inboxes is lost.
        ++host_life_[static_cast<std::size_t>(node)];
        fail_host_flows(links_, queue_, now_, node);
        drop_host_inboxes(inboxes_, node);
        if (f >= 0) spawn(failover(f));
        continue;
      }
      if (e.action == EventAction::NodeUp) {
        if (m_.server_up[static_cast<std::size_t>(node)]) continue;
        m_.node_up(node, now_);
        if (const int b = m_.failback_start(node, now_); b >= 0) spawn(failback(b));
        spare_up_.open(queue_, now_);
        continue;
      }
      apply_link_change(e, node, e.peer.empty() ? -1 : m_.host_index(e.peer), now_, links_, latencies_, m_.signals);
    }
  }

  const Scenario& sc_;
  TreeRun& m_;
  LatencyTable latencies_;
  EventQueue queue_;
  FairShareNetwork links_;
  double lat_factor_;
  std::deque<HostInbox> inboxes_;         ///< every inbox opened (stable addresses: a moved node's old process drains its old one)
  std::vector<int> node_inbox_;        ///< per tree node id: its current inbox (index into inboxes_)
  std::vector<int> client_inbox_;      ///< per client: its inbox (index into inboxes_)
  ClientWindows windows_;  ///< each client's max_in_flight window
  std::vector<int> host_life_;  ///< per server: times it went down (a process of an earlier life is dead)
  Gate root_back_;              ///< senders wait here while the clients know the root is down
  std::vector<Gate> resends_done_;  ///< per client: its new requests wait here while it sends lost ones again
  Gate spare_up_;               ///< failovers without a spare wait here for a server to come back
  double now_ = 0;
  Processes processes_;  ///< last: its frames go before the state they use
};

}  // namespace

RunReport run_flow_tree(const Scenario& sc, const RunOptions& options, SimSignals& signals) {
  TreeRun run(sc, options, signals);
  const double wall = play_request_run<FlowTree>(sc, run, options);
  return tree_report(run, wall, options);
}

}  // namespace swarmsim::sim::flow
