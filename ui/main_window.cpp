#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QGroupBox>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QScrollArea>
#include <QSplitter>
#include <QStatusBar>
#include <QVBoxLayout>
#include <algorithm>

#include "core/common/error.h"
#include "core/common/format.h"
#include "core/sampling/schedule.h"
#include "ui/dype_panel.h"
#include "ui/flux_panel.h"
#include "ui/frequency_plot.h"
#include "ui/history_strip.h"
#include "ui/image_to_image_panel.h"
#include "ui/image_view.h"
#include "ui/lora_panel.h"
#include "ui/model_panel.h"
#include "ui/prompt_panel.h"
#include "ui/resolution_panel.h"
#include "ui/run_panel.h"
#include "ui/settings.h"

namespace dype::ui {
namespace {

constexpr int kEstimateDelayMs = 250;  // settle time after the last change before asking the worker

QString bytesText(std::uint64_t bytes) { return QString::fromStdString(dype::format_bytes(bytes)); }

QGroupBox* group(const QString& title, QWidget* content) {
  auto* box = new QGroupBox(title);
  auto* layout = new QVBoxLayout(box);
  layout->addWidget(content);
  return box;
}

}  // namespace

MainWindow::MainWindow(Settings& settings, QWidget* parent) : QMainWindow(parent), m_settings(settings) {
  setWindowTitle(tr("DyPE Studio"));
  setObjectName(QStringLiteral("mainWindow"));
  setAcceptDrops(true);
  GenerationWorker::registerMetaTypes();

  buildLayout();
  buildActions();

  m_worker = new GenerationWorker;
  m_worker->moveToThread(&m_workerThread);
  m_workerThread.setObjectName(QStringLiteral("GenerationWorker"));
  connectWorker();
  m_workerThread.start();

  m_estimateTimer.setSingleShot(true);
  m_estimateTimer.setInterval(kEstimateDelayMs);
  connect(&m_estimateTimer, &QTimer::timeout, this, &MainWindow::requestEstimate);

  loadSettings();
  connect(m_prompt, &PromptPanel::generateRequested, this, &MainWindow::startGeneration);
  connect(m_resolution, &ResolutionPanel::sizeChanged, this, &MainWindow::settingsChanged);
  connect(m_flux, &FluxPanel::changed, this, &MainWindow::settingsChanged);
  connect(m_dype, &DypePanel::changed, this, &MainWindow::settingsChanged);
  connect(m_lora, &LoraPanel::changed, this, &MainWindow::settingsChanged);
  connect(m_img2img, &ImageToImagePanel::changed, this, &MainWindow::settingsChanged);
  connect(m_model, &ModelPanel::changed, this, &MainWindow::followModelDefaults);
  connect(m_model, &ModelPanel::changed, this, &MainWindow::settingsChanged);
  connect(m_run, &RunPanel::generateClicked, this, &MainWindow::startGeneration);
  connect(m_run, &RunPanel::cancelClicked, this, &MainWindow::cancelGeneration);
  connect(m_history, &HistoryStrip::entryActivated, this, &MainWindow::showHistoryEntry);
  connect(m_plot, &FrequencyPlot::exported, this,
          [this](const QString& path) { statusBar()->showMessage(tr("Plot exported to %1").arg(path), 5000); });
  settingsChanged();
  if (m_settings.wasCorrupt())
    statusBar()->showMessage(tr("The settings file could not be read; defaults are used."), 8000);
}

MainWindow::~MainWindow() {
  // The running block finishes first (cancel is checked after every transformer block, T5 layer and VAE tile);
  // then the thread ends and the worker, with the pipeline it holds, is destroyed here, on the GUI thread, after
  // its thread is gone.
  m_worker->cancel();
  m_workerThread.quit();
  m_workerThread.wait();
  delete m_worker;
}

void MainWindow::buildLayout() {
  m_prompt = new PromptPanel;
  m_resolution = new ResolutionPanel;
  m_flux = new FluxPanel;
  m_dype = new DypePanel;
  m_lora = new LoraPanel;
  m_img2img = new ImageToImagePanel;
  m_model = new ModelPanel;
  m_run = new RunPanel;
  m_view = new ImageView;
  m_plot = new FrequencyPlot;
  m_history = new HistoryStrip;
  m_view->setPlaceholderText(
      tr("Type a prompt and press Ctrl+Enter.\nDrop a PNG made by DyPE Studio here to "
         "restore its settings."));

  auto* controls = new QWidget;
  auto* controlsLayout = new QVBoxLayout(controls);
  controlsLayout->addWidget(group(tr("Model"), m_model));
  controlsLayout->addWidget(group(tr("Size"), m_resolution));
  controlsLayout->addWidget(group(tr("Sampling"), m_flux));
  controlsLayout->addWidget(group(tr("DyPE (RoPE extrapolation)"), m_dype));
  controlsLayout->addWidget(group(tr("LoRA"), m_lora));
  controlsLayout->addWidget(group(tr("Start image && refine"), m_img2img));
  controlsLayout->addStretch(1);
  auto* scroll = new QScrollArea;
  scroll->setWidget(controls);
  scroll->setWidgetResizable(true);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setMinimumWidth(controls->sizeHint().width() + 24);

  m_viewSplitter = new QSplitter(Qt::Vertical);
  m_viewSplitter->addWidget(m_view);
  m_viewSplitter->addWidget(m_plot);
  m_viewSplitter->setStretchFactor(0, 3);
  m_viewSplitter->setStretchFactor(1, 2);
  m_viewSplitter->setChildrenCollapsible(false);

  auto* right = new QWidget;
  auto* rightLayout = new QVBoxLayout(right);
  rightLayout->setContentsMargins(4, 4, 4, 4);
  rightLayout->addWidget(m_viewSplitter, 1);
  rightLayout->addWidget(m_history);
  rightLayout->addWidget(m_prompt);
  rightLayout->addWidget(m_run);

  m_mainSplitter = new QSplitter(Qt::Horizontal);
  m_mainSplitter->addWidget(scroll);
  m_mainSplitter->addWidget(right);
  m_mainSplitter->setStretchFactor(1, 1);
  m_mainSplitter->setChildrenCollapsible(false);
  setCentralWidget(m_mainSplitter);

  m_modelStatus = new QLabel;
  m_modelStatus->setObjectName(QStringLiteral("modelStatus"));
  statusBar()->addPermanentWidget(m_modelStatus);
  resize(1400, 900);
}

void MainWindow::buildActions() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  m_saveAction = file->addAction(tr("&Save image…"), this, &MainWindow::saveDialog);
  m_saveAction->setShortcut(QKeySequence::Save);
  m_saveAction->setEnabled(false);
  m_copyAction = file->addAction(tr("&Copy image"), this, &MainWindow::copyImage);
  m_copyAction->setShortcut(QKeySequence(tr("Ctrl+Shift+C")));
  m_copyAction->setEnabled(false);
  QAction* open = file->addAction(tr("&Restore settings from PNG…"), this, &MainWindow::openPngDialog);
  open->setShortcut(QKeySequence::Open);
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* run = menuBar()->addMenu(tr("&Generate"));
  m_generateAction = run->addAction(tr("&Generate"), this, &MainWindow::startGeneration);
  m_generateAction->setShortcuts({QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)});
  m_cancelAction = run->addAction(tr("&Cancel"), this, &MainWindow::cancelGeneration);
  m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
  m_cancelAction->setEnabled(false);
  run->addSeparator();
  run->addAction(tr("Reset DyPE to paper defaults"), m_dype, &DypePanel::resetToPaperDefaults);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  QAction* fit = view->addAction(tr("&Fit to window"), m_view, &ImageView::fitToWindow);
  fit->setShortcut(QKeySequence(tr("Ctrl+0")));
  QAction* actual = view->addAction(tr("&Actual size (1:1)"), m_view, &ImageView::actualSize);
  actual->setShortcut(QKeySequence(tr("Ctrl+1")));

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About DyPE Studio"), this, [this] {
    QMessageBox::about(this, tr("About DyPE Studio"),
                       tr("<b>DyPE Studio %1</b><p>Ultra-high-resolution FLUX.1 image generation with DyPE "
                          "(dynamic position extrapolation, arXiv 2510.20766).</p>")
                           .arg(QApplication::applicationVersion()));
  });
}

