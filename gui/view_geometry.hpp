#pragma once
// Where things go on screen, as pure functions shared by the renderer and the tests: the panel
// layout of a framebuffer, the world map's equirectangular projection, and the colours and sizes
// of node markers. A screenshot test computes a node's expected pixel with these same functions.
#include <cstdint>
#include <string>
#include <vector>

#include "topology/geo.hpp"

namespace swarmsim::gui {

/// An axis-aligned rectangle in framebuffer pixels (origin top-left, y down).
struct PixelRect {
  float x = 0, y = 0, w = 0, h = 0;
  bool contains(float px, float py) const { return px >= x && py >= y && px < x + w && py < y + h; }
};

/// The panels' rectangles for a framebuffer of `width` x `height` pixels.
struct PanelLayout {
  PixelRect toolbar;   ///< play/pause, speed, timeline scrubber (full width, top)
  PixelRect world;     ///< the world map (left, under the toolbar)
  PixelRect coverage;  ///< block coverage, and a Fisher B-tree run's Tree tab (left, under the map)
  PixelRect metrics;   ///< throughput, latency, utilization, histogram (right, top)
  PixelRect side;      ///< tabs: events, node inspector, what-if (right, bottom)
};
/// `tree`: the run has a Fisher B-tree, whose Tree tab gets a taller `coverage` rectangle (the map a shorter one).
PanelLayout compute_layout(int width, int height, bool tree = false);

/// An equirectangular view: `deg_per_px` degrees of longitude (and of latitude) per pixel, the
/// point (center_lat, center_lon) at the middle of `rect`.
struct MapView {
  PixelRect rect;
  double center_lat = 0.0, center_lon = 0.0;
  double deg_per_px = 1.0;
};

/// Pixel of a geographic point in `view` (x grows with longitude, y shrinks with latitude).
void project(const MapView& view, const topology::GeoPoint& p, float& x, float& y);
/// The geographic point under pixel (x, y).
topology::GeoPoint unproject(const MapView& view, float x, float y);
/// The view that shows every point of `points` in `rect` with a margin (the whole world when
/// `points` is empty). Spans under `min_span_deg` are widened to it so close nodes stay apart.
MapView fit_map_view(const std::vector<topology::GeoPoint>& points, const PixelRect& rect, double min_span_deg = 0.02);
/// Zooms by `factor` (> 1: closer) keeping the point under pixel (x, y) fixed.
void zoom_at(MapView& view, float x, float y, double factor);
/// Graticule spacing (degrees) that puts lines roughly every 60-150 pixels.
double graticule_step_deg(const MapView& view);

/// Where each host is drawn: its location, or, for hosts without one (an RTT-matrix scenario),
/// a schematic place on a ring around the located ones. `schematic` tells whether any was placed.
std::vector<topology::GeoPoint> host_positions(const std::vector<const topology::GeoPoint*>& locations, bool& schematic);

/// Fill colour of a node marker by device kind, as 0xAABBGGRR (Dear ImGui's IM_COL32 packing).
std::uint32_t device_color(const std::string& device);
/// Marker radius (pixels) by device memory: 5 px at 4 GiB or less, up to 13 px at 141 GiB.
float node_radius(double memory_bytes);
/// Radius of a client marker (pixels).
inline constexpr float kClientRadius = 5.0f;

/// Which labels to draw so that none overlaps another: `boxes` in priority order, each drawn
/// unless it overlaps one drawn before it. 500 nodes in one city get one label, not a smear of
/// 500. Boxes are looked up in a grid of `cell` pixels, so a frame of 10,000 labels stays cheap.
std::vector<char> place_labels(const std::vector<PixelRect>& boxes, float cell = 32.0f);

}  // namespace swarmsim::gui
