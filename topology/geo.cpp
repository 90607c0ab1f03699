#include "topology/geo.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace swarmsim::topology {

double great_circle_km(const GeoPoint& a, const GeoPoint& b) {
  constexpr double deg = std::numbers::pi / 180.0;
  const double dlat = (b.lat_deg - a.lat_deg) * deg;
  const double dlon = (b.lon_deg - a.lon_deg) * deg;
  const double s = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.lat_deg * deg) * std::cos(b.lat_deg * deg) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2.0 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(s)));
}

double propagation_delay_s(double distance_km, double speed_km_per_s, double route_inflation) {
  return distance_km * route_inflation / speed_km_per_s;
}

}  // namespace swarmsim::topology
