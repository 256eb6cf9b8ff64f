// test-deps: ui
// The panels and the main window turn what the user set into the right GenerationRequest, and the DyPE panel
// disables (with a reason) exactly the controls a method does not use.
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>
#include <set>

#include "ui/dype_panel.h"
#include "ui/flux_panel.h"
#include "ui/main_window.h"
#include "ui/model_panel.h"
#include "ui/prompt_panel.h"
#include "ui/resolution_panel.h"
#include "ui/settings.h"

using namespace dype::ui;

namespace {
template <class T>
T* child(QWidget* w, const char* name) {
  T* c = w->findChild<T*>(QString::fromLatin1(name));
  if (!c) qFatal("no child %s", name);
  return c;
}
void selectData(QComboBox* box, int data) { box->setCurrentIndex(box->findData(data)); }
}  // namespace

class TestRequestWidgets : public QObject {
  Q_OBJECT

 private slots:
  void promptTypingAndCtrlEnter();
  void fluxPanelValues();
  void randomSeedAndReuse();
  void resolutionPresets();
  void resolutionCustomAndInvalid();
  void dypePanelConfig();
  void dypePanelDisablesUnusedControls();
  void dypePanelShowsMu();
  void mainWindowComposesRequest();
  void mainWindowFollowsModelDefaults();
};

void TestRequestWidgets::promptTypingAndCtrlEnter() {
  PromptPanel panel;
  QSignalSpy generate(&panel, &PromptPanel::generateRequested);
  QTest::keyClicks(panel.editor(), QStringLiteral("a red fox"));
  QTest::keyClick(panel.editor(), Qt::Key_Return);
  QTest::keyClicks(panel.editor(), QStringLiteral("in snow"));
  QTest::keyClick(panel.editor(), Qt::Key_Return, Qt::ControlModifier);
  QTest::keyClick(panel.editor(), Qt::Key_Enter, Qt::ControlModifier | Qt::KeypadModifier);
  QCOMPARE(generate.count(), 2);
  dype::GenerationRequest r;
  panel.apply(r);
  QCOMPARE(r.prompt, std::string("a red fox\nin snow"));  // Ctrl+Enter added no newline
}

void TestRequestWidgets::fluxPanelValues() {
  FluxPanel panel;
  child<QSpinBox>(&panel, "stepsSpin")->setValue(12);
  child<QDoubleSpinBox>(&panel, "guidanceSpin")->setValue(4.5);
  QLineEdit* seed = child<QLineEdit>(&panel, "seedEdit");
  seed->clear();
  QTest::keyClicks(seed, QStringLiteral("18446744073709551615"));
  child<QSpinBox>(&panel, "previewEverySpin")->setValue(3);
  dype::GenerationRequest r;
  panel.apply(r);
  QCOMPARE(r.steps, 12);
  QCOMPARE(r.guidance, 4.5);
  QCOMPARE(r.seed, 18446744073709551615ull);
  QCOMPARE(r.preview_every, 3);
  // load() is the inverse of apply().
  FluxPanel other;
  other.load(r);
  dype::GenerationRequest r2;
  other.apply(r2);
  QCOMPARE(r2.steps, 12);
  QCOMPARE(r2.seed, r.seed);
}

void TestRequestWidgets::randomSeedAndReuse() {
  FluxPanel panel;
  panel.setSeed(7);
  panel.setRandomSeed(false);
  panel.prepareSeed();
  QCOMPARE(panel.seed(), std::uint64_t(7));  // fixed seed stays
  panel.setRandomSeed(true);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 5; ++i) {
    panel.prepareSeed();
    seen.insert(panel.seed());
  }
  QVERIFY(seen.size() >= 4);  // 64-bit draws: collisions are practically impossible
  QPushButton* reuse = child<QPushButton>(&panel, "reuseSeedButton");
  QVERIFY(!reuse->isEnabled());
  panel.setLastSeed(123456789);
  panel.prepareSeed();
  QVERIFY(reuse->isEnabled());
  QTest::mouseClick(reuse, Qt::LeftButton);
  QCOMPARE(panel.seed(), std::uint64_t(123456789));
  QVERIFY(!panel.randomSeed());
}

