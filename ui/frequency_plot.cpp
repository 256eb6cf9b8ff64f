#include "ui/frequency_plot.h"

// QCustomPlot 2.1's header still spells `signals:` and `foreach`, which dype_ui's QT_NO_KEYWORDS removes: lend
// it the macro forms for this one include and take them back right after.
#define signals Q_SIGNALS
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef foreach
#undef signals

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTextStream>
#include <QToolTip>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

#include "core/common/error.h"

namespace dype::ui {
namespace {

constexpr int kCompareCounterpart = -1;
constexpr int kCompareNothing = -2;

QColor bandColor(std::size_t index, std::size_t count) {
  // Fast (high-frequency) pairs blue, slow ones red.
  const double f = count > 1 ? double(index) / double(count - 1) : 0.0;
  return QColor::fromHsvF(0.62 * (1.0 - f), 0.85, 0.85);
}

QString fmt(double v) { return QString::number(v, 'g', 6); }

// Over a narrow range (less than ~1.6 decades) QCPAxisTickerLog falls back to linear ticks such as 0.95, 1, 1.05,
// which the axis' one-significant-digit format printed as "1 1 1" (issue 15). This ticker keeps the log ticks
// and raises the precision, one digit at a time, until neighbouring labels differ.
class DistinctLabelLogTicker : public QCPAxisTickerLog {
 protected:
  QVector<QString> createLabelVector(const QVector<double>& ticks, const QLocale& locale, QChar formatChar,
                                     int precision) override {
    QVector<QString> labels;
    for (int digits = std::max(precision, 1); digits <= 12; ++digits) {
      labels = QCPAxisTickerLog::createLabelVector(ticks, locale, formatChar, digits);
      bool distinct = true;
      for (qsizetype i = 1; i < labels.size() && distinct; ++i) distinct = labels[i] != labels[i - 1];
      if (distinct) break;
    }
    return labels;
  }
};

}  // namespace

FrequencyPlot::FrequencyPlot(QWidget* parent)
    : QWidget(parent),
      m_plot(new QCustomPlot(this)),
      m_quantityBox(new QComboBox(this)),
      m_xBox(new QComboBox(this)),
      m_axisBox(new QComboBox(this)),
      m_compareBox(new QComboBox(this)),
      m_pairsBox(new QComboBox(this)),
      m_export(new QPushButton(tr("Export…"), this)) {
  m_plot->setObjectName(QStringLiteral("frequencyPlot"));
  m_plot->setMinimumHeight(180);
  m_plot->setNoAntialiasingOnDrag(true);
  m_plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
  m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new DistinctLabelLogTicker));
  m_plot->setMouseTracking(true);  // hover values without a button held
  m_plot->yAxis->setNumberFormat(QStringLiteral("gb"));
  m_plot->yAxis->setNumberPrecision(0);
  m_plot->legend->setVisible(true);
  m_plot->legend->setFont(QFont(font().family(), std::max(7, font().pointSize() - 2)));
  m_plot->legend->setRowSpacing(-3);
  m_plot->plotLayout()->insertRow(0);
  m_title = new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize(), QFont::Bold));
  m_plot->plotLayout()->addElement(0, 0, m_title);
  // The legend (up to 12 bands plus the static reference) gets its own column right of the axes: inside them it
  // would hide the curves it names.
  m_plot->axisRect()->insetLayout()->take(m_plot->legend);
  m_plot->plotLayout()->addElement(1, 1, m_plot->legend);
  m_plot->plotLayout()->setColumnStretchFactor(1, 0.001);
  m_plot->legend->setMargins(QMargins(4, 2, 4, 2));
  m_marker = new QCPItemStraightLine(m_plot);
  m_marker->setPen(QPen(QColor(220, 30, 30), 1.5));
  m_marker->setVisible(false);
  m_marker->setSelectable(false);

  m_quantityBox->setObjectName(QStringLiteral("plotQuantityCombo"));
  m_quantityBox->addItem(tr("ω(t) / ω plain"), int(PlotQuantity::FrequencyRatio));
  m_quantityBox->addItem(tr("wavelength 2π/ω (tokens)"), int(PlotQuantity::Wavelength));
  m_xBox->setObjectName(QStringLiteral("plotXCombo"));
  m_xBox->addItem(tr("over step"), int(PlotXAxis::Step));
  m_xBox->addItem(tr("over t = σ"), int(PlotXAxis::Sigma));
  m_axisBox->setObjectName(QStringLiteral("plotAxisCombo"));
  m_axisBox->addItem(tr("longer axis"), 0);
  m_axisBox->addItem(tr("width axis"), 2);
  m_axisBox->addItem(tr("height axis"), 1);
  m_compareBox->setObjectName(QStringLiteral("plotCompareCombo"));
  m_compareBox->addItem(tr("vs. same method static"), kCompareCounterpart);
  m_compareBox->addItem(tr("vs. static PI"), int(DypeMethod::PI));
  m_compareBox->addItem(tr("vs. static NTK"), int(DypeMethod::NTK));
  m_compareBox->addItem(tr("vs. static YaRN"), int(DypeMethod::YaRN));
  m_compareBox->addItem(tr("no comparison"), kCompareNothing);
  m_pairsBox->setObjectName(QStringLiteral("plotPairsCombo"));
  m_pairsBox->addItem(tr("8 bands"), false);
  m_pairsBox->addItem(tr("all pairs"), true);
  m_export->setObjectName(QStringLiteral("plotExportButton"));
  m_export->setToolTip(tr("Save the plot as PNG or SVG, or its numbers as CSV"));

  auto* bar = new QHBoxLayout;
  bar->setContentsMargins(0, 0, 0, 0);
  for (QWidget* w : std::initializer_list<QWidget*>{m_quantityBox, m_xBox, m_axisBox, m_compareBox, m_pairsBox})
    bar->addWidget(w);
  bar->addStretch(1);
  bar->addWidget(m_export);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(bar);
  layout->addWidget(m_plot, 1);

  for (QComboBox* box : {m_quantityBox, m_xBox, m_axisBox, m_compareBox, m_pairsBox})
    connect(box, &QComboBox::currentIndexChanged, this, &FrequencyPlot::rebuild);
  connect(m_export, &QPushButton::clicked, this, &FrequencyPlot::exportDialog);
  connect(m_plot, &QCustomPlot::mouseMove, this, &FrequencyPlot::hover);
}

