#pragma once
// The SimGrid platform of a scenario, built in C++ (no XML): one host per node and client at its
// device's peak FLOP/s, an uplink and a downlink per host at its bandwidths, a GeoZone for pair
// latencies, and SimGrid profiles for the replayed bandwidth changes and node failures.
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>

#include "sim/output/progress_line.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/routing/swarm_view.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

class GeoZone;

/// The SimGrid engine of one run, logging warnings and above only. One per process (see
/// isolated_run.hpp).
std::unique_ptr<simgrid::s4u::Engine> make_engine();

/// Runs `engine` until `time_limit_s`, telling `progress` of the simulated time and the counts
/// `done()` and `messages()` return each time it advances; returns the wall seconds the run took.
/// For the request-based runs (graph pipelines, Fisher B-trees).
double run_requests(simgrid::s4u::Engine& engine, double time_limit_s, ProgressLine& progress, const std::function<int()>& done,
                    const std::function<std::uint64_t()>& messages);

/// Owns nothing SimGrid does not own already; holds borrowed pointers to the platform's entities,
/// valid while the SimGrid engine lives.
class SwarmPlatform final : public NetworkEstimate {
 public:
  /// Selects SimGrid's network model and builds the platform. The engine must exist and have no
  /// platform yet. `scenario` and `latencies` are borrowed and must outlive the platform.
  SwarmPlatform(const Scenario& scenario, const LatencyTable& latencies);

  /// Host of node/client `i` (servers first, then clients).
  simgrid::s4u::Host* host(int i) const { return hosts_[static_cast<std::size_t>(i)]; }
  /// A host with no links that never fails, for the actors that drive the run.
  simgrid::s4u::Host* control_host() const { return control_; }
  /// Host index of a SimGrid host, or -1 for the control host.
  int index_of(const simgrid::s4u::Host* h) const;
  int hosts() const { return static_cast<int>(hosts_.size()); }

  // NetworkEstimate: the replayed network as it is now (configured values, before SimGrid's
  // TCP-model factors).
  double latency_s(int from, int to) const override { return latencies_.one_way(from, to); }
  double bandwidth_Bps(int from, int to) const override;
  bool has_cheap_latency_floor() const override { return latencies_.floor_is_cheaper(); }
  double latency_floor_s(int from, int to) const override { return latencies_.one_way_floor(from, to); }
  int regions() const override { return latencies_.regions(); }
  std::span<const int> host_regions() const override { return latencies_.host_regions(); }
  double latency_floor_to_region_s(int from, int region) const override { return latencies_.one_way_floor_to_region(from, region); }

  /// Adds `seconds` of per-message software time (RPC overhead, (de)serialization, checksums) to
  /// the next message of `bytes` bytes from host `from` to host `to`, as extra latency: SimGrid
  /// keeps a flow off its links during its latency, so this equals sleeping `seconds` and then
  /// sending, for one activity instead of two. Call it just before starting that message, and
  /// only when can_fold_into_latency(from, to).
  void fold_into_latency(int from, int to, std::uint64_t bytes, double seconds);
  /// Whether the pair has a latency to scale (a factor cannot scale 0); else the caller sleeps.
  bool can_fold_into_latency(int from, int to) const { return latency_s(from, to) > 0; }

 private:
  /// The latency factor SimGrid applies to one message: the model's own factor, plus the folded
  /// software time of a message announced by fold_into_latency().
  double latency_factor(double bytes, const simgrid::s4u::Host* src, const simgrid::s4u::Host* dst);

  struct FoldedKey {
    int from, to;
    std::uint64_t bytes;
    bool operator==(const FoldedKey&) const = default;
  };
  struct FoldedKeyHash {
    std::size_t operator()(const FoldedKey& k) const {
      return std::hash<std::uint64_t>{}(k.bytes * 0x9E3779B97F4A7C15ull ^ (static_cast<std::uint64_t>(k.from) << 32 | static_cast<std::uint32_t>(k.to)));
    }
  };

  const Scenario& sc_;
  const LatencyTable& latencies_;
  std::vector<simgrid::s4u::Host*> hosts_;
  std::vector<simgrid::s4u::Link*> up_, down_;
  simgrid::s4u::Host* control_ = nullptr;
  std::unordered_map<const simgrid::s4u::Host*, int> index_of_;
  double model_latency_factor_ = 1.0;  ///< LV08's 13.01, or 1 for the exact model
  /// Messages announced and not yet started: their software seconds, by (from, to, bytes).
  std::unordered_multimap<FoldedKey, double, FoldedKeyHash> folded_;
};

}  // namespace swarmsim::sim
