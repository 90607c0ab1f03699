#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <utility>

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

// The chord form against the textbook haversine (sines and cosines of the differences, in long
// double) on random pairs, near pairs (metres apart) and near-antipodal pairs.
TEST(Geo, ChordFormEqualsTextbookHaversine) {
  const auto textbook = [](GeoPoint a, GeoPoint b) {
    const long double deg = std::numbers::pi_v<long double> / 180;
    const long double dlat = (static_cast<long double>(b.lat_deg) - a.lat_deg) * deg;
    const long double dlon = (static_cast<long double>(b.lon_deg) - a.lon_deg) * deg;
    const long double s = std::sin(dlat / 2) * std::sin(dlat / 2) +
                          std::cos(a.lat_deg * deg) * std::cos(b.lat_deg * deg) * std::sin(dlon / 2) * std::sin(dlon / 2);
    return static_cast<double>(2 * static_cast<long double>(kEarthRadiusKm) * std::asin(std::min(1.0L, std::sqrt(s))));
  };
  std::mt19937_64 gen(4);
  std::uniform_real_distribution<double> lat(-89.0, 89.0), lon(-180.0, 180.0), tiny(-1e-4, 1e-4);
  for (int k = 0; k < 3000; ++k) {
    const GeoPoint a{lat(gen), lon(gen)};
    const GeoPoint far{lat(gen), lon(gen)};
    const GeoPoint near{a.lat_deg + tiny(gen), a.lon_deg + tiny(gen)};           // within ~15 m
    const GeoPoint opposite{-a.lat_deg + tiny(gen), a.lon_deg + 180.0 + tiny(gen)};  // ~antipodal
    // Metres apart, the chord loses digits to cancellation: 10 nm. Near the antipodes asin's
    // slope is unbounded, so either form in double is off by up to sqrt(machine epsilon) x R, a
    // few dm; 1 m in 20,000 km is 5e-9 s of fibre delay.
    for (const auto& [b, tol_km] : {std::pair{far, 1e-9}, std::pair{near, 1e-11}, std::pair{opposite, 1e-3}})
      EXPECT_NEAR(great_circle_km(a, b), textbook(a, b), tol_km)
          << a.lat_deg << "," << a.lon_deg << " to " << b.lat_deg << "," << b.lon_deg;
  }
}
