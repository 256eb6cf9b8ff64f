#include "core/shapes/score.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/common/error.h"

namespace dype::shapes {
namespace {

constexpr int kGrid = 64;                // objects: coarse, so speckle merges
constexpr int kBackgroundGrid = 256;     // background and its pattern
constexpr double kClassRadius = 50.0;    // RGB distance within which a cell "is" a palette colour
constexpr double kMinComponent = 0.004;  // of the grid's cells
constexpr double kMinBackground = 0.40;
constexpr double kMinPattern = 0.04;
constexpr double kBand = 0.12;  // gradient: top and bottom bands

struct Cell {
  double r = 0, g = 0, b = 0;
};

double distance(const Cell& c, Rgb p) {
  const double dr = c.r - p.r, dg = c.g - p.g, db = c.b - p.b;
  return std::sqrt(dr * dr + dg * dg + db * db);
}

// Nearest palette colour, and its distance.
std::pair<Colour, double> nearest(const Cell& c) {
  Colour best = Colour::Red;
  double d = 1e9;
  for (int i = 0; i < kColourCount; ++i) {
    const double di = distance(c, rgb_of(static_cast<Colour>(i)));
    if (di < d) {
      d = di;
      best = static_cast<Colour>(i);
    }
  }
  return {best, d};
}

// Box average onto an n×m grid (n, m ≤ the image's size).
std::vector<Cell> downsample(const RgbImage& im, int gw, int gh) {
  std::vector<Cell> g(static_cast<std::size_t>(gw) * gh);
  for (int j = 0; j < gh; ++j) {
    const int y0 = j * im.height / gh, y1 = (j + 1) * im.height / gh;
    for (int i = 0; i < gw; ++i) {
      const int x0 = i * im.width / gw, x1 = (i + 1) * im.width / gw;
      double r = 0, gr = 0, b = 0;
      for (int y = y0; y < y1; ++y) {
        const std::uint8_t* p = &im.rgb8[3 * (static_cast<std::size_t>(y) * im.width + x0)];
        for (int x = x0; x < x1; ++x, p += 3) {
          r += p[0];
          gr += p[1];
          b += p[2];
        }
      }
      const double n = static_cast<double>((y1 - y0) * (x1 - x0));
      g[static_cast<std::size_t>(j) * gw + i] = {r / n, gr / n, b / n};
    }
  }
  return g;
}

// 3×3 dilation (grow = true) or erosion of a mask; outside the grid counts as unset for dilation and as set for
// erosion, so that an object touching the border is not eaten from the edge.
std::vector<char> morph(const std::vector<char>& m, int w, int h, bool grow) {
  std::vector<char> out(m.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      bool v = !grow;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx, yy = y + dy;
          const bool in = xx >= 0 && yy >= 0 && xx < w && yy < h;
          const bool s = in ? m[static_cast<std::size_t>(yy) * w + xx] != 0 : !grow;
          v = grow ? (v || s) : (v && s);
        }
      out[static_cast<std::size_t>(y) * w + x] = v;
    }
  return out;
}

struct Component {
  int cells = 0;
  double sx = 0, sy = 0;
};

std::vector<Component> components(const std::vector<char>& m, int w, int h) {
  std::vector<int> label(m.size(), -1);
  std::vector<Component> out;
  std::vector<int> stack;
  for (int start = 0; start < w * h; ++start) {
    if (!m[start] || label[start] >= 0) continue;
    const int id = static_cast<int>(out.size());
    out.emplace_back();
    stack.assign(1, start);
    label[start] = id;
    while (!stack.empty()) {
      const int c = stack.back();
      stack.pop_back();
      const int x = c % w, y = c / w;
      out[id].cells += 1;
      out[id].sx += x + 0.5;
      out[id].sy += y + 0.5;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          const int n = yy * w + xx;
          if (m[n] && label[n] < 0) {
            label[n] = id;
            stack.push_back(n);
          }
        }
    }
  }
  return out;
}

}  // namespace

