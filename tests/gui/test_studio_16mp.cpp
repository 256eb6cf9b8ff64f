// test-deps: ui
// test-labels: slow
// The product's main job through the window, at 16 MP on the CPU with the demo model: start a 4096×4096 run and
// cancel it after its first step, generate 4096×4096 again to the end, export it as PNG — while a 10 ms timer on
// the GUI thread keeps ticking (the window never freezes: no gap of 200 ms or more, the limit issue 6 sets).
// About four minutes on two cores; labelled slow.
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "core/image/png_metadata.h"
#include "tests/support/gap_meter.h"
#include "ui/flux_panel.h"
#include "ui/history_strip.h"
#include "ui/image_view.h"
#include "ui/main_window.h"
#include "ui/model_choice.h"
#include "ui/resolution_panel.h"
#include "ui/settings.h"

using namespace dype::ui;

namespace {
constexpr int kTimeoutMs = 900000;

using dype::test::GapMeter;
}  // namespace

class TestStudio16mp : public QObject {
  Q_OBJECT

 private slots:
  void generateCancelRegenerateExport();

 private:
  QTemporaryDir m_dir;
};

void TestStudio16mp::generateCancelRegenerateExport() {
  Settings settings(m_dir.filePath(QStringLiteral("s.ini")));
  ModelChoice random;  // 16 MP: the cheapest model (the trained demo's six blocks would triple the step)
  random.source = ModelChoice::Source::DemoRandom;
  settings.setModelChoice(random);
  MainWindow window(settings);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  window.resolutionPanel()->setSize(4096, 4096);
  dype::GenerationRequest r = window.currentRequest();
  r.steps = 4;
  r.preview_every = 1;
  window.fluxPanel()->load(r);
  GapMeter meter;
  meter.start();

  // 1. Start, cancel once the first step is shown.
  QSignalSpy steps(&window, &MainWindow::stepShown);
  QSignalSpy cancelled(&window, &MainWindow::runCancelled);
  QSignalSpy finished(&window, &MainWindow::runFinished);
  QSignalSpy failed(&window, &MainWindow::runFailed);
  window.startGeneration();
  QVERIFY(steps.wait(kTimeoutMs) || !steps.isEmpty());
  QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.front().front().toString()));
  window.cancelGeneration();
  QVERIFY(cancelled.wait(kTimeoutMs) || !cancelled.isEmpty());
  QVERIFY(finished.isEmpty());
  QVERIFY(steps.count() <= 2);  // stops within one step of the request
  QVERIFY(!window.isRunning());

  // 2. Regenerate to the end (one step keeps it short: the decode of 16 MP is the larger half).
  r.steps = 1;
  window.fluxPanel()->load(r);
  window.startGeneration();
  QVERIFY(finished.wait(kTimeoutMs) || !finished.isEmpty());
  QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.front().front().toString()));
  QCOMPARE(window.imageView()->image().size(), QSize(4096, 4096));
  QCOMPARE(window.historyStrip()->count(), 1);

  // 3. Export (runs in the background; the event loop keeps turning meanwhile).
  QSignalSpy saved(&window, &MainWindow::saved);
  QSignalSpy saveFailed(&window, &MainWindow::saveFailed);
  const QString path = m_dir.filePath(QStringLiteral("studio-16mp.png"));
  QVERIFY(window.saveImage(path, 8));
  QVERIFY(saved.wait(kTimeoutMs) || !saved.isEmpty() || !saveFailed.isEmpty());
  QVERIFY2(saveFailed.isEmpty(), saveFailed.isEmpty() ? "" : qPrintable(saveFailed.front().front().toString()));
  // Read now: what follows (decoding the PNG to check it) blocks this thread itself and is not the window's doing.
  const double longestGapMs = meter.longestMs();
  dype::image::PngInfo info;
  const dype::RgbImage back = dype::image::read_png(path.toStdString(), &info);
  QCOMPARE(back.width, 4096);
  QCOMPARE(back.height, 4096);
  QCOMPARE(info.bit_depth, 8);

  qInfo("16 MP: cancelled after %d step(s); longest gap between 10 ms ticks %.1f ms; PNG %.1f MB", int(steps.count()),
        longestGapMs, double(QFileInfo(path).size()) / 1e6);
  QVERIFY2(longestGapMs < 200.0, qPrintable(QStringLiteral("longest gap %1 ms").arg(longestGapMs)));
}

// QTEST_MAIN, with Qt Test's per-function watchdog (5 minutes by default) raised for this one long function.
int main(int argc, char** argv) {
  qputenv("QTEST_FUNCTION_TIMEOUT", QByteArrayLiteral("1800000"));
  QApplication app(argc, argv);
  TestStudio16mp test;
  return QTest::qExec(&test, argc, argv);
}
#include "test_studio_16mp.moc"
