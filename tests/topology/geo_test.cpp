#include <gtest/gtest.h>

#include <numbers>

#include "topology/geo.hpp"

using namespace swarmsim::topology;

TEST(Geo, KnownGreatCircleDistances) {
  // Paris (48.8566 N, 2.3522 E) to London (51.5074 N, 0.1278 W): 343.5 km (haversine, R = 6371 km).
  EXPECT_NEAR(great_circle_km({48.8566, 2.3522}, {51.5074, -0.1278}), 343.5, 1.0);
  // A quarter of a meridian: pole to equator is pi/2 * R.
  EXPECT_NEAR(great_circle_km({90, 0}, {0, 0}), std::numbers::pi / 2 * kEarthRadiusKm, 1e-6);
  // Antipodes: half the circumference.
  EXPECT_NEAR(great_circle_km({0, 0}, {0, 180}), std::numbers::pi * kEarthRadiusKm, 1e-6);
  EXPECT_DOUBLE_EQ(great_circle_km({12, 34}, {12, 34}), 0.0);
}

TEST(Geo, PropagationDelay) {
  // 1000 km at 200000 km/s over a path 2x the great circle: 10 ms.
  EXPECT_DOUBLE_EQ(propagation_delay_s(1000, 200000, 2.0), 0.01);
}
