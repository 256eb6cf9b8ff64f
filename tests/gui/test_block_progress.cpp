// test-deps: ui
// Progress and cancellation inside a step, as the GUI sees them (issue 10): the worker's blockProgress signal
// (throttled, in order, right totals), a cancel raised at the first block ends the run before its step is
// reported, and the main window shows "i−1 / N steps done · step i: block j/M" in the progress bar and the status
// line, agrees with the label under the bar on the number of steps done (issue 15), and stops on Esc while a step
// runs.
#include <c10/core/InferenceMode.h>

#include <QProgressBar>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>
#include <memory>

#include "core/pipeline/demo_model.h"
#include "tests/support/worker_thread.h"
#include "ui/flux_panel.h"
#include "ui/generation_worker.h"
#include "ui/main_window.h"
#include "ui/resolution_panel.h"
#include "ui/run_panel.h"
#include "ui/settings.h"

using namespace dype::ui;

namespace {
using dype::test::demoJob;
constexpr int kTimeoutMs = dype::test::kWorkerTimeoutMs;  // polled with QTRY_* (tests/support/worker_thread.h)

int demoBlocks() {  // the random demo the worker tests run (tests/support/worker_thread.h)
  const auto c = dype::demo_flux_config();
  return int(c.depth + c.depth_single_blocks);
}
int trainedDemoBlocks() {  // the built-in trained demo, a new window's model
  const auto c = dype::trained_demo_flux_config();
  return int(c.depth + c.depth_single_blocks);
}
}  // namespace

class Client : public QObject {
  Q_OBJECT
 signals:
  void submit(const dype::ui::GenerationJob& job);
};

class TestBlockProgress : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void cleanupTestCase();
  void blockProgressInOrder();
  void cancelAtFirstBlockEndsBeforeTheStep();
  void windowShowsBlocksAndEscStopsMidRun();
  void barAndLabelAgreeOnStepsDone();

 private:
  std::unique_ptr<dype::test::WorkerThread> m_fixture;
  GenerationWorker* m_worker = nullptr;
  Client m_client;
  QTemporaryDir m_dir;
};

void TestBlockProgress::initTestCase() {
  m_fixture = std::make_unique<dype::test::WorkerThread>();
  m_worker = m_fixture->worker();
  connect(&m_client, &Client::submit, m_worker, &GenerationWorker::generate);
}

void TestBlockProgress::cleanupTestCase() {
  m_fixture.reset();
  m_worker = nullptr;
}

void TestBlockProgress::blockProgressInOrder() {
  QSignalSpy blocks(m_worker, &GenerationWorker::blockProgress);
  QSignalSpy finished(m_worker, &GenerationWorker::finished);
  m_worker->resetCancel();
  emit m_client.submit(demoJob(128, 3));
  QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), kTimeoutMs);
  // Throttled, so not necessarily one per block, but at least the first, and never more than there are blocks.
  QVERIFY(blocks.count() >= 1);
  QVERIFY(blocks.count() <= 3 * demoBlocks());
  int last = 0;
  for (const auto& args : blocks) {
    const int step = args[0].toInt(), totalSteps = args[1].toInt(), block = args[2].toInt(), total = args[3].toInt();
    QCOMPARE(totalSteps, 3);
    QCOMPARE(total, demoBlocks());
    QVERIFY(step >= 1 && step <= 3 && block >= 1 && block <= total);
    const int position = (step - 1) * total + block;
    QVERIFY(position > last);
    last = position;
  }
  QCOMPARE(blocks.front()[0].toInt(), 1);
  QCOMPARE(blocks.front()[2].toInt(), 1);
}

void TestBlockProgress::cancelAtFirstBlockEndsBeforeTheStep() {
  QSignalSpy progress(m_worker, &GenerationWorker::progress);
  QSignalSpy finished(m_worker, &GenerationWorker::finished);
  QSignalSpy cancelled(m_worker, &GenerationWorker::cancelled);
  GenerationWorker* worker = m_worker;
  // Direct: runs on the worker thread while block 1 of step 1 reports, so the stop is exactly there.
  auto c = connect(
      m_worker, &GenerationWorker::blockProgress, m_worker, [worker] { worker->cancel(); }, Qt::DirectConnection);
  m_worker->resetCancel();
  emit m_client.submit(demoJob(256, 6));
  QTRY_VERIFY_WITH_TIMEOUT(!cancelled.isEmpty(), kTimeoutMs);
  disconnect(c);
  QCOMPARE(progress.count(), 0);  // step 1 never finished
  QVERIFY(finished.isEmpty());
}

