#pragma once
// A swarm to walk through many state changes: 40 "auto" servers (no fixed blocks) of
// scenarios/sanity/two_node.json's node, spanning 1-9 blocks, every third a GTX 1650 and the rest
// L4s, declaring uptimes from 0.5 to 0.99.
#include <string>
#include <vector>

#include "gpu/device_catalog.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace swarmsim::test {

inline sim::Scenario forty_auto_servers(const std::vector<sim::Override>& overrides = {}) {
  sim::Scenario sc = sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json", overrides);
  sim::NodeSpec n = sc.nodes[0];
  n.blocks.reset();
  sc.nodes.clear();
  for (int i = 0; i < 40; ++i) {
    n.name = "s" + std::to_string(i);
    n.max_blocks = 1 + i % 9;
    n.uptime = 0.5 + 0.0125 * i;
    n.device = gpu::find_device(i % 3 == 0 ? "GTX-1650" : "L4");
    sc.nodes.push_back(n);
  }
  return sc;
}

}  // namespace swarmsim::test
