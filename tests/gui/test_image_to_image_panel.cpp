// test-deps: ui
// The "Start image & refine" panel: a start image opened or dropped shows what the fit will do (from its header),
// strength and fit reach the request, the refine section describes both passes, everything round-trips through
// load(); dropping a picture without our settings on the window makes it the start image, while a PNG with
// settings still restores them; a file that is not an image is refused with the reason and changes nothing.
#include <QCheckBox>
#include <QComboBox>
#include <QGroupBox>
#include <QImage>
#include <QLabel>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>

#include "tests/support/drop.h"
#include "ui/image_to_image_panel.h"
#include "ui/main_window.h"
#include "ui/resolution_panel.h"
#include "ui/settings.h"

using namespace dype::ui;

class TestImageToImagePanel : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  QString picture(int w, int h, const char* name) {
    QImage im(w, h, QImage::Format_RGB32);
    im.fill(Qt::darkYellow);
    const QString path = m_dir.filePath(QString::fromLatin1(name));
    if (!im.save(path)) return {};
    return path;
  }

 private slots:
  void startImageReachesTheRequest() {
    ImageToImagePanel panel;
    panel.setOutputSize(1024, 1024, 1024);
    panel.setSteps(28);
    dype::GenerationRequest r;
    panel.apply(r);
    QVERIFY(r.init_image.empty());
    QVERIFY(!r.refine.enabled);

    const QString wide = picture(1536, 1024, "wide.png");
    QSignalSpy changed(&panel, &ImageToImagePanel::changed);
    QVERIFY(panel.setInitImage(wide));
    QVERIFY(changed.count() >= 1);
    // The fit as the pipeline will do it: cover, then centre-crop 256 px on each side; 17 of 28 steps at 0.6.
    const QString fit = panel.fitText();
    QVERIFY2(fit.contains(QStringLiteral("1536x1024")) && fit.contains(QStringLiteral("256 px")) &&
                 fit.contains(QStringLiteral("17 of 28")),
             qPrintable(fit));
    panel.setStrength(0.3);
    panel.findChild<QComboBox*>(QStringLiteral("initFitCombo"))->setCurrentIndex(1);  // stretch
    QVERIFY2(panel.fitText().contains(QStringLiteral("stretch")), qPrintable(panel.fitText()));
    panel.apply(r);
    QCOMPARE(QString::fromStdString(r.init_image), wide);
    QCOMPARE(r.strength, 0.3);
    QCOMPARE(r.init_fit, std::string("stretch"));

    // Not an image: refused with the reason, the previous choice kept.
    const QString text = m_dir.filePath(QStringLiteral("notes.png"));
    QFile f(text);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not a picture");
    f.close();
    QVERIFY(!panel.setInitImage(text));
    QVERIFY(panel.fitText().contains(QStringLiteral("notes.png")));
    QCOMPARE(panel.initImage(), wide);
  }

  void refineSectionDescribesBothPasses() {
    ImageToImagePanel panel;
    panel.setOutputSize(4096, 2304, 1024);
    panel.setSteps(28);
    panel.setRefineEnabled(true);
    // Auto base: ~1 MP with the output's 16:9 aspect; pass 2 runs ⌈28 · 0.6⌉ = 17 steps.
    QVERIFY2(panel.refineText().contains(QStringLiteral("1360×768")) &&
                 panel.refineText().contains(QStringLiteral("17 of 28")),
             qPrintable(panel.refineText()));
    panel.findChild<QCheckBox*>(QStringLiteral("refineAutoBase"))->setChecked(false);
    dype::GenerationRequest r;
    panel.apply(r);
    QVERIFY(r.refine.enabled);
    QCOMPARE(r.refine.base_width, 1024);
    QCOMPARE(r.refine.base_height, 1024);
    QCOMPARE(r.refine.strength, 0.6);

    // Round trip through load().
    r.refine.strength = 0.45;
    r.refine.steps = 20;
    r.refine.upscale = "bicubic";
    ImageToImagePanel other;
    other.load(r);
    dype::GenerationRequest back;
    other.apply(back);
    QVERIFY(back.refine == r.refine);
  }

  void droppedPictureBecomesTheStartImage() {
    Settings settings(m_dir.filePath(QStringLiteral("drop.ini")));
    MainWindow window(settings);
    window.resolutionPanel()->setSize(1024, 1024);
    const QString photo = picture(800, 600, "photo.png");
    dype::test::drop_file(&window, photo);
    QCOMPARE(QString::fromStdString(window.currentRequest().init_image), photo);
    QVERIFY2(window.statusBar()->currentMessage().contains(QStringLiteral("start image")),
             qPrintable(window.statusBar()->currentMessage()));
    // A drop on the panel itself does the same.
    const QString other = picture(640, 640, "other.png");
    dype::test::drop_file(window.imageToImagePanel(), other);
    QCOMPARE(QString::fromStdString(window.currentRequest().init_image), other);
    // Settings are remembered with the rest of the request (the next window starts from them).
    window.close();
    MainWindow again(settings);
    QCOMPARE(QString::fromStdString(again.currentRequest().init_image), other);
  }
};

QTEST_MAIN(TestImageToImagePanel)
#include "test_image_to_image_panel.moc"
