#include "ui/dype_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>
#include <cmath>

#include "core/common/error.h"
#include "core/sampling/schedule.h"

namespace dype::ui {
namespace {

constexpr double kLambdaMax = 10.0;
constexpr int kSliderScale = 100;  // slider ticks per unit of λ

QString lambdaSTip() {
  return QObject::tr(
      "DyPE strength λs: κ(t) = λs·t^λt sets how strongly the method extrapolates at the start of "
      "sampling (paper: 2).");
}
QString lambdaTTip() {
  return QObject::tr(
      "DyPE exponent λt: how fast the extrapolation decays toward plain RoPE as the noise level t "
      "falls (paper: 2; higher = sharper detail, lower = more structure).");
}

QString paperFormNote() { return QObject::tr("The paper's κ = t^λt fixes λs = 1."); }

}  // namespace

const char* dypePresetName(DypePreset p) {
  switch (p) {
    case DypePreset::Auto: return "auto";
    case DypePreset::Paper: return "paper";
    case DypePreset::ComfyUI: return "comfyui";
    case DypePreset::Custom: break;
  }
  return "custom";
}

DypePreset parseDypePreset(const QString& name) {
  for (DypePreset p : {DypePreset::Auto, DypePreset::Paper, DypePreset::ComfyUI})
    if (name == QLatin1String(dypePresetName(p))) return p;
  return DypePreset::Custom;
}

// The numbers are the published ones (DYPE.md §2.13 and §4), none invented:
// - Paper: DyPE paper v2 App. C and the official code: DY-YaRN in the paper form (κ_y = t², so λs is not used),
//   λs = λt = 2 (DY-NTK's best), base 1024 px, μ clamped at 1.15 for dev (our Auto shift = the official code).
// - ComfyUI: ComfyUI-DyPE v2.3.0 node defaults: vision_yarn, DyPE on, λs = λt = 2, base 1024, yarn_alt_scaling
//   off (= isotropic for its `yarn`), μ = max_shift (1.15) above the base size = our Clamp policy.
// - Auto: InvokeAI's `auto` preset, the one published rule that sets λs from the output size. With
//   s = max(W, H) / base: DyPE off up to 1.5·base (1536 px at base 1024: "just above native" needs no
//   extrapolation there), else DY-NTK with λs = min(2·s, 8) and λt = 2, one s for both axes (InvokeAI computes
//   a single s from the pixels, hence isotropic). InvokeAI only has DY-NTK, and the rule is tuned for it: its λs
//   multiplies the NTK exponent, so λs = 8 at 4096² extrapolates far more at t = 1 than the paper's λs = 2; the
//   time shift is left alone (InvokeAI's unclamped line gives μ = 11.55 at 4096², unusable per DYPE.md §3).
void applyDypePreset(DypePreset preset, int width, int height, dype::GenerationRequest& r) {
  auto& d = r.dype;
  switch (preset) {
    case DypePreset::Custom: return;
    case DypePreset::Paper:
      d.method = DypeMethod::YaRN;
      d.dynamic = true;
      d.yarn_form = YarnForm::Paper;
      d.lambda_s = 2.0;
      d.lambda_t = 2.0;
      d.base_resolution = 1024;
      d.isotropic = false;
      r.shift = ShiftPolicy::Auto;
      r.shift_mu = 1.15;
      r.base_shift = 0.5;
      r.max_shift = 1.15;
      return;
    case DypePreset::ComfyUI:
      d.method = DypeMethod::VisionYaRN;
      d.dynamic = true;
      d.yarn_form = YarnForm::Comfy;
      d.lambda_s = 2.0;
      d.lambda_t = 2.0;
      d.base_resolution = 1024;
      d.isotropic = true;
      r.shift = ShiftPolicy::Clamp;
      r.base_shift = 0.5;
      r.max_shift = 1.15;
      return;
    case DypePreset::Auto: {
      const double base = std::max(16, d.base_resolution);
      const double s = double(std::max(width, height)) / base;
      d.lambda_t = 2.0;
      d.isotropic = true;
      d.yarn_form = YarnForm::Paper;
      if (s <= 1.5) {
        d.method = DypeMethod::None;
        d.dynamic = false;
        d.lambda_s = 2.0;
      } else {
        d.method = DypeMethod::NTK;
        d.dynamic = true;
        d.lambda_s = std::min(2.0 * s, 8.0);
      }
      return;
    }
  }
}

DypePanel::DypePanel(QWidget* parent)
    : QWidget(parent),
      m_preset(new QComboBox(this)),
      m_method(new QComboBox(this)),
      m_dynamic(new QCheckBox(tr("DyPE (dynamic over the schedule)"), this)),
      m_yarnForm(new QComboBox(this)),
      m_baseResolution(new QSpinBox(this)),
      m_isotropic(new QCheckBox(tr("Isotropic (one scale for both axes)"), this)),
      m_shift(new QComboBox(this)),
      m_fixedMu(new QDoubleSpinBox(this)),
      m_baseShift(new QDoubleSpinBox(this)),
      m_maxShift(new QDoubleSpinBox(this)),
      m_muLabel(new QLabel(this)),
      m_lambdaSLabel(new QLabel(tr("Strength λ&s"), this)),
      m_lambdaSNote(new QLabel(paperFormNote(), this)),
      m_reset(new QPushButton(tr("Reset to paper defaults"), this)) {
  m_preset->setObjectName(QStringLiteral("dypePresetCombo"));
  m_preset->addItem(tr("Custom"), int(DypePreset::Custom));
  m_preset->addItem(tr("Auto (from the output size)"), int(DypePreset::Auto));
  m_preset->addItem(tr("Paper (λs = 2, λt = 2)"), int(DypePreset::Paper));
  m_preset->addItem(tr("ComfyUI defaults"), int(DypePreset::ComfyUI));
  m_preset->setItemData(1,
                        tr("InvokeAI's rule: s = max(W, H) / base; DyPE off up to 1.5·base, else DY-NTK with "
                           "λs = min(2·s, 8), λt = 2, one scale for both axes. Follows the output size."),
                        Qt::ToolTipRole);
  m_preset->setItemData(2,
                        tr("DyPE paper v2: DY-YaRN (paper form), λs = λt = 2, base 1024 px, μ clamped at "
                           "1.15."),
                        Qt::ToolTipRole);
  m_preset->setItemData(3,
                        tr("ComfyUI-DyPE v2.3 node defaults: Vision-YaRN, λs = λt = 2, base 1024 px, μ = max "
                           "shift above the base size."),
                        Qt::ToolTipRole);
  m_preset->setToolTip(tr("Published DyPE settings. Changing a value they set makes the choice “Custom”."));
  m_method->setObjectName(QStringLiteral("methodCombo"));
  m_method->addItem(tr("None (plain RoPE)"), int(DypeMethod::None));
  m_method->addItem(tr("PI (position interpolation)"), int(DypeMethod::PI));
  m_method->addItem(tr("NTK-aware"), int(DypeMethod::NTK));
  m_method->addItem(tr("YaRN"), int(DypeMethod::YaRN));
  m_method->addItem(tr("Vision-YaRN (ComfyUI-DyPE)"), int(DypeMethod::VisionYaRN));
  m_method->setToolTip(tr("How RoPE frequencies are stretched beyond the model's training grid."));
  m_dynamic->setObjectName(QStringLiteral("dynamicCheck"));
  m_yarnForm->setObjectName(QStringLiteral("yarnFormCombo"));
  m_yarnForm->addItem(tr("Paper (thresholds × t^λt)"), int(YarnForm::Paper));
  m_yarnForm->addItem(tr("ComfyUI-compatible (thresholds ^ λs·t^λt)"), int(YarnForm::Comfy));
  m_lambdaS = makeLambda(QStringLiteral("lambdaS"));
  m_lambdaT = makeLambda(QStringLiteral("lambdaT"));
  m_baseResolution->setObjectName(QStringLiteral("baseResolutionSpin"));
  m_baseResolution->setRange(64, 4096);  // 64: small trained models (the demo is 128 px)
  m_baseResolution->setSingleStep(64);
  m_baseResolution->setSuffix(QStringLiteral(" px"));
  m_baseResolution->setValue(1024);
  m_baseResolution->setKeyboardTracking(false);
  m_isotropic->setObjectName(QStringLiteral("isotropicCheck"));

  m_shift->setObjectName(QStringLiteral("shiftCombo"));
  m_shift->addItem(tr("Auto (clamp for dev, none for schnell)"), int(ShiftPolicy::Auto));
  m_shift->addItem(tr("Clamp at max shift (official DyPE)"), int(ShiftPolicy::Clamp));
  m_shift->addItem(tr("FLUX line, extrapolated"), int(ShiftPolicy::Flux));
  m_shift->addItem(tr("None"), int(ShiftPolicy::None));
  m_shift->addItem(tr("Fixed μ"), int(ShiftPolicy::Fixed));
  m_shift->setToolTip(
      tr("FLUX shifts its noise schedule with the image token count. The extrapolated line gives "
         "μ = 11.55 at 4096² (almost every step at full noise); the official DyPE code clamps "
         "it at 1.15."));
  for (QDoubleSpinBox* spin : {m_fixedMu, m_baseShift, m_maxShift}) {
    spin->setDecimals(3);
    spin->setSingleStep(0.05);
    spin->setKeyboardTracking(false);
  }
  m_fixedMu->setObjectName(QStringLiteral("fixedMuSpin"));
  m_fixedMu->setRange(-5.0, 20.0);
  m_fixedMu->setValue(1.15);
  m_baseShift->setObjectName(QStringLiteral("baseShiftSpin"));
  m_baseShift->setRange(-5.0, 10.0);
  m_baseShift->setValue(0.5);
  m_baseShift->setToolTip(tr("μ of the FLUX line at 256 image tokens (default 0.5)."));
  m_maxShift->setObjectName(QStringLiteral("maxShiftSpin"));
  m_maxShift->setRange(-5.0, 10.0);
  m_maxShift->setValue(1.15);
  m_maxShift->setToolTip(tr("μ of the FLUX line at 4096 image tokens (1024²) and the clamp value (default 1.15)."));
  m_lambdaSLabel->setBuddy(m_lambdaS.spin);
  m_lambdaSNote->setObjectName(QStringLiteral("lambdaSNote"));
  m_lambdaSNote->setWordWrap(true);
  {
    QFont small = m_lambdaSNote->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    m_lambdaSNote->setFont(small);
  }
  m_lambdaSNote->setEnabled(false);  // grey, like the controls it explains
  m_muLabel->setObjectName(QStringLiteral("muLabel"));
  m_muLabel->setWordWrap(true);
  m_reset->setObjectName(QStringLiteral("resetDypeButton"));
  m_reset->setToolTip(
      tr("The “Paper” preset: YaRN with DyPE, paper form, λs = λt = 2, base 1024 px, automatic "
         "time shift (DyPE paper v2, App. C)."));

  // QFormLayout gives a row's label a buddy only when the field is a widget; for a layout the mnemonic would
  // show as a literal '&'.
  auto buddyLabel = [this](const QString& text, QWidget* buddy) {
    auto* label = new QLabel(text, this);
    label->setBuddy(buddy);
    return label;
  };
  auto lambdaRow = [](const LambdaControl& c) {
    auto* row = new QHBoxLayout;
    row->setContentsMargins(0, 0, 0, 0);
    row->addWidget(c.slider, 1);
    row->addWidget(c.spin);
    return row;
  };
  auto* rope = new QFormLayout;
  rope->addRow(tr("&Preset"), m_preset);
  rope->addRow(tr("&Method"), m_method);
  rope->addRow(QString(), m_dynamic);
  rope->addRow(tr("YaRN &form"), m_yarnForm);
  rope->addRow(m_lambdaSLabel, lambdaRow(m_lambdaS));
  rope->addRow(QString(), m_lambdaSNote);
  rope->addRow(buddyLabel(tr("Exponent λ&t"), m_lambdaT.spin), lambdaRow(m_lambdaT));
  rope->addRow(tr("&Base resolution"), m_baseResolution);
  rope->addRow(QString(), m_isotropic);

  auto* shiftBox = new QGroupBox(tr("Time shift"), this);
  auto* shift = new QFormLayout(shiftBox);
  shift->addRow(tr("P&olicy"), m_shift);
  shift->addRow(tr("Fixed μ"), m_fixedMu);
  auto* lineRow = new QHBoxLayout;
  lineRow->addWidget(m_baseShift);
  lineRow->addWidget(m_maxShift);
  shift->addRow(tr("Base / max shift"), lineRow);
  shift->addRow(m_muLabel);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(rope);
  layout->addWidget(shiftBox);
  layout->addWidget(m_reset, 0, Qt::AlignLeft);

  connect(m_preset, &QComboBox::activated, this, &DypePanel::presetChosen);
  connect(m_method, &QComboBox::currentIndexChanged, this, &DypePanel::emitChanged);
  connect(m_dynamic, &QCheckBox::toggled, this, &DypePanel::emitChanged);
  connect(m_yarnForm, &QComboBox::currentIndexChanged, this, &DypePanel::emitChanged);
  connectLambda(m_lambdaS);
  connectLambda(m_lambdaT);
  connect(m_baseResolution, &QSpinBox::valueChanged, this, &DypePanel::emitChanged);
  connect(m_isotropic, &QCheckBox::toggled, this, &DypePanel::emitChanged);
  connect(m_shift, &QComboBox::currentIndexChanged, this, &DypePanel::emitChanged);
  for (QDoubleSpinBox* spin : {m_fixedMu, m_baseShift, m_maxShift})
    connect(spin, &QDoubleSpinBox::valueChanged, this, &DypePanel::emitChanged);
  connect(m_reset, &QPushButton::clicked, this, &DypePanel::resetToPaperDefaults);

  resetToPaperDefaults();
}

DypePanel::LambdaControl DypePanel::makeLambda(const QString& name) {
  LambdaControl c;
  c.slider = new QSlider(Qt::Horizontal, this);
  c.slider->setObjectName(name + QStringLiteral("Slider"));
  c.slider->setRange(0, int(kLambdaMax * kSliderScale));
  c.slider->setPageStep(kSliderScale / 2);
  c.spin = new QDoubleSpinBox(this);
  c.spin->setObjectName(name + QStringLiteral("Spin"));
  c.spin->setRange(0.0, kLambdaMax);
  c.spin->setDecimals(2);
  c.spin->setSingleStep(0.05);
  return c;
}

void DypePanel::connectLambda(const LambdaControl& c) {
  // Slider and spin box mirror each other; each move is one change (the plot redraws on it).
  connect(c.slider, &QSlider::valueChanged, this, [this, c](int ticks) {
    const QSignalBlocker block(c.spin);
    c.spin->setValue(double(ticks) / kSliderScale);
    emitChanged();
  });
  connect(c.spin, &QDoubleSpinBox::valueChanged, this, [this, c](double v) {
    const QSignalBlocker block(c.slider);
    c.slider->setValue(int(std::lround(v * kSliderScale)));
    emitChanged();
  });
}

void DypePanel::setLambda(const LambdaControl& c, double value) {
  const QSignalBlocker bs(c.slider), bp(c.spin);
  c.spin->setValue(value);
  c.slider->setValue(int(std::lround(c.spin->value() * kSliderScale)));
}

void DypePanel::setLambdaEnabled(const LambdaControl& c, bool enabled, const QString& why) {
  c.slider->setEnabled(enabled);
  c.spin->setEnabled(enabled);
  c.slider->setToolTip(why);
  c.spin->setToolTip(why);
}

dype::DypeConfig DypePanel::config() const {
  dype::DypeConfig c;
  c.method = DypeMethod(m_method->currentData().toInt());
  c.dynamic = m_dynamic->isChecked();
  c.yarn_form = YarnForm(m_yarnForm->currentData().toInt());
  c.lambda_s = m_lambdaS.spin->value();
  c.lambda_t = m_lambdaT.spin->value();
  c.base_resolution = m_baseResolution->value();
  c.isotropic = m_isotropic->isChecked();
  return c;
}

void DypePanel::setConfig(const dype::DypeConfig& c) {
  m_loading = true;
  m_method->setCurrentIndex(std::max(0, m_method->findData(int(c.method))));
  m_dynamic->setChecked(c.dynamic);
  m_yarnForm->setCurrentIndex(std::max(0, m_yarnForm->findData(int(c.yarn_form))));
  setLambda(m_lambdaS, c.lambda_s);
  setLambda(m_lambdaT, c.lambda_t);
  m_baseResolution->setValue(c.base_resolution);
  m_isotropic->setChecked(c.isotropic);
  m_loading = false;
  emitChanged();
}

void DypePanel::apply(dype::GenerationRequest& r) const {
  r.dype = config();
  r.shift = ShiftPolicy(m_shift->currentData().toInt());
  r.shift_mu = m_fixedMu->value();
  r.base_shift = m_baseShift->value();
  r.max_shift = m_maxShift->value();
}

void DypePanel::load(const dype::GenerationRequest& r) {
  m_loading = true;
  m_shift->setCurrentIndex(std::max(0, m_shift->findData(int(r.shift))));
  m_fixedMu->setValue(r.shift_mu);
  m_baseShift->setValue(r.base_shift);
  m_maxShift->setValue(r.max_shift);
  setConfig(r.dype);  // emits one change for the lot
}

void DypePanel::resetToPaperDefaults() { setPreset(DypePreset::Paper); }

DypePreset DypePanel::preset() const { return DypePreset(m_preset->currentData().toInt()); }

void DypePanel::setPreset(DypePreset preset) {
  {
    const QSignalBlocker block(m_preset);
    m_preset->setCurrentIndex(std::max(0, m_preset->findData(int(preset))));
  }
  presetChosen();
}

void DypePanel::presetChosen() {
  const DypePreset p = preset();
  if (p == DypePreset::Custom) return;  // keeps the values: "Custom" only names them
  dype::GenerationRequest r;
  apply(r);
  applyDypePreset(p, m_width, m_height, r);
  load(r);  // one change for the lot; the values match the preset, so it stays selected
}

bool DypePanel::matchesPreset(DypePreset p) const {
  if (p == DypePreset::Custom) return true;
  dype::GenerationRequest now;
  apply(now);
  dype::GenerationRequest want = now;
  applyDypePreset(p, m_width, m_height, want);
  const auto& a = now.dype;
  const auto& b = want.dype;
  // λ as the spin box holds it (two decimals): λs = 2·2.6667 shows as 5.33.
  const auto same = [](double x, double y) { return std::abs(x - y) < 0.006; };
  return a.method == b.method && a.dynamic == b.dynamic && a.yarn_form == b.yarn_form && a.isotropic == b.isotropic &&
         a.base_resolution == b.base_resolution && same(a.lambda_s, b.lambda_s) && same(a.lambda_t, b.lambda_t) &&
         now.shift == want.shift && same(now.base_shift, want.base_shift) && same(now.max_shift, want.max_shift);
}

void DypePanel::setOutputSize(int width, int height) {
  m_width = width;
  m_height = height;
  // Only when something changes: load() emits changed(), and the window answers a change with setOutputSize.
  if (preset() == DypePreset::Auto && !matchesPreset(DypePreset::Auto)) presetChosen();
}

QString DypePanel::lambdaSNote() const { return m_lambdaSNote->isHidden() ? QString() : m_lambdaSNote->text(); }

void DypePanel::setImageTokens(std::int64_t tokens) {
  m_tokens = tokens;
  updateMu();
}

void DypePanel::setSchnell(bool schnell) {
  m_schnell = schnell;
  updateEnabled();
  updateMu();
}

QString DypePanel::muText() const { return m_muLabel->text(); }

void DypePanel::emitChanged() {
  if (m_loading) return;
  // The combo names the values: a preset whose values were edited becomes Custom, and values that equal a fixed
  // preset (restored from a PNG, an old settings file, typed back by hand) show its name. Auto is a mode that
  // follows the size, so only choosing it selects it.
  DypePreset shown = preset();
  if (!matchesPreset(shown)) shown = DypePreset::Custom;
  if (shown == DypePreset::Custom) {
    for (DypePreset fixed : {DypePreset::Paper, DypePreset::ComfyUI})
      if (matchesPreset(fixed)) shown = fixed;
  }
  if (shown != preset()) {
    const QSignalBlocker block(m_preset);
    m_preset->setCurrentIndex(m_preset->findData(int(shown)));
  }
  updateEnabled();
  updateMu();
  Q_EMIT changed();
}

void DypePanel::updateEnabled() {
  const auto method = DypeMethod(m_method->currentData().toInt());
  const bool none = method == DypeMethod::None;
  const bool dynamic = m_dynamic->isChecked();
  const bool yarn = method == DypeMethod::YaRN;
  const bool vision = method == DypeMethod::VisionYaRN;
  const bool paperForm = YarnForm(m_yarnForm->currentData().toInt()) == YarnForm::Paper;
  const QString noneWhy = tr("Method “none” uses plain RoPE: there is nothing to scale or schedule.");

  m_dynamic->setEnabled(!none);
  m_dynamic->setToolTip(none     ? noneWhy
                        : vision ? tr("Vision-YaRN is a DyPE method; with DyPE off it falls back to static YaRN.")
                                 : tr("On: the extrapolation follows κ(t) = λs·t^λt over the sampling schedule (DyPE). "
                                      "Off: the static method at every step."));

  const bool formUsed = yarn && dynamic;
  m_yarnForm->setEnabled(formUsed);
  m_yarnForm->setToolTip(
      formUsed ? tr("Paper: the YaRN ramp thresholds are multiplied by t^λt (DyPE paper v2). ComfyUI-compatible: "
                    "they are raised to the power λs·t^λt (first DyPE release, ComfyUI-DyPE).")
      : none   ? noneWhy
      : !yarn  ? (vision ? tr("Vision-YaRN always uses the exponentiated (ComfyUI) thresholds.")
                         : tr("Only YaRN has two published DyPE forms."))
               : tr("DyPE is off: static YaRN has one form."));

  QString sWhy = lambdaSTip(), tWhy = lambdaTTip();
  bool sOn = true, tOn = true;
  if (none) {
    sOn = tOn = false;
    sWhy = tWhy = noneWhy;
  } else if (!dynamic) {
    sOn = tOn = false;
    sWhy = tWhy = tr("DyPE is off: the static method uses no schedule.");
  } else if (yarn && paperForm) {
    sOn = false;
    sWhy = tr("%1 The paper's DY-YaRN scales the YaRN thresholds by t^λt only: λs is not used. "
              "The ComfyUI-compatible form uses it (thresholds ^ λs·t^λt).")
               .arg(paperFormNote());
  }
  setLambdaEnabled(m_lambdaS, sOn, sWhy);
  // A greyed control alone does not say why (issue 15): the reason is also written under it in the paper form,
  // and the row label carries the tooltip too (hovering a disabled slider is easy to miss).
  m_lambdaSNote->setVisible(yarn && dynamic && paperForm);
  m_lambdaSLabel->setToolTip(sWhy);
  setLambdaEnabled(m_lambdaT, tOn, tWhy);

  m_baseResolution->setEnabled(!none);
  m_baseResolution->setToolTip(none ? noneWhy
                                    : tr("The resolution the model was trained at (FLUX.1: 1024 px). Axes longer "
                                         "than base/16 tokens are extrapolated."));
  const bool isoUsed = !none && !(vision && dynamic);
  m_isotropic->setEnabled(isoUsed);
  m_isotropic->setToolTip(none       ? noneWhy
                          : !isoUsed ? tr("Vision-YaRN combines a global and a per-axis scale by design.")
                                     : tr("Use the larger axis' scale for both axes instead of one per axis."));

  const auto policy = ShiftPolicy(m_shift->currentData().toInt());
  const ShiftPolicy effective =
      policy == ShiftPolicy::Auto ? (m_schnell ? ShiftPolicy::None : ShiftPolicy::Clamp) : policy;
  m_fixedMu->setEnabled(policy == ShiftPolicy::Fixed);
  m_fixedMu->setToolTip(policy == ShiftPolicy::Fixed ? tr("The time shift μ used at every resolution.")
                                                     : tr("Only used by the “Fixed μ” policy."));
  const bool lineUsed = effective == ShiftPolicy::Clamp || effective == ShiftPolicy::Flux;
  m_baseShift->setEnabled(lineUsed);
  m_maxShift->setEnabled(lineUsed);
  if (!lineUsed) {
    const QString why = tr("The %1 policy does not use the FLUX line.")
                            .arg(effective == ShiftPolicy::None ? tr("“none”") : tr("fixed-μ"));
    m_baseShift->setToolTip(why);
    m_maxShift->setToolTip(why);
  } else {
    m_baseShift->setToolTip(tr("μ of the FLUX line at 256 image tokens (default 0.5)."));
    m_maxShift->setToolTip(tr("μ of the FLUX line at 4096 image tokens (1024²) and the clamp value (default 1.15)."));
  }
}

void DypePanel::updateMu() {
  const auto policy = ShiftPolicy(m_shift->currentData().toInt());
  QString text;
  try {
    const auto mu = dype::time_shift_mu(policy, std::max<std::int64_t>(1, m_tokens), m_schnell, m_baseShift->value(),
                                        m_maxShift->value(), m_fixedMu->value());
    if (!mu) {
      text = tr("No time shift (σ falls linearly from 1 to 0).");
    } else {
      text = tr("μ = %1 at %2 image tokens").arg(*mu, 0, 'f', 3).arg(m_tokens);
      const double line = dype::flux_mu_line(m_tokens, m_baseShift->value(), m_maxShift->value());
      if (std::abs(line - *mu) > 1e-9 && policy != ShiftPolicy::Fixed)
        text += tr(" (the unclamped FLUX line gives %1)").arg(line, 0, 'f', 2);
    }
  } catch (const dype::Error& e) {
    text = QString::fromUtf8(e.what());
  }
  m_muLabel->setText(text);
}

}  // namespace dype::ui
