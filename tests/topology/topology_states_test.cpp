// Topology states: k-means over snapshot features and the classifier (topology/topology_states.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numbers>

#include "sim/rng.hpp"
#include "tests/topology/metric_snapshots.hpp"
#include "topology/topology_states.hpp"

using namespace swarmsim::topology;
using namespace swarmsim::topology::testing;

namespace {

enum Shape { OneCluster = 0, TwoClusters = 1, Ring = 2 };

// 20 nodes in a known shape, with every position jittered (plane units = seconds of latency):
//   one cluster:  uniform in a disc of radius 1
//   two clusters: 10 + 10 in discs of radius 0.3, centres 3 apart
//   ring:         20 nodes around a circle of radius 1
std::vector<std::pair<double, double>> noisy_swarm(Shape shape, swarmsim::sim::Rng& rng) {
  std::vector<std::pair<double, double>> pts;
  const auto disc = [&](double cx, double cy, double r) {
    const double a = rng.uniform(0, 2 * std::numbers::pi), d = r * std::sqrt(rng.uniform());
    return std::pair{cx + d * std::cos(a), cy + d * std::sin(a)};
  };
  for (int i = 0; i < 20; ++i) {
    if (shape == OneCluster) pts.push_back(disc(0, 0, 1.0));
    if (shape == TwoClusters) pts.push_back(disc(i < 10 ? 0.0 : 3.0, 0, 0.3));
    if (shape == Ring) {
      const double a = 2 * std::numbers::pi * i / 20;
      pts.push_back({std::cos(a) + rng.uniform(-0.08, 0.08), std::sin(a) + rng.uniform(-0.08, 0.08)});
    }
  }
  return pts;
}

FeatureParams params() {
  FeatureParams p;
  p.scale_max_s = 3.5;
  return p;
}

FeatureVector features_of(const std::vector<std::pair<double, double>>& pts) {
  return diagram_features(compute_persistence(build_swarm_graph(point_snapshot(pts), distance_weights())), params());
}

struct Labelled {
  std::vector<FeatureVector> features;
  std::vector<int> shapes;
};

Labelled generate(int per_shape, std::uint64_t seed) {
  swarmsim::sim::Rng rng(seed);
  Labelled out;
  for (int k = 0; k < per_shape; ++k)
    for (Shape s : {OneCluster, TwoClusters, Ring}) {
      out.features.push_back(features_of(noisy_swarm(s, rng)));
      out.shapes.push_back(s);
    }
  return out;
}

}  // namespace

TEST(TopologyStates, ClassifiesNoisySnapshotsOfThreeKnownTopologies) {
  const Labelled train = generate(30, 1), test = generate(30, 2);
  const TopologyStates states = TopologyStates::fit(train.features, 3, 42);
  ASSERT_EQ(states.states(), 3);

  // States are unlabelled clusters: name each by the shape most of its training members have.
  std::map<int, std::map<int, int>> votes;
  for (std::size_t i = 0; i < train.shapes.size(); ++i) ++votes[states.labels()[i]][train.shapes[i]];
  std::map<int, int> shape_of_state;
  for (const auto& [state, v] : votes) {
    int best = -1, n = -1;
    for (const auto& [shape, count] : v)
      if (count > n) best = shape, n = count;
    shape_of_state[state] = best;
  }
  ASSERT_EQ(shape_of_state.size(), 3u) << "every state should hold snapshots";

  int right = 0, right_knn = 0;
  for (std::size_t i = 0; i < test.shapes.size(); ++i) {
    right += shape_of_state[states.classify(test.features[i])] == test.shapes[i];
    right_knn += shape_of_state[states.classify_knn(test.features[i], 5)] == test.shapes[i];
  }
  const double n = static_cast<double>(test.shapes.size());
  EXPECT_GE(right / n, 0.9) << right << " of " << n;
  EXPECT_GE(right_knn / n, 0.9) << right_knn << " of " << n;
  // The three shapes land in three different states.
  EXPECT_NE(shape_of_state[0], shape_of_state[1]);
  EXPECT_NE(shape_of_state[1], shape_of_state[2]);
  EXPECT_NE(shape_of_state[0], shape_of_state[2]);
}

TEST(TopologyStates, FitIsDeterministicInTheSeed) {
  const Labelled data = generate(6, 9);
  const TopologyStates a = TopologyStates::fit(data.features, 3, 7), b = TopologyStates::fit(data.features, 3, 7);
  EXPECT_EQ(a.labels(), b.labels());
  EXPECT_DOUBLE_EQ(a.inertia(), b.inertia());
  EXPECT_EQ(a.centroid(1), b.centroid(1));
}

TEST(TopologyStates, RejectsBadInput) {
  EXPECT_THROW(TopologyStates::fit({}, 1, 1), std::invalid_argument);
  EXPECT_THROW(TopologyStates::fit({{1.0}, {2.0}}, 3, 1), std::invalid_argument);
  EXPECT_THROW(TopologyStates::fit({{1.0}, {2.0, 3.0}}, 1, 1), std::invalid_argument);
  const TopologyStates s = TopologyStates::fit({{0.0}, {0.1}, {10.0}, {10.1}}, 2, 1);
  EXPECT_EQ(s.classify({0.05}), s.labels()[0]);
  EXPECT_EQ(s.classify({9.0}), s.labels()[2]);
  EXPECT_NE(s.labels()[0], s.labels()[2]);
  EXPECT_THROW(s.classify({1.0, 2.0}), std::invalid_argument);
}
