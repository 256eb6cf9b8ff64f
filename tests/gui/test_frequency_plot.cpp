// test-deps: ui
// The frequency plot draws exactly what core/dype computes: every point of every curve equals rope_frequencies()
// at the sigma of that step of the real schedule (core/sampling), divided by the plain RoPE frequency
// (computed here independently as 1/θ^(2j/d)); the comparison curves equal the static method; the marker
// follows the step; the CSV export carries the same numbers.
#include <qcustomplot.h>

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

#include "core/dype/rope_frequencies.h"
#include "core/sampling/schedule.h"
#include "ui/frequency_plot.h"

using namespace dype;
using dype::ui::FrequencyPlot;
using dype::ui::PlotQuantity;
using dype::ui::PlotXAxis;

namespace {

struct Case {
  const char* name;
  DypeConfig cfg;
  int width, height, steps;
  double mu;
};

std::vector<double> evalSigmas(int steps, double mu) {
  std::vector<double> s = flux_schedule(steps, mu);
  s.resize(std::size_t(steps));
  return s;
}

DypeConfig make(DypeMethod m, bool dynamic, YarnForm form, double ls, double lt, bool iso = false) {
  DypeConfig c;
  c.method = m;
  c.dynamic = dynamic;
  c.yarn_form = form;
  c.lambda_s = ls;
  c.lambda_t = lt;
  c.isotropic = iso;
  return c;
}

bool close(double a, double b) { return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b)); }

}  // namespace

class TestFrequencyPlot : public QObject {
  Q_OBJECT

 private slots:
  void pointsEqualCoreDype_data();
  void pointsEqualCoreDype();
  void sigmaAxisAndWavelength();
  void markerFollowsStep();
  void exports();
  void logTickLabelsAreDistinct_data();
  void logTickLabelsAreDistinct();
};

void TestFrequencyPlot::pointsEqualCoreDype_data() {
  QTest::addColumn<int>("index");
  QTest::newRow("yarn paper 4096² 28 steps") << 0;
  QTest::newRow("yarn comfy 4096x2304") << 1;
  QTest::newRow("ntk dynamic iso 2048x3072") << 2;
  QTest::newRow("vision-yarn 3072² 10 steps") << 3;
  QTest::newRow("pi dynamic 4096²") << 4;
  QTest::newRow("none 2048²") << 5;
}

static const Case kCases[] = {
    {"yarn-paper", make(DypeMethod::YaRN, true, YarnForm::Paper, 2, 2), 4096, 4096, 28, 1.15},
    {"yarn-comfy", make(DypeMethod::YaRN, true, YarnForm::Comfy, 2, 2), 4096, 2304, 20, 1.15},
    {"ntk-iso", make(DypeMethod::NTK, true, YarnForm::Paper, 3, 1, true), 2048, 3072, 16, 0.9},
    {"vision", make(DypeMethod::VisionYaRN, true, YarnForm::Paper, 2, 1.5), 3072, 3072, 10, 1.15},
    {"pi", make(DypeMethod::PI, true, YarnForm::Paper, 1, 2), 4096, 4096, 8, 1.15},
    {"none", make(DypeMethod::None, false, YarnForm::Paper, 2, 2), 2048, 2048, 6, 1.15},
};

