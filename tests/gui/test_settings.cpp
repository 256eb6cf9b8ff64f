// test-deps: ui
// Settings: typed values round-trip through the INI file; a corrupt, missing or out-of-range file gives the
// defaults instead of breaking the app.
#include <QFile>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>

#include "ui/settings.h"

using dype::ui::ModelChoice;
using dype::ui::Settings;

class TestSettings : public QObject {
  Q_OBJECT

 private slots:
  void missingFileGivesDefaults();
  void roundTrip();
  void corruptFileGivesDefaults();
  void outOfRangeValuesGiveDefaults();
  void badRequestJsonGivesDefaultRequest();
  void implausibleRequestGivesDefaultRequest();
  void keyTable();

 private:
  QString writeFile(const QByteArray& content) {
    const QString path = m_dir.filePath(QStringLiteral("s%1.ini").arg(++m_n));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(path));
    f.write(content);
    return path;
  }
  QTemporaryDir m_dir;
  int m_n = 0;
};

void TestSettings::missingFileGivesDefaults() {
  Settings s(m_dir.filePath(QStringLiteral("does-not-exist.ini")));
  QVERIFY(!s.wasCorrupt());
  QCOMPARE(s.modelChoice().source, ModelChoice{}.source);  // the built-in demo this build has
  QCOMPARE(s.modelChoice().device, QStringLiteral("cpu"));
  QCOMPARE(s.modelChoice().dtype, QStringLiteral("float32"));
  const dype::GenerationRequest r = s.lastRequest();
  const dype::GenerationRequest d;
  QCOMPARE(r.width, d.width);
  QCOMPARE(r.steps, d.steps);
  QCOMPARE(r.prompt, d.prompt);
  QCOMPARE(s.previewEvery(), 1);
  QCOMPARE(s.exportBitDepth(), 8);
  QVERIFY(s.randomSeed());
  QVERIFY(s.windowGeometry().isEmpty());
}

void TestSettings::roundTrip() {
  const QString path = m_dir.filePath(QStringLiteral("roundtrip.ini"));
  ModelChoice c;
  c.source = ModelChoice::Source::SingleFiles;
  c.diffusersFolder = QStringLiteral("/models/FLUX.1-dev");
  c.transformerFile = QStringLiteral("/models/flux1-dev.safetensors");
  c.vaeFile = QStringLiteral("/models/ae.safetensors");
  c.t5File = QStringLiteral("/models/t5xxl_fp16.safetensors");
  c.device = QStringLiteral("cuda:1");
  c.dtype = QStringLiteral("bfloat16");
  dype::GenerationRequest r;
  r.prompt = "a lighthouse, 灯台";
  r.width = 4096;
  r.height = 2304;
  r.steps = 12;
  r.seed = 18446744073709551615ull;
  r.dype.method = dype::DypeMethod::VisionYaRN;
  r.dype.lambda_s = 3.25;
  r.shift = dype::ShiftPolicy::Fixed;
  r.shift_mu = 0.8;
  {
    Settings s(path);
    s.setModelChoice(c);
    s.setLastRequest(r);
    s.setPreviewEvery(5);
    s.setExportBitDepth(16);
    s.setRandomSeed(false);
    s.setWindowGeometry(QByteArray("\x01\x02geometry", 10));
  }
  Settings s(path);
  const ModelChoice back = s.modelChoice();
  QCOMPARE(back.source, c.source);
  QCOMPARE(back.diffusersFolder, c.diffusersFolder);
  QCOMPARE(back.transformerFile, c.transformerFile);
  QCOMPARE(back.vaeFile, c.vaeFile);
  QCOMPARE(back.t5File, c.t5File);
  QCOMPARE(back.device, c.device);
  QCOMPARE(back.dtype, c.dtype);
  const dype::GenerationRequest rb = s.lastRequest();
  QCOMPARE(rb.prompt, r.prompt);
  QCOMPARE(rb.width, 4096);
  QCOMPARE(rb.height, 2304);
  QCOMPARE(rb.steps, 12);
  QCOMPARE(rb.seed, r.seed);
  QCOMPARE(rb.dype.method, dype::DypeMethod::VisionYaRN);
  QCOMPARE(rb.dype.lambda_s, 3.25);
  QCOMPARE(rb.shift, dype::ShiftPolicy::Fixed);
  QCOMPARE(rb.shift_mu, 0.8);
  QCOMPARE(s.previewEvery(), 5);
  QCOMPARE(s.exportBitDepth(), 16);
  QVERIFY(!s.randomSeed());
  QCOMPARE(s.windowGeometry(), QByteArray("\x01\x02geometry", 10));
  // The single-file source hands only its own paths to the pipeline.
  const dype::ModelPaths p = back.paths();
  QCOMPARE(QString::fromStdString(p.model), c.transformerFile);
  QCOMPARE(QString::fromStdString(p.vae), c.vaeFile);
}

