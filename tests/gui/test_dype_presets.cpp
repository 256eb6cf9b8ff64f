// test-deps: ui
// The DyPE panel's presets (issue 15) carry the published numbers of DYPE.md §2.13/§4: Paper = DY-YaRN paper form
// with λs = λt = 2; ComfyUI = Vision-YaRN with λs = λt = 2; Auto = InvokeAI's `auto` rule (off up to 1.5·base,
// else DY-NTK with λs = min(2·max(W,H)/base, 8), λt = 2) following the output size. Editing a value makes the
// choice Custom. In the paper YaRN form the greyed λs says why, in its tooltip and in a note under it.
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QSignalSpy>
#include <QSlider>
#include <QtTest>

#include "ui/dype_panel.h"
#include "ui/model_panel.h"

using namespace dype;
using namespace dype::ui;

class TestDypePresets : public QObject {
  Q_OBJECT

 private slots:
  void paperPreset();
  void comfyPreset();
  void autoFollowsTheSize_data();
  void autoFollowsTheSize();
  void editingMakesItCustom();
  void namesRoundTrip();
  void modelPanelFitsTheDemoPage();
};

void TestDypePresets::paperPreset() {
  DypePanel panel;
  panel.setPreset(DypePreset::ComfyUI);
  panel.setPreset(DypePreset::Paper);
  const DypeConfig c = panel.config();
  QCOMPARE(c.method, DypeMethod::YaRN);
  QVERIFY(c.dynamic);
  QCOMPARE(c.yarn_form, YarnForm::Paper);
  QCOMPARE(c.lambda_s, 2.0);
  QCOMPARE(c.lambda_t, 2.0);
  QCOMPARE(panel.preset(), DypePreset::Paper);
  // λs is not used in this form: greyed, and the reason is written down.
  auto* slider = panel.findChild<QSlider*>(QStringLiteral("lambdaSSlider"));
  QVERIFY(slider);
  QVERIFY(!slider->isEnabled());
  QVERIFY2(slider->toolTip().contains(QStringLiteral("κ = t^λt fixes λs = 1")), qPrintable(slider->toolTip()));
  QVERIFY(panel.lambdaSNote().contains(QStringLiteral("κ = t^λt fixes λs = 1")));
}

void TestDypePresets::comfyPreset() {
  DypePanel panel;
  panel.setPreset(DypePreset::ComfyUI);
  const DypeConfig c = panel.config();
  QCOMPARE(c.method, DypeMethod::VisionYaRN);
  QVERIFY(c.dynamic);
  QCOMPARE(c.lambda_s, 2.0);
  QCOMPARE(c.lambda_t, 2.0);
  QCOMPARE(c.base_resolution, 1024);
  GenerationRequest r;
  panel.apply(r);
  QCOMPARE(r.shift, ShiftPolicy::Clamp);
  QCOMPARE(panel.lambdaSNote(), QString());  // λs is used here: no note
}

void TestDypePresets::autoFollowsTheSize_data() {
  QTest::addColumn<int>("width");
  QTest::addColumn<int>("height");
  QTest::addColumn<int>("method");
  QTest::addColumn<double>("lambdaS");
  // DYPE.md §4, column "INV auto": off up to 1536 px, λs = 4 / 6 / 8 at 2048² / 3072² / 4096².
  QTest::newRow("1024²") << 1024 << 1024 << int(DypeMethod::None) << 2.0;
  QTest::newRow("1536×1024") << 1536 << 1024 << int(DypeMethod::None) << 2.0;
  QTest::newRow("2048²") << 2048 << 2048 << int(DypeMethod::NTK) << 4.0;
  QTest::newRow("3072×2048") << 3072 << 2048 << int(DypeMethod::NTK) << 6.0;
  QTest::newRow("4096²") << 4096 << 4096 << int(DypeMethod::NTK) << 8.0;
  QTest::newRow("8192×1024 capped") << 8192 << 1024 << int(DypeMethod::NTK) << 8.0;
}

void TestDypePresets::autoFollowsTheSize() {
  QFETCH(int, width);
  QFETCH(int, height);
  QFETCH(int, method);
  QFETCH(double, lambdaS);
  DypePanel panel;
  panel.setPreset(DypePreset::Auto);
  QSignalSpy changed(&panel, &DypePanel::changed);
  panel.setOutputSize(width, height);
  const DypeConfig c = panel.config();
  QCOMPARE(int(c.method), method);
  QCOMPARE(c.lambda_s, lambdaS);
  QCOMPARE(c.lambda_t, 2.0);
  QCOMPARE(panel.preset(), DypePreset::Auto);
  // Same size again: nothing moves, no change signal (the window answers changes with setOutputSize).
  const int before = changed.count();
  panel.setOutputSize(width, height);
  QCOMPARE(changed.count(), before);
}

void TestDypePresets::editingMakesItCustom() {
  DypePanel panel;
  panel.setPreset(DypePreset::Paper);
  auto* lambdaT = panel.findChild<QDoubleSpinBox*>(QStringLiteral("lambdaTSpin"));
  QVERIFY(lambdaT);
  lambdaT->setValue(3.0);
  QCOMPARE(panel.preset(), DypePreset::Custom);
  QCOMPARE(panel.config().lambda_t, 3.0);  // Custom keeps the values
  lambdaT->setValue(2.0);                  // typed back: the values are the paper's again, and the combo says so
  QCOMPARE(panel.preset(), DypePreset::Paper);
  lambdaT->setValue(2.5);
  panel.resetToPaperDefaults();
  QCOMPARE(panel.preset(), DypePreset::Paper);
  QCOMPARE(panel.config().lambda_t, 2.0);
  // Restoring a request (history, PNG) with other values: Custom, values as restored.
  GenerationRequest r;
  panel.apply(r);
  r.dype.lambda_t = 1.25;
  panel.load(r);
  QCOMPARE(panel.preset(), DypePreset::Custom);
  QCOMPARE(panel.config().lambda_t, 1.25);
}

void TestDypePresets::namesRoundTrip() {
  for (DypePreset p : {DypePreset::Custom, DypePreset::Auto, DypePreset::Paper, DypePreset::ComfyUI})
    QCOMPARE(parseDypePreset(QLatin1String(dypePresetName(p))), p);
  QCOMPARE(parseDypePreset(QStringLiteral("bogus")), DypePreset::Custom);
}

// Issue 15: the Model panel showed the demo's one line in the space of the five-row single-files page.
void TestDypePresets::modelPanelFitsTheDemoPage() {
  ModelPanel panel;
  ModelChoice c;
  c.source = ModelChoice::Source::Demo;
  panel.setChoice(c);
  const int demoHeight = panel.sizeHint().height();
  c.source = ModelChoice::Source::SingleFiles;
  panel.setChoice(c);
  const int filesHeight = panel.sizeHint().height();
  QVERIFY2(demoHeight + 60 < filesHeight, qPrintable(QStringLiteral("%1 vs %2").arg(demoHeight).arg(filesHeight)));
}

QTEST_MAIN(TestDypePresets)
#include "test_dype_presets.moc"
