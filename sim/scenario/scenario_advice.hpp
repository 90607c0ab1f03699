#pragma once
// Advice on a valid scenario that probably does not do what its author meant: a setting that
// the rest of the scenario defeats. Printed by `swarmsim validate` and `swarmsim run`; never an
// error (a scenario may mean it).
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// One piece of advice: the JSON path it concerns and why.
struct Advisory {
  std::string path;     ///< e.g. "policy.dht.rpc_timeout"
  std::string message;  ///< what will happen, with the figures that show it, and what to set instead
};

/// Advice for `sc`:
/// - policy.dht.rpc_timeout shorter than the round trip of an RPC between the scenario's two
///   farthest hosts under its network model's latency factor (13.01 for "tcp"): every RPC between
///   them times out, and a node that joined through such a peer is left without contacts.
/// - workload.abandon_share with a session_timeout that keeps, by Little's law (arrival rate x
///   share x timeout), a quarter or more of the tightest block's free KV memory held by sessions
///   nobody uses.
/// - and others: failback on a swarm, split learning's idle nodes and full clients, spot checks
///   without three servers or with a tolerance honest rounding defeats, coded and tree scenarios'
///   swarm policies, churn that draws nothing, fine-tuning without checkpoints or ZeRO.
std::vector<Advisory> scenario_advisories(const Scenario& sc);

}  // namespace swarmsim::sim
