// test-deps: ui
// GenerationWorker on its own QThread with the built-in demo model: progress in order, previews at the requested
// cadence, finished with an image, cancelled within one step, failed with a readable message on a broken model
// path (and usable again afterwards), the pipeline cached between runs and reloaded when the model changes.
#include <c10/core/InferenceMode.h>

#include <QSignalSpy>
#include <QThread>
#include <QtTest>
#include <atomic>
#include <memory>

#include "tests/support/worker_thread.h"
#include "ui/generation_worker.h"

using dype::ui::GenerationJob;
using dype::ui::GenerationOutput;
using dype::ui::GenerationWorker;

using dype::test::demoJob;
constexpr int kTimeoutMs = dype::test::kWorkerTimeoutMs;  // polled with QTRY_* (tests/support/worker_thread.h)

// Stands in for the main window: sends requests by queued signal.
class Client : public QObject {
  Q_OBJECT
 signals:
  void submit(const dype::ui::GenerationJob& job);
  void submitEstimate(const dype::ui::GenerationJob& job);
};

class TestGenerationWorker : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void cleanupTestCase();
  void progressInOrderAndFinished();
  void previewCadence_data();
  void previewCadence();
  void cancelFromWorkerThreadStopsAtThatStep();
  void cancelFromGuiThreadWithinOneStep();
  void brokenModelPathFails();
  void cachesAndReloads();
  void estimate();

 private:
  std::unique_ptr<dype::test::WorkerThread> m_fixture;
  GenerationWorker* m_worker = nullptr;
  Client m_client;
};

void TestGenerationWorker::initTestCase() {
  m_fixture = std::make_unique<dype::test::WorkerThread>();
  m_worker = m_fixture->worker();
  connect(&m_client, &Client::submit, m_worker, &GenerationWorker::generate);
  connect(&m_client, &Client::submitEstimate, m_worker, &GenerationWorker::estimate);
}

void TestGenerationWorker::cleanupTestCase() {
  m_fixture.reset();
  m_worker = nullptr;
}

void TestGenerationWorker::progressInOrderAndFinished() {
  QSignalSpy progress(m_worker, &GenerationWorker::progress);
  QSignalSpy finished(m_worker, &GenerationWorker::finished);
  QSignalSpy failed(m_worker, &GenerationWorker::failed);
  std::atomic<int> inferenceModeSteps{0};
  std::atomic<bool> onWorkerThread{true};
  QThread* workerThread = m_fixture->thread();
  auto probe = connect(
      m_worker, &GenerationWorker::progress, m_worker,
      [&](int, int, double, double, double) {
        if (c10::InferenceMode::is_enabled()) ++inferenceModeSteps;
        if (QThread::currentThread() != workerThread) onWorkerThread = false;
      },
      Qt::DirectConnection);
  m_worker->resetCancel();
  emit m_client.submit(demoJob(256, 4, 1));
  QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty() || !failed.isEmpty(), kTimeoutMs);
  QVERIFY2(!finished.isEmpty(), failed.isEmpty() ? "no result" : qPrintable(failed.front().front().toString()));
  disconnect(probe);
  QVERIFY(failed.isEmpty());
  QCOMPARE(progress.count(), 4);
  double lastSigma = 2.0;
  for (int i = 0; i < progress.count(); ++i) {
    QCOMPARE(progress[i][0].toInt(), i + 1);  // step
    QCOMPARE(progress[i][1].toInt(), 4);      // total
    const double sigma = progress[i][2].toDouble();
    QVERIFY(sigma > 0 && sigma <= 1.0 + 1e-6 && sigma < lastSigma);
    lastSigma = sigma;
  }
  QCOMPARE(inferenceModeSteps.load(), 4);  // the pipeline ran under c10::InferenceMode, in the worker thread
  QVERIFY(onWorkerThread.load());
  const auto output = finished.front().front().value<GenerationOutput>();
  QVERIFY(output.result);
  QCOMPARE(output.image.size(), QSize(256, 256));
  QCOMPARE(output.result->image.width, 256);
  QCOMPARE(output.result->request.prompt, std::string("a lighthouse on a cliff"));
  QVERIFY(!output.result->cancelled);
  // The display image carries the result's pixels.
  const auto& px = output.result->image.rgb8;
  const QRgb p = output.image.pixel(17, 101);
  const std::size_t o = (std::size_t(101) * 256 + 17) * 3;
  QCOMPARE(qRed(p), int(px[o]));
  QCOMPARE(qGreen(p), int(px[o + 1]));
  QCOMPARE(qBlue(p), int(px[o + 2]));
}

void TestGenerationWorker::previewCadence_data() {
  QTest::addColumn<int>("steps");
  QTest::addColumn<int>("every");
  QTest::newRow("every step") << 3 << 1;
  QTest::newRow("every 2nd of 4") << 4 << 2;
  QTest::newRow("every 3rd of 4") << 4 << 3;
  QTest::newRow("off") << 3 << 0;
}

void TestGenerationWorker::previewCadence() {
  QFETCH(int, steps);
  QFETCH(int, every);
  QSignalSpy preview(m_worker, &GenerationWorker::preview);
  QSignalSpy finished(m_worker, &GenerationWorker::finished);
  m_worker->resetCancel();
  emit m_client.submit(demoJob(256, steps, every));
  QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), kTimeoutMs);
  QList<int> got;
  for (const auto& args : preview) {
    got << args[0].toInt();
    QVERIFY(!args[1].value<QImage>().isNull());
  }
  QList<int> want;
  for (int s = 1; every > 0 && s <= steps; ++s)
    if (s % every == 0) want << s;
  QCOMPARE(got, want);
}

