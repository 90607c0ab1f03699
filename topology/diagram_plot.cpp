#include "topology/diagram_plot.hpp"

// stb_image_write is compiled here with static linkage, so it cannot clash with libstb (which
// also contains it) when another target links both.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace swarmsim::topology {

namespace {

struct Rgb {
  unsigned char r, g, b;
};
constexpr Rgb kBlack{0, 0, 0}, kGrey{170, 170, 170}, kRed{200, 30, 30}, kBlue{30, 70, 210};

// A 3x5 bitmap font for the few characters the plot prints: rows top to bottom, 3 bits each.
struct Glyph {
  char c;
  std::array<unsigned char, 5> rows;
};
constexpr Glyph kFont[] = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
    {'+', {0, 2, 7, 2, 0}}, {'e', {0, 3, 7, 4, 3}}, {'s', {3, 4, 2, 1, 6}}, {'H', {5, 5, 7, 5, 5}},
    {'i', {2, 0, 2, 2, 2}}, {'n', {0, 0, 6, 5, 5}}, {'f', {3, 2, 7, 2, 2}}, {'b', {4, 4, 6, 5, 6}},
    {'r', {0, 0, 5, 6, 4}}, {'t', {2, 7, 2, 2, 3}}, {'h', {4, 4, 6, 5, 5}}, {'d', {1, 1, 3, 5, 3}},
    {'a', {0, 6, 3, 5, 7}}, {' ', {0, 0, 0, 0, 0}},
};

class Canvas {
 public:
  explicit Canvas(int size) : w_(size), h_(size), px_(static_cast<std::size_t>(size) * size * 3, 255) {}

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    unsigned char* p = &px_[(static_cast<std::size_t>(y) * w_ + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void line(int x0, int y0, int x1, int y1, Rgb c, int dash = 0) {  // Bresenham; dash > 0: on/off runs
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy, step = 0;
    for (;;) {
      if (dash == 0 || (step / dash) % 2 == 0) set(x0, y0, c);
      ++step;
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  void square(int cx, int cy, int r, Rgb c) {
    for (int y = cy - r; y <= cy + r; ++y)
      for (int x = cx - r; x <= cx + r; ++x) set(x, y, c);
  }
  void disc(int cx, int cy, int r, Rgb c) {
    for (int y = -r; y <= r; ++y)
      for (int x = -r; x <= r; ++x)
        if (x * x + y * y <= r * r) set(cx + x, cy + y, c);
  }
  /// Text at (x, y) = top-left, glyphs scaled by `s`.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 2) {
    for (char ch : s) {
      for (const Glyph& g : kFont)
        if (g.c == ch)
          for (int row = 0; row < 5; ++row)
            for (int col = 0; col < 3; ++col)
              if (g.rows[static_cast<std::size_t>(row)] & (4 >> col))
                for (int a = 0; a < scale; ++a)
                  for (int b = 0; b < scale; ++b) set(x + col * scale + b, y + row * scale + a, c);
      x += 4 * scale;
    }
  }
  int text_width(const std::string& s, int scale = 2) const { return static_cast<int>(s.size()) * 4 * scale; }
  const unsigned char* data() const { return px_.data(); }
  int width() const { return w_; }
  int height() const { return h_; }

 private:
  int w_, h_;
  std::vector<unsigned char> px_;
};

std::string seconds_label(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", s);
  return buf;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(context);
  const auto* p = static_cast<const unsigned char*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace

std::vector<unsigned char> persistence_diagram_png(const PersistenceDiagram& h0, const PersistenceDiagram& h1,
                                                   const DiagramPlotParams& params) {
  const int size = std::max(120, params.size_px);
  double scale = params.scale_max_s;
  if (!(scale > 0.0) || !std::isfinite(scale)) {
    double top = 0.0;
    for (const PersistenceDiagram* d : {&h0, &h1})
      for (const PersistencePair& p : *d) {
        top = std::max(top, p.birth);
        if (!p.essential()) top = std::max(top, p.death);
      }
    scale = top > 0.0 ? 1.05 * top : 1.0;
  }

  Canvas c(size);
  const int x0 = 50, x1 = size - 20, yb = size - 40, yt = 60, y_inf = 32;
  const auto px = [&](double v) { return x0 + static_cast<int>(std::lround(std::min(v, scale) / scale * (x1 - x0))); };
  const auto py = [&](double v) { return yb - static_cast<int>(std::lround(std::min(v, scale) / scale * (yb - yt))); };

  c.line(x0, yb, x1, yb, kBlack);                // x axis (birth)
  c.line(x0, yb, x0, y_inf, kBlack);             // y axis (death)
  c.line(x0, yb, x1, yt, kGrey);                 // diagonal y = x
  c.line(x0, y_inf, x1, y_inf, kGrey, 4);        // essential classes
  c.line(x0, yt, x0 - 4, yt, kBlack);            // tick at the axis end
  c.line(x1, yb, x1, yb + 4, kBlack);
  const std::string end = seconds_label(scale);
  c.text(x0 - 8, yb + 8, "0", kBlack);
  c.text(x1 - c.text_width(end), yb + 8, end, kBlack);
  c.text(x0 + 6, yt - 5, end, kBlack);
  c.text(x0 - 4 - c.text_width("inf"), y_inf - 5, "inf", kBlack);
  c.text((x0 + x1 - c.text_width("birth")) / 2, yb + 24, "birth", kBlack);
  c.text(6, (yt + yb) / 2, "death", kBlack);
  c.text(x1 - 2 * c.text_width("H0 "), 8, "H0", kRed);
  c.text(x1 - c.text_width("H1"), 8, "H1", kBlue);

  for (const PersistencePair& p : h0) c.square(px(p.birth), p.essential() ? y_inf : py(p.death), 3, kRed);
  for (const PersistencePair& p : h1) c.disc(px(p.birth), p.essential() ? y_inf : py(p.death), 4, kBlue);

  std::vector<unsigned char> png;
  if (!stbi_write_png_to_func(append_bytes, &png, c.width(), c.height(), 3, c.data(), c.width() * 3) || png.empty())
    throw std::runtime_error("persistence diagram: PNG encoding failed");
  return png;
}

}  // namespace swarmsim::topology
