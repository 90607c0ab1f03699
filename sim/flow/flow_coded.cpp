#include "sim/flow/flow_coded.hpp"

#include <chrono>
#include <cmath>
#include <deque>
#include <optional>
#include <vector>

#include "sim/coded/coded_run.hpp"
#include "sim/flow/event_queue.hpp"
#include "sim/flow/fair_share_network.hpp"
#include "sim/flow/message_flow.hpp"
#include "sim/flow/process.hpp"
#include "sim/output/progress_line.hpp"
#include "sim/pipeline_run.hpp"
#include "sim/swarm/latency_table.hpp"

namespace swarmsim::sim::flow {
namespace {

class FlowCoded {
 public:
  FlowCoded(const Scenario& sc, CodedRun& run)
      : sc_(sc),
        m_(run),
        latencies_(sc),
        links_(access_rates(sc, true), access_rates(sc, false), sharing_params(sc.network.model), queue_),
        lat_factor_(latency_factor(sc.network.model)),
        member_inbox_(static_cast<std::size_t>(run.n_members()), -1),
        cancel_inbox_(static_cast<std::size_t>(run.n_members()), -1),
        windows_(sc.clients.size(), sc.workload.max_in_flight),
        host_life_(sc.nodes.size(), 0) {
    for (int c = 0; c < m_.clients(); ++c) {
      client_inbox_.emplace_back();
      for (int k = 0; k < m_.n_members(); ++k) client_inbox_.back().push_back(open_inbox(client_host(c)));
    }
  }

  void run(ProgressLine& progress) {
    for (int k = 0; k < m_.n_members(); ++k) start_member(k);
    if (!sc_.events.empty()) spawn(replay());
    for (int c = 0; c < m_.clients(); ++c) {
      spawn(client_sender(c));
      for (int k = 0; k < m_.n_members(); ++k) spawn(client_receiver(c, k));
    }
    // Members and receivers are daemons, as on SimGrid: the run ends when every request completed.
    play_events(queue_, links_, now_, sc_.time_limit_s, [this] { return m_.completed >= m_.requests; },
                [&] { progress.tick(now_, m_.completed, m_.messages); });
  }

 private:
  SleepUntil sleep_for(double s) { return SleepUntil{queue_, now_, now_ + s}; }
  SleepUntil sleep_until(double t) { return SleepUntil{queue_, now_, t}; }

  void spawn(Process p) { processes_.spawn(p, queue_, now_, now_); }
  int client_host(int c) const { return static_cast<int>(sc_.nodes.size()) + c; }
  int server(int k) const { return m_.members[static_cast<std::size_t>(k)].server; }
  bool is_server(int host) const { return host < static_cast<int>(sc_.nodes.size()); }
  /// A process on server `host` started in its life `life` has died with it.
  bool dead(int host, int life) const { return is_server(host) && host_life_[static_cast<std::size_t>(host)] != life; }
  int life_of(int host) const { return is_server(host) ? host_life_[static_cast<std::size_t>(host)] : 0; }
  int open_inbox(int host) {
    inboxes_.emplace_back().host = host;
    return static_cast<int>(inboxes_.size()) - 1;
  }

  /// The message itself, detached from its sender: its bytes cross the network, then it waits in
  /// inbox `box` (by index: see flow_tree.cpp's carry).
  Process carry(int from, int to, int box, StageMessage msg, double wire, double sent_at, double software_s) {
    if (co_await Transfer{links_, latencies_, lat_factor_, now_, from, to, wire} != Outcome::Done) co_return;
    m_.signals.on_transfer(TransferSpan{sent_at, now_, from, to, msg.request, msg.attempt, wire, lat_factor_ * latencies_.one_way(from, to),
                                        software_s});
    // Queued here, not through a helper taking the message by reference: GCC 12 built that call
    // into a trap (ud2) in this coroutine.
    HostInbox& in = inboxes_[static_cast<std::size_t>(box)];
    in.messages.push_back(msg);
    if (in.waiting) {
      queue_.push(now_, EventKind::Resume, token_of(*in.waiting));
      in.waiting = nullptr;
    }
  }
  /// Serializes at the sending end, then posts request r's message for member k from host `from`
  /// to host `to` into inbox `box`, as SimGrid's carrier does. False when the sender's server went
  /// down meanwhile (its life `life`); a message to a server that is down is lost.
  Task<bool> send(int from, int to, int box, int r, int k, double bytes, int life = 0) {
    const double wire = bytes + sc_.overheads.header_bytes, sent_at = now_;
    co_await sleep_for(m_.endpoint_s(bytes));
    if (dead(from, life)) co_return false;
    m_.message_posted(r, k, wire);
    if (!is_server(to) || m_.server_up[static_cast<std::size_t>(to)])
      processes_.start_now(carry(from, to, box, StageMessage{r, 0}, std::ceil(wire), sent_at, m_.endpoint_s(bytes)));
    co_return true;
  }