void MainWindow::connectWorker() {
  connect(this, &MainWindow::generationRequested, m_worker, &GenerationWorker::generate);
  connect(this, &MainWindow::estimateRequested, m_worker, &GenerationWorker::estimate);
  connect(m_worker, &GenerationWorker::modelLoaded, this, &MainWindow::onModelLoaded);
  connect(m_worker, &GenerationWorker::stageChanged, this, &MainWindow::onStage);
  connect(m_worker, &GenerationWorker::progress, this, &MainWindow::onProgress);
  // Inside a step (minutes each at full size on a CPU): "0 / 4 steps done · step 1: block 23/57" in the bar and
  // the status line (RunPanel words every step count as steps done, so the label below the bar agrees).
  // The worker throttles these to ~20/s; the step's own `progress` then takes the bar over again.
  connect(m_worker, &GenerationWorker::blockProgress, this, [this](int step, int totalSteps, int block, int blocks) {
    if (!m_running || m_worker->isCancelRequested()) return;  // keep "Cancelling…" up once asked
    m_run->setBlockProgress(step, totalSteps, block, blocks);
    statusBar()->showMessage(tr("Denoising: %1").arg(m_run->progressBar()->format()));
  });
  connect(m_worker, &GenerationWorker::decodeProgress, m_run, &RunPanel::setDecodeProgress);
  connect(m_worker, &GenerationWorker::encodeProgress, m_run, &RunPanel::setEncodeProgress);
  connect(m_worker, &GenerationWorker::note, this, [this](const QString& text) {
    if (m_running) statusBar()->showMessage(text, 8000);
  });
  connect(m_worker, &GenerationWorker::passStarted, this,
          [this](int pass, int passes, int width, int height, int stepsRun, int steps) {
            m_passText = passes > 1 ? tr("pass %1/%2 (%3×%4, %5 of %6 steps)")
                                          .arg(pass)
                                          .arg(passes)
                                          .arg(width)
                                          .arg(height)
                                          .arg(stepsRun)
                                          .arg(steps)
                                    : QString();
            if (m_running && !m_passText.isEmpty()) statusBar()->showMessage(m_passText);
          });
  connect(m_worker, &GenerationWorker::preview, this, &MainWindow::onPreview);
  connect(m_worker, &GenerationWorker::estimated, this, &MainWindow::onEstimated);
  connect(m_worker, &GenerationWorker::estimateFailed, this, &MainWindow::onEstimateFailed);
  connect(m_worker, &GenerationWorker::finished, this, &MainWindow::onFinished);
  connect(m_worker, &GenerationWorker::failed, this, &MainWindow::onFailed);
  connect(m_worker, &GenerationWorker::cancelled, this, &MainWindow::onCancelled);
}