void TestRequestWidgets::resolutionPresets() {
  const auto presets = dype::ui::resolutionPresets();
  QVERIFY(presets.size() >= 16);
  bool has4096 = false, has1024 = false;
  for (const ResolutionPreset& p : presets) {
    QVERIFY2(p.width % 16 == 0 && p.height % 16 == 0, qPrintable(p.label));
    QVERIFY2(qint64(p.width) * p.height <= 4096ll * 4096ll, qPrintable(p.label));
    has4096 |= p.width == 4096 && p.height == 4096;
    has1024 |= p.width == 1024 && p.height == 1024;
  }
  QVERIFY(has4096 && has1024);
  ResolutionPanel panel;
  QComboBox* combo = child<QComboBox>(&panel, "presetCombo");
  QSignalSpy changed(&panel, &ResolutionPanel::sizeChanged);
  const int idx = combo->findData(QSize(4096, 4096));
  QVERIFY(idx > 0);
  combo->setCurrentIndex(idx);
  emit combo->activated(idx);
  QCOMPARE(panel.size(), QSize(4096, 4096));
  QVERIFY(panel.isValid());
  QVERIFY(changed.count() >= 1);
  dype::GenerationRequest r;
  panel.apply(r);
  QCOMPARE(r.width, 4096);
  QCOMPARE(r.height, 4096);
  // 65,536 tokens for 16 MP.
  QVERIFY2(child<QLabel>(&panel, "resolutionInfo")->text().contains(QLocale().toString(65536)),
           qPrintable(child<QLabel>(&panel, "resolutionInfo")->text()));
}

void TestRequestWidgets::resolutionCustomAndInvalid() {
  ResolutionPanel panel;
  QSpinBox* w = child<QSpinBox>(&panel, "widthSpin");
  QSpinBox* h = child<QSpinBox>(&panel, "heightSpin");
  panel.setSize(1536, 640);
  QCOMPARE(child<QComboBox>(&panel, "presetCombo")->currentIndex(), 0);  // "Custom"
  // Typed values snap to multiples of 16 when editing finishes.
  w->setValue(1000);
  emit w->editingFinished();
  QCOMPARE(panel.size().width() % 16, 0);
  QVERIFY(std::abs(panel.size().width() - 1000) <= 8);
  // Above 16 MP: refused, with the reason shown.
  panel.setSize(8192, 4096);
  QVERIFY(!panel.isValid());
  QVERIFY(!panel.problem().isEmpty());
  QVERIFY(child<QLabel>(&panel, "resolutionInfo")->text().contains(panel.problem().toHtmlEscaped()));
  h->setValue(2048);
  QVERIFY(panel.isValid());
  QTest::mouseClick(child<QWidget>(&panel, "swapButton"), Qt::LeftButton);
  QCOMPARE(panel.size(), QSize(2048, 8192));
}

void TestRequestWidgets::dypePanelConfig() {
  DypePanel panel;
  selectData(child<QComboBox>(&panel, "methodCombo"), int(dype::DypeMethod::NTK));
  child<QCheckBox>(&panel, "dynamicCheck")->setChecked(true);
  child<QSlider>(&panel, "lambdaSSlider")->setValue(350);  // 3.5
  child<QDoubleSpinBox>(&panel, "lambdaTSpin")->setValue(0.75);
  child<QSpinBox>(&panel, "baseResolutionSpin")->setValue(768);
  child<QCheckBox>(&panel, "isotropicCheck")->setChecked(true);
  selectData(child<QComboBox>(&panel, "shiftCombo"), int(dype::ShiftPolicy::Fixed));
  child<QDoubleSpinBox>(&panel, "fixedMuSpin")->setValue(0.9);
  dype::GenerationRequest r;
  panel.apply(r);
  QCOMPARE(r.dype.method, dype::DypeMethod::NTK);
  QVERIFY(r.dype.dynamic);
  QCOMPARE(r.dype.lambda_s, 3.5);
  QCOMPARE(child<QDoubleSpinBox>(&panel, "lambdaSSpin")->value(), 3.5);  // slider and spin mirror each other
  QCOMPARE(r.dype.lambda_t, 0.75);
  QCOMPARE(child<QSlider>(&panel, "lambdaTSlider")->value(), 75);
  QCOMPARE(r.dype.base_resolution, 768);
  QVERIFY(r.dype.isotropic);
  QCOMPARE(r.shift, dype::ShiftPolicy::Fixed);
  QCOMPARE(r.shift_mu, 0.9);

  QTest::mouseClick(child<QPushButton>(&panel, "resetDypeButton"), Qt::LeftButton);
  dype::GenerationRequest d;
  panel.apply(d);
  QCOMPARE(d.dype.method, dype::DypeMethod::YaRN);
  QVERIFY(d.dype.dynamic);
  QCOMPARE(d.dype.yarn_form, dype::YarnForm::Paper);
  QCOMPARE(d.dype.lambda_s, 2.0);
  QCOMPARE(d.dype.lambda_t, 2.0);
  QCOMPARE(d.dype.base_resolution, 1024);
  QVERIFY(!d.dype.isotropic);
  QCOMPARE(d.shift, dype::ShiftPolicy::Auto);
  QCOMPARE(d.base_shift, 0.5);
  QCOMPARE(d.max_shift, 1.15);
}

