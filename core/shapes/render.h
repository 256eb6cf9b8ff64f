#pragma once
// Drawing a Scene: the background (plain, stripes, dots or a vertical gradient) and the object, anti-aliased by
// 3×3 supersampling. Positions and sizes are fractions of the image, so one scene drawn at 256² and at 1024² shows
// the same composition (what the DyPE measurement compares against).
#include "core/image/rgb_image.h"
#include "core/shapes/scene.h"

namespace dype::shapes {

// The scene at width × height (each 8…16384; InvalidArgument otherwise).
RgbImage render(const Scene& scene, int width, int height);

// Draws the scene's object over `image` (its background untouched): for pictures with more than one object, as
// the scorer's tests need. A radius of 0 draws nothing.
void draw_object(RgbImage& image, const Scene& scene);

// Whether the point (u, v), in units of the object's radius around its centre (y down), lies inside the shape.
bool inside_shape(Shape shape, double u, double v);

}  // namespace dype::shapes