void MainWindow::loadSettings() {
  m_model->setChoice(m_settings.modelChoice());
  dype::GenerationRequest last = m_settings.lastRequest();
  last.preview_every = m_settings.previewEvery();
  restoreRequest(last);
  m_dype->setPreset(parseDypePreset(m_settings.dypePreset()));  // after the request: Auto/… rewrite its values
  m_flux->setRandomSeed(m_settings.randomSeed());
  followModelDefaults();  // a first start on the demo: its base resolution, step count and size instead of FLUX.1's
  const QByteArray geometry = m_settings.windowGeometry();
  if (!geometry.isEmpty()) restoreGeometry(geometry);
  const QByteArray state = m_settings.windowState();
  if (!state.isEmpty()) restoreState(state);
  const QByteArray mainSplit = m_settings.splitterState(QStringLiteral("main"));
  if (!mainSplit.isEmpty()) m_mainSplitter->restoreState(mainSplit);
  const QByteArray viewSplit = m_settings.splitterState(QStringLiteral("view"));
  if (!viewSplit.isEmpty()) m_viewSplitter->restoreState(viewSplit);
}

void MainWindow::saveSettings() {
  m_settings.setModelChoice(m_model->choice());
  m_settings.setLastRequest(currentRequest());
  m_settings.setRandomSeed(m_flux->randomSeed());
  m_settings.setDypePreset(QLatin1String(dypePresetName(m_dype->preset())));
  m_settings.setPreviewEvery(m_flux->previewEvery());
  m_settings.setWindowGeometry(saveGeometry());
  m_settings.setWindowState(saveState());
  m_settings.setSplitterState(QStringLiteral("main"), m_mainSplitter->saveState());
  m_settings.setSplitterState(QStringLiteral("view"), m_viewSplitter->saveState());
  m_settings.sync();
}

