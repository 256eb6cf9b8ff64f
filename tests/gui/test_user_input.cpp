// test-deps: ui
// What a user touches, driven the way a user drives it (issue 15): a real mouse click on a history thumbnail
// restores its settings; Ctrl+S, Ctrl+0, Ctrl+1 and Esc as key events on the window (Save goes through the
// window's file-name hook, so no modal dialog blocks the test); hovering the frequency plot shows the values under
// the cursor; the estimate line says whether a size fits, and refuses one that does not fit the memory budget.
#include <qcustomplot.h>

#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QToolTip>
#include <QtTest>

#include "tests/support/worker_thread.h"
#include "ui/flux_panel.h"
#include "ui/frequency_plot.h"
#include "ui/history_strip.h"
#include "ui/image_view.h"
#include "ui/main_window.h"
#include "ui/model_panel.h"
#include "ui/resolution_panel.h"
#include "ui/run_panel.h"
#include "ui/settings.h"

using namespace dype::ui;

namespace {
constexpr int kTimeoutMs = dype::test::kWorkerTimeoutMs;

// A small, quick request on the demo model.
void setSmallRequest(MainWindow& window, const std::string& prompt, int size, int steps, std::uint64_t seed) {
  dype::GenerationRequest r = window.currentRequest();
  r.prompt = prompt;
  r.width = size;
  r.height = size;
  r.steps = steps;
  r.seed = seed;
  r.preview_every = 0;
  window.restoreRequest(r);
  window.fluxPanel()->setRandomSeed(false);
}

bool generate(MainWindow& window) {
  QSignalSpy finished(&window, &MainWindow::runFinished);
  window.startGeneration();
  return QTest::qWaitFor([&] { return !finished.isEmpty(); }, kTimeoutMs);
}
}  // namespace

class TestUserInput : public QObject {
  Q_OBJECT

 private slots:
  void init();
  void cleanup();
  void historyHintThenClickRestores();
  void keyboardShortcuts();
  void escapeCancelsARun();
  void plotHoverShowsValues();
  void estimateFitsAndRefuses();

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<Settings> m_settings;
  std::unique_ptr<MainWindow> m_window;
  int m_n = 0;
};

void TestUserInput::init() {
  m_settings = std::make_unique<Settings>(m_dir.filePath(QStringLiteral("s%1.ini").arg(++m_n)));
  m_window = std::make_unique<MainWindow>(*m_settings);
  m_window->show();
  m_window->activateWindow();
  QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
}

void TestUserInput::cleanup() {
  m_window.reset();
  m_settings.reset();
}

void TestUserInput::historyHintThenClickRestores() {
  MainWindow& w = *m_window;
  HistoryStrip* strip = w.historyStrip();
  // Before any result: a hint, not an empty box.
  QVERIFY(!strip->hint()->isHidden());
  QVERIFY(strip->hint()->text().contains(QStringLiteral("click one to restore its settings")));
  QVERIFY(strip->list()->isHidden());

  setSmallRequest(w, "a red lighthouse", 128, 2, 11);
  QVERIFY(generate(w));
  QVERIFY(strip->hint()->isHidden());
  QVERIFY(!strip->list()->isHidden());
  QCOMPARE(strip->count(), 1);

  setSmallRequest(w, "something else entirely", 256, 3, 99);
  QCOMPARE(w.currentRequest().width, 256);

  QListWidget* list = strip->list();
  QTRY_VERIFY(list->visualItemRect(list->item(0)).isValid());
  const QPoint at = list->visualItemRect(list->item(0)).center();
  QTest::mouseClick(list->viewport(), Qt::LeftButton, Qt::NoModifier, at);
  const dype::GenerationRequest r = w.currentRequest();
  QCOMPARE(QString::fromStdString(r.prompt), QStringLiteral("a red lighthouse"));
  QCOMPARE(r.width, 128);
  QCOMPARE(r.height, 128);
  QCOMPARE(r.steps, 2);
  QCOMPARE(qulonglong(r.seed), 11ull);
}

