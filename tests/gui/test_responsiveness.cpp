// test-deps: ui
// The main window's event loop keeps turning while the demo model generates: a 10 ms timer never waits longer
// than 200 ms between ticks (the GUI thread never blocks on the pipeline). Also the whole user path: Generate,
// live previews, result in the view and the history, Esc cancels, Generate again.
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "tests/support/gap_meter.h"
#include "ui/flux_panel.h"
#include "ui/history_strip.h"
#include "ui/image_view.h"
#include "ui/main_window.h"
#include "ui/prompt_panel.h"
#include "ui/resolution_panel.h"
#include "ui/run_panel.h"
#include "ui/settings.h"

using namespace dype::ui;

namespace {
constexpr int kTimeoutMs = 300000;

using dype::test::GapMeter;
}  // namespace

class TestResponsiveness : public QObject {
  Q_OBJECT

 private slots:
  void eventLoopTurnsDuringGeneration();
  void escCancelsAndGenerateAgain();

 private:
  QTemporaryDir m_dir;
};

void TestResponsiveness::eventLoopTurnsDuringGeneration() {
  Settings settings(m_dir.filePath(QStringLiteral("a.ini")));
  MainWindow window(settings);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  window.promptPanel()->setPrompt(QStringLiteral("a lighthouse on a cliff at dusk"));
  window.resolutionPanel()->setSize(512, 512);
  dype::GenerationRequest r = window.currentRequest();
  r.steps = 8;
  r.preview_every = 1;
  window.fluxPanel()->load(r);

  QSignalSpy finished(&window, &MainWindow::runFinished);
  QSignalSpy failed(&window, &MainWindow::runFailed);
  QSignalSpy steps(&window, &MainWindow::stepShown);
  QSignalSpy previews(&window, &MainWindow::previewShown);
  GapMeter meter;
  meter.start();
  QTest::mouseClick(window.runPanel()->generateButton(), Qt::LeftButton);
  QVERIFY(window.isRunning());
  QVERIFY(window.runPanel()->cancelButton()->isEnabled());
  QVERIFY(finished.wait(kTimeoutMs) || !finished.isEmpty() || !failed.isEmpty());
  meter.stop();
  QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.front().front().toString()));
  qInfo("event loop: %d ticks, longest gap %.1f ms", meter.ticks(), meter.longestMs());
  QVERIFY2(meter.longestMs() < 200.0, qPrintable(QStringLiteral("longest gap %1 ms").arg(meter.longestMs())));
  QCOMPARE(steps.count(), 8);
  QVERIFY(previews.count() >= 1);  // coalesced: at most one per step, at least one
  QVERIFY(previews.count() <= 8);
  QVERIFY(!window.isRunning());
  QCOMPARE(window.imageView()->image().size(), QSize(512, 512));
  QCOMPARE(window.historyStrip()->count(), 1);
  QVERIFY(window.currentResult());
}

void TestResponsiveness::escCancelsAndGenerateAgain() {
  Settings settings(m_dir.filePath(QStringLiteral("b.ini")));
  MainWindow window(settings);
  window.show();
  window.activateWindow();
  QVERIFY(QTest::qWaitForWindowActive(&window));
  window.resolutionPanel()->setSize(1024, 1024);
  dype::GenerationRequest r = window.currentRequest();
  r.steps = 60;
  r.preview_every = 0;
  window.fluxPanel()->load(r);

  QSignalSpy cancelled(&window, &MainWindow::runCancelled);
  QSignalSpy finished(&window, &MainWindow::runFinished);
  QSignalSpy steps(&window, &MainWindow::stepShown);
  window.startGeneration();
  QVERIFY(steps.wait(kTimeoutMs) || !steps.isEmpty());
  QTest::keyClick(&window, Qt::Key_Escape);
  QVERIFY(cancelled.wait(kTimeoutMs) || !cancelled.isEmpty());
  QVERIFY(finished.isEmpty());
  QVERIFY(!window.isRunning());
  QVERIFY(steps.count() < 60);

  // The app stays usable: a second, short run completes.
  r.steps = 2;
  window.fluxPanel()->load(r);
  window.resolutionPanel()->setSize(256, 256);
  window.startGeneration();
  QVERIFY(finished.wait(kTimeoutMs) || !finished.isEmpty());
  QCOMPARE(window.historyStrip()->count(), 1);
}

QTEST_MAIN(TestResponsiveness)
#include "test_responsiveness.moc"
