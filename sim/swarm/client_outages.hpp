#pragma once
// When each client host is down: the scenario's node_down and node_up events that name a client
// (a frontend that crashes or loses its network). Both engines ask the same question at the same
// points of a session (sim/swarm/session_plan.hpp), so they lose the same sessions with their
// clients. Plain data, no SimGrid.
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

class ClientOutages {
 public:
  /// The outages of `sc`'s clients, from its events (sorted by time, as the loader leaves them).
  explicit ClientOutages(const Scenario& sc);

  /// Whether any client ever goes down.
  bool any() const { return any_; }
  /// Whether client host `host` (an index past the servers) is down at `t` (s): in [node_down,
  /// the next node_up). False for a server's index.
  bool down(int host, double t) const;
  /// Whether client host `host` was down at some time in [since, t]: a session that arrived at
  /// `since` has lost its client by `t`, even if the client is back by then.
  bool down_within(int host, double since, double t) const;
  /// When the first outage of client host `host` that meets [since, t] began (s); NaN if none.
  double down_since(int host, double since, double t) const;

 private:
  struct Outage {
    double from_s, until_s;  ///< [from, until): until is +inf when it never comes back
  };
  int servers_ = 0;
  bool any_ = false;
  std::vector<std::vector<Outage>> outages_;  ///< per client, in time order, disjoint
  const Outage* first_within(int host, double since, double t) const;
};

/// Why a session ended with its client: "its client fe-1 went down at 60.000 s (decode step 5)",
/// or, for one that arrived while it was down, "its client fe-1 was down when it arrived (since 60.000 s)".
std::string client_lost_reason(const std::string& client, double down_since_s, const std::string& stage);

}  // namespace swarmsim::sim
