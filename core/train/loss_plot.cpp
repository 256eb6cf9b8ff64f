#include "core/train/loss_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/common/error.h"

namespace dype::train {

LossCurves read_loss_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read '" + path + "'");
  LossCurves c;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) continue;  // header
    std::stringstream ss(line);
    std::string phase, step, loss;
    if (!std::getline(ss, phase, ',') || !std::getline(ss, step, ',') || !std::getline(ss, loss, ','))
      throw FormatError(path + ":" + std::to_string(n) + ": expected phase,step,loss,...");
    LossPoint p;
    try {
      p.step = std::stod(step);
      p.loss = std::stod(loss);
    } catch (const std::exception&) {
      throw FormatError(path + ":" + std::to_string(n) + ": step and loss must be numbers");
    }
    // The decoder-only steps continue the autoencoder's curve (their step numbers follow its last).
    (phase == "autoencoder" || phase == "decoder" ? c.autoencoder : c.transformer).push_back(p);
  }
  return c;
}

namespace {

// 3 × 5 glyphs, rows top to bottom, 3 bits each (MSB left).
const char* glyph(char ch) {
  switch (ch) {
    case '0': return "111101101101111";
    case '1': return "010110010010111";
    case '2': return "111001111100111";
    case '3': return "111001111001111";
    case '4': return "101101111001001";
    case '5': return "111100111001111";
    case '6': return "111100111101111";
    case '7': return "111001001001001";
    case '8': return "111101111101111";
    case '9': return "111101111001111";
    case '.': return "000000000000010";
    case 'k': return "100101110101101";
    default: return "000000000000000";
  }
}

class Canvas {
 public:
  Canvas(int w, int h) {
    im_.width = w;
    im_.height = h;
    im_.rgb8.assign(static_cast<std::size_t>(w) * h * 3, 255);
  }
  void dot(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    if (x < 0 || y < 0 || x >= im_.width || y >= im_.height) return;
    std::uint8_t* p = &im_.rgb8[(static_cast<std::size_t>(y) * im_.width + x) * 3];
    p[0] = r;
    p[1] = g;
    p[2] = b;
  }
  void line(double x0, double y0, double x1, double y1, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    const int n = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= n; ++i) {
      const double t = double(i) / n;
      const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0))),
                y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
      dot(x, y, r, g, b);
      dot(x, y + 1, r, g, b);  // two pixels thick
    }
  }
  // Text of digits, '.', 'k' at (x, y) = top left, glyphs scaled by 2.
  void text(int x, int y, const std::string& s) {
    for (char ch : s) {
      const char* g = glyph(ch);
      for (int row = 0; row < 5; ++row)
        for (int col = 0; col < 3; ++col)
          if (g[row * 3 + col] == '1')
            for (int dy = 0; dy < 2; ++dy)
              for (int dx = 0; dx < 2; ++dx) dot(x + col * 2 + dx, y + row * 2 + dy, 60, 60, 60);
      x += 8;
    }
  }
  RgbImage take() { return std::move(im_); }

 private:
  RgbImage im_;
};

std::string tick_label(double v) {
  char b[32];
  if (v >= 1000 && std::fmod(v, 1000) == 0) {
    std::snprintf(b, sizeof(b), "%.0fk", v / 1000);
  } else if (v >= 1) {
    std::snprintf(b, sizeof(b), "%.0f", v);
  } else {
    std::snprintf(b, sizeof(b), "%.3g", v);
  }
  return b;
}

void panel(Canvas& cv, int x0, int y0, int w, int h, const std::vector<LossPoint>& pts) {
  const int left = x0 + 60, right = x0 + w - 15, top = y0 + 15, bottom = y0 + h - 35;
  cv.line(left, bottom, right, bottom, 60, 60, 60);
  cv.line(left, top, left, bottom, 60, 60, 60);
  if (pts.empty()) return;
  double smax = 0, lmin = 1e30, lmax = 0;
  for (const auto& p : pts) {
    smax = std::max(smax, p.step);
    if (p.loss > 0) {
      lmin = std::min(lmin, p.loss);
      lmax = std::max(lmax, p.loss);
    }
  }
  if (lmax <= 0) return;
  // Log-scale y from a "nice" power-of-ten-based range; 1-2-5 ticks inside it.
  const double ylo = std::log10(lmin) - 0.05, yhi = std::log10(lmax) + 0.05;
  auto X = [&](double s) { return left + (right - left) * s / std::max(1.0, smax); };
  auto Y = [&](double l) { return bottom - (bottom - top) * (std::log10(l) - ylo) / (yhi - ylo); };
  for (int e = static_cast<int>(std::floor(ylo)); e <= static_cast<int>(std::ceil(yhi)); ++e) {
    // Within a decade 1-2-5 ticks would leave one or none: then every integer mantissa.
    const std::vector<double> mantissas =
        yhi - ylo < 1.0 ? std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9} : std::vector<double>{1, 2, 5};
    for (double m : mantissas) {
      const double v = m * std::pow(10.0, e);
      if (std::log10(v) < ylo || std::log10(v) > yhi) continue;
      const double y = Y(v);
      for (int x = left; x < right; x += 4) cv.dot(x, static_cast<int>(y), 200, 200, 200);  // dotted grid
      cv.line(left - 5, y, left, y, 60, 60, 60);
      cv.text(x0 + 4, static_cast<int>(y) - 5, tick_label(v));
    }
  }
  const double step_tick = std::pow(10.0, std::floor(std::log10(std::max(1.0, smax))));
  const double tick = smax / step_tick >= 5 ? step_tick : step_tick / 2;
  for (double s = 0; s <= smax + 1e-9; s += tick) {
    const double x = X(s);
    cv.line(x, bottom, x, bottom + 5, 60, 60, 60);
    const std::string label = tick_label(s);
    cv.text(static_cast<int>(x) - 4 * static_cast<int>(label.size()), bottom + 10, label);
  }
  for (std::size_t i = 1; i < pts.size(); ++i)
    cv.line(X(pts[i - 1].step), Y(pts[i - 1].loss), X(pts[i].step), Y(pts[i].loss), 31, 119, 180);
}

}  // namespace

RgbImage plot_losses(const LossCurves& curves) {
  Canvas cv(1000, 360);
  panel(cv, 0, 0, 500, 360, curves.autoencoder);
  panel(cv, 500, 0, 500, 360, curves.transformer);
  return cv.take();
}

}  // namespace dype::train
