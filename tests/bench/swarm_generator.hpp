#pragma once
// Builds large scenarios in code for benchmarks: N servers spread over the continents with "auto"
// blocks, C clients, Poisson sessions.
#include "sim/rng.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::bench {

inline sim::Scenario generated_swarm(int n_nodes, int n_clients, int sessions, double rate_per_s, int new_tokens) {
  sim::Scenario sc;
  sc.name = "generated-" + std::to_string(n_nodes);
  sc.seed = 11;
  sc.model = *gpu::find_model("Llama-3-8B");
  sim::Rng rng(sc.seed);
  const char* gpus[] = {"RTX-3090", "RTX-4090", "L4", "T4", "A100-80GB"};
  for (int i = 0; i < n_nodes; ++i) {
    sim::NodeSpec n;
    n.name = "n" + std::to_string(i);
    n.device = gpu::find_device(gpus[rng.below(5)]);
    n.location = topology::GeoPoint{rng.uniform(-40, 60), rng.uniform(-120, 140)};
    n.uplink_Bps = n.downlink_Bps = 125e6;
    n.access_latency_s = 0.002;
    n.max_blocks = 8;
    sc.nodes.push_back(n);
  }
  for (int c = 0; c < n_clients; ++c) {
    sim::ClientSpec cl;
    cl.name = "c" + std::to_string(c);
    cl.device = gpu::find_device("cpu-generic");
    cl.location = topology::GeoPoint{rng.uniform(-40, 60), rng.uniform(-120, 140)};
    cl.uplink_Bps = cl.downlink_Bps = 12.5e6;
    sc.clients.push_back(cl);
  }
  sc.network.model = sim::NetworkModel::Exact;
  sc.workload.sessions = sessions;
  sc.workload.start_s = 60.0;  // every node has loaded its blocks
  sc.workload.arrival = sim::ArrivalProcess::Poisson;
  sc.workload.rate_per_s = rate_per_s;
  sc.workload.prompt_tokens = 64;
  sc.workload.new_tokens = new_tokens;
  sc.outputs.trace = sc.outputs.events = false;
  return sc;
}

}  // namespace swarmsim::bench
