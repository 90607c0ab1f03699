#pragma once
// The swarm's network as flows sharing access links, without SimGrid: every host has an up and a
// down access link, and a flow from host a to host b waits out its latency, then crosses up(a) and
// down(b). Flows on links share them by weighted max-min fairness, solved exactly by progressive
// filling over the connected group of flows a change touches. With SharingParams from
// sharing_params(NetworkModel) this is SimGrid's CM02 / LV08 model on the platform of
// swarm_platform.hpp (penalty = latency + weight_S / bandwidth per link, cross-traffic at 5% on
// the reverse links, TCP window bound gamma / 2 latency, bandwidth factor), so the flow engine and
// the SimGrid engine time the same messages alike.
#include <cstdint>
#include <vector>

#include "sim/flow/event_queue.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim::flow {

/// Parameters of the sharing model (SimGrid's names in brackets).
struct SharingParams {
  double rate_factor = 1.0;          ///< bytes/s of a flow per unit of its max-min share [network/bandwidth-factor]
  double crosstraffic_weight = 0.0;  ///< a flow's weight on the reverse links, for its ACKs [network/crosstraffic: 0.05]
  double weight_S_bytes = 0.0;       ///< penalty adds weight_S / bandwidth per link: RTT-unfair sharing [network/weight-S]
  double tcp_gamma_bytes = 0.0;      ///< TCP window: a flow moves at most gamma / (2 latency) [network/TCP-gamma]
};

/// The parameters of SimGrid 3.32's model for `model`: LV08 for "tcp" (factor 0.97, weight-S
/// 20537, cross-traffic, gamma 4 MiB) and CM02 without factors, cross-traffic or window for "exact".
/// The latency factor (13.01 for LV08) is applied by the caller to the flow's delay.
SharingParams sharing_params(NetworkModel model);
/// The access links of a scenario's hosts (servers, then clients): uplinks if `up`, else downlinks (bytes/s).
std::vector<double> access_rates(const Scenario& sc, bool up);

class FairShareNetwork {
 public:
  /// Host h has an up link of up_Bps[h] and a down link of down_Bps[h] (bytes/s); events go to `queue`.
  FairShareNetwork(std::vector<double> up_Bps, std::vector<double> down_Bps, SharingParams params, EventQueue& queue);

  /// Starts moving `bytes` from host `from` to host `to` at `now` (s). The flow holds no bandwidth
  /// for `delay_s` (its latency times the model's factor, plus any software time), then shares
  /// its links. `latency_s` is the pair's one-way latency: the flow's sharing penalty and TCP
  /// window bound. `token` is handed back by on_event when the last byte arrives.
  /// Returns the flow's handle, for cancel().
  struct FlowId {
    int id = -1;
    std::uint32_t generation = 0;
  };
  FlowId start(double now, int from, int to, double bytes, double delay_s, double latency_s, std::uint64_t token);

  /// Whether the flow `f` is still in flight (not delivered, cancelled or failed).
  bool in_flight(FlowId f) const {
    return f.id >= 0 && static_cast<std::size_t>(f.id) < flows_.size() && flows_[static_cast<std::size_t>(f.id)].live &&
           flows_[static_cast<std::size_t>(f.id)].generation == f.generation;
  }
  /// Removes the flow `f` if it is still in flight (a timeout); returns true with its token.
  bool cancel(double now, FlowId f, std::uint64_t& token);
  /// Removes every flow from or to `host` (it went down) and appends their tokens.
  void fail_host(double now, int host, std::vector<std::uint64_t>& tokens);
  /// Changes a link's bandwidth at `now` (bytes/s): the flows on it share the new capacity. As in
  /// SimGrid 3.32, a flow keeps the bound it started with, and LV08 moves the weight-S part of the
  /// penalty of every flow using the link to the new bandwidth.
  void set_capacity(double now, int link, double Bps);
  /// Index of host h's up link, and of its down link.
  static int up_link(int h) { return 2 * h; }
  static int down_link(int h) { return 2 * h + 1; }
  /// Current bandwidth of a link (bytes/s).
  double capacity(int link) const { return capacity_[static_cast<std::size_t>(link)]; }