  /// Member k on its server: one request at a time, in the order they arrive.
  Process member(int k, int box) {
    const int host = server(k), life = life_of(host);
    while (true) {
      const StageMessage msg = co_await ReceiveFrom{&inboxes_[static_cast<std::size_t>(box)]};
      if (dead(host, life)) co_return;
      if (m_.drops(k, msg.request)) continue;  // completed, and its cancel came first
      const double start = now_;
      co_await sleep_for(m_.endpoint_s(m_.spec.input_bytes));  // deserialize the input
      if (dead(host, life)) co_return;
      const double computing = now_;
      co_await sleep_for(m_.compute_s(k, msg.request));
      if (dead(host, life)) co_return;
      m_.signals.on_compute(ComputeSpan{computing, now_, host, msg.request, 0, BlockRange{k, k + 1}, "coded_model",
                                        m_.members[static_cast<std::size_t>(k)].compute_s});
      const int c = m_.client_of(msg.request);
      if (!co_await send(host, client_host(c), client_inbox_[static_cast<std::size_t>(c)][static_cast<std::size_t>(k)], msg.request, k,
                         m_.spec.output_bytes, life))
        co_return;
      m_.computed(k, msg.request, now_ - start);
    }
  }

  /// Member k's cancels: each marks its request dropped as it arrives, ahead of the member's queue.
  Process cancel_receiver(int k, int box) {
    const int host = server(k), life = life_of(host);
    while (true) {
      const StageMessage msg = co_await ReceiveFrom{&inboxes_[static_cast<std::size_t>(box)]};
      if (dead(host, life)) co_return;
      m_.cancel_arrived(msg.request, k);
    }
  }

  /// Starts member k on its server with a new inbox (and a cancel inbox, with model.coded.cancel).
  void start_member(int k) {
    member_inbox_[static_cast<std::size_t>(k)] = open_inbox(server(k));
    spawn(member(k, member_inbox_[static_cast<std::size_t>(k)]));
    if (!m_.spec.cancel) return;
    cancel_inbox_[static_cast<std::size_t>(k)] = open_inbox(server(k));
    spawn(cancel_receiver(k, cancel_inbox_[static_cast<std::size_t>(k)]));
  }

  /// Client c's request r completed: its window has room for another, and with
  /// model.coded.cancel the members still holding r are told to drop it.
  void request_completed(int c, int r) {
    windows_.release(c, queue_, now_);
    if (!m_.spec.cancel) return;
    std::vector<int> targets = m_.cancel_targets(r);
    if (!targets.empty()) spawn(send_cancels(c, r, std::move(targets)));
  }
  Process send_cancels(int c, int r, std::vector<int> targets) {
    for (const int k : targets) co_await send(client_host(c), server(k), cancel_inbox_[static_cast<std::size_t>(k)], r, k, 0);
  }

  /// Client c sends its requests (r = c, c + clients, ...) as they arrive, each to every member that serves.
  Process client_sender(int c) {
    for (int r = c; r < m_.requests; r += m_.clients()) {
      if (m_.arrival[static_cast<std::size_t>(r)] > now_) co_await sleep_until(m_.arrival[static_cast<std::size_t>(r)]);
      co_await windows_.acquire(c);
      m_.request_sent(r, now_);
      for (int k = 0; k < m_.n_members(); ++k)
        if (m_.at(r, k) == MemberState::Pending)
          co_await send(client_host(c), server(k), member_inbox_[static_cast<std::size_t>(k)], r, k, m_.spec.input_bytes);
    }
  }

  /// Client c's outputs from member k: deserialized, then counted towards their requests.
  Process client_receiver(int c, int k) {
    HostInbox* in = &inboxes_[static_cast<std::size_t>(client_inbox_[static_cast<std::size_t>(c)][static_cast<std::size_t>(k)])];
    while (true) {
      const StageMessage msg = co_await ReceiveFrom{in};
      co_await sleep_for(m_.endpoint_s(m_.spec.output_bytes));  // deserialize the output
      const CodedRun::Arrival a = m_.output_arrived(msg.request, k, now_);
      if (a == CodedRun::Arrival::Completed) request_completed(c, msg.request);
      if (a == CodedRun::Arrival::DecodeLater) spawn(decode_wait(c, msg.request));
    }
  }