void TestRequestWidgets::dypePanelDisablesUnusedControls() {
  DypePanel panel;
  QComboBox* method = child<QComboBox>(&panel, "methodCombo");
  QCheckBox* dynamic = child<QCheckBox>(&panel, "dynamicCheck");
  QComboBox* form = child<QComboBox>(&panel, "yarnFormCombo");
  QSlider* ls = child<QSlider>(&panel, "lambdaSSlider");
  QDoubleSpinBox* lt = child<QDoubleSpinBox>(&panel, "lambdaTSpin");

  selectData(method, int(dype::DypeMethod::None));
  QVERIFY(!dynamic->isEnabled() && !form->isEnabled() && !ls->isEnabled() && !lt->isEnabled());
  QVERIFY(ls->toolTip().contains(QStringLiteral("plain RoPE")));

  selectData(method, int(dype::DypeMethod::YaRN));
  dynamic->setChecked(true);
  selectData(form, int(dype::YarnForm::Paper));
  QVERIFY(form->isEnabled());
  QVERIFY(!ls->isEnabled());  // the paper form does not use λs
  QVERIFY(ls->toolTip().contains(QStringLiteral("λs is not used")));
  QVERIFY(lt->isEnabled());
  selectData(form, int(dype::YarnForm::Comfy));
  QVERIFY(ls->isEnabled() && lt->isEnabled());

  dynamic->setChecked(false);
  QVERIFY(!ls->isEnabled() && !lt->isEnabled() && !form->isEnabled());
  QVERIFY(lt->toolTip().contains(QStringLiteral("DyPE is off")));

  dynamic->setChecked(true);
  selectData(method, int(dype::DypeMethod::NTK));
  QVERIFY(!form->isEnabled());
  QVERIFY(form->toolTip().contains(QStringLiteral("Only YaRN")));
  QVERIFY(ls->isEnabled() && lt->isEnabled());
  selectData(method, int(dype::DypeMethod::VisionYaRN));
  QVERIFY(!child<QCheckBox>(&panel, "isotropicCheck")->isEnabled());

  QComboBox* shift = child<QComboBox>(&panel, "shiftCombo");
  selectData(shift, int(dype::ShiftPolicy::Clamp));
  QVERIFY(!child<QDoubleSpinBox>(&panel, "fixedMuSpin")->isEnabled());
  QVERIFY(child<QDoubleSpinBox>(&panel, "maxShiftSpin")->isEnabled());
  selectData(shift, int(dype::ShiftPolicy::None));
  QVERIFY(!child<QDoubleSpinBox>(&panel, "maxShiftSpin")->isEnabled());
}

void TestRequestWidgets::dypePanelShowsMu() {
  DypePanel panel;
  selectData(child<QComboBox>(&panel, "shiftCombo"), int(dype::ShiftPolicy::Clamp));
  panel.setImageTokens(65536);  // 4096²
  // Independent arithmetic: the FLUX line through (256, 0.5) and (4096, 1.15) at 65,536 tokens.
  const double line = 0.5 + (1.15 - 0.5) * (65536.0 - 256.0) / (4096.0 - 256.0);
  QVERIFY2(panel.muText().contains(QStringLiteral("μ = 1.150")), qPrintable(panel.muText()));
  QVERIFY2(panel.muText().contains(QString::number(line, 'f', 2)), qPrintable(panel.muText()));
  selectData(child<QComboBox>(&panel, "shiftCombo"), int(dype::ShiftPolicy::Flux));
  QVERIFY2(panel.muText().contains(QString::number(line, 'f', 3)), qPrintable(panel.muText()));
  selectData(child<QComboBox>(&panel, "shiftCombo"), int(dype::ShiftPolicy::Auto));
  panel.setSchnell(true);
  QVERIFY2(panel.muText().contains(QStringLiteral("No time shift")), qPrintable(panel.muText()));
}