dype::GenerationRequest MainWindow::currentRequest() const {
  dype::GenerationRequest r;
  m_prompt->apply(r);
  m_resolution->apply(r);
  m_flux->apply(r);
  m_dype->apply(r);
  m_lora->apply(r);
  m_img2img->apply(r);
  r.bit_depth = 16;  // keep the 16-bit pixels too, so that Save can offer 8- and 16-bit PNG after the run
  return r;
}

GenerationJob MainWindow::currentJob() const {
  const ModelChoice model = m_model->choice();
  return GenerationJob{model.paths(), model.loadOptions(), currentRequest()};
}

void MainWindow::followModelDefaults() {
  const ModelDefaults next = defaultsOf(m_model->choice());
  if (next == m_modelDefaults) return;
  // Values the user changed away from the previous model's defaults stay as they are.
  dype::GenerationRequest r;
  m_resolution->apply(r);
  m_flux->apply(r);
  m_dype->apply(r);
  if (r.width == m_modelDefaults.size && r.height == m_modelDefaults.size) m_resolution->setSize(next.size, next.size);
  if (r.dype.base_resolution == m_modelDefaults.baseResolution) {
    dype::DypeConfig c = m_dype->config();
    c.base_resolution = next.baseResolution;
    m_dype->setConfig(c);
  }
  if (r.steps == m_modelDefaults.steps) m_flux->setSteps(next.steps);
  m_modelDefaults = next;
}

void MainWindow::restoreRequest(const dype::GenerationRequest& r) {
  m_prompt->load(r);
  m_resolution->load(r);
  m_flux->load(r);
  m_dype->load(r);
  m_lora->load(r);
  m_img2img->load(r);
}

void MainWindow::settingsChanged() {
  const QSize size = m_resolution->size();
  m_dype->setOutputSize(size.width(), size.height());  // the Auto preset follows it (emits a change only if it moves)
  m_dype->setImageTokens(std::int64_t((size.height() + 15) / 16) * ((size.width() + 15) / 16));
  {
    dype::GenerationRequest r;
    m_dype->apply(r);
    m_flux->apply(r);
    m_img2img->setOutputSize(size.width(), size.height(), r.dype.base_resolution);
    m_img2img->setSteps(r.steps);
  }
  m_run->setGenerateEnabled(m_resolution->isValid(), m_resolution->problem());
  m_generateAction->setEnabled(m_resolution->isValid());
  updatePlot();
  scheduleEstimate();
}

void MainWindow::updatePlot() {
  const dype::GenerationRequest r = currentRequest();
  try {
    m_plot->setInputs(r.dype, r.width, r.height, evaluationSigmas(r, m_isSchnell));
  } catch (const dype::Error& e) {
    statusBar()->showMessage(QString::fromUtf8(e.what()), 5000);
  }
}

void MainWindow::scheduleEstimate() {
  if (!m_resolution->isValid()) {
    m_run->setEstimate(m_resolution->problem(), false);
    return;
  }
  m_estimateTimer.start();
}

