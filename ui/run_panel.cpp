#include "ui/run_panel.h"

#include <QGridLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <cmath>

namespace dype::ui {

RunPanel::RunPanel(QWidget* parent)
    : QWidget(parent),
      m_generate(new QPushButton(tr("&Generate"), this)),
      m_cancel(new QPushButton(tr("Cancel"), this)),
      m_bar(new QProgressBar(this)),
      m_status(new QLabel(this)),
      m_estimate(new QLabel(this)) {
  m_generate->setObjectName(QStringLiteral("generateButton"));
  m_generate->setToolTip(tr("Generate (Ctrl+Enter)"));
  m_generate->setDefault(true);
  m_cancel->setObjectName(QStringLiteral("cancelButton"));
  m_cancel->setToolTip(tr("Stop after the current step (Esc)"));
  m_cancel->setEnabled(false);
  m_bar->setObjectName(QStringLiteral("progressBar"));
  m_bar->setRange(0, 1);
  m_bar->setValue(0);
  m_bar->setFormat(tr("idle"));
  m_bar->setTextVisible(true);
  m_status->setObjectName(QStringLiteral("progressLabel"));
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_estimate->setObjectName(QStringLiteral("estimateLabel"));
  m_estimate->setWordWrap(true);

  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->addWidget(m_generate, 0, 0);
  grid->addWidget(m_cancel, 0, 1);
  grid->addWidget(m_bar, 0, 2);
  grid->addWidget(m_status, 1, 0, 1, 3);
  grid->addWidget(m_estimate, 2, 0, 1, 3);
  grid->setColumnStretch(2, 1);

  connect(m_generate, &QPushButton::clicked, this, &RunPanel::generateClicked);
  connect(m_cancel, &QPushButton::clicked, this, &RunPanel::cancelClicked);
}

QString RunPanel::formatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return QStringLiteral("–");
  const qint64 t = qint64(std::llround(s));
  if (t < 60) return QStringLiteral("%1 s").arg(s < 10 ? QString::number(s, 'f', 1) : QString::number(t));
  if (t < 3600) return QStringLiteral("%1:%2").arg(t / 60).arg(t % 60, 2, 10, QLatin1Char('0'));
  return QStringLiteral("%1:%2:%3")
      .arg(t / 3600)
      .arg((t / 60) % 60, 2, 10, QLatin1Char('0'))
      .arg(t % 60, 2, 10, QLatin1Char('0'));
}

QString RunPanel::formatRate(double stepsPerSecond) {
  if (!(stepsPerSecond > 0) || !std::isfinite(stepsPerSecond)) return QStringLiteral("– it/s");
  if (stepsPerSecond >= 1.0) return QStringLiteral("%1 it/s").arg(stepsPerSecond, 0, 'f', 2);
  return QStringLiteral("%1 s/it").arg(1.0 / stepsPerSecond, 0, 'f', 2);
}

void RunPanel::setRunning(bool running) {
  m_running = running;
  m_cancel->setEnabled(running);
  m_generate->setEnabled(!running && m_generateAllowed);
  if (running) {
    m_firstStep = 0;
    m_firstElapsed = 0;
    m_bar->setRange(0, 0);  // busy until the first step reports
    m_bar->setFormat(tr("starting…"));
    m_status->clear();
  } else {
    m_bar->setRange(0, 1);
    m_bar->setValue(0);
    m_bar->setFormat(tr("idle"));
  }
}

void RunPanel::setStage(const QString& stage) {
  if (!m_running) return;
  if (stage != QLatin1String("denoising")) {
    m_bar->setRange(0, 0);
    m_bar->setFormat(stage + QStringLiteral("…"));
  }
}

void RunPanel::setProgress(int step, int total, double sigma, double elapsed, double eta) {
  // Speed from the steps since the first report: the first step includes warm-up (allocation, kernel choice).
  double rate = 0;
  if (m_firstStep == 0) {
    m_firstStep = step;
    m_firstElapsed = elapsed;
    rate = elapsed > 0 ? step / elapsed : 0;
  } else if (elapsed > m_firstElapsed) {
    rate = double(step - m_firstStep) / (elapsed - m_firstElapsed);
  }
  m_bar->setRange(0, std::max(1, total));
  m_bar->setValue(step);
  m_bar->setFormat(stepsDoneText(step, total));
  m_status->setText(tr("%1 · σ = %2 · %3 · elapsed %4 · ETA %5")
                        .arg(stepsDoneText(step, total))
                        .arg(sigma, 0, 'f', 4)
                        .arg(formatRate(rate), formatDuration(elapsed), formatDuration(eta)));
}

QString RunPanel::stepsDoneText(int done, int total) { return tr("%1 / %2 steps done").arg(done).arg(total); }

void RunPanel::setBlockProgress(int step, int totalSteps, int block, int blocks) {
  // `step` is the step in progress (1-based), so step − 1 are done: the same count setProgress showed last.
  m_bar->setRange(0, std::max(1, totalSteps * blocks));
  m_bar->setValue((step - 1) * blocks + block);
  m_bar->setFormat(
      tr("%1 · step %2: block %3/%4").arg(stepsDoneText(step - 1, totalSteps)).arg(step).arg(block).arg(blocks));
}

void RunPanel::setDecodeProgress(int done, int total) {
  m_bar->setRange(0, std::max(1, total));
  m_bar->setValue(done);
  m_bar->setFormat(tr("decoding tile %1 / %2").arg(done).arg(total));
}

void RunPanel::setEncodeProgress(int done, int total) {
  m_bar->setRange(0, std::max(1, total));
  m_bar->setValue(done);
  m_bar->setFormat(tr("encoding image tile %1 / %2").arg(done).arg(total));
}

void RunPanel::setEstimate(const QString& text, bool fits, const QString& details) {
  m_estimate->setText(text);
  m_estimate->setToolTip(details);
  m_estimate->setStyleSheet(fits ? QString() : QStringLiteral("QLabel { color: #c0392b; }"));
}

void RunPanel::setGenerateEnabled(bool enabled, const QString& why) {
  m_generateAllowed = enabled;
  m_generate->setEnabled(enabled && !m_running);
  m_generate->setToolTip(enabled ? tr("Generate (Ctrl+Enter)") : why);
}

QString RunPanel::progressText() const { return m_status->text(); }
QString RunPanel::estimateText() const { return m_estimate->text(); }

}  // namespace dype::ui
