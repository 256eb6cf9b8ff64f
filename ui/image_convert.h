#pragma once
// RgbImage (core's pixels) → QImage in the format the raster paint engine draws without converting: Format_RGB32.
// Done once per image in the worker thread, so the GUI thread only ever paints (never converts) a 16 MP result.
#include <QImage>
#include <vector>

#include "core/image/rgb_image.h"

namespace dype::ui {

QImage toDisplayImage(const dype::RgbImage& image);

// 2×2 box average of an RGB32 image (fast and alias-free; QImage::scaled would be several times slower).
QImage halfSize(const QImage& rgb32);

// Successive half-size levels of an RGB32 image while the shorter side stays >= minSide: what the image view
// draws from when zoomed out. Built in the worker thread for results, so the GUI thread only paints.
std::vector<QImage> halfSizePyramid(const QImage& rgb32, int minSide = 256);

}  // namespace dype::ui
