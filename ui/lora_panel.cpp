#include "ui/lora_panel.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSlider>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

namespace dype::ui {

namespace {
constexpr double kMaxStrength = 2.0;  // slider range; the spin box takes up to kMaxSpin (strong or restored values)
constexpr double kMaxSpin = 10.0;
constexpr int kSliderSteps = 100;  // slider units per 1.0 of strength
}  // namespace

LoraPanel::LoraPanel(QWidget* parent)
    : QWidget(parent), m_list(new QVBoxLayout), m_empty(new QLabel(tr("No LoRA: the model as loaded."), this)) {
  auto* add = new QPushButton(tr("Add LoRA…"), this);
  add->setObjectName(QStringLiteral("addLoraButton"));
  add->setToolTip(tr("LoRA files for the FLUX transformer (.safetensors: ComfyUI/BFL, kohya or diffusers keys)."));
  m_empty->setEnabled(false);
  m_list->setContentsMargins(0, 0, 0, 0);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_empty);
  layout->addLayout(m_list);
  layout->addWidget(add, 0, Qt::AlignLeft);
  connect(add, &QPushButton::clicked, this, &LoraPanel::addFiles);
}

void LoraPanel::addFiles() {
  const QStringList files =
      QFileDialog::getOpenFileNames(this, tr("Add LoRA"), QString(), tr("LoRA files (*.safetensors)"));
  for (const QString& f : files) addLora(f);
}

void LoraPanel::addLora(const QString& path, double strength, bool enabled) {
  Row row;
  row.path = path;
  row.widget = new QWidget(this);
  row.enabled = new QCheckBox(QFileInfo(path).fileName(), row.widget);
  row.enabled->setChecked(enabled);
  row.enabled->setToolTip(path);
  row.slider = new QSlider(Qt::Horizontal, row.widget);
  row.slider->setRange(int(-kMaxStrength * kSliderSteps), int(kMaxStrength * kSliderSteps));
  row.spin = new QDoubleSpinBox(row.widget);
  row.spin->setRange(-kMaxSpin, kMaxSpin);
  row.spin->setSingleStep(0.05);
  row.spin->setDecimals(2);
  auto* remove = new QPushButton(tr("Remove"), row.widget);
  remove->setToolTip(tr("Take this LoRA off the list"));
  auto* line = new QHBoxLayout(row.widget);
  line->setContentsMargins(0, 0, 0, 0);
  line->addWidget(row.enabled, 1);
  line->addWidget(row.slider, 1);
  line->addWidget(row.spin);
  line->addWidget(remove);
  m_list->addWidget(row.widget);

  // Slider and spin box show the same strength; either one moving updates the other without a loop.
  QSlider* slider = row.slider;
  QDoubleSpinBox* spin = row.spin;
  connect(slider, &QSlider::valueChanged, this, [this, spin](int v) {
    const QSignalBlocker block(spin);
    spin->setValue(double(v) / kSliderSteps);
    Q_EMIT changed();
  });
  connect(spin, &QDoubleSpinBox::valueChanged, this, [this, slider](double v) {
    const QSignalBlocker block(slider);
    slider->setValue(int(std::lround(v * kSliderSteps)));
    Q_EMIT changed();
  });
  connect(row.enabled, &QCheckBox::toggled, this, &LoraPanel::changed);
  QWidget* widget = row.widget;
  connect(remove, &QPushButton::clicked, this, [this, widget] {
    const auto it = std::find_if(m_rows.begin(), m_rows.end(), [widget](const Row& r) { return r.widget == widget; });
    if (it != m_rows.end()) removeLora(int(it - m_rows.begin()));
  });
  m_rows.push_back(row);
  setStrength(int(m_rows.size()) - 1, strength);
  m_empty->setVisible(false);
  Q_EMIT changed();
}

void LoraPanel::removeLora(int row) {
  if (row < 0 || row >= count()) return;
  // Deleted later: this may run inside the row's own Remove button's clicked signal.
  m_rows[std::size_t(row)].widget->deleteLater();
  m_rows[std::size_t(row)].widget->hide();
  m_rows.erase(m_rows.begin() + row);
  m_empty->setVisible(m_rows.empty());
  Q_EMIT changed();
}

double LoraPanel::strength(int row) const { return m_rows[std::size_t(row)].spin->value(); }

void LoraPanel::setStrength(int row, double strength) {
  m_rows[std::size_t(row)].spin->setValue(strength);
  // The spin box ignores a value it already has, so the slider is set directly as well.
  const QSignalBlocker block(m_rows[std::size_t(row)].slider);
  m_rows[std::size_t(row)].slider->setValue(int(std::lround(m_rows[std::size_t(row)].spin->value() * kSliderSteps)));
}

bool LoraPanel::isLoraEnabled(int row) const { return m_rows[std::size_t(row)].enabled->isChecked(); }
void LoraPanel::setLoraEnabled(int row, bool enabled) { m_rows[std::size_t(row)].enabled->setChecked(enabled); }

void LoraPanel::apply(dype::GenerationRequest& request) const {
  request.loras.clear();
  for (const Row& r : m_rows)
    if (r.enabled->isChecked()) request.loras.push_back({r.path.toStdString(), r.spin->value(), ""});
}

void LoraPanel::clear() {
  while (!m_rows.empty()) removeLora(count() - 1);
}

void LoraPanel::load(const dype::GenerationRequest& request) {
  clear();
  for (const auto& l : request.loras) addLora(QString::fromStdString(l.path), l.strength);
}

}  // namespace dype::ui