// Choosing another model moves the base resolution, steps and size to that model's defaults, except a value the
// user changed: it stays.
void TestRequestWidgets::mainWindowFollowsModelDefaults() {
  QTemporaryDir dir;
  Settings settings(dir.filePath(QStringLiteral("s.ini")));
  MainWindow window(settings);
  auto base = [&] { return child<QSpinBox>(&window, "baseResolutionSpin")->value(); };
  auto steps = [&] { return child<QSpinBox>(&window, "stepsSpin")->value(); };
  auto size = [&] {
    dype::GenerationRequest r = window.currentJob().request;
    return QSize(r.width, r.height);
  };
  QCOMPARE(base(), dype::kTrainedDemoBase);
  QCOMPARE(size(), QSize(4 * dype::kTrainedDemoBase, 4 * dype::kTrainedDemoBase));
  QComboBox* source = child<QComboBox>(&window, "modelSourceCombo");
  selectData(source, int(ModelChoice::Source::DemoRandom));  // FLUX.1-shaped: 1024 px, 28 steps
  QCOMPARE(base(), 1024);
  QCOMPARE(steps(), 28);
  QCOMPARE(size(), QSize(1024, 1024));
  child<QSpinBox>(&window, "stepsSpin")->setValue(7);  // the user's own value
  selectData(source, int(ModelChoice::Source::Demo));
  QCOMPARE(base(), dype::kTrainedDemoBase);
  QCOMPARE(steps(), 7);
  QCOMPARE(size(), QSize(4 * dype::kTrainedDemoBase, 4 * dype::kTrainedDemoBase));
}

void TestRequestWidgets::mainWindowComposesRequest() {
  QTemporaryDir dir;
  Settings settings(dir.filePath(QStringLiteral("s.ini")));
  MainWindow window(settings);
  // A first start is on the built-in trained demo (its weights are committed), sampled with its own defaults.
  QVERIFY(dype::has_trained_demo());
  QCOMPARE(child<QSpinBox>(&window, "baseResolutionSpin")->value(), dype::kTrainedDemoBase);
  QCOMPARE(child<QSpinBox>(&window, "stepsSpin")->value(), dype::kTrainedDemoSteps);
  QCOMPARE(child<QComboBox>(&window, "modelSourceCombo")->findData(int(ModelChoice::Source::Demo)), 0);
  QTest::keyClicks(child<QPlainTextEdit>(&window, "promptEdit"), QStringLiteral("a castle"));
  window.resolutionPanel()->setSize(2048, 1152);
  child<QSpinBox>(&window, "stepsSpin")->setValue(20);
  window.fluxPanel()->setRandomSeed(false);
  window.fluxPanel()->setSeed(42);
  selectData(child<QComboBox>(&window, "methodCombo"), int(dype::DypeMethod::VisionYaRN));
  child<QDoubleSpinBox>(&window, "lambdaTSpin")->setValue(1.5);
  child<QComboBox>(&window, "dtypeCombo")->setCurrentText(QStringLiteral("bfloat16"));

  const GenerationJob job = window.currentJob();
  const dype::GenerationRequest& r = job.request;
  QCOMPARE(r.prompt, std::string("a castle"));
  QCOMPARE(r.width, 2048);
  QCOMPARE(r.height, 1152);
  QCOMPARE(r.steps, 20);
  QCOMPARE(r.seed, std::uint64_t(42));
  QCOMPARE(r.dype.method, dype::DypeMethod::VisionYaRN);
  QCOMPARE(r.dype.lambda_t, 1.5);
  QCOMPARE(job.options.target.dtype, std::string("bfloat16"));  // the load's, not the request's (ComputeTarget)
  QCOMPARE(job.paths.model, std::string(dype::kDemoModel));     // the out-of-the-box model
  QVERIFY(child<QLabel>(&window, "demoLabel")->isVisibleTo(&window));
  QVERIFY(child<QLabel>(&window, "demoLabel")->text().contains(QStringLiteral("trained on procedural shapes")));

  // Restoring a request puts every value back into the controls.
  dype::GenerationRequest other = r;
  other.prompt = "a harbour";
  other.width = 3072;
  other.height = 3072;
  other.dype.method = dype::DypeMethod::PI;
  other.dype.dynamic = false;
  window.restoreRequest(other);
  const dype::GenerationRequest back = window.currentRequest();
  QCOMPARE(back.prompt, other.prompt);
  QCOMPARE(back.width, 3072);
  QCOMPARE(back.dype.method, dype::DypeMethod::PI);
  QVERIFY(!back.dype.dynamic);
}

QTEST_MAIN(TestRequestWidgets)
#include "test_request_widgets.moc"
