#include "sim/pricing.hpp"

#include "gpu/op_profile.hpp"

namespace swarmsim::sim {

std::shared_ptr<const gpu::ShardCostModel> make_cost_model(const Scenario& sc) {
  if (sc.pricing == Pricing::Roofline) return std::make_shared<gpu::RooflineCostModel>();
  return std::make_shared<gpu::ProfileCostModel>(gpu::load_profiles(gpu::default_profile_dir()));
}

}  // namespace swarmsim::sim
