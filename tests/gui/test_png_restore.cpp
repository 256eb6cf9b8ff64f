// test-deps: ui
// Export and restore round trip: a result saved as 8- or 16-bit PNG through core/image carries its request, and
// dropping that PNG on the window puts the prompt and every setting back into the controls. A PNG without our
// metadata is refused with a message and changes nothing.
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>

#include "core/image/png_metadata.h"
#include "tests/support/drop.h"
#include "ui/flux_panel.h"
#include "ui/main_window.h"
#include "ui/png_io.h"
#include "ui/resolution_panel.h"
#include "ui/settings.h"

using namespace dype::ui;

namespace {

dype::GenerationResult makeResult() {
  dype::GenerationResult r;
  r.request.prompt = "a lighthouse on a cliff, 灯台, λs";
  r.request.width = 64;
  r.request.height = 48;
  r.request.steps = 13;
  r.request.guidance = 4.25;
  r.request.seed = 9876543210123ull;
  r.request.dype.method = dype::DypeMethod::YaRN;
  r.request.dype.yarn_form = dype::YarnForm::Comfy;
  r.request.dype.lambda_s = 3.5;
  r.request.dype.lambda_t = 1.25;
  r.request.dype.base_resolution = 768;
  r.request.shift = dype::ShiftPolicy::Flux;
  r.request.max_shift = 1.2;
  r.request.bit_depth = 16;
  r.model_label = "demo (random weights)";
  r.image.width = 64;
  r.image.height = 48;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) {
        const int v16 = (x * 997 + y * 131 + c * 7919) % 65536;
        r.image.rgb16.push_back(std::uint16_t(v16));
        // The 8-bit view of a 16-bit value is the nearest 8-bit level, as a 16-bit PNG read back gives it.
        r.image.rgb8.push_back(std::uint8_t((v16 * 255 + 32767) / 65535));
      }
  return r;
}

void compareRequests(const dype::GenerationRequest& a, const dype::GenerationRequest& b) {
  QCOMPARE(a.prompt, b.prompt);
  QCOMPARE(a.width, b.width);
  QCOMPARE(a.height, b.height);
  QCOMPARE(a.steps, b.steps);
  QCOMPARE(a.guidance, b.guidance);
  QCOMPARE(a.seed, b.seed);
  QCOMPARE(a.dype.method, b.dype.method);
  QCOMPARE(a.dype.dynamic, b.dype.dynamic);
  QCOMPARE(a.dype.yarn_form, b.dype.yarn_form);
  QCOMPARE(a.dype.lambda_s, b.dype.lambda_s);
  QCOMPARE(a.dype.lambda_t, b.dype.lambda_t);
  QCOMPARE(a.dype.base_resolution, b.dype.base_resolution);
  QCOMPARE(a.shift, b.shift);
  QCOMPARE(a.max_shift, b.max_shift);
}

}  // namespace

class TestPngRestore : public QObject {
  Q_OBJECT

 private slots:
  void saveAndReadBack_data();
  void saveAndReadBack();
  void dropRestoresSettings();
  void foreignPngIsRefused();
  void missingLoraFileWarns();
  void saveFromWindowAfterDemoRun();

 private:
  QTemporaryDir m_dir;
};

void TestPngRestore::saveAndReadBack_data() {
  QTest::addColumn<int>("bits");
  QTest::newRow("8-bit") << 8;
  QTest::newRow("16-bit") << 16;
}

void TestPngRestore::saveAndReadBack() {
  QFETCH(int, bits);
  const dype::GenerationResult result = makeResult();
  const QString path = m_dir.filePath(QStringLiteral("r%1.png").arg(bits));
  QCOMPARE(savePng(path, result, bits), QString());
  QString error;
  const auto back = readRequestFromPng(path, &error);
  QVERIFY2(back, qPrintable(error));
  compareRequests(*back, result.request);
  dype::image::PngInfo info;
  const dype::RgbImage pixels = dype::image::read_png(path.toStdString(), &info);
  QCOMPARE(info.bit_depth, bits);
  QCOMPARE(pixels.width, 64);
  QCOMPARE(pixels.height, 48);
  QVERIFY(pixels.rgb8 == result.image.rgb8);
  if (bits == 16) QVERIFY(pixels.rgb16 == result.image.rgb16);
}

