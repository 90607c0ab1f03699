#pragma once
// Geography of a swarm: where nodes are and how far signals travel between them.

#include <cmath>

namespace swarmsim::topology {

/// A point on Earth in degrees (WGS84 latitude in [-90, 90], longitude in [-180, 180]).
struct GeoPoint {
  double lat_deg = 0.0;
  double lon_deg = 0.0;
};

/// Mean Earth radius used for great-circle distances (km), IUGG value.
inline constexpr double kEarthRadiusKm = 6371.0088;

/// A point as a unit vector from Earth's centre (x toward latitude 0, longitude 0; z toward the
/// North Pole).
struct UnitVector {
  double x = 1.0, y = 0.0, z = 0.0;
};
UnitVector unit_vector(const GeoPoint& p);
/// Straight-line distance between two points of space (in Earth radii for unit vectors): the
/// chord under their great-circle arc, never longer than it.
inline double chord(const UnitVector& a, const UnitVector& b) {
  const double dx = a.x - b.x, dy = a.y - b.y, dz = a.z - b.z;
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

/// Great-circle distance between two points given as unit vectors (km), by the haversine formula
/// with the chord c between them: hav(theta) = c^2 / 4, so d = 2 R asin(c / 2). It agrees with
/// the textbook form (sines and cosines of the coordinate differences) to 1e-9 km, 10 nm for points
/// metres apart and 1 m near the antipodes (Geo.ChordFormEqualsTextbookHaversine), with one asin
/// per pair instead of five trigonometric calls: for tables of many pairs.
double arc_km(const UnitVector& a, const UnitVector& b);
/// Great-circle distance between two points (km): arc_km of their unit vectors.
double great_circle_km(const GeoPoint& a, const GeoPoint& b);

/// One-way propagation delay over a fibre path (s): distance * route_inflation / speed.
/// `speed_km_per_s` is the signal speed in fibre (about 2/3 of c, 200000 km/s);
/// `route_inflation` (>= 1) is how much longer real routes are than the great circle.
double propagation_delay_s(double distance_km, double speed_km_per_s, double route_inflation);

}  // namespace swarmsim::topology