  /// Handles a FlowActive, FlowDone or FlowSolve event; returns true with the finished flow's
  /// token when a flow delivered its last byte. Flows that start sharing links or leave them mark
  /// the links; one FlowSolve at that instant, after the events already queued for it, re-shares
  /// them all: the rates over the next interval depend only on the flows at its start, and
  /// several changes at one instant (a worker's answers, a failed host's flows) cost one solve.
  bool on_event(const TimedEvent& e, std::uint64_t& token);

  /// Groups of flows re-shared by max-min so far (flows alone on their links not counted).
  std::uint64_t solves() const { return solves_; }
  /// Flows started and not yet delivered.
  int in_flight() const { return in_flight_; }
  /// Rate of the flow started with `token` as of the last solve (bytes/s), 0 while it pays its
  /// latency or when there is none: for tests.
  double rate_of(std::uint64_t token) const;

 private:
  struct Flow {
    int link[4] = {0, 0, 0, 0};
    double weight[4] = {0, 0, 0, 0};
    int slot[4] = {0, 0, 0, 0};  ///< position in each link's flow list
    int n_links = 0;
    double remaining = 0;        ///< bytes (as of `last`)
    double value = 0;            ///< max-min share; bytes/s = value x rate_factor
    double bound = 0;            ///< upper bound of value
    double penalty = 1;
    double last = 0;             ///< when `remaining` was last brought up to date (s)
    std::uint64_t token = 0;
    int from = 0, to = 0;
    std::uint32_t version = 0;
    std::uint32_t generation = 0;  ///< times this slot was used: tells a flow from the slot's later ones
    std::uint32_t mark = 0;
    int mark_pos = 0;              ///< position in the group solve() last gathered it in
    bool sharing = false;
    bool live = false;
  };
  struct Link {
    std::vector<std::pair<int, int>> flows;  ///< (flow, which of its links this is)
    std::uint32_t mark = 0;
    double free = 0, weight = 0;  ///< progressive filling: capacity left, weight of unfixed flows
    int unfixed = 0;              ///< progressive filling: unfixed flows on the link
    double level = 0;             ///< progressive filling: the level that saturates it, this round
  };

  void attach(int f);
  void detach(int f);
  /// Takes flow `id` out (delivered, cancelled or failed) and marks the links it used for the next solve.
  void remove(double now, int id);
  /// Re-solves max-min over the flows connected to `links` through shared links, at `now`.
  void solve(double now, const int* links, int n);
  /// Marks `links` for the FlowSolve event at `now`, pushing that event unless one is pending.
  void solve_later(double now, const int* links, int n);
  /// Runs a pending solve at its own instant if `now` is later (its event was not played).
  void solve_pending(double now);
  /// Re-solves the links marked since the last solve, at the instant they were marked.
  void solve_marked();
  /// Whether flow `f` (attached) is the only flow on each of its links: most flows of a swarm.
  bool alone(const Flow& f) const;
  /// solve() for a flow alone on its links, without gathering its group.
  void solve_alone(double now, int id);
  /// Brings f's remaining bytes up to `now` at its current rate.
  void catch_up(Flow& f, double now);
  /// Flow `id`'s completion event after a solve: a new one unless its rate is the old one.
  void reschedule(int id, double old_value, double now);

  std::vector<Link> links_;
  std::vector<double> capacity_;  ///< per link (bytes/s), apart from links_: routers read it for every candidate
  std::vector<Flow> flows_;
  std::vector<int> free_ids_;
  SharingParams params_;
  EventQueue& queue_;
  int in_flight_ = 0;
  std::uint32_t mark_ = 0;
  // scratch of solve()
  std::vector<int> comp_links_, comp_flows_, fixed_, stack_;
  std::vector<int> unfixed_;             ///< positions in comp_flows_ of the flows not yet fixed
  std::vector<double> unfixed_bound_;    ///< their bound times penalty: the level that fixes them
  std::vector<char> on_saturated_link_;  ///< per position in comp_flows_: on a link saturated this round
  std::vector<double> old_values_;
  std::vector<int> pending_links_;  ///< links whose flows changed since the last solve
  bool solve_pending_ = false;      ///< a FlowSolve event is queued
  double solve_at_ = 0;             ///< its instant (s)
  std::uint32_t solve_version_ = 0; ///< its version: an older FlowSolve event is stale
  std::uint64_t solves_ = 0;        ///< groups re-shared so far
};

}  // namespace swarmsim::sim::flow