void MainWindow::requestEstimate() {
  if (m_running || m_estimatePending) {
    m_estimateDirty = true;  // asked again when the worker is free
    return;
  }
  m_estimatePending = true;
  m_estimateDirty = false;
  Q_EMIT estimateRequested(currentJob());
}

void MainWindow::onEstimated(const EstimateInfo& info) {
  m_estimatePending = false;
  const auto& m = info.memory;
  QString text = tr("%1×%2: peak memory ≈ %3").arg(info.width).arg(info.height).arg(bytesText(m.peak_bytes));
  if (m.available_bytes) text += tr(" of %1 available").arg(bytesText(m.available_bytes));
  if (m.seconds_per_step > 0)
    text += tr(" · time ≈ %1 (%2/step × %3)")
                .arg(RunPanel::formatDuration(m.seconds_per_step * info.steps),
                     RunPanel::formatDuration(m.seconds_per_step))
                .arg(info.steps);
  else
    text += tr(" · time: unknown");
  if (m.release_text_encoders) text += tr(" · text encoders freed after encoding");
  if (!m.fits) {
    text = tr("Does not fit: %1").arg(text);
    if (!m.advice.empty()) text += QStringLiteral(" — ") + QString::fromStdString(m.advice);
  }
  m_run->setEstimate(text, m.fits, info.details);
  if (m_estimateDirty && !m_running) m_estimateTimer.start();
}

void MainWindow::onEstimateFailed(const QString& message) {
  m_estimatePending = false;
  m_run->setEstimate(tr("No estimate: %1").arg(message.section(QLatin1Char('\n'), 0, 0)), false);
  if (m_estimateDirty && !m_running) m_estimateTimer.start();
}

void MainWindow::startGeneration() {
  if (m_running) return;
  if (!m_resolution->isValid()) {
    showError(tr("Cannot generate"), m_resolution->problem());
    return;
  }
  m_flux->prepareSeed();
  const GenerationJob job = currentJob();
  m_flux->setLastSeed(job.request.seed);
  m_settings.setLastRequest(job.request);
  m_settings.setModelChoice(m_model->choice());
  m_runRequest = job.request;
  m_running = true;
  m_passText.clear();
  m_previewScheduled = false;
  m_pendingPreview = QImage();
  m_run->setRunning(true);
  m_cancelAction->setEnabled(true);
  m_plot->setCurrentStep(0);
  statusBar()->showMessage(tr("Generating %1×%2, seed %3…")
                               .arg(job.request.width)
                               .arg(job.request.height)
                               .arg(qulonglong(job.request.seed)));
  m_worker->resetCancel();  // only ever while idle: no request is queued at this point
  Q_EMIT generationRequested(job);
  Q_EMIT runStarted();
}

void MainWindow::cancelGeneration() {
  if (!m_running) return;
  m_worker->cancel();  // atomic; the worker stops after the current transformer block, T5 layer or VAE tile
  m_run->setStage(tr("cancelling"));
  statusBar()->showMessage(tr("Cancelling…"));
}

void MainWindow::onModelLoaded(const QString& label, bool isDemo, bool isSchnell) {
  m_isSchnell = isSchnell;
  m_model->setLoadedLabel(label);
  m_flux->setSchnell(isSchnell);
  m_dype->setSchnell(isSchnell);
  m_modelStatus->setText(tr("Model: %1").arg(label));  // the demos' labels say what they are
  Q_UNUSED(isDemo);
  updatePlot();
}

void MainWindow::onStage(const QString& stage) {
  m_run->setStage(stage);
  if (!m_running) return;
  const QString text = stage + QStringLiteral("…");
  statusBar()->showMessage(m_passText.isEmpty() ? text : m_passText + QStringLiteral(" · ") + text);
}

