#include "ui/flux_panel.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRandomGenerator>
#include <QRegularExpressionValidator>
#include <QSpinBox>

namespace dype::ui {

FluxPanel::FluxPanel(QWidget* parent)
    : QWidget(parent),
      m_steps(new QSpinBox(this)),
      m_guidance(new QDoubleSpinBox(this)),
      m_seed(new QLineEdit(this)),
      m_random(new QCheckBox(tr("Random"), this)),
      m_reuse(new QPushButton(tr("Reuse last"), this)),
      m_previewEvery(new QSpinBox(this)) {
  m_steps->setObjectName(QStringLiteral("stepsSpin"));
  m_steps->setRange(1, 200);
  m_steps->setValue(28);
  m_steps->setToolTip(tr("Sampling steps (model evaluations). FLUX.1-dev: 28; schnell: 4."));

  m_guidance->setObjectName(QStringLiteral("guidanceSpin"));
  m_guidance->setRange(0.0, 30.0);
  m_guidance->setSingleStep(0.5);
  m_guidance->setDecimals(2);
  m_guidance->setValue(3.5);
  m_guidance->setToolTip(tr("Distilled guidance of FLUX.1-dev (embedded in the model, not CFG). Default 3.5."));

  m_seed->setObjectName(QStringLiteral("seedEdit"));
  // Any unsigned 64-bit number: up to 20 digits, range-checked on read.
  m_seed->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("[0-9]{1,20}")), m_seed));
  m_seed->setText(QStringLiteral("0"));
  m_random->setObjectName(QStringLiteral("randomSeedCheck"));
  m_random->setToolTip(tr("Draw a new seed for every run; the seed used is shown in the field."));
  m_reuse->setObjectName(QStringLiteral("reuseSeedButton"));
  m_reuse->setEnabled(false);
  m_reuse->setToolTip(tr("Put the seed of the last run back and turn Random off."));

  m_previewEvery->setObjectName(QStringLiteral("previewEverySpin"));
  m_previewEvery->setRange(0, 1000);
  m_previewEvery->setValue(1);
  m_previewEvery->setSpecialValueText(tr("off"));
  m_previewEvery->setSuffix(tr(" steps"));
  m_previewEvery->setToolTip(tr("Draw a live preview every N steps (a cheap projection of the latent)."));

  auto* seedRow = new QHBoxLayout;
  seedRow->setContentsMargins(0, 0, 0, 0);
  seedRow->addWidget(m_seed, 1);
  seedRow->addWidget(m_random);
  seedRow->addWidget(m_reuse);

  auto* form = new QFormLayout(this);
  form->setContentsMargins(0, 0, 0, 0);
  form->addRow(tr("&Steps"), m_steps);
  form->addRow(tr("&Guidance"), m_guidance);
  auto* seedLabel = new QLabel(tr("S&eed"), this);  // a layout row gets no buddy from QFormLayout
  seedLabel->setBuddy(m_seed);
  form->addRow(seedLabel, seedRow);
  form->addRow(tr("Pre&view every"), m_previewEvery);

  connect(m_steps, &QSpinBox::valueChanged, this, &FluxPanel::changed);
  connect(m_guidance, &QDoubleSpinBox::valueChanged, this, &FluxPanel::changed);
  connect(m_seed, &QLineEdit::textChanged, this, &FluxPanel::changed);
  connect(m_previewEvery, &QSpinBox::valueChanged, this, &FluxPanel::changed);
  connect(m_random, &QCheckBox::toggled, this, [this](bool on) {
    m_seed->setReadOnly(on);
    Q_EMIT changed();
  });
  connect(m_reuse, &QPushButton::clicked, this, &FluxPanel::reuseLastSeed);
}

void FluxPanel::prepareSeed() {
  if (m_random->isChecked()) setSeed(QRandomGenerator::global()->generate64());
}

std::uint64_t FluxPanel::seed() const {
  bool ok = false;
  const qulonglong v = m_seed->text().toULongLong(&ok);
  return ok ? std::uint64_t(v) : 0;  // empty or > 2^64-1: seed 0, visible in the field after the run
}

void FluxPanel::setSeed(std::uint64_t seed) { m_seed->setText(QString::number(qulonglong(seed))); }
bool FluxPanel::randomSeed() const { return m_random->isChecked(); }
void FluxPanel::setRandomSeed(bool on) { m_random->setChecked(on); }

void FluxPanel::setLastSeed(std::uint64_t seed) {
  m_lastSeed = seed;
  m_reuse->setEnabled(true);
  m_reuse->setToolTip(tr("Use seed %1 again and turn Random off.").arg(qulonglong(seed)));
}

void FluxPanel::reuseLastSeed() {
  if (!m_lastSeed) return;
  m_random->setChecked(false);
  setSeed(*m_lastSeed);
}

int FluxPanel::previewEvery() const { return m_previewEvery->value(); }
void FluxPanel::setPreviewEvery(int steps) { m_previewEvery->setValue(steps); }

void FluxPanel::setSchnell(bool schnell) {
  m_guidance->setEnabled(!schnell);
  m_guidance->setToolTip(schnell ? tr("FLUX.1-schnell has no guidance input: this value is not used.")
                                 : tr("Distilled guidance of FLUX.1-dev (embedded in the model, not CFG). "
                                      "Default 3.5."));
}

void FluxPanel::apply(dype::GenerationRequest& request) const {
  request.steps = m_steps->value();
  request.guidance = m_guidance->value();
  request.seed = seed();
  request.preview_every = m_previewEvery->value();
}

void FluxPanel::setSteps(int steps) { m_steps->setValue(steps); }

void FluxPanel::load(const dype::GenerationRequest& request) {
  m_steps->setValue(request.steps);
  m_guidance->setValue(request.guidance);
  setSeed(request.seed);
  m_previewEvery->setValue(request.preview_every);
}

}  // namespace dype::ui
