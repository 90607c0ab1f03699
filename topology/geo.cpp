#include "topology/geo.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace swarmsim::topology {

UnitVector unit_vector(const GeoPoint& p) {
  constexpr double deg = std::numbers::pi / 180.0;
  const double lat = p.lat_deg * deg, lon = p.lon_deg * deg;
  return {std::cos(lat) * std::cos(lon), std::cos(lat) * std::sin(lon), std::sin(lat)};
}

double arc_km(const UnitVector& a, const UnitVector& b) {
  const double half_chord = 0.5 * chord(a, b);
  return 2.0 * kEarthRadiusKm * std::asin(std::min(1.0, half_chord));
}

double great_circle_km(const GeoPoint& a, const GeoPoint& b) { return arc_km(unit_vector(a), unit_vector(b)); }

double propagation_delay_s(double distance_km, double speed_km_per_s, double route_inflation) {
  return distance_km * route_inflation / speed_km_per_s;
}

}  // namespace swarmsim::topology