void FrequencyPlot::setInputs(const dype::DypeConfig& config, int width, int height,
                              const std::vector<double>& sigmas) {
  m_config = config;
  m_width = width;
  m_height = height;
  m_sigmas = sigmas;
  rebuild();
}

void FrequencyPlot::setCurrentStep(int step) {
  m_step = step;
  placeMarker();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void FrequencyPlot::setQuantity(PlotQuantity q) { m_quantityBox->setCurrentIndex(m_quantityBox->findData(int(q))); }
void FrequencyPlot::setXAxis(PlotXAxis x) { m_xBox->setCurrentIndex(m_xBox->findData(int(x))); }
void FrequencyPlot::setAxis(int axis) { m_axisBox->setCurrentIndex(std::max(0, m_axisBox->findData(axis))); }
void FrequencyPlot::setShowAllPairs(bool all) { m_pairsBox->setCurrentIndex(all ? 1 : 0); }

int FrequencyPlot::effectiveAxis() const {
  const int chosen = m_axisBox->currentData().toInt();
  if (chosen == 1 || chosen == 2) return chosen;
  return m_height > m_width ? 1 : 2;
}

void FrequencyPlot::rebuild() {
  FrequencyPlotInput in;
  in.config = m_config;
  in.width = m_width;
  in.height = m_height;
  in.sigmas = m_sigmas;
  in.axis = effectiveAxis();
  const int pairs = int(in.geometry.axes_dim[std::size_t(in.axis)] / 2);
  if (m_pairsBox->currentData().toBool()) {
    for (int i = 0; i < pairs; ++i) in.pairs.push_back(i);
  } else {
    in.pairs = representativePairs(pairs);
  }
  const int compare = m_compareBox->currentData().toInt();
  if (compare == kCompareNothing) {
    in.compare = false;
  } else if (compare == kCompareCounterpart) {
    // The static form of the current method (vision-YaRN's is YaRN); nothing to compare for a static run.
    in.compare = m_config.dynamic && m_config.method != DypeMethod::None;
    in.compareMethod = m_config.method == DypeMethod::VisionYaRN ? DypeMethod::YaRN : m_config.method;
  } else {
    in.compareMethod = DypeMethod(compare);
  }
  try {
    m_series = computeFrequencySeries(in);
  } catch (const dype::Error& e) {
    m_series = FrequencySeries{};
    m_series.title = QString::fromUtf8(e.what());
  }
  redraw();
}

double FrequencyPlot::xOf(std::size_t i) const {
  return PlotXAxis(m_xBox->currentData().toInt()) == PlotXAxis::Step ? double(i + 1) : m_series.sigmas[i];
}

void FrequencyPlot::redraw() {
  const auto quantity = PlotQuantity(m_quantityBox->currentData().toInt());
  const bool overStep = PlotXAxis(m_xBox->currentData().toInt()) == PlotXAxis::Step;
  m_plot->clearGraphs();
  m_graphCurves.clear();
  for (QCPItemStraightLine* line : m_gridLines) m_plot->removeItem(line);
  m_gridLines.clear();

  const std::size_t n = m_series.sigmas.size();
  QVector<double> xs(static_cast<qsizetype>(n));
  for (std::size_t i = 0; i < n; ++i) xs[int(i)] = xOf(i);

  std::size_t bands = 0;
  for (const auto& c : m_series.curves) bands += c.comparison ? 0 : 1;
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  std::size_t band = 0;
  for (std::size_t ci = 0; ci < m_series.curves.size(); ++ci) {
    const FrequencyCurve& c = m_series.curves[ci];
    QVector<double> ys(static_cast<qsizetype>(n));
    for (std::size_t i = 0; i < n; ++i) {
      ys[int(i)] = plotValue(c, i, quantity);
      lo = std::min(lo, ys[int(i)]);
      hi = std::max(hi, ys[int(i)]);
    }
    const QColor color = bandColor(c.comparison ? band - 1 : band, bands);
    QCPGraph* g = m_plot->addGraph();
    g->setData(xs, ys, true);
    if (c.comparison) {
      QPen pen(color, 1.2, Qt::DashLine);
      g->setPen(pen);
      g->removeFromLegend();
    } else {
      g->setPen(QPen(color, 2.0));
      g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, 3.5));
      g->setName(tr("pair %1 (λ %2 tok)").arg(c.pair).arg(6.283185307179586 / c.baseOmega, 0, 'g', 3));
      ++band;
    }
    m_graphCurves.emplace_back(g, ci);
  }
  if (!m_series.comparisonName.isEmpty()) {
    QCPGraph* key = m_plot->addGraph();  // a legend entry for all dashed curves
    key->setPen(QPen(Qt::gray, 1.2, Qt::DashLine));
    key->setName(tr("dashed: %1").arg(m_series.comparisonName));
  }
  if (quantity == PlotQuantity::Wavelength && m_series.extent > 0) {
    // Where wavelengths meet the grid: the base grid the model was trained on and the grid being generated.
    for (double y : {m_series.baseGrid, double(m_series.extent)}) {
      auto* line = new QCPItemStraightLine(m_plot);
      line->setPen(QPen(QColor(90, 90, 90), 1, Qt::DotLine));
      line->point1->setCoords(0, y);
      line->point2->setCoords(1, y);
      m_gridLines.push_back(line);
      lo = std::min(lo, y);
      hi = std::max(hi, y);
    }
  }

  m_plot->xAxis->setLabel(overStep ? tr("step") : tr("t = σ (1 = pure noise)"));
  m_plot->yAxis->setLabel(quantity == PlotQuantity::FrequencyRatio ? tr("ω(t) / ω plain RoPE")
                                                                   : tr("wavelength (tokens)"));
  m_plot->xAxis->setRangeReversed(!overStep);
  if (n > 0) {
    if (overStep) {
      m_plot->xAxis->setRange(0.5, double(n) + 0.5);
    } else {
      const double smin = *std::min_element(m_series.sigmas.begin(), m_series.sigmas.end());
      m_plot->xAxis->setRange(std::max(0.0, smin - 0.03), 1.0);
    }
  }
  if (!(lo < hi)) {
    lo = (std::isfinite(lo) && lo > 0 ? lo : 1.0) / 1.25;
    hi = lo * 1.25 * 1.25;
  }
  m_plot->yAxis->setRange(lo / 1.3, hi * 1.3);

  QString title = m_series.title;
  if (!m_series.mscale.empty() && std::abs(m_series.mscale.front() - 1.0) > 1e-12) {
    title += tr(" · mscale %1").arg(m_series.mscale.front(), 0, 'f', 4);
    if (std::abs(m_series.mscale.back() - m_series.mscale.front()) > 1e-12)
      title += tr(" → %1").arg(m_series.mscale.back(), 0, 'f', 4);
  }
  m_title->setText(title);
  placeMarker();
  m_plot->replot(QCustomPlot::rpQueuedReplot);  // coalesced: one replot per event-loop pass
}