Score score(const RgbImage& im, const Scene& cap) {
  if (im.empty() || im.rgb8.size() != static_cast<std::size_t>(im.width) * im.height * 3)
    throw InvalidArgument("shapes: score needs an 8-bit RGB image");
  const int gw = std::min(kGrid, im.width), gh = std::min(kGrid, im.height);
  const std::vector<Cell> grid = downsample(im, gw, gh);
  const std::size_t n = grid.size();
  const Rgb oc = rgb_of(cap.colour);

  std::vector<char> raw(n);
  int raw_count = 0;
  for (std::size_t i = 0; i < n; ++i) raw_count += raw[i] = distance(grid[i], oc) < kClassRadius;
  const std::vector<char> object = morph(morph(raw, gw, gh, true), gw, gh, false);  // closing

  Score s;
  s.object_share = static_cast<double>(raw_count) / static_cast<double>(n);
  const int min_cells = std::max(1, static_cast<int>(std::lround(kMinComponent * static_cast<double>(n))));
  const Component* largest = nullptr;
  int object_cells = 0;
  const std::vector<Component> comps = components(object, gw, gh);
  for (const Component& c : comps) {
    object_cells += c.cells;
    if (c.cells < min_cells) {
      ++s.speckles;
      continue;
    }
    ++s.components;
    if (!largest || c.cells > largest->cells) largest = &c;
  }
  s.colour_ok = largest != nullptr;
  s.count_ok = s.components == 1;
  if (largest) {
    s.largest_share = static_cast<double>(largest->cells) / std::max(1, object_cells);
    s.centroid_x = largest->sx / largest->cells / gw;
    s.centroid_y = largest->sy / largest->cells / gh;
    const int col = std::clamp(static_cast<int>(s.centroid_x * 3), 0, 2);
    const int row = std::clamp(static_cast<int>(s.centroid_y * 3), 0, 2);
    s.found_place = static_cast<Place>(row * 3 + col);
    s.place_ok = s.found_place == cap.place;
  }

  // The background is judged on a finer grid (patterns of a few pixels survive it), away from the object and its
  // anti-aliased rim (the object grid's closing, dilated once more).
  const std::vector<char> near_object = morph(object, gw, gh, true);
  const int bw = std::min(kBackgroundGrid, im.width), bh = std::min(kBackgroundGrid, im.height);
  const std::vector<Cell> fine = downsample(im, bw, bh);
  auto away = [&](int x, int y) {
    return !near_object[static_cast<std::size_t>(y * gh / bh) * gw + static_cast<std::size_t>(x * gw / bw)];
  };
  const Background& b = cap.background;
  if (b.kind == BackgroundKind::Gradient) {
    const int band = std::max(1, static_cast<int>(std::lround(kBand * bh)));
    auto band_colour = [&](int y0, int y1) -> std::pair<Colour, bool> {
      Cell sum;
      int k = 0;
      for (int y = y0; y < y1; ++y)
        for (int x = 0; x < bw; ++x) {
          if (!away(x, y)) continue;
          const Cell& c = fine[static_cast<std::size_t>(y) * bw + x];
          sum.r += c.r;
          sum.g += c.g;
          sum.b += c.b;
          ++k;
        }
      if (k == 0) return {Colour::Red, false};
      sum.r /= k;
      sum.g /= k;
      sum.b /= k;
      return {nearest(sum).first, true};
    };
    const auto top = band_colour(0, band), bottom = band_colour(bh - band, bh);
    s.background_ok = top.second && bottom.second && top.first == b.colour && bottom.first == b.colour_to;
    s.background_share = s.background_ok ? 1.0 : 0.0;
  } else {
    std::array<int, kColourCount> counts{};
    int total = 0;
    for (int y = 0; y < bh; ++y)
      for (int x = 0; x < bw; ++x) {
        if (!away(x, y)) continue;
        ++total;
        const auto [c, d] = nearest(fine[static_cast<std::size_t>(y) * bw + x]);
        if (d < kClassRadius) ++counts[static_cast<int>(c)];
      }
    if (total > 0) {
      const int bg = counts[static_cast<int>(b.colour)];
      s.background_share = static_cast<double>(bg) / total;
      const bool plurality = std::all_of(counts.begin(), counts.end(), [&](int c) { return c <= bg; });
      const bool pattern_ok = b.pattern == Pattern::None ||
                              static_cast<double>(counts[static_cast<int>(b.pattern_colour)]) / total >= kMinPattern;
      s.background_ok = plurality && s.background_share >= kMinBackground && pattern_ok;
    }
  }
  return s;
}

std::string Score::summary(const Scene& cap) const {
  if (accepted()) return "accepted";
  std::string out = "rejected:";
  auto add = [&](const std::string& what) { out += (out.back() == ':' ? " " : ", ") + what; };
  if (!colour_ok) add(std::string("no ") + name_of(cap.colour) + " object");
  if (colour_ok && !count_ok) add(std::to_string(components) + " " + name_of(cap.colour) + " objects");
  if (colour_ok && !place_ok) add(std::string("at ") + name_of(found_place) + " (caption: " + name_of(cap.place) + ")");
  if (!background_ok)
    add("background is not " + std::string(cap.background.kind == BackgroundKind::Gradient
                                               ? "the caption's gradient"
                                               : std::string("mostly ") + name_of(cap.background.colour)));
  return out;
}

}  // namespace dype::shapes