void TestSettings::corruptFileGivesDefaults() {
  QByteArray garbage;
  for (int i = 0; i < 4096; ++i) garbage.append(char((i * 7919) % 256));
  const QString path = writeFile(QByteArray("[model\nsource=diffusers\n") + garbage);
  Settings s(path);
  // Whatever QSettings made of it, every getter returns a valid value.
  const ModelChoice c = s.modelChoice();
  QVERIFY(c.device == QStringLiteral("cpu") || c.device.startsWith(QStringLiteral("cuda")));
  QVERIFY(c.dtype == QStringLiteral("float32") || c.dtype == QStringLiteral("bfloat16") ||
          c.dtype == QStringLiteral("float16"));
  QVERIFY(dype::ui::isPlausibleRequest(s.lastRequest()));
  QVERIFY(s.previewEvery() >= 0 && s.previewEvery() <= Settings::kMaxPreviewEvery);
  QVERIFY(s.exportBitDepth() == 8 || s.exportBitDepth() == 16);
}

void TestSettings::outOfRangeValuesGiveDefaults() {
  const QString path = writeFile(
      "[model]\nsource=quantum\ndevice=tpu\ndtype=float128\n"
      "[preview]\nevery=-3\n[export]\nbitDepth=12\nlastDirectory=/no/such/dir\n"
      "[request]\nrandomSeed=perhaps\n[window]\ngeometry=not bytes\n");
  Settings s(path);
  QCOMPARE(s.modelChoice().source, ModelChoice{}.source);  // the built-in demo this build has
  QCOMPARE(s.modelChoice().device, QStringLiteral("cpu"));
  QCOMPARE(s.modelChoice().dtype, QStringLiteral("float32"));
  QCOMPARE(s.previewEvery(), 1);
  QCOMPARE(s.exportBitDepth(), 8);
  QVERIFY(s.lastDirectory().isEmpty());
  QVERIFY(s.randomSeed());
  QVERIFY(s.windowGeometry().isEmpty());
}

void TestSettings::badRequestJsonGivesDefaultRequest() {
  const QString path = writeFile("[request]\nlast=\"{\\\"prompt\\\": \\\"x\\\", \\\"width\\\": \"\n");
  Settings s(path);
  const dype::GenerationRequest r = s.lastRequest();
  QCOMPARE(r.prompt, std::string());
  QCOMPARE(r.width, dype::GenerationRequest{}.width);
}

void TestSettings::implausibleRequestGivesDefaultRequest() {
  const QString path = m_dir.filePath(QStringLiteral("implausible.ini"));
  {
    dype::GenerationRequest r;
    r.prompt = "kept?";
    r.width = 1000;  // not a multiple of 16
    Settings s(path);
    s.setLastRequest(r);
  }
  Settings s(path);
  QCOMPARE(s.lastRequest().prompt, std::string());
  QCOMPARE(s.lastRequest().width, 1024);
}

// The one typed key table (issue 15): each key has its name, type and default; a value of the wrong type or out of
// range reads as the default; the newer keys (DyPE preset, memory budget) round-trip.
void TestSettings::keyTable() {
  QCOMPARE(Settings::keyName(Settings::Key::ModelDevice), QStringLiteral("model/device"));
  QCOMPARE(Settings::keyName(Settings::Key::PreviewEvery), QStringLiteral("preview/every"));
  const QString path =
      writeFile("[preview]\nevery=-4\n[export]\nbitDepth=abc\n[request]\nrandomSeed=maybe\n[model]\nmaxMemoryMiB=-1\n");
  {
    Settings s(path);
    QCOMPARE(s.value(Settings::Key::PreviewEvery).toInt(), 1);
    QCOMPARE(s.value(Settings::Key::ExportBitDepth).toInt(), 8);
    QCOMPARE(s.value(Settings::Key::RandomSeed).toBool(), true);
    QCOMPARE(s.modelChoice().maxMemoryMiB, 0);
    QCOMPARE(s.dypePreset(), QStringLiteral("custom"));
    ModelChoice c;
    c.maxMemoryMiB = 6144;
    s.setModelChoice(c);
    s.setDypePreset(QStringLiteral("auto"));
  }
  Settings again(path);
  QCOMPARE(again.modelChoice().maxMemoryMiB, 6144);
  QCOMPARE(again.dypePreset(), QStringLiteral("auto"));
}

QTEST_MAIN(TestSettings)
#include "test_settings.moc"
