#pragma once
// A persistence diagram as a PNG image (a tiny raster plotter; stb_image_write encodes it).
//
// Birth on x, death on y, both from 0 to the scale window; the grey diagonal is y = x. PH0 pairs
// are red squares, PH1 pairs blue circles; essential classes (death = +inf) sit on the dashed
// line marked "inf" above the plot. The axis end is printed in seconds. O(width * height + P).
#include <vector>

#include "topology/persistence.hpp"

namespace swarmsim::topology {

/// Size and scale of a diagram plot.
struct DiagramPlotParams {
  int size_px = 480;         ///< width and height of the image (pixels, >= 120)
  double scale_max_s = 0.0;  ///< axis end (s); 0: 1.05 x the largest finite birth or death (1 s if none)
};

/// The PNG file bytes (RGB, 8 bits) of the diagram of h0 and h1. Throws std::runtime_error if
/// encoding fails.
std::vector<unsigned char> persistence_diagram_png(const PersistenceDiagram& h0, const PersistenceDiagram& h1,
                                                   const DiagramPlotParams& params = {});

}  // namespace swarmsim::topology
