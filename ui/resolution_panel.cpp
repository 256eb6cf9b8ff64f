#include "ui/resolution_panel.h"

#include <QComboBox>
#include <QGridLayout>
#include <QLabel>
#include <QLocale>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QToolButton>
#include <cmath>

#include "core/common/error.h"
#include "core/pipeline/flux_pipeline.h"

namespace dype::ui {
namespace {

constexpr std::uint64_t kMaxPixels = 4096ull * 4096ull;
constexpr int kCustomIndex = 0;

// The size of aspect a:b whose area is nearest side², in multiples of 16 and never above the 16 MP limit.
QSize sizeForAspect(int side, int a, int b) {
  const double area = double(side) * double(side);
  int w = int(std::lround(std::sqrt(area * a / b) / 16.0)) * 16;
  int h = int(std::lround(std::sqrt(area * b / a) / 16.0)) * 16;
  while (std::uint64_t(w) * std::uint64_t(h) > kMaxPixels) (w >= h ? w : h) -= 16;
  return {w, h};
}

}  // namespace

QVector<ResolutionPreset> resolutionPresets() {
  struct Aspect {
    int a, b;
    const char* name;
  };
  static const Aspect aspects[] = {{1, 1, "1:1"}, {16, 9, "16:9"}, {9, 16, "9:16"},
                                   {3, 2, "3:2"}, {2, 3, "2:3"},   {21, 9, "21:9"}};
  QVector<ResolutionPreset> out;
  for (int side : {1024, 2048, 3072, 4096}) {
    const int mp = (side / 1024) * (side / 1024);
    for (const Aspect& asp : aspects) {
      const QSize s = sizeForAspect(side, asp.a, asp.b);
      out.push_back(
          {QStringLiteral("%1 MP · %2 · %3×%4").arg(mp).arg(QLatin1String(asp.name)).arg(s.width()).arg(s.height()),
           s.width(), s.height()});
    }
  }
  return out;
}

ResolutionPanel::ResolutionPanel(QWidget* parent)
    : QWidget(parent),
      m_presets(new QComboBox(this)),
      m_width(new QSpinBox(this)),
      m_height(new QSpinBox(this)),
      m_swap(new QToolButton(this)),
      m_info(new QLabel(this)) {
  m_presets->setObjectName(QStringLiteral("presetCombo"));
  m_presets->addItem(tr("Custom"), QSize());
  int lastClass = -1;
  for (const ResolutionPreset& p : resolutionPresets()) {
    const int cls = p.label.section(QLatin1Char(' '), 0, 0).toInt();
    if (lastClass != -1 && cls != lastClass) m_presets->insertSeparator(m_presets->count());
    lastClass = cls;
    m_presets->addItem(p.label, QSize(p.width, p.height));
  }
  for (QSpinBox* spin : {m_width, m_height}) {
    spin->setRange(16, 16384);
    spin->setSingleStep(16);
    spin->setSuffix(QStringLiteral(" px"));
    spin->setKeyboardTracking(false);
  }
  m_width->setObjectName(QStringLiteral("widthSpin"));
  m_height->setObjectName(QStringLiteral("heightSpin"));
  m_width->setToolTip(tr("Width in pixels, a multiple of 16 (one FLUX token per 16×16 pixels)."));
  m_height->setToolTip(tr("Height in pixels, a multiple of 16 (one FLUX token per 16×16 pixels)."));
  m_swap->setObjectName(QStringLiteral("swapButton"));
  m_swap->setText(QStringLiteral("⇄"));
  m_swap->setToolTip(tr("Swap width and height"));
  m_info->setObjectName(QStringLiteral("resolutionInfo"));
  m_info->setWordWrap(true);

  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->addWidget(m_presets, 0, 0, 1, 4);
  grid->addWidget(m_width, 1, 0);
  grid->addWidget(new QLabel(QStringLiteral("×"), this), 1, 1);
  grid->addWidget(m_height, 1, 2);
  grid->addWidget(m_swap, 1, 3);
  grid->addWidget(m_info, 2, 0, 1, 4);
  grid->setColumnStretch(0, 1);
  grid->setColumnStretch(2, 1);

  connect(m_presets, &QComboBox::activated, this, &ResolutionPanel::presetChosen);
  connect(m_width, &QSpinBox::valueChanged, this, &ResolutionPanel::spinChanged);
  connect(m_height, &QSpinBox::valueChanged, this, &ResolutionPanel::spinChanged);
  connect(m_width, &QSpinBox::editingFinished, this, &ResolutionPanel::snapToMultipleOf16);
  connect(m_height, &QSpinBox::editingFinished, this, &ResolutionPanel::snapToMultipleOf16);
  connect(m_swap, &QToolButton::clicked, this, &ResolutionPanel::swapOrientation);
  setSize(1024, 1024);
}

QSize ResolutionPanel::size() const { return {m_width->value(), m_height->value()}; }

void ResolutionPanel::setSize(int width, int height) {
  {
    const QSignalBlocker bw(m_width), bh(m_height);
    m_width->setValue(width);
    m_height->setValue(height);
  }
  spinChanged();
}

bool ResolutionPanel::isValid() const { return m_problem.isEmpty(); }
QString ResolutionPanel::problem() const { return m_problem; }

void ResolutionPanel::apply(dype::GenerationRequest& request) const {
  request.width = m_width->value();
  request.height = m_height->value();
}

void ResolutionPanel::load(const dype::GenerationRequest& request) { setSize(request.width, request.height); }

void ResolutionPanel::presetChosen(int index) {
  const QSize s = m_presets->itemData(index).toSize();
  if (s.isValid()) setSize(s.width(), s.height());
}

void ResolutionPanel::spinChanged() {
  const QSize s = size();
  const int match = m_presets->findData(s);
  m_presets->setCurrentIndex(match >= 0 ? match : kCustomIndex);
  updateInfo();
  Q_EMIT sizeChanged(s.width(), s.height());
}

void ResolutionPanel::snapToMultipleOf16() {
  auto snap = [](int v) { return std::max(16, int(std::lround(v / 16.0)) * 16); };
  const int w = snap(m_width->value()), h = snap(m_height->value());
  if (w != m_width->value() || h != m_height->value()) setSize(w, h);
}

void ResolutionPanel::swapOrientation() { setSize(m_height->value(), m_width->value()); }

void ResolutionPanel::updateInfo() {
  const int w = m_width->value(), h = m_height->value();
  m_problem.clear();
  try {
    dype::validate_size(w, h, kMaxPixels);
  } catch (const dype::Error& e) {
    m_problem = QString::fromUtf8(e.what());
  }
  const QLocale locale;
  const double mp = double(w) * double(h) / 1e6;
  const qint64 tokens = qint64((h + 15) / 16) * qint64((w + 15) / 16);
  QString text = tr("%1 MP · %2 image tokens (%3×%4 grid)")
                     .arg(mp, 0, 'f', 2)
                     .arg(locale.toString(tokens))
                     .arg((w + 15) / 16)
                     .arg((h + 15) / 16);
  if (!m_problem.isEmpty()) {
    text += QStringLiteral("<br><span style='color:#c0392b'>%1</span>").arg(m_problem.toHtmlEscaped());
  }
  m_info->setText(text);
}

}  // namespace dype::ui