void TestUserInput::keyboardShortcuts() {
  MainWindow& w = *m_window;
  setSmallRequest(w, "a blue door", 128, 2, 5);
  QVERIFY(generate(w));
  ImageView* view = w.imageView();

  QTest::keyClick(&w, Qt::Key_1, Qt::ControlModifier);  // Ctrl+1: actual size
  QTRY_VERIFY(!view->isFitMode());
  QCOMPARE(view->zoom(), 1.0);
  QTest::keyClick(&w, Qt::Key_0, Qt::ControlModifier);  // Ctrl+0: fit to window
  QTRY_VERIFY(view->isFitMode());

  // Ctrl+S: the window asks the hook (standing in for the file dialog) for a name, then saves in the background.
  int asked = 0;
  const QString target = m_dir.filePath(QStringLiteral("saved-by-ctrl-s.png"));
  w.setSaveFileFunction([&](QWidget*, const QString&, const QString& start, const QString& filters, QString* selected) {
    ++asked;
    [&] {
      QVERIFY2(start.endsWith(QStringLiteral("dype-128x128-5.png")), qPrintable(start));
      QVERIFY(filters.contains(QStringLiteral("16 bits")));
    }();
    if (selected) *selected = filters.section(QStringLiteral(";;"), 0, 0);  // the 8-bit entry
    return target;
  });
  QSignalSpy saved(&w, &MainWindow::saved);
  QTest::keyClick(&w, Qt::Key_S, Qt::ControlModifier);
  QTRY_VERIFY_WITH_TIMEOUT(!saved.isEmpty(), kTimeoutMs);
  QCOMPARE(asked, 1);
  QCOMPARE(saved.front().front().toString(), target);
  QVERIFY(QFileInfo(target).size() > 0);
}

void TestUserInput::escapeCancelsARun() {
  MainWindow& w = *m_window;
  setSmallRequest(w, "a long run", 1024, 40, 3);
  QSignalSpy cancelled(&w, &MainWindow::runCancelled);
  QSignalSpy finished(&w, &MainWindow::runFinished);
  w.startGeneration();
  QVERIFY(w.isRunning());
  QTest::keyClick(&w, Qt::Key_Escape);
  QTRY_VERIFY_WITH_TIMEOUT(!cancelled.isEmpty(), kTimeoutMs);
  QVERIFY(finished.isEmpty());
  QVERIFY(!w.isRunning());
}

void TestUserInput::plotHoverShowsValues() {
  MainWindow& w = *m_window;
  FrequencyPlot* plot = w.frequencyPlot();
  QCustomPlot* cp = plot->customPlot();
  QTRY_VERIFY(!plot->series().sigmas.empty());
  cp->replot();
  const QRect area = cp->axisRect()->rect();
  QVERIFY(area.width() > 20);
  const QPoint at(area.left() + area.width() / 3, area.center().y());
  QTest::mouseMove(cp, at);
  QTRY_VERIFY(!plot->hoverText().isEmpty());
  // The step nearest the cursor, with its σ and the value of every band.
  const double x = cp->xAxis->pixelToCoord(at.x());
  const int step = int(std::lround(x));  // over step: x = 1 … N
  QVERIFY2(plot->hoverText().contains(QStringLiteral("<b>step %1</b>").arg(step)), qPrintable(plot->hoverText()));
  const double sigma = plot->series().sigmas[std::size_t(step - 1)];
  QVERIFY(plot->hoverText().contains(QString::number(sigma, 'f', 5)));
  QVERIFY(plot->hoverText().contains(QStringLiteral("pair ")));
  if (QToolTip::isVisible()) QCOMPARE(QToolTip::text(), plot->hoverText());
}

void TestUserInput::estimateFitsAndRefuses() {
  MainWindow& w = *m_window;
  RunPanel* run = w.runPanel();
  w.resolutionPanel()->setSize(512, 512);
  QTRY_VERIFY_WITH_TIMEOUT(run->estimateText().startsWith(QStringLiteral("512×512: peak memory")), kTimeoutMs);
  const QString fits = run->estimateText();
  QVERIFY2(!fits.contains(QStringLiteral("Does not fit")), qPrintable(fits));

  // The memory budget of the model panel (the CLI's --max-memory): 10 MiB cannot hold a 2048² run.
  auto* budget = w.modelPanel()->findChild<QDoubleSpinBox*>(QStringLiteral("memoryBudgetSpin"));
  QVERIFY(budget);
  budget->setValue(0.01);
  w.resolutionPanel()->setSize(2048, 2048);
  QTRY_VERIFY_WITH_TIMEOUT(run->estimateText().startsWith(QStringLiteral("Does not fit: 2048×2048")), kTimeoutMs);
  QVERIFY2(run->estimateText().contains(QStringLiteral("available")), qPrintable(run->estimateText()));
}

QTEST_MAIN(TestUserInput)
#include "test_user_input.moc"