void MainWindow::onProgress(int step, int total, double sigma, double elapsed, double eta) {
  if (!m_running) return;
  m_run->setProgress(step, total, sigma, elapsed, eta);
  m_plot->setCurrentStep(step);
  Q_EMIT stepShown(step, total);
}

void MainWindow::onPreview(int step, const QImage& image) {
  // Coalesce: if several previews queued up while the GUI was busy, only the newest one is drawn.
  m_pendingPreview = image;
  m_pendingPreviewStep = step;
  if (!m_previewScheduled) {
    m_previewScheduled = true;
    QTimer::singleShot(0, this, &MainWindow::showPendingPreview);
  }
}

void MainWindow::showPendingPreview() {
  m_previewScheduled = false;
  if (!m_running || m_pendingPreview.isNull()) return;
  m_view->setImage(m_pendingPreview, QSize(m_runRequest.width, m_runRequest.height));
  m_pendingPreview = QImage();
  Q_EMIT previewShown(m_pendingPreviewStep);
}

void MainWindow::onFinished(const GenerationOutput& output) {
  m_result = output.result;
  m_resultImage = output.image;
  m_view->setImage(output.image, {}, output.pyramid);
  m_history->add(output.image, output.thumbnail, output.result, output.seconds);
  m_saveAction->setEnabled(true);
  m_copyAction->setEnabled(true);
  // img2img / refine: each pass's time too ("pass 1 0:42, pass 2 4:31").
  QStringList passTimes;
  const auto& passes = output.result->passes;
  if (passes.size() > 1 || (!passes.empty() && passes.front().start_index > 0)) {
    for (std::size_t i = 0; i < passes.size(); ++i)
      passTimes << tr("pass %1 %2×%3 %4")
                       .arg(i + 1)
                       .arg(passes[i].width)
                       .arg(passes[i].height)
                       .arg(RunPanel::formatDuration(passes[i].seconds()));
  }
  const QString passText =
      passTimes.isEmpty() ? QString() : QStringLiteral(" (") + passTimes.join(QStringLiteral(", ")) + QLatin1Char(')');
  statusBar()->showMessage(
      tr("Done in %1%2: %3")
          .arg(RunPanel::formatDuration(output.seconds), passText, HistoryStrip::summarize(output.result->request)));
  runEnded();
  Q_EMIT runFinished();
}

void MainWindow::onFailed(const QString& message) {
  runEnded();
  showError(tr("Generation failed"), message);
  Q_EMIT runFailed(message);
}

void MainWindow::onCancelled() {
  runEnded();
  statusBar()->showMessage(tr("Cancelled."), 5000);
  Q_EMIT runCancelled();
}

void MainWindow::runEnded() {
  m_running = false;
  m_pendingPreview = QImage();
  m_run->setRunning(false);
  m_cancelAction->setEnabled(false);
  m_plot->setCurrentStep(0);
  if (m_estimateDirty) m_estimateTimer.start();
}

void MainWindow::showHistoryEntry(int index) {
  const HistoryEntry& e = m_history->entry(index);
  m_flux->setRandomSeed(false);  // restoring means: this exact seed again
  restoreRequest(e.request);
  if (!e.image.isNull() && !m_running) {
    m_view->setImage(e.image);
    m_result = e.result;
    m_resultImage = e.image;
    statusBar()->showMessage(tr("Showing result #%1; its settings are restored.").arg(m_history->count() - index),
                             5000);
  } else {
    statusBar()->showMessage(
        tr("Settings of result #%1 restored (the image is no longer held in memory).").arg(m_history->count() - index),
        5000);
  }
}

void MainWindow::showError(const QString& title, const QString& message) {
  statusBar()->showMessage(message.section(QLatin1Char('\n'), 0, 0), 10000);
  // Window-modal but not blocking: the event loop (and a running generation's progress) keeps going.
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setObjectName(QStringLiteral("errorBox"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  saveSettings();
  if (m_running) {
    m_worker->cancel();
    statusBar()->showMessage(tr("Stopping the run…"));
  }
  event->accept();
}

}  // namespace dype::ui