  /// Request r's decode wait: then the client decodes unless the last output came meanwhile.
  Process decode_wait(int c, int r) {
    co_await sleep_for(m_.spec.decode_wait_s);
    if (m_.decode_deadline(r, now_)) request_completed(c, r);
  }

  /// Member k's model loads on server node `target` (its own server back, or a spare); then, unless
  /// `target` went down meanwhile or another recovery won, k serves there and is sent again what it lost.
  Process recover(int k, int target) {
    const int downs = m_.server_downs[static_cast<std::size_t>(target)];
    co_await sleep_for(m_.server_load_s(target));
    if (m_.server_downs[static_cast<std::size_t>(target)] != downs) co_return;  // down again while loading
    std::optional<std::vector<std::vector<int>>> ready = m_.member_ready_on(k, target, now_);
    if (!ready) co_return;
    start_member(k);
    for (int c = 0; c < m_.clients(); ++c)
      if (!(*ready)[static_cast<std::size_t>(c)].empty()) spawn(resend(c, k, std::move((*ready)[static_cast<std::size_t>(c)])));
  }
  /// Failover f (as SimGrid's): once detected, the fastest spare that is up loads the member's model.
  Process failover(int f) {
    co_await sleep_until(m_.failovers[static_cast<std::size_t>(f)].detected_at_s);
    const int k = m_.failovers[static_cast<std::size_t>(f)].member;
    if (m_.members[static_cast<std::size_t>(k)].serving) co_return;  // its server came back and reloaded first
    if (const int spare = m_.take_spare(f); spare >= 0) spawn(recover(k, spare));
  }
  /// Client c sends member k the inputs of its unfinished requests that k lost, in order.
  Process resend(int c, int k, std::vector<int> requests) {
    for (const int r : requests)
      if (m_.done[static_cast<std::size_t>(r)] < 0)
        co_await send(client_host(c), server(k), member_inbox_[static_cast<std::size_t>(k)], r, k, m_.spec.input_bytes);
  }

  /// Replayed events, before the other events of their time (as SimGrid applies its profiles).
  Process replay() {
    for (const ReplayEvent& e : sc_.events) {
      co_await SleepUntil{queue_, now_, e.at_s, true};
      const int node = host_index(sc_, e.node);
      if (e.action == EventAction::NodeDown || e.action == EventAction::NodeUp) {
        const bool up = e.action == EventAction::NodeUp;
        if (!is_server(node) || static_cast<bool>(m_.server_up[static_cast<std::size_t>(node)]) == up) continue;
        if (!up) {  // its processes die and its messages end unfinished, as on SimGrid; its inboxes are lost
          ++host_life_[static_cast<std::size_t>(node)];
          fail_host_flows(links_, queue_, now_, node);
          drop_host_inboxes(inboxes_, node);
          if (const int f = m_.server_down(node, now_); f >= 0) spawn(failover(f));
        } else if (const int k = m_.server_back(node, now_); k >= 0) {
          spawn(recover(k, node));
        }
        continue;
      }
      apply_link_change(e, node, e.peer.empty() ? -1 : host_index(sc_, e.peer), now_, links_, latencies_, m_.signals);
    }
  }

  const Scenario& sc_;
  CodedRun& m_;
  LatencyTable latencies_;
  EventQueue queue_;
  FairShareNetwork links_;
  double lat_factor_;
  std::deque<HostInbox> inboxes_;                 ///< every inbox opened (stable addresses)
  std::vector<int> member_inbox_;              ///< per member: its current inbox (index into inboxes_)
  std::vector<int> cancel_inbox_;              ///< per member: its current cancel inbox (model.coded.cancel)
  std::vector<std::vector<int>> client_inbox_; ///< per client, per member: the receiver's inbox
  ClientWindows windows_;                      ///< each client's max_in_flight window
  std::vector<int> host_life_;                 ///< per server: times it went down (a process of an earlier life is dead)
  double now_ = 0;
  Processes processes_;  ///< last: its frames go before the state they use
};

}  // namespace

RunReport run_flow_coded(const Scenario& sc, const RunOptions& options, SimSignals& signals) {
  CodedRun run(sc, options, signals);
  const double wall = play_request_run<FlowCoded>(sc, run, options);
  return coded_report(run, wall, options);
}

}  // namespace swarmsim::sim::flow