void TestFrequencyPlot::pointsEqualCoreDype() {
  QFETCH(int, index);
  const Case& c = kCases[index];
  const std::vector<double> sigmas = evalSigmas(c.steps, c.mu);
  FrequencyPlot plot;
  plot.setShowAllPairs(true);
  plot.setQuantity(PlotQuantity::FrequencyRatio);
  plot.setXAxis(PlotXAxis::Step);
  plot.setAxis(2);  // width axis
  plot.setInputs(c.cfg, c.width, c.height, sigmas);

  const RopeGeometry geo;  // FLUX.1: theta 10000, axes 16/56/56
  const std::vector<std::int64_t> extent{1, (c.height + 15) / 16, (c.width + 15) / 16};
  DypeConfig staticCfg = c.cfg;
  staticCfg.dynamic = false;
  if (staticCfg.method == DypeMethod::VisionYaRN) staticCfg.method = DypeMethod::YaRN;
  const bool expectComparison = c.cfg.dynamic && c.cfg.method != DypeMethod::None;

  int checked = 0;
  for (int pair = 0; pair < 28; ++pair) {
    const double plain = 1.0 / std::pow(10000.0, 2.0 * pair / 56.0);
    QCPGraph* g = plot.graphFor(pair, false);
    QVERIFY2(g, "every pair has a curve");
    QCOMPARE(g->data()->size(), c.steps);
    QCPGraph* s = plot.graphFor(pair, true);
    QCOMPARE(s != nullptr, expectComparison);
    for (int k = 0; k < c.steps; ++k) {
      const auto expected = rope_frequencies(c.cfg, geo, extent, std::min(1.0, sigmas[std::size_t(k)]));
      const double want = expected[2].omega[std::size_t(pair)] / plain;
      const auto point = g->data()->at(k);
      QCOMPARE(point->key, double(k + 1));
      QVERIFY2(close(point->value, want), qPrintable(QStringLiteral("pair %1 step %2: plot %3, core %4")
                                                         .arg(pair)
                                                         .arg(k + 1)
                                                         .arg(point->value, 0, 'g', 17)
                                                         .arg(want, 0, 'g', 17)));
      if (s) {
        const auto ref = rope_frequencies(staticCfg, geo, extent, std::min(1.0, sigmas[std::size_t(k)]));
        QVERIFY(close(s->data()->at(k)->value, ref[2].omega[std::size_t(pair)] / plain));
      }
      ++checked;
    }
  }
  QCOMPARE(checked, 28 * c.steps);
}

void TestFrequencyPlot::sigmaAxisAndWavelength() {
  const Case& c = kCases[0];
  const std::vector<double> sigmas = evalSigmas(c.steps, c.mu);
  FrequencyPlot plot;
  plot.setQuantity(PlotQuantity::Wavelength);
  plot.setXAxis(PlotXAxis::Sigma);
  plot.setAxis(1);  // height axis
  plot.setInputs(c.cfg, c.width, c.height, sigmas);
  const std::vector<std::int64_t> extent{1, 256, 256};
  const double twoPi = 2.0 * std::acos(-1.0);
  // The default selection has a curve for pair 0 and pair 27 (the fastest and the slowest band) at least.
  for (int pair : {0, 27}) {
    QCPGraph* g = plot.graphFor(pair, false);
    QVERIFY(g);
    for (int k = 0; k < c.steps; ++k) {
      const auto f = rope_frequencies(c.cfg, RopeGeometry{}, extent, std::min(1.0, sigmas[std::size_t(k)]));
      QCOMPARE(g->data()->at(k)->key, sigmas[std::size_t(k)]);
      QVERIFY(close(g->data()->at(k)->value, twoPi / f[1].omega[std::size_t(pair)]));
    }
  }
  QVERIFY(plot.customPlot()->yAxis->scaleType() == QCPAxis::stLogarithmic);
}

void TestFrequencyPlot::markerFollowsStep() {
  const std::vector<double> sigmas = evalSigmas(10, 1.15);
  FrequencyPlot plot;
  plot.setXAxis(PlotXAxis::Step);
  plot.setInputs(kCases[0].cfg, 4096, 4096, sigmas);
  QVERIFY(std::isnan(plot.markerX()));
  plot.setCurrentStep(4);
  QCOMPARE(plot.markerX(), 4.0);
  plot.setXAxis(PlotXAxis::Sigma);
  QCOMPARE(plot.markerX(), sigmas[3]);
  plot.setCurrentStep(0);
  QVERIFY(std::isnan(plot.markerX()));
}