void FrequencyPlot::placeMarker() {
  const double x = markerX();
  m_marker->setVisible(std::isfinite(x));
  if (std::isfinite(x)) {
    m_marker->point1->setCoords(x, 1.0);
    m_marker->point2->setCoords(x, 2.0);
  }
}

double FrequencyPlot::markerX() const {
  if (m_step < 1 || std::size_t(m_step) > m_series.sigmas.size()) return std::numeric_limits<double>::quiet_NaN();
  return xOf(std::size_t(m_step - 1));
}

QCPGraph* FrequencyPlot::graphFor(int pair, bool comparison) const {
  for (const auto& [graph, index] : m_graphCurves) {
    const FrequencyCurve& c = m_series.curves[index];
    if (c.pair == pair && c.comparison == comparison) return graph;
  }
  return nullptr;
}

void FrequencyPlot::hover(QMouseEvent* event) {
  const std::size_t n = m_series.sigmas.size();
  if (n == 0) return;
  const double x = m_plot->xAxis->pixelToCoord(event->position().x());
  std::size_t best = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (std::abs(xOf(i) - x) < std::abs(xOf(best) - x)) best = i;
  const auto quantity = PlotQuantity(m_quantityBox->currentData().toInt());
  QString text = tr("<b>step %1</b> · t = σ = %2").arg(best + 1).arg(m_series.sigmas[best], 0, 'f', 5);
  if (best < m_series.mscale.size()) text += tr(" · mscale %1").arg(m_series.mscale[best], 0, 'f', 4);
  text += QStringLiteral("<table>");
  for (const FrequencyCurve& c : m_series.curves) {
    if (c.comparison) continue;
    text += QStringLiteral("<tr><td>pair %1</td><td align=right>%2</td><td align=right>ω = %3</td></tr>")
                .arg(c.pair)
                .arg(fmt(plotValue(c, best, quantity)))
                .arg(fmt(c.omega[best]));
  }
  text += QStringLiteral("</table>");
  m_hoverText = text;
  QToolTip::showText(event->globalPosition().toPoint(), text, m_plot);
}

