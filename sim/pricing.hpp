#pragma once
// How a scenario's shard work is priced: measured op profiles where they exist (gpu/profiles/),
// the roofline model otherwise or when the scenario asks for it.
#include <memory>

#include "gpu/shard_cost_model.hpp"
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// The cost model `scenario.pricing` names. Profiles are read from gpu::default_profile_dir();
/// throws std::runtime_error when a profile file there is malformed.
std::shared_ptr<const gpu::ShardCostModel> make_cost_model(const Scenario& scenario);

}  // namespace swarmsim::sim
