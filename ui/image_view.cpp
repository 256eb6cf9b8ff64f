#include "ui/image_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "ui/image_convert.h"

namespace dype::ui {
namespace {

constexpr double kMinZoom = 1.0 / 64.0;
constexpr double kMaxZoom = 32.0;
constexpr int kPyramidMinSide = 256;

}  // namespace

ImageView::ImageView(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("imageView"));
  setMinimumSize(200, 150);
  setAttribute(Qt::WA_OpaquePaintEvent);
  setFocusPolicy(Qt::WheelFocus);
  setMouseTracking(false);
}

void ImageView::setImage(const QImage& image, QSize logicalSize, std::vector<QImage> pyramid) {
  const QSize oldLogical = m_logical;
  // RGB32 is what the raster engine draws directly; other formats are converted once here, not per repaint.
  m_image = image.format() == QImage::Format_RGB32 ? image : image.convertToFormat(QImage::Format_RGB32);
  m_pyramid = image.format() == QImage::Format_RGB32 ? std::move(pyramid) : std::vector<QImage>();
  m_logical = logicalSize.isValid() && !logicalSize.isEmpty() ? logicalSize : m_image.size();
  if (m_fit || oldLogical != m_logical) {
    m_fit = true;
    applyFit();
  }
  update();
}

void ImageView::clear() {
  m_image = QImage();
  m_pyramid.clear();
  m_logical = QSize();
  update();
}

void ImageView::setPlaceholderText(const QString& text) {
  m_placeholder = text;
  update();
}

QRectF ImageView::visibleImageRect() const {
  if (m_logical.isEmpty()) return {};
  const QRectF widgetInImage(widgetToImage(QPointF(0, 0)), widgetToImage(QPointF(width(), height())));
  return widgetInImage.intersected(QRectF(QPointF(0, 0), QSizeF(m_logical)));
}

void ImageView::fitToWindow() {
  m_fit = true;
  applyFit();
  update();
}

void ImageView::applyFit() {
  if (m_logical.isEmpty() || width() <= 0 || height() <= 0) return;
  m_zoom = std::clamp(std::min(double(width()) / m_logical.width(), double(height()) / m_logical.height()), kMinZoom,
                      kMaxZoom);
  m_offset = QPointF((width() - m_logical.width() * m_zoom) / 2.0, (height() - m_logical.height() * m_zoom) / 2.0);
  Q_EMIT zoomChanged(m_zoom, true);
}

void ImageView::actualSize() {
  if (m_logical.isEmpty()) return;
  const QPointF centre(width() / 2.0, height() / 2.0);
  const QPointF imageCentre = widgetToImage(centre);
  m_fit = false;
  m_zoom = 1.0;
  m_offset = centre - imageCentre * m_zoom;
  m_offset = QPointF(std::round(m_offset.x()), std::round(m_offset.y()));  // whole pixels: crisp at 1:1
  clampOffset();
  Q_EMIT zoomChanged(m_zoom, false);
  update();
}

void ImageView::zoomBy(double factor, QPointF anchor) {
  if (m_logical.isEmpty()) return;
  const QPointF imagePoint = widgetToImage(anchor);
  m_zoom = std::clamp(m_zoom * factor, kMinZoom, kMaxZoom);
  m_offset = anchor - imagePoint * m_zoom;
  m_fit = false;
  clampOffset();
  Q_EMIT zoomChanged(m_zoom, false);
  update();
}

void ImageView::clampOffset() {
  // Keep at least part of the image on screen; an image smaller than the view stays centred on that axis.
  const double w = m_logical.width() * m_zoom, h = m_logical.height() * m_zoom;
  if (w <= width()) {
    m_offset.setX((width() - w) / 2.0);
  } else {
    m_offset.setX(std::clamp(m_offset.x(), double(width()) - w, 0.0));
  }
  if (h <= height()) {
    m_offset.setY((height() - h) / 2.0);
  } else {
    m_offset.setY(std::clamp(m_offset.y(), double(height()) - h, 0.0));
  }
}

