#pragma once
// Geography of a swarm: where nodes are and how far signals travel between them.

namespace swarmsim::topology {

/// A point on Earth in degrees (WGS84 latitude in [-90, 90], longitude in [-180, 180]).
struct GeoPoint {
  double lat_deg = 0.0;
  double lon_deg = 0.0;
};

/// Mean Earth radius used for great-circle distances (km), IUGG value.
inline constexpr double kEarthRadiusKm = 6371.0088;

/// Great-circle distance between two points (km), by the haversine formula.
double great_circle_km(const GeoPoint& a, const GeoPoint& b);

/// One-way propagation delay over a fibre path (s): distance * route_inflation / speed.
/// `speed_km_per_s` is the signal speed in fibre (about 2/3 of c, 200000 km/s);
/// `route_inflation` (>= 1) is how much longer real routes are than the great circle.
double propagation_delay_s(double distance_km, double speed_km_per_s, double route_inflation);

}  // namespace swarmsim::topology
