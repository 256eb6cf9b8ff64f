#include "core/shapes/render.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/common/error.h"

namespace dype::shapes {
namespace {

constexpr int kSuper = 3;  // samples per pixel and axis
constexpr double kPi = 3.14159265358979323846;

// Even-odd test against the 5-pointed star (outer radius 1, inner 0.45, a point straight up).
bool inside_star(double u, double v) {
  static const auto pts = [] {
    std::array<std::array<double, 2>, 10> p{};
    for (int k = 0; k < 10; ++k) {
      const double a = -kPi / 2 + k * kPi / 5, r = k % 2 ? 0.45 : 1.0;
      p[k] = {r * std::cos(a), r * std::sin(a)};
    }
    return p;
  }();
  bool in = false;
  for (std::size_t i = 0, j = pts.size() - 1; i < pts.size(); j = i++) {
    const double xi = pts[i][0], yi = pts[i][1], xj = pts[j][0], yj = pts[j][1];
    if ((yi > v) != (yj > v) && u < (xj - xi) * (v - yi) / (yj - yi) + xi) in = !in;
  }
  return in;
}

void check_size(int width, int height) {
  if (width < 8 || height < 8 || width > 16384 || height > 16384)
    throw InvalidArgument("shapes: image size " + std::to_string(width) + "x" + std::to_string(height) +
                          " is outside 8…16384 per side");
}

void put(RgbImage& im, int x, int y, double r, double g, double b) {
  std::uint8_t* p = &im.rgb8[3 * (static_cast<std::size_t>(y) * im.width + x)];
  p[0] = static_cast<std::uint8_t>(std::lround(std::clamp(r, 0.0, 255.0)));
  p[1] = static_cast<std::uint8_t>(std::lround(std::clamp(g, 0.0, 255.0)));
  p[2] = static_cast<std::uint8_t>(std::lround(std::clamp(b, 0.0, 255.0)));
}

// Whether background sample point (x, y) (pixels) is on the pattern.
bool on_pattern(const Background& b, const Scene& s, double x, double y, double period) {
  if (b.pattern == Pattern::Stripes) {
    const double t = s.look.pattern_angle == 0 ? y : s.look.pattern_angle == 1 ? x : (x + y) / std::sqrt(2.0);
    const double f = t / period - std::floor(t / period);
    return f < 0.35;
  }
  // Dots: one disc of radius 0.22 periods in the middle of each period × period cell.
  const double fx = x / period - std::floor(x / period) - 0.5, fy = y / period - std::floor(y / period) - 0.5;
  return fx * fx + fy * fy < 0.22 * 0.22;
}

}  // namespace

bool inside_shape(Shape shape, double u, double v) {
  switch (shape) {
    case Shape::Circle: return u * u + v * v <= 1.0;
    case Shape::Square: return std::max(std::fabs(u), std::fabs(v)) <= 0.8;
    case Shape::Triangle:  // equilateral, circumradius 1, apex up: vertices (0,-1), (±0.866, 0.5)
      return v <= 0.5 && std::fabs(u) <= (v + 1.0) / std::sqrt(3.0);
    case Shape::Star: return inside_star(u, v);
    case Shape::Ring: {
      const double r2 = u * u + v * v;
      return r2 <= 1.0 && r2 >= 0.55 * 0.55;
    }
    case Shape::Cross:
      return (std::fabs(u) <= 0.3 && std::fabs(v) <= 0.95) || (std::fabs(v) <= 0.3 && std::fabs(u) <= 0.95);
  }
  return false;
}

RgbImage render(const Scene& s, int width, int height) {
  check_size(width, height);
  RgbImage im;
  im.width = width;
  im.height = height;
  im.rgb8.resize(static_cast<std::size_t>(width) * height * 3);
  const Background& b = s.background;
  const Rgb a = rgb_of(b.colour);
  const Rgb z = b.kind == BackgroundKind::Gradient ? rgb_of(b.colour_to) : rgb_of(b.pattern_colour);
  const double period = s.look.pattern_period * std::min(width, height);
  const bool patterned = b.kind == BackgroundKind::Plain && b.pattern != Pattern::None;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double w = 0;  // share of the second colour (gradient position, or pattern coverage)
      if (b.kind == BackgroundKind::Gradient) {
        w = (y + 0.5) / height;
      } else if (patterned) {
        int hits = 0;
        for (int j = 0; j < kSuper; ++j)
          for (int i = 0; i < kSuper; ++i)
            hits += on_pattern(b, s, x + (i + 0.5) / kSuper, y + (j + 0.5) / kSuper, period);
        w = static_cast<double>(hits) / (kSuper * kSuper);
      }
      put(im, x, y, a.r + w * (z.r - a.r), a.g + w * (z.g - a.g), a.b + w * (z.b - a.b));
    }
  }
  draw_object(im, s);
  return im;
}

void draw_object(RgbImage& im, const Scene& s) {
  check_size(im.width, im.height);
  if (s.look.radius <= 0) return;
  const auto c = place_centre(s.place);
  const double cx = im.width * (c[0] + s.look.dx), cy = im.height * (c[1] + s.look.dy);
  const double radius = s.look.radius * std::min(im.width, im.height);
  const double cr = std::cos(-s.look.rotation), sr = std::sin(-s.look.rotation);
  const Rgb o = rgb_of(s.colour);
  // Only the bounding box of the object's circle is visited.
  const int x0 = std::max(0, static_cast<int>(std::floor(cx - radius - 1)));
  const int x1 = std::min(im.width - 1, static_cast<int>(std::ceil(cx + radius + 1)));
  const int y0 = std::max(0, static_cast<int>(std::floor(cy - radius - 1)));
  const int y1 = std::min(im.height - 1, static_cast<int>(std::ceil(cy + radius + 1)));
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      int hits = 0;
      for (int j = 0; j < kSuper; ++j) {
        for (int i = 0; i < kSuper; ++i) {
          const double px = (x + (i + 0.5) / kSuper - cx) / radius, py = (y + (j + 0.5) / kSuper - cy) / radius;
          hits += inside_shape(s.shape, cr * px - sr * py, sr * px + cr * py);
        }
      }
      if (hits == 0) continue;
      const double w = static_cast<double>(hits) / (kSuper * kSuper);
      const std::uint8_t* p = &im.rgb8[3 * (static_cast<std::size_t>(y) * im.width + x)];
      put(im, x, y, p[0] + w * (o.r - p[0]), p[1] + w * (o.g - p[1]), p[2] + w * (o.b - p[2]));
    }
  }
}

}  // namespace dype::shapes