const QImage& ImageView::levelFor(double sourcePixelsPerScreenPixel) {
  // The smallest level that still has at least one source pixel per screen pixel.
  int level = 0;
  while (sourcePixelsPerScreenPixel >= 2.0 &&
         std::min(m_image.width(), m_image.height()) >> (level + 1) >= kPyramidMinSide) {
    sourcePixelsPerScreenPixel /= 2.0;
    ++level;
  }
  while (int(m_pyramid.size()) < level) {
    const QImage& from = m_pyramid.empty() ? m_image : m_pyramid.back();
    m_pyramid.push_back(halfSize(from));
  }
  return level == 0 ? m_image : m_pyramid[std::size_t(level - 1)];
}

void ImageView::paintEvent(QPaintEvent* event) {
  QPainter p(this);
  p.fillRect(event->rect(), palette().color(QPalette::Dark));
  if (m_image.isNull() || m_logical.isEmpty()) {
    p.setPen(palette().color(QPalette::BrightText));
    p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, m_placeholder);
    return;
  }
  // Only the part of the image inside the repainted area is drawn.
  const QRectF dirtyInImage = QRectF(widgetToImage(event->rect().topLeft()),
                                     widgetToImage(QPointF(event->rect().right() + 1, event->rect().bottom() + 1)))
                                  .intersected(QRectF(QPointF(0, 0), QSizeF(m_logical)));
  if (dirtyInImage.isEmpty()) return;
  const double logicalToSource = double(m_image.width()) / m_logical.width();
  const double sourcePerScreen = logicalToSource / m_zoom;
  const QImage& level = levelFor(sourcePerScreen);
  const double logicalToLevel = double(level.width()) / m_logical.width();
  // Whole source pixels, so that no sub-pixel resampling shifts the image while panning.
  const QRect sourceRect = QRectF(dirtyInImage.topLeft() * logicalToLevel, dirtyInImage.bottomRight() * logicalToLevel)
                               .toAlignedRect()
                               .intersected(level.rect());
  const QRectF target(imageToWidget(QPointF(sourceRect.left(), sourceRect.top()) / logicalToLevel),
                      imageToWidget(QPointF(sourceRect.right() + 1, sourceRect.bottom() + 1) / logicalToLevel));
  // Smooth when shrinking, and for previews (smaller than the image they stand for); 1:1 and closer stay sharp.
  const double screenPerSource = m_zoom / logicalToSource;
  p.setRenderHint(QPainter::SmoothPixmapTransform, screenPerSource < 1.0 || logicalToSource < 1.0);
  p.drawImage(target, level, QRectF(sourceRect));
}

void ImageView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  if (m_fit) {
    applyFit();
  } else {
    clampOffset();
  }
}

void ImageView::wheelEvent(QWheelEvent* event) {
  const double steps = event->angleDelta().y() / 120.0;
  if (steps == 0 || m_logical.isEmpty()) return;
  zoomBy(std::pow(1.25, steps), event->position());
  event->accept();
}

void ImageView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && !m_logical.isEmpty()) {
    m_dragging = true;
    m_dragLast = event->position();
    setCursor(Qt::ClosedHandCursor);
  }
}

void ImageView::mouseMoveEvent(QMouseEvent* event) {
  if (!m_dragging) return;
  m_offset += event->position() - m_dragLast;
  m_dragLast = event->position();
  m_fit = false;
  clampOffset();
  update();
}

void ImageView::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && m_dragging) {
    m_dragging = false;
    unsetCursor();
  }
}

void ImageView::mouseDoubleClickEvent(QMouseEvent* event) {
  // Double click toggles between fit and 1:1 at the clicked point.
  if (m_fit) {
    const QPointF imagePoint = widgetToImage(event->position());
    m_fit = false;
    m_zoom = 1.0;
    m_offset = event->position() - imagePoint;
    clampOffset();
    Q_EMIT zoomChanged(m_zoom, false);
    update();
  } else {
    fitToWindow();
  }
}

}  // namespace dype::ui
