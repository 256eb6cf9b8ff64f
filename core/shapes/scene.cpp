#include "core/shapes/scene.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <vector>

#include "core/common/error.h"
#include "core/common/strings.h"

namespace dype::shapes {
namespace {

constexpr const char* kColourNames[kColourCount] = {"red",  "orange", "yellow", "green",
                                                    "blue", "purple", "white",  "black"};
constexpr Rgb kPalette[kColourCount] = {{215, 40, 40}, {245, 140, 20}, {240, 220, 40},  {40, 160, 70},
                                        {40, 90, 220}, {140, 60, 190}, {240, 240, 240}, {20, 20, 20}};
constexpr const char* kShapeNames[kShapeCount] = {"circle", "square", "triangle", "star", "ring", "cross"};
constexpr const char* kPlaceNames[kPlaceCount] = {"top left", "top",         "top right", "left",        "center",
                                                  "right",    "bottom left", "bottom",    "bottom right"};

// Smallest RGB distance between the object colour and any colour the background can show. Twice the scorer's
// classification radius (score.cpp), so that a blend the scorer calls "object" is mostly object.
constexpr double kMinSeparation = 100.0;

// Distance from point p to the segment a–b in RGB space: every blend of a and b (gradients, anti-aliased edges,
// the box averages of the scorer) lies on that segment.
double distance_to_segment(Rgb p, Rgb a, Rgb b) {
  const double ax = a.r, ay = a.g, az = a.b;
  const double dx = b.r - ax, dy = b.g - ay, dz = b.b - az;
  const double len2 = dx * dx + dy * dy + dz * dz;
  double t = len2 > 0 ? ((p.r - ax) * dx + (p.g - ay) * dy + (p.b - az) * dz) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double ex = ax + t * dx - p.r, ey = ay + t * dy - p.g, ez = az + t * dz - p.b;
  return std::sqrt(ex * ex + ey * ey + ez * ez);
}

// splitmix64: a small generator whose output is the same on every platform (std::uniform_*_distribution is not).
struct SplitMix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return static_cast<int>(uniform() * n); }
};

std::string lower_trimmed(const std::string& text) {
  std::string s = to_lower(text);
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == '.')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// A word-by-word reader of a caption with errors that say where it stopped.
class Reader {
 public:
  explicit Reader(const std::string& text) : text_(text) {
    std::istringstream in(lower_trimmed(text));
    std::string w;
    while (in >> w) {
      // "left," -> "left" ","
      if (w.size() > 1 && w.back() == ',') {
        words_.push_back(w.substr(0, w.size() - 1));
        words_.push_back(",");
      } else {
        words_.push_back(w);
      }
    }
  }
  bool done() const { return pos_ >= words_.size(); }
  const std::string& peek() const {
    static const std::string end = "(end of caption)";
    return done() ? end : words_[pos_];
  }
  void expect(const std::string& w) {
    if (peek() != w) fail("'" + w + "'");
    ++pos_;
  }
  bool accept(const std::string& w) {
    if (peek() != w) return false;
    ++pos_;
    return true;
  }
  template <class E, std::size_t N>
  E one_of(const char* const (&names)[N], const char* what) {
    for (std::size_t i = 0; i < N; ++i)
      if (peek() == names[i]) {
        ++pos_;
        return static_cast<E>(i);
      }
    std::string list;
    for (std::size_t i = 0; i < N; ++i) list += std::string(i ? ", " : "") + names[i];
    fail(std::string("a ") + what + " (" + list + ")");
  }
  Place place() {
    // The longest name that matches: "bottom right" rather than "bottom".
    int best = -1;
    std::size_t best_len = 0;
    for (int i = 0; i < kPlaceCount; ++i) {
      std::istringstream in(kPlaceNames[i]);
      std::vector<std::string> parts;
      std::string p;
      while (in >> p) parts.push_back(p);
      if (parts.size() > best_len && pos_ + parts.size() <= words_.size() &&
          std::equal(parts.begin(), parts.end(), words_.begin() + static_cast<std::ptrdiff_t>(pos_))) {
        best = i;
        best_len = parts.size();
      }
    }
    if (best >= 0) {
      pos_ += best_len;
      return static_cast<Place>(best);
    }
    std::string list;
    for (int i = 0; i < kPlaceCount; ++i) list += std::string(i ? ", " : "") + kPlaceNames[i];
    fail("a place (" + list + ")");
  }
  [[noreturn]] void fail(const std::string& expected) const {
    throw InvalidArgument("caption '" + text_ + "': expected " + expected + " but read '" + peek() +
                          "' (grammar: \"a <colour> <shape> on a <colour> background[ with <colour> stripes|dots], "
                          "<place>\" or \"... on a <colour> to <colour> gradient, <place>\")");
  }

 private:
  std::string text_;
  std::vector<std::string> words_;
  std::size_t pos_ = 0;
};

}  // namespace

Rgb rgb_of(Colour c) { return kPalette[static_cast<int>(c)]; }
const char* name_of(Colour c) { return kColourNames[static_cast<int>(c)]; }
const char* name_of(Shape s) { return kShapeNames[static_cast<int>(s)]; }
const char* name_of(Place p) { return kPlaceNames[static_cast<int>(p)]; }
const char* name_of(Pattern p) {
  switch (p) {
    case Pattern::Stripes: return "stripes";
    case Pattern::Dots: return "dots";
    default: return "";
  }
}