QString FrequencyPlot::csv() const {
  QString out;
  QTextStream s(&out);
  s << "step,sigma,mscale";
  for (const FrequencyCurve& c : m_series.curves) {
    const QString tag = c.comparison ? QStringLiteral("static") : QStringLiteral("current");
    s << ",pair" << c.pair << '_' << tag << "_omega,pair" << c.pair << '_' << tag << "_ratio";
  }
  s << '\n';
  for (std::size_t i = 0; i < m_series.sigmas.size(); ++i) {
    s << (i + 1) << ',' << QString::number(m_series.sigmas[i], 'g', 17) << ','
      << QString::number(i < m_series.mscale.size() ? m_series.mscale[i] : 1.0, 'g', 17);
    for (const FrequencyCurve& c : m_series.curves)
      s << ',' << QString::number(c.omega[i], 'g', 17) << ',' << QString::number(c.omega[i] / c.baseOmega, 'g', 17);
    s << '\n';
  }
  return out;
}

bool FrequencyPlot::exportTo(const QString& path, QString* error) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  bool ok = false;
  if (suffix == QLatin1String("csv")) {
    QSaveFile file(path);  // renamed into place on commit: no half-written file
    ok = file.open(QIODevice::WriteOnly | QIODevice::Text) && file.write(csv().toUtf8()) >= 0 && file.commit();
    if (!ok && error) *error = file.errorString();
  } else if (suffix == QLatin1String("svg")) {
    QSvgGenerator generator;
    generator.setFileName(path);
    generator.setSize(m_plot->size());
    generator.setViewBox(m_plot->rect());
    generator.setTitle(tr("DyPE frequency schedule"));
    QCPPainter painter;
    ok = painter.begin(&generator);
    if (ok) {
      m_plot->toPainter(&painter, m_plot->width(), m_plot->height());
      ok = painter.end();
    }
    if (!ok && error) *error = tr("could not write %1").arg(path);
  } else if (suffix == QLatin1String("png")) {
    ok = m_plot->savePng(path, 0, 0, 2.0);
    if (!ok && error) *error = tr("could not write %1").arg(path);
  } else if (error) {
    *error = tr("unknown format “%1”: use .png, .svg or .csv").arg(suffix);
  }
  if (ok) Q_EMIT exported(path);
  return ok;
}

void FrequencyPlot::exportDialog() {
  QString filter;
  const QString path =
      QFileDialog::getSaveFileName(this, tr("Export frequency plot"), QStringLiteral("dype-frequencies.png"),
                                   tr("PNG image (*.png);;SVG drawing (*.svg);;CSV numbers (*.csv)"), &filter);
  if (path.isEmpty()) return;
  QString target = path;
  if (QFileInfo(target).suffix().isEmpty()) {
    const qsizetype star = filter.indexOf(QLatin1String("*."));
    target += filter.mid(star + 1, 4);
  }
  QString error;
  if (!exportTo(target, &error)) QMessageBox::warning(this, tr("Export failed"), error);
}

}  // namespace dype::ui
