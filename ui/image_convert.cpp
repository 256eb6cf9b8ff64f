#include "ui/image_convert.h"

namespace dype::ui {

QImage toDisplayImage(const dype::RgbImage& image) {
  if (image.empty() || image.rgb8.size() < std::size_t(image.width) * std::size_t(image.height) * 3) return {};
  QImage out(image.width, image.height, QImage::Format_RGB32);
  if (out.isNull()) return {};  // allocation failed: the caller shows no image rather than crashing
  const std::uint8_t* src = image.rgb8.data();
  for (int y = 0; y < image.height; ++y) {
    auto* dst = reinterpret_cast<QRgb*>(out.scanLine(y));
    for (int x = 0; x < image.width; ++x, src += 3) dst[x] = qRgb(src[0], src[1], src[2]);
  }
  return out;
}

QImage halfSize(const QImage& from) {
  QImage out(from.width() / 2, from.height() / 2, QImage::Format_RGB32);
  if (out.isNull()) return out;
  for (int y = 0; y < out.height(); ++y) {
    const auto* a = reinterpret_cast<const QRgb*>(from.constScanLine(2 * y));
    const auto* b = reinterpret_cast<const QRgb*>(from.constScanLine(2 * y + 1));
    auto* dst = reinterpret_cast<QRgb*>(out.scanLine(y));
    for (int x = 0; x < out.width(); ++x) {
      const QRgb p0 = a[2 * x], p1 = a[2 * x + 1], p2 = b[2 * x], p3 = b[2 * x + 1];
      dst[x] = qRgb((qRed(p0) + qRed(p1) + qRed(p2) + qRed(p3) + 2) / 4,
                    (qGreen(p0) + qGreen(p1) + qGreen(p2) + qGreen(p3) + 2) / 4,
                    (qBlue(p0) + qBlue(p1) + qBlue(p2) + qBlue(p3) + 2) / 4);
    }
  }
  return out;
}

std::vector<QImage> halfSizePyramid(const QImage& image, int minSide) {
  std::vector<QImage> levels;
  const QImage* from = &image;
  while (std::min(from->width(), from->height()) / 2 >= minSide) {
    levels.push_back(halfSize(*from));
    if (levels.back().isNull()) {
      levels.pop_back();
      break;
    }
    from = &levels.back();
  }
  return levels;
}

}  // namespace dype::ui
