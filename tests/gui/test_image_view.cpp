// test-deps: ui
// ImageView with a 16 MP image: fit, 1:1, wheel zoom keeps the point under the cursor, drag pans, previews keep
// the final image's coordinates, and painting neither copies nor detaches the image.
#include <QtTest>

#include "ui/image_view.h"

using dype::ui::ImageView;

namespace {
QImage pattern(int w, int h) {
  QImage img(w, h, QImage::Format_RGB32);
  for (int y = 0; y < h; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < w; ++x) line[x] = qRgb(x & 255, y & 255, (x ^ y) & 255);
  }
  return img;
}
bool near(QPointF a, QPointF b, double tol = 1e-6) {
  return std::abs(a.x() - b.x()) <= tol && std::abs(a.y() - b.y()) <= tol;
}
}  // namespace

class TestImageView : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    m_big = pattern(4096, 4096);
    m_view.resize(800, 600);
    m_view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&m_view));
  }
  void fitShowsWholeImage();
  void wheelZoomKeepsPointUnderCursor();
  void actualSizeAndDragPan();
  void paintingDoesNotCopy();
  void previewKeepsCoordinates();

 private:
  QImage m_big;
  ImageView m_view;
};

void TestImageView::fitShowsWholeImage() {
  m_view.setImage(m_big);
  QVERIFY(m_view.isFitMode());
  QCOMPARE(m_view.zoom(), 600.0 / 4096.0);
  QCOMPARE(m_view.visibleImageRect(), QRectF(0, 0, 4096, 4096));
  QCOMPARE(m_view.imageToWidget(QPointF(2048, 2048)), QPointF(400, 300));  // centred
}

void TestImageView::wheelZoomKeepsPointUnderCursor() {
  m_view.fitToWindow();
  m_view.zoomBy(4.0, QPointF(400, 300));  // larger than the window: an image smaller than the view stays centred
  const QPointF cursor(250, 180);
  const QPointF before = m_view.widgetToImage(cursor);
  const double zoom = m_view.zoom();
  QWheelEvent wheel(cursor, m_view.mapToGlobal(cursor), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                    Qt::NoScrollPhase, false);
  QApplication::sendEvent(&m_view, &wheel);
  QCOMPARE(m_view.zoom(), zoom * 1.25);
  QVERIFY(!m_view.isFitMode());
  QVERIFY(near(m_view.widgetToImage(cursor), before));
  for (int i = 0; i < 10; ++i) m_view.zoomBy(1.25, cursor);
  QVERIFY(near(m_view.widgetToImage(cursor), before, 1e-3));
}

void TestImageView::actualSizeAndDragPan() {
  m_view.actualSize();
  QCOMPARE(m_view.zoom(), 1.0);
  const QRectF visible = m_view.visibleImageRect();
  QCOMPARE(visible.size(), QSizeF(800, 600));  // exactly the window's pixels at 1:1
  const QPointF offset = m_view.offset();
  QTest::mousePress(&m_view, Qt::LeftButton, Qt::NoModifier, QPoint(400, 300));
  QMouseEvent move(QEvent::MouseMove, QPointF(340, 260), m_view.mapToGlobal(QPointF(340, 260)), Qt::NoButton,
                   Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(&m_view, &move);
  QTest::mouseRelease(&m_view, Qt::LeftButton, Qt::NoModifier, QPoint(340, 260));
  QCOMPARE(m_view.offset(), offset + QPointF(-60, -40));
  // Panning stops at the image border.
  m_view.zoomBy(1.0, QPointF(0, 0));
  QMouseEvent far(QEvent::MouseMove, QPointF(100000, 100000), QPointF(100000, 100000), Qt::NoButton, Qt::LeftButton,
                  Qt::NoModifier);
  QTest::mousePress(&m_view, Qt::LeftButton, Qt::NoModifier, QPoint(0, 0));
  QApplication::sendEvent(&m_view, &far);
  QTest::mouseRelease(&m_view, Qt::LeftButton);
  QCOMPARE(m_view.offset(), QPointF(0, 0));
}

void TestImageView::paintingDoesNotCopy() {
  m_view.setImage(m_big);
  const qint64 key = m_view.image().cacheKey();
  const uchar* bits = m_view.image().constBits();
  for (double z : {0.1, 0.3, 1.0, 4.0}) {
    m_view.zoomBy(z / m_view.zoom(), QPointF(400, 300));
    const QImage shot = m_view.grab().toImage();  // a full repaint
    QCOMPARE(shot.size(), QSize(800, 600));
  }
  QCOMPARE(m_view.image().cacheKey(), key);
  QCOMPARE(m_view.image().constBits(), bits);  // same buffer, shared with m_big: nothing detached or copied
  QCOMPARE(m_big.constBits(), bits);
  // At 1:1 the screen shows the image's own pixels.
  m_view.actualSize();
  const QImage shot = m_view.grab().toImage().convertToFormat(QImage::Format_RGB32);
  const QPointF at = m_view.widgetToImage(QPointF(123.5, 77.5));
  QCOMPARE(shot.pixel(123, 77), m_big.pixel(int(at.x()), int(at.y())));
}

void TestImageView::previewKeepsCoordinates() {
  m_view.setImage(m_big);
  m_view.zoomBy(3.0, QPointF(100, 100));
  const double zoom = m_view.zoom();
  const QPointF offset = m_view.offset();
  // A 1/8-size preview stands for the same 4096² image: zoom and pan stay.
  m_view.setImage(pattern(512, 512), QSize(4096, 4096));
  QCOMPARE(m_view.zoom(), zoom);
  QCOMPARE(m_view.offset(), offset);
  QCOMPARE(m_view.logicalSize(), QSize(4096, 4096));
  QVERIFY(!m_view.grab().isNull());
}

QTEST_MAIN(TestImageView)
#include "test_image_view.moc"
