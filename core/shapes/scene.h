#pragma once
// The procedural captioned pictures the demo model learns from (issue: a demo model trained here): one large object
// of a named colour at a named place on a plain, patterned or two-colour gradient background, and the caption that
// says so. A Scene is everything needed to draw one picture; the caption names only what the scorer checks
// (shape, colour, place, background), not the exact size or offset of the object.
//
// Caption grammar (README "Procedural shapes"):
//   caption    := "a " COLOUR " " SHAPE " on " background ", " PLACE
//   background := "a " COLOUR " background"
//               | "a " COLOUR " background with " COLOUR " " ("stripes" | "dots")
//               | "a " COLOUR " to " COLOUR " gradient"           (first colour at the top)
//   COLOUR     := red | orange | yellow | green | blue | purple | white | black
//   SHAPE      := circle | square | triangle | star | ring | cross
//   PLACE      := top left | top | top right | left | center | right | bottom left | bottom | bottom right
// e.g. "a red star on a blue background, top left", "a white ring on a green to black gradient, center".
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dype::shapes {

enum class Colour { Red, Orange, Yellow, Green, Blue, Purple, White, Black };
enum class Shape { Circle, Square, Triangle, Star, Ring, Cross };
enum class Place { TopLeft, Top, TopRight, Left, Center, Right, BottomLeft, Bottom, BottomRight };
enum class Pattern { None, Stripes, Dots };
enum class BackgroundKind { Plain, Gradient };

constexpr int kColourCount = 8;
constexpr int kShapeCount = 6;
constexpr int kPlaceCount = 9;

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

// The palette: sRGB values chosen far apart (the closest pair, orange and yellow, is 83 apart in RGB), so that a
// generated picture's colours can be named back by the scorer.
Rgb rgb_of(Colour c);
const char* name_of(Colour c);
const char* name_of(Shape s);
const char* name_of(Place p);
const char* name_of(Pattern p);  // "stripes", "dots"; "" for None

struct Background {
  BackgroundKind kind = BackgroundKind::Plain;
  Colour colour = Colour::Blue;     // Plain: the colour; Gradient: the top colour
  Colour colour_to = Colour::Blue;  // Gradient: the bottom colour
  Pattern pattern = Pattern::None;  // Plain only
  Colour pattern_colour = Colour::White;
};

// What the caption does not say: drawn at random, so that the model sees variety the caption does not pin down.
struct Look {
  double radius = 0.14;          // object size as a fraction of the shorter side (bounding circle radius)
  double dx = 0, dy = 0;         // offset from the centre of the place's third, fractions of width / height
  double rotation = 0;           // radians (triangle, star, square, cross)
  int pattern_angle = 0;         // 0 horizontal, 1 vertical, 2 diagonal stripes
  double pattern_period = 0.12;  // fraction of the shorter side
};

struct Scene {
  Shape shape = Shape::Circle;
  Colour colour = Colour::Red;
  Place place = Place::Center;
  Background background;
  Look look;
};

// The caption of a scene, in the grammar above.
std::string caption(const Scene& s);

// Parses a caption of the grammar above (case-insensitive, surrounding spaces and a final '.' ignored). The
// look gets its defaults. Throws dype::InvalidArgument naming the word it could not read and the
// words it expected there.
Scene parse_caption(const std::string& text);

// Whether the scorer can tell the object apart from this background: the object's colour must be far from every
// colour the background can show (each background colour, and every blend between them along anti-aliased edges
// and gradients). random_scene only draws such scenes; parse_caption refuses others.
bool is_distinguishable(const Scene& s);

// Scene number `index` of the data set drawn with `seed`: deterministic on every machine (own generator, no
// std::distribution), each field uniform over its legal choices. Stripe and dot periods are 0.08–0.16 of the
// shorter side times `pattern_scale` (the same draws for every scale): at a 128 px base the unscaled periods are
// 10–20 px, about two of the autoencoder's 8 px latent cells, which its tiny decoder blurs away (bench/NOTES.md).
Scene random_scene(std::uint64_t seed, std::uint64_t index, double pattern_scale = 1.0);

// Eight fixed captions that between them use every shape, colour, place and background kind, each distinguishable
// for the scorer: the demo model's measurement set (bench_dype_effect, and the built-in model's test).
const std::vector<std::string>& reference_captions();

// Where a place's third is centred, as fractions of width and height ({1/6, 1/2, 5/6} per axis).
std::array<double, 2> place_centre(Place p);

}  // namespace dype::shapes
