#include "gui/view_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace swarmsim::gui {

PanelLayout compute_layout(int width, int height, bool tree) {
  const float W = static_cast<float>(std::max(width, 320)), H = static_cast<float>(std::max(height, 240));
  const float bar = 62.0f;
  const float left_w = std::floor(W * 0.60f);
  const float body = H - bar;
  const float world_h = std::floor(body * (tree ? 0.48f : 0.62f));
  const float metrics_h = std::floor(body * 0.55f);
  PanelLayout l;
  l.toolbar = {0, 0, W, bar};
  l.world = {0, bar, left_w, world_h};
  l.coverage = {0, bar + world_h, left_w, body - world_h};
  l.metrics = {left_w, bar, W - left_w, metrics_h};
  l.side = {left_w, bar + metrics_h, W - left_w, body - metrics_h};
  return l;
}

void project(const MapView& v, const topology::GeoPoint& p, float& x, float& y) {
  x = static_cast<float>(v.rect.x + v.rect.w * 0.5 + (p.lon_deg - v.center_lon) / v.deg_per_px);
  y = static_cast<float>(v.rect.y + v.rect.h * 0.5 - (p.lat_deg - v.center_lat) / v.deg_per_px);
}

topology::GeoPoint unproject(const MapView& v, float x, float y) {
  return {v.center_lat - (y - v.rect.y - v.rect.h * 0.5) * v.deg_per_px,
          v.center_lon + (x - v.rect.x - v.rect.w * 0.5) * v.deg_per_px};
}

MapView fit_map_view(const std::vector<topology::GeoPoint>& points, const PixelRect& rect, double min_span_deg) {
  MapView v;
  v.rect = rect;
  const double w = std::max(1.0f, rect.w), h = std::max(1.0f, rect.h);
  const double world = std::max(360.0 / w, 180.0 / h);
  if (points.empty()) {
    v.deg_per_px = world;
    return v;
  }
  double lat0 = 90, lat1 = -90, lon0 = 180, lon1 = -180;
  for (const topology::GeoPoint& p : points) {
    lat0 = std::min(lat0, p.lat_deg);
    lat1 = std::max(lat1, p.lat_deg);
    lon0 = std::min(lon0, p.lon_deg);
    lon1 = std::max(lon1, p.lon_deg);
  }
  v.center_lat = (lat0 + lat1) * 0.5;
  v.center_lon = (lon0 + lon1) * 0.5;
  const double span_lat = std::max(lat1 - lat0, min_span_deg) * 1.5;  // 25% margin each side
  const double span_lon = std::max(lon1 - lon0, min_span_deg) * 1.5;
  v.deg_per_px = std::min(world, std::max(span_lon / w, span_lat / h));
  return v;
}

void zoom_at(MapView& v, float x, float y, double factor) {
  const topology::GeoPoint under = unproject(v, x, y);
  v.deg_per_px = std::clamp(v.deg_per_px / factor, 1e-6, 2.0);
  // Keep `under` at (x, y).
  v.center_lon = under.lon_deg - (x - v.rect.x - v.rect.w * 0.5) * v.deg_per_px;
  v.center_lat = under.lat_deg + (y - v.rect.y - v.rect.h * 0.5) * v.deg_per_px;
}

double graticule_step_deg(const MapView& v) {
  static const double steps[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30};
  for (double s : steps)
    if (s / v.deg_per_px >= 60.0) return s;
  return 30.0;
}

std::vector<topology::GeoPoint> host_positions(const std::vector<const topology::GeoPoint*>& locations, bool& schematic) {
  std::vector<topology::GeoPoint> out(locations.size());
  double lat = 0, lon = 0;
  int located = 0, missing = 0;
  for (const topology::GeoPoint* p : locations) {
    if (p) {
      lat += p->lat_deg;
      lon += p->lon_deg;
      ++located;
    } else {
      ++missing;
    }
  }
  if (located) {
    lat /= located;
    lon /= located;
  }
  schematic = missing > 0;
  const double radius = located ? 1.0 : 20.0;  // degrees
  int k = 0;
  for (std::size_t i = 0; i < locations.size(); ++i) {
    if (locations[i]) {
      out[i] = *locations[i];
      continue;
    }
    const double a = 2.0 * 3.14159265358979 * k++ / std::max(1, missing);
    out[i] = {std::clamp(lat + radius * std::sin(a), -85.0, 85.0), std::clamp(lon + radius * std::cos(a), -180.0, 180.0)};
  }
  return out;
}

std::uint32_t device_color(const std::string& device) {
  // 0xAABBGGRR. Catalog kinds get fixed, well-separated colours; others a hashed one.
  struct Entry {
    const char* name;
    std::uint32_t color;
  };
  static const Entry table[] = {
      {"GTX-1650", 0xFF3C8CFFu},  // orange
      {"T4", 0xFFB4B400u},        // teal
      {"L4", 0xFF50C850u},        // green
      {"RTX-3090", 0xFFE6A03Cu},  // blue
      {"RTX-4090", 0xFFF05AB4u},  // purple
      {"A100-80GB", 0xFF3CDCDCu}, // yellow
      {"H100", 0xFF5050F0u},      // red
      {"H200", 0xFFC878F0u},      // pink
      {"cpu-generic", 0xFFDCDCDCu},
  };
  for (const Entry& e : table)
    if (device == e.name) return e.color;
  std::uint32_t h = 2166136261u;
  for (unsigned char c : device) h = (h ^ c) * 16777619u;
  const std::uint32_t r = 80 + (h & 0x7F), g = 80 + ((h >> 8) & 0x7F), b = 80 + ((h >> 16) & 0x7F);
  return 0xFF000000u | (b << 16) | (g << 8) | r;
}

float node_radius(double memory_bytes) {
  const double gib = memory_bytes / (1024.0 * 1024.0 * 1024.0);
  if (gib <= 4.0) return 5.0f;
  // log scale from 4 GiB (5 px) to 141 GiB (13 px)
  const double f = std::log(gib / 4.0) / std::log(141.0 / 4.0);
  return static_cast<float>(5.0 + 8.0 * std::min(1.0, f));
}

std::vector<char> place_labels(const std::vector<PixelRect>& boxes, float cell) {
  std::vector<char> drawn(boxes.size(), 0);
  std::unordered_map<std::uint64_t, std::vector<std::size_t>> grid;  // cell -> drawn boxes touching it
  const auto key = [](long cx, long cy) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(cx)) << 32) | static_cast<std::uint32_t>(cy);
  };
  const auto overlap = [](const PixelRect& a, const PixelRect& b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  };
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const PixelRect& b = boxes[i];
    if (!std::isfinite(b.x) || !std::isfinite(b.y)) continue;
    const long x0 = static_cast<long>(std::floor(b.x / cell)), x1 = static_cast<long>(std::floor((b.x + b.w) / cell));
    const long y0 = static_cast<long>(std::floor(b.y / cell)), y1 = static_cast<long>(std::floor((b.y + b.h) / cell));
    bool free = true;
    for (long cx = x0; cx <= x1 && free; ++cx)
      for (long cy = y0; cy <= y1 && free; ++cy)
        if (const auto it = grid.find(key(cx, cy)); it != grid.end())
          for (const std::size_t j : it->second)
            if (overlap(b, boxes[j])) {
              free = false;
              break;
            }
    if (!free) continue;
    drawn[i] = 1;
    for (long cx = x0; cx <= x1; ++cx)
      for (long cy = y0; cy <= y1; ++cy) grid[key(cx, cy)].push_back(i);
  }
  return drawn;
}

}  // namespace swarmsim::gui