void TestPngRestore::dropRestoresSettings() {
  const dype::GenerationResult result = makeResult();
  const QString path = m_dir.filePath(QStringLiteral("drop.png"));
  QCOMPARE(savePng(path, result, 8), QString());
  Settings settings(m_dir.filePath(QStringLiteral("drop.ini")));
  MainWindow window(settings);
  window.fluxPanel()->setRandomSeed(true);
  dype::test::drop_file(&window, path);
  compareRequests(window.currentRequest(), result.request);
  QVERIFY(!window.fluxPanel()->randomSeed());  // the restored seed is kept for the next run
}

void TestPngRestore::foreignPngIsRefused() {
  const QString path = m_dir.filePath(QStringLiteral("foreign.png"));
  QImage plain(32, 32, QImage::Format_RGB32);
  plain.fill(Qt::darkCyan);
  QVERIFY(plain.save(path));
  QString error;
  QVERIFY(!readRequestFromPng(path, &error));
  QVERIFY(!error.isEmpty());
  Settings settings(m_dir.filePath(QStringLiteral("foreign.ini")));
  MainWindow window(settings);
  const dype::GenerationRequest before = window.currentRequest();
  QVERIFY(!window.restoreFromPng(path));
  QVERIFY(!window.statusBar()->currentMessage().isEmpty());
  compareRequests(window.currentRequest(), before);
  QVERIFY(!window.restoreFromPng(m_dir.filePath(QStringLiteral("missing.png"))));
}

void TestPngRestore::missingLoraFileWarns() {
  // A PNG made with a LoRA that this machine does not have: the settings are restored and the status bar names the
  // missing file; with the file present there is no warning.
  dype::GenerationResult result = makeResult();
  const QString lora = m_dir.filePath(QStringLiteral("style.safetensors"));
  result.request.loras = {{lora.toStdString(), 0.8, std::string(64, 'a')}};
  const QString path = m_dir.filePath(QStringLiteral("lora.png"));
  QCOMPARE(savePng(path, result, 8), QString());
  Settings settings(m_dir.filePath(QStringLiteral("lora.ini")));
  MainWindow window(settings);
  QVERIFY(window.restoreFromPng(path));
  compareRequests(window.currentRequest(), result.request);
  const QString message = window.statusBar()->currentMessage();
  QVERIFY2(message.contains(QStringLiteral("missing")) && message.contains(lora), qPrintable(message));
  QFile file(lora);
  QVERIFY(file.open(QIODevice::WriteOnly));
  file.close();
  QVERIFY(window.restoreFromPng(path));
  QVERIFY(!window.statusBar()->currentMessage().contains(QStringLiteral("missing")));
}

void TestPngRestore::saveFromWindowAfterDemoRun() {
  Settings settings(m_dir.filePath(QStringLiteral("run.ini")));
  MainWindow window(settings);
  window.resolutionPanel()->setSize(256, 256);
  dype::GenerationRequest r = window.currentRequest();
  r.steps = 2;
  r.seed = 31337;
  window.fluxPanel()->setRandomSeed(false);
  window.fluxPanel()->load(r);
  QSignalSpy finished(&window, &MainWindow::runFinished);
  QSignalSpy failed(&window, &MainWindow::runFailed);
  window.startGeneration();
  QVERIFY(finished.wait(300000) || !finished.isEmpty());
  QVERIFY(failed.isEmpty());
  QVERIFY(window.currentResult());
  QVERIFY(!window.currentResult()->image.rgb16.empty());  // GUI runs keep 16-bit data for export

  QSignalSpy saved(&window, &MainWindow::saved);
  const QString path = m_dir.filePath(QStringLiteral("run16.png"));
  QVERIFY(window.saveImage(path, 16));
  QVERIFY(saved.wait(60000) || !saved.isEmpty());
  QString error;
  const auto back = readRequestFromPng(path, &error);
  QVERIFY2(back, qPrintable(error));
  QCOMPARE(back->seed, std::uint64_t(31337));
  QCOMPARE(back->steps, 2);
  QCOMPARE(back->width, 256);
  const dype::RgbImage pixels = dype::image::read_png(path.toStdString());
  QVERIFY(pixels.rgb16 == window.currentResult()->image.rgb16);
}

QTEST_MAIN(TestPngRestore)
#include "test_png_restore.moc"