void TestBlockProgress::windowShowsBlocksAndEscStopsMidRun() {
  Settings settings(m_dir.filePath(QStringLiteral("w.ini")));
  MainWindow window(settings);
  window.show();
  window.activateWindow();
  QVERIFY(QTest::qWaitForWindowActive(&window));
  window.resolutionPanel()->setSize(1024, 1024);  // a demo step of about a second here: blocks are seen
  dype::GenerationRequest r = window.currentRequest();
  r.steps = 40;
  r.preview_every = 0;
  window.fluxPanel()->load(r);

  QSignalSpy cancelled(&window, &MainWindow::runCancelled);
  QSignalSpy finished(&window, &MainWindow::runFinished);
  QSignalSpy steps(&window, &MainWindow::stepShown);
  window.startGeneration();
  QProgressBar* bar = window.runPanel()->progressBar();
  QTRY_VERIFY_WITH_TIMEOUT(bar->format().contains(QStringLiteral(": block ")), kTimeoutMs);
  const QString text = bar->format();
  QVERIFY2(text.contains(QStringLiteral(" / 40 steps done · step ")) &&
               text.endsWith(QStringLiteral("/%1").arg(trainedDemoBlocks())),
           qPrintable(text));
  QVERIFY2(window.statusBar()->currentMessage().contains(QStringLiteral(": block ")),
           qPrintable(window.statusBar()->currentMessage()));
  QTest::keyClick(&window, Qt::Key_Escape);
  QTRY_VERIFY_WITH_TIMEOUT(!cancelled.isEmpty(), kTimeoutMs);
  QVERIFY(finished.isEmpty());
  QVERIFY(!window.isRunning());
  QVERIFY(steps.count() < 40);
  QCOMPARE(window.statusBar()->currentMessage(), QStringLiteral("Cancelled."));
}

namespace {
// "5 / 12 steps done" → 5, from anywhere in `text`; -1 when absent.
int stepsDone(const QString& text) {
  static const QRegularExpression re(QStringLiteral("(\\d+) ?/ ?(\\d+) steps done"));
  const auto m = re.match(text);
  return m.hasMatch() ? m.captured(1).toInt() : -1;
}
}  // namespace

// Issue 15: the bar said "step 6/12 · block 3/57" (step in progress) while the label said "Step 5/12" (steps done).
// Both now count steps done; the worker's signals are emitted here exactly as the pipeline would send them.
void TestBlockProgress::barAndLabelAgreeOnStepsDone() {
  Settings settings(m_dir.filePath(QStringLiteral("agree.ini")));
  MainWindow window(settings);
  window.show();
  QVERIFY(QTest::qWaitForWindowExposed(&window));
  window.resolutionPanel()->setSize(1024, 1024);
  dype::GenerationRequest r = window.currentRequest();
  r.steps = 400;  // long enough that the run is still going while the signals below are checked
  r.preview_every = 0;
  window.fluxPanel()->load(r);
  window.startGeneration();
  QVERIFY(window.isRunning());
  GenerationWorker* worker = window.worker();
  RunPanel* run = window.runPanel();
  // Direct calls into the window's slots (emitted on this thread, received on this thread).
  Q_EMIT worker->progress(5, 12, 0.5, 10.0, 14.0);
  QCOMPARE(stepsDone(run->progressBar()->format()), 5);
  QCOMPARE(stepsDone(run->progressText()), 5);
  Q_EMIT worker->blockProgress(6, 12, 3, 57);  // step 6 in progress: still 5 done
  QVERIFY2(stepsDone(run->progressBar()->format()) == 5, qPrintable(run->progressBar()->format()));
  QVERIFY2(run->progressBar()->format().contains(QStringLiteral("step 6: block 3/57")),
           qPrintable(run->progressBar()->format()));
  QCOMPARE(stepsDone(run->progressText()), 5);
  QCOMPARE(stepsDone(window.statusBar()->currentMessage()), 5);
  QSignalSpy cancelled(&window, &MainWindow::runCancelled);
  window.cancelGeneration();
  QTRY_VERIFY_WITH_TIMEOUT(!cancelled.isEmpty(), kTimeoutMs);
}

QTEST_MAIN(TestBlockProgress)
#include "test_block_progress.moc"