std::string caption(const Scene& s) {
  std::string c = std::string("a ") + name_of(s.colour) + " " + name_of(s.shape) + " on a ";
  const Background& b = s.background;
  if (b.kind == BackgroundKind::Gradient) {
    c += std::string(name_of(b.colour)) + " to " + name_of(b.colour_to) + " gradient";
  } else {
    c += std::string(name_of(b.colour)) + " background";
    if (b.pattern != Pattern::None) c += std::string(" with ") + name_of(b.pattern_colour) + " " + name_of(b.pattern);
  }
  return c + ", " + name_of(s.place);
}

Scene parse_caption(const std::string& text) {
  Reader r(text);
  Scene s;
  r.expect("a");
  s.colour = r.one_of<Colour>(kColourNames, "colour");
  s.shape = r.one_of<Shape>(kShapeNames, "shape");
  r.expect("on");
  r.expect("a");
  Background& b = s.background;
  b.colour = r.one_of<Colour>(kColourNames, "colour");
  if (r.accept("to")) {
    b.kind = BackgroundKind::Gradient;
    b.colour_to = r.one_of<Colour>(kColourNames, "colour");
    r.expect("gradient");
  } else {
    r.expect("background");
    if (r.accept("with")) {
      b.pattern_colour = r.one_of<Colour>(kColourNames, "colour");
      static const char* const kPatterns[] = {"stripes", "dots"};
      b.pattern = r.one_of<int>(kPatterns, "pattern") == 0 ? Pattern::Stripes : Pattern::Dots;
    }
  }
  r.expect(",");
  s.place = r.place();
  if (!r.done()) r.fail("the end of the caption");
  if (!is_distinguishable(s))
    throw InvalidArgument("caption '" + text + "': the " + name_of(s.colour) +
                          " object is too close in colour to its background to be scored; choose colours further "
                          "apart (orange/yellow, red/orange and purple/blue are close pairs)");
  return s;
}

bool is_distinguishable(const Scene& s) {
  const Rgb o = rgb_of(s.colour);
  const Background& b = s.background;
  Rgb far = rgb_of(b.colour);  // the other end of the background's colour segment
  if (b.kind == BackgroundKind::Gradient) {
    if (b.colour_to == b.colour) return false;
    far = rgb_of(b.colour_to);
  } else if (b.pattern != Pattern::None) {
    if (b.pattern_colour == b.colour) return false;
    far = rgb_of(b.pattern_colour);
  }
  return distance_to_segment(o, rgb_of(b.colour), far) >= kMinSeparation;
}

Scene random_scene(std::uint64_t seed, std::uint64_t index, double pattern_scale) {
  if (!(pattern_scale > 0 && pattern_scale <= 4))
    throw InvalidArgument("shapes: the pattern scale must be in (0, 4], got " + std::to_string(pattern_scale));
  SplitMix rng{seed * 0x100000001B3ull ^ (index + 1) * 0x9E3779B97F4A7C15ull};
  for (;;) {
    Scene s;
    s.shape = static_cast<Shape>(rng.below(kShapeCount));
    s.colour = static_cast<Colour>(rng.below(kColourCount));
    s.place = static_cast<Place>(rng.below(kPlaceCount));
    Background& b = s.background;
    b.colour = static_cast<Colour>(rng.below(kColourCount));
    const double kind = rng.uniform();
    if (kind < 0.4) {
      b.kind = BackgroundKind::Gradient;
      b.colour_to = static_cast<Colour>(rng.below(kColourCount));
    } else {
      b.pattern = kind < 0.7 ? Pattern::None : kind < 0.85 ? Pattern::Stripes : Pattern::Dots;
      b.pattern_colour = static_cast<Colour>(rng.below(kColourCount));
    }
    // Sizes keep the object inside its third: centre 1/6 − 0.015 − radius 0.15 ≥ 0.
    s.look.radius = rng.uniform(0.11, 0.15);
    s.look.dx = rng.uniform(-0.015, 0.015);
    s.look.dy = rng.uniform(-0.015, 0.015);
    s.look.rotation = rng.uniform(-0.3, 0.3);
    s.look.pattern_angle = rng.below(3);
    s.look.pattern_period = pattern_scale * rng.uniform(0.08, 0.16);
    if (is_distinguishable(s)) return s;
  }
}

std::array<double, 2> place_centre(Place p) {
  const int i = static_cast<int>(p);
  return {(2 * (i % 3) + 1) / 6.0, (2 * (i / 3) + 1) / 6.0};
}

const std::vector<std::string>& reference_captions() {
  static const std::vector<std::string> captions = {
      "a red star on a blue background, top left",
      "a yellow circle on a black background, center",
      "a white square on a green background with black stripes, right",
      "a green triangle on a purple to black gradient, bottom",
      "a orange ring on a blue background, bottom right",
      "a blue cross on a yellow background with white dots, top",
      "a black circle on a white background, left",
      "a purple square on a yellow to white gradient, top right",
  };
  return captions;
}

}  // namespace dype::shapes