void TestFrequencyPlot::exports() {
  QTemporaryDir dir;
  const std::vector<double> sigmas = evalSigmas(6, 1.15);
  FrequencyPlot plot;
  plot.resize(800, 400);
  plot.setInputs(kCases[1].cfg, 4096, 2304, sigmas);
  QString error;
  for (const char* name : {"p.png", "p.svg", "p.csv"}) {
    const QString path = dir.filePath(QString::fromLatin1(name));
    QVERIFY2(plot.exportTo(path, &error), qPrintable(error));
    QVERIFY(QFileInfo(path).size() > 100);
  }
  QVERIFY(!plot.exportTo(dir.filePath(QStringLiteral("p.bmp")), &error));
  QVERIFY(error.contains(QStringLiteral("bmp")));

  QFile csv(dir.filePath(QStringLiteral("p.csv")));
  QVERIFY(csv.open(QIODevice::ReadOnly));
  const QStringList lines = QString::fromUtf8(csv.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  QCOMPARE(lines.size(), 1 + 6);
  const QStringList header = lines[0].split(QLatin1Char(','));
  const int col = int(header.indexOf(QStringLiteral("pair0_current_omega")));
  const int colStatic = int(header.indexOf(QStringLiteral("pair27_static_omega")));
  QVERIFY(col > 0 && colStatic > 0);
  const std::vector<std::int64_t> extent{1, 2304 / 16, 4096 / 16};
  DypeConfig st = kCases[1].cfg;
  st.dynamic = false;
  for (int k = 0; k < 6; ++k) {
    const QStringList cells = lines[k + 1].split(QLatin1Char(','));
    QCOMPARE(cells[0].toInt(), k + 1);
    QCOMPARE(cells[1].toDouble(), sigmas[std::size_t(k)]);
    const double t = std::min(1.0, sigmas[std::size_t(k)]);
    QCOMPARE(cells[col].toDouble(), rope_frequencies(kCases[1].cfg, RopeGeometry{}, extent, t)[2].omega[0]);
    QCOMPARE(cells[colStatic].toDouble(), rope_frequencies(st, RopeGeometry{}, extent, t)[2].omega[27]);
  }
}

void TestFrequencyPlot::logTickLabelsAreDistinct_data() {
  QTest::addColumn<double>("lower");
  QTest::addColumn<double>("upper");
  QTest::newRow("narrow around 1") << 0.95 << 1.06;  // linear fallback ticks 0.96 … 1.06 (was "1 1 1")
  QTest::newRow("ratio near 0.25") << 0.24 << 0.27;
  QTest::newRow("one decade") << 0.5 << 5.0;
  QTest::newRow("wavelengths") << 3.0 << 20000.0;  // true log ticks
}

// Issue 15: neighbouring ticks of the log axis printed the same label ("1 1 1") when the range was narrow.
void TestFrequencyPlot::logTickLabelsAreDistinct() {
  QFETCH(double, lower);
  QFETCH(double, upper);
  FrequencyPlot plot;
  plot.resize(700, 400);
  plot.setInputs(make(DypeMethod::YaRN, true, YarnForm::Paper, 2, 2), 2048, 2048, evalSigmas(12, 1.15));
  QCustomPlot* cp = plot.customPlot();
  cp->yAxis->setRange(lower, upper);
  cp->replot();
  const QVector<QString> labels = cp->yAxis->tickVectorLabels();
  QVERIFY2(labels.size() >= 2, qPrintable(QStringList(labels.begin(), labels.end()).join(QLatin1Char(' '))));
  for (qsizetype i = 1; i < labels.size(); ++i)
    QVERIFY2(labels[i] != labels[i - 1], qPrintable(QStringList(labels.begin(), labels.end()).join(QLatin1Char('|'))));
}

QTEST_MAIN(TestFrequencyPlot)
#include "test_frequency_plot.moc"
