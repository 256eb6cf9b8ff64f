#pragma once
// Scoring a picture against its caption: the metric of the demo model (base-resolution acceptance, and what DyPE
// recovers at 2× and 4×). Resolution-independent: the picture is box-averaged to a 64×64 grid first, which also
// merges speckle into its surroundings (a cloud of dots is not an object). Then
//   object     grid cells within 50 (RGB distance) of the caption's colour, closed with a 3×3 square;
//   count      8-connected components of at least 0.4 % of the grid (smaller ones are speckle, counted apart);
//   place      the third (3×3) holding the largest component's centroid;
//   background on a 256×256 grid (fine enough for stripes and dots), away from the object: plain: the caption's
//              colour is the most frequent palette colour (≥ 40 %), and a named pattern's colour covers ≥ 4 %;
//              gradient: the mean colours of the top and bottom 12 % (object excluded) are nearest to the caption's
//              first and second colour.
// A picture is accepted when the colour is found, exactly one object, at its place, on its background.
#include <string>

#include "core/image/rgb_image.h"
#include "core/shapes/scene.h"

namespace dype::shapes {

struct Score {
  int components = 0;                     // objects of the caption's colour (components ≥ the minimum area)
  int speckles = 0;                       // smaller components of that colour
  double object_share = 0;                // object-coloured cells / all cells
  double largest_share = 0;               // the largest component's share of all object-coloured cells
  double centroid_x = 0, centroid_y = 0;  // of the largest component, fractions of width / height
  Place found_place = Place::Center;
  double background_share = 0;  // plain: the caption's background colour among the non-object cells
  bool colour_ok = false, count_ok = false, place_ok = false, background_ok = false;
  bool accepted() const { return colour_ok && count_ok && place_ok && background_ok; }
  int count_error(int expected = 1) const {
    return components > expected ? components - expected : expected - components;
  }
  // "accepted" or the failed checks, e.g. "rejected: 3 objects, at top right (caption: top left)".
  std::string summary(const Scene& caption) const;
};

// Scores `image` against the caption's scene (only the caption fields are read: shape size and offsets are not).
Score score(const RgbImage& image, const Scene& caption);

}  // namespace dype::shapes
