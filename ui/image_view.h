#pragma once
// ImageView: shows images up to 16 MP. Fit-to-window or any zoom (1:1, wheel zoom around the cursor), pan by
// dragging. A repaint draws only the visible part of the image, from a once-built half-size pyramid when zoomed
// out, so painting never copies or rescales the full image.
#include <QImage>
#include <QWidget>
#include <vector>

namespace dype::ui {

class ImageView : public QWidget {
  Q_OBJECT

 public:
  explicit ImageView(QWidget* parent = nullptr);

  // `logicalSize` is the coordinate space (the size of the final image): a 1/8-size preview is shown stretched
  // over it, so zoom and pan carry over from previews to the result. Empty = the image's own size.
  // `pyramid`: halfSizePyramid(image) when the caller built it already (off the GUI thread).
  void setImage(const QImage& image, QSize logicalSize = {}, std::vector<QImage> pyramid = {});
  void clear();
  const QImage& image() const { return m_image; }
  QSize logicalSize() const { return m_logical; }

  double zoom() const { return m_zoom; }  // widget pixels per image pixel
  bool isFitMode() const { return m_fit; }
  QPointF offset() const { return m_offset; }  // widget position of image pixel (0, 0)
  QRectF visibleImageRect() const;             // image pixels currently on screen
  QPointF imageToWidget(QPointF p) const { return m_offset + p * m_zoom; }
  QPointF widgetToImage(QPointF p) const { return (p - m_offset) / m_zoom; }

  void setPlaceholderText(const QString& text);

 public Q_SLOTS:
  void fitToWindow();
  void actualSize();                           // 1:1, centred on what is in the middle now
  void zoomBy(double factor, QPointF anchor);  // keeps the image point under `anchor` (widget coords) in place

 Q_SIGNALS:
  void zoomChanged(double zoom, bool fit);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;

 private:
  void applyFit();
  void clampOffset();
  const QImage& levelFor(double sourcePixelsPerScreenPixel);

  QImage m_image;
  std::vector<QImage> m_pyramid;  // m_pyramid[k] = m_image at 1/2^(k+1), built on first zoomed-out paint
  QSize m_logical;
  double m_zoom = 1.0;
  QPointF m_offset;
  bool m_fit = true;
  bool m_dragging = false;
  QPointF m_dragLast;
  QString m_placeholder;
};

}  // namespace dype::ui