void TestGenerationWorker::cancelFromWorkerThreadStopsAtThatStep() {
  QSignalSpy progress(m_worker, &GenerationWorker::progress);
  QSignalSpy finished(m_worker, &GenerationWorker::finished);
  QSignalSpy cancelled(m_worker, &GenerationWorker::cancelled);
  GenerationWorker* worker = m_worker;
  auto c = connect(
      m_worker, &GenerationWorker::progress, m_worker,
      [worker](int step, int, double, double, double) {
        if (step == 2) worker->cancel();
      },
      Qt::DirectConnection);
  m_worker->resetCancel();
  emit m_client.submit(demoJob(256, 6, 0));
  QTRY_VERIFY_WITH_TIMEOUT(!cancelled.isEmpty(), kTimeoutMs);
  disconnect(c);
  QCOMPARE(progress.count(), 2);  // the flag was set during step 2: no step 3
  QCOMPARE(progress.back()[0].toInt(), 2);
  QVERIFY(finished.isEmpty());
}

void TestGenerationWorker::cancelFromGuiThreadWithinOneStep() {
  QSignalSpy cancelled(m_worker, &GenerationWorker::cancelled);
  QSignalSpy finished(m_worker, &GenerationWorker::finished);
  std::atomic<int> latest{0};  // the last step the worker reported, recorded on its thread
  auto rec = connect(
      m_worker, &GenerationWorker::progress, m_worker,
      [&latest](int step, int, double, double, double) { latest = step; }, Qt::DirectConnection);
  int stepAtCancel = -1;
  int maxStep = 0;
  auto gui = connect(m_worker, &GenerationWorker::progress, this, [&](int step, int, double, double, double) {
    maxStep = std::max(maxStep, step);
    if (stepAtCancel < 0) {
      m_worker->cancel();  // the GUI thread's direct call: just an atomic store
      stepAtCancel = latest.load();
    }
  });
  m_worker->resetCancel();
  emit m_client.submit(demoJob(512, 40, 0));
  QTRY_VERIFY_WITH_TIMEOUT(!cancelled.isEmpty() || !finished.isEmpty(), kTimeoutMs);
  QTest::qWait(50);  // deliver any progress signals still queued
  disconnect(rec);
  disconnect(gui);
  QVERIFY2(finished.isEmpty(), "a 40-step run finished although cancel was requested after its first step");
  QVERIFY(stepAtCancel >= 1);
  QVERIFY2(latest.load() <= stepAtCancel + 1,
           qPrintable(QStringLiteral("cancel at step %1, last step %2").arg(stepAtCancel).arg(latest.load())));
  QCOMPARE(maxStep, latest.load());
}

void TestGenerationWorker::brokenModelPathFails() {
  QSignalSpy failed(m_worker, &GenerationWorker::failed);
  QSignalSpy finished(m_worker, &GenerationWorker::finished);
  GenerationJob job = demoJob(256, 2, 0);
  job.paths.model = "/nonexistent/models/FLUX.1-dev";
  m_worker->resetCancel();
  emit m_client.submit(job);
  QTRY_VERIFY_WITH_TIMEOUT(!failed.isEmpty(), kTimeoutMs);
  const QString message = failed.front().front().toString();
  QVERIFY2(message.contains(QStringLiteral("/nonexistent/models/FLUX.1-dev")), qPrintable(message));
  QVERIFY2(message.contains(QStringLiteral("Model panel")), qPrintable(message));  // says what to do
  QVERIFY(finished.isEmpty());
  // The worker is still usable.
  emit m_client.submit(demoJob(256, 2, 0));
  QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), kTimeoutMs);
}

void TestGenerationWorker::cachesAndReloads() {
  QSignalSpy loaded(m_worker, &GenerationWorker::modelLoaded);
  QSignalSpy finished(m_worker, &GenerationWorker::finished);
  QMetaObject::invokeMethod(m_worker, &GenerationWorker::releaseModel, Qt::QueuedConnection);
  emit m_client.submit(demoJob(256, 2, 0));
  emit m_client.submit(demoJob(256, 2, 0));
  GenerationJob other = demoJob(256, 2, 0);
  other.options.text_encoders_on_cpu = !other.options.text_encoders_on_cpu;
  emit m_client.submit(other);
  QTRY_VERIFY_WITH_TIMEOUT(finished.count() >= 3, kTimeoutMs);
  QCOMPARE(loaded.count(), 2);          // once for the first two jobs, again when the load options changed
  QVERIFY(loaded.front()[1].toBool());  // is_demo
  QVERIFY(loaded.front()[0].toString().contains(QStringLiteral("demo")));
}

void TestGenerationWorker::estimate() {
  QSignalSpy estimated(m_worker, &GenerationWorker::estimated);
  emit m_client.submitEstimate(demoJob(1024, 4, 0));
  QTRY_VERIFY_WITH_TIMEOUT(!estimated.isEmpty(), kTimeoutMs);
  const auto info = estimated.front().front().value<dype::ui::EstimateInfo>();
  QCOMPARE(info.width, 1024);
  QCOMPARE(info.steps, 4);
  QVERIFY(info.memory.peak_bytes > 0);
  QVERIFY(info.memory.fits);
}

QTEST_MAIN(TestGenerationWorker)
#include "test_generation_worker.moc"
